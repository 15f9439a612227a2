// Liveness of SSA values, one value at a time: from each use walk the
// predecessors back to the definition (Appel's path exploration), with an
// explicit worklist. A phi's use is at the end of its incoming block.
#include <algorithm>
#include <unordered_set>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir {

Liveness::Liveness(const Function& fn) {
  const auto& blocks = fn.blocks();
  for (size_t i = 0; i < blocks.size(); ++i) index_[blocks[i]] = i;
  in_.assign(blocks.size(), {});
  out_.assign(blocks.size(), {});
  // Every value with uses: its defining block (entry values: the entry).
  std::vector<std::pair<const Value*, const Block*>> values;
  std::unordered_set<const Value*> seen;
  auto consider = [&](const Value* value, const Block* def_block) {
    if (value->has_uses() && seen.insert(value).second) values.emplace_back(value, def_block);
  };
  Function& mutable_fn = const_cast<Function&>(fn);
  if (fn.entry()) {
    for (int reg = 1; reg <= 5; ++reg) consider(mutable_fn.arg(reg), fn.entry());
    consider(mutable_fn.frame_pointer(), fn.entry());
  }
  for (const Block* block : blocks)
    for (const Inst& inst : *block)
      if (inst.has_result()) consider(&inst, block);
  std::vector<char> live_in_marked(blocks.size()), live_out_marked(blocks.size());
  std::vector<size_t> work;
  for (const auto& entry : values) {
    // Not a structured binding: clang before 16 cannot capture one in a lambda.
    const Value* value = entry.first;
    const Block* def_block = entry.second;
    std::fill(live_in_marked.begin(), live_in_marked.end(), 0);
    std::fill(live_out_marked.begin(), live_out_marked.end(), 0);
    work.clear();
    // The block's value is live out of `block`; if not defined there, live in too.
    auto live_out_of = [&](const Block* block) {
      auto it = index_.find(block);
      if (it == index_.end() || live_out_marked[it->second]) return;
      live_out_marked[it->second] = 1;
      out_[it->second].push_back(value);
      if (block != def_block) work.push_back(it->second);
    };
    for (const Use& use : value->uses()) {
      const Inst* user = use.user();
      if (user->op() == Opcode::Phi) {
        live_out_of(user->incoming_block(use.index()));
      } else if (user->parent() != def_block) {
        auto it = index_.find(user->parent());
        if (it != index_.end()) work.push_back(it->second);
      }
    }
    while (!work.empty()) {  // blocks the value is live into
      const size_t b = work.back();
      work.pop_back();
      if (live_in_marked[b]) continue;
      live_in_marked[b] = 1;
      in_[b].push_back(value);
      for (const Block* pred : blocks[b]->preds()) live_out_of(pred);
    }
  }
}

const std::vector<const Value*>& Liveness::live_in(const Block* block) const { return in_[index_.at(block)]; }
const std::vector<const Value*>& Liveness::live_out(const Block* block) const { return out_[index_.at(block)]; }

bool Liveness::is_live_in(const Block* block, const Value* value) const {
  const auto& list = live_in(block);
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool Liveness::is_live_out(const Block* block, const Value* value) const {
  const auto& list = live_out(block);
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace bpfkit::ir
