// Module offload: the kernel's bpf_prog_offload_ops call protocol, asserted
// call by call with the recorder; netdevsim's behaviours on SimDevice; the
// strict device's refusals and translation; the xlated program against the
// kernel's (kernel-oracle --xlated, skipped where bpf() is refused).
#include "bpfkit/offload.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"
#include "dead_branch_program.hpp"
#include "oracle.hpp"
#include "test_support.hpp"

namespace {

using namespace bpfkit;
using isa::Slot;
using offload::BoundProgram;
using offload::HookCall;
using offload::Op;
using offload::Recorder;

std::vector<Slot> assemble(std::string_view source) {
  auto slots = load::assemble(source, "test.s");
  if (!slots) ADD_FAILURE() << to_string(slots.error());
  return slots ? *slots : std::vector<Slot>{};
}

verify::Options xdp() {
  verify::Options options;
  options.type = verify::ProgramType::Xdp;
  return options;
}

// A call as one short line: "prepare", "insn_hook 3 2", "remove_insns 6 3".
std::string describe(const HookCall& call) {
  std::string text(offload::op_name(call.op));
  switch (call.op) {
    case Op::InsnHook: text += " " + std::to_string(call.insn) + " " + std::to_string(call.prev); break;
    case Op::ReplaceInsn: text += " " + std::to_string(call.insn) + " " + isa::slot_hex(call.replacement); break;
    case Op::RemoveInsns: text += " " + std::to_string(call.insn) + " " + std::to_string(call.count); break;
    case Op::MapAlloc: text += " " + call.map; break;
    default: break;
  }
  if (!call.delivered) text += " (undelivered)";
  if (call.refusal) text += " refused";
  return text;
}

std::vector<std::string> describe(const std::vector<HookCall>& calls) {
  std::vector<std::string> lines;
  for (const HookCall& call : calls) lines.push_back(describe(call));
  return lines;
}

using Lines = std::vector<std::string>;

// Loads, unloads, and gives what the recorder received.
Lines recorded(std::string_view source, Recorder recorder = Recorder()) {
  {
    BoundProgram bound = BoundProgram::load_slots(recorder, assemble(source), xdp());
    bound.unload();
    EXPECT_EQ(describe(recorder.calls()), describe(bound.result().hooks)) << "the trace is what the backend received";
  }
  return describe(recorder.calls());
}

// r0 unknown (xdp_md.rx_queue_index), both edges taken: the fall-through
// first, then the target with prev_insn_idx the branch (pop_stack).
constexpr std::string_view kBranch = R"(
  r0 = *(u32 *)(r1 + 16)
  if r0 > 3 goto big
  r0 = 1
  exit
big:
  r0 = 2
  exit
)";

TEST(OffloadProtocol, BranchesVisitTheFallThroughFirstThenPopWithTheBranchAsPrev) {
  EXPECT_EQ(recorded(kBranch), (Lines{"prepare", "insn_hook 0 -1", "insn_hook 1 0", "insn_hook 2 1", "insn_hook 3 2",
                                      "insn_hook 4 1", "insn_hook 5 4", "finalize", "translate", "destroy"}));
}

// A backend that keeps what insn_hook saw of the state: the path so far
// and r0's type at each call.
class StateProbe final : public offload::Backend {
 public:
  std::vector<std::vector<uint32_t>> paths;
  std::vector<verify::RegisterState> r0;
  std::string_view name() const override { return "probe"; }
  offload::Status prepare(offload::DeviceProgram&) override { return std::nullopt; }
  offload::Status insn_hook(offload::VerifierEnv& env, uint32_t, int64_t) override {
    paths.push_back(env.state->path());
    r0.push_back(env.state->reg(0));
    return std::nullopt;
  }
  offload::Status translate(offload::DeviceProgram&) override { return std::nullopt; }
  void destroy(offload::DeviceProgram&) override {}
};

TEST(OffloadProtocol, TheHookSeesThePathAndTheStateBeforeTheInstruction) {
  StateProbe probe;
  BoundProgram bound = BoundProgram::load_slots(probe, assemble(kBranch), xdp());
  ASSERT_TRUE(bound.result().accepted);
  using Path = std::vector<uint32_t>;
  EXPECT_EQ(probe.paths, (std::vector<Path>{{}, {0}, {0, 1}, {0, 1, 2}, {0, 1}, {0, 1, 4}}));
  EXPECT_EQ(probe.r0[0].type, "?") << "r0 is not written before insn 0";
  EXPECT_EQ(probe.r0[2].type, "scalar");  // the fall-through of `if r0 > 3`
  EXPECT_EQ(probe.r0[2].umax, 3u);
  EXPECT_EQ(probe.r0[2].var_mask, 3u);
  EXPECT_TRUE(probe.r0[3].is_const());  // r0 = 1
  EXPECT_EQ(probe.r0[4].umin, 4u) << "the popped branch: r0 > 3";
}

// A constant decides the branch: the target is never seen, the jump is
// hard-wired to `ja 0` (replace_insn), the dead run removed, then the nop.
constexpr std::string_view kDeadBranch = R"(
  r0 = 0
  if r0 > 3 goto dead
  r0 = 1
  exit
dead:
  r0 = 2
  exit
)";

TEST(OffloadProtocol, DeadBranchesAreHardWiredThenRemovedInShrunkOffsets) {
  EXPECT_EQ(recorded(kDeadBranch),
            (Lines{"prepare", "insn_hook 0 -1", "insn_hook 1 0", "insn_hook 2 1", "insn_hook 3 2", "finalize",
                   "replace_insn 1 0500000000000000", "remove_insns 4 2", "remove_insns 1 1", "translate", "destroy"}));
}

// The fall-through is dead: the branch becomes `ja +3`, the dead code
// before its target goes, which leaves `ja +0`, a nop removed in turn.
constexpr std::string_view kDeadFallThrough = R"(
  r0 = 5
  if r0 > 3 goto live
  r0 = 1
  r0 += 1
  exit
live:
  r0 = 2
  exit
)";

TEST(OffloadProtocol, ADeadFallThroughBecomesAJumpAndItsCodeGoes) {
  EXPECT_EQ(recorded(kDeadFallThrough),
            (Lines{"prepare", "insn_hook 0 -1", "insn_hook 1 0", "insn_hook 5 1", "insn_hook 6 5", "finalize",
                   "replace_insn 1 0500030000000000", "remove_insns 2 3", "remove_insns 1 1", "translate", "destroy"}));
}

// A bounded loop: the same index recurs once per iteration.
constexpr std::string_view kLoop = R"(
  r0 = 0
loop:
  r0 += 1
  if r0 < 3 goto loop
  exit
)";

TEST(OffloadProtocol, ALoopRevisitsItsInstructionsEachIteration) {
  EXPECT_EQ(recorded(kLoop),
            (Lines{"prepare", "insn_hook 0 -1", "insn_hook 1 0", "insn_hook 2 1", "insn_hook 1 2", "insn_hook 2 1",
                   "insn_hook 1 2", "insn_hook 2 1", "insn_hook 3 2", "finalize", "translate", "destroy"}));
}

// A bpf-to-bpf call: the callee's instructions in between, prev the call,
// then back after the call with prev the callee's exit.
constexpr std::string_view kSubprogram = R"(
  r1 = 7
  call square
  exit
square:
  r0 = r1
  r0 *= r1
  exit
)";

TEST(OffloadProtocol, ASubprogramIsWalkedInsideTheCall) {
  EXPECT_EQ(recorded(kSubprogram),
            (Lines{"prepare", "insn_hook 0 -1", "insn_hook 1 0", "insn_hook 3 1", "insn_hook 4 3", "insn_hook 5 4",
                   "insn_hook 2 5", "finalize", "translate", "destroy"}));
}

// Two joins after enough instructions and jumps that the verifier keeps
// states: the second path to each join is pruned and reaches no hook.
constexpr std::string_view kPruned = R"(
  r6 = *(u32 *)(r1 + 16)
  r7 = *(u32 *)(r1 + 12)
  r0 = 0
  r2 = 1
  r3 = 2
  if r6 > 3 goto join
  r4 = 1
  if r7 > 9 goto join
  r4 = 2
join:
  r0 = 0
  r5 = 3
  r5 += 1
  exit
)";

TEST(OffloadProtocol, APrunedPathReachesNoHook) {
  Recorder recorder;
  BoundProgram bound = BoundProgram::load_slots(recorder, assemble(kPruned), xdp());
  const offload::Result& result = bound.result();
  ASSERT_TRUE(result.accepted) << (result.error ? result.error->message : "");
  size_t hooks = 0;
  for (const HookCall& call : recorder.calls()) hooks += call.op == Op::InsnHook;
  // Every processed instruction but the pruned ones gets its hook.
  EXPECT_LT(hooks, result.verification.processed_insns);
  const Lines lines = describe(recorder.calls());
  // The popped paths arrive at `join` (insn 9) from the branches 7 and 5,
  // and are pruned there: no hook at 9 with those prevs.
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "insn_hook 9 8"), 1);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "insn_hook 9 7"), 0);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "insn_hook 9 5"), 0);
}

// The hand-made programs take as many steps here as in the kernel: the
// kernel's "processed N insns" is the hooks plus the pruned arrivals.
TEST(OffloadProtocol, ProcessedInstructionsMatchTheKernel) {
  const test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (const auto why = test::Oracle::unavailable(dir.path())) GTEST_SKIP() << *why;
  const std::vector<std::string_view> sources = {kBranch, kDeadBranch, kDeadFallThrough, kLoop, kSubprogram, kPruned};
  std::vector<std::vector<Slot>> programs;
  for (std::string_view source : sources) programs.push_back(assemble(source));
  test::Request request;
  request.type = "xdp";
  request.statistics = true;
  const auto kernel = test::Oracle::verdicts(dir.path(), programs, request);
  for (size_t i = 0; i < programs.size(); ++i) {
    ASSERT_TRUE(kernel[i].has_verdict && kernel[i].accepted && kernel[i].processed_insns) << "program " << i;
    Recorder recorder;
    BoundProgram bound = BoundProgram::load_slots(recorder, programs[i], xdp());
    EXPECT_EQ(bound.result().verification.processed_insns, *kernel[i].processed_insns) << "program " << i;
  }
}

TEST(OffloadProtocol, APrepareRefusalEndsLoadingAndDestroyIsNeverCalled) {
  Recorder recorder;
  recorder.refuse_call(Op::Prepare, 0, offload::refuse(verify::Errno::Eopnotsupp, "not today"));
  EXPECT_EQ(recorded(kBranch, recorder), (Lines{"prepare refused"}));
  BoundProgram bound = BoundProgram::load_slots(recorder, assemble(kBranch), xdp());
  EXPECT_FALSE(bound.result().accepted);
  EXPECT_EQ(bound.result().failed_at, offload::Stage::Prepare);
  EXPECT_EQ(bound.result().error_number, verify::Errno::Eopnotsupp);
}

TEST(OffloadProtocol, PrepareComesAfterTheInstructionChecksAndBeforeTheCfg) {
  // An unknown opcode is refused before prepare; unreachable code after it.
  EXPECT_EQ(recorded("r0 = 0\nexit\n.byte 0xff, 0, 0, 0, 0, 0, 0, 0\n"), Lines{});
  EXPECT_EQ(recorded("r0 = 0\nexit\nr0 = 1\nexit\n"), (Lines{"prepare", "destroy"}));
}

TEST(OffloadProtocol, AnInsnHookRefusalRejectsAtThatInstruction) {
  Recorder recorder;
  recorder.refuse_call(Op::InsnHook, 2, offload::refuse(verify::Errno::Einval, "no"));
  BoundProgram bound = BoundProgram::load_slots(recorder, assemble(kBranch), xdp());
  const offload::Result& result = bound.result();
  EXPECT_FALSE(result.accepted);
  EXPECT_EQ(result.failed_at, offload::Stage::Verify);
  EXPECT_EQ(result.error_number, verify::Errno::Einval);
  ASSERT_TRUE(result.error && result.error->location.pc);
  EXPECT_EQ(*result.error->location.pc, 2u);
  bound.unload();
  EXPECT_EQ(describe(recorder.calls()),
            (Lines{"prepare", "insn_hook 0 -1", "insn_hook 1 0", "insn_hook 2 1 refused", "destroy"}));
}

TEST(OffloadProtocol, AFinalizeRefusalRejectsBeforeAnyRewrite) {
  Recorder recorder;
  recorder.refuse_call(Op::Finalize, 0, offload::refuse(verify::Errno::Einval, "no"));
  EXPECT_EQ(recorded(kDeadBranch, recorder), (Lines{"prepare", "insn_hook 0 -1", "insn_hook 1 0", "insn_hook 2 1",
                                                    "insn_hook 3 2", "finalize refused", "destroy"}));
}

TEST(OffloadProtocol, ARefusedOptimisationHookSetsOptFailedAndStopsTheOthers) {
  Recorder recorder;
  recorder.refuse_call(Op::ReplaceInsn, 0, offload::refuse(verify::Errno::Einval, "no"));
  BoundProgram bound = BoundProgram::load_slots(recorder, assemble(kDeadBranch), xdp());
  const offload::Result& result = bound.result();
  EXPECT_TRUE(result.accepted) << "verification still succeeds";
  EXPECT_TRUE(result.opt_failed);
  EXPECT_TRUE(bound.program().opt_failed) << "translate sees it";
  const Lines trace = describe(result.hooks);
  EXPECT_EQ(Lines(trace.end() - 4, trace.end()),
            (Lines{"replace_insn 1 0500000000000000 refused", "remove_insns 4 2 (undelivered)",
                   "remove_insns 1 1 (undelivered)", "translate"}));
  // The verifier still made its rewrites.
  EXPECT_EQ(result.verification.xlated.size(), 3u);
}

TEST(OffloadProtocol, AMissingOptimisationHookSetsOptFailed) {
  Recorder recorder(Recorder::Config{.replace_insn = true, .remove_insns = false, .accept_maps = true});
  BoundProgram bound = BoundProgram::load_slots(recorder, assemble(kDeadBranch), xdp());
  EXPECT_TRUE(bound.result().accepted);
  EXPECT_TRUE(bound.result().opt_failed);
  const Lines trace = describe(bound.result().hooks);
  EXPECT_NE(std::find(trace.begin(), trace.end(), "replace_insn 1 0500000000000000"), trace.end());
  EXPECT_NE(std::find(trace.begin(), trace.end(), "remove_insns 4 2 (undelivered)"), trace.end());
}

TEST(OffloadProtocol, DestroyRunsOnceFromUnloadOrTheDestructor) {
  Recorder recorder;
  {
    BoundProgram bound = BoundProgram::load_slots(recorder, assemble(kBranch), xdp());
    BoundProgram moved = std::move(bound);
    moved.unload();
    moved.unload();
  }
  EXPECT_EQ(std::count_if(recorder.calls().begin(), recorder.calls().end(),
                          [](const HookCall& call) { return call.op == Op::Destroy; }),
            1);
  Recorder second;
  { BoundProgram bound = BoundProgram::load_slots(second, assemble(kBranch), xdp()); }
  EXPECT_EQ(second.calls().back().op, Op::Destroy);
}

// A removal before a subprogram moves the local call's imm (found by
// fuzz_offload on a conformance seed).
TEST(OffloadRewrites, ReplayMovesALocalCallOverTheHole) {
  const std::vector<Slot> program = assemble(R"(
    r1 = 5
    call sum
    if r0 != 5 goto dead
    exit
  dead:
    r0 = 0
    exit
  sum:
    r0 = r1
    exit
  )");
  Recorder recorder;
  BoundProgram bound = BoundProgram::load_slots(recorder, program, xdp());
  ASSERT_TRUE(bound.result().accepted);
  ASSERT_LT(bound.result().verification.xlated.size(), program.size());
  EXPECT_EQ(offload::replay(program, recorder.calls()), bound.result().verification.xlated);
}

TEST(OffloadRewrites, ReplayingTheRecordedCallsGivesTheXlatedProgram) {
  size_t replayed = 0, shrunk = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const std::vector<Slot> program = test::dead_branch_program(seed);
    Recorder recorder;
    BoundProgram bound = BoundProgram::load_slots(recorder, program, xdp());
    if (!bound.result().accepted) continue;
    ++replayed;
    shrunk += bound.result().verification.xlated.size() < program.size();
    EXPECT_EQ(offload::replay(program, recorder.calls()), bound.result().verification.xlated) << "seed " << seed;
  }
  EXPECT_GT(replayed, 100u);
  EXPECT_GT(shrunk, replayed / 4);
}

TEST(OffloadRewrites, TheStrictDeviceTranslatesIntoTheKernelsXlatedProgram) {
  const test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (const auto why = test::Oracle::unavailable(dir.path())) GTEST_SKIP() << *why;
  std::vector<std::vector<Slot>> programs;
  for (uint64_t i = 0; i < 100; ++i) programs.push_back(test::dead_branch_program(4242 + i));
  test::Request request;
  request.type = "xdp";
  request.xlated = true;
  const auto kernel = test::Oracle::verdicts(dir.path(), programs, request);
  size_t compared = 0;
  for (size_t i = 0; i < programs.size(); ++i) {
    if (!kernel[i].has_verdict || !kernel[i].accepted) continue;
    offload::StrictDevice device;
    BoundProgram bound = BoundProgram::load_slots(device, programs[i], xdp());
    ASSERT_TRUE(bound.result().accepted) << "program " << i << ": "
                                         << (bound.result().error ? bound.result().error->message : "");
    std::vector<std::string> ours;
    for (const Slot& slot : device.translated(bound.program())) ours.push_back(isa::slot_hex(slot));
    EXPECT_EQ(ours, kernel[i].xlated) << "program " << i;
    ++compared;
  }
  EXPECT_GT(compared, 50u);
}

// ---- netdevsim ----

TEST(SimDevice, TranslatesAndKeepsTheProgramsState) {
  offload::SimDevice sim;
  BoundProgram bound = BoundProgram::load_slots(sim, assemble(kDeadBranch), xdp());
  EXPECT_TRUE(bound.result().accepted);
  EXPECT_EQ(bound.result().device_state, "xlated");
  EXPECT_TRUE(bound.result().opt_failed) << "netdevsim has no optimisation hooks";
  EXPECT_FALSE(sim.attach(bound.program()));
  EXPECT_EQ(sim.bound_programs(), 1u);
  bound.unload();
  EXPECT_EQ(sim.bound_programs(), 0u);
  EXPECT_TRUE(sim.attach(bound.program())) << "a destroyed program cannot be loaded onto the device";
}

TEST(SimDevice, BindAcceptOffRefusesInPrepare) {
  offload::SimDevice sim(offload::SimSwitches{.bind_accept = false});
  BoundProgram bound = BoundProgram::load_slots(sim, assemble(kBranch), xdp());
  EXPECT_EQ(bound.result().failed_at, offload::Stage::Prepare);
  EXPECT_EQ(bound.result().error_number, verify::Errno::Eopnotsupp);
  EXPECT_EQ(sim.bound_programs(), 0u);
  bound.unload();
  EXPECT_EQ(describe(bound.result().hooks), (Lines{"prepare refused"})) << "no destroy without prepare";
}

TEST(SimDevice, VerifierAcceptOffRefusesAtTheLastInstruction) {
  offload::SimDevice sim(offload::SimSwitches{.verifier_accept = false});
  BoundProgram bound = BoundProgram::load_slots(sim, assemble(kBranch), xdp());
  const offload::Result& result = bound.result();
  EXPECT_EQ(result.failed_at, offload::Stage::Verify);
  EXPECT_EQ(result.error_number, verify::Errno::Eopnotsupp);
  ASSERT_TRUE(result.error && result.error->location.pc);
  EXPECT_EQ(*result.error->location.pc, 5u);
  EXPECT_NE(result.log.find("Hello from sim!"), std::string::npos);
  EXPECT_EQ(result.device_state, "verify");
  EXPECT_TRUE(sim.attach(bound.program())) << "an untranslated program cannot be loaded onto the device";
  EXPECT_EQ(describe(result.hooks).back(), "insn_hook 5 4 refused");
  bound.unload();
  EXPECT_EQ(describe(result.hooks).back(), "destroy") << "prepare succeeded, so destroy runs";
}

TEST(SimDevice, VerifierAcceptOnlyMattersWhereTheLastInstructionIsReached) {
  // netdevsim checks insn_idx == prog->len - 1: dead code at the end is never processed.
  offload::SimDevice sim(offload::SimSwitches{.verifier_accept = false});
  BoundProgram bound = BoundProgram::load_slots(sim, assemble(kDeadBranch), xdp());
  EXPECT_TRUE(bound.result().accepted);
  EXPECT_EQ(bound.result().log.find("Hello from sim!"), std::string::npos);
}

TEST(SimDevice, VerifierDelaySleepsAtInstructionZero) {
  offload::SimDevice sim(offload::SimSwitches{.verifier_delay_ms = 30});
  const auto start = std::chrono::steady_clock::now();
  BoundProgram bound = BoundProgram::load_slots(sim, assemble(kBranch), xdp());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(bound.result().accepted);
  EXPECT_GE(elapsed, std::chrono::milliseconds(30));
}

TEST(SimDevice, HoldsSmallArrayAndHashMapsOnly) {
  offload::SimDevice sim;
  isa::MapSpec map;
  map.name = "m";
  map.key_size = 4;
  map.value_size = 8;
  map.max_entries = 2;
  for (const isa::MapType type : {isa::MapType::Array, isa::MapType::Hash}) {
    map.type = static_cast<uint32_t>(type);
    EXPECT_FALSE(sim.map_alloc(map));
  }
  map.max_entries = 3;
  ASSERT_TRUE(sim.map_alloc(map));
  EXPECT_EQ(sim.map_alloc(map)->error_number, verify::Errno::Enomem);
  map.max_entries = 1;
  map.type = static_cast<uint32_t>(isa::MapType::RingBuf);
  ASSERT_TRUE(sim.map_alloc(map));
  EXPECT_EQ(sim.map_alloc(map)->error_number, verify::Errno::Einval);
  map.type = static_cast<uint32_t>(isa::MapType::Array);
  map.flags = 1;
  EXPECT_TRUE(sim.map_alloc(map));
}

TEST(SimDevice, AMapItCannotHoldStopsLoadingBeforePrepare) {
  isa::Program program = *isa::decode(assemble("r0 = 0\nexit\n"));
  isa::MapSpec map;
  map.name = "big";
  map.type = static_cast<uint32_t>(isa::MapType::Hash);
  map.key_size = 4;
  map.value_size = 4;
  map.max_entries = 1024;
  program.maps.push_back(map);
  offload::SimDevice sim;
  BoundProgram bound = BoundProgram::load(sim, program, xdp());
  EXPECT_EQ(bound.result().failed_at, offload::Stage::MapAlloc);
  EXPECT_EQ(bound.result().error_number, verify::Errno::Enomem);
  EXPECT_EQ(describe(bound.result().hooks), (Lines{"map_alloc big refused"}));
}

// ---- The strict device ----

std::optional<std::string> strict_refusal(std::string_view source) {
  offload::StrictDevice device;
  BoundProgram bound = BoundProgram::load_slots(device, assemble(source), xdp());
  if (bound.result().accepted) return std::nullopt;
  return bound.result().error ? bound.result().error->message : "?";
}

TEST(StrictDevice, RefusesWhatItCannotRun) {
  // A helper outside its set.
  auto why = strict_refusal("call 5\nr0 = 0\nexit\n");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("bpf_ktime_get_ns"), std::string::npos) << *why;
  // 64-bit division (32-bit is fine).
  why = strict_refusal("r0 = *(u32 *)(r1 + 16)\nr0 /= 3\nexit\n");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("64-bit division"), std::string::npos) << *why;
  EXPECT_FALSE(strict_refusal("r0 = *(u32 *)(r1 + 16)\nw0 /= 3\nexit\n"));
  // One load through the stack on one path and the packet on another.
  why = strict_refusal(R"(
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r6 = *(u32 *)(r1 + 16)
    r4 = r2
    r4 += 8
    if r4 > r3 goto out
    r5 = 0
    *(u64 *)(r10 - 8) = r5
    if r6 == 0 goto use
    r2 = r10
    r2 += -8
  use:
    r0 = *(u64 *)(r2 + 0)
  out:
    r0 = 0
    exit
  )");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("on one path and"), std::string::npos) << *why;
  // A stack access at a variable offset.
  why = strict_refusal(R"(
    r6 = *(u32 *)(r1 + 16)
    r6 &= 8
    r2 = r10
    r2 += -16
    r2 += r6
    r0 = 0
    *(u64 *)(r10 - 8) = r0
    *(u64 *)(r10 - 16) = r0
    r0 = *(u64 *)(r2 + 0)
    exit
  )");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("variable offset"), std::string::npos) << *why;
}

// It needs the verifier's dead code removal (its own hooks accept every
// rewrite the verifier makes, so the flag is set by hand).
TEST(StrictDevice, RefusesToTranslateWhenAnOptimisationFailed) {
  offload::StrictDevice device;
  offload::DeviceProgram program;
  program.id = 999'999;
  program.code = *isa::decode(assemble("r0 = 0\nexit\n"));
  ASSERT_FALSE(device.prepare(program));
  program.opt_failed = true;
  auto refusal = device.translate(program);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->error_number, verify::Errno::Einval);
  program.opt_failed = false;
  EXPECT_FALSE(device.translate(program));
  device.destroy(program);
}

TEST(StrictDevice, RefusesReplacementsOtherThanHardWiredJumps) {
  offload::StrictDevice device;
  offload::DeviceProgram program;
  program.id = 999'998;
  program.code = *isa::decode(assemble("r0 = 0\nif r0 > 3 goto +1\nr0 = 1\nexit\n"));
  ASSERT_FALSE(device.prepare(program));
  std::string log;
  offload::VerifierEnv env{program, nullptr, log};
  EXPECT_TRUE(device.replace_insn(env, 0, isa::encode(isa::Op::ja))) << "insn 0 is no jump";
  EXPECT_TRUE(device.replace_insn(env, 1, isa::encode(isa::Op::mov64_imm))) << "not a ja";
  EXPECT_TRUE(device.replace_insn(env, 1, isa::encode(isa::Op::ja, 0, 0, 2))) << "moves the target";
  EXPECT_FALSE(device.replace_insn(env, 1, isa::encode(isa::Op::ja, 0, 0, 1)));
  device.destroy(program);
}

// An XDP test run of a 64-byte frame with rx_queue_index = queue: the
// original program on the interpreter, or (with `host`) as the host backend
// translated it.
uint32_t run_xdp(const std::vector<Slot>& code, uint32_t queue, bool through_host_backend = false) {
  vm::Context context;
  vm::TestRunInput input;
  input.type = isa::ProgramType::Xdp;
  input.data_in.assign(64, 0xab);
  input.ctx_in = std::vector<uint8_t>(24, 0);
  (*input.ctx_in)[4] = 64;                            // data_end: the packet's size
  (*input.ctx_in)[16] = static_cast<uint8_t>(queue);  // rx_queue_index
  (*input.ctx_in)[12] = 1;                            // ingress_ifindex
  auto prepared = vm::prepare_test_run(context, input);
  EXPECT_TRUE(prepared) << (prepared ? "" : prepared.error().message);
  offload::HostBackend host(context);
  std::optional<BoundProgram> bound;
  std::unique_ptr<vm::Engine> direct;
  const vm::Engine* engine = nullptr;
  if (through_host_backend) {
    bound = BoundProgram::load_slots(host, code, xdp());
    EXPECT_TRUE(bound->result().accepted);
    EXPECT_EQ(bound->result().device_state, "translated");
    engine = host.engine(bound->program());
  } else if (auto made = vm::make_interpreter(*isa::decode(code), context)) {
    direct = std::move(*made);
    engine = direct.get();
  }
  if (!engine) {
    ADD_FAILURE() << "no engine";
    return ~0u;
  }
  auto out = vm::test_run(*engine, context, input);
  EXPECT_TRUE(out && !out->run.error);
  return out ? out->retval : ~0u;
}

const std::vector<std::string_view> kRunnable = {kBranch, kDeadBranch, kDeadFallThrough, kLoop, kSubprogram, kPruned};

// What it accepts runs as the original does on the host.
TEST(StrictDevice, WhatItTranslatesRunsAsTheOriginalDoes) {
  for (uint32_t queue : {0u, 2u, 7u}) {
    for (std::string_view source : kRunnable) {
      const std::vector<Slot> slots = assemble(source);
      offload::StrictDevice device;
      BoundProgram bound = BoundProgram::load_slots(device, slots, xdp());
      ASSERT_TRUE(bound.result().accepted);
      const std::vector<Slot> translated = device.translated(bound.program());
      EXPECT_EQ(translated, bound.result().verification.xlated);
      EXPECT_EQ(run_xdp(translated, queue), run_xdp(slots, queue)) << source << " queue " << queue;
    }
  }
}

// ---- The host: the interpreter as a backend ----

TEST(HostBackend, TranslateMakesTheProgramRunnable) {
  for (uint32_t queue : {0u, 5u}) {
    for (std::string_view source : kRunnable) {
      const std::vector<Slot> slots = assemble(source);
      EXPECT_EQ(run_xdp(slots, queue, true), run_xdp(slots, queue)) << source << " queue " << queue;
    }
  }
}

TEST(HostBackend, TheEngineGoesWithDestroy) {
  vm::Context context;
  offload::HostBackend host(context);
  BoundProgram bound = BoundProgram::load_slots(host, assemble(kBranch), xdp());
  EXPECT_NE(host.engine(bound.program()), nullptr);
  EXPECT_FALSE(bound.result().opt_failed) << "the host takes every rewrite";
  bound.unload();
  EXPECT_EQ(host.engine(bound.program()), nullptr);
}

}  // namespace
