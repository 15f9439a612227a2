// Differential test: the sBPF VM against the Linux interpreter (itself
// checked against the kernel and the conformance suite) on random programs
// made only of instructions whose meaning the two dialects share. Both start
// with r10 at 0x200001000 (the Linux stack is 8 frames of 512 bytes, sBPF's
// first frame 4 KiB), so even stack addresses agree; every register must end
// equal (r0..r9 for v2, whose r10 starts at the top of the whole stack).
//
// Shared meaning, for sBPF v0 and v3 against Linux: 64-bit ALU, division and
// remainder by a nonzero immediate, the zero-extending 32-bit operations
// (or, and, xor, shifts, mov, neg, div and mod by an immediate), byte swaps,
// stack loads and stores, and forward jumps (JMP32 too in v3). 32-bit
// add/sub/mul are left out: sBPF v0 and v3 sign-extend their results.
//
// v2 shares a different set, in other encodings: its 32-bit add/sub/mul
// zero-extend as Linux's do, multiplication and unsigned division are the
// PQR class (with a non-negative divisor: v2 zero-extends it), and loads and
// stores moved into the ALU classes; `sub imm`, `mov32 reg`, neg, le and
// JMP32 mean something else or nothing there, so they are left out. The
// program is generated once in Linux encodings and re-encoded for v2.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "bpfkit/load.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit {
namespace {

using isa::Op;
using isa::Slot;

// Which shared set a program draws from.
enum class Profile { V0V3, V3, V2 };

class Generator {
 public:
  Generator(uint64_t seed, Profile profile) : rng_(seed), profile_(profile) {}

  std::vector<Slot> program(size_t body) {
    for (uint8_t r = 0; r <= 9; ++r) emit(Op::mov64_imm, r, 0, 0, imm());
    // Every stack slot the program may load is written first.
    for (int16_t k = 1; k <= kStackSlots; ++k) emit(Op::stxdw, 10, reg(), static_cast<int16_t>(-8 * k));
    const size_t end = slots_.size() + body;
    while (slots_.size() < end) step(end);
    emit(Op::exit);
    return std::move(slots_);
  }

 private:
  static constexpr int kStackSlots = 8;

  void step(size_t end) {
    switch (below(9)) {
      case 0:
      case 1: alu64(); break;
      case 2: alu32(); break;
      case 3: divide(); break;
      case 4: unary(); break;
      case 5: memory(); break;
      case 6:
      case 7: jump(end); break;
      default: shift(); break;
    }
  }

  void alu64() {
    static constexpr Op kImm[] = {Op::add64_imm, Op::add64_imm, Op::mul64_imm, Op::or64_imm,
                                  Op::and64_imm, Op::xor64_imm, Op::mov64_imm};
    static constexpr Op kReg[] = {Op::add64_reg, Op::sub64_reg, Op::mul64_reg, Op::or64_reg,
                                  Op::and64_reg, Op::xor64_reg, Op::mov64_reg};
    const size_t i = below(std::size(kImm));
    if (below(2))
      emit(kImm[i], reg(), 0, 0, imm());
    else
      emit(kReg[i], reg(), reg());
    if (profile_ != Profile::V2 && below(4) == 0) emit(Op::sub64_imm, reg(), 0, 0, imm());
  }

  void alu32() {
    static constexpr Op kImm[] = {Op::or32_imm, Op::and32_imm, Op::xor32_imm, Op::mov32_imm};
    static constexpr Op kReg[] = {Op::or32_reg, Op::and32_reg, Op::xor32_reg, Op::mov32_reg};
    // v2's 32-bit add/sub/mul zero-extend, as Linux's do.
    static constexpr Op kV2Imm[] = {Op::or32_imm, Op::and32_imm, Op::add32_imm, Op::mul32_imm};
    static constexpr Op kV2Reg[] = {Op::or32_reg, Op::sub32_reg, Op::add32_reg, Op::mul32_reg};
    const bool v2 = profile_ == Profile::V2;
    const size_t i = below(std::size(kImm));
    if (below(2))
      emit(v2 ? kV2Imm[i] : kImm[i], reg(), 0, 0, imm());
    else
      emit(v2 ? kV2Reg[i] : kReg[i], reg(), reg());
  }

  void divide() {
    static constexpr Op kOps[] = {Op::div64_imm, Op::mod64_imm, Op::div32_imm, Op::mod32_imm};
    int32_t divisor = imm();
    if (profile_ == Profile::V2 && divisor < 0) divisor = divisor == INT32_MIN ? INT32_MAX : -divisor;
    if (divisor == 0) divisor = 7;
    emit(kOps[below(std::size(kOps))], reg(), 0, 0, divisor);
  }

  void shift() {
    static constexpr Op kImm64[] = {Op::lsh64_imm, Op::rsh64_imm, Op::arsh64_imm};
    static constexpr Op kReg64[] = {Op::lsh64_reg, Op::rsh64_reg, Op::arsh64_reg};
    static constexpr Op kImm32[] = {Op::lsh32_imm, Op::rsh32_imm, Op::arsh32_imm};
    static constexpr Op kReg32[] = {Op::lsh32_reg, Op::rsh32_reg, Op::arsh32_reg};
    const size_t i = below(3);
    switch (below(4)) {
      case 0: emit(kImm64[i], reg(), 0, 0, static_cast<int32_t>(below(64))); break;
      case 1: emit(kReg64[i], reg(), reg()); break;  // both mask the amount
      case 2: emit(kImm32[i], reg(), 0, 0, static_cast<int32_t>(below(32))); break;
      default: emit(kReg32[i], reg(), reg()); break;
    }
  }

  void unary() {
    static constexpr Op kOps[] = {Op::be16, Op::be32, Op::be64, Op::neg64, Op::neg32, Op::le16, Op::le32, Op::le64};
    emit(kOps[below(profile_ == Profile::V2 ? 3 : std::size(kOps))], reg());
  }

  void memory() {
    static constexpr Op kLoads[] = {Op::ldxb, Op::ldxh, Op::ldxw, Op::ldxdw};
    static constexpr Op kStores[] = {Op::stxb, Op::stxh, Op::stxw, Op::stxdw};
    static constexpr Op kStoreImms[] = {Op::stb, Op::sth, Op::stw, Op::stdw};
    const auto slot = static_cast<int16_t>(-8 * static_cast<int>(1 + below(kStackSlots)));
    const size_t width = below(4);
    switch (below(3)) {
      case 0: emit(kLoads[width], reg(), 10, slot); break;
      case 1: emit(kStores[width], 10, reg(), slot); break;
      default: emit(kStoreImms[width], 10, 0, slot, imm()); break;
    }
  }

  // Forward only, so every program ends; at most to the exit.
  void jump(size_t end) {
    static constexpr Op kImm64[] = {Op::jeq64_imm,  Op::jne64_imm,  Op::jgt64_imm,  Op::jge64_imm,
                                    Op::jlt64_imm,  Op::jle64_imm,  Op::jset64_imm, Op::jsgt64_imm,
                                    Op::jsge64_imm, Op::jslt64_imm, Op::jsle64_imm};
    static constexpr Op kReg64[] = {Op::jeq64_reg,  Op::jne64_reg,  Op::jgt64_reg,  Op::jge64_reg,
                                    Op::jlt64_reg,  Op::jle64_reg,  Op::jset64_reg, Op::jsgt64_reg,
                                    Op::jsge64_reg, Op::jslt64_reg, Op::jsle64_reg};
    static constexpr Op kImm32[] = {Op::jeq32_imm,  Op::jne32_imm,  Op::jgt32_imm,  Op::jge32_imm,
                                    Op::jlt32_imm,  Op::jle32_imm,  Op::jset32_imm, Op::jsgt32_imm,
                                    Op::jsge32_imm, Op::jslt32_imm, Op::jsle32_imm};
    static constexpr Op kReg32[] = {Op::jeq32_reg,  Op::jne32_reg,  Op::jgt32_reg,  Op::jge32_reg,
                                    Op::jlt32_reg,  Op::jle32_reg,  Op::jset32_reg, Op::jsgt32_reg,
                                    Op::jsge32_reg, Op::jslt32_reg, Op::jsle32_reg};
    const size_t here = slots_.size();
    const auto off = static_cast<int16_t>(below(std::min<size_t>(end - here, 12)));  // lands on or before exit
    const size_t i = below(std::size(kImm64));
    const bool wide = profile_ != Profile::V3 || below(2);
    if (below(2))
      emit(wide ? kImm64[i] : kImm32[i], reg(), 0, off, below(4) ? imm() : 0);
    else
      emit(wide ? kReg64[i] : kReg32[i], reg(), reg(), off);
  }

  void emit(Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
    slots_.push_back(isa::encode(op, dst, src, off, imm));
  }
  uint8_t reg() { return static_cast<uint8_t>(below(10)); }
  int32_t imm() {
    static constexpr int32_t kEdges[] = {0, 1, -1, 2, 31, 32, 63, INT32_MIN, INT32_MAX, 0xff, 0xffff};
    return below(4) == 0 ? kEdges[below(std::size(kEdges))] : static_cast<int32_t>(rng_());
  }
  size_t below(size_t n) { return static_cast<size_t>(rng_() % n); }

  std::mt19937_64 rng_;
  Profile profile_;
  std::vector<Slot> slots_;
};

// The same program in v2's encodings: loads and stores in the ALU classes,
// multiplication and division in the PQR class.
std::vector<Slot> as_v2(std::vector<Slot> slots) {
  static const std::pair<Op, Op> kMoves[] = {
      {Op::ldxb, Op::sbpf_ldxb},       {Op::ldxh, Op::sbpf_ldxh},       {Op::ldxw, Op::sbpf_ldxw},
      {Op::ldxdw, Op::sbpf_ldxdw},     {Op::stb, Op::sbpf_stb},         {Op::sth, Op::sbpf_sth},
      {Op::stw, Op::sbpf_stw},         {Op::stdw, Op::sbpf_stdw},       {Op::stxb, Op::sbpf_stxb},
      {Op::stxh, Op::sbpf_stxh},       {Op::stxw, Op::sbpf_stxw},       {Op::stxdw, Op::sbpf_stxdw},
      {Op::mul64_imm, Op::lmul64_imm}, {Op::mul64_reg, Op::lmul64_reg}, {Op::mul32_imm, Op::lmul32_imm},
      {Op::mul32_reg, Op::lmul32_reg}, {Op::div64_imm, Op::udiv64_imm}, {Op::mod64_imm, Op::urem64_imm},
      {Op::div32_imm, Op::udiv32_imm}, {Op::mod32_imm, Op::urem32_imm},
  };
  for (Slot& slot : slots) {
    const std::optional<Op> op = isa::lookup(slot);
    for (const auto& [linux_op, v2_op] : kMoves)
      if (op == linux_op) slot.code = isa::info(v2_op).code;
  }
  return slots;
}

// r0..r10 after a run on the Linux interpreter.
std::array<uint64_t, isa::kRegisterCount> linux_registers(const std::vector<Slot>& slots) {
  auto program = isa::decode(std::span<const Slot>(slots));
  EXPECT_TRUE(program) << to_string(program.error());
  if (!program) return {};
  vm::Context context;
  auto interpreter = vm::Interpreter::create(*program, context);
  EXPECT_TRUE(interpreter);
  if (!interpreter) return {};
  const vm::RunResult result = interpreter->run(context);
  EXPECT_TRUE(result.ok()) << to_string(*result.error);
  return result.ok() ? result.registers : std::array<uint64_t, isa::kRegisterCount>{};
}

std::array<uint64_t, isa::kRegisterCount> sbpf_registers(const std::vector<Slot>& slots, const isa::Dialect& dialect) {
  vm::Context context(dialect);
  context.helpers() = vm::HelperTable{};
  auto program = load::raw_program(slots, "test", dialect);
  auto interpreter = program ? vm::sbpf::Interpreter::create(*program, context) : program.error();
  EXPECT_TRUE(interpreter) << dialect.name << ": " << to_string(interpreter.error());
  if (!interpreter) return {};
  const vm::RunResult result = interpreter->run(context, {});
  EXPECT_FALSE(result.error.has_value()) << dialect.name << ": " << to_string(*result.error);
  return result.registers;
}

TEST(SbpfLinuxDiff, SharedInstructionsAgreeWithTheLinuxInterpreter) {
  constexpr int kPrograms = 5000;
  const std::pair<const isa::Dialect*, Profile> kRuns[] = {
      {&isa::kSbpfV0, Profile::V0V3}, {&isa::kSbpfV3, Profile::V3}, {&isa::kSbpfV2, Profile::V2}};
  int compared = 0;
  for (const auto& [dialect, profile] : kRuns) {
    for (uint64_t seed = 1; seed <= kPrograms; ++seed) {
      const std::vector<Slot> slots = Generator(seed, profile).program(60);
      const auto want = linux_registers(slots);
      const auto got = sbpf_registers(profile == Profile::V2 ? as_v2(slots) : slots, *dialect);
      // v2's r10 starts at the top of the whole stack (its frames are the
      // program's to manage), so only r0..r9 can agree there.
      const int registers = profile == Profile::V2 ? isa::kFramePointer : isa::kRegisterCount;
      for (int r = 0; r < registers; ++r) ASSERT_EQ(got[r], want[r]) << dialect->name << " seed " << seed << " r" << r;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 3 * kPrograms);
}

}  // namespace
}  // namespace bpfkit
