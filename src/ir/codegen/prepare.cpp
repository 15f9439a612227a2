// CFG preparation for code generation (prepare.hpp).
#include "prepare.hpp"

#include <algorithm>
#include <unordered_map>

namespace bpfkit::ir::codegen {

namespace {

// The values `block`'s phis take from `pred`, in phi order.
std::vector<Value*> phi_inputs(Block* block, Block* pred) {
  std::vector<Value*> values;
  for (Inst* phi = block->first(); phi && phi->op() == Opcode::Phi; phi = phi->next())
    values.push_back(phi->operand(static_cast<size_t>(phi->incoming_index(pred))));
  return values;
}

// Whether giving these inputs costs copies whatever registers the
// allocator picks: a constant (or undef) is always made on the edge.
bool needs_copies(const std::vector<Value*>& values) {
  return std::any_of(values.begin(), values.end(),
                     [](const Value* v) { return v->is_const() || v->kind() == ValueKind::Undef; });
}

// Joins the predecessors of `block` that hand its phis the same values.
size_t join_block(Block* block, const DominatorTree& tree, const std::unordered_map<const Block*, size_t>& layout) {
  if (!block->first() || block->first()->op() != Opcode::Phi || block->preds().size() < 2) return 0;
  std::vector<std::pair<std::vector<Value*>, std::vector<Block*>>> groups;
  for (Block* pred : block->preds()) {
    if (tree.dominates(block, pred)) continue;  // a back edge
    std::vector<Value*> values = phi_inputs(block, pred);
    auto same = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == values; });
    if (same == groups.end())
      groups.push_back({std::move(values), {pred}});
    else
      same->second.push_back(pred);
  }
  size_t added = 0;
  for (auto& [values, preds] : groups) {
    if (preds.size() < 2 || !needs_copies(values)) continue;
    // The new block goes after the last of them, which may then fall into it.
    Block* last =
        *std::max_element(preds.begin(), preds.end(), [&](Block* a, Block* b) { return layout.at(a) < layout.at(b); });
    Block* join = split_edge(last, block);
    for (Block* pred : preds)
      if (pred != last) (void)redirect_edge(pred, block, join);  // join has no phis: cannot fail
    ++added;
  }
  return added;
}

}  // namespace

size_t join_phi_edges(Function& fn) {
  const DominatorTree tree(fn);
  std::unordered_map<const Block*, size_t> layout;
  for (Block* block : fn.blocks()) layout[block] = layout.size();
  const std::vector<Block*> blocks = fn.blocks();  // joins add blocks
  size_t added = 0;
  for (Block* block : blocks)
    if (tree.reachable(block)) added += join_block(block, tree, layout);
  return added;
}

}  // namespace bpfkit::ir::codegen
