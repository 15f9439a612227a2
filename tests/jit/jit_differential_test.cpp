// JIT against interpreter on random programs: registers, memory, error,
// pc and instruction count identical. Three kinds: programs the kernel
// would accept (random_program), the same with every budget that stops them
// early, and programs of random instructions from the opcode table (which
// fault, loop until the budget ends, call helpers that do not exist...).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "compare.hpp"
#include "random_program.hpp"

namespace bpfkit {
namespace {

std::vector<uint8_t> input_bytes(uint64_t seed) {
  std::vector<uint8_t> bytes(64);
  std::mt19937_64 rng(seed);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

void valid_random_programs(uint64_t count, jit::Options options) {
  for (uint64_t seed = 0; seed < count; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto program = isa::decode(testing::random_program(seed));
    ASSERT_TRUE(program.has_value()) << to_string(program.error());
    test::expect_same_run(*program, input_bytes(seed), std::nullopt, options);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(JitDifferential, ValidRandomPrograms) { valid_random_programs(400, {}); }
TEST(JitDifferential, ValidRandomProgramsHardened) { valid_random_programs(200, {.harden = true}); }

// Programs with one-block counted loops over the input (which the JIT runs
// without their region checks when the loop's entry check proves them),
// starting or ending outside it at some iteration, and every budget.
void random_programs_with_loops(uint64_t count, bool every_budget) {
  uint64_t versioned = 0;  // programs with an access checked at a loop's entry
  for (uint64_t seed = 0; seed < count; ++seed) {
    auto program = isa::decode(testing::random_program(seed, {.counted_loops = true}));
    ASSERT_TRUE(program.has_value()) << to_string(program.error());
    vm::Context context;
    auto jit = jit::Jit::create(*program, context);
    ASSERT_TRUE(jit.has_value());
    if (std::ranges::any_of(jit->ranges(), [](const jit::CodeRange& range) { return range.checked_at_loop_entry; }))
      ++versioned;
    const test::EngineRun full = test::run_engine(false, *program, input_bytes(seed), std::nullopt);
    const uint64_t last_budget = every_budget ? full.result.instructions + 1 : 0;
    for (uint64_t budget = 0; budget <= last_budget; ++budget) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " budget " + std::to_string(budget));
      test::expect_same_run(*program, input_bytes(seed), budget == 0 ? std::nullopt : std::optional(budget));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  EXPECT_GE(versioned, count / 4);  // the generator's loops are the shapes the JIT versions
}

TEST(JitDifferential, RandomProgramsWithCountedLoops) { random_programs_with_loops(1000, false); }
TEST(JitDifferential, RandomCountedLoopsFailAtEveryBudgetAsTheInterpreter) { random_programs_with_loops(60, true); }

// Every budget from 1 up to what the program needs: the same failure point.
TEST(JitDifferential, EveryBudgetFailsAtTheSamePoint) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    auto program = isa::decode(testing::random_program(seed));
    ASSERT_TRUE(program.has_value());
    const test::EngineRun full = test::run_engine(false, *program, input_bytes(seed), std::nullopt);
    for (uint64_t budget = 1; budget <= full.result.instructions + 1; ++budget) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " budget " + std::to_string(budget));
      test::expect_same_run(*program, input_bytes(seed), budget);
      if (HasFatalFailure()) return;
    }
  }
}

// Random rows of the Linux opcode table with small jump offsets and
// interesting immediates: most fault or exhaust the budget.
std::vector<isa::Slot> random_slots(std::mt19937_64& rng, size_t count) {
  std::vector<isa::Op> rows;
  for (const isa::OpInfo& row : isa::kOps)
    if (isa::is_linux(row)) rows.push_back(row.op);
  const int32_t imms[] = {0, 1, -1, 2, 7, 8, 31, 32, 63, 64, INT32_MIN, INT32_MAX, 0x1234, -8, -16, 4, 12};
  std::vector<isa::Slot> slots;
  while (slots.size() < count) {
    const isa::OpInfo& row = isa::info(rows[rng() % rows.size()]);
    isa::Slot slot;
    slot.code = row.code;
    slot.set_dst(static_cast<uint8_t>(rng() % 11));
    slot.set_src(static_cast<uint8_t>(rng() % 11));
    slot.off = static_cast<int16_t>(static_cast<int>(rng() % 9) - 3);
    slot.imm = rng() % 3 == 0 ? static_cast<int32_t>(rng()) : imms[rng() % std::size(imms)];
    if (row.match == isa::Match::Off) slot.off = static_cast<int16_t>(row.value);
    if (row.match == isa::Match::Imm) slot.imm = row.value;
    if (row.match == isa::Match::Src) slot.set_src(static_cast<uint8_t>(row.value));
    if (rng() % 4 == 0) slot.set_src(isa::kFramePointer);  // stack addresses
    if (isa::is_lddw(row.op)) {
      slot.set_src(static_cast<uint8_t>(row.match == isa::Match::Src ? row.value : 0));
      if (slot.dst() == isa::kFramePointer) slot.set_dst(0);
      slots.push_back(slot);
      slots.push_back(isa::Slot{0, 0, 0, static_cast<int32_t>(rng())});
      continue;
    }
    // The decoder wants unused fields zero: zero fields until the slot
    // decodes on its own (a jump's offset is tested as 0, then restored).
    const isa::TargetField target = isa::target_field(row.op);
    for (unsigned zeroed = 0; zeroed < 16; ++zeroed) {
      isa::Slot candidate = slot;
      if (zeroed & 1) candidate.set_src(0);
      if (zeroed & 2) candidate.set_dst(0);
      if (zeroed & 4) candidate.off = 0;
      if (zeroed & 8) candidate.imm = 0;
      if (row.match == isa::Match::Off) candidate.off = static_cast<int16_t>(row.value);
      if (row.match == isa::Match::Imm) candidate.imm = row.value;
      if (row.match == isa::Match::Src) candidate.set_src(static_cast<uint8_t>(row.value));
      isa::Slot alone = candidate;
      if (target == isa::TargetField::Off) alone.off = -1;  // lands on pc 0
      if (target == isa::TargetField::Imm) alone.imm = -1;
      const std::array<isa::Slot, 1> one = {alone};
      if (isa::decode(std::span<const isa::Slot>(one)).has_value()) {
        slots.push_back(candidate);
        break;
      }
    }
  }
  slots.push_back(isa::Slot{});
  slots.back().code = isa::info(isa::Op::exit).code;
  return slots;
}

void random_instructions(int count, jit::Options options) {
  std::mt19937_64 rng(20261205);
  int decoded = 0;
  for (int i = 0; i < count; ++i) {
    auto slots = random_slots(rng, 2 + rng() % 24);
    auto program = isa::decode(slots);
    if (!program) continue;
    ++decoded;
    SCOPED_TRACE("program " + std::to_string(i));
    // Now and then a budget that stops it early: the same failure point.
    const uint64_t budget = i % 8 == 0 ? 1 + rng() % 12 : 300 + rng() % 200;
    test::expect_same_run(*program, input_bytes(static_cast<uint64_t>(i)), budget, options);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(decoded, count / 3);
}

TEST(JitDifferential, RandomInstructions) { random_instructions(3000, {}); }
// Blinding changes only the code inside an instruction: the same results,
// faults and counts.
TEST(JitDifferential, RandomInstructionsHardened) { random_instructions(1500, {.harden = true}); }

}  // namespace
}  // namespace bpfkit
