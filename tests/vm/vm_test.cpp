// The interpreter's region checks, frames, calls, budget and the corner cases
// of its arithmetic (the kernel's semantics).
#include "bpfkit/vm.hpp"

#include <gtest/gtest.h>

#include <climits>

#include "bpfkit/load.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

using isa::encode;
using isa::Op;

using test::Code;

Expected<vm::RunResult> run(const Code& code, vm::Context& env, std::array<uint64_t, 5> args = {}) {
  auto program = isa::decode(code.slots);
  if (!program) return program.error();
  auto interpreter = vm::Interpreter::create(*program, env);
  if (!interpreter) return interpreter.error();
  // A fault becomes the error: these tests look at results.
  vm::RunResult result = interpreter->run(env, args);
  if (result.error) return *result.error;
  return result;
}

Expected<vm::RunResult> run(const Code& code) {
  vm::Context env;
  return run(code, env);
}

uint64_t r0_of(const Code& code) {
  auto result = run(code);
  EXPECT_TRUE(result.has_value()) << to_string(result.error());
  return result ? result->r0 : 0xdeadbeef;
}

// r0 = a; r1 = b; r0 <op>= r1; exit
uint64_t binary(Op op, uint64_t a, uint64_t b) { return r0_of(Code().lddw(0, a).lddw(1, b).add(op, 0, 1).exit()); }

TEST(MemoryMap, TranslatesOnlyInsideRegions) {
  vm::MemoryMap map;
  std::vector<uint8_t> bytes(16);
  map.map(vm::kInputRegion, "input", bytes, false);
  const uint64_t base = vm::region_base(vm::kInputRegion);
  EXPECT_EQ(map.translate(base, 16, false), bytes.data());
  EXPECT_EQ(map.translate(base + 8, 8, false), bytes.data() + 8);
  EXPECT_EQ(map.translate(base + 9, 8, false), nullptr);  // one past the end
  EXPECT_EQ(map.translate(base, 1, true), nullptr);       // read-only
  EXPECT_EQ(map.translate(0, 1, false), nullptr);         // null
  EXPECT_EQ(map.translate(vm::region_base(99), 1, false), nullptr);
  // Lengths come from programs: one that would wrap offset + size is refused.
  EXPECT_EQ(map.translate(base + 4, UINT64_MAX - 2, false), nullptr);
  EXPECT_EQ(map.translate(base, UINT64_MAX, false), nullptr);
  EXPECT_NE(map.describe_fault(base + 9, 8, false).find("region 'input' is 16 bytes, read-only"), std::string::npos);
  EXPECT_NE(map.describe_fault(0, 4, true).find("no region mapped"), std::string::npos);
}

TEST(Interpreter, StackStoreAndLoad) {
  Code code;
  code.lddw(1, 0x1122334455667788).add(Op::stxdw, 10, 1, -8).add(Op::ldxw, 0, 10, -8).exit();
  EXPECT_EQ(r0_of(code), 0x55667788u);
}

TEST(Interpreter, AccessOutsideRegionFaultsWithPcAndAddress) {
  Code code;
  code.add(Op::mov64_imm, 0, 0, 0, 1).add(Op::ldxdw, 0, 10, 0).exit();  // r10 + 0 is past the stack top
  auto result = run(code);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::AccessViolation);
  EXPECT_EQ(result.error().location.pc, 1u);
  EXPECT_NE(result.error().message.find("invalid read of 8 bytes at 0x200001000"), std::string::npos)
      << result.error().message;
}

TEST(Interpreter, NullPointerFaults) {
  auto result = run(Code().add(Op::mov64_imm, 1, 0, 0, 0).add(Op::stb, 1, 0, 0, 7).exit());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::AccessViolation);
  EXPECT_EQ(result.error().location.pc, 1u);
}

TEST(Interpreter, ReadOnlyInputRefusesWrites) {
  vm::Context env;
  std::vector<uint8_t> packet{1, 2, 3, 4};
  const uint64_t addr = env.map_input(packet, /*writable=*/false);
  auto read = run(Code().add(Op::ldxb, 0, 1, 3).exit(), env, {addr, 4});
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->r0, 4u);
  auto write = run(Code().add(Op::stb, 1, 0, 0, 9).exit(), env, {addr, 4});
  ASSERT_FALSE(write.has_value());
  EXPECT_NE(write.error().message.find("read-only"), std::string::npos);
}

TEST(Interpreter, LocalCallGetsFreshFrameAndKeepsCalleeSaved) {
  Code code;
  code.add(Op::mov64_imm, 6, 0, 0, 6)
      .add(Op::stdw, 10, 0, -8, 111)    // caller's slot
      .add(Op::call_local, 0, 0, 0, 3)  // -> pc 6
      .add(Op::ldxdw, 0, 10, -8)        // still 111
      .add(Op::add64_reg, 0, 6)         // + 6: r6 restored
      .exit()
      .add(Op::mov64_imm, 6, 0, 0, 1000)  // callee clobbers r6
      .add(Op::stdw, 10, 0, -8, 222)      // and its own r10 - 8
      .exit();
  EXPECT_EQ(r0_of(code), 117u);
}

TEST(Interpreter, CallDepthIsLimitedToEightFrames) {
  Code code;
  code.add(Op::call_local, 0, 0, 0, -1).exit();  // calls itself forever
  auto result = run(code);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::CallDepthExceeded);
  EXPECT_EQ(result.error().location.pc, 0u);
}

TEST(Interpreter, CallxReachesHelpersAndSubprograms) {
  // r2 = 5 (helper id), callx r2; then r3 = &sub, callx r3.
  Code helper;
  helper.add(Op::mov64_imm, 2, 0, 0, 5).add(Op::callx, 2).add(Op::mov64_imm, 0, 0, 0, 2).exit();
  EXPECT_EQ(r0_of(helper), 2u);
  Code sub;
  sub.lddw(3, 3, Op::lddw_func)  // pc 0; target = 0 + 1 + 3 = 4
      .add(Op::callx, 3)
      .exit()
      .add(Op::ja, 0, 0, 0, 0)  // padding, never run
      .add(Op::mov64_imm, 0, 0, 0, 77)
      .exit();
  EXPECT_EQ(r0_of(sub), 77u);
  auto bad = run(Code().add(Op::mov64_imm, 2, 0, 0, -1).add(Op::callx, 2).exit());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::BadCallTarget);
}

TEST(Interpreter, UnknownHelperAndKfuncAreErrors) {
  auto helper = run(Code().add(Op::call, 0, 0, 0, 9999).exit());
  ASSERT_FALSE(helper.has_value());
  EXPECT_EQ(helper.error().code, Errc::UnknownHelper);
  EXPECT_NE(helper.error().message.find("9999"), std::string::npos);
  auto kfunc = run(Code().add(Op::call_kfunc, 0, 0, 0, 1).exit());
  ASSERT_FALSE(kfunc.has_value());
  EXPECT_EQ(kfunc.error().code, Errc::UnknownHelper);
}

TEST(Interpreter, UnknownHelpersAreNamedAtTheCallAndAllAtOnceByCheckCalls) {
  auto missing = run(Code().call(66).exit());
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("call of unknown helper 66 (bpf_skb_get_xfrm_state)"), std::string::npos)
      << missing.error().message;
  // Before anything runs: every helper the program lacks, each once, by name;
  // tail_call is the interpreter's and counts as present.
  auto program = isa::decode(Code().call(141).call(66).call(9999).call(141).call(12).call(1).exit().slots);
  ASSERT_TRUE(program.has_value());
  auto checked = vm::HelperTable::linux_defaults().check_calls(*program);
  ASSERT_FALSE(checked.has_value());
  EXPECT_EQ(checked.error().code, Errc::UnknownHelper);
  EXPECT_EQ(checked.error().message,
            "the program calls helpers bpfkit does not implement: 66 (bpf_skb_get_xfrm_state), 141 "
            "(bpf_get_task_stack), 9999");
  auto fine = isa::decode(Code().call(1).call(12).exit().slots);
  ASSERT_TRUE(fine.has_value());
  EXPECT_TRUE(vm::HelperTable::linux_defaults().check_calls(*fine).has_value());
  // The default helpers carry the kernel's names.
  EXPECT_EQ(vm::HelperTable::linux_defaults().find(1)->name, "bpf_map_lookup_elem");
}

TEST(Interpreter, HelpersSeeArgumentsAndMemory) {
  vm::Context env;
  env.helpers().add(100, "sum_bytes", [](vm::HelperCall& call) -> Expected<uint64_t> {
    const uint8_t* p = call.memory.translate(call.args[0], call.args[1], false);
    if (p == nullptr) return make_error(Errc::AccessViolation, "bad buffer");
    uint64_t sum = 0;
    for (uint64_t i = 0; i < call.args[1]; ++i) sum += p[i];
    return sum;
  });
  std::vector<uint8_t> data{1, 2, 3, 250};
  const uint64_t addr = env.map_input(data);
  auto ok = run(Code().add(Op::call, 0, 0, 0, 100).exit(), env, {addr, 4});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->r0, 256u);
  auto bad = run(Code().add(Op::call, 0, 0, 0, 100).exit(), env, {addr, 5});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::HelperFailed);
  EXPECT_NE(bad.error().message.find("sum_bytes: bad buffer"), std::string::npos);
}

TEST(Interpreter, BudgetAllowsExactlyNInstructions) {
  Code code;
  code.add(Op::mov64_imm, 0, 0, 0, 1).add(Op::add64_imm, 0, 0, 0, 1).exit();
  vm::Context env;
  env.set_budget(3);
  auto ok = run(code, env);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->instructions, 3u);
  env.set_budget(2);
  auto over = run(code, env);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, Errc::BudgetExceeded);
  EXPECT_EQ(over.error().location.pc, 2u);
}

TEST(Interpreter, RunawayLoopStops) {
  vm::Context env;
  env.set_budget(1000000);
  auto result = run(Code().add(Op::ja, 0, 0, -1).exit(), env);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::BudgetExceeded);
}

TEST(Interpreter, LddwCountsAsOneInstruction) {
  auto result = run(Code().lddw(0, 1).exit());
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->instructions, 2u);
}

TEST(Interpreter, FallingOffTheEndIsAnError) {
  auto result = run(Code().add(Op::mov64_imm, 0, 0, 0, 1));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::OutOfRange);
  EXPECT_EQ(result.error().location.pc, 1u);
}

TEST(Interpreter, UnresolvedMapReferenceIsRefusedBeforeRunning) {
  auto result = run(Code().lddw(1, 0, Op::lddw_map_fd).exit());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::Unsupported);
  EXPECT_EQ(result.error().location.pc, 0u);
}

TEST(Semantics, DivisionAndModuloByZero) {
  EXPECT_EQ(binary(Op::div64_reg, 7, 0), 0u);
  EXPECT_EQ(binary(Op::mod64_reg, 7, 0), 7u);
  EXPECT_EQ(binary(Op::div32_reg, 0xffffffff00000007, 0), 0u);
  EXPECT_EQ(binary(Op::mod32_reg, 0xffffffff00000007, 0), 7u);  // zero-extended
  EXPECT_EQ(binary(Op::sdiv64_reg, 7, 0), 0u);
  EXPECT_EQ(binary(Op::smod64_reg, static_cast<uint64_t>(-7), 0), static_cast<uint64_t>(-7));
  EXPECT_EQ(binary(Op::smod32_reg, 0xffffffff80000000, 0), 0x80000000u);
}

TEST(Semantics, SignedDivisionOverflowAndRounding) {
  const auto int64_min = static_cast<uint64_t>(INT64_MIN);
  EXPECT_EQ(binary(Op::sdiv64_reg, int64_min, static_cast<uint64_t>(-1)), int64_min);
  EXPECT_EQ(binary(Op::smod64_reg, int64_min, static_cast<uint64_t>(-1)), 0u);
  EXPECT_EQ(binary(Op::sdiv32_reg, 0x80000000, static_cast<uint64_t>(-1)), 0x80000000u);
  EXPECT_EQ(binary(Op::sdiv64_reg, static_cast<uint64_t>(-7), 2), static_cast<uint64_t>(-3));  // truncates
  EXPECT_EQ(binary(Op::smod64_reg, static_cast<uint64_t>(-7), 2), static_cast<uint64_t>(-1));  // sign of dividend
  EXPECT_EQ(binary(Op::smod32_reg, static_cast<uint32_t>(-7), 2), 0xffffffffu);
}

TEST(Semantics, ShiftAmountsAreMasked) {
  EXPECT_EQ(binary(Op::lsh64_reg, 1, 65), 2u);
  EXPECT_EQ(binary(Op::lsh32_reg, 1, 33), 2u);
  EXPECT_EQ(binary(Op::arsh64_reg, static_cast<uint64_t>(-8), 65), static_cast<uint64_t>(-4));
  EXPECT_EQ(binary(Op::arsh32_reg, 0x80000000, 31), 0xffffffffu);  // upper half zero
  EXPECT_EQ(r0_of(Code().add(Op::mov64_imm, 0, 0, 0, 1).add(Op::lsh32_imm, 0, 0, 0, 60).exit()), 1u << 28);
}

TEST(Semantics, ThirtyTwoBitResultsZeroExtendAndImmediatesSignExtend) {
  EXPECT_EQ(r0_of(Code().add(Op::mov64_imm, 0, 0, 0, -1).exit()), UINT64_MAX);
  EXPECT_EQ(r0_of(Code().add(Op::mov32_imm, 0, 0, 0, -1).exit()), 0xffffffffu);
  EXPECT_EQ(binary(Op::add32_reg, 0xffffffff, 1), 0u);
  EXPECT_EQ(binary(Op::mov32_reg, 0, 0x123456789), 0x23456789u);
  EXPECT_EQ(r0_of(Code().lddw(0, 0xffffffff00000001).add(Op::neg32, 0).exit()), 0xffffffffu);
}

TEST(Semantics, ByteSwapsZeroTheUpperBits) {
  EXPECT_EQ(r0_of(Code().lddw(0, 0x8877665544332211).add(Op::be16, 0).exit()), 0x1122u);
  EXPECT_EQ(r0_of(Code().lddw(0, 0x8877665544332211).add(Op::le32, 0).exit()), 0x44332211u);
  EXPECT_EQ(r0_of(Code().lddw(0, 0x8877665544332211).add(Op::bswap64, 0).exit()), 0x1122334455667788u);
}

TEST(Semantics, SignExtendingMovesAndLoads) {
  EXPECT_EQ(binary(Op::movsx8_64, 0, 0x80), 0xffffffffffffff80u);
  EXPECT_EQ(binary(Op::movsx16_32, 0, 0x8000), 0xffff8000u);
  Code load;
  load.add(Op::stw, 10, 0, -4, -2).add(Op::ldxsh, 0, 10, -4).exit();
  EXPECT_EQ(r0_of(load), static_cast<uint64_t>(-2));
}

TEST(Semantics, JumpSignedness) {
  // if r0 s> -1 goto +1 with r0 = 0: taken; unsigned 0 > 0xffff...: not taken.
  Code sgt;
  sgt.add(Op::mov64_imm, 0, 0, 0, 0).add(Op::jsgt64_imm, 0, 0, 1, -1).add(Op::mov64_imm, 0, 0, 0, 9).exit();
  EXPECT_EQ(r0_of(sgt), 0u);
  Code ugt;
  ugt.add(Op::mov64_imm, 0, 0, 0, 0).add(Op::jgt64_imm, 0, 0, 1, -1).add(Op::mov64_imm, 0, 0, 0, 9).exit();
  EXPECT_EQ(r0_of(ugt), 9u);
  Code jmp32;  // only the low 32 bits compare
  jmp32.lddw(0, 0x100000000).add(Op::jeq32_imm, 0, 0, 1, 0).add(Op::mov64_imm, 0, 0, 0, 9).exit();
  EXPECT_EQ(r0_of(jmp32), 0x100000000u);
}

TEST(Semantics, Atomics) {
  Code code;
  code.add(Op::stdw, 10, 0, -8, 5)
      .add(Op::mov64_imm, 1, 0, 0, 3)
      .add(Op::atomic64_fetch_add, 10, 1, -8)  // r1 = 5, slot = 8
      .add(Op::mov64_imm, 0, 0, 0, 8)
      .add(Op::mov64_imm, 2, 0, 0, 100)
      .add(Op::atomic64_cmpxchg, 10, 2, -8)  // slot 8 == r0: slot = 100, r0 = 8
      .add(Op::ldxdw, 3, 10, -8)
      .add(Op::add64_reg, 0, 3)  // 108
      .add(Op::add64_reg, 0, 1)  // 113
      .exit();
  EXPECT_EQ(r0_of(code), 113u);
}

TEST(Semantics, LegacyPacketLoadsAreBigEndianAndEndTheProgramWhenOutOfBounds) {
  vm::Context env;
  std::vector<uint8_t> packet{0x12, 0x34, 0x56, 0x78};
  const uint64_t addr = env.map_input(packet);
  Code in_bounds;
  in_bounds.add(Op::mov64_reg, 6, 1).add(Op::ldabsh, 0, 0, 0, 1).exit();
  auto ok = run(in_bounds, env, {addr, 4});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->r0, 0x3456u);
  Code out_of_bounds;
  out_of_bounds.add(Op::mov64_imm, 2, 0, 0, 2).add(Op::ldindw, 0, 2, 0, 0).add(Op::mov64_imm, 0, 0, 0, 9).exit();
  auto zero = run(out_of_bounds, env, {addr, 4});
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->r0, 0u);
}

TEST(Context, EntryRegisters) {
  vm::Context env;
  auto result = run(Code().add(Op::mov64_reg, 0, 10).exit(), env, {1, 2, 3, 4, 5});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->r0, env.stack_top());
  EXPECT_EQ(result->registers[1], 1u);
  EXPECT_EQ(result->registers[5], 5u);
}

// ---- The Engine interface, the same for both dialects ----------------------------

// Each engine make_interpreter gives for these dialects.
const isa::Dialect* const kEngineDialects[] = {&isa::kLinuxV4, &isa::kSbpfV0, &isa::kSbpfV2, &isa::kSbpfV3};

vm::RunResult run_engine(const Code& code, const isa::Dialect& dialect, vm::Context& context) {
  auto program = dialect.family == isa::Family::Sbpf ? load::raw_program(code.slots, "test", dialect)
                                                     : isa::decode(code.slots, dialect);
  if (!program) {
    ADD_FAILURE() << dialect.name << ": " << to_string(program.error());
    return {};
  }
  auto engine = vm::make_interpreter(*program, context);
  if (!engine) {
    ADD_FAILURE() << dialect.name << ": " << to_string(engine.error());
    return {};
  }
  EXPECT_EQ(&(*engine)->dialect(), &dialect);
  return (*engine)->run(context);
}

// A fault keeps what the run had: r0, the other registers, the count (the
// faulting instruction included) and the pc, in every engine.
TEST(Engine, FaultKeepsRegistersAndCounts) {
  for (const isa::Dialect* dialect : kEngineDialects) {
    // r0 = 7; r6 = 5; r1 = *(u64 *)(0 + 0): nothing readable at 0 (v2 moved the load's encoding)
    const Op load = dialect == &isa::kSbpfV2 ? Op::sbpf_ldxdw : Op::ldxdw;
    Code code;
    code.mov(0, 7).mov(6, 5).mov(2, 0).add(load, 1, 2, 0).exit();
    vm::Context context(*dialect);
    const vm::RunResult result = run_engine(code, *dialect, context);
    ASSERT_TRUE(result.error.has_value()) << dialect->name;
    EXPECT_EQ(result.error->code, Errc::AccessViolation) << dialect->name;
    EXPECT_EQ(result.error->location.pc, 3u) << dialect->name;
    EXPECT_EQ(result.r0, 7u) << dialect->name;
    EXPECT_EQ(result.registers[6], 5u) << dialect->name;
    EXPECT_EQ(result.instructions, 4u) << dialect->name;
    EXPECT_EQ(result.compute_units, 4u) << dialect->name;
  }
}

// The budget is the context's: instructions (Linux) or compute units
// (sBPF); N allows exactly N, and running out keeps the counts at N.
TEST(Engine, BudgetComesFromTheContext) {
  Code code;
  code.mov(0, 1).mov(0, 2).mov(0, 3).exit();
  for (const isa::Dialect* dialect : kEngineDialects) {
    vm::Context context(*dialect);
    context.set_budget(4);
    EXPECT_TRUE(run_engine(code, *dialect, context).ok()) << dialect->name;
    context.set_budget(3);
    const vm::RunResult over = run_engine(code, *dialect, context);
    ASSERT_TRUE(over.error.has_value()) << dialect->name;
    EXPECT_EQ(over.error->code, Errc::BudgetExceeded) << dialect->name;
    EXPECT_EQ(over.instructions, 3u) << dialect->name;
    EXPECT_EQ(over.r0, 3u) << dialect->name;
  }
}

// A context's output is handed to each run's result and starts over.
TEST(Engine, EachRunGetsItsOwnOutput) {
  vm::Context context;
  Code code;  // trace_printk("hi\0", 3)
  code.add(Op::stw, 10, 0, -4, 0x6968).add(Op::mov64_reg, 1, 10).add(Op::add64_imm, 1, 0, 0, -4).mov(2, 3);
  code.call(6).exit();
  auto first = run_engine(code, isa::kLinuxV4, context);
  auto second = run_engine(code, isa::kLinuxV4, context);
  EXPECT_EQ(first.output, "hi");
  EXPECT_EQ(second.output, "hi");
  EXPECT_EQ(context.output().text(), "");
}

}  // namespace
}  // namespace bpfkit
