// Sparse conditional constant propagation (Wegman and Zadeck): a value is
// unknown (no executable definition seen yet), a constant, or varying; a
// block runs only once an executable edge reaches it. Constants replace
// their uses, branches on constants become jumps, and blocks no executable
// edge reaches are removed. Folding is isa::evaluate's, so the result is
// the interpreter's arithmetic; an operation that would trap is varying.
#include <array>
#include <deque>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

struct Lattice {
  enum State : uint8_t { Unknown, Constant, Varying } state = Unknown;
  uint64_t value = 0;
  bool operator==(const Lattice&) const = default;
};

class Propagation {
 public:
  // What is known of values and blocks is kept by their numbers (renumber);
  // instructions made after (the jumps fold_branches makes) are not asked.
  explicit Propagation(Function& fn) : fn_(fn) {
    const Function::Numbering numbers = fn_.renumber();
    cells_.resize(numbers.values);
    executable_.resize(numbers.blocks, false);
    taken_.resize(numbers.blocks, {false, false});
  }

  void run() {
    mark_block(fn_.entry());
    while (!blocks_.empty() || !values_.empty()) {
      while (!values_.empty()) {
        const Inst* inst = values_.front();
        values_.pop_front();
        for (const Use& use : inst->uses())
          if (executable(use.user()->parent())) visit(*use.user());
      }
      if (!blocks_.empty()) {
        Block* block = blocks_.front();
        blocks_.pop_front();
        for (Inst& inst : *block) visit(inst);
      }
    }
  }

  bool executable(const Block* block) const { return executable_[block->number()]; }
  Lattice get(const Value* value) const {
    if (value->kind() == ValueKind::Inst) return cells_[static_cast<const Inst*>(value)->number()];
    if (const auto constant = int_value(value)) return {Lattice::Constant, *constant};
    return {Lattice::Varying, 0};
  }
  // The one target a branch takes, or null if it may take either.
  Block* only_target(const Inst& branch) const {
    if (branch.op() != Opcode::Br) return nullptr;
    const Lattice a = get(branch.operand(0)), b = get(branch.operand(1));
    if (a.state != Lattice::Constant || b.state != Lattice::Constant) return nullptr;
    return branch.target(branch_taken(branch, a.value, b.value) ? 0 : 1);
  }

 private:
  void mark_block(Block* block) {
    if (executable_[block->number()]) return;
    executable_[block->number()] = true;
    blocks_.push_back(block);
  }
  // An edge is its source's terminator's target slot; both slots of a
  // branch to one block are one edge.
  bool edge_executable(const Block* from, const Block* to) const {
    const Inst* term = from->terminator();
    for (size_t i = 0; term && i < term->target_count(); ++i)
      if (term->target(i) == to && taken_[from->number()][i]) return true;
    return false;
  }
  void mark_edge(Block* from, Block* to) {
    if (edge_executable(from, to)) return;
    const Inst* term = from->terminator();
    for (size_t i = 0; i < term->target_count(); ++i)
      if (term->target(i) == to) taken_[from->number()][i] = true;
    if (executable(to))  // a new edge into a running block: its phis see one more input
      for (Inst* phi = to->first(); phi && phi->op() == Opcode::Phi; phi = phi->next()) visit(*phi);
    mark_block(to);
  }
  void set(const Inst& inst, Lattice value) {
    Lattice& cell = cells_[inst.number()];
    if (cell == value || cell.state == Lattice::Varying) return;
    if (cell.state == Lattice::Constant && value.state == Lattice::Constant) value.state = Lattice::Varying;
    cell = value;
    values_.push_back(&inst);
  }

  void visit(const Inst& inst) {
    if (inst.is_terminator()) return visit_terminator(inst);
    if (!inst.has_result()) return;
    if (inst.op() == Opcode::Phi) return visit_phi(inst);
    std::vector<uint64_t> operands;
    for (size_t i = 0; i < inst.operand_count(); ++i) {
      const Lattice operand = get(inst.operand(i));
      if (operand.state == Lattice::Unknown) return;  // wait for it
      if (operand.state == Lattice::Varying) return set(inst, {Lattice::Varying, 0});
      operands.push_back(operand.value);
    }
    const bool foldable = is_binary(inst.op()) || info(inst.op()).kind == OpKind::Unary;
    const auto value = foldable ? fold(inst, operands) : std::nullopt;
    set(inst, value ? Lattice{Lattice::Constant, *value} : Lattice{Lattice::Varying, 0});
  }

  void visit_phi(const Inst& phi) {
    Lattice merged;
    for (size_t i = 0; i < phi.operand_count(); ++i) {
      if (!edge_executable(phi.incoming_block(i), phi.parent())) continue;
      const Lattice input = get(phi.operand(i));
      if (input.state == Lattice::Unknown) continue;
      if (input.state == Lattice::Varying || (merged.state == Lattice::Constant && merged.value != input.value))
        return set(phi, {Lattice::Varying, 0});
      merged = input;
    }
    if (merged.state != Lattice::Unknown) set(phi, merged);
  }

  void visit_terminator(const Inst& inst) {
    Block* from = inst.parent();
    if (inst.op() == Opcode::Br) {
      const Lattice a = get(inst.operand(0)), b = get(inst.operand(1));
      if (a.state == Lattice::Unknown || b.state == Lattice::Unknown) return;
      if (Block* only = only_target(inst)) return mark_edge(from, only);
    }
    for (size_t i = 0; i < inst.target_count(); ++i) mark_edge(from, inst.target(i));
  }

  Function& fn_;
  std::vector<Lattice> cells_;              // by value number
  std::vector<bool> executable_;            // by block number
  std::vector<std::array<bool, 2>> taken_;  // by block number: its terminator's target slots
  std::deque<Block*> blocks_;
  std::deque<const Inst*> values_;
};

// Replaces each instruction found constant by the constant.
bool replace_constants(Function& fn, const Propagation& facts) {
  bool changed = false;
  for (Block* block : fn.blocks()) {
    if (!facts.executable(block)) continue;
    for (Inst* inst = block->first(); inst;) {
      Inst* next = inst->next();
      const Lattice cell = inst->has_result() ? facts.get(inst) : Lattice{};
      if (cell.state == Lattice::Constant && removable(*inst)) {
        inst->replace_all_uses_with(fn.constant(cell.value, 64));
        fn.erase(inst);
        changed = true;
      }
      inst = next;
    }
  }
  return changed;
}

// A branch that goes one way becomes a jump.
bool fold_branches(Function& fn, const Propagation& facts) {
  bool changed = false;
  for (Block* block : fn.blocks()) {
    Inst* branch = block->terminator();
    if (!facts.executable(block) || !branch) continue;
    Block* only = facts.only_target(*branch);
    if (!only) continue;
    replace_branch_with_jump(fn, branch, only);
    changed = true;
  }
  return changed;
}

}  // namespace

bool remove_unreachable_blocks(Function& fn, const std::function<bool(const Block*)>& reachable) {
  std::vector<Block*> dead;
  for (Block* block : fn.blocks())
    if (block != fn.entry() && !reachable(block)) dead.push_back(block);
  // Cut the dead blocks' edges first (a dead block may jump to another).
  for (Block* block : dead) {
    for (Block* succ : block->succs()) remove_predecessor(succ, block);
    if (Inst* term = block->terminator()) fn.erase(term);
  }
  for (Block* block : dead) fn.erase_block(block);
  return !dead.empty();
}

void replace_branch_with_jump(Function& fn, Inst* branch, Block* taken) {
  Block* block = branch->parent();
  Block* dropped = branch->target(branch->target(0) == taken ? 1 : 0);
  const uint32_t origin = branch->origin();
  remove_predecessor(dropped, block);
  fn.erase(branch);
  Builder builder(fn, back(block));
  builder.set_origin(origin);
  builder.jump(taken);
}

Expected<bool> run_sccp(Function& fn, const PassParams&) {
  if (!fn.entry()) return false;
  Propagation facts(fn);
  facts.run();
  bool changed = replace_constants(fn, facts);
  changed |= fold_branches(fn, facts);
  changed |= remove_unreachable_blocks(fn, [&](const Block* block) { return facts.executable(block); });
  return changed;
}

}  // namespace bpfkit::ir::passes
