// Module repair: the programs of tests/bpf/repair.c, each refused by the
// verifier for a class of error the repair answers, go through the loop;
// the repaired program must be accepted by bpfkit's verifier and by the
// kernel's (kernel-oracle; skipped with a message where bpf() is refused),
// and must run as the original does where the original is in bounds (in
// bpfkit's interpreter and the kernel's BPF_PROG_TEST_RUN) and return the
// bail value where it is not. Also: a refusal no repair answers is reported
// as the verifier gave it, an accepted program is left alone, the rounds
// are bounded, and the IR passes insert their check once.
#include "bpfkit/repair.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "bpfkit/elf.hpp"
#include "bpfkit/ir.hpp"
#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;
using repair::FixKind;
using Bytes = std::vector<uint8_t>;

const fs::path kObjects = BPFKIT_TEST_BPF_DIR;
const char* const kOracle = BPFKIT_KERNEL_ORACLE;
constexpr size_t kTableBytes = 64;  // repair.c's struct table: eight u64

Expected<isa::Program> load(const std::string& object_name, const std::string& function) {
  const Bytes bytes = test::read_bytes(kObjects / (object_name + ".o"));
  if (bytes.empty()) return make_error(Errc::Io, "cannot read " + object_name + ".o (is clang-19 installed?)");
  auto object = elf::EbpfObject::parse(bytes, object_name);
  if (!object) return object.error();
  auto chosen = object->choose_program("", function);
  if (!chosen) return chosen.error();
  return object->load_program(**chosen);
}

repair::Options xdp_options() {
  repair::Options options;
  options.verify.type = verify::ProgramType::Xdp;
  return options;
}

// The map's one value: slot i holds 100 + i.
Bytes table_value() {
  Bytes value(kTableBytes, 0);
  for (size_t i = 0; i < 8; ++i) value[i * 8] = static_cast<uint8_t>(100 + i);
  return value;
}

// A 64-byte frame starting with `head`.
Bytes packet(const Bytes& head) {
  Bytes frame(64, 0);
  std::copy(head.begin(), head.end(), frame.begin());
  return frame;
}

struct BpfkitRun {
  std::optional<std::string> fault;
  uint32_t retval = 0;
};

BpfkitRun run_bpfkit(const isa::Program& program, const Bytes& frame) {
  BpfkitRun run;
  vm::Context context;
  if (auto maps = context.add_maps(program); !maps) return {maps.error().message};
  const uint32_t key = 0;
  const Bytes value = table_value();
  if (auto filled = context.map(0).update({reinterpret_cast<const uint8_t*>(&key), 4}, value); !filled)
    return {filled.error().message};
  vm::TestRunInput input;
  input.type = isa::ProgramType::Xdp;
  input.data_in = frame;
  if (auto prepared = vm::prepare_test_run(context, input); !prepared) return {prepared.error().message};
  auto engine = vm::make_interpreter(program, context);
  if (!engine) return {engine.error().message};
  auto out = vm::test_run(**engine, context, input);
  if (!out) return {out.error().message};
  if (out->run.error) return {out->run.error->message};
  run.retval = out->retval;
  return run;
}

// ---- The kernel (kernel-oracle -m 64: one array slot of 64 bytes, which
// lddw src 1 imm 0 names) ------------------------------------------------------

struct KernelRun {
  bool accepted = false;
  std::optional<uint32_t> retval;
  std::string text;
};

// The program as kernel-oracle loads it: its one map (lddw src 5, index 0)
// becomes the oracle's map.
std::vector<isa::Slot> for_oracle(const isa::Program& program) {
  std::vector<isa::Slot> slots = program.slots;
  for (isa::Slot& slot : slots)
    if (isa::lookup(slot) == isa::Op::lddw_map_idx && slot.imm == 0) slot.set_src(1);  // BPF_PSEUDO_MAP_FD
  return slots;
}

void write_bytes(const fs::path& file, const Bytes& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

class Kernel {
 public:
  Kernel() { write_bytes(dir_.path() / "table.bin", table_value()); }
  // Why the kernel cannot be asked, or nullopt.
  std::optional<std::string> unavailable() {
    if (std::string(kOracle).empty()) return "no kernel-oracle in this build";
    auto two =
        isa::decode(std::vector<isa::Slot>{isa::encode(isa::Op::mov64_imm, 0, 0, 0, 2), isa::encode(isa::Op::exit)});
    if (!two) return two.error().message;
    const KernelRun probe = run(*two, packet({}));
    if (probe.text.find("EPERM") != std::string::npos || !probe.accepted) return "bpf() refused:\n" + probe.text;
    return std::nullopt;
  }
  KernelRun run(const isa::Program& program, const Bytes& frame) {
    const fs::path code = dir_.path() / "program.bin", data = dir_.path() / "frame.pkt";
    test::write_slots(code, for_oracle(program));
    write_bytes(data, frame);
    const std::string command = test::shell_quote(kOracle) + " -f bin --no-wrap -t xdp -m " +
                                std::to_string(kTableBytes) + " --map-init " +
                                test::shell_quote((dir_.path() / "table.bin").string()) + " -i " +
                                test::shell_quote(data.string()) + " " + test::shell_quote(code.string()) + " 2>&1";
    KernelRun out;
    out.text = test::command_output(command).value_or("");
    out.accepted = out.text.find("verdict: accepted") != std::string::npos;
    const size_t at = out.text.find("retval: ");
    if (at != std::string::npos) out.retval = static_cast<uint32_t>(std::stoul(out.text.substr(at + 8), nullptr, 16));
    return out;
  }

 private:
  test::TempDir dir_;
};

// ---- The repairs --------------------------------------------------------------------

struct Case {
  const char* function;
  std::vector<FixKind> fixes;
  // Frames' first bytes and what the original returns on them (in bounds).
  std::vector<std::pair<Bytes, uint32_t>> in_bounds;
  std::vector<Bytes> out_of_bounds;  // the repaired program returns the bail value
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"byte_index", {FixKind::BoundIndex}, {{{0}, 100}, {{3}, 103}, {{7}, 107}}, {{8}, {255}}},
      {"word_index",
       {FixKind::BoundIndex},
       {{{5, 0, 0, 0}, 105}, {{0, 0, 0, 0}, 100}},
       {{8, 0, 0, 0}, {0, 0, 0, 1}, {255, 255, 255, 255}}},
      {"signed_index",
       {FixKind::BoundIndex},
       {{{2, 0, 0, 0}, 102}, {{7, 0, 0, 0}, 107}},
       {{255, 255, 255, 255}, {9, 0, 0, 0}, {0, 0, 0, 128}}},
      {"masked_store", {FixKind::BoundIndex}, {{{6}, 6}, {{0x17}, 7}}, {{9}, {15}}},
      // Out of bounds: a key the one-slot array lacks, so the lookup gives NULL.
      {"unchecked_lookup", {FixKind::NullCheck}, {{{0}, 101}}, {{1}, {255}}},
      {"unchecked_both", {FixKind::NullCheck, FixKind::BoundIndex}, {{{4, 0}, 104}}, {{200, 0}, {8, 0}, {4, 1}}},
  };
  return all;
}

std::vector<FixKind> fixes_of(const repair::Report& report) {
  std::vector<FixKind> kinds;
  for (const repair::Round& round : report.rounds)
    if (round.fix) kinds.push_back(round.fix->kind);
  return kinds;
}

TEST(Repair, RefusedProgramsAreAcceptedAfterRepair) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.function);
    auto original = load("repair", c.function);
    ASSERT_TRUE(original.has_value()) << original.error().message;
    const repair::Options options = xdp_options();
    ASSERT_FALSE(verify::verify(*original, options.verify).accepted);
    const repair::Report report = repair::repair(*original, options);
    EXPECT_EQ(report.outcome, repair::Outcome::Repaired);
    EXPECT_EQ(fixes_of(report), c.fixes);
    ASSERT_TRUE(report.accepted());
    ASSERT_EQ(report.rounds.size(), c.fixes.size() + 1);
    for (size_t i = 0; i + 1 < report.rounds.size(); ++i) {  // each fix answers its round's refusal
      const repair::Round& round = report.rounds[i];
      ASSERT_TRUE(round.fix && round.verdict.error && round.verdict.error->location.pc);
      EXPECT_EQ(round.fix->error_pc, *round.verdict.error->location.pc);
    }
    // The verifier, asked on its own, says the same of the final program.
    EXPECT_TRUE(verify::verify(report.program, options.verify).accepted);
    for (const auto& [head, want] : c.in_bounds) {
      const BpfkitRun before = run_bpfkit(*original, packet(head)), after = run_bpfkit(report.program, packet(head));
      EXPECT_FALSE(before.fault) << *before.fault;
      EXPECT_FALSE(after.fault) << *after.fault;
      EXPECT_EQ(before.retval, want);
      EXPECT_EQ(after.retval, want);
    }
    for (const Bytes& head : c.out_of_bounds) {
      const BpfkitRun after = run_bpfkit(report.program, packet(head));
      EXPECT_FALSE(after.fault) << *after.fault;
      EXPECT_EQ(after.retval, uint32_t(options.bail)) << "first byte " << int(head[0]);
    }
  }
}

TEST(Repair, TheKernelAcceptsTheRepairsAndRunsThemAsBpfkitDoes) {
  Kernel kernel;
  if (const auto why = kernel.unavailable()) GTEST_SKIP() << *why;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.function);
    auto original = load("repair", c.function);
    ASSERT_TRUE(original.has_value()) << original.error().message;
    // The kernel refuses the original too: the classes are the kernel's.
    const KernelRun refused = kernel.run(*original, packet({}));
    EXPECT_FALSE(refused.accepted) << refused.text;
    const repair::Report report = repair::repair(*original, xdp_options());
    ASSERT_TRUE(report.accepted());
    for (const auto& [head, want] : c.in_bounds) {
      const KernelRun run = kernel.run(report.program, packet(head));
      ASSERT_TRUE(run.accepted) << run.text;
      EXPECT_EQ(run.retval, want) << run.text;
    }
    for (const Bytes& head : c.out_of_bounds) {
      const KernelRun run = kernel.run(report.program, packet(head));
      ASSERT_TRUE(run.accepted) << run.text;
      EXPECT_EQ(run.retval, 0u) << run.text;
    }
  }
}

TEST(Repair, TheBailValueIsTheOptions) {
  auto original = load("repair", "byte_index");
  ASSERT_TRUE(original.has_value()) << original.error().message;
  repair::Options options = xdp_options();
  options.bail = 2;  // XDP_PASS
  const repair::Report report = repair::repair(*original, options);
  ASSERT_TRUE(report.accepted());
  EXPECT_EQ(run_bpfkit(report.program, packet({9})).retval, 2u);
  EXPECT_EQ(run_bpfkit(report.program, packet({1})).retval, 101u);
}

// ---- What is not repaired ---------------------------------------------------------

TEST(Repair, AnUnrepairableErrorIsReportedUnchanged) {
  auto original = load("repair", "past_the_end");  // a constant offset past the value
  ASSERT_TRUE(original.has_value()) << original.error().message;
  const repair::Options options = xdp_options();
  const verify::Result direct = verify::verify(*original, options.verify);
  ASSERT_FALSE(direct.accepted);
  const repair::Report report = repair::repair(*original, options);
  EXPECT_EQ(report.outcome, repair::Outcome::Unrepairable);
  ASSERT_EQ(report.rounds.size(), 1u);
  const repair::Round& round = report.rounds[0];
  EXPECT_FALSE(round.fix);
  ASSERT_TRUE(round.unrepairable);
  EXPECT_FALSE(round.unrepairable->reason.empty());
  ASSERT_TRUE(round.verdict.error && direct.error);
  EXPECT_EQ(round.verdict.error->message, direct.error->message);
  EXPECT_EQ(round.verdict.error->location.pc, direct.error->location.pc);
  EXPECT_EQ(round.verdict.error_number, direct.error_number);
  EXPECT_EQ(report.program.slots, original->slots);
}

TEST(Repair, AnErrorOfNoRepairedClassIsReportedUnchanged) {
  // r0 = r5: a register never written ("R5 !read_ok").
  auto program = isa::decode(std::vector<isa::Slot>{isa::encode(isa::Op::mov64_reg, 0, 5), isa::encode(isa::Op::exit)});
  ASSERT_TRUE(program.has_value());
  const repair::Report report = repair::repair(*program);
  EXPECT_EQ(report.outcome, repair::Outcome::Unrepairable);
  ASSERT_EQ(report.rounds.size(), 1u);
  ASSERT_TRUE(report.rounds[0].verdict.error);
  EXPECT_EQ(report.rounds[0].verdict.error->message, verify::verify(*program).error->message);
  ASSERT_TRUE(report.rounds[0].unrepairable);
  EXPECT_EQ(report.rounds[0].unrepairable->reason, "no repair answers this error");
}

TEST(Repair, AnAcceptedProgramIsUntouched) {
  for (const char* function : {"xdp_parse"}) {
    auto original = load(function, "");
    ASSERT_TRUE(original.has_value()) << original.error().message;
    const repair::Report report = repair::repair(*original, xdp_options());
    EXPECT_EQ(report.outcome, repair::Outcome::Accepted);
    ASSERT_EQ(report.rounds.size(), 1u);
    EXPECT_FALSE(report.rounds[0].fix);
    EXPECT_EQ(report.program.slots, original->slots);
  }
}

TEST(Repair, TheRoundsAreBounded) {
  auto original = load("repair", "unchecked_both");  // needs two fixes
  ASSERT_TRUE(original.has_value()) << original.error().message;
  repair::Options options = xdp_options();
  options.max_rounds = 1;
  const repair::Report report = repair::repair(*original, options);
  EXPECT_EQ(report.outcome, repair::Outcome::OutOfRounds);
  EXPECT_FALSE(report.accepted());
  ASSERT_EQ(report.rounds.size(), 2u);  // one fix, and the verdict on it
  options.max_rounds = 0;
  const repair::Report none = repair::repair(*original, options);
  EXPECT_EQ(none.outcome, repair::Outcome::OutOfRounds);
  EXPECT_EQ(none.rounds.size(), 1u);
  EXPECT_EQ(none.program.slots, original->slots);
}

// ---- The IR passes ------------------------------------------------------------------

size_t inst_count(ir::Module& module) {
  size_t count = 0;
  for (const auto& fn : module.functions()) count += fn->inst_count();
  return count;
}

// The pipeline's fixed point runs a pass again: the check goes in once.
TEST(RepairPasses, EachCheckIsInsertedOnce) {
  auto original = load("repair", "unchecked_both");
  ASSERT_TRUE(original.has_value()) << original.error().message;
  const auto diagnosis = repair::diagnose(*original, verify::verify(*original, xdp_options().verify), xdp_options());
  ASSERT_TRUE(std::holds_alternative<repair::Fix>(diagnosis));
  const repair::Fix& fix = std::get<repair::Fix>(diagnosis);
  EXPECT_EQ(fix.kind, FixKind::NullCheck);
  EXPECT_EQ(original->ops[fix.pc], isa::Op::call);
  for (int rounds : {1, 4}) {
    auto module = ir::lift(*original);
    ASSERT_TRUE(module.has_value());
    const size_t before = inst_count(**module);
    auto steps = ir::parse_pipeline(fix.pass);
    ASSERT_TRUE(steps.has_value()) << steps.error().message;
    ir::PipelineOptions pipeline;
    pipeline.validate_each = true;
    pipeline.max_rounds = rounds;
    auto ran = ir::run_pipeline(**module, *steps, pipeline);
    ASSERT_TRUE(ran.has_value()) << ran.error().message;
    EXPECT_EQ(ran->changes.front().second, 1u);
    EXPECT_EQ(inst_count(**module), before + 2);  // the branch and the bail's ret (split_block's ja replaced)
  }
}

TEST(RepairPasses, ParametersAreChecked) {
  auto original = load("repair", "byte_index");
  ASSERT_TRUE(original.has_value()) << original.error().message;
  for (const char* pipeline : {"bound-index(pc=15)", "bound-index(pc=15,operand=2,limit=8)",
                               "bound-index(pc=15,operand=1,limit=-1)", "null-check(bail=0)"}) {
    auto module = ir::lift(*original);
    ASSERT_TRUE(module.has_value());
    auto steps = ir::parse_pipeline(pipeline);
    ASSERT_TRUE(steps.has_value()) << pipeline;
    EXPECT_FALSE(ir::run_pipeline(**module, *steps).has_value()) << pipeline;
  }
  auto module = ir::lift(*original);
  ASSERT_TRUE(module.has_value());
  auto steps = ir::parse_pipeline("bound-index(pc=9999,operand=1,limit=8),null-check(pc=9999)");
  ASSERT_TRUE(steps.has_value());
  auto ran = ir::run_pipeline(**module, *steps);  // no instruction there: nothing changes
  ASSERT_TRUE(ran.has_value());
  EXPECT_EQ(ran->changes[0].second + ran->changes[1].second, 0u);
}

}  // namespace
}  // namespace bpfkit
