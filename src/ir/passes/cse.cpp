// Common-subexpression elimination over the dominator tree: a pure
// instruction equal to one that dominates it (same opcode, attributes and
// operands; commutative operands in either order) is replaced by it. The
// walk keeps a scoped table, iteratively (no recursion on program size).
#include <map>
#include <tuple>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

bool commutative(Opcode op) {
  return op == Opcode::Add || op == Opcode::Mul || op == Opcode::And || op == Opcode::Or || op == Opcode::Xor;
}

// What makes two instructions compute the same value. Attrs compare as a
// whole; operand pointers order commutative operands.
struct Key {
  Opcode op;
  Attrs attrs;
  std::vector<const Value*> operands;
  bool operator<(const Key& other) const {
    if (op != other.op) return op < other.op;
    if (operands != other.operands) return operands < other.operands;
    const Attrs& a = attrs;
    const Attrs& b = other.attrs;
    return std::tie(a.width, a.to, a.ext, a.cond, a.is_signed, a.fetch, a.atomic, a.call, a.offset, a.aux, a.imm) <
           std::tie(b.width, b.to, b.ext, b.cond, b.is_signed, b.fetch, b.atomic, b.call, b.offset, b.aux, b.imm);
  }
};

Key key_of(const Inst& inst) {
  Key key{inst.op(), inst.attrs(), {}};
  for (size_t i = 0; i < inst.operand_count(); ++i) key.operands.push_back(inst.operand(i));
  if (commutative(inst.op()) && key.operands.size() == 2 && std::less<>{}(key.operands[1], key.operands[0]))
    std::swap(key.operands[0], key.operands[1]);
  return key;
}

}  // namespace

Expected<bool> run_cse(Function& fn, const PassParams&) {
  if (!fn.entry()) return false;
  const DominatorTree tree(fn);
  std::map<Key, Inst*> available;
  // Each frame: a block, and the keys it added (removed when it is left).
  struct Frame {
    Block* block;
    std::vector<Key> added;
    bool entered = false;
  };
  std::vector<Frame> stack{{fn.entry(), {}, false}};
  bool changed = false;
  while (!stack.empty()) {
    Frame& frame = stack.back();
    if (frame.entered) {
      for (const Key& key : frame.added) available.erase(key);
      stack.pop_back();
      continue;
    }
    frame.entered = true;
    Block* block = frame.block;
    std::vector<Key> added;
    for (Inst* inst = block->first(); inst;) {
      Inst* next = inst->next();
      if (pure(*inst)) {
        Key key = key_of(*inst);
        auto [it, inserted] = available.emplace(key, inst);
        if (inserted) {
          added.push_back(std::move(key));
        } else {
          inst->replace_all_uses_with(it->second);
          fn.erase(inst);
          changed = true;
        }
      }
      inst = next;
    }
    frame.added = std::move(added);
    const auto& children = tree.children(block);
    for (auto child = children.rbegin(); child != children.rend(); ++child) stack.push_back({*child, {}, false});
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
