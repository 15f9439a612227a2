// The names the text form and messages give conditions, atomics, call kinds
// and constant kinds (the parser reads the same tables).
#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

std::string_view condition_name(isa::Condition cond) {
  using C = isa::Condition;
  switch (cond) {
    case C::Eq: return "eq";
    case C::Ne: return "ne";
    case C::Gt: return "gt";
    case C::Ge: return "ge";
    case C::Lt: return "lt";
    case C::Le: return "le";
    case C::Set: return "set";
    case C::SGt: return "sgt";
    case C::SGe: return "sge";
    case C::SLt: return "slt";
    case C::SLe: return "sle";
    case C::Always: return "always";
    case C::None: break;
  }
  return "none";
}

std::string_view atomic_name(AtomicOp op) {
  switch (op) {
    case AtomicOp::Add: return "add";
    case AtomicOp::Or: return "or";
    case AtomicOp::And: return "and";
    case AtomicOp::Xor: return "xor";
    case AtomicOp::Xchg: return "xchg";
    case AtomicOp::Cmpxchg: return "cmpxchg";
  }
  return "?";
}

std::string_view call_kind_name(CallKind kind) {
  switch (kind) {
    case CallKind::Helper: return "helper";
    case CallKind::Local: return "local";
    case CallKind::Kfunc: return "kfunc";
    case CallKind::Syscall: return "syscall";
    case CallKind::Indirect: return "indirect";
  }
  return "?";
}

std::string_view const_kind_name(ConstKind kind) {
  switch (kind) {
    case ConstKind::Int: return "int";
    case ConstKind::MapFd: return "map_fd";
    case ConstKind::MapValue: return "map_value";
    case ConstKind::BtfId: return "btf_id";
    case ConstKind::Func: return "func";
    case ConstKind::MapIdx: return "map_idx";
    case ConstKind::MapIdxValue: return "map_idx_value";
  }
  return "?";
}

std::optional<isa::Operation> binary_operation(Opcode op) {
  using isa::Operation;
  switch (op) {
    case Opcode::Add: return Operation::Add;
    case Opcode::Sub: return Operation::Sub;
    case Opcode::Mul: return Operation::Mul;
    case Opcode::Div: return Operation::Div;
    case Opcode::SDiv: return Operation::SDiv;
    case Opcode::Mod: return Operation::Mod;
    case Opcode::SMod: return Operation::SMod;
    case Opcode::Or: return Operation::Or;
    case Opcode::And: return Operation::And;
    case Opcode::Xor: return Operation::Xor;
    case Opcode::Lsh: return Operation::Lsh;
    case Opcode::Rsh: return Operation::Rsh;
    case Opcode::Arsh: return Operation::Arsh;
    case Opcode::UHMul: return Operation::UHMul;
    case Opcode::SHMul: return Operation::SHMul;
    default: return std::nullopt;
  }
}

}  // namespace bpfkit::ir
