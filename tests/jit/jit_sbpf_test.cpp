// The JIT on sBPF v0..v3 against the sBPF interpreter: the fixtures of
// ../shared/sbpf with the README's r0 and exact compute units, then random
// programs of every version (valid, faulting, out of compute units) with
// registers, input memory, error (code, message, pc), instructions and
// compute units identical.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "bpfkit/elf.hpp"
#include "bpfkit/jit.hpp"
#include "bpfkit/vm.hpp"
#include "compare.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(BPFKIT_SHARED_DIR) / "sbpf" / "elfs";

struct SbpfRun {
  std::string prepare_error;
  vm::RunResult result;
  std::vector<uint8_t> input;  // after the run
};

// One engine in a fresh Context with the reference harness's syscalls.
SbpfRun run_sbpf(bool jit, const isa::Program& program, std::vector<uint8_t> input, uint64_t budget,
                 jit::Options options = {}) {
  SbpfRun run;
  vm::Context context(*program.dialect);
  context.helpers() = vm::HelperTable::sbpf_reference_harness();
  context.set_budget(budget);
  context.set_heap_size(1024);
  run.input = std::move(input);
  if (!run.input.empty()) context.map_input(run.input);
  auto engine = jit ? jit::make_jit(program, context, options) : vm::make_interpreter(program, context);
  if (!engine) {
    run.prepare_error = to_string(engine.error());
    return run;
  }
  run.result = (*engine)->run(context);
  return run;
}

void expect_same_sbpf_run(const isa::Program& program, const std::vector<uint8_t>& input, uint64_t budget,
                          jit::Options options = {}) {
  const SbpfRun interp = run_sbpf(false, program, input, budget);
  const SbpfRun jit = run_sbpf(true, program, input, budget, options);
  ASSERT_EQ(interp.prepare_error, jit.prepare_error);
  if (!interp.prepare_error.empty()) return;
  const vm::RunResult& a = interp.result;
  const vm::RunResult& b = jit.result;
  SCOPED_TRACE("interpreter: " + test::describe(a) + " cu=" + std::to_string(a.compute_units) +
               "\njit:         " + test::describe(b) + " cu=" + std::to_string(b.compute_units));
  EXPECT_EQ(a.registers, b.registers);
  EXPECT_EQ(a.r0, b.r0);
  EXPECT_EQ(a.instructions, b.instructions);
  EXPECT_EQ(a.compute_units, b.compute_units);
  ASSERT_EQ(a.error.has_value(), b.error.has_value());
  if (a.error) {
    EXPECT_EQ(a.error->code, b.error->code);
    EXPECT_EQ(a.error->name(), b.error->name());
    EXPECT_EQ(a.error->message, b.error->message);
    EXPECT_EQ(a.error->location.pc, b.error->location.pc);
  }
  EXPECT_EQ(interp.input, jit.input);
}

// ---- The fixtures ---------------------------------------------------------------

struct Fixture {
  const char* file;
  std::vector<uint8_t> input;
  std::string error;  // production name; empty for success
  uint64_t r0 = 0;
  uint64_t compute_units = 0;
};

void PrintTo(const Fixture& fixture, std::ostream* out) { *out << fixture.file; }

class JitSbpfFixture : public testing::TestWithParam<Fixture> {};

TEST_P(JitSbpfFixture, GivesTheReadmesResultWithExactComputeUnits) {
  const Fixture& fixture = GetParam();
  elf::sbpf::LoaderConfig config;
  config.syscalls = vm::HelperTable::sbpf_reference_harness().names();
  auto program = elf::sbpf::load_program(test::read_bytes(kFixtures / fixture.file), config);
  ASSERT_TRUE(program) << to_string(program.error());
  const SbpfRun jit = run_sbpf(true, *program, fixture.input, vm::kDefaultComputeBudget);
  ASSERT_EQ(jit.prepare_error, "");
  EXPECT_EQ(jit.result.error ? std::string(jit.result.error->name()) : "", fixture.error);
  if (fixture.error.empty()) {
    EXPECT_EQ(jit.result.r0, fixture.r0) << std::hex << "0x" << jit.result.r0;
  }
  EXPECT_EQ(jit.result.compute_units, fixture.compute_units);
  expect_same_sbpf_run(*program, fixture.input, vm::kDefaultComputeBudget);
  // Every smaller budget stops both engines at the same point.
  for (uint64_t budget = 1; budget < fixture.compute_units; ++budget) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    expect_same_sbpf_run(*program, fixture.input, budget);
  }
}

const std::vector<uint8_t> kOne = {1};

INSTANTIATE_TEST_SUITE_P(
    Readme, JitSbpfFixture,
    testing::Values(Fixture{"strict_header.so", {}, "", 42, 5}, Fixture{"relative_call.so", kOne, "", 3, 16},
                    Fixture{"relative_call_sbpfv0.so", kOne, "", 3, 16},
                    Fixture{"reloc_64_64.so", {}, "", 0x1'0000'0000, 2},
                    Fixture{"reloc_64_64_sbpfv0.so", {}, "", 0x1'0000'0120, 2},
                    Fixture{"reloc_64_relative.so", {}, "", 0, 2},
                    Fixture{"reloc_64_relative_sbpfv0.so", {}, "", 0x1'0000'0138, 2},
                    Fixture{"reloc_64_relative_data.so", {}, "", 0, 3},
                    Fixture{"reloc_64_relative_data_sbpfv0.so", {}, "", 0x1'0000'0140, 3},
                    Fixture{"rodata_section.so", {}, "", 42, 3}, Fixture{"rodata_section_sbpfv0.so", {}, "", 42, 3},
                    Fixture{"struct_func_pointer.so", {}, "", 0x0102030405060708, 2},
                    Fixture{"struct_func_pointer_sbpfv0.so", {}, "", 0x0102030405060708, 2},
                    Fixture{"syscall_static.so", {}, "", 0, 5}, Fixture{"syscall_reloc_64_32_sbpfv0.so", {}, "", 0, 5},
                    Fixture{"callx_unaligned.so", {}, "CallDepthExceeded", 0, 129}),
    [](const testing::TestParamInfo<Fixture>& info) {
      std::string name = info.param.file;
      return name.substr(0, name.size() - 3);
    });

// ---- Random programs ---------------------------------------------------------------

constexpr uint64_t kText = uint64_t{1} << 32;

// The text at 1 << 32: inside rodata (v0..v2) or the unreadable bytecode
// region (v3), as the sBPF VM tests build executables.
isa::Program executable(std::vector<isa::Slot> slots, const isa::Dialect& dialect) {
  isa::Program exe;
  exe.dialect = &dialect;
  exe.text_vaddr = kText;
  if (!dialect.sbpf.lower_rodata_vaddr) {
    exe.rodata = isa::to_bytes(slots);
    exe.rodata_vaddr = kText;
  }
  exe.slots = std::move(slots);
  for (uint32_t pc = 0; pc < exe.slots.size() && pc < 4; ++pc) exe.function_keys[isa::sbpf_pc_key(pc)] = pc;
  return exe;
}

// Whether the production verifier takes the slots as a whole program.
bool verifies(const std::vector<isa::Slot>& slots, const isa::Dialect& dialect) {
  return isa::decode(std::span<const isa::Slot>(slots), dialect).has_value();
}

// Puts a text address (of slot 0..`slots_after` - 1, sometimes unaligned)
// in the register the last slot, a callx, reads, when the program still
// verifies with it.
template <class Rng>
void aim_callx(std::vector<isa::Slot>& slots, const isa::Dialect& dialect, size_t slots_after, Rng& rng) {
  const isa::Slot callx = slots.back();
  const auto target = static_cast<uint8_t>(isa::callx_register(callx, dialect));
  const uint64_t address = kText + 8 * (rng() % slots_after) + (rng() % 4 == 0 ? rng() % 8 : 0);
  std::vector<isa::Slot> trial(slots.begin(), slots.end() - 1);
  if (isa::has_row(isa::Op::hor64_imm, dialect)) {
    trial.push_back(
        isa::encode(isa::Op::mov32_imm, target, 0, 0, static_cast<int32_t>(static_cast<uint32_t>(address))));
    trial.push_back(isa::encode(isa::Op::hor64_imm, target, 0, 0, static_cast<int32_t>(address >> 32)));
  } else {
    auto pair = isa::encode_lddw(target, address);
    trial.insert(trial.end(), pair.begin(), pair.end());
  }
  trial.push_back(callx);
  std::vector<isa::Slot> whole = trial;
  whole.insert(whole.end(), 3, isa::encode(isa::Op::exit));
  if (isa::decode(std::span<const isa::Slot>(whole), dialect).has_value()) slots = std::move(trial);
}

// Random rows of the version with small jumps, registers biased to the
// pointer registers (r1: input, r10: stack), interesting immediates, calls
// of real syscalls and of the keyed functions; most fault, loop until the
// compute units end, or call what does not exist.
std::vector<isa::Slot> random_sbpf_slots(std::mt19937_64& rng, const isa::Dialect& dialect, size_t count) {
  std::vector<isa::Op> rows;
  for (const isa::OpInfo& row : isa::kOps)
    if (isa::has_row(row.op, dialect)) rows.push_back(row.op);
  const std::vector<std::string> syscalls = vm::HelperTable::sbpf_reference_harness().names();
  const int32_t imms[] = {0, 1, -1, 2, 7, 8, 31, 32, 63, 64, INT32_MIN, INT32_MAX, 0x1234, -8, -16, 4, 12, -4096, 4096};
  const isa::Slot exit = isa::encode(isa::Op::exit);
  std::vector<isa::Slot> slots;
  size_t attempts = 0;
  while (slots.size() < count && ++attempts < count * 64) {
    const isa::Op op = rows[rng() % rows.size()];
    const isa::OpInfo& row = isa::info(op);
    isa::Slot slot;
    slot.code = row.code;
    const uint8_t biased[] = {0, 1, 2, 3, 10, 1, 10, 6};
    slot.set_dst(static_cast<uint8_t>(rng() % 2 ? rng() % 11 : biased[rng() % std::size(biased)]));
    slot.set_src(static_cast<uint8_t>(rng() % 2 ? rng() % 11 : biased[rng() % std::size(biased)]));
    slot.off = static_cast<int16_t>(static_cast<int>(rng() % 9) - 3);
    if (rng() % 3 == 0) slot.off = static_cast<int16_t>(-static_cast<int>(rng() % 64));
    slot.imm = rng() % 3 == 0 ? static_cast<int32_t>(rng()) : imms[rng() % std::size(imms)];
    const isa::Semantics sem = isa::semantics(op, dialect);
    if (sem.call == isa::CallResolution::SyscallOrFunction || sem.call == isa::CallResolution::Syscall) {
      if (rng() % 2)
        slot.imm = static_cast<int32_t>(isa::murmur3_32(syscalls[rng() % syscalls.size()]));
      else if (rng() % 2)
        slot.imm = static_cast<int32_t>(isa::sbpf_pc_key(rng() % 4));
    }
    if (sem.call == isa::CallResolution::Local) slot.imm = static_cast<int32_t>(rng() % 6) - 3;
    if (row.match == isa::Match::Off) slot.off = static_cast<int16_t>(row.value);
    if (row.match == isa::Match::Imm) slot.imm = row.value;
    if (row.match == isa::Match::Src) slot.set_src(static_cast<uint8_t>(row.value));
    if (isa::is_lddw(op)) {
      std::vector<isa::Slot> trial = slots;
      slot.set_src(0);
      if (slot.dst() == isa::kFramePointer) slot.set_dst(0);
      slot.off = 0;
      trial.push_back(slot);
      trial.push_back(isa::Slot{0, 0, 0, rng() % 2 ? 4 : static_cast<int32_t>(rng())});
      trial.push_back(exit);
      if (verifies(trial, dialect)) {
        trial.pop_back();
        slots = std::move(trial);
      }
      continue;
    }
    // The verifier wants unused fields zero and targets inside: try the slot
    // with fields zeroed until the program so far, plus an exit, verifies.
    for (unsigned zeroed = 0; zeroed < 32; ++zeroed) {
      isa::Slot candidate = slot;
      if (zeroed & 1) candidate.set_src(0);
      if (zeroed & 2) candidate.set_dst(0);
      if (zeroed & 4) candidate.off = 0;
      if (zeroed & 8) candidate.imm = 0;
      if (zeroed & 16) candidate.set_dst(1);
      if (row.match == isa::Match::Off) candidate.off = static_cast<int16_t>(row.value);
      if (row.match == isa::Match::Imm) candidate.imm = row.value;
      if (row.match == isa::Match::Src) candidate.set_src(static_cast<uint8_t>(row.value));
      std::vector<isa::Slot> trial = slots;
      trial.push_back(candidate);
      trial.push_back(exit);
      trial.push_back(exit);
      trial.push_back(exit);  // room for forward jumps
      if (verifies(trial, dialect)) {
        slots.push_back(candidate);
        if (sem.operation == isa::Operation::Callx && rng() % 4 != 0) aim_callx(slots, dialect, count + 3, rng);
        break;
      }
    }
  }
  slots.push_back(exit);
  slots.push_back(exit);
  slots.push_back(exit);
  return slots;
}

// ---- Edges the random programs rarely reach ---------------------------------------

using isa::Op;
using test::Code;

// Both engines on `code`; the JIT's fault name (empty: none), after
// checking it against the interpreter.
std::string jit_fault(const Code& code, const isa::Dialect& dialect, uint64_t budget = 1000) {
  const isa::Program program = executable(code.slots, dialect);
  expect_same_sbpf_run(program, {}, budget);
  const SbpfRun jit = run_sbpf(true, program, {}, budget);
  EXPECT_EQ(jit.prepare_error, "");
  return jit.result.error ? std::string(jit.result.error->name()) : "";
}

TEST(JitSbpf, ReturnPastTheTextFaultsAtTheExit) {
  Code code;
  code.add(Op::ja, 0, 0, 1).exit().add(Op::call_local, 0, 0, 0, -2);  // calls pc 1, returns to pc 3
  EXPECT_EQ(jit_fault(code, isa::kSbpfV3), "CallOutsideTextSegment");
  Code keyed;  // v0: the call by pc 1's key
  keyed.add(Op::ja, 0, 0, 2).mov(0, 5).exit().call(static_cast<int32_t>(isa::sbpf_pc_key(1)));
  EXPECT_EQ(jit_fault(keyed, isa::kSbpfV0), "CallOutsideTextSegment");
}

TEST(JitSbpf, SignedDivisionOverflowTraps) {
  Code wide;  // r1 = INT64_MIN by mov32 + hor, then r1 / -1
  wide.add(Op::mov32_imm, 1, 0, 0, 0)
      .add(Op::hor64_imm, 1, 0, 0, INT32_MIN)
      .add(Op::sdiv64_pqr_imm, 1, 0, 0, -1)
      .exit();
  EXPECT_EQ(jit_fault(wide, isa::kSbpfV2), "DivideOverflow");
  Code narrow;
  narrow.add(Op::mov32_imm, 1, 0, 0, INT32_MIN).add(Op::mov64_imm, 2, 0, 0, -1).add(Op::srem32_reg, 1, 2).exit();
  EXPECT_EQ(jit_fault(narrow, isa::kSbpfV2), "DivideOverflow");
  Code fine;  // -1 / -1 and INT32_MIN / 1 do not trap
  fine.add(Op::mov64_imm, 1, 0, 0, -1).add(Op::sdiv64_pqr_imm, 1, 0, 0, -1).mov(3, INT32_MIN);
  fine.add(Op::sdiv32_pqr_imm, 3, 0, 0, 1).add(Op::mov64_reg, 0, 3).exit();
  EXPECT_EQ(jit_fault(fine, isa::kSbpfV2), "");
}

TEST(JitSbpf, CallxIntoTheSecondSlotOfAnLddw) {
  Code code;  // slot 2 is lddw's second half
  code.lddw(5, kText + 2 * 8).add(Op::callx, 0, 0, 0, 5).exit();
  Code second;
  second.lddw(5, kText + 1 * 8).add(Op::callx, 0, 0, 0, 5).exit();
  EXPECT_EQ(jit_fault(second, isa::kSbpfV0), "UnsupportedInstruction");
  EXPECT_EQ(jit_fault(code, isa::kSbpfV0), "CallDepthExceeded");
}

TEST(JitSbpf, EveryBudgetOfACallChainWithSyscalls) {
  // v3: pc 0 calls pc 3 (which logs r0 via sol_log_64_ and returns), twice.
  Code code;
  const auto log64 = static_cast<int32_t>(isa::murmur3_32("sol_log_64_"));
  code.add(Op::call_local, 0, 1, 0, 2).add(Op::call_local, 0, 1, 0, 1).exit();
  code.mov(0, 7).add(Op::call, 0, 0, 0, log64).exit();
  const isa::Program program = executable(code.slots, isa::kSbpfV3);
  const SbpfRun full = run_sbpf(false, program, {}, 100000);
  ASSERT_FALSE(full.result.error) << to_string(*full.result.error);
  EXPECT_GT(full.result.compute_units, full.result.instructions);  // the syscall charged
  for (uint64_t budget = 1; budget <= full.result.compute_units + 1; ++budget) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    expect_same_sbpf_run(program, {}, budget);
  }
}

TEST(JitSbpf, EntryInsideTheText) {
  Code code;
  code.mov(0, 1).exit().mov(0, 2).exit();
  isa::Program program = executable(code.slots, isa::kSbpfV0);
  program.entry = 2;
  expect_same_sbpf_run(program, {}, 100);
  EXPECT_EQ(run_sbpf(true, program, {}, 100).result.r0, 2u);
}

std::vector<uint8_t> input_bytes(uint64_t seed) {
  std::vector<uint8_t> bytes(64);
  std::mt19937_64 rng(seed);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

std::string version_name(const testing::TestParamInfo<uint32_t>& info) {
  static const char* const kNames[] = {"v0", "v1", "v2", "v3"};
  return kNames[info.param];
}

class JitSbpfDifferential : public testing::TestWithParam<uint32_t> {};

TEST_P(JitSbpfDifferential, RandomPrograms) {
  const isa::Dialect& dialect = *isa::sbpf_dialect(GetParam());
  std::mt19937_64 rng(20261205 + GetParam());
  size_t verified = 0, faulted = 0, out_of_units = 0;
  for (int i = 0; i < 600; ++i) {
    std::vector<isa::Slot> slots = random_sbpf_slots(rng, dialect, 2 + rng() % 30);
    if (!verifies(slots, dialect)) continue;
    ++verified;
    const isa::Program program = executable(std::move(slots), dialect);
    SCOPED_TRACE("program " + std::to_string(i));
    const uint64_t budget = 200 + rng() % 300;
    expect_same_sbpf_run(program, input_bytes(i), budget);
    if (HasFatalFailure()) return;
    const SbpfRun interp = run_sbpf(false, program, input_bytes(i), budget);
    if (interp.result.error) {
      ++faulted;
      if (interp.result.error->name() == "ExceededMaxInstructions") ++out_of_units;
    }
    // Every smaller budget, now and then: the same failure point.
    if (i % 20 == 0)
      for (uint64_t small = 1; small < interp.result.compute_units && small < 64; ++small) {
        SCOPED_TRACE("budget " + std::to_string(small));
        expect_same_sbpf_run(program, input_bytes(i), small);
        if (HasFatalFailure()) return;
      }
  }
  EXPECT_GT(verified, 400u);
  EXPECT_GT(faulted, 50u);
  EXPECT_GT(out_of_units, 5u);
  EXPECT_LT(faulted, verified);
}

// Blinded constants (v2's swapped sub, PQR and hor immediates among them):
// the same results and compute units, also when the budget stops the run.
TEST_P(JitSbpfDifferential, RandomProgramsHardened) {
  const isa::Dialect& dialect = *isa::sbpf_dialect(GetParam());
  std::mt19937_64 rng(20261206 + GetParam());
  size_t verified = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<isa::Slot> slots = random_sbpf_slots(rng, dialect, 2 + rng() % 30);
    if (!verifies(slots, dialect)) continue;
    ++verified;
    const isa::Program program = executable(std::move(slots), dialect);
    SCOPED_TRACE("program " + std::to_string(i));
    const uint64_t budget = i % 8 == 0 ? 1 + rng() % 12 : 200 + rng() % 300;
    expect_same_sbpf_run(program, input_bytes(i), budget, jit::Options{.harden = true});
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(verified, 200u);
}

INSTANTIATE_TEST_SUITE_P(Versions, JitSbpfDifferential, testing::Values(0u, 1u, 2u, 3u), version_name);

}  // namespace
}  // namespace bpfkit
