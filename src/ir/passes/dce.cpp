// Dead-code elimination, mark and sweep: instructions with an effect
// (stores, calls, exits, traps, loads that may fault) are live, and so is
// everything they use; the rest goes, dead cycles of phis included.
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

Expected<bool> run_dce(Function& fn, const PassParams&) {
  // Every removable instruction has a result; the live ones are a bit per
  // result number. An instruction without a result is always live.
  const Function::Numbering numbers = fn.renumber();
  std::vector<bool> live(numbers.values, false);
  std::vector<const Inst*> work;
  auto mark = [&](const Inst* inst) {
    if (inst->has_result()) {
      if (live[inst->number()]) return;
      live[inst->number()] = true;
    }
    work.push_back(inst);
  };
  for (Block* block : fn.blocks())
    for (const Inst& inst : *block)
      if (inst.is_terminator() || !removable(inst) || !inst.has_result()) mark(&inst);
  while (!work.empty()) {
    const Inst* inst = work.back();
    work.pop_back();
    for (size_t i = 0; i < inst->operand_count(); ++i)
      if (const Value* operand = inst->operand(i); operand->kind() == ValueKind::Inst)
        mark(static_cast<const Inst*>(operand));
  }
  std::vector<Inst*> dead;
  for (Block* block : fn.blocks())
    for (Inst& inst : *block)
      if (inst.has_result() && !live[inst.number()]) dead.push_back(&inst);
  // Dead values may use each other: point every use at undef first.
  for (Inst* inst : dead) inst->replace_all_uses_with(fn.undef());
  for (Inst* inst : dead) fn.erase(inst);
  return !dead.empty();
}

}  // namespace bpfkit::ir::passes
