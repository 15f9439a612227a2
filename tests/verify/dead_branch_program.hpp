// Random programs of ALU work and forward branches, some of them decided
// by constants, some by bounds (`r9 &= 0xff; if r9 > 300 goto ...`) and some
// by 32-bit views: the dead code the verifier rewrites. Their scalars come
// from constants and from stack slots never written (root may read them),
// never from the context. Used by the xlated tests of verify and offload.
#pragma once

#include <random>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::test {

inline std::vector<isa::Slot> dead_branch_program(uint64_t seed) {
  using isa::Op;
  std::mt19937_64 random(seed);
  auto pick = [&](uint64_t n) { return random() % n; };
  auto reg = [&] { return static_cast<uint8_t>(pick(10)); };
  std::vector<isa::Slot> slots;
  for (uint8_t r = 0; r < 10; ++r) {
    if (pick(3) == 0)
      slots.push_back(isa::encode(Op::ldxdw, r, isa::kFramePointer, static_cast<int16_t>(-8 * (1 + pick(8)))));
    else
      slots.push_back(isa::encode(Op::mov64_imm, r, 0, 0, static_cast<int32_t>(pick(2000)) - 500));
  }
  static constexpr Op kAluImm[] = {Op::add64_imm, Op::sub64_imm, Op::and64_imm, Op::or64_imm,  Op::xor64_imm,
                                   Op::rsh64_imm, Op::add32_imm, Op::and32_imm, Op::mov32_imm, Op::lsh64_imm};
  static constexpr Op kAluReg[] = {Op::add64_reg, Op::and64_reg, Op::or64_reg, Op::mov64_reg, Op::xor32_reg};
  static constexpr Op kJumpImm[] = {Op::jgt64_imm,  Op::jlt64_imm, Op::jeq64_imm, Op::jne64_imm, Op::jsgt64_imm,
                                    Op::jset64_imm, Op::jgt32_imm, Op::jle32_imm, Op::jeq32_imm};
  static constexpr Op kJumpReg[] = {Op::jgt64_reg, Op::jeq64_reg, Op::jlt32_reg};
  static constexpr int32_t kMasks[] = {0xff, 0xf, 0x3ff, 0x7};
  const size_t body = 12 + pick(20);
  for (size_t i = 0; i < body; ++i) {
    const size_t left = body - i;  // instructions after this one, before the tail
    switch (pick(8)) {
      case 0:
      case 1: {
        const Op op = kAluImm[pick(std::size(kAluImm))];
        const bool shift = op == Op::rsh64_imm || op == Op::lsh64_imm;
        const int32_t imm = shift ? static_cast<int32_t>(pick(32)) : static_cast<int32_t>(pick(4000)) - 1000;
        slots.push_back(isa::encode(op, reg(), 0, 0, imm));
        break;
      }
      case 2: slots.push_back(isa::encode(kAluReg[pick(std::size(kAluReg))], reg(), reg())); break;
      case 3: {  // bounded, then compared past the bound (one edge dead)
        const uint8_t r = reg();
        slots.push_back(isa::encode(Op::and64_imm, r, 0, 0, kMasks[pick(std::size(kMasks))]));
        const Op op = pick(2) ? Op::jgt64_imm : Op::jlt64_imm;
        const int16_t off = static_cast<int16_t>(pick(std::min<size_t>(left, 4)));
        slots.push_back(isa::encode(op, r, 0, off, 300 + static_cast<int32_t>(pick(2000))));
        break;
      }
      case 4:
      case 5: {
        const int16_t off = static_cast<int16_t>(pick(std::min<size_t>(left, 5)));
        slots.push_back(
            isa::encode(kJumpImm[pick(std::size(kJumpImm))], reg(), 0, off, static_cast<int32_t>(pick(1500)) - 500));
        break;
      }
      case 6: {
        const int16_t off = static_cast<int16_t>(pick(std::min<size_t>(left, 5)));
        slots.push_back(isa::encode(kJumpReg[pick(std::size(kJumpReg))], reg(), reg(), off));
        break;
      }
      default:
        slots.push_back(pick(4) == 0 ? isa::encode(Op::ja, 0, 0, 0) : isa::encode(Op::mov64_reg, 0, reg()));
        break;
    }
  }
  slots.push_back(isa::encode(Op::exit));
  return slots;
}

}  // namespace bpfkit::test
