// The JIT with the verifier's proofs (jit::Options::proven): the accesses
// proven in bounds through the stack, a map value or the raw buffer run
// without their region check; without proofs, or where paths disagree on
// the kind of memory, every access keeps it. Results stay the interpreter's.
#include <gtest/gtest.h>

#include "bpfkit/assembly.hpp"
#include "bpfkit/verify.hpp"
#include "compare.hpp"

namespace bpfkit {
namespace {

using isa::Op;
using isa::ProvenAccess;

using test::assemble;

isa::MapSpec array_map(uint32_t value_size) {
  isa::MapSpec spec;
  spec.name = "values";
  spec.type = static_cast<uint32_t>(isa::MapType::Array);
  spec.key_size = 4;
  spec.value_size = value_size;
  spec.max_entries = 1;
  return spec;
}

verify::Result verified(const isa::Program& program, uint64_t mem_size = 0) {
  verify::Options options;
  options.mem_size = mem_size;
  verify::Result verdict = verify::verify(program, options);
  EXPECT_TRUE(verdict.accepted) << (verdict.error ? verdict.error->message : "");
  return verdict;
}

// The pcs whose access runs without its region check.
std::vector<uint32_t> unchecked_pcs(const isa::Program& program, const jit::Options& options) {
  vm::Context context;
  EXPECT_TRUE(context.add_maps(program).has_value());
  auto jit = jit::Jit::create(program, context, options);
  EXPECT_TRUE(jit.has_value()) << (jit ? "" : to_string(jit.error()));
  if (!jit) return {};
  std::vector<uint32_t> pcs;
  for (const jit::CodeRange& range : jit->ranges())
    if (range.unchecked) pcs.push_back(range.pc);
  return pcs;
}

// Runs both engines with the program's maps and `input` as r1; the JIT
// with `options`.
void expect_same_run_with_maps(const isa::Program& program, std::vector<uint8_t> input, const jit::Options& options,
                               uint64_t expected_r0) {
  vm::RunResult results[2];
  for (const bool use_jit : {false, true}) {
    vm::Context context;
    ASSERT_TRUE(context.add_maps(program).has_value());
    std::vector<uint8_t> memory = input;
    if (!memory.empty()) context.map_input(memory);
    auto engine = use_jit ? jit::make_jit(program, context, options) : vm::make_interpreter(program, context);
    ASSERT_TRUE(engine.has_value()) << to_string(engine.error());
    results[use_jit] = (*engine)->run(context);
  }
  ASSERT_FALSE(results[1].error.has_value()) << to_string(*results[1].error);
  EXPECT_EQ(results[1].r0, expected_r0);
  EXPECT_EQ(results[0].r0, results[1].r0);
  EXPECT_EQ(results[0].registers, results[1].registers);
  EXPECT_EQ(results[0].instructions, results[1].instructions);
}

// A stack pointer in r1 (not r10 + a constant, which is never checked).
TEST(JitVerified, ProvenStackAccessesThroughAnotherRegisterAreUnchecked) {
  const isa::Program program = assemble("mov %r1, %r10\nadd %r1, -16\nstdw [%r1], 7\nldxdw %r0, [%r1]\nexit\n");
  const verify::Result verdict = verified(program);
  EXPECT_EQ(verdict.proven[2], ProvenAccess::Stack);
  EXPECT_EQ(verdict.proven[3], ProvenAccess::Stack);
  EXPECT_EQ(verdict.proven[1], ProvenAccess::Unproven);  // not an access
  EXPECT_EQ(unchecked_pcs(program, {}), std::vector<uint32_t>{});
  const jit::Options proven{.proven = verdict.proven};
  EXPECT_EQ(unchecked_pcs(program, proven), (std::vector<uint32_t>{2, 3}));
  expect_same_run_with_maps(program, {}, proven, 7);
}

// A map value from lddw (src 6): store, load, atomic.
TEST(JitVerified, ProvenMapValueAccessesAreUnchecked) {
  std::vector<isa::Slot> slots = {isa::encode(Op::lddw_map_idx_value, 1, 6, 0, 0),
                                  isa::Slot{0, 0, 0, 8},
                                  isa::encode(Op::stdw, 1, 0, 0, 40),
                                  isa::encode(Op::mov64_imm, 2, 0, 0, 2),
                                  isa::encode(Op::atomic64_add, 1, 2, 0, 0),
                                  isa::encode(Op::ldxdw, 0, 1, 0, 0),
                                  isa::encode(Op::exit)};
  auto program = isa::decode(slots);
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  program->maps.push_back(array_map(16));
  const verify::Result verdict = verified(*program);
  EXPECT_EQ(verdict.proven[2], ProvenAccess::MapValue);
  EXPECT_EQ(verdict.proven[4], ProvenAccess::MapValue);
  EXPECT_EQ(verdict.proven[5], ProvenAccess::MapValue);
  EXPECT_EQ(unchecked_pcs(*program, {}), std::vector<uint32_t>{});
  const jit::Options proven{.proven = verdict.proven};
  EXPECT_EQ(unchecked_pcs(*program, proven), (std::vector<uint32_t>{2, 4, 5}));
  expect_same_run_with_maps(*program, {}, proven, 42);
}

// pc 6 and 7 are reached with a map value in r1 on one path and a stack
// pointer on the other: not proven, so checked.
TEST(JitVerified, AnAccessReachedThroughTwoKindsKeepsItsCheck) {
  std::vector<isa::Slot> slots = {isa::encode(Op::ldxb, 3, 1, 0, 0),
                                  isa::encode(Op::lddw_map_idx_value, 1, 6, 0, 0),
                                  isa::Slot{0, 0, 0, 0},
                                  isa::encode(Op::jeq64_imm, 3, 0, 2, 0),
                                  isa::encode(Op::mov64_reg, 1, isa::kFramePointer),
                                  isa::encode(Op::add64_imm, 1, 0, 0, -8),
                                  isa::encode(Op::stdw, 1, 0, 0, 5),
                                  isa::encode(Op::ldxdw, 0, 1, 0, 0),
                                  isa::encode(Op::exit)};
  auto program = isa::decode(slots);
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  program->maps.push_back(array_map(8));
  const verify::Result verdict = verified(*program, 1);
  EXPECT_EQ(verdict.proven[0], ProvenAccess::Memory);
  EXPECT_EQ(verdict.proven[6], ProvenAccess::Unproven);
  EXPECT_EQ(verdict.proven[7], ProvenAccess::Unproven);
  const jit::Options proven{.proven = verdict.proven, .proven_memory_size = 1};
  EXPECT_EQ(unchecked_pcs(*program, proven), std::vector<uint32_t>{0});
  expect_same_run_with_maps(*program, {0}, proven, 5);
  expect_same_run_with_maps(*program, {1}, proven, 5);
}

// The raw buffer: unchecked once proven, and a run whose input region is
// shorter than the verifier assumed is refused rather than run unchecked.
TEST(JitVerified, RawBufferProofsNeedTheBufferTheVerifierSaw) {
  const isa::Program program = assemble("ldxdw %r0, [%r1+8]\nexit\n");
  const verify::Result verdict = verified(program, 16);
  EXPECT_EQ(verdict.proven[0], ProvenAccess::Memory);
  const jit::Options proven{.proven = verdict.proven, .proven_memory_size = 16};
  EXPECT_EQ(unchecked_pcs(program, proven), std::vector<uint32_t>{0});
  std::vector<uint8_t> input(16, 0);
  input[8] = 9;
  expect_same_run_with_maps(program, input, proven, 9);
  vm::Context context;
  std::vector<uint8_t> short_input(8, 0);
  context.map_input(short_input);
  auto jit = jit::Jit::create(program, context, proven);
  ASSERT_TRUE(jit.has_value());
  const vm::RunResult result = jit->run(context);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_NE(result.error->message.find("input region of 16 writable bytes"), std::string::npos)
      << result.error->message;
}

TEST(JitVerified, ProofsOfAnotherShapeAreRefused) {
  const isa::Program program = assemble("mov %r0, 1\nexit\n");
  vm::Context context;
  auto wrong_size = jit::Jit::create(program, context, {.proven = {ProvenAccess::Unproven}});
  ASSERT_FALSE(wrong_size.has_value());
  EXPECT_NE(wrong_size.error().message.find("cover 1 slots, the program has 2"), std::string::npos);
  isa::Program sbpf = program;
  sbpf.dialect = &isa::kSbpfV3;
  vm::Context sbpf_context(isa::kSbpfV3);
  auto refused = jit::Jit::create(sbpf, sbpf_context, {.proven = {ProvenAccess::Unproven, ProvenAccess::Unproven}});
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("Linux programs only"), std::string::npos);
}

TEST(JitVerified, ListingMarksUncheckedAccesses) {
  const isa::Program program = assemble("mov %r1, %r10\nadd %r1, -8\nstdw [%r1], 7\nldxdw %r0, [%r1]\nexit\n");
  vm::Context context;
  auto jit = jit::Jit::create(program, context, {.proven = verified(program).proven});
  ASSERT_TRUE(jit.has_value());
  const std::string text = jit::listing(*jit, [](uint32_t pc) { return "insn " + std::to_string(pc); });
  EXPECT_NE(text.find("2: insn 2    ; in bounds: no region check"), std::string::npos) << text;
  EXPECT_EQ(text.find("1: insn 1    ; in bounds"), std::string::npos) << text;
}

}  // namespace
}  // namespace bpfkit
