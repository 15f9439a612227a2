// Natural loops from the dominator tree: a back edge is an edge to a block
// that dominates its source; a loop's body is what reaches the latches
// backwards without passing the header. Nesting by inclusion.
#include <algorithm>
#include <unordered_set>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

LoopInfo::LoopInfo(const Function& fn, const DominatorTree& tree) {
  std::vector<std::unique_ptr<Loop>> found;
  for (Block* header : tree.order()) {
    auto loop = std::make_unique<Loop>();
    for (Block* pred : header->preds())
      if (tree.reachable(pred) && tree.dominates(header, pred)) loop->latches.push_back(pred);
    if (loop->latches.empty()) continue;
    loop->header = header;
    std::unordered_set<const Block*> body{header};
    loop->blocks.push_back(header);
    std::vector<Block*> work(loop->latches.begin(), loop->latches.end());
    while (!work.empty()) {
      Block* block = work.back();
      work.pop_back();
      if (!body.insert(block).second) continue;
      loop->blocks.push_back(block);
      for (Block* pred : block->preds())
        if (tree.reachable(pred)) work.push_back(pred);
    }
    found.push_back(std::move(loop));
  }
  (void)fn;
  // Smaller loops are inner: a block's innermost loop is the smallest one
  // holding it, and a loop's parent the smallest larger one holding its header.
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a->blocks.size() < b->blocks.size(); });
  for (const auto& loop : found)
    for (Block* block : loop->blocks) innermost_.try_emplace(block, loop.get());
  for (size_t i = 0; i < found.size(); ++i)
    for (size_t j = i + 1; j < found.size() && !found[i]->parent; ++j)
      if (found[j]->blocks.size() > found[i]->blocks.size() &&
          std::find(found[j]->blocks.begin(), found[j]->blocks.end(), found[i]->header) != found[j]->blocks.end())
        found[i]->parent = found[j].get();
  for (auto& loop : found) {
    unsigned depth = 1;
    for (Loop* up = loop->parent; up; up = up->parent) ++depth;
    loop->depth = depth;
  }
  std::stable_sort(found.begin(), found.end(), [&](const auto& a, const auto& b) {
    if (a->depth != b->depth) return a->depth < b->depth;
    return tree.rpo_index(a->header) < tree.rpo_index(b->header);
  });
  loops_ = std::move(found);
}

Loop* LoopInfo::loop_of(const Block* block) const {
  auto it = innermost_.find(block);
  return it == innermost_.end() ? nullptr : it->second;
}

unsigned LoopInfo::depth(const Block* block) const {
  const Loop* loop = loop_of(block);
  return loop ? loop->depth : 0;
}

}  // namespace bpfkit::ir
