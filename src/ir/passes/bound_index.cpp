// bound-index(pc=N,operand=K,limit=L,bail=B): a repair, which module repair
// applies where the verifier refused a memory access through a pointer
// with a variable offset it cannot bound ("R0 unbounded memory access",
// "invalid access to map value, value_size=... off=...", "math between
// map_value pointer and register with unbounded min value"). Before the
// 64-bit add lifted from slot N, which adds its operand K (0 or 1: the
// scalar) to the pointer, the program returns B when the scalar is above L
// (unsigned). Past that check the verifier knows 0 <= scalar <= L, which
// repair chose so that every access through the sum stays inside the
// object. A check is made once: an add already behind it is left alone.
#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

Inst* find_add(Function& fn, uint32_t pc) {
  for (Block* block : fn.blocks())
    for (Inst& inst : *block)
      if (inst.origin() == pc && inst.op() == Opcode::Add && inst.width() == 64) return &inst;
  return nullptr;
}

}  // namespace

Expected<bool> run_bound_index(Function& fn, const PassParams& params) {
  auto pc = required(params, "bound-index", "pc");
  if (!pc) return pc.error();
  auto operand = required(params, "bound-index", "operand");
  if (!operand) return operand.error();
  auto limit = required(params, "bound-index", "limit");
  if (!limit) return limit.error();
  auto bail = params.integer("bail", 0);
  if (!bail) return bail.error();
  if (*operand != 0 && *operand != 1)
    return make_error(Errc::BadOperand, "bound-index: operand=" + std::to_string(*operand) + " is not 0 or 1");
  if (*limit < 0) return make_error(Errc::BadOperand, "bound-index: limit=" + std::to_string(*limit) + " is negative");
  if (*pc < 0 || *pc > UINT32_MAX) return false;
  Inst* add = find_add(fn, static_cast<uint32_t>(*pc));
  if (!add) return false;
  Value* index = add->operand(static_cast<size_t>(*operand));
  if (int_value(index)) return false;  // a constant offset: nothing to bound
  Value* bound = fn.constant(static_cast<uint64_t>(*limit), 64);
  if (guarded(add, isa::Condition::Gt, index, bound)) return false;
  guard_before(add, isa::Condition::Gt, index, bound, *bail);
  return true;
}

}  // namespace bpfkit::ir::passes
