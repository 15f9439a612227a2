// Strength reduction and algebraic identities on constants: multiplication,
// unsigned division and remainder by a power of two become shifts and
// masks; adding, or-ing, xor-ing or shifting by zero, multiplying by one
// and and-ing with all ones leave a 64-bit value as it is. 32-bit
// operations that sign-extend their result (sBPF v0, v1, v3 add, sub, mul)
// keep their form: a shift would zero-extend instead.
#include <bit>

#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

bool power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// The replacement for `inst` (null: none), built before it.
Value* reduce(Function& fn, Inst& inst) {
  if (!is_binary(inst.op()) || inst.attrs().ext == isa::Extension::Sign) return nullptr;
  const auto constant = int_value(inst.operand(1));
  if (!constant) return nullptr;
  const unsigned width = inst.width();
  const uint64_t c = width == 32 ? static_cast<uint32_t>(*constant) : *constant;
  const uint64_t all_ones = width == 32 ? UINT32_MAX : UINT64_MAX;
  Value* x = inst.operand(0);
  Builder b(fn, before(&inst));
  b.set_origin(inst.origin());
  const isa::Extension ext = inst.attrs().ext;
  switch (inst.op()) {
    case Opcode::Mul:
      if (c == 1 && width == 64) return x;
      if (power_of_two(c)) return b.binary(Opcode::Lsh, width, x, fn.constant(std::countr_zero(c), width), ext);
      return nullptr;
    case Opcode::Div:
      if (c == 1 && width == 64) return x;
      if (power_of_two(c)) return b.binary(Opcode::Rsh, width, x, fn.constant(std::countr_zero(c), width), ext);
      return nullptr;
    case Opcode::Mod:
      if (power_of_two(c)) return b.binary(Opcode::And, width, x, fn.constant(c - 1, width), ext);
      return nullptr;
    case Opcode::Add:
    case Opcode::Sub:
    case Opcode::Or:
    case Opcode::Xor:
    case Opcode::Lsh:
    case Opcode::Rsh:
    case Opcode::Arsh: return c == 0 && width == 64 ? x : nullptr;
    case Opcode::And: return c == all_ones && width == 64 ? x : nullptr;
    default: return nullptr;
  }
}

}  // namespace

Expected<bool> run_strength(Function& fn, const PassParams&) {
  bool changed = false;
  for (Block* block : fn.blocks()) {
    for (Inst* inst = block->first(); inst;) {
      Inst* next = inst->next();
      if (Value* replacement = reduce(fn, *inst)) {
        inst->replace_all_uses_with(replacement);
        fn.erase(inst);
        changed = true;
      }
      inst = next;
    }
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
