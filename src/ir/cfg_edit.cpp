// CFG edits that keep phis right: every edge that moves takes its phi
// inputs with it, so the one-to-one match of phi inputs and predecessors
// (which validate() checks) survives each edit.
#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

namespace {
// Phis of `block` that named `from` name `to` instead.
void rename_incoming(Block* block, Block* from, Block* to) {
  for (Inst* phi = block->first(); phi && phi->op() == Opcode::Phi; phi = phi->next()) {
    const int i = phi->incoming_index(from);
    if (i >= 0) phi->set_incoming_block(static_cast<size_t>(i), to);
  }
}
}  // namespace

Block* split_block(Inst* at) {
  Block* old_block = at->parent();
  Function& fn = *old_block->parent();
  Block* new_block = fn.add_block_after(old_block);
  const std::vector<Block*> succs = old_block->succs();
  // Moving the terminator moves old_block's outgoing edges to new_block.
  for (Inst* inst = at; inst;) {
    Inst* next = inst->next();
    inst->move_to_end(new_block);
    inst = next;
  }
  for (Block* succ : succs) rename_incoming(succ, old_block, new_block);
  Builder builder(fn, back(old_block));
  builder.set_origin(at->origin());
  builder.jump(new_block);
  return new_block;
}

Block* split_edge(Block* from, Block* to) {
  Function& fn = *from->parent();
  Block* middle = fn.add_block_after(from);
  Inst* term = from->terminator();
  for (size_t i = 0; i < term->target_count(); ++i)
    if (term->target(i) == to) term->set_target(i, middle);
  Builder builder(fn, back(middle));
  builder.set_origin(term->origin());
  builder.jump(to);
  rename_incoming(to, from, middle);
  return middle;
}

void remove_predecessor(Block* block, Block* pred) {
  for (Inst* phi = block->first(); phi && phi->op() == Opcode::Phi; phi = phi->next()) {
    const int i = phi->incoming_index(pred);
    if (i >= 0) phi->remove_incoming(static_cast<size_t>(i));
  }
}

Expected<void> redirect_edge(Block* from, Block* old_to, Block* new_to, std::span<Value* const> values) {
  Inst* term = from->terminator();
  int index = -1;
  for (size_t i = 0; term && i < term->target_count(); ++i) {
    if (term->target(i) == old_to) index = static_cast<int>(i);
    if (term->target(i) == new_to && new_to != old_to)
      return make_error(Errc::BadOperand, "the branch would name its target block twice");
  }
  if (index < 0) return make_error(Errc::BadOperand, "no edge from the block to the old target");
  if (old_to == new_to) return {};
  size_t phis = 0;
  for (Inst* phi = new_to->first(); phi && phi->op() == Opcode::Phi; phi = phi->next()) ++phis;
  if (!values.empty() && values.size() != phis)
    return make_error(Errc::BadOperand, "one value per phi of the new target is needed");
  remove_predecessor(old_to, from);
  term->set_target(static_cast<size_t>(index), new_to);
  size_t k = 0;
  Function& fn = *from->parent();
  for (Inst* phi = new_to->first(); phi && phi->op() == Opcode::Phi; phi = phi->next(), ++k)
    phi->add_incoming(values.empty() ? fn.undef() : values[k], from);
  return {};
}

}  // namespace bpfkit::ir
