// Common-subexpression elimination over the dominator tree: a pure
// instruction equal to one that dominates it (same opcode, attributes and
// operands; commutative operands in either order) is replaced by it. The
// walk keeps a scoped table, iteratively (no recursion on program size).
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

bool commutative(Opcode op) {
  return op == Opcode::Add || op == Opcode::Mul || op == Opcode::And || op == Opcode::Or || op == Opcode::Xor;
}

// What makes two instructions compute the same value: opcode, attributes
// and operands (commutative ones in pointer order). Pure instructions have
// at most two operands; the key keeps them in place, so a lookup allocates
// nothing (a std::map of keys holding vectors made the pass grow slower
// per instruction with the program, issue 12).
constexpr size_t kMostOperands = 2;

struct Key {
  Opcode op;
  Attrs attrs;
  std::array<const Value*, kMostOperands> operands{};
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& key) const {
    uint64_t h = static_cast<uint64_t>(key.op);
    auto mix = [&h](uint64_t v) {  // a multiply and a fold: pointers differ in their middle bits
      h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
      h ^= h >> 29;
    };
    for (const Value* operand : key.operands) mix(reinterpret_cast<uintptr_t>(operand));
    const Attrs& a = key.attrs;
    mix(a.width | uint64_t{a.to} << 8 | uint64_t{static_cast<uint8_t>(a.cond)} << 16 | uint64_t{a.is_signed} << 24);
    mix(static_cast<uint64_t>(a.imm) ^ uint64_t{static_cast<uint32_t>(a.offset)} << 32);
    return static_cast<size_t>(h);
  }
};

std::optional<Key> key_of(const Inst& inst) {
  if (inst.operand_count() > kMostOperands) return std::nullopt;
  Key key{inst.op(), inst.attrs(), {}};
  for (size_t i = 0; i < inst.operand_count(); ++i) key.operands[i] = inst.operand(i);
  if (commutative(inst.op()) && inst.operand_count() == 2 && std::less<>{}(key.operands[1], key.operands[0]))
    std::swap(key.operands[0], key.operands[1]);
  return key;
}

}  // namespace

Expected<bool> run_cse(Function& fn, const PassParams&) {
  if (!fn.entry()) return false;
  const DominatorTree tree(fn);
  std::unordered_map<Key, Inst*, KeyHash> available;
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
      if (auto key = pure(*inst) ? key_of(*inst) : std::nullopt) {
        auto [it, inserted] = available.emplace(*key, inst);
        if (inserted) {
          added.push_back(*key);
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
