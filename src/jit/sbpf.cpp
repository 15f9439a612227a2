// What the sBPF dialects need beyond the Linux lowering, as the sBPF
// interpreter (src/vm/sbpf_interpreter.cpp) does it: calls resolved once
// against the syscalls and the function keys, division that traps, PQR's
// high multiplies, hor, callx through a table of block entries, exits that
// may return past the text; the syscall runtime and the errors, worded as
// the interpreter words them.
#include <algorithm>
#include <cstddef>

#include "compiler.hpp"

namespace bpfkit::jit {

using namespace Xbyak::util;
using isa::Op;
using isa::Operation;
using isa::Source;

namespace {

Error vm_error(Errc code, SbpfVmErrc detail, std::string message, uint32_t pc) {
  return make_error(code, detail, std::move(message), at_pc(pc));
}

// rodata's region: 1 << 32, or 0 where the version lowers it (v3).
Expected<void> check_layout(const isa::Program& program) {
  if (!program.rodata.empty() && program.rodata_vaddr != isa::rodata_address(*program.dialect))
    return vm_error(Errc::Unsupported, SbpfVmErrc::InvalidVirtualAddress, "rodata must start at its region's base", 0);
  if (program.rodata.size() > 0xffffffffu)
    return vm_error(Errc::Unsupported, SbpfVmErrc::InvalidVirtualAddress, "rodata larger than a region", 0);
  return {};
}

uint32_t max_frames(const isa::Dialect& dialect) { return std::min(isa::frame_model(dialect).max_depth, kMaxFrames); }

}  // namespace

Expected<isa::Program> prepare_sbpf(const isa::Program& program) {
  if (auto layout = check_layout(program); !layout) return layout.error();
  // The production verifier, whoever built the program (as the interpreter).
  auto verified = isa::decode(std::span<const isa::Slot>(program.slots), *program.dialect);
  if (!verified) return verified.error();
  if (program.entry >= verified->size())
    return vm_error(Errc::OutOfRange, SbpfVmErrc::InvalidEntrypoint, "entry pc outside the text", program.entry);
  verified->entry = program.entry;
  verified->function_keys = program.function_keys;
  verified->text_vaddr = program.text_vaddr;
  verified->rodata = program.rodata;
  verified->rodata_vaddr = program.rodata_vaddr;
  return verified;
}

Error sbpf_stop_error(const State& state, const RunFrame& frame, const isa::Dialect& dialect) {
  const uint32_t pc = state.fault_pc;
  switch (state.stop) {
    case Stop::Budget:
      return vm_error(Errc::BudgetExceeded, SbpfVmErrc::ExceededMaxInstructions,
                      "exceeded CUs meter at BPF instruction", pc);
    case Stop::Access: {
      Error error = vm::sbpf::access_violation(dialect, state.fault_addr, state.fault_size, state.fault_write != 0);
      error.location = at_pc(pc);
      return error;
    }
    case Stop::DivideByZero:
      return vm_error(Errc::DivideByZero, SbpfVmErrc::DivideByZero, "divide by zero at BPF instruction", pc);
    case Stop::DivideOverflow:
      return vm_error(Errc::DivideByZero, SbpfVmErrc::DivideOverflow, "division overflow at BPF instruction", pc);
    case Stop::FellOffEnd:
      return vm_error(Errc::OutOfRange, SbpfVmErrc::ExecutionOverrun,
                      "attempted to execute past the end of the text segment", pc);
    case Stop::SecondSlot:
      return vm_error(Errc::Unsupported, SbpfVmErrc::UnsupportedInstruction,
                      "execution reached the second slot of an lddw", pc);
    case Stop::CallDepth:
      return vm_error(Errc::CallDepthExceeded, SbpfVmErrc::CallDepthExceeded,
                      "exceeded max BPF to BPF call depth of " + std::to_string(max_frames(dialect)), pc);
    case Stop::CallOutsideText:
      return vm_error(Errc::BadCallTarget, SbpfVmErrc::CallOutsideTextSegment,
                      "callx attempted to call outside of the text segment", pc);
    case Stop::ReturnPastEnd:
      return vm_error(Errc::BadCallTarget, SbpfVmErrc::CallOutsideTextSegment,
                      "return address is past the end of the text segment", pc);
    case Stop::UnknownCall:
      return vm_error(
          Errc::Unsupported, SbpfVmErrc::UnsupportedInstruction,
          "call of unknown key " + hex_string(static_cast<uint32_t>(state.fault_addr)) + " (no syscall or function)",
          pc);
    default: break;
  }
  return frame.error ? *frame.error : make_error(Errc::Unsupported, "JIT stopped without an error", at_pc(pc));
}

extern "C" uint64_t bpfkit_jit_sbpf_syscall(State* state, uint64_t index, uint64_t pc) {
  vm::Context& context = *state->run->context;
  const vm::Helper& syscall = static_cast<const Jit::Code*>(state->code)->syscalls[index];
  const uint64_t* reg = state->regs;
  // The meter as the interpreter's syscalls see it: remaining, not + 1.
  // A syscall ends its block, so State::left is the interpreter's exactly.
  uint64_t meter = state->left - 1;
  vm::HelperCall call{context, context.memory(), {reg[1], reg[2], reg[3], reg[4], reg[5]}, &meter};
  Expected<uint64_t> value = syscall.fn(call);
  state->syscall_units += state->left - (meter + 1);
  state->left = meter + 1;
  refresh_regions(state, context.memory().bounds());
  if (!value) {
    Error error = value.error();
    if (error.domain == Domain::Generic) error.set_detail(SbpfVmErrc::SyscallError);
    error.message = syscall.name + ": " + error.message;
    error.location = at_pc(static_cast<uint32_t>(pc));
    state->run->error = std::move(error);
    return 1;
  }
  state->regs[0] = *value;
  return 0;
}

// v0..v2 look `call imm` up among the syscalls first, then (SyscallOrFunction)
// among the function keys; v3's src 0 is a syscall only, src 1 pc-relative.
void Compiler::resolve_sbpf_calls() {
  sbpf_calls_.assign(program_.size(), {});
  const int64_t size = static_cast<int64_t>(program_.size());
  for (size_t pc = 0; pc < program_.size(); ++pc) {
    if (!program_.ops[pc]) continue;
    const Op op = *program_.ops[pc];
    const isa::Slot& slot = program_.slots[pc];
    const isa::Semantics& sem = sem_at(pc);
    SbpfCall& call = sbpf_calls_[pc];
    if (sem.call == isa::CallResolution::Local) {
      const int64_t target = *isa::branch_target(op, slot, static_cast<int64_t>(pc));
      call = {SbpfCall::Kind::Function, target >= 0 && target < size ? target : -1};
      continue;
    }
    if (sem.call != isa::CallResolution::Syscall && sem.call != isa::CallResolution::SyscallOrFunction) continue;
    const auto key = static_cast<uint32_t>(slot.imm);
    if (const vm::Helper* syscall = inputs_.syscalls ? inputs_.syscalls->find(key) : nullptr) {
      auto it = std::find_if(syscalls_.begin(), syscalls_.end(),
                             [&](const vm::Helper& known) { return known.name == syscall->name; });
      if (it == syscalls_.end()) it = syscalls_.insert(it, *syscall);
      call = {SbpfCall::Kind::Syscall, it - syscalls_.begin()};
      continue;
    }
    auto fn = program_.function_keys.find(key);
    if (sem.call != isa::CallResolution::SyscallOrFunction || fn == program_.function_keys.end()) {
      call = {SbpfCall::Kind::Unknown, key};
      continue;
    }
    call = {SbpfCall::Kind::Function, fn->second < program_.size() ? static_cast<int64_t>(fn->second) : -1};
  }
  // A call in the last slot returns past the text: the exits then record
  // their pc for that fault.
  for (size_t pc = program_.size(); pc-- > 0;) {
    if (!program_.ops[pc]) continue;
    const Operation operation = sem_at(pc).operation;
    exit_saves_pc_ = operation == Operation::Call || operation == Operation::CallLocal || operation == Operation::Callx;
    break;
  }
}

// Division and remainder trap on a zero divisor; signed forms also on
// MIN / -1 (DivideOverflow). Both checks come before dst changes.
void Compiler::lower_sbpf_division(const isa::Semantics& sem, const isa::Slot& slot) {
  const bool wide = sem.width == 64;
  const bool is_signed = sem.operation == Operation::SDiv || sem.operation == Operation::SMod;
  const bool quotient = sem.operation == Operation::Div || sem.operation == Operation::SDiv;
  const Xbyak::Reg64& dst64 = kBpfRegisters[slot.dst()];
  const Xbyak::Reg dst = wide ? Xbyak::Reg(dst64) : Xbyak::Reg(dst64.cvt32());
  const Xbyak::Reg acc = wide ? Xbyak::Reg(rax) : Xbyak::Reg(eax);
  const Xbyak::Reg rem = wide ? Xbyak::Reg(rdx) : Xbyak::Reg(edx);
  Xbyak::Reg divisor;
  if (sem.source == Source::Imm) {
    const uint64_t value = isa::immediate_operand(sem, slot.imm);
    if ((wide ? value : static_cast<uint32_t>(value)) == 0) {
      jmp(fault(Stop::DivideByZero));
      return;
    }
    load_immediate64(rcx, value);
    divisor = wide ? Xbyak::Reg(rcx) : Xbyak::Reg(ecx);
  } else {
    const Xbyak::Reg64& src64 = kBpfRegisters[slot.src()];
    divisor = wide ? Xbyak::Reg(src64) : Xbyak::Reg(src64.cvt32());
    test(divisor, divisor);
    jz(fault(Stop::DivideByZero));
  }
  if (is_signed) {
    Label& fine = new_label();
    cmp(divisor, -1);
    jne(fine);
    if (wide) {
      mov(rax, static_cast<uint64_t>(INT64_MIN));
      cmp(dst64, rax);
    } else {
      cmp(dst, INT32_MIN);
    }
    je(fault(Stop::DivideOverflow));
    L(fine);
  }
  mov(acc, dst);
  if (is_signed) {
    wide ? cqo() : cdq();
    idiv(divisor);
  } else {
    xor_(edx, edx);
    div(divisor);
  }
  mov(dst, quotient ? acc : rem);
}

// The high 64 bits of the 128-bit product: x86's one-operand mul / imul.
void Compiler::lower_high_multiply(const isa::Semantics& sem, const isa::Slot& slot) {
  const Xbyak::Reg64& dst = kBpfRegisters[slot.dst()];
  Xbyak::Reg64 factor = kBpfRegisters[slot.src()];
  if (sem.source == Source::Imm) {
    load_immediate64(rcx, isa::immediate_operand(sem, slot.imm));
    factor = rcx;
  }
  mov(rax, dst);
  sem.operation == Operation::UHMul ? mul(factor) : imul(factor);
  mov(dst, rdx);
}

void Compiler::lower_hor(const isa::Slot& slot) {
  load_immediate64(rax, static_cast<uint64_t>(static_cast<uint32_t>(slot.imm)) << 32);
  or_(kBpfRegisters[slot.dst()], rax);
}

Compiler::Label& Compiler::return_label() { return pc_ + 1 < program_.size() ? entry_[pc_ + 1] : return_past_end_; }

// A call ends its block: a syscall's charge then lands on an exact meter.
void Compiler::lower_sbpf_call() {
  const SbpfCall call = sbpf_calls_[pc_];
  switch (call.kind) {
    case SbpfCall::Kind::Syscall:
      runtime_call(reinterpret_cast<const void*>(&bpfkit_jit_sbpf_syscall), [&] {
        mov(esi, static_cast<uint32_t>(call.value));
        mov(edx, pc_);
      });
      test(rax, rax);
      jnz(fault(Stop::Preset));
      return;
    case SbpfCall::Kind::Function:
      // The frame is pushed (and the depth checked) before the target is.
      enter_frame(return_label(), false);
      if (call.value < 0) {
        jmp(fault(Stop::CallOutsideText));
        return;
      }
      move_frame_pointer();
      jmp(target_label(call.value));
      return;
    case SbpfCall::Kind::Unknown:
    case SbpfCall::Kind::None:
      jmp(fault(Stop::UnknownCall, [this, key = static_cast<uint32_t>(call.value)] {
        mov(eax, key);  // a qword store's immediate would be sign-extended
        mov(field(offsetof(State, fault_addr)), rax);
      }));
      return;
  }
}

// callx: slot (target - text_vaddr) / 8, wrapping and floored as Agave;
// the frame first, then the target's range, then a jump through the table.
void Compiler::lower_sbpf_callx(const isa::Slot& slot) {
  const Xbyak::Reg64& target = kBpfRegisters[isa::callx_register(slot, dialect_)];
  enter_frame(return_label(), false);
  mov(rax, target);
  mov(rcx, program_.text_vaddr);
  sub(rax, rcx);
  shr(rax, 3);
  mov(rcx, static_cast<uint64_t>(program_.size()));
  cmp(rax, rcx);
  jae(fault(Stop::CallOutsideText));
  move_frame_pointer();
  mov(rcx, reinterpret_cast<uint64_t>(callx_targets_.data()));
  jmp(qword[rcx + rax * 8]);
}

void Compiler::lower_sbpf_exit() {
  cmp(field(offsetof(State, depth)), 0);
  if (!exit_saves_pc_) {
    jne(return_);
    jmp(done_);
    return;
  }
  Label& returning = new_label();
  jne(returning);
  jmp(done_);
  cold_.push_back([this, &returning, pc = pc_] {
    L(returning);
    mov(dword[rsp + static_cast<int>(offsetof(State, fault_pc))], pc);
    jmp(return_);
  });
}

// The return of a call in the last slot: a fault at the exit (its pc is in
// the State), counted with it.
void Compiler::emit_sbpf_stubs() {
  L(return_past_end_);
  mov(dword[rsp + static_cast<int>(offsetof(State, stop))], static_cast<uint32_t>(Stop::ReturnPastEnd));
  jmp(exit_);
}

}  // namespace bpfkit::jit
