// What guest code calls for the instructions that are not plain x86: helper
// calls through the Context's table, tail calls, callx, the legacy packet
// loads and the context's packet pointers. Each does what the interpreter
// does (src/vm/interpreter.cpp), with its errors, and refreshes the region
// table afterwards (a helper may map regions).
#include <cstring>

#include "code.hpp"
#include "state.hpp"

namespace bpfkit::jit {

namespace {

constexpr uint32_t kMaxTailCalls = 33;  // the kernel's MAX_TAIL_CALL_CNT
const char kJitKind = 0;                // this engine's key for its prepared programs

void refresh_regions(State* state) { jit::refresh_regions(state, state->run->context->memory().bounds()); }

uint64_t fail(State* state, Error error) {
  state->run->error = std::move(error);
  refresh_regions(state);
  return 1;
}

const Jit::Code& running(const State* state) { return *static_cast<const Jit::Code*>(state->code); }

}  // namespace

void refresh_regions(State* state, std::span<const vm::RegionBounds> bounds) {
  state->regions = bounds.data();
  state->region_count = bounds.size();
  for (uint64_t i = 0; i < kTableRegions; ++i) state->table[i] = i < bounds.size() ? bounds[i] : vm::RegionBounds{};
  for (uint64_t i = 0; i < kInlineEntries; ++i) {
    const bool inline_entry = i < kTableRegions && i < bounds.size();
    const uint64_t base = vm::region_base(static_cast<uint32_t>(i));
    state->read_end[i] = inline_entry ? base + bounds[i].read_limit + 1 : 0;
    state->write_end[i] = inline_entry ? base + bounds[i].write_limit + 1 : 0;
    state->host_delta[i] = inline_entry ? reinterpret_cast<uint64_t>(bounds[i].host) - base : 0;
  }
  for (uint64_t i = 0; i < kTableRegions; ++i) {
    state->region_start[i] = vm::region_base(static_cast<uint32_t>(i));
    for (const bool write : {false, true}) {
      const uint64_t limit = i >= bounds.size() ? 0 : write ? bounds[i].write_limit : bounds[i].read_limit;
      for (unsigned log_size = 0; log_size < 4; ++log_size) {
        const uint64_t size = uint64_t{1} << log_size;
        state->guess_end[write][log_size][i] = limit >= size ? limit - size + 1 : 0;
      }
    }
  }
}

extern "C" uint64_t bpfkit_jit_call_helper(State* state, uint64_t id, uint64_t pc) {
  vm::Context& context = *state->run->context;
  const auto key = static_cast<uint32_t>(id);
  const auto where = at_pc(static_cast<uint32_t>(pc));
  const vm::Helper* helper = context.helpers().find(key);
  if (helper == nullptr)
    return fail(state, make_error(Errc::UnknownHelper, "call of unknown helper " + isa::describe_helper(key), where));
  const uint64_t* reg = state->regs;
  vm::HelperCall call{context, context.memory(), {reg[1], reg[2], reg[3], reg[4], reg[5]}};
  Expected<uint64_t> value = helper->fn(call);
  if (!value) return fail(state, make_error(Errc::HelperFailed, helper->name + ": " + value.error().message, where));
  state->regs[0] = *value;
  refresh_regions(state);
  return 0;
}

// bpf_tail_call as kernel/bpf/core.c runs it (see the interpreter's).
extern "C" uint64_t bpfkit_jit_tail_call(State* state, uint64_t pc) {
  vm::Context& context = *state->run->context;
  const auto where = at_pc(static_cast<uint32_t>(pc));
  if (state->depth != 0) return fail(state, make_error(Errc::Unsupported, "tail call inside a bpf-to-bpf call", where));
  vm::Map* map = context.map_by_handle(state->regs[2]);
  if (map == nullptr || map->type() != isa::MapType::ProgArray)
    return fail(state, make_error(Errc::HelperFailed, "bpf_tail_call: r2 is not a prog array", where));
  const auto index = static_cast<uint32_t>(state->regs[3]);
  if (index >= map->spec().max_entries || state->tail_calls >= kMaxTailCalls) return 0;
  ++state->tail_calls;
  std::span<const uint8_t> slot = map->lookup(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&index), 4));
  if (slot.empty()) return 0;
  uint32_t id;
  std::memcpy(&id, slot.data(), sizeof id);
  if (context.program(id) == nullptr) return 0;
  Error error{Errc::Unsupported, "", {}};
  const vm::Engine* prepared = context.prepared_program(
      id, &kJitKind,
      [&](const isa::Program& program) -> Expected<std::unique_ptr<vm::Engine>> { return make_jit(program, context); },
      error);
  if (prepared == nullptr) {
    error.message = "bpf_tail_call: program " + std::to_string(id) + ": " + error.message;
    error.location = where;
    return fail(state, std::move(error));
  }
  const Jit::Code& target = static_cast<const Jit*>(prepared)->internals();
  state->code = &target;
  refresh_regions(state);
  return reinterpret_cast<uint64_t>(target.body);
}

extern "C" uint64_t bpfkit_jit_callx(State* state, uint64_t target, uint64_t pc) {
  const auto where = at_pc(static_cast<uint32_t>(pc));
  // A program-region address is a subprogram; anything else a helper id.
  if ((target >> vm::kRegionShift) != vm::kProgramRegion) {
    if (target > UINT32_MAX)
      return fail(state, make_error(Errc::BadCallTarget, "callx target " + hex_string(target) + " is not code", where));
    if (target != vm::kTailCallHelper) return bpfkit_jit_call_helper(state, target, pc);
    const uint64_t jump = bpfkit_jit_tail_call(state, pc);
    if (jump <= 1) return jump;
    state->jump_to = jump;
    return 2;
  }
  const uint64_t offset = target & 0xffffffffu;
  const uint64_t slot = offset / 8;
  const Jit::Code& code = running(state);
  if (offset % 8 != 0 || slot >= code.block_at.size() || code.block_at[slot] == nullptr)
    return fail(state, make_error(Errc::BadCallTarget, "callx target is not the start of an instruction", where));
  state->jump_to = reinterpret_cast<uint64_t>(code.block_at[slot]);
  return 3;
}

extern "C" uint64_t bpfkit_jit_load_packet(State* state, uint64_t region, uint64_t size, uint64_t imm,
                                           uint64_t src_plus_one) {
  refresh_regions(state);
  const vm::RegionBounds& packet = state->regions[region < state->region_count ? region : 0];
  uint32_t offset = static_cast<uint32_t>(imm);
  if (src_plus_one != 0) offset += static_cast<uint32_t>(state->regs[src_plus_one - 1]);
  const int64_t at = static_cast<int32_t>(offset);
  if (at < 0 || static_cast<uint64_t>(at) + size > packet.read_limit) {
    state->regs[0] = 0;
    return 1;
  }
  uint64_t value = 0;
  for (uint64_t i = 0; i < size; ++i) value = (value << 8) | packet.host[at + static_cast<int64_t>(i)];
  state->regs[0] = value;
  return 0;
}

extern "C" uint64_t bpfkit_jit_packet_pointer(State* state, uint64_t addr, uint64_t dst) {
  uint64_t pointer = 0;
  if (!state->run->context->packet_pointer_at(addr, pointer)) return 0;
  state->regs[dst] = pointer;
  return 1;
}

}  // namespace bpfkit::jit
