// Instructions: operands (kept in their values' use lists), branch targets
// (kept in the target blocks' predecessor lists), phi incoming blocks, and
// moving an instruction within or between blocks.
#include <algorithm>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

namespace {
void erase_one(std::vector<Block*>& list, Block* block) {
  auto it = std::find(list.begin(), list.end(), block);
  if (it != list.end()) list.erase(it);
}
}  // namespace

Inst::~Inst() {
  for (Use& use : operands_) use.unlink();
}

CoreShape core_shape(isa::Op row) {
  isa::Slot slot;  // registers dst = 1, src = 2, to tell the fields apart
  slot.code = isa::info(row).code;
  slot.set_dst(1);
  slot.set_src(2);
  const isa::RegSet used = isa::regs_used(row, slot), written = isa::regs_written(row, slot);
  const isa::MemoryAccess memory = isa::shape_info(row).memory;
  return {used.contains(1), used.contains(2), written.contains(1),
          memory == isa::MemoryAccess::Load || memory == isa::MemoryAccess::Store};
}

bool Inst::has_result() const {
  const int result = info(op_).result;
  if (result >= 0) return result == 1;
  if (op_ == Opcode::Core) return core_shape(attrs_.row).defines;
  return attrs_.fetch || attrs_.atomic == AtomicOp::Cmpxchg || attrs_.atomic == AtomicOp::Xchg;
}

void Inst::resize_operands(size_t count) {
  std::vector<Value*> values = operand_values();
  values.resize(count, nullptr);
  for (Use& use : operands_) use.unlink();
  operands_.clear();
  operands_.reserve(count + count / 2 + 2);  // phis grow one input at a time
  operands_.resize(count);                   // fresh, unlinked uses: their addresses are final now
  for (size_t i = 0; i < count; ++i) {
    operands_[i].user_ = this;
    operands_[i].link(values[i]);
  }
}

std::vector<Value*> Inst::operand_values() const {
  std::vector<Value*> values;
  values.reserve(operands_.size());
  for (const Use& use : operands_) values.push_back(use.get());
  return values;
}

void Inst::set_operand(size_t i, Value* value) { operands_[i].link(value); }

uint8_t Inst::operand_bits(size_t i) const {
  const bool narrow_op = is_binary(op_) || op_ == Opcode::Br;
  const bool stored_value = (op_ == Opcode::Store || op_ == Opcode::StoreRaw) && i == 1;
  return narrow_op || stored_value ? attrs_.width : 64;
}

void Inst::add_operand(Value* value) {
  if (operands_.size() < operands_.capacity()) {  // no reallocation: the other uses stay where they are
    operands_.emplace_back();
    operands_.back().user_ = this;
    operands_.back().link(value);
    return;
  }
  resize_operands(operands_.size() + 1);
  operands_.back().link(value);
}

void Inst::remove_operand(size_t i) {
  std::vector<Value*> values = operand_values();
  values.erase(values.begin() + static_cast<std::ptrdiff_t>(i));
  for (Use& use : operands_) use.unlink();
  operands_.resize(values.size());
  for (size_t k = 0; k < values.size(); ++k) {
    operands_[k].user_ = this;
    operands_[k].link(values[k]);
  }
}

size_t Inst::target_count() const {
  switch (op_) {
    case Opcode::Ja: return 1;
    case Opcode::Br:
    case Opcode::MayGoto: return 2;
    default: return 0;
  }
}

void Inst::set_target(size_t i, Block* block) {
  if (parent_ && targets_[i]) erase_one(targets_[i]->preds_, parent_);
  targets_[i] = block;
  if (parent_ && block) block->preds_.push_back(parent_);
}

void Inst::link_targets() {
  for (size_t i = 0; i < target_count(); ++i)
    if (targets_[i]) targets_[i]->preds_.push_back(parent_);
}

void Inst::unlink_targets() {
  for (size_t i = 0; i < target_count(); ++i)
    if (targets_[i]) erase_one(targets_[i]->preds_, parent_);
}

void Inst::add_incoming(Value* value, Block* from) {
  add_operand(value);
  incoming_.push_back(from);
}

void Inst::remove_incoming(size_t i) {
  remove_operand(i);
  incoming_.erase(incoming_.begin() + static_cast<std::ptrdiff_t>(i));
}

int Inst::incoming_index(const Block* from) const {
  for (size_t i = 0; i < incoming_.size(); ++i)
    if (incoming_[i] == from) return static_cast<int>(i);
  return -1;
}

void Inst::move_before(Inst* other) {
  if (other == this) return;
  if (parent_) parent_->unlink(this);
  other->parent_->insert_before(this, other);
}

void Inst::move_after(Inst* other) {
  if (other == this) return;
  if (parent_) parent_->unlink(this);
  other->parent_->insert_before(this, other->next_);
}

void Inst::move_to_end(Block* block) {
  if (parent_) parent_->unlink(this);
  block->insert_before(this, nullptr);
}

}  // namespace bpfkit::ir
