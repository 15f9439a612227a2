// The validator: returns the first way in which a function is not well
// formed, never aborts. Structure first (terminators, targets, preds, phis,
// use lists), then fields and widths, then dominance and the frame.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "bpfkit/ir.hpp"
#include "internal.hpp"

namespace bpfkit::ir {

std::string where(const Function& fn, const Block* block, const Inst* inst) {
  std::string text = std::string("function @") + fn.name();
  if (block) text += std::string(", b") + std::to_string(block->number());
  if (inst) text += ", '" + inst_text(*inst) + "'";
  return text;
}

namespace {

class Validator {
 public:
  explicit Validator(Function& fn) : fn_(fn) {}
  Expected<void> run();

 private:
  Error fail(const Block* block, const Inst* inst, const std::string& message) const {
    Location location;
    if (inst && inst->origin() != kNoOrigin) location.pc = inst->origin();
    return make_error(Errc::BadOperand, where(fn_, block, inst) + ": " + message, location);
  }
  std::optional<Error> structure();
  std::optional<Error> use_lists();
  std::optional<Error> fields(const Block* block, const Inst* inst) const;
  std::optional<Error> dominance();
  std::optional<Error> frame() const;

  Function& fn_;
  std::unordered_set<const Block*> blocks_;
  std::unordered_map<const Inst*, uint32_t> position_;  // index within its block
};

bool is_width(uint8_t w, std::initializer_list<uint8_t> allowed) {
  return std::find(allowed.begin(), allowed.end(), w) != allowed.end();
}

std::optional<Error> Validator::structure() {
  if (fn_.blocks().empty()) return fail(nullptr, nullptr, "has no blocks");
  for (const Block* block : fn_.blocks()) blocks_.insert(block);
  if (!fn_.entry()->preds().empty()) return fail(fn_.entry(), nullptr, "the entry block has predecessors");
  std::unordered_map<const Block*, std::vector<const Block*>> expected_preds;
  for (const Block* block : fn_.blocks()) {
    if (block->parent() != &fn_) return fail(block, nullptr, "belongs to another function");
    if (!block->terminator()) return fail(block, block->last(), "the block does not end in a terminator");
    bool past_phis = false;
    uint32_t index = 0;
    for (const Inst* inst = block->first(); inst; inst = inst->next()) {
      position_[inst] = index++;
      if (inst->parent() != block) return fail(block, inst, "the instruction names another parent block");
      if (inst->is_terminator() && inst != block->last()) return fail(block, inst, "a terminator before the end");
      if (inst->op() == Opcode::Phi && past_phis) return fail(block, inst, "a phi after a non-phi instruction");
      past_phis = past_phis || inst->op() != Opcode::Phi;
    }
    const Inst* term = block->terminator();
    for (size_t i = 0; i < term->target_count(); ++i) {
      const Block* target = term->target(i);
      if (!target || !blocks_.count(target)) return fail(block, term, "a target outside the function");
      expected_preds[target].push_back(block);
    }
    if (term->target_count() == 2 && term->target(0) == term->target(1))
      return fail(block, term, "both targets are the same block");
  }
  for (const Block* block : fn_.blocks()) {
    auto want = expected_preds[block];
    std::vector<const Block*> have(block->preds().begin(), block->preds().end());
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    if (want != have) return fail(block, nullptr, "the predecessor list does not match the branches into the block");
    for (const Inst* inst = block->first(); inst && inst->op() == Opcode::Phi; inst = inst->next()) {
      std::vector<const Block*> incoming;
      for (size_t i = 0; i < inst->operand_count(); ++i) incoming.push_back(inst->incoming_block(i));
      std::sort(incoming.begin(), incoming.end());
      if (incoming != want) return fail(block, inst, "the phi's inputs do not match the predecessors one to one");
    }
  }
  return std::nullopt;
}

std::optional<Error> Validator::use_lists() {
  size_t operands = 0;
  std::unordered_set<const Value*> values;
  for (const Block* block : fn_.blocks())
    for (const Inst* inst = block->first(); inst; inst = inst->next()) {
      values.insert(inst);
      for (size_t i = 0; i < inst->operand_count(); ++i) {
        const Use& use = inst->use(i);
        if (!use.get()) return fail(block, inst, std::string("operand ") + std::to_string(i) + " is null");
        if (use.user() != inst || use.index() != i) return fail(block, inst, "a use names the wrong user");
        values.insert(use.get());
        ++operands;
      }
    }
  size_t listed = 0;
  for (const Value* value : values)
    for (const Use& use : value->uses()) {
      const Inst* user = use.user();
      if (!position_.count(user)) return fail(nullptr, nullptr, "a use list names an instruction outside the function");
      if (use.index() >= user->operand_count() || &user->use(use.index()) != &use || use.get() != value)
        return fail(user->parent(), user, "a use list entry does not match the operand");
      ++listed;
    }
  if (listed != operands) return fail(nullptr, nullptr, "the use lists do not hold every operand exactly once");
  return std::nullopt;
}

std::optional<Error> Validator::fields(const Block* block, const Inst* inst) const {
  const Attrs& a = inst->attrs();
  const OpcodeInfo& row = info(inst->op());
  auto bad = [&](const std::string& what) { return fail(block, inst, what); };
  if (row.operands >= 0 && inst->operand_count() != static_cast<size_t>(row.operands))
    return bad(std::string("takes ") + std::to_string(row.operands) + " operands");
  for (size_t i = 0; i < inst->operand_count(); ++i) {
    const Value* v = inst->operand(i);
    if (v->kind() == ValueKind::Inst && !static_cast<const Inst*>(v)->has_result())
      return bad(std::string("operand ") + std::to_string(i) + " names an instruction without a result");
    if (v->kind() == ValueKind::Inst && !position_.count(static_cast<const Inst*>(v)))
      return bad(std::string("operand ") + std::to_string(i) + " is defined outside the function");
  }
  // A constant operand of a 32-bit operation holds 32 bits at most.
  auto const_fits = [&](size_t i) {
    const Value* v = inst->operand(i);
    const uint8_t bits = inst->operand_bits(i);
    // A typed constant (a map or function address) is a 64-bit value the
    // operation reads the low bits of, as it reads a register's.
    return !v->is_const() || static_cast<const Const*>(v)->const_kind() != ConstKind::Int ||
           static_cast<const Const*>(v)->width() <= bits;
  };
  switch (row.kind) {
    case OpKind::Binary:
      if (!is_width(a.width, {32, 64})) return bad("width must be 32 or 64");
      if ((a.width == 64) != (a.ext == isa::Extension::None))
        return bad("a 32-bit result needs zext or sext; a 64-bit one neither");
      if (!const_fits(0) || !const_fits(1)) return bad("a constant wider than the operation");
      return std::nullopt;
    default: break;
  }
  switch (inst->op()) {
    case Opcode::Neg:
      if (!is_width(a.width, {32, 64}) || (a.width == 64) != (a.ext == isa::Extension::None))
        return bad("width must be 64, or 32 with zext or sext");
      break;
    case Opcode::SExt:
      if (!is_width(a.width, {8, 16, 32}) || !is_width(a.to, {32, 64}) || a.width >= a.to)
        return bad("sign-extends 8, 16 or 32 bits to 32 or 64");
      break;
    case Opcode::ZExt:
      if (!is_width(a.width, {8, 16, 32})) return bad("zero-extends 8, 16 or 32 bits");
      break;
    case Opcode::Bswap:
    case Opcode::ToLe:
    case Opcode::ToBe:
      if (!is_width(a.width, {16, 32, 64})) return bad("swaps 16, 32 or 64 bits");
      break;
    case Opcode::Alloc:
    case Opcode::AllocArray:
      if (a.imm <= 0 || (inst->op() == Opcode::AllocArray && a.aux <= 0)) return bad("allocates no bytes");
      break;
    case Opcode::Load:
    case Opcode::Store: {
      const Value* base = inst->operand(0);
      const auto* alloc = base->kind() == ValueKind::Inst ? static_cast<const Inst*>(base) : nullptr;
      if (!alloc || (alloc->op() != Opcode::Alloc && alloc->op() != Opcode::AllocArray))
        return bad("load and store go through an alloc (loadraw/storeraw take addresses)");
      const int64_t size = alloc->op() == Opcode::Alloc ? alloc->attrs().imm : alloc->attrs().imm * alloc->attrs().aux;
      if (a.offset < 0 || a.offset + a.width / 8 > size) return bad("the access leaves its alloc");
      [[fallthrough]];
    }
    case Opcode::LoadRaw:
    case Opcode::StoreRaw:
      if (!is_width(a.width, {8, 16, 32, 64})) return bad("accesses 8, 16, 32 or 64 bits");
      if ((inst->op() == Opcode::Store || inst->op() == Opcode::StoreRaw) && !const_fits(1))
        return bad("a constant wider than the store");
      if ((inst->op() == Opcode::Store || inst->op() == Opcode::StoreRaw) && a.is_signed) return bad("a signed store");
      break;
    case Opcode::Atomic: {
      const size_t want = a.atomic == AtomicOp::Cmpxchg ? 3 : 2;
      if (inst->operand_count() != want) return bad(std::string("takes ") + std::to_string(want) + " operands");
      if (!is_width(a.width, {32, 64})) return bad("atomics are 32 or 64 bits");
      break;
    }
    case Opcode::LdAbs:
    case Opcode::LdInd:
      if (!is_width(a.width, {8, 16, 32})) return bad("packet loads are 8, 16 or 32 bits");
      break;
    case Opcode::Call: {
      const bool indirect = a.call == CallKind::Indirect;
      const size_t args = inst->operand_count() - (indirect && inst->operand_count() > 0 ? 1 : 0);
      if ((indirect && inst->operand_count() == 0) || args > 5) return bad("a call takes up to 5 arguments");
      if ((a.call == CallKind::Local) != (inst->callee() != nullptr)) return bad("only local calls name a callee");
      if (inst->callee() && inst->callee()->module() != fn_.module()) return bad("the callee is in another module");
      break;
    }
    case Opcode::Core: {
      if (!isa::core_patchable(a.row)) return bad("core keeps an ALU row with an immediate, a load, a store or lddw");
      if (inst->operand_count() != core_shape(a.row).operands())
        return bad(std::string("takes ") + std::to_string(core_shape(a.row).operands()) + " operands");
      if (a.offset < INT16_MIN || a.offset > INT16_MAX ||
          (a.row != isa::Op::lddw && (a.imm < INT32_MIN || a.imm > INT32_MAX)) ||
          (a.row == isa::Op::lddw && a.offset != 0))
        return bad("a field wider than the row's (or an lddw's offset)");
      if (a.aux < 0) return bad("no relocation");
      break;
    }
    case Opcode::Br:
      if (!is_width(a.width, {32, 64})) return bad("width must be 32 or 64");
      if (a.cond == isa::Condition::None || a.cond == isa::Condition::Always) return bad("no condition");
      if (!const_fits(0) || !const_fits(1)) return bad("a constant wider than the comparison");
      break;
    case Opcode::Phi:
      for (size_t i = 0; i < inst->operand_count(); ++i)
        if (!inst->incoming_block(i)) return bad("a phi input without a block");
      break;
    default: break;
  }
  for (size_t i = 0; i < inst->operand_count(); ++i) {
    const Value* v = inst->operand(i);
    if (!v->is_const()) continue;
    const auto* c = static_cast<const Const*>(v);
    if (c->const_kind() == ConstKind::Func && (!c->target() || c->target()->module() != fn_.module()))
      return bad("a function constant names no function of the module");
  }
  return std::nullopt;
}

std::optional<Error> Validator::dominance() {
  DominatorTree tree(fn_);
  auto available = [&](const Inst* def, const Block* block, const Inst* user) {
    if (!tree.reachable(block)) return true;  // unreachable code: nothing to prove
    if (!tree.reachable(def->parent())) return false;
    if (def->parent() != block) return tree.dominates(def->parent(), block);
    return !user || position_.at(def) < position_.at(user);
  };
  for (const Block* block : fn_.blocks())
    for (const Inst* inst = block->first(); inst; inst = inst->next())
      for (size_t i = 0; i < inst->operand_count(); ++i) {
        const Value* v = inst->operand(i);
        if (v->kind() != ValueKind::Inst) continue;
        const auto* def = static_cast<const Inst*>(v);
        const bool ok =
            inst->op() == Opcode::Phi ? available(def, inst->incoming_block(i), nullptr) : available(def, block, inst);
        if (!ok)
          return fail(block, inst,
                      std::string("operand ") + std::to_string(i) + " is not defined on every path to its use");
      }
  return std::nullopt;
}

std::optional<Error> Validator::frame() const {
  const isa::FrameModel model = isa::frame_model(fn_.dialect());
  int64_t bytes = 0;
  for (const Block* block : fn_.blocks())
    for (const Inst* inst = block->first(); inst; inst = inst->next()) {
      const Attrs& a = inst->attrs();
      if (inst->op() == Opcode::Alloc) bytes += a.imm;
      if (inst->op() == Opcode::AllocArray) bytes += a.imm * a.aux;
      if (bytes > static_cast<int64_t>(model.frame_size))
        return fail(
            block, inst,
            std::string("the allocs need more than the ") + std::to_string(model.frame_size) + "-byte stack frame");
    }
  return std::nullopt;
}

Expected<void> Validator::run() {
  fn_.renumber();
  if (auto error = structure()) return *error;
  if (auto error = use_lists()) return *error;
  for (const Block* block : fn_.blocks())
    for (const Inst* inst = block->first(); inst; inst = inst->next())
      if (auto error = fields(block, inst)) return *error;
  if (auto error = dominance()) return *error;
  if (auto error = frame()) return *error;
  return {};
}

}  // namespace

Expected<void> validate(Function& fn) { return Validator(fn).run(); }

Expected<void> validate(Module& module) {
  if (module.functions().empty()) return make_error(Errc::BadOperand, "the module has no functions");
  for (const auto& fn : module.functions())
    if (auto result = validate(*fn); !result) return result;
  return {};
}

}  // namespace bpfkit::ir
