// Basic blocks: the intrusive instruction list, predecessors (kept by the
// terminators' targets), successors.
#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

Block::~Block() {
  // Function drops every operand before it deletes blocks, so no use list
  // points into a deleted instruction.
  for (Inst* inst = first_; inst;) {
    Inst* next = inst->next_;
    delete inst;
    inst = next;
  }
}

size_t Block::size() const {
  size_t count = 0;
  for (Inst* inst = first_; inst; inst = inst->next_) ++count;
  return count;
}

Inst* Block::terminator() const { return last_ && last_->is_terminator() ? last_ : nullptr; }

Inst* Block::first_non_phi() const {
  Inst* inst = first_;
  while (inst && inst->op() == Opcode::Phi) inst = inst->next_;
  return inst;
}

std::vector<Block*> Block::succs() const {
  std::vector<Block*> out;
  if (Inst* term = terminator())
    for (size_t i = 0; i < term->target_count(); ++i)
      if (term->target(i)) out.push_back(term->target(i));
  return out;
}

void Block::insert_before(Inst* inst, Inst* before) {
  inst->parent_ = this;
  inst->next_ = before;
  inst->prev_ = before ? before->prev_ : last_;
  if (inst->prev_)
    inst->prev_->next_ = inst;
  else
    first_ = inst;
  if (before)
    before->prev_ = inst;
  else
    last_ = inst;
  inst->link_targets();
}

void Block::unlink(Inst* inst) {
  inst->unlink_targets();
  if (inst->prev_)
    inst->prev_->next_ = inst->next_;
  else
    first_ = inst->next_;
  if (inst->next_)
    inst->next_->prev_ = inst->prev_;
  else
    last_ = inst->prev_;
  inst->prev_ = inst->next_ = nullptr;
  inst->parent_ = nullptr;
}

}  // namespace bpfkit::ir
