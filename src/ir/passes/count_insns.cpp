// count-insns: profiling by executed instructions. At the start of every
// block lifted from bytecode, an atomic add of the number of instructions
// the block held (Block::source_insns) to one 64-bit counter in a global-data
// map the pass adds to the module (`.data.bpfkit_insns`, an array of one
// 8-byte value, addressed as map_idx_value like any global variable). After
// a run that ends at an exit the counter holds what the interpreter counts
// for the original program (lddw once, each function's own blocks); a run
// cut short inside a block (a fault, a packet load past the end, a tail
// call) has counted the whole block.
#include "passes.hpp"

namespace bpfkit::ir::passes {

namespace {

constexpr const char* kCounterMap = ".data.bpfkit_insns";

isa::MapSpec counter_map() {
  isa::MapSpec spec;
  spec.name = kCounterMap;
  spec.type = static_cast<uint32_t>(isa::MapType::Array);
  spec.key_size = 4;
  spec.value_size = 8;
  spec.max_entries = 1;
  spec.initial.assign(8, 0);
  return spec;
}

}  // namespace

// Whether the function already adds to map `map` (the pass ran on it).
bool adds_to_map(const Function& fn, uint32_t map) {
  for (const Block* block : fn.blocks())
    for (const Inst& inst : *block)
      if (inst.op() == Opcode::Atomic && inst.operand(0)->is_const()) {
        const auto* address = static_cast<const Const*>(inst.operand(0));
        if (address->const_kind() == ConstKind::MapIdxValue && address->index() == map) return true;
      }
  return false;
}

Expected<bool> run_count_insns(Function& fn, const PassParams&) {
  bool lifted = false;  // IR parsed from text knows no bytecode
  for (const Block* block : fn.blocks()) lifted |= block->source_insns != 0;
  if (!lifted) return false;
  const uint32_t map = fn.module()->add_map(counter_map());
  if (adds_to_map(fn, map)) return false;
  Value* counter = fn.typed_constant(ConstKind::MapIdxValue, map, 0);
  bool changed = false;
  for (Block* block : fn.blocks()) {
    if (block->source_insns == 0) continue;
    Builder builder(fn, after_phis(block));
    builder.set_origin(block->source_start);
    builder.atomic(AtomicOp::Add, 64, false, counter, 0, fn.constant(block->source_insns, 64));
    changed = true;
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
