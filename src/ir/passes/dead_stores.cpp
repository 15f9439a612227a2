// Dead-store elimination on the stack frame: when no pointer into the frame
// escapes (every address derived from %fp is only used to load or store,
// never passed to a call, stored, merged by a phi or compared), a store to
// bytes no load of the function reads is dead.
#include <utility>
#include <vector>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

Expected<bool> run_dead_stores(Function& fn, const PassParams&) {
  std::vector<const Value*> addresses;
  if (!fn.entry() || !frame_stays_private(fn, addresses)) return false;
  std::vector<std::pair<int64_t, int64_t>> read;  // [from, to) byte ranges some load reads
  std::vector<Inst*> stores;
  for (Block* block : fn.blocks()) {
    for (Inst& inst : *block) {
      if (inst.op() != Opcode::LoadRaw && inst.op() != Opcode::StoreRaw) continue;
      const auto at = stack_offset(inst.operand(0), inst.attrs().offset);
      if (!at) continue;
      if (inst.op() == Opcode::LoadRaw)
        read.emplace_back(*at, *at + inst.width() / 8);
      else
        stores.push_back(&inst);
    }
  }
  if (stores.size() * read.size() > (size_t{1} << 24)) return false;  // keep the pass linear-ish on huge frames
  bool changed = false;
  for (Inst* store : stores) {
    const int64_t from = *stack_offset(store->operand(0), store->attrs().offset);
    const int64_t to = from + store->width() / 8;
    bool is_read = false;
    for (const auto& [r_from, r_to] : read) is_read |= r_from < to && from < r_to;
    if (is_read) continue;
    fn.erase(store);
    changed = true;
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
