// Control flow: jumps to block entries (which meter), may_goto's hidden
// counter, helper calls and tail calls through the runtime, bpf-to-bpf calls
// with frames kept in the State (r6..r10 saved, r10 moved one frame down),
// callx, exit.
#include <algorithm>
#include <cstddef>

#include "compiler.hpp"

namespace bpfkit::jit {

using namespace Xbyak::util;
using isa::Condition;
using isa::Source;

void Compiler::lower_jump(const isa::Semantics& sem, const isa::Slot& slot) {
  Xbyak::Label& target = target_label(*isa::branch_target(*program_.ops[pc_], slot, static_cast<int64_t>(pc_)));
  if (sem.condition == Condition::Always) {
    jmp(target);
    return;
  }
  if (uses_flags_for_zero_compare(sem, slot)) return;
  const bool wide = sem.width == 64;
  const Xbyak::Reg64& dst64 = kBpfRegisters[slot.dst()];
  const Xbyak::Reg dst = wide ? Xbyak::Reg(dst64) : Xbyak::Reg(dst64.cvt32());
  // Blinded, an immediate operand is built in rax and the register form used.
  const bool blinded = inputs_.harden && sem.source == Source::Imm;
  if (blinded) load_immediate(wide ? Xbyak::Reg(rax) : Xbyak::Reg(eax), slot.imm);
  const Xbyak::Reg64 src64 = blinded ? rax : kBpfRegisters[slot.src()];
  const Xbyak::Reg src = wide ? Xbyak::Reg(src64) : Xbyak::Reg(src64.cvt32());
  const bool imm = sem.source == Source::Imm && !blinded;
  if (sem.condition == Condition::Set)
    imm ? test(dst, slot.imm) : test(dst, src);
  else
    imm ? cmp(dst, slot.imm) : cmp(dst, src);  // a 64-bit compare sign-extends imm, as BPF does
  switch (sem.condition) {
    case Condition::Eq: je(target); break;
    case Condition::Ne: jne(target); break;
    case Condition::Gt: ja(target); break;
    case Condition::Ge: jae(target); break;
    case Condition::Lt: jb(target); break;
    case Condition::Le: jbe(target); break;
    case Condition::Set: jnz(target); break;
    case Condition::SGt: jg(target); break;
    case Condition::SGe: jge(target); break;
    case Condition::SLt: jl(target); break;
    case Condition::SLe: jle(target); break;
    default: break;
  }
}

// A compare of the register the previous ALU operation wrote with 0: its
// flags already tell zero (ZF) and, at the same width, the sign (SF; after
// `cmp x, 0` jl is js, as OF is clear). A 32-bit result compared at 64 bits
// was zero-extended (only ZF holds) or sign-extended (both hold).
bool Compiler::uses_flags_for_zero_compare(const isa::Semantics& sem, const isa::Slot& slot) {
  if (sem.source != Source::Imm || slot.imm != 0 || flags_in_.reg != slot.dst()) return false;
  const bool same_width = flags_in_.width == sem.width;
  const bool zero = same_width || (flags_in_.width == 32 && sem.width == 64);
  const bool sign = same_width || (flags_in_.sign_extended && sem.width == 64);
  Xbyak::Label& target = target_label(*isa::branch_target(*program_.ops[pc_], slot, static_cast<int64_t>(pc_)));
  switch (sem.condition) {
    case Condition::Eq:
    case Condition::Le:  // unsigned x <= 0
      if (!zero) return false;
      je(target);
      return true;
    case Condition::Ne:
    case Condition::Gt:  // unsigned x > 0
      if (!zero) return false;
      jne(target);
      return true;
    case Condition::SLt:
      if (!sign) return false;
      js(target);
      return true;
    case Condition::SGe:
      if (!sign) return false;
      jns(target);
      return true;
    default: return false;
  }
}

// The kernel's hidden loop counter (BPF_MAX_LOOPS): jump once it is used up.
void Compiler::lower_may_goto(const isa::Slot& slot) {
  Xbyak::Label& target = target_label(*isa::branch_target(*program_.ops[pc_], slot, static_cast<int64_t>(pc_)));
  cmp(field(offsetof(State, may_goto_left)), 0);
  je(target);
  dec(field(offsetof(State, may_goto_left)));
}

void Compiler::lower_call(const isa::Slot& slot) {
  const uint32_t pc = pc_;
  if (slot.imm == static_cast<int32_t>(vm::kTailCallHelper)) {
    runtime_call(reinterpret_cast<const void*>(&bpfkit_jit_tail_call), [&] { mov(esi, pc); });
    Xbyak::Label& next = new_label();
    cmp(rax, 1);
    jb(next);
    je(fault(Stop::Preset));
    jmp(rax);  // the target program's first block, same registers and stack
    L(next);
    return;
  }
  runtime_call(reinterpret_cast<const void*>(&bpfkit_jit_call_helper), [&] {
    mov(esi, static_cast<uint32_t>(slot.imm));
    mov(edx, pc);
  });
  test(rax, rax);
  jnz(fault(Stop::Preset));
}

// Saves the return address and r6..r10 in frames[depth], after the
// interpreter's depth check.
void Compiler::enter_frame(Xbyak::Label& return_to, bool move_fp) {
  const uint32_t max_depth = std::min(isa::frame_model(dialect_).max_depth, kMaxFrames);
  mov(rax, field(offsetof(State, depth)));
  cmp(rax, max_depth - 1);  // depth + 1 >= max_depth
  jae(fault(Stop::CallDepth));
  mov(rcx, rax);
  shl(rcx, 6);
  lea(rdx, ptr[rip + return_to]);
  const auto frames = static_cast<int>(offsetof(State, frames));
  mov(qword[rsp + rcx + frames], rdx);
  for (int i = 0; i < 5; ++i) mov(qword[rsp + rcx + frames + 8 + 8 * i], kBpfRegisters[6 + i]);
  inc(rax);
  mov(field(offsetof(State, depth)), rax);
  if (move_fp) move_frame_pointer();
}

void Compiler::move_frame_pointer() {
  const int64_t step = isa::frame_model(dialect_).call_fp_step;
  if (step != 0) add(kBpfRegisters[isa::kFramePointer], static_cast<int32_t>(step));
}

void Compiler::lower_call_local(const isa::Slot& slot) {
  enter_frame(entry_[pc_ + 1]);
  jmp(target_label(*isa::branch_target(*program_.ops[pc_], slot, static_cast<int64_t>(pc_))));
}

void Compiler::lower_callx(const isa::Slot& slot) {
  const uint32_t pc = pc_;
  const int target = static_cast<int>(isa::callx_register(slot, dialect_));
  runtime_call(reinterpret_cast<const void*>(&bpfkit_jit_callx), [&] {
    mov(rsi, reg_in_state(target));
    mov(edx, pc);
  });
  Xbyak::Label& next = new_label();
  Xbyak::Label& subprogram = new_label();
  cmp(rax, 1);
  jb(next);
  je(fault(Stop::Preset));
  cmp(rax, 3);
  je(subprogram);
  jmp(field(offsetof(State, jump_to)));  // a tail call
  L(subprogram);
  enter_frame(entry_[pc_ + 1]);
  jmp(field(offsetof(State, jump_to)));
  L(next);
}

void Compiler::lower_exit() {
  cmp(field(offsetof(State, depth)), 0);
  jne(return_);
  jmp(done_);
}

}  // namespace bpfkit::jit
