// Dead-code elimination, mark and sweep: instructions with an effect
// (stores, calls, exits, traps, loads that may fault) are live, and so is
// everything they use; the rest goes, dead cycles of phis included.
#include <unordered_set>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

Expected<bool> run_dce(Function& fn, const PassParams&) {
  std::unordered_set<const Inst*> live;
  std::vector<const Inst*> work;
  auto mark = [&](const Value* value) {
    if (value->kind() != ValueKind::Inst) return;
    const auto* inst = static_cast<const Inst*>(value);
    if (live.insert(inst).second) work.push_back(inst);
  };
  for (Block* block : fn.blocks())
    for (const Inst& inst : *block)
      if (inst.is_terminator() || !removable(inst)) mark(&inst);
  while (!work.empty()) {
    const Inst* inst = work.back();
    work.pop_back();
    for (size_t i = 0; i < inst->operand_count(); ++i) mark(inst->operand(i));
  }
  std::vector<Inst*> dead;
  for (Block* block : fn.blocks())
    for (Inst& inst : *block)
      if (!live.count(&inst)) dead.push_back(&inst);
  // Dead values may use each other: point every use at undef first.
  for (Inst* inst : dead) inst->replace_all_uses_with(fn.undef());
  for (Inst* inst : dead) fn.erase(inst);
  return !dead.empty();
}

}  // namespace bpfkit::ir::passes
