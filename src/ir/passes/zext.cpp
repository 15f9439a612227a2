// Redundant zero-extension removal. Compilers for BPF before alu32 widen
// a 32-bit value with `r <<= 32; r >>= 32`; that pair becomes one zext (a
// `w = w` move), and a zext of a value whose upper bits are already zero (a
// 32-bit ALU result, a narrow unsigned load, a masked value) is the value
// itself. The arithmetic pair `r <<= 32; r s>>= 32` stays: its one-insn
// form, movsx, needs ISA v4, and the program may target an older kernel.
#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

bool shift_by(const Inst& inst, Opcode op, uint64_t amount) {
  return inst.op() == op && inst.width() == 64 && int_value(inst.operand(1)) == amount;
}

// `(x << k) >> k` with k = 32, 48 or 56: the zero-extension of x's low
// 64 - k bits; null if `inst` is not such a pair.
Inst* widening_pair(Function& fn, Inst& inst) {
  if (inst.op() != Opcode::Rsh) return nullptr;
  for (const uint64_t k : {32u, 48u, 56u}) {
    if (!shift_by(inst, Opcode::Rsh, k) || inst.operand(0)->kind() != ValueKind::Inst) continue;
    auto* left = static_cast<Inst*>(inst.operand(0));
    if (!shift_by(*left, Opcode::Lsh, k)) continue;
    Builder b(fn, before(&inst));
    b.set_origin(inst.origin());
    const auto bits = static_cast<uint8_t>(64 - k);
    return b.zext(bits, left->operand(0));
  }
  return nullptr;
}

}  // namespace

Expected<bool> run_zext(Function& fn, const PassParams&) {
  bool changed = false;
  for (Block* block : fn.blocks()) {
    for (Inst* inst = block->first(); inst;) {
      Inst* next = inst->next();
      Value* replacement = widening_pair(fn, *inst);
      if (!replacement && inst->op() == Opcode::ZExt && significant_bits(inst->operand(0)) <= inst->width())
        replacement = inst->operand(0);
      if (replacement) {
        inst->replace_all_uses_with(replacement);
        fn.erase(inst);
        changed = true;
        // Look at the replacement too: zext(zext(x)) goes in two steps.
        if (replacement->kind() == ValueKind::Inst && static_cast<Inst*>(replacement)->parent() == block)
          next = static_cast<Inst*>(replacement);
      }
      inst = next;
    }
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
