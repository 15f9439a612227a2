// Reverse postorder and the dominator tree (Cooper, Harvey and Kennedy's
// iterative algorithm), dominance frontiers. Iterative throughout: a
// program's size never becomes recursion depth.
#include <algorithm>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

std::vector<Block*> reverse_postorder(const Function& fn) {
  std::vector<Block*> post;
  Block* entry = fn.entry();
  if (!entry) return post;
  std::unordered_map<const Block*, bool> seen;
  struct Frame {
    Block* block;
    std::vector<Block*> succs;
    size_t next;
  };
  std::vector<Frame> stack;
  seen[entry] = true;
  stack.push_back({entry, entry->succs(), 0});
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next < top.succs.size()) {
      Block* succ = top.succs[top.next++];
      if (!seen[succ]) {
        seen[succ] = true;
        stack.push_back({succ, succ->succs(), 0});
      }
      continue;
    }
    post.push_back(top.block);
    stack.pop_back();
  }
  std::reverse(post.begin(), post.end());
  return post;
}

DominatorTree::DominatorTree(const Function& fn) : rpo_(reverse_postorder(fn)) {
  const int n = static_cast<int>(rpo_.size());
  for (int i = 0; i < n; ++i) index_[rpo_[i]] = i;
  idom_.assign(n, -1);
  if (n == 0) return;
  idom_[0] = 0;
  auto intersect = [&](int a, int b) {
    while (a != b) {
      while (a > b) a = idom_[a];
      while (b > a) b = idom_[b];
    }
    return a;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 1; i < n; ++i) {
      int new_idom = -1;
      for (Block* pred : rpo_[i]->preds()) {
        const int p = rpo_index(pred);
        if (p < 0 || idom_[p] < 0) continue;
        new_idom = new_idom < 0 ? p : intersect(p, new_idom);
      }
      if (new_idom != idom_[i]) {
        idom_[i] = new_idom;
        changed = true;
      }
    }
  }
  children_.assign(n, {});
  for (int i = 1; i < n; ++i) children_[idom_[i]].push_back(rpo_[i]);
  // Pre/post numbers of the dominator tree: a dominates b iff a's interval
  // holds b's.
  pre_.assign(n, 0);
  post_.assign(n, 0);
  uint32_t clock = 0;
  std::vector<std::pair<int, size_t>> stack{{0, 0}};
  pre_[0] = clock++;
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < children_[node].size()) {
      const int child = index_.at(children_[node][next++]);
      pre_[child] = clock++;
      stack.push_back({child, 0});
      continue;
    }
    post_[node] = clock++;
    stack.pop_back();
  }
}

int DominatorTree::rpo_index(const Block* block) const {
  auto it = index_.find(block);
  return it == index_.end() ? -1 : it->second;
}

bool DominatorTree::reachable(const Block* block) const { return rpo_index(block) >= 0; }

Block* DominatorTree::idom(const Block* block) const {
  const int i = rpo_index(block);
  return i <= 0 ? nullptr : rpo_[idom_[i]];
}

bool DominatorTree::dominates(const Block* a, const Block* b) const {
  const int ia = rpo_index(a), ib = rpo_index(b);
  if (ia < 0 || ib < 0) return false;
  return pre_[ia] <= pre_[ib] && post_[ib] <= post_[ia];
}

bool DominatorTree::dominates(const Inst* def, const Inst* user) const {
  if (def->parent() != user->parent()) return dominates(def->parent(), user->parent());
  for (const Inst* inst = def->next(); inst; inst = inst->next())
    if (inst == user) return true;
  return false;
}

const std::vector<Block*>& DominatorTree::children(const Block* block) const {
  static const std::vector<Block*> none;
  const int i = rpo_index(block);
  return i < 0 ? none : children_[i];
}

std::vector<std::vector<Block*>> DominatorTree::frontiers() const {
  const int n = static_cast<int>(rpo_.size());
  std::vector<std::vector<Block*>> frontier(n);
  for (int b = 0; b < n; ++b) {
    std::vector<int> preds;
    for (Block* pred : rpo_[b]->preds())
      if (rpo_index(pred) >= 0) preds.push_back(rpo_index(pred));
    if (preds.size() < 2) continue;
    for (int runner : preds) {
      while (runner != idom_[b]) {
        auto& list = frontier[runner];
        if (list.empty() || list.back() != rpo_[b]) list.push_back(rpo_[b]);
        runner = idom_[runner];
      }
    }
  }
  return frontier;
}

}  // namespace bpfkit::ir
