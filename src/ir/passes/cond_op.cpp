// Conditional operations. Clang makes `if (c) n++` into n + (c ? 1 : 0),
// and the BPF backend lowers that select to `w1 = 1; if c goto +1; w1 = 0;
// w6 += w1`: four instructions. Here an operation on a phi of two integer
// constants, one of them the operation's identity, moves onto the phi's
// edges: the identity's edge passes the other operand on unchanged and only
// the other edge computes, `if !c goto +1; w6 += 1`.
//
// Counters summed in one chain (an unrolled loop's) are first put in the
// order their phis are defined (reassociation: adds wrap and bitwise
// operations do not care, so any order gives the same bits), so that each
// partial sum is available on the edges of the next counter's phi.
#include <algorithm>
#include <array>
#include <climits>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

// A chain longer than this is left as it is (its rebuild would cost more
// than it could save, and a bound keeps the pass linear).
constexpr size_t kMostLeaves = 64;

bool associative(Opcode op) { return op == Opcode::Add || op == Opcode::Or || op == Opcode::Xor; }

// Whether `op` with `k` as operand `slot` leaves the other operand as it is.
bool is_identity(Opcode op, size_t slot, uint64_t k) {
  if (k != 0) return false;
  return associative(op) || (op == Opcode::Sub && slot == 1);
}

// A phi of two integer constants from two different blocks, with one use.
bool constant_phi(const Value* value) {
  if (value->kind() != ValueKind::Inst) return false;
  const auto* phi = static_cast<const Inst*>(value);
  return phi->op() == Opcode::Phi && phi->operand_count() == 2 && phi->incoming_block(0) != phi->incoming_block(1) &&
         int_value(phi->operand(0)) && int_value(phi->operand(1)) && phi->use_count() == 1;
}

uint64_t masked(uint64_t k, unsigned width) { return width == 32 ? static_cast<uint32_t>(k) : k; }

// Whether `value` is defined on every way into `join` (in a block that
// strictly dominates it).
bool available_before(const Value* value, const Block* join, const DominatorTree& tree) {
  if (value->kind() != ValueKind::Inst) return true;
  const Block* home = static_cast<const Inst*>(value)->parent();
  return home != join && tree.dominates(home, join);
}

// The blocks reachable from `from` (itself included), or nullopt when there
// are more than kMostBlocksAhead: the search stays cheap on large programs.
constexpr size_t kMostBlocksAhead = 256;

std::optional<std::unordered_set<const Block*>> blocks_ahead(const Block* from) {
  std::unordered_set<const Block*> seen{from};
  std::vector<const Block*> pending{from};
  while (!pending.empty()) {
    const Block* block = pending.back();
    pending.pop_back();
    for (const Block* succ : block->succs())
      if (seen.insert(succ).second) {
        if (seen.size() > kMostBlocksAhead) return std::nullopt;
        pending.push_back(succ);
      }
  }
  return seen;
}

// Whether x is read only before `join` (besides by the users skipped):
// then x dies on the phi's edges and the edge's operation can write x's
// register, where a later reader would have each edge copy x first.
template <typename Skip>
bool dies_before(const Value* x, const Block* join, Skip skip) {
  if (x->use_count() == 1) return true;
  const auto ahead = blocks_ahead(join);
  if (!ahead) return false;
  for (const Use& u : x->uses()) {
    const Inst* user = u.user();
    if (skip(user)) continue;
    const Block* at = user->op() == Opcode::Phi ? user->incoming_block(u.index()) : user->parent();
    if (ahead->contains(at)) return false;
  }
  return true;
}

// `use` = x op phi, with the phi in operand `slot`: whether moving the
// operation onto the phi's edges saves instructions. The phi's identity
// edge must pass x on as the operation's result would be (a 32-bit one
// zero-extends), x must be available on both edges and die there.
bool movable_onto_edges(const Inst& use, size_t slot, const DominatorTree& tree) {
  const auto* phi = static_cast<const Inst*>(use.operand(slot));
  const Value* x = use.operand(1 - slot);
  const Attrs& a = use.attrs();
  if (!is_binary(use.op()) || a.ext == isa::Extension::Sign || x->is_const()) return false;
  if (use.width() == 32 && significant_bits(x) > 32) return false;
  const bool identity0 = is_identity(use.op(), slot, masked(*int_value(phi->operand(0)), use.width()));
  const bool identity1 = is_identity(use.op(), slot, masked(*int_value(phi->operand(1)), use.width()));
  if (identity0 == identity1) return false;  // both: sccp's; neither: no saving
  const Block* join = phi->parent();
  for (size_t i = 0; i < 2; ++i)
    if (!tree.reachable(phi->incoming_block(i))) return false;
  return available_before(x, join, tree) && dies_before(x, join, [&use](const Inst* user) { return user == &use; });
}

// Replaces `use` (x op phi) by a phi of x op k on each of the phi's edges.
void move_onto_edges(Function& fn, Inst* use, size_t slot) {
  auto* phi = static_cast<Inst*>(use->operand(slot));
  Value* x = use->operand(1 - slot);
  Block* join = phi->parent();
  std::array<Value*, 2> results{};
  for (size_t i = 0; i < 2; ++i) {
    const uint64_t k = *int_value(phi->operand(i));
    if (is_identity(use->op(), slot, masked(k, use->width()))) {
      results[i] = x;
      continue;
    }
    Block* from = phi->incoming_block(i);
    Block* at = from->succs().size() == 1 ? from : split_edge(from, join);
    Builder builder(fn, before_terminator(at));
    builder.set_origin(use->origin());
    Value* constant = phi->operand(i);
    results[i] = slot == 1 ? builder.binary(use->op(), use->width(), x, constant, use->attrs().ext)
                           : builder.binary(use->op(), use->width(), constant, x, use->attrs().ext);
  }
  Builder builder(fn, front(join));
  builder.set_origin(use->origin());
  Inst* merged = builder.phi();
  for (size_t i = 0; i < 2; ++i) merged->add_incoming(results[i], phi->incoming_block(i));
  use->replace_all_uses_with(merged);
  fn.erase(use);
  fn.erase(phi);
}

// Where a value is defined, for ordering a chain's leaves: a definition
// that dominates another comes first.
class Ranks {
 public:
  explicit Ranks(const DominatorTree& tree) : tree_(tree) {}
  std::pair<int, int> of(const Value* value) {
    if (value->is_const()) return {INT_MAX, 0};  // last: an immediate operand
    if (value->kind() != ValueKind::Inst) return {-1, static_cast<int>(value->kind())};
    const auto* inst = static_cast<const Inst*>(value);
    return {tree_.rpo_index(inst->parent()), position(inst)};
  }
  // After the block's instructions changed (a chain rebuilt in it).
  void forget(const Block* block) {
    for (const Inst* i = block->first(); i; i = i->next()) positions_.erase(i);
  }

 private:
  int position(const Inst* inst) {
    if (const auto it = positions_.find(inst); it != positions_.end()) return it->second;
    int at = 0;
    for (const Inst* i = inst->parent()->first(); i; i = i->next()) positions_[i] = at++;
    return positions_[inst];
  }
  const DominatorTree& tree_;
  std::unordered_map<const Inst*, int> positions_;
};

bool same_kind(const Value* value, const Inst& root) {
  if (value->kind() != ValueKind::Inst) return false;
  const auto* inst = static_cast<const Inst*>(value);
  return inst->op() == root.op() && inst->attrs() == root.attrs() && inst->parent() == root.parent() &&
         inst->use_count() == 1;
}

// The leaves of the chain ending at `root`, left to right, or empty when
// the chain is too long.
std::vector<Value*> chain_leaves(const Inst& root) {
  std::vector<Value*> leaves;
  std::vector<Value*> pending{root.operand(1), root.operand(0)};
  while (!pending.empty()) {
    Value* value = pending.back();
    pending.pop_back();
    if (same_kind(value, root)) {
      const auto* node = static_cast<const Inst*>(value);
      pending.push_back(node->operand(1));
      pending.push_back(node->operand(0));
    } else if (leaves.push_back(value); leaves.size() > kMostLeaves) {
      return {};
    }
  }
  return leaves;
}

// Whether the chain is already ((l0 op l1) op l2) ... with these leaves.
bool in_order(const Inst& root, const std::vector<Value*>& sorted) {
  const Inst* node = &root;
  for (size_t i = sorted.size() - 1; i >= 1; --i) {
    if (node->operand(1) != sorted[i]) return false;
    if (i == 1) return node->operand(0) == sorted[0];
    if (!same_kind(node->operand(0), root)) return false;
    node = static_cast<const Inst*>(node->operand(0));
  }
  return false;
}

// Whether, summed in this order, the first constant phi gets a partial sum
// of leaves that are all available before its block (and dies there, when
// that sum is one leaf): a move the order makes possible. Otherwise the
// rebuild changes nothing worth having.
bool enables_a_move(const std::vector<Value*>& sorted, const Inst& root, const DominatorTree& tree) {
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (!constant_phi(sorted[i])) continue;
    const Block* join = static_cast<const Inst*>(sorted[i])->parent();
    const auto before = sorted.begin() + static_cast<std::ptrdiff_t>(i);
    if (!std::all_of(sorted.begin(), before,
                     [&](const Value* leaf) { return !leaf->is_const() && available_before(leaf, join, tree); }))
      return false;
    const auto in_chain = [&root](const Inst* user) { return user == &root || same_kind(user, root); };
    return i > 1 || dies_before(sorted[0], join, in_chain);
  }
  return false;
}

// Rebuilds the chain ending at `root` with its leaves in definition order
// (constants last), when that lets a constant phi's operation move onto
// its edges. Returns whether it did.
bool reassociate(Function& fn, Inst* root, Ranks& ranks, const DominatorTree& tree) {
  std::vector<Value*> leaves = chain_leaves(*root);
  if (leaves.size() < 3 || std::none_of(leaves.begin(), leaves.end(), constant_phi)) return false;
  std::stable_sort(leaves.begin(), leaves.end(),
                   [&ranks](const Value* a, const Value* b) { return ranks.of(a) < ranks.of(b); });
  if (in_order(*root, leaves) || !enables_a_move(leaves, *root, tree)) return false;
  ranks.forget(root->parent());  // before the chain's nodes go: positions are by address
  Builder builder(fn, before(root));
  builder.set_origin(root->origin());
  Value* sum = leaves[0];
  for (size_t i = 1; i < leaves.size(); ++i)
    sum = builder.binary(root->op(), root->width(), sum, leaves[i], root->attrs().ext);
  root->replace_all_uses_with(sum);
  // The old chain's nodes now feed only each other: erase from the root down.
  std::vector<Inst*> dead{root};
  while (!dead.empty()) {
    Inst* node = dead.back();
    dead.pop_back();
    for (size_t i = 0; i < 2; ++i)
      if (same_kind(node->operand(i), *root)) dead.push_back(static_cast<Inst*>(node->operand(i)));
    if (node != root) fn.erase(node);
  }
  fn.erase(root);
  return true;
}

// The roots of chains: associative operations whose result is not an
// operand of one more link of the same chain.
std::vector<Inst*> chain_roots(Function& fn) {
  std::vector<Inst*> roots;
  for (Block* block : fn.blocks())
    for (Inst* inst = block->first(); inst; inst = inst->next()) {
      if (!associative(inst->op()) || inst->attrs().ext == isa::Extension::Sign) continue;
      const bool inner = inst->use_count() == 1 && same_kind(inst, *inst->uses().begin()->user());
      if (!inner) roots.push_back(inst);
    }
  return roots;
}

}  // namespace

Expected<bool> run_cond_op(Function& fn, const PassParams&) {
  if (!fn.entry()) return false;
  // One dominator tree serves the whole pass: reassociation only replaces
  // instructions inside a block, splitting an edge changes no dominance
  // between the blocks the tree knows, and a block it does not know (a split
  // edge's) is never taken for reachable.
  const DominatorTree tree(fn);
  bool changed = false;
  Ranks ranks(tree);
  for (Inst* root : chain_roots(fn))
    if (tree.reachable(root->parent())) changed |= reassociate(fn, root, ranks, tree);
  for (Block* block : tree.order())
    for (Inst* inst = block->first(); inst;) {
      Inst* next = inst->next();
      for (size_t slot = 0; slot < 2 && is_binary(inst->op()); ++slot)
        if (constant_phi(inst->operand(slot)) && movable_onto_edges(*inst, slot, tree)) {
          move_onto_edges(fn, inst, slot);
          changed = true;
          break;
        }
      inst = next;
    }
  return changed;
}

}  // namespace bpfkit::ir::passes
