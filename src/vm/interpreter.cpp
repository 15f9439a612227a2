// The interpreter: Linux kernel semantics (kernel/bpf/core.c ___bpf_prog_run,
// RFC 9669), decoded once into cells that hold their handler's address, and
// run with computed goto: no switch in the hot loop.
//
// Every opcode table row has a label here named L_<row id>; a row without one
// fails to compile, so the interpreter cannot fall behind the table.
#include <cstring>
#include <type_traits>

#include "bpfkit/vm.hpp"
#include "dispatch.hpp"

namespace bpfkit::vm {

// One decoded instruction. For local calls and lddw of a function, create()
// replaces imm by the target's distance from this cell (isa::branch_target
// minus pc), so the hot loop adds it without knowing the encoding.
struct Interpreter::Cell {
  const void* handler;
  uint8_t dst;
  uint8_t src;
  int16_t off;
  int32_t imm;
};

namespace {

using Cell = Interpreter::Cell;
using isa::Op;

constexpr uint32_t kMaxFrames = 64;  // the largest call depth of any dialect

struct Frame {
  const Cell* return_to;
  uint64_t saved[5];  // r6..r10
};

// Signed division and remainder as the kernel defines them: x / 0 = 0,
// x % 0 = x, INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0. U is uint64_t or uint32_t.
template <class U>
inline U signed_div(U d, U s) {
  using S = std::make_signed_t<U>;
  if (s == 0) return 0;
  if (static_cast<S>(s) == -1) return U{0} - d;
  return static_cast<U>(static_cast<S>(d) / static_cast<S>(s));
}
template <class U>
inline U signed_mod(U d, U s) {
  using S = std::make_signed_t<U>;
  if (s == 0) return d;
  if (static_cast<S>(s) == -1) return 0;
  return static_cast<U>(static_cast<S>(d) % static_cast<S>(s));
}

using detail::load;
using detail::store;

// Reads a big-endian packet value for LD_ABS / LD_IND.
inline uint64_t load_big_endian(const uint8_t* p, unsigned size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < size; ++i) value = (value << 8) | p[i];
  return value;
}

// A load at this offset from the context may read one of its packet pointers.
bool is_packet_pointer_field(const Packet* packet, int16_t off) {
  if (packet == nullptr || off < 0) return false;
  const auto offset = static_cast<uint32_t>(off);
  return offset == packet->ctx_data || offset == packet->ctx_data_end || offset == packet->ctx_data_meta;
}

Error fault(const Cell* cells, const Cell* pc, Errc code, std::string message) {
  return make_error(code, std::move(message), at_pc(static_cast<uint32_t>(pc - cells)));
}

// Calls helper `id` with r1..r5 and puts its result in r0. Kept out of
// execute() so that no object with a destructor lives in the dispatch loop's
// scope (an indirect goto may not leave such a scope).
bool call_helper(Context& context, uint64_t id, uint64_t* reg, const Cell* cells, const Cell* pc, Error& error) {
  const Helper* helper = context.helpers().find(static_cast<uint32_t>(id));
  if (helper == nullptr) {
    error = fault(cells, pc, Errc::UnknownHelper,
                  "call of unknown helper " + isa::describe_helper(static_cast<uint32_t>(id)));
    return false;
  }
  HelperCall call{context, context.memory(), {reg[1], reg[2], reg[3], reg[4], reg[5]}};
  Expected<uint64_t> value = helper->fn(call);
  if (!value) {
    error = fault(cells, pc, Errc::HelperFailed, helper->name + ": " + value.error().message);
    return false;
  }
  reg[0] = *value;
  return true;
}

constexpr uint32_t kMaxTailCalls = 33;  // the kernel's MAX_TAIL_CALL_CNT

enum class TailCall { Jump, Continue, Fail };

// bpf_tail_call(ctx, prog_array, index) as kernel/bpf/core.c runs it: an
// index out of range, the 34th call and an empty slot all continue after the
// call (the count goes up even for an empty slot). On Jump, *target is the
// program to run from its start, prepared (once) for this context.
TailCall tail_call(Context& context, const uint64_t* reg, uint32_t& count, const Interpreter** target, Error& error) {
  Map* map = context.map_by_handle(reg[2]);
  if (map == nullptr || map->type() != isa::MapType::ProgArray) {
    error = make_error(Errc::HelperFailed, "bpf_tail_call: r2 is not a prog array");
    return TailCall::Fail;
  }
  const auto index = static_cast<uint32_t>(reg[3]);
  if (index >= map->spec().max_entries || count >= kMaxTailCalls) return TailCall::Continue;
  ++count;
  std::span<const uint8_t> slot = map->lookup(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&index), 4));
  if (slot.empty()) return TailCall::Continue;
  uint32_t id;
  std::memcpy(&id, slot.data(), sizeof id);
  if (context.program(id) == nullptr) return TailCall::Continue;
  static const char kInterpreterKind = 0;  // this engine's key for its prepared programs
  const Engine* prepared = context.prepared_program(
      id, &kInterpreterKind,
      [&](const isa::Program& program) -> Expected<std::unique_ptr<Engine>> {
        auto interpreter = Interpreter::create(program, context);
        if (!interpreter) return interpreter.error();
        return std::unique_ptr<Engine>(std::make_unique<Interpreter>(std::move(*interpreter)));
      },
      error);
  if (prepared == nullptr) {
    error.message = "bpf_tail_call: program " + std::to_string(id) + ": " + error.message;
    return TailCall::Fail;
  }
  *target = static_cast<const Interpreter*>(prepared);
  return TailCall::Jump;
}

// Runs `cells` in `context`, filling *out. When cells is null, it only hands
// out its table of handler addresses (labels are local to this function)
// through *table.
void execute(const Cell* cells, size_t cell_count, Context* context, std::array<uint64_t, 5> args, RunResult* out,
             const void* const** table) {
  static const void* const kHandlers[] = {
#define BPF_OP(id, ...) &&L_##id,
#define SBPF_OP(id, ...) &&L_not_an_instruction,  // decode() never gives a Linux program these
#include "bpfkit/isa/opcodes.def"
#undef SBPF_OP
#undef BPF_OP
      &&L_fell_off_end,        // kOpCount: the cell after the last slot
      &&L_not_an_instruction,  // kOpCount + 1: second slot of an lddw
      &&L_tail_call,           // kOpCount + 2: call 12, chosen by create()
      &&L_ldxw_ctx,            // kOpCount + 3: ldxw that may read a context's packet pointer
  };
  static_assert(sizeof kHandlers / sizeof kHandlers[0] == isa::kOpCount + 4);
  if (cells == nullptr) {
    *table = kHandlers;
    return;
  }

  const isa::FrameModel frame = isa::frame_model(context->dialect());
  const uint32_t max_frames = frame.max_depth;
  const auto frame_step = static_cast<uint64_t>(frame.call_fp_step);  // one frame down
  const MemoryMap& memory = context->memory();
  const RegionBounds* regions = memory.bounds().data();
  uint64_t region_count = memory.bounds().size();

  uint64_t reg[isa::kRegisterCount] = {};
  for (int i = 0; i < 5; ++i) reg[i + 1] = args[i];
  reg[isa::kFramePointer] = context->stack_top();

  Frame frames[kMaxFrames];
  uint32_t depth = 0;
  const uint64_t budget = context->budget();
  const uint64_t start = budget == UINT64_MAX ? budget : budget + 1;
  uint64_t left = start;
  const Cell* pc = cells;
  uint64_t may_goto_left = uint64_t{8} << 20;
  uint64_t fault_addr = 0, fault_size = 0;
  bool fault_write = false;
  uint32_t tail_calls = 0;
  const Interpreter* tail_target = nullptr;
  Error error{Errc::Unsupported, "", {}};

#define ACCESS(host, addr_expr, size, write) CHECKED_ACCESS(host, addr_expr, size, write, NO_ADJUST)

  DISPATCH();

  // ---- ALU64 and ALU32: d and s are the operands, the expression the result.
#define ALU64(name, expr)                              \
  L_##name##64_imm : {                                 \
    const uint64_t d = reg[pc->dst], s = IMM64;        \
    reg[pc->dst] = (expr);                             \
    NEXT();                                            \
  }                                                    \
  L_##name##64_reg : {                                 \
    const uint64_t d = reg[pc->dst], s = reg[pc->src]; \
    reg[pc->dst] = (expr);                             \
    NEXT();                                            \
  }
#define ALU32(name, expr)                                              \
  L_##name##32_imm : {                                                 \
    const uint32_t d = static_cast<uint32_t>(reg[pc->dst]), s = IMM32; \
    reg[pc->dst] = static_cast<uint32_t>(expr);                        \
    NEXT();                                                            \
  }                                                                    \
  L_##name##32_reg : {                                                 \
    const uint32_t d = static_cast<uint32_t>(reg[pc->dst]);            \
    const uint32_t s = static_cast<uint32_t>(reg[pc->src]);            \
    reg[pc->dst] = static_cast<uint32_t>(expr);                        \
    NEXT();                                                            \
  }
  // The same expression serves both widths where C's arithmetic on uint64_t
  // and uint32_t already gives the kernel's result.
#define ALU_BOTH(name, expr64, expr32) ALU64(name, expr64) ALU32(name, expr32)
#define ALU_SAME(name, expr) ALU64(name, expr) ALU32(name, expr)
  ALU_SAME(add, d + s)
  ALU_SAME(sub, d - s)
  ALU_SAME(mul, d * s)
  ALU_SAME(div, s ? d / s : 0)
  ALU_SAME(or, d | s)
  ALU_SAME(and, d & s)
  ALU_SAME(mod, s ? d % s : d)
  ALU_SAME(xor, d ^ s)
  ALU_SAME(mov, (static_cast<void>(d), s))
  ALU_SAME(sdiv, signed_div(d, s))
  ALU_SAME(smod, signed_mod(d, s))
  ALU_BOTH(lsh, d << (s & 63), d << (s & 31))
  ALU_BOTH(rsh, d >> (s & 63), d >> (s & 31))
  ALU_BOTH(arsh, static_cast<uint64_t>(static_cast<int64_t>(d) >> (s & 63)),
           static_cast<uint32_t>(static_cast<int32_t>(d) >> (s & 31)))
#undef ALU_SAME
#undef ALU_BOTH
#undef ALU64
#undef ALU32

L_neg64:
  reg[pc->dst] = 0 - reg[pc->dst];
  NEXT();
L_neg32:
  reg[pc->dst] = static_cast<uint32_t>(0u - static_cast<uint32_t>(reg[pc->dst]));
  NEXT();

#define MOVSX(name, narrow, wide)                                                 \
  L_##name : reg[pc->dst] = static_cast<wide>(static_cast<narrow>(reg[pc->src])); \
  NEXT();
  MOVSX(movsx8_64, int8_t, uint64_t)
  MOVSX(movsx16_64, int16_t, uint64_t)
  MOVSX(movsx32_64, int32_t, uint64_t)
  MOVSX(movsx8_32, int8_t, uint32_t)
  MOVSX(movsx16_32, int16_t, uint32_t)
#undef MOVSX

  BYTE_ORDER_HANDLERS(L_be16 : L_bswap16, L_be32 : L_bswap32, L_be64 : L_bswap64)
  LDDW_HANDLER()
L_lddw_func:
  // The address of a subprogram, as callx expects it (create() checked it).
  reg[pc->dst] = region_base(kProgramRegion) + static_cast<uint64_t>(pc + pc->imm - cells) * 8;
  pc += 2;
  DISPATCH();
L_addr_space_cast:
  // Arena pointers need an arena map, which this VM does not have yet.
  error = fault(cells, pc, Errc::Unsupported, "addr_space_cast needs an arena map (not supported)");
  goto L_fail;
L_lddw_map_fd:
L_lddw_map_value:
L_lddw_btf_id:
L_lddw_map_idx:
L_lddw_map_idx_value:
  // create() refuses these until a loader resolves them.
  error = fault(cells, pc, Errc::Unsupported, "unresolved lddw pseudo source");
  goto L_fail;

  // ---- Legacy packet loads: out of bounds ends the program with r0 = 0.
#define LD_PACKET(name, size, offset_expr)                                      \
  L_##name : {                                                                  \
    const RegionBounds& packet = regions[pc->dst < region_count ? pc->dst : 0]; \
    const int64_t at = static_cast<int32_t>(offset_expr);                       \
    if (at < 0 || static_cast<uint64_t>(at) + (size) > packet.read_limit) {     \
      reg[0] = 0;                                                               \
      goto L_done;                                                              \
    }                                                                           \
    reg[0] = load_big_endian(packet.host + at, (size));                         \
    NEXT();                                                                     \
  }
  LD_PACKET(ldabsw, 4, IMM32)
  LD_PACKET(ldabsh, 2, IMM32)
  LD_PACKET(ldabsb, 1, IMM32)
  LD_PACKET(ldindw, 4, IMM32 + static_cast<uint32_t>(reg[pc->src]))
  LD_PACKET(ldindh, 2, IMM32 + static_cast<uint32_t>(reg[pc->src]))
  LD_PACKET(ldindb, 1, IMM32 + static_cast<uint32_t>(reg[pc->src]))
#undef LD_PACKET

  // ---- Loads and stores through the region map.
#define LDX(name, T, Wide)                                                  \
  L_##name : {                                                              \
    ACCESS(host, OFFSET(pc->src), sizeof(T), false)                         \
    reg[pc->dst] = static_cast<uint64_t>(static_cast<Wide>(load<T>(host))); \
    NEXT();                                                                 \
  }
  LDX(ldxw, uint32_t, uint32_t)
  LDX(ldxh, uint16_t, uint16_t)
  LDX(ldxb, uint8_t, uint8_t)
  LDX(ldxdw, uint64_t, uint64_t)
  LDX(ldxsw, int32_t, int64_t)
  LDX(ldxsh, int16_t, int64_t)
  LDX(ldxsb, int8_t, int64_t)
#undef LDX
L_ldxw_ctx : {
  // The kernel rewrites a context's 32-bit data / data_end / data_meta loads
  // into loads of the full pointer; any other address is an ordinary ldxw.
  uint64_t pointer = 0;
  if (!context->packet_pointer_at(OFFSET(pc->src), pointer)) goto L_ldxw;
  reg[pc->dst] = pointer;
  NEXT();
}
#define ST(name, T, value)                         \
  L_##name : {                                     \
    ACCESS(host, OFFSET(pc->dst), sizeof(T), true) \
    store<T>(host, static_cast<T>(value));         \
    NEXT();                                        \
  }
  ST(stw, uint32_t, pc->imm)
  ST(sth, uint16_t, pc->imm)
  ST(stb, uint8_t, pc->imm)
  ST(stdw, uint64_t, IMM64)
  ST(stxw, uint32_t, reg[pc->src])
  ST(stxh, uint16_t, reg[pc->src])
  ST(stxb, uint8_t, reg[pc->src])
  ST(stxdw, uint64_t, reg[pc->src])
#undef ST

  // ---- Atomics. A program runs on one thread, so plain read-modify-write
  // is atomic with respect to it. Fetch forms return the old value in src
  // (zero-extended for 32 bits); cmpxchg compares with and returns in r0.
#define ATOMIC(name, T, expr, fetch)               \
  L_##name : {                                     \
    ACCESS(host, OFFSET(pc->dst), sizeof(T), true) \
    const T old = load<T>(host);                   \
    const T s = static_cast<T>(reg[pc->src]);      \
    store<T>(host, static_cast<T>(expr));          \
    if (fetch) reg[pc->src] = old;                 \
    NEXT();                                        \
  }
#define ATOMIC_FAMILY(bits, T)                                                       \
  ATOMIC(atomic##bits##_add, T, old + s, false)                                      \
  ATOMIC(atomic##bits##_fetch_add, T, old + s, true)                                 \
  ATOMIC(atomic##bits##_or, T, old | s, false)                                       \
  ATOMIC(atomic##bits##_fetch_or, T, old | s, true)                                  \
  ATOMIC(atomic##bits##_and, T, old& s, false)                                       \
  ATOMIC(atomic##bits##_fetch_and, T, old& s, true)                                  \
  ATOMIC(atomic##bits##_xor, T, old ^ s, false)                                      \
  ATOMIC(atomic##bits##_fetch_xor, T, old ^ s, true)                                 \
  ATOMIC(atomic##bits##_xchg, T, s, true)                                            \
  L_atomic##bits##_cmpxchg : {                                                       \
    ACCESS(host, OFFSET(pc->dst), sizeof(T), true)                                   \
    const T old = load<T>(host);                                                     \
    if (old == static_cast<T>(reg[0])) store<T>(host, static_cast<T>(reg[pc->src])); \
    reg[0] = old;                                                                    \
    NEXT();                                                                          \
  }
  ATOMIC_FAMILY(64, uint64_t)
  ATOMIC_FAMILY(32, uint32_t)
#undef ATOMIC_FAMILY
#undef ATOMIC

  // ---- Jumps. JUMP_IF adds off; NEXT adds the 1.
L_ja:
  pc += pc->off;
  NEXT();
L_may_goto:
  // The kernel gives each program a hidden loop counter of BPF_MAX_LOOPS
  // (8M); may_goto jumps once it is used up, and decrements it otherwise.
  if (may_goto_left == 0)
    pc += pc->off;
  else
    --may_goto_left;
  NEXT();
L_gotol:
  pc += pc->imm;
  NEXT();
#define JMP64(name, cond)                              \
  L_##name##64_imm : {                                 \
    const uint64_t d = reg[pc->dst], s = IMM64;        \
    JUMP_IF(cond);                                     \
  }                                                    \
  L_##name##64_reg : {                                 \
    const uint64_t d = reg[pc->dst], s = reg[pc->src]; \
    JUMP_IF(cond);                                     \
  }
#define JMP32(name, cond)                                              \
  L_##name##32_imm : {                                                 \
    const uint32_t d = static_cast<uint32_t>(reg[pc->dst]), s = IMM32; \
    JUMP_IF(cond);                                                     \
  }                                                                    \
  L_##name##32_reg : {                                                 \
    const uint32_t d = static_cast<uint32_t>(reg[pc->dst]);            \
    const uint32_t s = static_cast<uint32_t>(reg[pc->src]);            \
    JUMP_IF(cond);                                                     \
  }
#define JMP_BOTH(name, cond64, cond32) JMP64(name, cond64) JMP32(name, cond32)
  JMP_BOTH(jeq, d == s, d == s)
  JMP_BOTH(jne, d != s, d != s)
  JMP_BOTH(jgt, d > s, d > s)
  JMP_BOTH(jge, d >= s, d >= s)
  JMP_BOTH(jlt, d < s, d < s)
  JMP_BOTH(jle, d <= s, d <= s)
  JMP_BOTH(jset, (d & s) != 0, (d & s) != 0)
  JMP_BOTH(jsgt, static_cast<int64_t>(d) > static_cast<int64_t>(s), static_cast<int32_t>(d) > static_cast<int32_t>(s))
  JMP_BOTH(jsge, static_cast<int64_t>(d) >= static_cast<int64_t>(s), static_cast<int32_t>(d) >= static_cast<int32_t>(s))
  JMP_BOTH(jslt, static_cast<int64_t>(d) < static_cast<int64_t>(s), static_cast<int32_t>(d) < static_cast<int32_t>(s))
  JMP_BOTH(jsle, static_cast<int64_t>(d) <= static_cast<int64_t>(s), static_cast<int32_t>(d) <= static_cast<int32_t>(s))
#undef JMP_BOTH
#undef JMP64
#undef JMP32

  // ---- Calls and exit.
  {
    uint64_t helper_id;
    const Cell* callee;
  L_call:
    helper_id = IMM32;
    goto L_call_helper;
  L_call_helper:
    if (!call_helper(*context, helper_id, reg, cells, pc, error)) goto L_fail;
    regions = memory.bounds().data();  // a helper may map regions
    region_count = memory.bounds().size();
    NEXT();
  L_call_local:
    callee = pc + pc->imm;  // resolved and checked by create()
    goto L_enter;
  L_callx : {
    // A program-region address is a subprogram; anything else a helper id.
    const uint64_t target = reg[pc->dst];
    if ((target >> kRegionShift) != kProgramRegion) {
      if (target > UINT32_MAX) {
        error = fault(cells, pc, Errc::BadCallTarget, "callx target " + hex_string(target) + " is not code");
        goto L_fail;
      }
      helper_id = target;
      if (helper_id == kTailCallHelper) goto L_tail_call;
      goto L_call_helper;
    }
    const uint64_t offset = target & 0xffffffffu;
    const uint64_t slot = offset / 8;
    if (offset % 8 != 0 || slot >= cell_count || cells[slot].handler == &&L_not_an_instruction) {
      error = fault(cells, pc, Errc::BadCallTarget, "callx target is not the start of an instruction");
      goto L_fail;
    }
    callee = cells + slot;
    goto L_enter;
  }
  L_enter:
    if (depth + 1 >= max_frames) {
      error = fault(cells, pc, Errc::CallDepthExceeded, "call depth exceeds " + std::to_string(max_frames) + " frames");
      goto L_fail;
    }
    frames[depth].return_to = pc + 1;
    std::memcpy(frames[depth].saved, &reg[6], sizeof frames[depth].saved);
    ++depth;
    reg[isa::kFramePointer] += frame_step;
    pc = callee;
    DISPATCH();
  }
L_tail_call:
  // The interpreter's frames cannot be replaced by another program's, so a
  // tail call from a subprogram is refused (the kernel's verifier does too
  // when it cannot JIT).
  if (depth != 0) {
    error = fault(cells, pc, Errc::Unsupported, "tail call inside a bpf-to-bpf call");
    goto L_fail;
  }
  switch (tail_call(*context, reg, tail_calls, &tail_target, error)) {
    case TailCall::Continue: NEXT();
    case TailCall::Fail: error.location = at_pc(static_cast<uint32_t>(pc - cells)); goto L_fail;
    case TailCall::Jump: break;
  }
  // Same registers and stack frame; pcs in errors now count in the target.
  cells = tail_target->cells().data();
  cell_count = tail_target->cells().size();
  pc = cells;
  DISPATCH();
L_call_kfunc:
  error =
      fault(cells, pc, Errc::UnknownHelper, "kfunc calls are not supported (btf id " + std::to_string(pc->imm) + ")");
  goto L_fail;
L_exit:
  if (depth == 0) goto L_done;
  --depth;
  std::memcpy(&reg[6], frames[depth].saved, sizeof frames[depth].saved);
  pc = frames[depth].return_to;
  DISPATCH();

  // ---- Ends.
L_done:
  out->r0 = reg[0];
  out->instructions = start - left;
  out->compute_units = out->instructions;
  std::memcpy(out->registers.data(), reg, sizeof reg);
  return;
L_budget:
  error = fault(cells, pc, Errc::BudgetExceeded, "instruction budget of " + std::to_string(budget) + " exhausted");
  goto L_fail;
L_access_fault:
  error = fault(cells, pc, Errc::AccessViolation, memory.describe_fault(fault_addr, fault_size, fault_write));
  goto L_fail;
L_fell_off_end:
  error = fault(cells, pc, Errc::OutOfRange, "execution ran past the last instruction");
  goto L_fail;
L_not_an_instruction:
  error = fault(cells, pc, Errc::OutOfRange, "execution reached the second slot of an lddw");
  goto L_fail;
L_fail:
  out->error = std::move(error);
  out->r0 = reg[0];
  // The faulting instruction counts; a budget fault has used the whole budget.
  out->instructions = left == 0 ? budget : start - left;
  out->compute_units = out->instructions;
  std::memcpy(out->registers.data(), reg, sizeof reg);

#undef ACCESS
}
#include "dispatch_end.hpp"

const void* const* handler_table() {
  const void* const* table = nullptr;
  execute(nullptr, 0, nullptr, {}, nullptr, &table);
  return table;
}

// Turns lddw src 5 / 6 into plain lddw of the map's handle (plus the offset in
// the second slot for src 6), so the hot path never sees them.
Expected<void> resolve_map_loads(const isa::Program& program, std::span<const uint64_t> map_addresses,
                                 std::vector<Cell>& cells, const void* lddw_handler) {
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const auto op = program.ops[pc];
    if (op != Op::lddw_map_idx && op != Op::lddw_map_idx_value) continue;
    const auto index = static_cast<uint32_t>(program.slots[pc].imm);
    if (index >= map_addresses.size())
      return make_error(Errc::OutOfRange,
                        "lddw names map " + std::to_string(index) + " of " + std::to_string(map_addresses.size()),
                        at_pc(static_cast<uint32_t>(pc)));
    uint64_t value = map_addresses[index];
    if (op == Op::lddw_map_idx_value) value += static_cast<uint32_t>(program.slots[pc + 1].imm);
    cells[pc].handler = lddw_handler;
    cells[pc].src = 0;
    cells[pc].imm = static_cast<int32_t>(static_cast<uint32_t>(value));
    cells[pc + 1].imm = static_cast<int32_t>(static_cast<uint32_t>(value >> 32));
  }
  return {};
}

// The distance from pc to the function that a local call or an lddw of a
// function names, checked to be the start of an instruction in the program.
Expected<int32_t> local_target_distance(const isa::Program& program, Op op, size_t pc) {
  // lddw src 4 keeps its target where a local call does (see isa/shapes.hpp).
  const Op shaped_as = op == Op::lddw_func ? Op::call_local : op;
  const int64_t target = *isa::branch_target(shaped_as, program.slots[pc], static_cast<int64_t>(pc));
  if (target < 0 || target >= static_cast<int64_t>(program.size()) || !program.ops[target])
    return make_error(Errc::OutOfRange,
                      op == Op::lddw_func ? "lddw function address points outside the program"
                                          : "call target " + std::to_string(target) + " is outside the program",
                      at_pc(static_cast<uint32_t>(pc)));
  return static_cast<int32_t>(target - static_cast<int64_t>(pc));
}

}  // namespace

Expected<Interpreter> Interpreter::create(const isa::Program& program, const Context& context) {
  const std::vector<uint64_t> map_addresses = context.map_addresses();
  const void* const* handlers = handler_table();
  // LD_ABS / LD_IND read the input, or a program-type run's packet.
  const Packet* packet = context.packet();
  const uint32_t packet_region = packet ? kPacketRegion : kInputRegion;
  auto cells = std::make_shared<std::vector<Cell>>(program.size() + 1);
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const isa::Slot& slot = program.slots[pc];
    Cell& cell = (*cells)[pc];
    cell.dst = slot.dst();
    cell.src = slot.src();
    cell.off = slot.off;
    cell.imm = slot.imm;
    if (!program.ops[pc]) {
      cell.handler = handlers[isa::kOpCount + 1];
      continue;
    }
    const Op op = *program.ops[pc];
    cell.handler = handlers[static_cast<size_t>(op)];
    const isa::Semantics meaning = isa::semantics(op, isa::kLinuxV4);
    if (meaning.operation == isa::Operation::LoadPacket) cell.dst = static_cast<uint8_t>(packet_region);
    if (op == Op::ldxw && is_packet_pointer_field(packet, slot.off)) cell.handler = handlers[isa::kOpCount + 3];
    if (op == Op::lddw_func || meaning.call == isa::CallResolution::Local) {
      auto distance = local_target_distance(program, op, pc);
      if (!distance) return distance.error();
      cell.imm = *distance;
    } else if (meaning.call == isa::CallResolution::Helper && slot.imm == static_cast<int32_t>(kTailCallHelper)) {
      cell.handler = handlers[isa::kOpCount + 2];
    } else if ((op == Op::lddw_map_idx || op == Op::lddw_map_idx_value) && !map_addresses.empty()) {
      // resolve_map_loads() below.
    } else if (isa::is_lddw(op) && op != Op::lddw) {
      return make_error(Errc::Unsupported, program.unresolved_lddw(pc), at_pc(static_cast<uint32_t>(pc)));
    }
  }
  if (auto resolved = resolve_map_loads(program, map_addresses, *cells, handlers[static_cast<size_t>(Op::lddw)]);
      !resolved)
    return resolved.error();
  Cell& end = cells->back();
  end = Cell{handlers[isa::kOpCount], 0, 0, 0, 0};
  return Interpreter(std::move(cells), *program.dialect);
}

std::span<const Interpreter::Cell> Interpreter::cells() const { return {cells_->data(), cells_->size() - 1}; }

RunResult Interpreter::run(Context& context, std::array<uint64_t, 5> args) const {
  RunResult result;
  execute(cells_->data(), cells_->size() - 1, &context, args, &result, nullptr);
  result.output = context.output().take();
  return result;
}

Expected<std::unique_ptr<Engine>> make_interpreter(const isa::Program& program, const Context& context) {
  if (program.dialect->family == isa::Family::Sbpf) {
    auto interpreter = sbpf::Interpreter::create(program, context);
    if (!interpreter) return interpreter.error();
    return std::unique_ptr<Engine>(std::make_unique<sbpf::Interpreter>(std::move(*interpreter)));
  }
  auto interpreter = Interpreter::create(program, context);
  if (!interpreter) return interpreter.error();
  return std::unique_ptr<Engine>(std::make_unique<Interpreter>(std::move(*interpreter)));
}

}  // namespace bpfkit::vm
