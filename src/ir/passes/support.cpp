// Shared by the passes: constants, folding through isa::evaluate, and the
// side-effect rules.
#include "support.hpp"

#include <bit>

namespace bpfkit::ir::passes {

namespace {

using isa::Operation;

// The operation isa::evaluate folds: the binary ones, and the unary ones
// that have a row of their own.
std::optional<Operation> operation_of(Opcode op) {
  if (auto binary = binary_operation(op)) return binary;
  switch (op) {
    case Opcode::Neg: return Operation::Neg;
    case Opcode::Bswap: return Operation::Bswap;
    case Opcode::ToLe: return Operation::ToLe;
    case Opcode::ToBe: return Operation::ToBe;
    default: return std::nullopt;
  }
}

bool is_division(Opcode op) {
  return op == Opcode::Div || op == Opcode::Mod || op == Opcode::SDiv || op == Opcode::SMod;
}

// What the dialect does with a zero divisor (isa::semantics decides it per
// row; every row of one family agrees).
isa::DivisionPolicy division_policy(Opcode op, const isa::Dialect& dialect) {
  if (!is_division(op)) return isa::DivisionPolicy::None;
  if (dialect.family == isa::Family::Linux) return isa::DivisionPolicy::Defined;
  return op == Opcode::SDiv || op == Opcode::SMod ? isa::DivisionPolicy::TrapOverflow : isa::DivisionPolicy::Trap;
}

uint64_t sign_extend(uint64_t value, unsigned bits) {
  if (bits >= 64) return value;
  const unsigned shift = 64 - bits;
  return static_cast<uint64_t>(static_cast<int64_t>(value << shift) >> shift);
}

uint64_t low_bits(uint64_t value, unsigned bits) { return bits >= 64 ? value : value & ((uint64_t{1} << bits) - 1); }

const isa::Dialect& dialect_of(const Inst& inst) { return inst.parent()->parent()->dialect(); }

}  // namespace

std::optional<uint64_t> int_value(const Value* value) {
  if (!value || !value->is_const()) return std::nullopt;
  const auto* constant = static_cast<const Const*>(value);
  if (constant->const_kind() != ConstKind::Int) return std::nullopt;
  return constant->bits();
}

std::optional<uint64_t> fold(const Inst& inst, std::span<const uint64_t> operands) {
  const Attrs& a = inst.attrs();
  switch (inst.op()) {
    case Opcode::Assign: return operands[0];
    case Opcode::SExt: return low_bits(sign_extend(operands[0], a.width), a.to);
    case Opcode::ZExt: return low_bits(operands[0], a.width);
    default: break;
  }
  const auto operation = operation_of(inst.op());
  if (!operation) return std::nullopt;
  isa::Semantics s;
  s.operation = *operation;
  s.width = a.width;
  s.result = a.ext;
  s.division = division_policy(inst.op(), dialect_of(inst));
  return isa::evaluate(s, operands[0], operands.size() > 1 ? operands[1] : 0);
}

bool branch_taken(const Inst& branch, uint64_t a, uint64_t b) {
  return isa::condition_holds(branch.attrs().cond, branch.width(), a, b);
}

bool removable(const Inst& inst) {
  switch (inst.op()) {
    case Opcode::Phi:
    case Opcode::Assign:
    case Opcode::Alloc:
    case Opcode::AllocArray:
    case Opcode::Load: return true;
    case Opcode::Core: return !core_shape(inst.attrs().row).touches_memory;  // kept as a whole
    case Opcode::LoadRaw: {                                                  // a load inside the frame cannot fault
      const auto offset = stack_offset(inst.operand(0), inst.attrs().offset);
      return offset && *offset < 0 && *offset >= -512 && *offset + inst.width() / 8 <= 0;
    }
    default: break;
  }
  if (info(inst.op()).kind != OpKind::Binary && info(inst.op()).kind != OpKind::Unary) return false;
  if (inst.op() == Opcode::AddrSpaceCast) return false;
  if (!is_division(inst.op()) || division_policy(inst.op(), dialect_of(inst)) == isa::DivisionPolicy::Defined)
    return true;
  // sBPF traps on a zero divisor and on signed MIN / -1: only a constant
  // divisor that is neither makes the division free of effects.
  const auto divisor = int_value(inst.operand(1));
  if (!divisor) return false;
  const uint64_t d = low_bits(*divisor, inst.width());
  return d != 0 && (inst.op() == Opcode::Div || inst.op() == Opcode::Mod || d != low_bits(~uint64_t{0}, inst.width()));
}

bool pure(const Inst& inst) {
  if (inst.op() == Opcode::Phi || inst.op() == Opcode::Alloc || inst.op() == Opcode::AllocArray ||
      inst.op() == Opcode::Load || inst.op() == Opcode::LoadRaw)
    return false;  // phis belong to their block; allocs are distinct objects; loads read memory
  return removable(inst);
}

std::optional<int64_t> stack_offset(const Value* address, int64_t offset) {
  for (int depth = 0; depth < 16 && address; ++depth) {
    if (address->kind() == ValueKind::FramePointer) return offset;
    if (address->kind() != ValueKind::Inst) return std::nullopt;
    const auto* inst = static_cast<const Inst*>(address);
    if (inst->op() == Opcode::Assign) {
      address = inst->operand(0);
      continue;
    }
    if ((inst->op() != Opcode::Add && inst->op() != Opcode::Sub) || inst->width() != 64) return std::nullopt;
    const auto constant = int_value(inst->operand(1));
    if (!constant) return std::nullopt;
    const auto delta = static_cast<int64_t>(*constant);
    offset = inst->op() == Opcode::Add ? offset + delta : offset - delta;
    if (offset < -(int64_t{1} << 40) || offset > (int64_t{1} << 40)) return std::nullopt;
    address = inst->operand(0);
  }
  return std::nullopt;
}

namespace {
unsigned significant_bits_within(const Value* value, int depth);
}

unsigned significant_bits(const Value* value) { return significant_bits_within(value, 0); }

namespace {

// Bounded, so a long chain of ands costs nothing.
unsigned significant_bits_within(const Value* value, int depth) {
  if (depth > 8) return 64;
  if (const auto constant = int_value(value)) return static_cast<unsigned>(std::bit_width(*constant));
  if (!value || value->kind() != ValueKind::Inst) return 64;
  const auto* inst = static_cast<const Inst*>(value);
  const Attrs& a = inst->attrs();
  switch (inst->op()) {
    case Opcode::ZExt: return a.width;
    case Opcode::SExt: return a.to;
    case Opcode::Load:
    case Opcode::LoadRaw: return a.is_signed ? 64 : a.width;
    case Opcode::Bswap:
    case Opcode::ToLe:
    case Opcode::ToBe: return a.width;
    case Opcode::And: {
      const unsigned left = significant_bits_within(inst->operand(0), depth + 1);
      const unsigned right = significant_bits_within(inst->operand(1), depth + 1);
      return std::min(left, right);
    }
    case Opcode::Phi: {
      unsigned widest = 0;
      for (size_t i = 0; i < inst->operand_count() && widest < 64; ++i)
        widest = std::max(widest, significant_bits_within(inst->operand(i), depth + 1));
      return widest;
    }
    case Opcode::Rsh:
      if (inst->width() == 64)
        if (const auto amount = int_value(inst->operand(1)))
          return 64 - static_cast<unsigned>(*amount & 63);  // the amount is masked: x >> 64 is x
      return inst->width() == 32 ? 32 : 64;
    default: break;
  }
  if ((is_binary(inst->op()) || inst->op() == Opcode::Neg) && inst->width() == 32 && a.ext == isa::Extension::Zero)
    return 32;
  return 64;
}

}  // namespace

Inst* guard_before(Inst* at, isa::Condition cond, Value* a, Value* b, int64_t bail) {
  Function& fn = *at->parent()->parent();
  Block* head = at->parent();
  Block* rest = split_block(at);
  Block* exit = fn.add_block_after(head);
  Builder builder(fn, back(exit));
  builder.set_origin(at->origin());
  builder.ret(fn.constant(static_cast<uint64_t>(bail), 64));
  fn.erase(head->terminator());  // split_block's `ja rest`
  builder.set_position(back(head));
  return builder.branch(cond, 64, a, b, exit, rest);
}

bool is_check(const Inst* branch, isa::Condition cond, const Value* a, const Value* b) {
  return branch && branch->op() == Opcode::Br && branch->attrs().cond == cond && branch->width() == 64 &&
         branch->operand(0) == a && branch->operand(1) == b;
}

bool guarded(const Inst* at, isa::Condition cond, const Value* a, const Value* b) {
  const Block* block = at->parent();
  if (block->first_non_phi() != at || block->preds().size() != 1) return false;
  const Inst* branch = block->preds()[0]->terminator();
  return is_check(branch, cond, a, b) && branch->target(1) == block;
}

Expected<int64_t> required(const PassParams& params, std::string_view pass, std::string_view key) {
  for (const auto& [name, value] : params.values)
    if (name == key) return params.integer(key, 0);
  return make_error(Errc::BadOperand, "pass '" + std::string(pass) + "' needs the parameter " + std::string(key));
}

namespace {

// Whether `user` uses the frame address `address` only as an address.
bool address_use(const Use& use) {
  const Inst* user = use.user();
  switch (user->op()) {
    case Opcode::LoadRaw: return use.index() == 0;
    case Opcode::StoreRaw: return use.index() == 0;  // storing the address itself lets it escape
    default: return false;
  }
}

}  // namespace

bool frame_stays_private(Function& fn, std::vector<const Value*>& addresses) {
  addresses.push_back(fn.frame_pointer());
  for (size_t i = 0; i < addresses.size(); ++i) {
    for (const Use& use : addresses[i]->uses()) {
      if (address_use(use)) continue;
      const Inst* user = use.user();
      const bool derived = (user->op() == Opcode::Add || user->op() == Opcode::Sub || user->op() == Opcode::Assign) &&
                           use.index() == 0 && stack_offset(user, 0).has_value();
      if (!derived) return false;
      addresses.push_back(user);
      if (addresses.size() > 100000) return false;
    }
  }
  return true;
}

}  // namespace bpfkit::ir::passes
