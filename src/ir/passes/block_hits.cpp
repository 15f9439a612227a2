// block-hits: coverage and hot spots by basic block. Every block lifted
// from bytecode gets a 16-byte record in a global-data map the pass adds to
// the module (`.data.bpfkit_block_hits`, one value of 16 bytes a block, in
// function and layout order): the block's first bytecode slot (written once,
// in the map's initial bytes) and a 64-bit hit count the block increments
// with an atomic add at its start. `bpfkit run --dump-maps` then shows
// which code ran and how often, with no symbolisation needed.
#include "passes.hpp"

namespace bpfkit::ir::passes {

namespace {

constexpr const char* kHitsMap = ".data.bpfkit_block_hits";
constexpr uint32_t kRecordBytes = 16;  // u64 first slot, u64 hits

isa::MapSpec hits_map() {
  isa::MapSpec spec;
  spec.name = kHitsMap;
  spec.type = static_cast<uint32_t>(isa::MapType::Array);
  spec.key_size = 4;
  spec.value_size = 0;  // grows by a record per block instrumented
  spec.max_entries = 1;
  return spec;
}

void append_u64(std::vector<uint8_t>& bytes, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace

Expected<bool> run_block_hits(Function& fn, const PassParams&) {
  bool lifted = false;  // IR parsed from text knows no bytecode
  for (const Block* block : fn.blocks()) lifted |= block->source_insns != 0;
  if (!lifted) return false;
  const uint32_t map = fn.module()->add_map(hits_map());
  if (adds_to_map(fn, map)) return false;
  bool changed = false;
  for (Block* block : fn.blocks()) {
    if (block->source_insns == 0) continue;
    isa::MapSpec& spec = fn.module()->maps()[map];
    const uint32_t record = spec.value_size;
    spec.value_size += kRecordBytes;
    append_u64(spec.initial, block->source_start);
    append_u64(spec.initial, 0);
    Builder builder(fn, after_phis(block));
    builder.set_origin(block->source_start);
    builder.atomic(AtomicOp::Add, 64, false, fn.typed_constant(ConstKind::MapIdxValue, map, record + 8), 0,
                   fn.constant(1, 64));
    changed = true;
  }
  return changed;
}

}  // namespace bpfkit::ir::passes
