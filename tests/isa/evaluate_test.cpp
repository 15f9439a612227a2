// isa::evaluate_alu against the interpreters: every ALU row of every dialect,
// on edge values and random ones, must give the register the interpreter
// leaves (or fail where the interpreter faults).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "bpfkit/vm.hpp"

namespace bpfkit {
namespace {

using isa::Op;
using isa::Operation;

bool is_arithmetic(Operation operation) {
  return operation >= Operation::Add && operation <= Operation::Bswap && operation != Operation::AddrSpaceCast;
}

std::optional<Op> exit_row(const isa::Dialect& dialect) {
  for (const isa::OpInfo& row : isa::kOps)
    if (isa::semantics(row.op, dialect).operation == Operation::Exit) return row.op;
  return std::nullopt;
}

// What the interpreter leaves in r1 after `op r1, r2` (or `op r1, imm`)
// with r1 = dst, r2 = src: nullopt if the run faults; `decoded` false where
// the dialect's decoder refuses the instruction itself (sBPF's verifier
// refuses a zero divisor or an out-of-range shift as an immediate).
struct Outcome {
  bool decoded = false;
  std::optional<uint64_t> r1;
};
Outcome run_one(Op op, const isa::Dialect& dialect, uint64_t dst, uint64_t src, int32_t imm) {
  const isa::Semantics s = isa::semantics(op, dialect);
  const std::vector<isa::Slot> slots = {isa::encode(op, 1, s.source == isa::Source::Reg ? 2 : 0, 0, imm),
                                        isa::encode(*exit_row(dialect))};
  vm::Context context(dialect);
  auto program = isa::decode(std::span<const isa::Slot>(slots), dialect);
  if (!program) return {};
  auto engine = vm::make_interpreter(*program, context);
  EXPECT_TRUE(engine) << to_string(engine.error());
  if (!engine) return {};
  const vm::RunResult result = (*engine)->run(context, {dst, src, 0, 0, 0});
  if (result.error) return {true, std::nullopt};
  return {true, result.registers[1]};
}

TEST(Evaluate, EveryAluRowAgreesWithTheInterpreter) {
  const isa::Dialect* kDialects[] = {&isa::kLinuxV4, &isa::kSbpfV0, &isa::kSbpfV1, &isa::kSbpfV2, &isa::kSbpfV3};
  const uint64_t kEdges[] = {0,
                             1,
                             2,
                             0x7f,
                             0x80,
                             0xffff,
                             0x7fffffff,
                             0x80000000,
                             0xffffffff,
                             0x100000000,
                             UINT64_MAX,
                             INT64_MAX,
                             0x8000000000000000ull,
                             31,
                             32,
                             63,
                             64,
                             0x123456789abcdef0ull};
  const int32_t kImms[] = {0, 1, -1, 2, 7, 31, 32, 63, INT32_MIN, INT32_MAX, 0x1234};
  std::mt19937_64 rng(12);
  int rows = 0, traps = 0, compared = 0;
  for (const isa::Dialect* dialect : kDialects) {
    for (const isa::OpInfo& row : isa::kOps) {
      const isa::Semantics s = isa::semantics(row.op, *dialect);
      if (!is_arithmetic(s.operation)) continue;
      ++rows;
      std::vector<std::pair<uint64_t, int32_t>> cases;  // (dst, imm); src = imm's widening or random
      for (uint64_t d : kEdges)
        for (int32_t i : kImms) cases.emplace_back(d, i);
      for (int k = 0; k < 64; ++k) cases.emplace_back(rng(), static_cast<int32_t>(rng()));
      for (const auto& [dst, imm] : cases) {
        const uint64_t src = s.source == isa::Source::Imm
                                 ? isa::immediate_operand(s, imm)
                                 : static_cast<uint64_t>(static_cast<int64_t>(imm)) ^ (dst & 0xffffffff00000000ull);
        const Outcome expected = run_one(row.op, *dialect, dst, src, imm);
        if (!expected.decoded) continue;
        ++compared;
        traps += expected.r1 ? 0 : 1;
        ASSERT_EQ(expected.r1, isa::evaluate_alu(row.op, *dialect, dst, src))
            << dialect->name << " " << row.id << " dst=" << std::hex << dst << " src=" << src << " imm=" << imm;
      }
    }
  }
  EXPECT_GT(rows, 150);
  EXPECT_GT(compared, rows * 200);
  EXPECT_GT(traps, 0);  // sBPF's division by zero is among the cases
}

// Whether `op r1, r2` (or imm) jumps over the `mov r0, 1` that follows it.
std::optional<bool> jump_taken(Op op, const isa::Dialect& dialect, uint64_t a, uint64_t b, int32_t imm) {
  const isa::Semantics s = isa::semantics(op, dialect);
  const std::vector<isa::Slot> slots = {isa::encode(Op::mov64_imm, 0, 0, 0, 0),
                                        isa::encode(op, 1, s.source == isa::Source::Reg ? 2 : 0, 1, imm),
                                        isa::encode(Op::mov64_imm, 0, 0, 0, 1), isa::encode(*exit_row(dialect))};
  vm::Context context(dialect);
  auto program = isa::decode(std::span<const isa::Slot>(slots), dialect);
  if (!program) return std::nullopt;
  auto engine = vm::make_interpreter(*program, context);
  if (!engine) return std::nullopt;
  const vm::RunResult result = (*engine)->run(context, {a, b, 0, 0, 0});
  if (result.error) return std::nullopt;
  return result.registers[0] == 0;
}

TEST(Evaluate, EveryConditionalJumpAgreesWithTheInterpreter) {
  const uint64_t kValues[] = {0,          1,           2,           0x7fffffff, 0x80000000,
                              0xffffffff, 0x100000000, 0x1ffffffff, INT64_MAX,  0x8000000000000000ull,
                              UINT64_MAX};
  int compared = 0;
  for (const isa::Dialect* dialect : {&isa::kLinuxV4, &isa::kSbpfV3}) {
    for (const isa::OpInfo& row : isa::kOps) {
      const isa::Semantics s = isa::semantics(row.op, *dialect);
      if (s.operation != Operation::JumpIf) continue;
      for (uint64_t a : kValues)
        for (uint64_t b : kValues) {
          const int32_t imm = static_cast<int32_t>(b);
          const uint64_t src = s.source == isa::Source::Imm ? isa::immediate_operand(s, imm) : b;
          const auto taken = jump_taken(row.op, *dialect, a, src, imm);
          ASSERT_TRUE(taken) << dialect->name << " " << row.id;
          ASSERT_EQ(*taken, isa::condition_holds(s.condition, s.width, a, src))
              << dialect->name << " " << row.id << std::hex << " a=" << a << " b=" << src;
          ++compared;
        }
    }
  }
  EXPECT_GT(compared, 40 * 121);
}

TEST(Evaluate, NonArithmeticRowsHaveNoValue) {
  EXPECT_FALSE(isa::evaluate_alu(Op::ldxdw, isa::kLinuxV4, 1, 2));
  EXPECT_FALSE(isa::evaluate_alu(Op::ja, isa::kLinuxV4, 1, 2));
  EXPECT_FALSE(isa::evaluate_alu(Op::addr_space_cast, isa::kLinuxV4, 1, 2));
}

}  // namespace
}  // namespace bpfkit
