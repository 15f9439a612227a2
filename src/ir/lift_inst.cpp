// Lifting, one instruction: what isa::semantics(op, dialect) says the row
// does, as IR. Nothing here re-derives an instruction's meaning from its
// opcode byte; the dialect's choices (result extension, swapped operands,
// unsigned immediates, call resolution, callx register) come from the table.
#include <algorithm>

#include "lift.hpp"

namespace bpfkit::ir::lifting {

namespace {

using isa::Operation;

Error fail_at(size_t pc, std::string message) {
  return make_error(Errc::BadOperand, std::move(message), at_pc(static_cast<uint32_t>(pc)));
}

std::optional<Opcode> binary_opcode(Operation operation) {
  switch (operation) {
    case Operation::Add: return Opcode::Add;
    case Operation::Sub: return Opcode::Sub;
    case Operation::Mul: return Opcode::Mul;
    case Operation::Div: return Opcode::Div;
    case Operation::SDiv: return Opcode::SDiv;
    case Operation::Mod: return Opcode::Mod;
    case Operation::SMod: return Opcode::SMod;
    case Operation::Or: return Opcode::Or;
    case Operation::And: return Opcode::And;
    case Operation::Xor: return Opcode::Xor;
    case Operation::Lsh: return Opcode::Lsh;
    case Operation::Rsh: return Opcode::Rsh;
    case Operation::Arsh: return Opcode::Arsh;
    case Operation::UHMul: return Opcode::UHMul;
    case Operation::SHMul: return Opcode::SHMul;
    default: return std::nullopt;
  }
}

std::optional<AtomicOp> atomic_op(Operation operation) {
  switch (operation) {
    case Operation::AtomicAdd: return AtomicOp::Add;
    case Operation::AtomicOr: return AtomicOp::Or;
    case Operation::AtomicAnd: return AtomicOp::And;
    case Operation::AtomicXor: return AtomicOp::Xor;
    case Operation::AtomicXchg: return AtomicOp::Xchg;
    case Operation::AtomicCmpxchg: return AtomicOp::Cmpxchg;
    default: return std::nullopt;
  }
}

// The immediate as an operand of a `width`-bit operation: sign-extended to
// 64 bits, or zero-extended where the dialect says so; a 32-bit operation
// gets its 32 bits.
Value* immediate(Function& fn, int32_t imm, uint8_t width, bool zero_extended = false) {
  if (width == 64)
    return fn.constant(zero_extended ? uint64_t{static_cast<uint32_t>(imm)} : static_cast<uint64_t>(int64_t{imm}), 64);
  return fn.constant(static_cast<uint32_t>(imm), width);
}

// How many registers a call passes: a helper's prototype says, when bpfkit
// knows it; every other call may read all of r1-r5.
size_t argument_count(const isa::Semantics& s, int32_t imm) {
  if (s.call != isa::CallResolution::Helper) return 5;
  const isa::HelperInfo* helper = isa::helper_info(static_cast<uint32_t>(imm));
  if (!helper || !helper->proto) return 5;
  size_t count = 0;
  while (count < helper->proto->args.size() && helper->proto->args[count] != isa::HelperArg::None) ++count;
  return count;
}

Expected<void> call(const isa::Program& program, size_t pc, const isa::Semantics& s, Builder& b, RegValues& regs,
                    const FunctionsByStart& functions) {
  Function& fn = b.function();
  const isa::Slot& slot = program.slots[pc];
  std::vector<Value*> args;
  CallKind kind = CallKind::Helper;
  Function* callee = nullptr;
  int64_t imm = slot.imm;
  size_t arguments = argument_count(s, slot.imm);
  auto local = [&](int64_t target) -> Expected<void> {
    auto it = target >= 0 ? functions.find(static_cast<uint32_t>(target)) : functions.end();
    if (it == functions.end())
      return fail_at(pc, std::string("a call to pc ") + std::to_string(target) + ", where no function starts");
    kind = CallKind::Local;
    callee = it->second.fn;
    arguments = it->second.arguments;
    imm = 0;
    return {};
  };
  switch (s.call) {
    case isa::CallResolution::Helper: kind = CallKind::Helper; break;
    case isa::CallResolution::Kfunc: kind = CallKind::Kfunc; break;
    case isa::CallResolution::Syscall:
      kind = CallKind::Syscall;
      imm = static_cast<uint32_t>(slot.imm);
      break;
    case isa::CallResolution::Local:
      if (auto ok = local(isa::branch_target(program, pc)); !ok) return ok;
      break;
    case isa::CallResolution::SyscallOrFunction: {
      const auto key = static_cast<uint32_t>(slot.imm);
      auto it = program.function_keys.find(key);
      if (!program.syscall_keys.count(key) && it != program.function_keys.end()) {
        if (auto ok = local(it->second); !ok) return ok;
      } else {
        kind = CallKind::Syscall;
        imm = key;
      }
      break;
    }
    case isa::CallResolution::Indirect: {
      const int64_t reg = isa::callx_register(slot, *program.dialect);
      if (reg < 0 || reg >= kRegs) return fail_at(pc, "callx names no register");
      kind = CallKind::Indirect;
      imm = 0;
      args.push_back(regs[static_cast<size_t>(reg)]);
      break;
    }
    case isa::CallResolution::None: return fail_at(pc, "a call the dialect does not resolve");
  }
  for (size_t r = 1; r <= arguments; ++r) args.push_back(regs[r]);
  Inst* inst = b.call(kind, imm, args, callee);
  if (kind == CallKind::Kfunc) inst->attrs().aux = slot.off;
  regs[0] = inst;
  for (int r = 1; r <= 5; ++r) regs[r] = fn.undef();  // clobbered
  return {};
}

// lddw: a plain 64-bit constant, or a typed one for the pseudo sources.
Expected<Value*> lddw(const isa::Program& program, size_t pc, Function& fn, const FunctionsByStart& functions) {
  const isa::Slot& slot = program.slots[pc];
  const uint32_t next_imm = static_cast<uint32_t>(program.slots[pc + 1].imm);
  const auto index = static_cast<uint32_t>(slot.imm);
  switch (*program.ops[pc]) {
    case isa::Op::lddw: return static_cast<Value*>(fn.constant(program.imm64(pc), 64));
    case isa::Op::lddw_map_fd: return static_cast<Value*>(fn.typed_constant(ConstKind::MapFd, index));
    case isa::Op::lddw_map_value: return static_cast<Value*>(fn.typed_constant(ConstKind::MapValue, index, next_imm));
    case isa::Op::lddw_btf_id: return static_cast<Value*>(fn.typed_constant(ConstKind::BtfId, index, next_imm));
    case isa::Op::lddw_map_idx: return static_cast<Value*>(fn.typed_constant(ConstKind::MapIdx, index));
    case isa::Op::lddw_map_idx_value:
      return static_cast<Value*>(fn.typed_constant(ConstKind::MapIdxValue, index, next_imm));
    case isa::Op::lddw_func: {
      const int64_t target = static_cast<int64_t>(pc) + 1 + slot.imm;
      auto it = target >= 0 ? functions.find(static_cast<uint32_t>(target)) : functions.end();
      if (it == functions.end())
        return fail_at(
            pc, std::string("a function pointer to pc ") + std::to_string(target) + ", where no function starts");
      return static_cast<Value*>(fn.typed_constant(ConstKind::Func, 0, 0, it->second.fn));
    }
    default: return fail_at(pc, "an lddw form the lifter does not know");
  }
}

// A row a loader still patches (a kept CO-RE relocation): kept whole, its
// registers as operands, so that no pass changes the fields it patches.
std::optional<uint32_t> core_relocation_at(const isa::Program& program, size_t pc) {
  auto it = std::lower_bound(program.core_slots.begin(), program.core_slots.end(), pc,
                             [](const isa::Program::CoreSlot& c, size_t at) { return c.slot < at; });
  if (it == program.core_slots.end() || it->slot != pc) return std::nullopt;
  return it->relocation;
}

void kept_row(const isa::Program& program, size_t pc, uint32_t relocation, Builder& b, RegValues& regs) {
  const isa::Op op = *program.ops[pc];
  const isa::Slot& slot = program.slots[pc];
  Attrs attrs;
  attrs.row = op;
  attrs.offset = slot.off;
  attrs.imm = op == isa::Op::lddw ? static_cast<int64_t>(program.imm64(pc)) : slot.imm;
  attrs.aux = static_cast<int32_t>(relocation);
  const CoreShape shape = core_shape(op);
  std::vector<Value*> operands;
  if (shape.reads_dst) operands.push_back(regs[slot.dst()]);
  if (shape.reads_src) operands.push_back(regs[slot.src()]);
  Inst* inst = b.create(Opcode::Core, attrs, operands);
  if (shape.defines) regs[slot.dst()] = inst;
}

}  // namespace

Expected<void> translate(const isa::Program& program, size_t pc, Builder& b, RegValues& regs,
                         const FunctionsByStart& functions) {
  Function& fn = b.function();
  const isa::Op op = *program.ops[pc];
  const isa::Slot& slot = program.slots[pc];
  const isa::Semantics s = isa::semantics(op, *program.dialect);
  b.set_origin(static_cast<uint32_t>(pc));
  const uint8_t dst = slot.dst(), src = slot.src();
  if (dst >= kRegs || (s.source == isa::Source::Reg && src >= kRegs)) return fail_at(pc, "a register out of range");
  auto source = [&](uint8_t width) {
    return s.source == isa::Source::Reg ? regs[src] : immediate(fn, slot.imm, width, s.imm_zero_extended);
  };
  if (auto relocation = core_relocation_at(program, pc)) {
    kept_row(program, pc, *relocation, b, regs);
    return {};
  }
  if (auto opcode = binary_opcode(s.operation)) {
    Value* a = regs[dst];
    Value* c = source(s.width);
    if (s.swapped) std::swap(a, c);
    regs[dst] = b.binary(*opcode, s.width, fit(fn, a, s.width), fit(fn, c, s.width), s.result);
    return {};
  }
  if (auto atomic = atomic_op(s.operation)) {
    const bool cmpxchg = *atomic == AtomicOp::Cmpxchg;
    Inst* inst = b.atomic(*atomic, s.width, s.fetch, regs[dst], slot.off, regs[src], cmpxchg ? regs[0] : nullptr);
    if (inst->has_result()) regs[cmpxchg ? 0 : src] = inst;
    return {};
  }
  switch (s.operation) {
    case Operation::Mov:
      if (s.width == 64) {
        regs[dst] = source(64);  // a copy: the register now names the same value
      } else if (s.source == isa::Source::Imm) {
        regs[dst] = s.result == isa::Extension::Sign ? immediate(fn, slot.imm, 64) : immediate(fn, slot.imm, 32);
      } else {
        regs[dst] = s.result == isa::Extension::Sign ? b.sext(32, 64, regs[src]) : b.zext(32, regs[src]);
      }
      return {};
    case Operation::MovSx: regs[dst] = b.sext(static_cast<uint8_t>(isa::info(op).value), s.width, regs[src]); return {};
    case Operation::Neg: regs[dst] = b.neg(s.width, fit(fn, regs[dst], s.width), s.result); return {};
    case Operation::Hor:  // dst |= imm << 32
      regs[dst] = b.binary(Opcode::Or, 64, regs[dst], fn.constant(uint64_t{static_cast<uint32_t>(slot.imm)} << 32));
      return {};
    case Operation::ToLe: regs[dst] = b.byte_swap(Opcode::ToLe, s.width, regs[dst]); return {};
    case Operation::ToBe: regs[dst] = b.byte_swap(Opcode::ToBe, s.width, regs[dst]); return {};
    case Operation::Bswap: regs[dst] = b.byte_swap(Opcode::Bswap, s.width, regs[dst]); return {};
    case Operation::AddrSpaceCast: {
      Attrs attrs;
      attrs.imm = slot.imm;
      Value* operand = regs[src];
      regs[dst] = b.create(Opcode::AddrSpaceCast, attrs, std::span<Value* const>(&operand, 1));
      return {};
    }
    case Operation::LoadImm64:
    case Operation::LoadPseudo: {
      auto value = lddw(program, pc, fn, functions);
      if (!value) return value.error();
      regs[dst] = *value;
      return {};
    }
    case Operation::Load:
    case Operation::LoadSx:
      regs[dst] = b.load_raw(s.width, s.operation == Operation::LoadSx, regs[src], slot.off);
      return {};
    case Operation::Store: b.store_raw(s.width, regs[dst], slot.off, fit(fn, source(s.width), s.width)); return {};
    case Operation::LoadPacket: {
      Attrs attrs;
      attrs.width = s.width;
      attrs.imm = slot.imm;
      const bool indirect = s.source == isa::Source::Reg;
      Value* operands[] = {regs[6], indirect ? regs[src] : nullptr};
      regs[0] = b.create(indirect ? Opcode::LdInd : Opcode::LdAbs, attrs,
                         std::span<Value* const>(operands, indirect ? 2 : 1));
      for (int r = 1; r <= 5; ++r) regs[r] = fn.undef();  // the kernel clobbers them as a call does
      return {};
    }
    case Operation::Call:
    case Operation::CallLocal:
    case Operation::CallKfunc:
    case Operation::Callx: return call(program, pc, s, b, regs, functions);
    default: break;
  }
  return fail_at(pc, std::string("the lifter cannot translate ") + std::string(isa::info(op).id) + " here");
}

}  // namespace bpfkit::ir::lifting
