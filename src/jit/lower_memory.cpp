// Memory: the region check of MemoryMap::translate inline (one compare of
// address + size against the region's end), the exact check and the fault
// with the interpreter's address and size in cold stubs; loads, stores,
// lock-prefixed atomics, lddw and the legacy packet loads.
#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <optional>

#include "compiler.hpp"

namespace bpfkit::jit {

using namespace Xbyak::util;
using isa::Operation;
using isa::Source;

namespace {

constexpr int kLimitOffset(bool write) {
  return write ? static_cast<int>(offsetof(vm::RegionBounds, write_limit))
               : static_cast<int>(offsetof(vm::RegionBounds, read_limit));
}
static_assert(sizeof(vm::RegionBounds) == 24 && offsetof(vm::RegionBounds, host) == 0);

int end_table(bool write) {
  return write ? static_cast<int>(offsetof(State, write_end)) : static_cast<int>(offsetof(State, read_end));
}

Xbyak::Reg sized(const Xbyak::Reg64& reg, unsigned bits) {
  switch (bits) {
    case 8: return reg.cvt8();
    case 16: return reg.cvt16();
    case 32: return reg.cvt32();
    default: return reg;
  }
}

}  // namespace

// Whether the verifier's proof for the access at pc_ holds for the VM's
// memory exactly, so that the interpreter's check cannot fail there.
bool Compiler::proof_holds_at(uint32_t pc) const {
  if (sbpf_ || inputs_.proven.empty()) return false;
  const isa::FrameModel model = isa::frame_model(dialect_);
  switch (inputs_.proven[pc]) {
    // Each Linux frame is frame_size bytes of one stack region, r10 at its
    // top moving by whole frames (a call the depth limit refuses faults
    // before its frame is used): a frame of at least the verifier's 512
    // bytes holds every offset it proved. Jit::run refuses a Context whose
    // stack region is not whole.
    case isa::ProvenAccess::Stack:
      return !r10_written_ && model.call_fp_step == -static_cast<int64_t>(model.frame_size) &&
             model.frame_size >= static_cast<uint64_t>(isa::kProvenStackBytes);
    // A map's values lie in its region (the storage lookups hand out, never
    // shrunk), which is writable exactly when the verifier allows stores
    // (Map::writable_by_programs has its read-only rule).
    case isa::ProvenAccess::MapValue: return true;
    // The packet region runs from the headroom to data_end itself
    // (Context::remap_packet), writable; every helper that moves the packet
    // remaps it and makes the verifier forget its packet pointers.
    case isa::ProvenAccess::Packet: return true;
    // The raw buffer is the input region: Jit::run refuses one shorter than
    // Options::proven_memory_size or read-only.
    case isa::ProvenAccess::Memory: return true;
    // Kept: a context's bytes are what the test run laid out from its
    // ctx_in (vm::prepare_test_run), sized by the run, not by the type's
    // fields the verifier checked against; and its data / data_end loads
    // take a runtime call anyway.
    case isa::ProvenAccess::Context:
    case isa::ProvenAccess::Unproven: return false;
  }
  return false;
}

// r10 + off with -frame_size <= off and off + size <= 0 stays inside the
// stack at every call depth (r10 moves only by whole frames, and the depth
// limit keeps it inside): no check, as the interpreter cannot fault.
bool Compiler::in_frame(uint32_t pc, int base, int16_t off, unsigned size) const {
  const isa::FrameModel model = isa::frame_model(dialect_);
  const bool constant_offset = base == isa::kFramePointer && !sbpf_ && !r10_written_ && model.call_fp_step <= 0 &&
                               static_cast<int64_t>(off) >= -static_cast<int64_t>(model.frame_size) &&
                               off + static_cast<int>(size) <= 0;
  return constant_offset || (proof_holds_at(pc) && inputs_.proven[pc] == isa::ProvenAccess::Stack);
}

std::optional<AccessShape> access_shape(const isa::Semantics& sem, const isa::Slot& slot) {
  switch (sem.operation) {
    case Operation::Load:
    case Operation::LoadSx: return AccessShape{slot.src(), slot.off, sem.width / 8u, false};
    case Operation::Store:
    case Operation::AtomicAdd:
    case Operation::AtomicOr:
    case Operation::AtomicAnd:
    case Operation::AtomicXor:
    case Operation::AtomicXchg:
    case Operation::AtomicCmpxchg: return AccessShape{slot.dst(), slot.off, sem.width / 8u, true};
    default: return std::nullopt;
  }
}

// Whether the instruction may change the region table (a runtime call) or
// leave the block's straight line: no group spans it.
bool ends_check_groups(isa::Operation operation) {
  switch (operation) {
    case Operation::Call:
    case Operation::CallLocal:
    case Operation::CallKfunc:
    case Operation::Callx:
    case Operation::LoadPacket:
    case Operation::MayGoto:
    case Operation::Exit: return true;
    default: return false;
  }
}

// Groups the block's checked accesses by base register (see CheckGroup):
// a group closes where its base is written or at a runtime call; one of a
// single access stays an ordinary check.
void Compiler::plan_check_groups(const Block& block) {
  struct Open {
    uint32_t first = 0;
    size_t members = 0;
    CheckGroup group;
    std::vector<uint32_t> later;
  };
  std::array<std::optional<Open>, isa::kRegisterCount> open;
  auto close = [&](int reg) {
    if (open[reg] && open[reg]->members > 1) {
      group_at_.emplace(open[reg]->first, open[reg]->group);
      for (const uint32_t pc : open[reg]->later) grouped_[pc] = true;
    }
    open[reg].reset();
  };
  for (uint32_t pc = block.start; pc < block.end; pc += program_.width_at(pc)) {
    const isa::Op op = *program_.ops[pc];
    const isa::Slot& slot = program_.slots[pc];
    const isa::Semantics& sem = sem_at(pc);
    // A context load that may read a packet pointer calls the runtime.
    const bool packet_pointer = op == isa::Op::ldxw && inputs_.has_packet;
    if (ends_check_groups(sem.operation) || packet_pointer) {
      for (int reg = 0; reg < isa::kRegisterCount; ++reg) close(reg);
      continue;
    }
    if (const auto shape = access_shape(sem, slot);
        shape && !in_frame(pc, shape->base, shape->off, shape->size) && !proof_holds_at(pc)) {
      std::optional<Open>& group = open[shape->base];
      if (!group) group = Open{pc, 0, CheckGroup{shape->base, {}, {}}, {}};
      CheckedRange& range = shape->write ? group->group.write : group->group.read;
      range.lo = std::min<int64_t>(range.lo, shape->off);
      range.hi = std::max<int64_t>(range.hi, shape->off + static_cast<int64_t>(shape->size));
      if (group->members++ > 0) group->later.push_back(pc);
    }
    const isa::RegSet written = written_at(pc);
    for (int reg = 0; reg < isa::kRegisterCount; ++reg)
      if (written.contains(reg)) close(reg);
  }
  for (int reg = 0; reg < isa::kRegisterCount; ++reg) close(reg);
}

// rdx = the low 4 bits of rax's region index (the inline tables' entry).
void Compiler::region_index_of_rax() {
  if (bmi2_) {
    rorx(rdx, rax, 32);
  } else {
    mov(rdx, rax);
    shr(rdx, 32);
  }
  and_(edx, static_cast<uint32_t>(kInlineEntries - 1));
}

// The first access of a group: base + each range in one region (one compare
// per kind of access), else the rest of the block as its metered copy,
// which checks each access. The host address of base + off: rax + base + off.
Xbyak::RegExp Compiler::merged_check(const CheckGroup& group, int16_t off) {
  const Xbyak::Reg64& base_reg = kBpfRegisters[group.base];
  Label& one_by_one = new_label();
  Label*& copy = checked_copy_at_[pc_];
  if (copy == nullptr) copy = &new_label();
  const int64_t lo = std::min(group.read.lo, group.write.lo);
  lea(rax, ptr[base_reg + static_cast<int32_t>(lo)]);
  region_index_of_rax();
  for (const bool write : {false, true}) {
    const CheckedRange& range = write ? group.write : group.read;
    if (range.empty()) continue;
    lea(rcx, ptr[base_reg + static_cast<int32_t>(range.hi)]);
    cmp(rcx, qword[rsp + rdx * 8 + end_table(write)]);
    jae(one_by_one);
  }
  mov(rax, qword[rsp + rdx * 8 + static_cast<int>(offsetof(State, host_delta))]);
  mov(qword[rsp + static_cast<int>(offsetof(State, check_delta) + 8 * group.base)], rax);
  const uint32_t rest = correction_ + 1;  // this instruction and those after it in the block
  cold_.push_back([this, &one_by_one, copy, rest] {
    L(one_by_one);
    add(kMeter, rest);
    jmp(*copy);
  });
  return rax + base_reg + off;
}

// A later access of a group: the first one's check covers it.
Xbyak::RegExp Compiler::grouped_access(int base, int16_t off) {
  mov(rax, qword[rsp + static_cast<int>(offsetof(State, check_delta) + 8 * base)]);
  return rax + kBpfRegisters[base] + off;
}

// The host address of [base + off, + size) (in rax, or rax plus the base
// register and offset), or a jump to the fault.
Xbyak::RegExp Compiler::access(int base, int16_t off, unsigned size, bool write) {
  const isa::FrameModel model = isa::frame_model(dialect_);
  const Xbyak::Reg64& base_reg = kBpfRegisters[base];
  const bool proven = proof_holds();
  if (unchecked_loop_copy_ && loop_proven_at_[pc_]) return loop_proven_access(base, off);
  if (const auto group = group_at_.find(pc_); merge_checks_ && group != group_at_.end()) {
    return merged_check(group->second, off);
  }
  if (merge_checks_ && grouped_[pc_]) {
    return grouped_access(base, off);
  }
  if (in_frame(pc_, base, off, size)) {
    unchecked_stack_ = true;
    unchecked_at_[pc_] = true;
    mov(rax, field(offsetof(State, stack_delta)));
    return rax + base_reg + off;
  }
  if (proven) {  // only the translation to the host address remains
    unchecked_at_[pc_] = true;
    if (inputs_.proven[pc_] == isa::ProvenAccess::Memory) unchecked_memory_ = true;
    lea(rax, ptr[base_reg + off]);
    mov(rdx, rax);
    shr(rdx, 32);
    lea(rdx, ptr[rdx + rdx * 2]);
    mov(rcx, field(offsetof(State, regions)));  // the Context's live table: a helper may have moved it
    mov(eax, eax);
    add(rax, qword[rcx + rdx * 8]);
    return rax;
  }
  Label& refused = fault(Stop::Access, [this, &base_reg, off, size, write] {
    lea(rax, ptr[base_reg + off]);
    mov(field(offsetof(State, fault_addr)), rax);
    mov(dword[rsp + static_cast<int>(offsetof(State, fault_size))], size);
    mov(dword[rsp + static_cast<int>(offsetof(State, fault_write))], write ? 1u : 0u);
  });
  // Regions 0..7 inline, on the State's 16-entry tables (see read_end):
  // one compare of address + size against the region's end; anything else
  // (an access out of bounds, a region above 7: maps) takes the cold path,
  // which checks exactly on the Context's table.
  if (model.gap_size == 0 && guess_at_[pc_] < kTableRegions) return guessed_access(base, off, size, write, refused);
  Label& exact = new_label();
  Label& checked = new_label();
  lea(rax, ptr[base_reg + off]);
  if (model.gap_size != 0) {
    mov(rdx, rax);
    shr(rdx, 32);
    gapped_stack_access(refused, checked, size, write);
    and_(edx, static_cast<uint32_t>(kInlineEntries - 1));
  } else {
    region_index_of_rax();
  }
  lea(rcx, ptr[rax + size]);
  cmp(rcx, qword[rsp + rdx * 8 + end_table(write)]);
  jae(exact);
  add(rax, qword[rsp + rdx * 8 + static_cast<int>(offsetof(State, host_delta))]);
  L(checked);
  cold_.push_back([this, &exact, &checked, &refused, size, write] {
    L(exact);
    exact_check(refused, size, write);
    jmp(checked);
  });
  return rax;
}

// MemoryMap::translate on the Context's table: rax = the guest address on
// entry, its host address after, or a jump to `refused`.
void Compiler::exact_check(Label& refused, unsigned size, bool write) {
  mov(rdx, rax);
  shr(rdx, 32);
  cmp(rdx, field(offsetof(State, region_count)));
  jae(refused);
  lea(rdx, ptr[rdx + rdx * 2]);
  mov(rcx, field(offsetof(State, regions)));
  lea(rcx, ptr[rcx + rdx * 8]);
  mov(eax, eax);
  lea(rdx, ptr[rax + size]);
  cmp(rdx, qword[rcx + kLimitOffset(write)]);
  ja(refused);
  add(rax, qword[rcx]);
}

// An access whose base register guess_regions() guessed in region i:
// base + off - (i << 32) below the region's limit - size + 1 (an address
// of another region is at least 2^32 away, or below: it wraps past 2^64).
// The host address is then rax (host - (i << 32)) + base + off; the cold
// path's exact check leaves the same form.
Xbyak::RegExp Compiler::guessed_access(int base, int16_t off, unsigned size, bool write, Label& refused) {
  const uint8_t region = guess_at_[pc_];
  const Xbyak::Reg64& base_reg = kBpfRegisters[base];
  Label& exact = new_label();
  Label& checked = new_label();
  const auto end_index = (static_cast<size_t>(write) * 4 + static_cast<size_t>(std::countr_zero(size))) * kTableRegions;
  lea(rcx, ptr[base_reg + off]);
  sub(rcx, qword[rsp + static_cast<int>(offsetof(State, region_start) + 8 * region)]);
  cmp(rcx, qword[rsp + static_cast<int>(offsetof(State, guess_end) + 8 * (end_index + region))]);
  jae(exact);
  mov(rax, qword[rsp + static_cast<int>(offsetof(State, host_delta) + 8 * region)]);
  L(checked);
  cold_.push_back([this, &exact, &checked, &refused, &base_reg, off, size, write] {
    L(exact);
    lea(rax, ptr[base_reg + off]);
    exact_check(refused, size, write);
    lea(rcx, ptr[base_reg + off]);
    sub(rax, rcx);
    jmp(checked);
  });
  return rax + base_reg + off;
}

// sBPF v0's stack (isa::gapped_stack_offset): odd frame-sized pages are
// gaps, even ones map to consecutive frames; only the first byte is tested
// against a gap, as Agave does. The stack's accesses take a cold path.
void Compiler::gapped_stack_access(Label& refused, Label& checked, unsigned size, bool write) {
  constexpr uint32_t frame = isa::kGappedFrameSize;
  static_assert((frame & (frame - 1)) == 0);
  Label& stack = new_label();
  cmp(edx, vm::kStackRegion);
  je(stack);
  cold_.push_back([this, &stack, &refused, &checked, size, write] {
    const auto region = static_cast<int>(offsetof(State, table) + vm::kStackRegion * sizeof(vm::RegionBounds));
    L(stack);
    test(eax, frame);
    jnz(refused);
    mov(ecx, eax);
    shr(ecx, 1);
    and_(ecx, ~(frame - 1));
    and_(eax, frame - 1);
    or_(eax, ecx);
    lea(rcx, ptr[rax + size]);
    cmp(rcx, qword[rsp + region + kLimitOffset(write)]);
    ja(refused);
    add(rax, qword[rsp + region]);
    jmp(checked);
  });
}

void Compiler::lower_load(isa::Op op, const isa::Semantics& sem, const isa::Slot& slot) {
  const Xbyak::Reg64& dst = kBpfRegisters[slot.dst()];
  Label* ordinary_done = nullptr;
  // The kernel rewrites a context's 32-bit data / data_end / data_meta
  // loads into loads of the full pointer; the runtime says whether this is one.
  if (op == isa::Op::ldxw && inputs_.has_packet && slot.off >= 0) {
    const auto offset = static_cast<uint32_t>(slot.off);
    if (offset == inputs_.ctx_data || offset == inputs_.ctx_data_end || offset == inputs_.ctx_data_meta) {
      runtime_call(reinterpret_cast<const void*>(&bpfkit_jit_packet_pointer), [&] {
        mov(rsi, reg_in_state(slot.src()));
        add(rsi, slot.off);
        mov(edx, static_cast<uint32_t>(slot.dst()));
      });
      ordinary_done = &new_label();
      test(rax, rax);
      jnz(*ordinary_done);
    }
  }
  const Xbyak::RegExp host = access(slot.src(), slot.off, sem.width / 8, false);
  if (sem.operation == Operation::LoadSx) {
    switch (sem.width) {
      case 8: movsx(dst, byte[host]); break;
      case 16: movsx(dst, word[host]); break;
      default: movsxd(dst, dword[host]); break;
    }
  } else {
    switch (sem.width) {
      case 8: movzx(dst.cvt32(), byte[host]); break;
      case 16: movzx(dst.cvt32(), word[host]); break;
      case 32: mov(dst.cvt32(), dword[host]); break;
      default: mov(dst, qword[host]); break;
    }
  }
  if (ordinary_done) L(*ordinary_done);
}

void Compiler::lower_store(const isa::Semantics& sem, const isa::Slot& slot) {
  const Xbyak::RegExp host = access(slot.dst(), slot.off, sem.width / 8, true);
  const Xbyak::AddressFrame& frame = sem.width == 8 ? byte : sem.width == 16 ? word : sem.width == 32 ? dword : qword;
  if (sem.source == Source::Imm && inputs_.harden) {  // rax (with the base) holds the address
    load_immediate(sem.width == 64 ? Xbyak::Reg(rcx) : Xbyak::Reg(ecx), slot.imm);
    mov(frame[host], sized(rcx, sem.width));
    return;
  }
  if (sem.source == Source::Imm) {
    const int32_t k = slot.imm;
    switch (sem.width) {
      case 8: mov(frame[host], static_cast<uint8_t>(k)); break;
      case 16: mov(frame[host], static_cast<uint16_t>(k)); break;
      case 32: mov(frame[host], static_cast<uint32_t>(k)); break;
      default: mov(frame[host], static_cast<uint64_t>(static_cast<int64_t>(k))); break;  // sign-extended imm32
    }
    return;
  }
  mov(frame[host], sized(kBpfRegisters[slot.src()], sem.width));
}

// The host address moves to rcx: cmpxchg wants rax. An aligned address
// takes the lock-prefixed instruction; a misaligned one (which the kernel's
// verifier refuses, but a raw program may make) the same without the lock
// prefix, out of line: a locked access across a cache line is a bus lock,
// which the kernel answers by making the process sleep (split lock
// mitigation, 10 ms each), and a program runs on one thread, so the plain
// read-modify-write is as atomic for it (the interpreter's way).
void Compiler::lower_atomic(const isa::Semantics& sem, const isa::Slot& slot) {
  lea(rcx, ptr[access(slot.dst(), slot.off, sem.width / 8, true)]);
  Label& misaligned = new_label();
  Label& done = new_label();
  test(cl, sem.width / 8 - 1);
  jnz(misaligned);
  emit_atomic_operation(sem, slot, true);
  cold_.push_back([this, sem, slot, &misaligned, &done] {
    L(misaligned);
    emit_atomic_operation(sem, slot, false);
    jmp(done);
  });
  L(done);
}

// The operation on [rcx]; `locked`: as one lock-prefixed instruction (or a
// loop of them), else the same steps unlocked (xchg, always locked, becomes
// two moves).
void Compiler::emit_atomic_operation(const isa::Semantics& sem, const isa::Slot& slot, bool locked) {
  const bool wide = sem.width == 64;
  const Xbyak::AddressFrame& frame = wide ? qword : dword;
  const Xbyak::Reg64& src64 = kBpfRegisters[slot.src()];
  const Xbyak::Reg src = wide ? Xbyak::Reg(src64) : Xbyak::Reg(src64.cvt32());
  const Xbyak::Reg acc = wide ? Xbyak::Reg(rax) : Xbyak::Reg(eax);
  const Xbyak::Reg tmp = wide ? Xbyak::Reg(rdx) : Xbyak::Reg(edx);
  auto lock_if = [&] {
    if (locked) lock();
  };
  switch (sem.operation) {
    case Operation::AtomicAdd:
      lock_if();
      sem.fetch ? xadd(frame[rcx], src) : add(frame[rcx], src);
      return;
    case Operation::AtomicXchg:
      if (locked) {
        xchg(frame[rcx], src);
      } else {
        mov(acc, frame[rcx]);
        mov(frame[rcx], src);
        mov(src, acc);
      }
      return;
    case Operation::AtomicCmpxchg: {
      const Xbyak::Reg64& r0 = kBpfRegisters[0];
      mov(acc, wide ? Xbyak::Reg(r0) : Xbyak::Reg(r0.cvt32()));
      lock_if();
      cmpxchg(frame[rcx], src);
      mov(wide ? Xbyak::Reg(r0) : Xbyak::Reg(r0.cvt32()), acc);
      return;
    }
    default: break;
  }
  auto apply = [&](const Xbyak::Operand& target) {
    if (sem.operation == Operation::AtomicOr)
      or_(target, src);
    else if (sem.operation == Operation::AtomicAnd)
      and_(target, src);
    else
      xor_(target, src);
  };
  if (!sem.fetch) {
    lock_if();
    apply(frame[rcx]);
    return;
  }
  // Fetch forms: a compare-and-swap loop, the old value into src.
  Label& retry = new_label();
  mov(acc, frame[rcx]);
  L(retry);
  mov(tmp, acc);
  apply(tmp);
  lock_if();
  cmpxchg(frame[rcx], tmp);
  jne(retry);
  mov(src, acc);
}

void Compiler::lower_lddw(isa::Op op, const isa::Slot& slot) {
  const Xbyak::Reg64& dst = kBpfRegisters[slot.dst()];
  uint64_t value = program_.imm64(pc_);
  if (op == isa::Op::lddw_func) {
    const int64_t target = *isa::branch_target(isa::Op::call_local, slot, static_cast<int64_t>(pc_));
    value = vm::region_base(vm::kProgramRegion) + static_cast<uint64_t>(target) * 8;
  } else if (op == isa::Op::lddw_map_idx || op == isa::Op::lddw_map_idx_value) {
    value = inputs_.map_addresses[static_cast<uint32_t>(slot.imm)];
    if (op == isa::Op::lddw_map_idx_value) value += static_cast<uint32_t>(program_.slots[pc_ + 1].imm);
  }
  load_immediate64(dst, value);
}

void Compiler::lower_load_packet(const isa::Semantics& sem, const isa::Slot& slot) {
  const uint32_t region = inputs_.has_packet ? vm::kPacketRegion : vm::kInputRegion;
  runtime_call(reinterpret_cast<const void*>(&bpfkit_jit_load_packet), [&] {
    mov(esi, region);
    mov(edx, static_cast<uint32_t>(sem.width / 8));
    load_immediate(ecx, slot.imm);
    mov(r8d, sem.source == Source::Reg ? static_cast<uint32_t>(slot.src()) + 1 : 0u);
  });
  Label& loaded = new_label();
  test(rax, rax);
  jz(loaded);
  done_here();
  L(loaded);
}

}  // namespace bpfkit::jit
