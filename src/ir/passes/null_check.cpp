// null-check(pc=N,bail=B): a repair, which module repair applies where the
// verifier refused a use of a pointer that may be NULL ("R0 invalid mem
// access 'map_value_or_null'", "pointer arithmetic on map_value_or_null
// prohibited, null-check it first"). Right after the call lifted from slot
// N (bpf_map_lookup_elem and the other helpers returning a pointer or
// NULL), the program returns B when the result is NULL; past the check the
// verifier knows the pointer, and every copy of it, is not NULL. A check
// is made once: a call already followed by it is left alone.
#include "passes.hpp"
#include "support.hpp"

namespace bpfkit::ir::passes {

namespace {

Inst* find_call(Function& fn, uint32_t pc) {
  for (Block* block : fn.blocks())
    for (Inst& inst : *block)
      if (inst.origin() == pc && inst.op() == Opcode::Call) return &inst;
  return nullptr;
}

}  // namespace

Expected<bool> run_null_check(Function& fn, const PassParams& params) {
  auto pc = required(params, "null-check", "pc");
  if (!pc) return pc.error();
  auto bail = params.integer("bail", 0);
  if (!bail) return bail.error();
  if (*pc < 0 || *pc > UINT32_MAX) return false;
  Inst* call = find_call(fn, static_cast<uint32_t>(*pc));
  if (!call) return false;
  Inst* after = call->next();  // a call never ends a block
  Value* null = fn.constant(0, 64);
  if (is_check(after, isa::Condition::Eq, call, null)) return false;  // the check made before
  guard_before(after, isa::Condition::Eq, call, null, *bail);
  return true;
}

}  // namespace bpfkit::ir::passes
