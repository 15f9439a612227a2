// Module emission (module.hpp).
#include "module.hpp"

#include <map>

#include "emit.hpp"
#include "rega.hpp"

namespace bpfkit::ir::codegen {

// BPF_COMPLEXITY_LIMIT_INSNS: the most instructions the kernel loads.
constexpr size_t kKernelInstructionLimit = 1'000'000;

namespace {

// Above this many rows a function is allocated once: a second allocation
// after a spill costs more than the few rows it may save.
constexpr size_t kMostRowsToAllocateTwice = 10'000;

struct Emitted {
  EmittedFunction code;
  uint32_t spilled = 0, rematerialised = 0, split = 0;
};

Expected<Emitted> allocate_and_emit(MFunction& fn, const isa::Dialect& dialect) {
  auto allocation = allocate(fn, dialect);
  if (!allocation) return allocation.error();
  Emitted out{{}, allocation->spilled, allocation->rematerialised, allocation->split};
  auto emitted = emit_function(fn, std::move(*allocation), dialect);
  if (!emitted) return emitted.error();
  out.code = std::move(*emitted);
  return out;
}

size_t row_count(const MFunction& fn) {
  size_t rows = 0;
  for (const MBlock& block : fn.blocks) rows += block.insts.size() + 1;
  return rows;
}

// `fn` allocated and emitted; where registers ran short, also with the
// other spill choice (SpillChoice), keeping the smaller code.
Expected<Emitted> emit_smallest(MFunction& fn, const isa::Dialect& dialect) {
  if (row_count(fn) > kMostRowsToAllocateTwice) return allocate_and_emit(fn, dialect);
  MFunction again = fn;  // allocation rewrites the function it is given
  auto first = allocate_and_emit(fn, dialect);
  if (!first || first->spilled + first->rematerialised == 0) return first;
  again.spill_choice = SpillChoice::FewestReads;
  auto second = allocate_and_emit(again, dialect);
  if (second && second->code.slots.size() < first->code.slots.size()) return second;
  return first;
}

}  // namespace

Expected<GeneratedModule> generate_module(MModule& module) {
  const isa::Dialect& dialect = *module.dialect;
  GeneratedModule out;
  std::vector<isa::Slot> slots;
  std::vector<uint32_t> origin;
  std::vector<EmittedFunction::FunctionRef> refs;
  std::vector<isa::Program::CoreSlot> core_slots;
  for (MFunction& fn : module.functions) {
    auto done = emit_smallest(fn, dialect);
    if (!done) return done.error();
    out.stats.spilled += done->spilled;
    out.stats.rematerialised += done->rematerialised;
    out.stats.split += done->split;
    EmittedFunction* emitted = &done->code;
    const auto start = static_cast<uint32_t>(slots.size());
    out.starts.push_back(start);
    out.stats.copies += emitted->copies;
    out.stats.deepest_frame = std::max(out.stats.deepest_frame, -emitted->frame_low);
    for (EmittedFunction::FunctionRef ref : emitted->function_refs)
      refs.push_back({start + ref.slot, ref.callee, ref.by_key});
    for (const isa::Program::CoreSlot& core : emitted->core_slots)
      core_slots.push_back({start + core.slot, core.relocation});
    slots.insert(slots.end(), emitted->slots.begin(), emitted->slots.end());
    origin.insert(origin.end(), emitted->origin.begin(), emitted->origin.end());
  }
  if (dialect.family == isa::Family::Linux && slots.size() > kKernelInstructionLimit)
    return make_error(Errc::OutOfRange, "code generation: " + std::to_string(slots.size()) +
                                            " instructions, more than the kernel's limit of 1000000");
  // sBPF v0-v2 call functions by key: the one they had, or the hash of
  // their new pc.
  auto key_of = [&](uint32_t f) { return module.functions[f].key.value_or(isa::sbpf_pc_key(out.starts[f])); };
  std::map<uint32_t, uint32_t> keys;  // key -> slot
  for (const EmittedFunction::FunctionRef& ref : refs) {
    if (ref.callee >= out.starts.size())
      return make_error(Errc::BadOperand, "code generation: a call names function " + std::to_string(ref.callee) +
                                              ", which the module does not have");
    if (ref.by_key) {
      const uint32_t key = key_of(ref.callee);
      slots[ref.slot].imm = static_cast<int32_t>(key);
      keys[key] = out.starts[ref.callee];
      continue;
    }
    slots[ref.slot].imm = static_cast<int32_t>(int64_t{out.starts[ref.callee]} - (int64_t{ref.slot} + 1));
  }
  auto program = isa::decode(std::span<const isa::Slot>(slots), dialect);
  if (!program) return program.error();
  out.program = std::move(*program);
  out.program.origin = std::move(origin);
  out.program.core_slots = std::move(core_slots);
  for (size_t f = 0; f < module.functions.size(); ++f)
    if (module.functions[f].key) keys[*module.functions[f].key] = out.starts[f];
  out.program.function_keys.insert(keys.begin(), keys.end());
  if (module.functions.size() > 1 || (!module.functions.empty() && !module.functions[0].name.empty()))
    for (size_t i = 0; i < module.functions.size(); ++i) {
      const uint32_t end = i + 1 < out.starts.size() ? out.starts[i + 1] : static_cast<uint32_t>(slots.size());
      out.program.functions.push_back({module.functions[i].name, out.starts[i], end - out.starts[i]});
    }
  return out;
}

Expected<EmittedSize> emitted_size(MFunction fn, const isa::Dialect& dialect) {
  auto allocation = allocate(fn, dialect);
  if (!allocation) return allocation.error();
  const bool spilled = allocation->spilled + allocation->rematerialised > 0;
  auto emitted = emit_function(fn, std::move(*allocation), dialect);
  if (!emitted) return emitted.error();
  return EmittedSize{emitted->slots.size(), spilled};
}

}  // namespace bpfkit::ir::codegen
