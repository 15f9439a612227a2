// ALU instructions: x86's 32-bit forms zero-extend like BPF's; division
// keeps Linux's rules for a zero divisor and INT_MIN / -1 (the kernel's
// x / 0 = 0, x % 0 = x, MIN / -1 = MIN, MIN % -1 = 0); shifts mask the count
// as x86 does.
#include "compiler.hpp"

namespace bpfkit::jit {

using namespace Xbyak::util;
using isa::Operation;
using isa::Source;

void Compiler::lower_alu(const isa::Semantics& sem, const isa::Slot& slot) {
  const bool wide = sem.width == 64;
  const Xbyak::Reg64& dst64 = kBpfRegisters[slot.dst()];
  // Blinded, an immediate operand is built in rax and the register form used.
  const bool blinded = inputs_.harden && sem.source == Source::Imm;
  if (blinded) load_immediate(wide ? Xbyak::Reg(rax) : Xbyak::Reg(eax), slot.imm);
  const Xbyak::Reg64 src64 = blinded ? rax : kBpfRegisters[slot.src()];
  const Xbyak::Reg dst = wide ? Xbyak::Reg(dst64) : Xbyak::Reg(dst64.cvt32());
  const Xbyak::Reg src = wide ? Xbyak::Reg(src64) : Xbyak::Reg(src64.cvt32());
  const bool imm = sem.source == Source::Imm && !blinded;
  const int32_t k = slot.imm;
  switch (sem.operation) {
    case Operation::Add: imm ? add(dst, k) : add(dst, src); break;
    case Operation::Sub:
      if (sem.swapped) {  // sBPF v2's `sub imm`: dst = imm - dst
        neg(dst);
        imm ? add(dst, k) : add(dst, src);
      } else {
        imm ? sub(dst, k) : sub(dst, src);
      }
      break;
    case Operation::Or: imm ? or_(dst, k) : or_(dst, src); break;
    case Operation::And: imm ? and_(dst, k) : and_(dst, src); break;
    case Operation::Xor: imm ? xor_(dst, k) : xor_(dst, src); break;
    case Operation::Mul: imm ? imul(dst, dst, k) : imul(dst, src); break;
    case Operation::Mov:
      // A blinded immediate is in rax, not in a register fold_mov_add could add.
      if (sem.source == Source::Reg && fold_mov_add(sem, slot)) break;
      if (!imm)
        mov(dst, src);
      else if (wide)
        mov(dst64, static_cast<uint64_t>(static_cast<int64_t>(k)));  // sign-extended
      else
        mov(dst64.cvt32(), static_cast<uint32_t>(k));
      break;
    case Operation::MovSx:  // the source width is the row's off
      if (slot.off == 8)
        movsx(dst, src64.cvt8());
      else if (slot.off == 16)
        movsx(dst, src64.cvt16());
      else
        movsxd(dst64, src64.cvt32());
      break;
    case Operation::Neg: neg(dst); break;
    default: break;
  }
  // sBPF sign-extends some 32-bit results (x86 zero-extended them); movsxd
  // leaves the flags, which then describe the 64-bit value too.
  const bool sign_extended = !wide && sem.result == isa::Extension::Sign;
  if (sign_extended) movsxd(dst64, dst64.cvt32());
  switch (sem.operation) {
    case Operation::Add:
    case Operation::Sub:
    case Operation::Or:
    case Operation::And:
    case Operation::Xor:
    case Operation::Neg: flags_ = {slot.dst(), sem.width, sign_extended}; break;
    // mov and lea leave the flags: they still tell about another register
    // (a blinded immediate was built with xor, which did not).
    case Operation::Mov:
      if (!blinded && slot.dst() != flags_in_.reg) flags_ = flags_in_;
      break;
    default: break;
  }
}

// `mov a, b` then `add a, c` (or `add a, imm`) in the same hot block: one
// `lea a, [b + c]`, which takes the add off the mov's dependency chain. The
// add is an ALU operation, which cannot fault, so no count is affected.
bool Compiler::fold_mov_add(const isa::Semantics& sem, const isa::Slot& slot) {
  const uint32_t next = pc_ + 1;  // a mov is one slot
  if (next >= fold_limit_ || !program_.ops[next] || slot.dst() == slot.src()) return false;
  const isa::Slot& add_slot = program_.slots[next];
  const isa::Semantics& add = sem_at(next);
  auto plain = [](const isa::Semantics& s) { return s.width == 64 || s.result != isa::Extension::Sign; };
  if (add.operation != Operation::Add || add.width != sem.width || add_slot.dst() != slot.dst() || !plain(sem) ||
      !plain(add) || (add.source == Source::Imm && inputs_.harden))
    return false;
  const Xbyak::Reg64& base = kBpfRegisters[slot.src()];
  const Xbyak::Reg64& dst64 = kBpfRegisters[slot.dst()];
  const Xbyak::Reg dst = sem.width == 64 ? Xbyak::Reg(dst64) : Xbyak::Reg(dst64.cvt32());
  if (add.source == Source::Imm) {
    lea(dst, ptr[base + add_slot.imm]);
  } else {
    // `add a, a` after the mov doubles b.
    const int addend = add_slot.src() == slot.dst() ? slot.src() : add_slot.src();
    lea(dst, ptr[base + kBpfRegisters[addend]]);
  }
  folded_next_ = true;
  return true;
}

// rax:rdx take the dividend; rcx holds an immediate divisor.
void Compiler::lower_division(const isa::Semantics& sem, const isa::Slot& slot) {
  const bool wide = sem.width == 64;
  const bool is_signed = sem.operation == Operation::SDiv || sem.operation == Operation::SMod;
  const bool quotient = sem.operation == Operation::Div || sem.operation == Operation::SDiv;
  const Xbyak::Reg64& dst64 = kBpfRegisters[slot.dst()];
  const Xbyak::Reg dst = wide ? Xbyak::Reg(dst64) : Xbyak::Reg(dst64.cvt32());
  const Xbyak::Reg acc = wide ? Xbyak::Reg(rax) : Xbyak::Reg(eax);
  const Xbyak::Reg rem = wide ? Xbyak::Reg(rdx) : Xbyak::Reg(edx);

  // Divisor 0: x / 0 = 0, x % 0 = x (a 32-bit x zero-extended).
  auto by_zero = [&] {
    if (quotient)
      xor_(dst64.cvt32(), dst64.cvt32());
    else if (!wide)
      mov(dst64.cvt32(), dst64.cvt32());
  };
  // Signed divisor -1: x / -1 = -x (MIN stays MIN), x % -1 = 0.
  auto by_minus_one = [&] {
    if (quotient)
      neg(dst);
    else
      xor_(dst64.cvt32(), dst64.cvt32());
  };
  auto divide = [&](const Xbyak::Reg& divisor) {
    mov(acc, dst);
    if (is_signed) {
      wide ? cqo() : cdq();
      idiv(divisor);
    } else {
      xor_(edx, edx);
      div(divisor);
    }
    mov(dst, quotient ? acc : rem);
  };

  if (sem.source == Source::Imm) {
    const int32_t k = slot.imm;
    if (k == 0) return by_zero();
    if (is_signed && k == -1) return by_minus_one();
    const Xbyak::Reg divisor = wide ? Xbyak::Reg(rcx) : Xbyak::Reg(ecx);
    load_immediate(divisor, k);
    return divide(divisor);
  }
  const Xbyak::Reg64& src64 = kBpfRegisters[slot.src()];
  const Xbyak::Reg src = wide ? Xbyak::Reg(src64) : Xbyak::Reg(src64.cvt32());
  Label& zero = new_label();
  Label& minus_one = new_label();
  Label& done = new_label();
  test(src, src);
  jz(zero);
  if (is_signed) {
    cmp(src, -1);
    je(minus_one);
  }
  divide(src);
  jmp(done);
  L(zero);
  by_zero();
  if (is_signed) {
    jmp(done);
    L(minus_one);
    by_minus_one();
  }
  L(done);
}

// Counts are masked to 63 or 31, as x86 masks them. A 32-bit shift by 0
// may leave the upper half on x86, so 32-bit results are re-extended.
void Compiler::lower_shift(const isa::Semantics& sem, const isa::Slot& slot) {
  const bool wide = sem.width == 64;
  const Xbyak::Reg64& dst64 = kBpfRegisters[slot.dst()];
  const Xbyak::Reg dst = wide ? Xbyak::Reg(dst64) : Xbyak::Reg(dst64.cvt32());
  if (sem.source == Source::Imm) {
    const int count = slot.imm & (wide ? 63 : 31);
    if (count == 0) {
      if (!wide) mov(dst, dst);
      return;
    }
    if (inputs_.harden) {  // the count through cl, as the register form
      load_immediate(ecx, count);
      switch (sem.operation) {
        case Operation::Lsh: shl(dst, cl); break;
        case Operation::Rsh: shr(dst, cl); break;
        default: sar(dst, cl); break;
      }
      return;
    }
    if (fold_rotate(sem, slot)) return;
    switch (sem.operation) {
      case Operation::Lsh: shl(dst, count); break;
      case Operation::Rsh: shr(dst, count); break;
      default: sar(dst, count); break;
    }
    return;
  }
  const Xbyak::Reg64& src64 = kBpfRegisters[slot.src()];
  if (bmi2_) {  // VEX forms always write dst (zero-extended at 32 bits)
    auto emit = [&](const Xbyak::Reg32e& d, const Xbyak::Reg32e& s) {
      switch (sem.operation) {
        case Operation::Lsh: shlx(d, d, s); break;
        case Operation::Rsh: shrx(d, d, s); break;
        default: sarx(d, d, s); break;
      }
    };
    if (wide)
      emit(dst64, src64);
    else
      emit(dst64.cvt32(), src64.cvt32());
    return;
  }
  mov(ecx, src64.cvt32());
  switch (sem.operation) {
    case Operation::Lsh: shl(dst, cl); break;
    case Operation::Rsh: shr(dst, cl); break;
    default: sar(dst, cl); break;
  }
  if (!wide) mov(dst, dst);
}

// The host is little-endian: "le" truncates, "be" and bswap swap.
void Compiler::lower_byte_order(const isa::Semantics& sem, const isa::Slot& slot) {
  const Xbyak::Reg64& dst = kBpfRegisters[slot.dst()];
  const bool swap = sem.operation != Operation::ToLe;
  switch (sem.width) {
    case 16:
      if (swap) rol(dst.cvt16(), 8);
      // Right after an 8- or 16-bit load of dst (csum's loop), bits 16..63
      // are already zero.
      if (!loaded_narrow_before(slot.dst())) movzx(dst.cvt32(), dst.cvt16());
      break;
    case 32:
      if (swap)
        bswap(dst.cvt32());
      else
        mov(dst.cvt32(), dst.cvt32());
      break;
    default:
      if (swap) bswap(dst);
      break;
  }
}

// Whether the instruction before this one, in the same hot block, was a
// zero-extending load of at most 16 bits into `reg`.
bool Compiler::loaded_narrow_before(int reg) const {
  if (pc_ <= fold_start_ || pc_ >= fold_limit_ || !program_.ops[pc_ - 1]) return false;
  const isa::Semantics& load = sem_at(pc_ - 1);
  return load.operation == Operation::Load && load.width <= 16 && program_.slots[pc_ - 1].dst() == reg;
}

// The rotate idiom compilers emit for (b << L) | (b >> (W - L)):
//   mov a, b; rsh a, W - L; lsh b, L; or b, a
// all in this hot block, at one width W. The mov and rsh ran as written
// (a keeps its value); the lsh and or become `rol b, L`.
bool Compiler::fold_rotate(const isa::Semantics& sem, const isa::Slot& slot) {
  if (sem.operation != Operation::Lsh || inputs_.harden || pc_ < fold_start_ + 2 || pc_ + 1 >= fold_limit_)
    return false;
  const uint32_t mov_pc = pc_ - 2, rsh_pc = pc_ - 1, or_pc = pc_ + 1;
  if (!program_.ops[mov_pc] || !program_.ops[rsh_pc] || !program_.ops[or_pc]) return false;
  const isa::Semantics& mov = sem_at(mov_pc);
  const isa::Semantics& rsh = sem_at(rsh_pc);
  const isa::Semantics& or_ = sem_at(or_pc);
  const isa::Slot& mov_slot = program_.slots[mov_pc];
  const isa::Slot& rsh_slot = program_.slots[rsh_pc];
  const isa::Slot& or_slot = program_.slots[or_pc];
  const int b = slot.dst(), a = mov_slot.dst();
  const unsigned width = sem.width;
  auto plain = [width](const isa::Semantics& s, Operation operation, Source source) {
    return s.operation == operation && s.source == source && s.width == width &&
           (width == 64 || s.result != isa::Extension::Sign);
  };
  const bool idiom = plain(mov, Operation::Mov, Source::Reg) && plain(rsh, Operation::Rsh, Source::Imm) &&
                     plain(sem, Operation::Lsh, Source::Imm) && plain(or_, Operation::Or, Source::Reg) && a != b &&
                     mov_slot.src() == b && rsh_slot.dst() == a && or_slot.dst() == b && or_slot.src() == a &&
                     slot.imm > 0 && rsh_slot.imm > 0 && static_cast<unsigned>(slot.imm + rsh_slot.imm) == width;
  if (!idiom) return false;
  const Xbyak::Reg64& b64 = kBpfRegisters[b];
  rol(width == 64 ? Xbyak::Reg(b64) : Xbyak::Reg(b64.cvt32()), slot.imm);
  folded_next_ = true;
  return true;
}

}  // namespace bpfkit::jit
