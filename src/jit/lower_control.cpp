// Control flow: jumps to block entries (which meter), may_goto's hidden
// counter, helper calls and tail calls through the runtime, bpf-to-bpf calls
// with frames kept in the State (r6..r10 saved, r10 moved one frame down),
// callx, exit.
#include <algorithm>
#include <cstddef>
#include <optional>

#include "compiler.hpp"

namespace bpfkit::jit {

using namespace Xbyak::util;
using isa::Condition;
using isa::Source;

namespace {

// x86 conditions, and the one that holds exactly when each does not.
enum class Cc : uint8_t { E, NE, A, AE, B, BE, G, GE, L, LE, S, NS };

Cc negated(Cc cc) {
  switch (cc) {
    case Cc::E: return Cc::NE;
    case Cc::NE: return Cc::E;
    case Cc::A: return Cc::BE;
    case Cc::BE: return Cc::A;
    case Cc::AE: return Cc::B;
    case Cc::B: return Cc::AE;
    case Cc::G: return Cc::LE;
    case Cc::LE: return Cc::G;
    case Cc::GE: return Cc::L;
    case Cc::L: return Cc::GE;
    case Cc::S: return Cc::NS;
    case Cc::NS: return Cc::S;
  }
  return cc;
}

// After `cmp dst, src` (or `test` for Set).
Cc after_compare(Condition condition) {
  switch (condition) {
    case Condition::Eq: return Cc::E;
    case Condition::Ne:
    case Condition::Set: return Cc::NE;
    case Condition::Gt: return Cc::A;
    case Condition::Ge: return Cc::AE;
    case Condition::Lt: return Cc::B;
    case Condition::Le: return Cc::BE;
    case Condition::SGt: return Cc::G;
    case Condition::SGe: return Cc::GE;
    case Condition::SLt: return Cc::L;
    default: return Cc::LE;  // SLe
  }
}

}  // namespace

void Compiler::jump_if(uint8_t cc, Label& target) {
  switch (static_cast<Cc>(cc)) {
    case Cc::E: je(target); break;
    case Cc::NE: jne(target); break;
    case Cc::A: ja(target); break;
    case Cc::AE: jae(target); break;
    case Cc::B: jb(target); break;
    case Cc::BE: jbe(target); break;
    case Cc::G: jg(target); break;
    case Cc::GE: jge(target); break;
    case Cc::L: jl(target); break;
    case Cc::LE: jle(target); break;
    case Cc::S: js(target); break;
    case Cc::NS: jns(target); break;
  }
}

void Compiler::lower_jump(const isa::Semantics& sem, const isa::Slot& slot) {
  Label& target = target_label(*isa::branch_target(*program_.ops[pc_], slot, static_cast<int64_t>(pc_)));
  if (sem.condition == Condition::Always) {
    keep_off_boundary([&] { jmp(target); });
    return;
  }
  // `if cond goto +1; goto L` (find_blocks put the goto in this block and
  // counted it): the goto runs when cond fails, so jump to L on the
  // negated condition; when cond holds the goto did not run: give its
  // count back and go on at pc + 2, the next block.
  const uint32_t goto_pc = pc_ + 1;
  const bool joined_goto = absorbs_goto_[pc_] && goto_pc < fold_limit_;
  keep_off_boundary([&] {
    const auto cc = static_cast<Cc>(compare(sem, slot));
    if (joined_goto) {
      const isa::Slot& goto_slot = program_.slots[goto_pc];
      jump_if(static_cast<uint8_t>(negated(cc)),
              target_label(*isa::branch_target(*program_.ops[goto_pc], goto_slot, static_cast<int64_t>(goto_pc))));
    } else {
      jump_if(static_cast<uint8_t>(cc), target);
    }
  });
  if (joined_goto) {
    add(kMeter, 1);
    folded_next_ = true;  // the block of pc + 2 follows in the code (find_blocks checked)
  }
}

// The compare (or test) a conditional jump makes, and the x86 condition
// that then holds when the jump's does.
uint8_t Compiler::compare(const isa::Semantics& sem, const isa::Slot& slot) {
  if (auto from_flags = zero_compare_from_flags(sem, slot)) return *from_flags;
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
  return static_cast<uint8_t>(after_compare(sem.condition));
}

// A compare of the register the previous ALU operation wrote with 0: its
// flags already tell zero (ZF) and, at the same width, the sign (SF; after
// `cmp x, 0` jl is js, as OF is clear). A 32-bit result compared at 64 bits
// was zero-extended (only ZF holds) or sign-extended (both hold).
std::optional<uint8_t> Compiler::zero_compare_from_flags(const isa::Semantics& sem, const isa::Slot& slot) const {
  if (sem.source != Source::Imm || slot.imm != 0 || flags_in_.reg != slot.dst()) return std::nullopt;
  const bool same_width = flags_in_.width == sem.width;
  const bool zero = same_width || (flags_in_.width == 32 && sem.width == 64);
  const bool sign = same_width || (flags_in_.sign_extended && sem.width == 64);
  switch (sem.condition) {
    case Condition::Eq:
    case Condition::Le:  // unsigned x <= 0
      if (zero) return static_cast<uint8_t>(Cc::E);
      break;
    case Condition::Ne:
    case Condition::Gt:  // unsigned x > 0
      if (zero) return static_cast<uint8_t>(Cc::NE);
      break;
    case Condition::SLt:
      if (sign) return static_cast<uint8_t>(Cc::S);
      break;
    case Condition::SGe:
      if (sign) return static_cast<uint8_t>(Cc::NS);
      break;
    default: break;
  }
  return std::nullopt;
}

// The kernel's hidden loop counter (BPF_MAX_LOOPS): jump once it is used up.
void Compiler::lower_may_goto(const isa::Slot& slot) {
  Label& target = target_label(*isa::branch_target(*program_.ops[pc_], slot, static_cast<int64_t>(pc_)));
  cmp(field(offsetof(State, may_goto_left)), 0);
  je(target);
  dec(field(offsetof(State, may_goto_left)));
}

void Compiler::lower_call(const isa::Slot& slot) {
  const uint32_t pc = pc_;
  if (slot.imm == static_cast<int32_t>(vm::kTailCallHelper)) {
    runtime_call(reinterpret_cast<const void*>(&bpfkit_jit_tail_call), [&] { mov(esi, pc); });
    Label& next = new_label();
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
void Compiler::enter_frame(Label& return_to, bool move_fp) {
  const uint32_t max_depth = std::min(isa::frame_model(dialect_).max_depth, kMaxFrames);
  mov(rax, field(offsetof(State, depth)));
  cmp(rax, max_depth - 1);  // depth + 1 >= max_depth
  jae(fault(Stop::CallDepth));
  mov(rcx, rax);
  shl(rcx, 6);
  lea_label(rdx, return_to);
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
  Label& next = new_label();
  Label& subprogram = new_label();
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
