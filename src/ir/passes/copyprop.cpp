// Copy propagation: an assign is its operand, and a phi whose inputs are
// all one value (or the phi itself, around a loop) is that value.
#include "passes.hpp"

namespace bpfkit::ir::passes {

namespace {

// The one value a phi merges, or null if it merges several.
Value* single_input(const Inst& phi) {
  Value* only = nullptr;
  for (size_t i = 0; i < phi.operand_count(); ++i) {
    Value* input = phi.operand(i);
    if (input == &phi || input == only) continue;
    if (only) return nullptr;
    only = input;
  }
  return only;
}

}  // namespace

Expected<bool> run_copyprop(Function& fn, const PassParams&) {
  bool changed = false, again = true;
  while (again) {  // removing one phi can make another trivial
    again = false;
    for (Block* block : fn.blocks()) {
      for (Inst* inst = block->first(); inst;) {
        Inst* next = inst->next();
        Value* same = nullptr;
        if (inst->op() == Opcode::Assign) same = inst->operand(0);
        if (inst->op() == Opcode::Phi) same = single_input(*inst);
        // A phi with no input but itself sits in a block no edge reaches.
        if (same && same != inst) {
          inst->replace_all_uses_with(same);
          fn.erase(inst);
          again = changed = true;
        }
        inst = next;
      }
    }
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
