// The translation driver: checks, basic blocks, prologue and exits, metering,
// cold code, and the dispatch of each instruction to its lowering by
// isa::Operation (the opcode table's semantics, never raw opcodes).
#include "compiler.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <span>
#include <utility>

namespace bpfkit::jit {

using namespace Xbyak::util;
using isa::Op;
using isa::Operation;

namespace {

// Whether control can continue at pc + width after the instruction (for a
// call: whether the caller's code goes on without a return).
bool falls_through(Operation operation) {
  return operation != Operation::Jump && operation != Operation::Exit && operation != Operation::CallLocal;
}

// Instructions after which a new block starts (in sBPF every call: a
// syscall may charge the meter).
bool ends_block(Operation operation, const isa::Slot& slot, bool sbpf) {
  switch (operation) {
    case Operation::Jump:
    case Operation::JumpIf:
    case Operation::MayGoto:
    case Operation::CallLocal:
    case Operation::Callx:
    case Operation::Exit: return true;
    case Operation::Call: return sbpf || slot.imm == static_cast<int32_t>(vm::kTailCallHelper);
    default: return false;
  }
}

}  // namespace

Compiler::Compiler(const isa::Program& program, const CompileInputs& inputs)
    // About 100 bytes of hot and cold code a slot: one allocation, few
    // regrowths (a regrowth cost fnv1a's translation a third more). 2 KiB
    // more for a short program's loops: their entry checks and second copies.
    : Xbyak::CodeGenerator(std::max<size_t>(4096, program.size() * 128) + 2048, Xbyak::AutoGrow),
      program_(program),
      inputs_(inputs),
      dialect_(*program.dialect),
      entry_(program.size() + 1),
      hot_range_(program.size(), {0, 0}) {
  setDefaultJmpNEAR(true);
  sbpf_ = dialect_.family == isa::Family::Sbpf;
  if (sbpf_) callx_targets_.assign(program.size(), nullptr);
  unchecked_at_.assign(program.size(), false);
  grouped_.assign(program.size(), false);
  checked_copy_at_.assign(program.size(), nullptr);
  loop_proven_at_.assign(program.size(), false);
  unmetered_at_.assign(program.size(), false);
  find_facts();
  static const bool bmi2 = Xbyak::util::Cpu().has(Xbyak::util::Cpu::tBMI2);  // cpuid traps in VMs: ask once
  bmi2_ = bmi2;
  blinding_state_ = inputs.harden_seed;
}

// What each slot means and writes (facts_).
void Compiler::find_facts() {
  // Programs repeat few rows: each distinct one is looked up once.
  std::array<std::optional<isa::Semantics>, isa::kOpCount> row_semantics;
  facts_.resize(program_.size());
  for (size_t pc = 0; pc < program_.size(); ++pc) {
    if (!program_.ops[pc]) continue;
    const Op op = *program_.ops[pc];
    std::optional<isa::Semantics>& sem = row_semantics[static_cast<size_t>(op)];
    if (!sem) sem = isa::semantics(op, dialect_);
    facts_[pc] = {*sem, isa::regs_written(op, program_.slots[pc], dialect_)};
  }
}

Xbyak::Address Compiler::field(size_t offset) const { return qword[rsp + static_cast<int>(offset)]; }

Xbyak::Address Compiler::reg_in_state(int bpf) const {
  return field(offsetof(State, regs) + static_cast<size_t>(bpf) * 8);
}

Compiler::Label& Compiler::new_label() { return labels_.emplace_back(); }

// The checks Interpreter::create makes, with its errors, plus what only the
// JIT needs (registers in range: the interpreter indexes an array with them).
Expected<void> Compiler::check_program() {
  for (size_t pc = 0; pc < program_.size(); ++pc) {
    if (!program_.ops[pc]) continue;
    const Op op = *program_.ops[pc];
    const isa::Slot& slot = program_.slots[pc];
    const auto at = at_pc(static_cast<uint32_t>(pc));
    if (slot.dst() >= isa::kRegisterCount || slot.src() >= isa::kRegisterCount)
      return make_error(Errc::BadRegister, "register out of range", at);
    const isa::Semantics& sem = sem_at(pc);
    if (op == Op::lddw_func || (sem.call == isa::CallResolution::Local && !sbpf_)) {
      const Op shaped_as = op == Op::lddw_func ? Op::call_local : op;
      const int64_t target = *isa::branch_target(shaped_as, slot, static_cast<int64_t>(pc));
      if (target < 0 || target >= static_cast<int64_t>(program_.size()) || !program_.ops[target])
        return make_error(Errc::OutOfRange,
                          op == Op::lddw_func ? "lddw function address points outside the program"
                                              : "call target " + std::to_string(target) + " is outside the program",
                          at);
    } else if (op == Op::lddw_map_idx || op == Op::lddw_map_idx_value) {
      const auto index = static_cast<uint32_t>(slot.imm);
      if (inputs_.map_addresses.empty()) return make_error(Errc::Unsupported, program_.unresolved_lddw(pc), at);
      if (index >= inputs_.map_addresses.size())
        return make_error(
            Errc::OutOfRange,
            "lddw names map " + std::to_string(index) + " of " + std::to_string(inputs_.map_addresses.size()), at);
    } else if (isa::is_lddw(op) && op != Op::lddw) {
      return make_error(Errc::Unsupported, program_.unresolved_lddw(pc), at);
    }
    if (sem.operation == Operation::Jump || sem.operation == Operation::JumpIf || sem.operation == Operation::MayGoto) {
      const int64_t target = *isa::branch_target(op, slot, static_cast<int64_t>(pc));
      if (target < 0 || target > static_cast<int64_t>(program_.size()))
        return make_error(Errc::OutOfRange, "jump target " + std::to_string(target) + " is outside the program", at);
    }
    if (sem.operation == Operation::Callx) has_callx_ = true;
    if (written_at(pc).contains(isa::kFramePointer)) r10_written_ = true;
    if (sem.operation == Operation::None) return make_error(Errc::Unsupported, "instruction not in the dialect", at);
  }
  return {};
}

// Leaders: pc 0, jump and call targets, what follows a block end, function
// starts, and with callx anywhere every instruction (any may be its target).
void Compiler::find_blocks() {
  const size_t size = program_.size();
  leader_.assign(size + 1, false);
  loop_header_.assign(size + 1, false);
  leader_[0] = true;
  leader_[size] = true;
  jumped_from_lo_.assign(size + 1, UINT32_MAX);
  jumped_from_hi_.assign(size + 1, 0);
  jumped_back_from_.assign(size + 1, 0);
  entered_otherwise_.assign(size + 1, false);
  entered_otherwise_[0] = true;
  std::vector<bool> follows_end(size + 1, false);  // what follows a block end (leaders, but see absorbs_goto_)
  if (sbpf_) leader_[program_.entry] = entered_otherwise_[program_.entry] = true;
  for (const auto& function : program_.functions)
    if (function.start < size) leader_[function.start] = entered_otherwise_[function.start] = true;
  for (size_t pc = 0; pc < size; ++pc) {
    // Linux's callx (through the runtime) lands on block entries only; sBPF's
    // (through a table) also enters blocks in the middle (mid_entry_) and
    // may land on a second slot, which faults.
    if (has_callx_ && (!sbpf_ || !program_.ops[pc])) leader_[pc] = true;
    if (!program_.ops[pc]) continue;
    const Op op = *program_.ops[pc];
    const isa::Slot& slot = program_.slots[pc];
    const isa::Semantics& sem = sem_at(pc);
    const size_t next = pc + program_.width_at(pc);
    if (ends_block(sem.operation, slot, sbpf_)) follows_end[next] = true;
    if (sbpf_ && sbpf_calls_[pc].kind == SbpfCall::Kind::Function) {
      if (sbpf_calls_[pc].value >= 0) leader_[static_cast<size_t>(sbpf_calls_[pc].value)] = true;
      continue;
    }
    if (sem.operation == Operation::Jump || sem.operation == Operation::JumpIf || sem.operation == Operation::MayGoto ||
        sem.operation == Operation::CallLocal || op == Op::lddw_func) {
      const Op shaped_as = op == Op::lddw_func ? Op::call_local : op;
      const auto target = static_cast<size_t>(*isa::branch_target(shaped_as, slot, static_cast<int64_t>(pc)));
      leader_[target] = true;
      if (target <= pc) loop_header_[target] = true;
      note_entry(target, pc, sem.operation == Operation::CallLocal || op == Op::lddw_func);
    }
  }
  // `if cond goto +1; goto L` (clang's loop shape): when nothing else
  // enters the goto, it joins the conditional jump's block (Linux only:
  // sBPF's callx may enter anywhere).
  absorbs_goto_.assign(size, false);
  for (size_t pc = 0; pc + 1 < size; ++pc) {
    if (sbpf_ || leader_[pc + 1] || !program_.ops[pc] || !program_.ops[pc + 1]) continue;
    const Op op = *program_.ops[pc];
    absorbs_goto_[pc] =
        sem_at(pc).operation == Operation::JumpIf && sem_at(pc + 1).operation == Operation::Jump &&
        *isa::branch_target(op, program_.slots[pc], static_cast<int64_t>(pc)) == static_cast<int64_t>(pc + 2);
  }
  for (size_t pc = 1; pc <= size; ++pc)
    if (follows_end[pc] && !absorbs_goto_[pc - 1]) leader_[pc] = true;
  for (size_t pc = 0; pc < size;) {
    if (!program_.ops[pc]) {  // a second slot: its own block, if a jump lands there
      ++pc;
      continue;
    }
    Block block;
    block.start = static_cast<uint32_t>(pc);
    do {
      pc += program_.width_at(pc);
      ++block.count;
    } while (pc < size && !leader_[pc] && program_.ops[pc]);
    block.end = static_cast<uint32_t>(pc);
    blocks_.push_back(block);
  }
  block_of_.assign(size + 1, UINT32_MAX);
  for (size_t i = 0; i < blocks_.size(); ++i) block_of_[blocks_[i].start] = static_cast<uint32_t>(i);
}

// A jump (or, `call`, a call) from pc to target, for loop regions.
void Compiler::note_entry(size_t target, size_t pc, bool call) {
  const auto from = static_cast<uint32_t>(pc);
  if (call) entered_otherwise_[target] = true;
  jumped_from_lo_[target] = std::min(jumped_from_lo_[target], from);
  jumped_from_hi_[target] = std::max(jumped_from_hi_[target], from);
  if (target <= pc) jumped_back_from_[target] = std::max(jumped_back_from_[target], from);
}

void Compiler::spill() {
  for (int r = 0; r < isa::kRegisterCount; ++r) mov(reg_in_state(r), kBpfRegisters[r]);
  mov(field(offsetof(State, left)), kMeter);
}

void Compiler::reload() {
  for (int r = 0; r < isa::kRegisterCount; ++r) mov(kBpfRegisters[r], reg_in_state(r));
  mov(kMeter, field(offsetof(State, left)));
}

void Compiler::runtime_call(const void* fn, const std::function<void()>& args) {
  spill();
  args();
  mov(rdi, rsp);
  mov(rax, reinterpret_cast<uint64_t>(fn));
  call(rax);
  reload();
}

namespace {

// The State's shared part from [from] to [to], 16 bytes a move through
// xmm0..xmm7 (the caller's to lose under the SysV ABI): a short run's entry
// and exit cost less than with rep movsq, whose start-up dominates 400 bytes.
void emit_shared_copy(Xbyak::CodeGenerator& code, const Xbyak::Reg64& to, const Xbyak::Reg64& from) {
  constexpr int kBytes = static_cast<int>(kSharedQwords * 8);
  constexpr int kBatch = 8;  // loads before their stores
  int offset = 0;
  while (offset + 16 <= kBytes) {
    int loaded = 0;
    for (; loaded < kBatch && offset + 16 * (loaded + 1) <= kBytes; ++loaded)
      code.movdqu(Xbyak::Xmm(loaded), code.ptr[from + offset + 16 * loaded]);
    for (int i = 0; i < loaded; ++i) code.movdqu(code.ptr[to + offset + 16 * i], Xbyak::Xmm(i));
    offset += 16 * loaded;
  }
  if (offset < kBytes) {  // an odd qword
    code.mov(rax, code.qword[from + offset]);
    code.mov(code.qword[to + offset], rax);
  }
}

// emit_shared_copy's bytes, encoded once: its 170 movdqu cost a small
// program's translation more than all its own instructions did. They
// address by register and displacement only, so they hold anywhere.
std::vector<uint8_t> encoded_shared_copy(const Xbyak::Reg64& to, const Xbyak::Reg64& from) {
  Xbyak::CodeGenerator code(4096, Xbyak::AutoGrow);
  emit_shared_copy(code, to, from);
  return {code.getCode(), code.getCode() + code.getSize()};
}

}  // namespace

void Compiler::copy_shared(const Xbyak::Reg64& to, const Xbyak::Reg64& from) {
  static const std::vector<uint8_t> kIn = encoded_shared_copy(rsp, rdi);
  static const std::vector<uint8_t> kOut = encoded_shared_copy(rdi, rsp);
  const std::vector<uint8_t>* encoded = to == rsp && from == rdi ? &kIn : to == rdi && from == rsp ? &kOut : nullptr;
  if (encoded && !encoded->empty())
    emit_bytes(*encoded);
  else  // other registers, or the one-time encoding found no memory
    emit_shared_copy(*this, to, from);
}

// Appends encoded code (AutoGrow: the buffer grows first).
void Compiler::emit_bytes(std::span<const uint8_t> bytes) {
  while (size_ + bytes.size() > maxSize_) growMemory();
  std::memcpy(top_ + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
}

// Called with rdi = the caller's State: callee-saved registers pushed, the
// State copied to the stack (rsp points at it from here on), registers
// loaded, then pc 0's block (which follows).
void Compiler::emit_prologue() {
  push(rbx);
  push(rbp);
  push(r12);
  push(r13);
  push(r14);
  push(r15);
  sub(rsp, static_cast<uint32_t>(kStateBytes));
  copy_shared(rsp, rdi);
  reload();
  if (sbpf_ && program_.entry != 0) jmp(entry_[program_.entry]);
}

void Compiler::emit_shared_exits() {
  // The budget ran out in a metered copy, at the pc in eax (no correction:
  // the copy counts each instruction as it starts it).
  L(budget_out_);
  mov(dword[rsp + static_cast<int>(offsetof(State, stop))], static_cast<uint32_t>(Stop::Budget));
  mov(dword[rsp + static_cast<int>(offsetof(State, fault_pc))], eax);
  jmp(exit_);
  L(done_);
  mov(dword[rsp + static_cast<int>(offsetof(State, stop))], static_cast<uint32_t>(Stop::Done));
  L(exit_);
  spill();
  mov(rdi, field(offsetof(State, caller_copy)));
  copy_shared(rdi, rsp);
  add(rsp, static_cast<uint32_t>(kStateBytes));
  pop(r15);
  pop(r14);
  pop(r13);
  pop(r12);
  pop(rbp);
  pop(rbx);
  ret();
  // An exit inside a bpf-to-bpf call: pop the frame and return.
  L(return_);
  mov(rax, field(offsetof(State, depth)));
  dec(rax);
  mov(field(offsetof(State, depth)), rax);
  shl(rax, 6);
  for (int i = 0; i < 5; ++i)
    mov(kBpfRegisters[6 + i], qword[rsp + rax + static_cast<int>(offsetof(State, frames) + 8 + 8 * i)]);
  jmp(qword[rsp + rax + static_cast<int>(offsetof(State, frames))]);
}

Compiler::Label& Compiler::fault(Stop stop, std::function<void()> extra) {
  Label& stub = new_label();
  const uint32_t pc = pc_, correction = correction_;
  cold_.push_back([this, &stub, stop, pc, correction, extra = std::move(extra)] {
    L(stub);
    if (extra) extra();
    mov(dword[rsp + static_cast<int>(offsetof(State, stop))], static_cast<uint32_t>(stop));
    mov(dword[rsp + static_cast<int>(offsetof(State, fault_pc))], pc);
    if (correction != 0) add(kMeter, correction);
    jmp(exit_);
  });
  return stub;
}

void Compiler::done_here() {
  if (correction_ != 0) add(kMeter, correction_);
  jmp(done_);
}

void Compiler::emit_block(const Block& block) {
  const size_t begin = getSize();
  Label& short_of_budget = new_label();
  const std::optional<LoopPlan> loop = loop_header_[block.start] ? plan_loop(block) : std::nullopt;
  if (loop) {
    // The loop's entry from outside (not its back edge): the check, then
    // the copy without the checks it proved, or the ordinary copy.
    L(entry_[block.start]);
    Label& checked = new_label();
    emit_loop_entry_check(*loop, block.count, checked);
    for (const LoopRange& range : loop->ranges)
      for (const uint32_t pc : range.pcs) loop_proven_at_[pc] = true;
    if (loop->unmetered)
      for (uint32_t pc = block.start; pc < block.end; ++pc) unmetered_at_[pc] = true;
    emit_unchecked_loop_start(*loop);
    Label* unchecked = &new_label();
    emit_loop_copy(
        [&] {
          L(*unchecked);
          loop_labels_ = {{block.start, unchecked}};
          unchecked_loop_copy_ = true;
          emit_block_copy(block, short_of_budget, begin, true, !loop->unmetered);
          unchecked_loop_copy_ = false;
          loop_labels_.clear();
        },
        {&unchecked, 1});
    delta_in_rax_ = false;
    cold_.push_back([this, &checked, &short_of_budget, block] {
      align(16);
      L(checked);
      loop_labels_ = {{block.start, &checked}};
      emit_block_copy(block, short_of_budget, getSize(), false);
      loop_labels_.clear();
      jmp(entry_[block.end]);
    });
  } else {
    // A loop's first instruction on a 16-byte boundary, as compilers align
    // loops: a short loop then sits in fewer fetch blocks. The nops (run once
    // on entering the loop) are listed with the header's code.
    if (loop_header_[block.start]) align(16);
    L(entry_[block.start]);
    emit_block_copy(block, short_of_budget, begin, true);
  }
  emit_short_of_budget(block, short_of_budget);
}

// A one-block loop's unchecked copy (`emit`, which binds `tops`, the labels
// its jumps go to) from a 16-byte boundary. When keep_off_boundary put nops
// inside it, which run on every iteration, it is emitted again 16 bytes
// further along the 32-byte window (nops before it run once), and the
// layout with fewer kept: csum's inner loop had one before its back edge.
// (Not for loops of several blocks: bubble's inner loop, moved so, ran
// 1.3 times slower with as many nops; other limits of the decoded-uop
// cache count there.)
void Compiler::emit_loop_copy(const std::function<void()>& emit, std::span<Label* const> tops) {
  const size_t start = getSize(), uses = label_uses_.size(), cold = cold_.size();
  const auto attempt = [&](bool shifted) {
    setSize(start);
    label_uses_.resize(uses);
    cold_.resize(cold);
    for (Label* top : tops) top->offset = -1;
    align(16);
    if (shifted) nop(16);
    const size_t pads = boundary_pads_;
    emit();
    return boundary_pads_ - pads;
  };
  const size_t plain = attempt(false);
  // sBPF's callx entries inside blocks are labels made before: bound once.
  if (plain != 0 && !entered_inside_ && attempt(true) > plain) attempt(false);
}

// The budget runs out inside the block: undo the subtraction and run the
// block counting one instruction at a time (a block of one fails at once).
void Compiler::emit_short_of_budget(const Block& block, Label& short_of_budget) {
  cold_.push_back([this, &short_of_budget, block] {
    L(short_of_budget);
    if (block.count == 1) {
      pc_ = block.start;
      correction_ = 0;
      jmp(fault(Stop::Budget));
      return;
    }
    add(kMeter, block.count);
    emit_metered_block(block);
  });
}

void Compiler::emit_block_copy(const Block& block, Label& short_of_budget, size_t begin, bool hot, bool metered) {
  if (metered) {
    keep_off_boundary([&] {
      sub(kMeter, block.count);
      jbe(short_of_budget);
    });
  }
  flags_ = {};
  // sBPF's callx may enter between any two instructions: no folding there.
  fold_start_ = block.start;
  fold_limit_ = entered_inside_ ? 0 : block.end;
  merge_checks_ = !sbpf_ && !unchecked_loop_copy_;
  if (merge_checks_) plan_check_groups(block);
  uint32_t index = 0;
  for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc), ++index) {
    pc_ = pc;
    correction_ = block.count - 1 - index;
    if (entered_inside_ && pc != block.start) {
      emit_mid_entry(pc, block.count - index);
      flags_ = {};
    }
    const size_t start = pc == block.start ? begin : getSize();
    emit_instruction(pc);
    if (hot) hot_range_[pc] = {start, getSize()};
    if (folded_next_) {  // the next instruction's work is in this one's code
      folded_next_ = false;
      pc += program_.width_at(pc);
      ++index;
      if (hot) hot_range_[pc] = {getSize(), getSize()};
    }
  }
  fold_limit_ = 0;
  merge_checks_ = false;
}

// sBPF's callx may enter a block at any instruction: there the code meters
// the rest of the block (`remaining` instructions), then continues in the
// hot copy, or in the metered copy when the budget ends within it. The
// hot copy's fault corrections already count from the faulting instruction
// to the block end, so they hold for either entry.
void Compiler::emit_mid_entry(uint32_t pc, uint32_t remaining) {
  L(inside_[pc]);
  cold_.push_back([this, pc, remaining] {
    Label& short_of_budget = new_label();
    L(mid_entry_[pc]);
    sub(kMeter, remaining);
    jbe(short_of_budget);
    jmp(inside_[pc]);
    L(short_of_budget);
    add(kMeter, remaining);
    jmp(metered_at_[pc]);
  });
}

void Compiler::emit_metered_block(const Block& block) {
  for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) {
    pc_ = pc;
    correction_ = 0;
    if (entered_inside_) L(metered_at_[pc]);
    if (checked_copy_at_[pc] != nullptr) L(*checked_copy_at_[pc]);  // a merged check failed there
    mov(eax, pc);  // for the shared budget stub (rax is scratch: no instruction reads it on entry)
    dec(kMeter);
    jz(budget_out_);
    flags_ = {};
    emit_instruction(pc);
  }
  // Fall-through: the hot copy falls into the next block; this one jumps.
  uint32_t last_pc = block.start;
  for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) last_pc = pc;
  if (falls_through(sem_at(last_pc).operation)) jmp(entry_[block.end]);
}

void Compiler::emit_instruction(uint32_t pc) {
  const Op op = *program_.ops[pc];
  const isa::Slot& slot = program_.slots[pc];
  const isa::Semantics& sem = sem_at(pc);
  flags_in_ = std::exchange(flags_, {});
  switch (sem.operation) {
    case Operation::Add:
    case Operation::Sub:
    case Operation::Mul:
    case Operation::Or:
    case Operation::And:
    case Operation::Xor:
    case Operation::Mov:
    case Operation::MovSx:
    case Operation::Neg: lower_alu(sem, slot); break;
    case Operation::Div:
    case Operation::SDiv:
    case Operation::Mod:
    case Operation::SMod:
      if (sem.division == isa::DivisionPolicy::Defined)
        lower_division(sem, slot);
      else
        lower_sbpf_division(sem, slot);
      break;
    case Operation::Lsh:
    case Operation::Rsh:
    case Operation::Arsh: lower_shift(sem, slot); break;
    case Operation::ToLe:
    case Operation::ToBe:
    case Operation::Bswap: lower_byte_order(sem, slot); break;
    case Operation::AddrSpaceCast: jmp(fault(Stop::AddrSpaceCast)); break;
    case Operation::LoadImm64:
    case Operation::LoadPseudo: lower_lddw(op, slot); break;
    case Operation::LoadPacket: lower_load_packet(sem, slot); break;
    case Operation::Load:
    case Operation::LoadSx: lower_load(op, sem, slot); break;
    case Operation::Store: lower_store(sem, slot); break;
    case Operation::AtomicAdd:
    case Operation::AtomicOr:
    case Operation::AtomicAnd:
    case Operation::AtomicXor:
    case Operation::AtomicXchg:
    case Operation::AtomicCmpxchg: lower_atomic(sem, slot); break;
    case Operation::Jump:
    case Operation::JumpIf: lower_jump(sem, slot); break;
    case Operation::MayGoto: lower_may_goto(slot); break;
    case Operation::Call:
    case Operation::CallLocal:
      if (sbpf_)
        lower_sbpf_call();
      else if (sem.operation == Operation::Call)
        lower_call(slot);
      else
        lower_call_local(slot);
      break;
    case Operation::CallKfunc:
      jmp(fault(Stop::Kfunc,
                [this, imm = slot.imm] { mov(qword[rsp + static_cast<int>(offsetof(State, fault_addr))], imm); }));
      break;
    case Operation::Callx: sbpf_ ? lower_sbpf_callx(slot) : lower_callx(slot); break;
    case Operation::Exit: sbpf_ ? lower_sbpf_exit() : lower_exit(); break;
    case Operation::UHMul:
    case Operation::SHMul: lower_high_multiply(sem, slot); break;
    case Operation::Hor: lower_hor(slot); break;
    // check_program() refuses rows the dialect lacks.
    case Operation::None: jmp(fault(Stop::AddrSpaceCast)); break;
  }
}

void Compiler::emit_cold() {
  // Stubs may queue further stubs (a metered block's faults): run to the end.
  while (!cold_.empty()) {
    auto emit = std::move(cold_.front());
    cold_.pop_front();
    emit();
  }
}

Expected<void> Compiler::compile() {
  if (auto checked = check_program(); !checked) return checked.error();
  if (sbpf_) resolve_sbpf_calls();
  entered_inside_ = sbpf_ && has_callx_;
  if (entered_inside_) {
    inside_ = std::vector<Label>(program_.size());
    metered_at_ = std::vector<Label>(program_.size());
    mid_entry_ = std::vector<Label>(program_.size());
  }
  find_blocks();
  guess_regions();
  emit_prologue();
  for (size_t i = 0; i < blocks_.size();) {
    if (const auto region = plan_loop_region(i)) {
      emit_loop_region(*region);
      i = region->last;
    } else {
      emit_block(blocks_[i++]);
    }
  }
  // The cell after the last slot: running into it is a fault, counted.
  const auto size = static_cast<uint32_t>(program_.size());
  L(entry_[size]);
  pc_ = size;
  correction_ = 0;
  sub(kMeter, 1);
  jbe(fault(Stop::Budget));
  jmp(fault(Stop::FellOffEnd));
  // Second slots of lddw a jump lands on: faults too.
  for (uint32_t pc = 0; pc < size; ++pc) {
    if (program_.ops[pc] || !leader_[pc]) continue;
    L(entry_[pc]);
    pc_ = pc;
    sub(kMeter, 1);
    jbe(fault(Stop::Budget));
    jmp(fault(Stop::SecondSlot));
  }
  emit_shared_exits();
  if (sbpf_) emit_sbpf_stubs();
  emit_cold();
  if (auto patched = patch_labels(); !patched) return patched.error();
  if (Xbyak::GetError() != 0) {
    const std::string message = Xbyak::ConvertErrorToString(Xbyak::GetError());
    Xbyak::ClearError();
    return make_error(Errc::Unsupported, "x86-64 encoder: " + message);
  }
  return {};
}

void Compiler::finish(Jit::Code& code) {
  readyRE();
  code.entry = reinterpret_cast<void (*)(State*)>(const_cast<uint8_t*>(getCode()));
  code.body = address_of(entry_[0]);
  code.block_at.assign(program_.size(), nullptr);
  for (size_t pc = 0; pc < program_.size(); ++pc)
    if (leader_[pc] && program_.ops[pc]) code.block_at[pc] = address_of(entry_[pc]);
  for (size_t pc = 0; pc < program_.size(); ++pc)
    if (program_.ops[pc])
      code.ranges.push_back({static_cast<uint32_t>(pc), hot_range_[pc].first, hot_range_[pc].second, unchecked_at_[pc],
                             loop_proven_at_[pc], unmetered_at_[pc]});
  code.dialect = &dialect_;
  code.unchecked_stack = unchecked_stack_;
  if (unchecked_memory_) code.proven_memory_size = inputs_.proven_memory_size;
  if (sbpf_) {
    for (size_t pc = 0; pc < program_.size(); ++pc)
      if (leader_[pc])
        callx_targets_[pc] = address_of(entry_[pc]);
      else if (entered_inside_ && program_.ops[pc])
        callx_targets_[pc] = address_of(mid_entry_[pc]);
    code.callx_targets = std::move(callx_targets_);  // the buffer the code points at moves along
    code.syscalls = std::move(syscalls_);
    code.rodata = program_.rodata;
  }
}

// A jump inside a loop copy stays in that copy (its back edge past the
// loop's entry check).
Compiler::Label& Compiler::target_label(int64_t pc) {
  for (const auto& [start, label] : loop_labels_)
    if (pc == start) return *label;
  return entry_[static_cast<size_t>(pc)];
}

Expected<std::shared_ptr<Jit::Code>> compile(const isa::Program& program, const CompileInputs& inputs) {
  auto compiler = std::make_unique<Compiler>(program, inputs);
  if (auto compiled = compiler->compile(); !compiled) return compiled.error();
  auto code = std::make_shared<Jit::Code>();
  compiler->finish(*code);
  if (Xbyak::GetError() != 0) {
    const std::string message = Xbyak::ConvertErrorToString(Xbyak::GetError());
    Xbyak::ClearError();
    return make_error(Errc::Unsupported, "x86-64 encoder: " + message);
  }
  code->generator = std::move(compiler);
  return code;
}

}  // namespace bpfkit::jit
