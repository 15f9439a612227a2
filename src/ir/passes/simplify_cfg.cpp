// CFG simplification: drop blocks the entry cannot reach, turn a branch
// whose operands are constants into a jump, merge a block into its only
// predecessor when that one jumps straight to it, and let edges skip a
// block that only jumps on.
#include <algorithm>
#include <unordered_set>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

bool drop_unreachable(Function& fn) {
  std::unordered_set<const Block*> reachable;
  for (Block* block : reverse_postorder(fn)) reachable.insert(block);
  return remove_unreachable_blocks(fn, [&](const Block* block) { return reachable.count(block) != 0; });
}

bool fold_constant_branches(Function& fn) {
  bool changed = false;
  for (Block* block : fn.blocks()) {
    Inst* branch = block->terminator();
    if (!branch || branch->op() != Opcode::Br) continue;
    const auto a = int_value(branch->operand(0)), b = int_value(branch->operand(1));
    if (!a || !b) continue;
    replace_branch_with_jump(fn, branch, branch->target(branch_taken(*branch, *a, *b) ? 0 : 1));
    changed = true;
  }
  return changed;
}

// Moves `block`'s instructions to the end of `pred`, whose `ja` is its only
// way in; its successors' phis then name pred.
void merge_into(Function& fn, Block* pred, Block* block) {
  fn.erase(pred->terminator());
  while (Inst* phi = block->first()) {
    if (phi->op() != Opcode::Phi) break;
    phi->replace_all_uses_with(phi->operand(0));
    fn.erase(phi);
  }
  for (Block* succ : block->succs())
    for (Inst* phi = succ->first(); phi && phi->op() == Opcode::Phi; phi = phi->next())
      if (const int index = phi->incoming_index(block); index >= 0) phi->set_incoming_block(index, pred);
  while (Inst* inst = block->first()) inst->move_to_end(pred);
  fn.erase_block(block);
}

bool merge_straight_lines(Function& fn) {
  bool changed = false;
  for (size_t i = 0; i < fn.blocks().size(); ++i) {
    Block* block = fn.blocks()[i];
    if (block == fn.entry() || block->preds().size() != 1) continue;
    Block* pred = block->preds().front();
    Inst* jump = pred->terminator();
    if (pred == block || !jump || jump->op() != Opcode::Ja) continue;
    merge_into(fn, pred, block);
    changed = true;
    --i;  // the block at i is gone: look at its successor in the layout
  }
  return changed;
}

// The block an edge into `block` may go to instead: the target of its lone
// `ja` (null if it has anything else, or jumps to itself).
Block* forwarding_target(const Block* block) {
  const Inst* only = block->first();
  if (!only || only != block->last() || only->op() != Opcode::Ja) return nullptr;
  Block* target = only->target(0);
  return target == block ? nullptr : target;
}

bool skip_empty_blocks(Function& fn) {
  bool changed = false;
  // Blocks this sweep left with no way in but from such blocks: unreachable
  // (drop_unreachable deletes them). Their edges are not redirected: along a
  // chain of empty blocks that dragged every dead block to the chain's next
  // block, O(n^2) edges for n blocks.
  std::unordered_set<const Block*> dead;
  auto is_dead = [&](const Block* b) { return b != fn.entry() && (b->preds().empty() || dead.count(b)); };
  auto all_dead = [&](const Block* b) {
    return b != fn.entry() && std::all_of(b->preds().begin(), b->preds().end(), is_dead);
  };
  for (Block* block : fn.blocks()) {
    if (all_dead(block)) {
      dead.insert(block);
      continue;
    }
    Block* target = forwarding_target(block);
    if (!target || block == fn.entry()) continue;
    const std::vector<Block*> preds = block->preds();
    for (Block* pred : preds) {
      if (is_dead(pred)) continue;
      // The values target's phis get from `block` now come from pred.
      std::vector<Value*> values;
      for (Inst* phi = target->first(); phi && phi->op() == Opcode::Phi; phi = phi->next())
        values.push_back(phi->operand(static_cast<size_t>(phi->incoming_index(block))));
      const bool already = std::find(target->preds().begin(), target->preds().end(), pred) != target->preds().end();
      if (already) continue;  // pred -> target exists: a second edge would need two phi inputs
      if (redirect_edge(pred, block, target, values)) changed = true;
    }
    if (all_dead(block)) dead.insert(block);
  }
  return changed;
}

}  // namespace

Expected<bool> run_simplify_cfg(Function& fn, const PassParams&) {
  if (!fn.entry()) return false;
  bool changed = fold_constant_branches(fn);
  changed |= skip_empty_blocks(fn);
  changed |= drop_unreachable(fn);
  changed |= merge_straight_lines(fn);
  return changed;
}

}  // namespace bpfkit::ir::passes
