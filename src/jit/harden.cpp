// Constant blinding (Options::harden), as the kernel's
// bpf_jit_blind_constants does for unprivileged programs, at emission
// time: a program's immediate never appears in the machine code (a
// JIT-spraying gadget hidden in constants cannot be planted). Each one is
// built in a scratch register (the kernel's BPF_REG_AX) from two random
// immediates, value ^ rnd and rnd, with a fresh rnd per use; the lowering
// then uses the register form of the instruction. Blinding adds x86
// instructions inside one BPF instruction only: blocks, counts and metering
// are those of the unblinded code.
#include "compiler.hpp"

namespace bpfkit::jit {

using namespace Xbyak::util;

// splitmix64 over the per-program seed: cheap, and every value differs.
uint32_t Compiler::blinding_key() {
  uint64_t z = (blinding_state_ += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return static_cast<uint32_t>(z ^ (z >> 31));
}

namespace {

// The `mov into, imm` of a 32-bit immediate: zero-extended into a 32-bit
// register, sign-extended into a 64-bit one (as BPF's 64-bit operations read
// their imm).
uint64_t as_operand(const Xbyak::Reg& into, uint32_t imm) {
  return into.isBit(64) ? static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(imm))) : imm;
}

}  // namespace

// sext(k ^ r) ^ sext(r) == sext(k): the xor of two sign extensions is the
// sign extension of the xor, so the 64-bit form needs no third instruction.
void Compiler::load_immediate(const Xbyak::Reg& into, int32_t imm) {
  const auto value = static_cast<uint32_t>(imm);
  if (!inputs_.harden) {
    mov(into, as_operand(into, value));
    return;
  }
  const uint32_t key = blinding_key();
  mov(into, as_operand(into, value ^ key));
  xor_(into, key);
}

// The kernel blinds an lddw's halves one by one; here: high half, shift,
// then the low half xored in sign-extended (the high half was complemented
// beforehand if that extension sets it).
void Compiler::load_immediate64(const Xbyak::Reg64& into, uint64_t value) {
  if (!inputs_.harden) {
    mov(into, value);
    return;
  }
  const auto low = static_cast<uint32_t>(value);
  auto high = static_cast<uint32_t>(value >> 32);
  if ((low & 0x80000000u) != 0) high = ~high;
  const uint32_t high_key = blinding_key();
  const uint32_t low_key = blinding_key();
  mov(into.cvt32(), high ^ high_key);
  xor_(into.cvt32(), high_key);
  shl(into, 32);
  xor_(into, low ^ low_key);
  xor_(into, low_key);
}

}  // namespace bpfkit::jit
