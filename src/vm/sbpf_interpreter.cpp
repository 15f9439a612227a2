// The sBPF interpreter: anza-xyz/sbpf interpreter.rs semantics (Firedancer's
// fd_vm agrees), decoded once into cells that hold their handler's address
// and run with computed goto, as the Linux interpreter is.
//
// Every opcode table row has a label here named L_<row id>; a row without one
// fails to compile. What differs between versions is resolved once, in
// create(), from isa::semantics(): a cell gets the handler that implements
// its row's meaning in the version (sign- or zero-extending add32, swapped
// sub imm, ...; kVariants), so the hot loop never tests a feature flag. The
// one exception, v0's gapped stack, is a template parameter of execute().
#include <algorithm>
#include <cstring>
#include <limits>

#include "bpfkit/vm.hpp"
#include "dispatch.hpp"

namespace bpfkit::vm::sbpf {

namespace {

using isa::Op;

struct Cell {
  const void* handler;
  uint8_t dst;
  uint8_t src;  // callx: the target register, from whichever field the version reads it
  int16_t off;
  int32_t imm;  // a syscall call: index into State::syscalls; a local call: target - pc - 1
};

constexpr uint32_t kMaxFrames = 64;  // the deepest call stack of any sBPF version

// Handlers past the table rows: what create() gives cells that need one of a
// row's version variants, or no row at all.
enum Extra : size_t {
  kOverrun = isa::kOpCount,  // the cell after the last slot
  kLddwTail,                 // the second slot of an lddw
  kSyscall,                  // call resolved to a syscall
  kAdd32ImmZx,               // v2 (explicit_sign_extension): zero-extending forms
  kAdd32RegZx,
  kSub32ImmZx,
  kSub32RegZx,
  kMul32ImmZx,
  kMul32RegZx,
  kSub32ImmSwap,  // v2 (swap_sub_reg_imm): imm - dst
  kSub32ImmSwapZx,
  kSub64ImmSwap,
  kMov32RegSx,  // v2: mov32 reg sign-extends
  kExtraEnd,
};

struct Frame {
  uint64_t saved[5];  // r6..r10
  const Cell* return_to;
};

using detail::load;
using detail::store;

inline uint64_t sign_extend32(uint32_t value) {
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value)));
}

}  // namespace

struct Interpreter::State {
  const isa::Dialect* dialect;
  std::vector<uint8_t> rodata;  // the read-only region (v0..v2: the text within it)
  uint64_t text_vaddr = 0;      // address of slot 0: callx targets are relative to it
  uint32_t entry = 0;
  std::vector<Helper> syscalls;  // the ones the program calls, by cell imm
  std::vector<Cell> cells;       // one per slot, then the end sentinel
};

namespace {

using State = Interpreter::State;

Error vm_error(Errc code, SbpfVmErrc detail, std::string message, uint64_t pc) {
  return make_error(code, detail, std::move(message), at_pc(static_cast<uint32_t>(pc)));
}

// Runs one syscall with r1..r5 and puts its result in r0. Out of line so that
// the dispatch loop's scope holds no object with a destructor. `left` is the
// interpreter's meter (remaining + 1).
bool call_syscall(const Helper& syscall, uint64_t* reg, Context& context, uint64_t& left, Error& error) {
  uint64_t meter = left - 1;
  HelperCall call{context, context.memory(), {reg[1], reg[2], reg[3], reg[4], reg[5]}, &meter};
  Expected<uint64_t> value = syscall.fn(call);
  left = meter + 1;
  if (!value) {
    error = value.error();
    if (error.domain == Domain::Generic) error.set_detail(SbpfVmErrc::SyscallError);
    error.message = syscall.name + ": " + error.message;
    return false;
  }
  reg[0] = *value;
  return true;
}

// Runs the program of `state`. When state is null, it only hands out its
// table of handler addresses (labels are local to this function) through
// *table. kGapped: v0's stack, whose odd 4 KiB pages are unmapped gaps.
template <bool kGapped>
void execute(const State* state, Context* context, uint64_t r1, uint64_t r2, RunResult* out, uint64_t budget,
             const void* const** table) {
  static const void* const kHandlers[] = {
#define BPF_OP(id, ...) &&L_##id,
#include "bpfkit/isa/opcodes.def"
#undef BPF_OP
      &&L_overrun,           &&L_lddw_tail,      &&L_syscall,      &&L_add32_imm_zx, &&L_add32_reg_zx,
      &&L_sub32_imm_zx,      &&L_sub32_reg_zx,   &&L_mul32_imm_zx, &&L_mul32_reg_zx, &&L_sub32_imm_swap,
      &&L_sub32_imm_swap_zx, &&L_sub64_imm_swap, &&L_mov32_reg_sx,
  };
  static_assert(sizeof kHandlers / sizeof kHandlers[0] == kExtraEnd);
  if (state == nullptr) {
    *table = kHandlers;
    return;
  }

  const isa::Dialect& dialect = *state->dialect;
  const Cell* const cells = state->cells.data();
  const Cell* const end = cells + state->cells.size() - 1;
  const uint64_t text_count = state->cells.size() - 1;
  const uint64_t text_vaddr = state->text_vaddr;
  const isa::FrameModel frame = isa::frame_model(dialect);
  const uint32_t max_frames = std::min(frame.max_depth, kMaxFrames);
  const auto frame_step = static_cast<uint64_t>(frame.call_fp_step);  // 0 where the program moves r10 (v1, v2)
  const MemoryMap& memory = context->memory();
  const RegionBounds* const regions = memory.bounds().data();
  const uint64_t region_count = memory.bounds().size();

  uint64_t reg[isa::kRegisterCount] = {};
  reg[1] = r1;
  reg[2] = r2;
  reg[isa::kFramePointer] = region_base(kStackRegion) + frame.entry_fp;

  Frame frames[kMaxFrames];
  uint32_t depth = 0;
  // The meter is remaining + 1, so that one decrement and test per
  // instruction does both the check (executed >= budget faults) and the count.
  uint64_t left = budget + 1;
  uint64_t syscall_units = 0;  // what syscalls charged: compute units that are not instructions
  const Cell* pc = cells + state->entry;
  uint64_t fault_addr = 0, fault_size = 0;
  bool fault_write = false;
  Error error{Errc::Unsupported, "", {}};

#define FAIL(code, name, message)                      \
  do {                                                 \
    error = vm_error(code, name, message, pc - cells); \
    goto L_fail;                                       \
  } while (0)
// In v0 a stack offset is first mapped past its gaps (isa::gapped_stack_offset).
#define STACK_GAPS(index, offset)                                               \
  if constexpr (kGapped) {                                                      \
    if ((index) == kStackRegion) (offset) = isa::gapped_stack_offset((offset)); \
  }
#define ACCESS(host, addr_expr, size, write) CHECKED_ACCESS(host, addr_expr, size, write, STACK_GAPS)
#define IMM_ZX64 static_cast<uint64_t>(static_cast<uint32_t>(pc->imm))
#define ZX(v) static_cast<uint64_t>(static_cast<uint32_t>(v))
#define SX(v) sign_extend32(static_cast<uint32_t>(v))

  DISPATCH();

  // ---- ALU. d and s are the operands; IMM is the imm as the row reads it;
  // EXT widens a 32-bit result; CHECK runs before the operation (division).
#define OP_IMM(label, T, IMM, EXT, CHECK, expr)        \
  label : {                                            \
    const T d = static_cast<T>(reg[pc->dst]), s = IMM; \
    CHECK;                                             \
    reg[pc->dst] = EXT(expr);                          \
    NEXT();                                            \
  }
#define OP_REG(label, T, EXT, CHECK, expr)                                      \
  label : {                                                                     \
    const T d = static_cast<T>(reg[pc->dst]), s = static_cast<T>(reg[pc->src]); \
    CHECK;                                                                      \
    reg[pc->dst] = EXT(expr);                                                   \
    NEXT();                                                                     \
  }
#define AS_IS(v) (v)
#define NO_CHECK static_cast<void>(0)
#define NONZERO \
  if (__builtin_expect(s == 0, 0)) goto L_divide_by_zero
  // Signed division: zero divisor, then MIN / -1 (Rust would panic on it).
#define SIGNED_OK(S)                                                                                      \
  if (__builtin_expect(s == 0, 0)) goto L_divide_by_zero;                                                 \
  if (__builtin_expect(static_cast<S>(d) == std::numeric_limits<S>::min() && static_cast<S>(s) == -1, 0)) \
  goto L_divide_overflow
#define ALU64(name, IMM, CHECK, expr)                       \
  OP_IMM(L_##name##_imm, uint64_t, IMM, AS_IS, CHECK, expr) \
  OP_REG(L_##name##_reg, uint64_t, AS_IS, CHECK, expr)
#define ALU32(name, IMM, EXT, CHECK, expr)                \
  OP_IMM(L_##name##_imm, uint32_t, IMM, EXT, CHECK, expr) \
  OP_REG(L_##name##_reg, uint32_t, EXT, CHECK, expr)

  ALU64(add64, IMM64, NO_CHECK, d + s)
  ALU64(sub64, IMM64, NO_CHECK, d - s)
  ALU64(mul64, IMM64, NO_CHECK, d * s)
  ALU64(div64, IMM64, NONZERO, d / s)
  ALU64(mod64, IMM64, NONZERO, d % s)
  ALU64(or64, IMM64, NO_CHECK, d | s)
  ALU64(and64, IMM64, NO_CHECK, d & s)
  ALU64(xor64, IMM64, NO_CHECK, d ^ s)
  ALU64(lsh64, IMM64, NO_CHECK, d << (s & 63))
  ALU64(rsh64, IMM64, NO_CHECK, d >> (s & 63))
  ALU64(arsh64, IMM64, NO_CHECK, static_cast<uint64_t>(static_cast<int64_t>(d) >> (s & 63)))
  ALU64(mov64, IMM64, NO_CHECK, (static_cast<void>(d), s))
  OP_IMM(L_sub64_imm_swap, uint64_t, IMM64, AS_IS, NO_CHECK, s - d)

  // add, sub and mul sign-extend their 32-bit result, except in v2.
  ALU32(add32, IMM32, SX, NO_CHECK, d + s)
  ALU32(sub32, IMM32, SX, NO_CHECK, d - s)
  ALU32(mul32, IMM32, SX, NO_CHECK, d * s)
  OP_IMM(L_add32_imm_zx, uint32_t, IMM32, ZX, NO_CHECK, d + s)
  OP_REG(L_add32_reg_zx, uint32_t, ZX, NO_CHECK, d + s)
  OP_IMM(L_sub32_imm_zx, uint32_t, IMM32, ZX, NO_CHECK, d - s)
  OP_REG(L_sub32_reg_zx, uint32_t, ZX, NO_CHECK, d - s)
  OP_IMM(L_mul32_imm_zx, uint32_t, IMM32, ZX, NO_CHECK, d * s)
  OP_REG(L_mul32_reg_zx, uint32_t, ZX, NO_CHECK, d * s)
  OP_IMM(L_sub32_imm_swap, uint32_t, IMM32, SX, NO_CHECK, s - d)
  OP_IMM(L_sub32_imm_swap_zx, uint32_t, IMM32, ZX, NO_CHECK, s - d)
  // The other 32-bit operations zero-extend in every version.
  ALU32(div32, IMM32, ZX, NONZERO, d / s)
  ALU32(mod32, IMM32, ZX, NONZERO, d % s)
  ALU32(or32, IMM32, ZX, NO_CHECK, d | s)
  ALU32(and32, IMM32, ZX, NO_CHECK, d & s)
  ALU32(xor32, IMM32, ZX, NO_CHECK, d ^ s)
  ALU32(lsh32, IMM32, ZX, NO_CHECK, d << (s & 31))
  ALU32(rsh32, IMM32, ZX, NO_CHECK, d >> (s & 31))
  ALU32(arsh32, IMM32, ZX, NO_CHECK, static_cast<uint32_t>(static_cast<int32_t>(d) >> (s & 31)))
  ALU32(mov32, IMM32, ZX, NO_CHECK, (static_cast<void>(d), s))
  OP_REG(L_mov32_reg_sx, uint32_t, SX, NO_CHECK, (static_cast<void>(d), s))

  // v2 PQR class. 64-bit unsigned forms zero-extend imm, signed and lmul64
  // sign-extend it; 32-bit results zero-extend.
  ALU32(lmul32, IMM32, ZX, NO_CHECK, d * s)
  ALU64(lmul64, IMM64, NO_CHECK, d * s)
  ALU64(uhmul64, IMM_ZX64, NO_CHECK,
        static_cast<uint64_t>((static_cast<unsigned __int128>(d) * static_cast<unsigned __int128>(s)) >> 64))
  ALU64(shmul64, IMM64, NO_CHECK,
        static_cast<uint64_t>(
            static_cast<__int128>(static_cast<int64_t>(d)) * static_cast<__int128>(static_cast<int64_t>(s)) >> 64))
  ALU32(udiv32, IMM32, ZX, NONZERO, d / s)
  ALU32(urem32, IMM32, ZX, NONZERO, d % s)
  ALU64(udiv64, IMM_ZX64, NONZERO, d / s)
  ALU64(urem64, IMM_ZX64, NONZERO, d % s)
  ALU32(sdiv32_pqr, IMM32, ZX, SIGNED_OK(int32_t), static_cast<int32_t>(d) / static_cast<int32_t>(s))
  ALU32(srem32, IMM32, ZX, SIGNED_OK(int32_t), static_cast<int32_t>(d) % static_cast<int32_t>(s))
  ALU64(sdiv64_pqr, IMM64, SIGNED_OK(int64_t), static_cast<uint64_t>(static_cast<int64_t>(d) / static_cast<int64_t>(s)))
  ALU64(srem64, IMM64, SIGNED_OK(int64_t), static_cast<uint64_t>(static_cast<int64_t>(d) % static_cast<int64_t>(s)))
#undef ALU32
#undef ALU64
#undef OP_IMM
#undef OP_REG

L_neg64:
  reg[pc->dst] = 0 - reg[pc->dst];
  NEXT();
L_neg32:
  reg[pc->dst] = ZX(0u - static_cast<uint32_t>(reg[pc->dst]));
  NEXT();
L_hor64_imm:
  reg[pc->dst] |= IMM_ZX64 << 32;
  NEXT();

  BYTE_ORDER_HANDLERS(L_be16, L_be32, L_be64)
  LDDW_HANDLER()

  // ---- Loads and stores; v2's moved encodings share the handlers.
#define LDX(name, moved, T)                         \
  L_##name : L_##moved : {                          \
    ACCESS(host, OFFSET(pc->src), sizeof(T), false) \
    reg[pc->dst] = load<T>(host);                   \
    NEXT();                                         \
  }
  LDX(ldxb, sbpf_ldxb, uint8_t)
  LDX(ldxh, sbpf_ldxh, uint16_t)
  LDX(ldxw, sbpf_ldxw, uint32_t)
  LDX(ldxdw, sbpf_ldxdw, uint64_t)
#undef LDX
#define ST(name, moved, T, value)                  \
  L_##name : L_##moved : {                         \
    ACCESS(host, OFFSET(pc->dst), sizeof(T), true) \
    store<T>(host, static_cast<T>(value));         \
    NEXT();                                        \
  }
  ST(stb, sbpf_stb, uint8_t, pc->imm)
  ST(sth, sbpf_sth, uint16_t, pc->imm)
  ST(stw, sbpf_stw, uint32_t, pc->imm)
  ST(stdw, sbpf_stdw, uint64_t, IMM64)
  ST(stxb, sbpf_stxb, uint8_t, reg[pc->src])
  ST(stxh, sbpf_stxh, uint16_t, reg[pc->src])
  ST(stxw, sbpf_stxw, uint32_t, reg[pc->src])
  ST(stxdw, sbpf_stxdw, uint64_t, reg[pc->src])
#undef ST

  // ---- Jumps. JUMP_IF adds off; NEXT adds the 1.
L_ja:
  pc += pc->off;
  NEXT();
#define JMP(name, T, IMM, cond)                                                 \
  L_##name##_imm : {                                                            \
    const T d = static_cast<T>(reg[pc->dst]), s = IMM;                          \
    JUMP_IF(cond);                                                              \
  }                                                                             \
  L_##name##_reg : {                                                            \
    const T d = static_cast<T>(reg[pc->dst]), s = static_cast<T>(reg[pc->src]); \
    JUMP_IF(cond);                                                              \
  }
#define JMP_BOTH(name, cond)           \
  JMP(name##64, uint64_t, IMM64, cond) \
  JMP(name##32, uint32_t, IMM32, cond)
#define S64 static_cast<int64_t>
#define S32 static_cast<int32_t>
  JMP_BOTH(jeq, d == s)
  JMP_BOTH(jne, d != s)
  JMP_BOTH(jgt, d > s)
  JMP_BOTH(jge, d >= s)
  JMP_BOTH(jlt, d < s)
  JMP_BOTH(jle, d <= s)
  JMP_BOTH(jset, (d & s) != 0)
  JMP(jsgt64, uint64_t, IMM64, S64(d) > S64(s))
  JMP(jsge64, uint64_t, IMM64, S64(d) >= S64(s))
  JMP(jslt64, uint64_t, IMM64, S64(d) < S64(s))
  JMP(jsle64, uint64_t, IMM64, S64(d) <= S64(s))
  JMP(jsgt32, uint32_t, IMM32, S32(d) > S32(s))
  JMP(jsge32, uint32_t, IMM32, S32(d) >= S32(s))
  JMP(jslt32, uint32_t, IMM32, S32(d) < S32(s))
  JMP(jsle32, uint32_t, IMM32, S32(d) <= S32(s))
#undef S64
#undef S32
#undef JMP_BOTH
#undef JMP

  // ---- Calls and exit.
  {
    const Cell* callee;
  L_syscall : {
    const uint64_t before = left;
    const bool ok = call_syscall(state->syscalls[static_cast<uint32_t>(pc->imm)], reg, *context, left, error);
    syscall_units += before - left;
    if (!ok) {
      error.location = at_pc(static_cast<uint32_t>(pc - cells));
      goto L_fail;
    }
    NEXT();
  }
  L_call:
    // create() resolved every key it knows; this one is nobody's.
    FAIL(Errc::Unsupported, SbpfVmErrc::UnsupportedInstruction,
         "call of unknown key " + hex_string(static_cast<uint32_t>(pc->imm)) + " (no syscall or function)");
  L_call_local : {
    const int64_t target = (pc - cells) + static_cast<int64_t>(pc->imm);  // see local_call_distance()
    if (target >= 0 && static_cast<uint64_t>(target) < text_count) {
      callee = cells + target;
    } else {
      // A registered function outside the text (v0..v2; the verifier keeps
      // v3's relative calls inside): push the frame first, then fault.
      callee = end;
    }
    goto L_push;
  }
  L_callx : {
    const uint64_t slot = (reg[pc->src] - text_vaddr) / 8;  // wrapping, floored: as Agave
    callee = slot < text_count ? cells + slot : end;
    goto L_push;
  }
  L_push:
    std::memcpy(frames[depth].saved, &reg[6], sizeof frames[depth].saved);
    frames[depth].return_to = pc + 1;
    if (++depth == max_frames)
      FAIL(Errc::CallDepthExceeded, SbpfVmErrc::CallDepthExceeded,
           "exceeded max BPF to BPF call depth of " + std::to_string(max_frames));
    if (callee == end)
      FAIL(Errc::BadCallTarget, SbpfVmErrc::CallOutsideTextSegment,
           "callx attempted to call outside of the text segment");
    reg[isa::kFramePointer] += frame_step;
    pc = callee;
    DISPATCH();
  }
L_exit:
  if (depth == 0) goto L_done;
  --depth;
  std::memcpy(&reg[6], frames[depth].saved, sizeof frames[depth].saved);
  if (frames[depth].return_to == end)
    FAIL(Errc::BadCallTarget, SbpfVmErrc::CallOutsideTextSegment, "return address is past the end of the text segment");
  pc = frames[depth].return_to;
  DISPATCH();

  // ---- Rows that no sBPF version decodes (create() refuses them too).
L_sdiv64_imm:
L_sdiv64_reg:
L_smod64_imm:
L_smod64_reg:
L_sdiv32_imm:
L_sdiv32_reg:
L_smod32_imm:
L_smod32_reg:
L_movsx8_64:
L_movsx16_64:
L_movsx32_64:
L_movsx8_32:
L_movsx16_32:
L_addr_space_cast:
L_bswap16:
L_bswap32:
L_bswap64:
L_lddw_map_fd:
L_lddw_map_value:
L_lddw_btf_id:
L_lddw_func:
L_lddw_map_idx:
L_lddw_map_idx_value:
L_ldabsw:
L_ldabsh:
L_ldabsb:
L_ldindw:
L_ldindh:
L_ldindb:
L_ldxsw:
L_ldxsh:
L_ldxsb:
L_atomic64_add:
L_atomic64_fetch_add:
L_atomic64_or:
L_atomic64_fetch_or:
L_atomic64_and:
L_atomic64_fetch_and:
L_atomic64_xor:
L_atomic64_fetch_xor:
L_atomic64_xchg:
L_atomic64_cmpxchg:
L_atomic32_add:
L_atomic32_fetch_add:
L_atomic32_or:
L_atomic32_fetch_or:
L_atomic32_and:
L_atomic32_fetch_and:
L_atomic32_xor:
L_atomic32_fetch_xor:
L_atomic32_xchg:
L_atomic32_cmpxchg:
L_gotol:
L_may_goto:
L_call_kfunc:
  FAIL(Errc::Unsupported, SbpfVmErrc::UnsupportedInstruction, "unsupported BPF instruction");

  // ---- Ends.
L_done:
  out->r0 = reg[0];
  out->compute_units = budget - (left - 1);
  out->instructions = out->compute_units - syscall_units;
  std::memcpy(out->registers.data(), reg, sizeof reg);
  return;
L_budget:
  // Fault before counting: the budget is exactly used up.
  left = 1;
  FAIL(Errc::BudgetExceeded, SbpfVmErrc::ExceededMaxInstructions, "exceeded CUs meter at BPF instruction");
L_access_fault:
  error = access_violation(dialect, fault_addr, fault_size, fault_write);
  error.location = at_pc(static_cast<uint32_t>(pc - cells));
  goto L_fail;
L_divide_by_zero:
  FAIL(Errc::DivideByZero, SbpfVmErrc::DivideByZero, "divide by zero at BPF instruction");
L_divide_overflow:
  FAIL(Errc::DivideByZero, SbpfVmErrc::DivideOverflow, "division overflow at BPF instruction");
L_overrun:
  FAIL(Errc::OutOfRange, SbpfVmErrc::ExecutionOverrun, "attempted to execute past the end of the text segment");
L_lddw_tail:
  // Only callx reaches it: the production VM sees opcode 0 there.
  FAIL(Errc::Unsupported, SbpfVmErrc::UnsupportedInstruction, "execution reached the second slot of an lddw");
L_fail:
  out->error = std::move(error);
  out->r0 = reg[0];
  out->compute_units = budget - (left - 1);
  out->instructions = out->compute_units - syscall_units;
  std::memcpy(out->registers.data(), reg, sizeof reg);

#undef FAIL
#undef ACCESS
#undef STACK_GAPS
#undef IMM_ZX64
#undef ZX
#undef SX
#undef AS_IS
#undef NO_CHECK
#undef NONZERO
#undef SIGNED_OK
}
#include "dispatch_end.hpp"

template <bool kGapped>
const void* const* handler_table() {
  const void* const* table = nullptr;
  execute<kGapped>(nullptr, nullptr, 0, 0, nullptr, 0, &table);
  return table;
}

// The handlers of the rows whose meaning differs between versions, by the
// meaning each implements. A row not listed has one meaning in every version
// that has it: its own label.
struct Variant {
  Op op;
  isa::Extension result;
  bool swapped;
  size_t handler;
};
constexpr Variant kVariants[] = {
    {Op::add32_imm, isa::Extension::Sign, false, size_t(Op::add32_imm)},
    {Op::add32_imm, isa::Extension::Zero, false, kAdd32ImmZx},
    {Op::add32_reg, isa::Extension::Sign, false, size_t(Op::add32_reg)},
    {Op::add32_reg, isa::Extension::Zero, false, kAdd32RegZx},
    {Op::sub32_imm, isa::Extension::Sign, false, size_t(Op::sub32_imm)},
    {Op::sub32_imm, isa::Extension::Zero, false, kSub32ImmZx},
    {Op::sub32_imm, isa::Extension::Sign, true, kSub32ImmSwap},
    {Op::sub32_imm, isa::Extension::Zero, true, kSub32ImmSwapZx},
    {Op::sub32_reg, isa::Extension::Sign, false, size_t(Op::sub32_reg)},
    {Op::sub32_reg, isa::Extension::Zero, false, kSub32RegZx},
    {Op::sub64_imm, isa::Extension::None, false, size_t(Op::sub64_imm)},
    {Op::sub64_imm, isa::Extension::None, true, kSub64ImmSwap},
    {Op::mul32_imm, isa::Extension::Sign, false, size_t(Op::mul32_imm)},
    {Op::mul32_imm, isa::Extension::Zero, false, kMul32ImmZx},
    {Op::mul32_reg, isa::Extension::Sign, false, size_t(Op::mul32_reg)},
    {Op::mul32_reg, isa::Extension::Zero, false, kMul32RegZx},
    {Op::mov32_reg, isa::Extension::Zero, false, size_t(Op::mov32_reg)},
    {Op::mov32_reg, isa::Extension::Sign, false, kMov32RegSx},
};

// The handler for one decoded slot: the one implementing the row's meaning
// in this version.
Expected<size_t> handler_index(Op op, const isa::Semantics& meaning, size_t pc) {
  bool listed = false;
  for (const Variant& v : kVariants) {
    if (v.op != op) continue;
    listed = true;
    if (v.result == meaning.result && v.swapped == meaning.swapped) return v.handler;
  }
  if (!listed) return size_t(op);
  return vm_error(Errc::Unsupported, SbpfVmErrc::UnsupportedInstruction,
                  "no handler for " + std::string(isa::info(op).id) + " as this version defines it", pc);
}

// What L_call_local adds to the cell's pc: the target's distance, clamped so
// that a target outside the text stays outside.
int32_t local_call_distance(int64_t target, size_t pc) {
  return static_cast<int32_t>(std::clamp<int64_t>(target - static_cast<int64_t>(pc), INT32_MIN, INT32_MAX));
}

// Fills the cell of a call: a syscall (v0..v2 check them first; v3's src 0
// is only that: CallResolution::Syscall), else a function of the program
// (v0..v2: SyscallOrFunction, by its key), else unknown.
void resolve_call(State& state, const HelperTable& helpers, const isa::Program& program, Cell& cell, size_t pc,
                  const void* const* handlers) {
  const auto key = static_cast<uint32_t>(cell.imm);
  if (const Helper* syscall = helpers.find(key)) {
    auto it = std::find_if(state.syscalls.begin(), state.syscalls.end(),
                           [&](const Helper& known) { return known.name == syscall->name; });
    if (it == state.syscalls.end()) it = state.syscalls.insert(it, *syscall);
    cell.handler = handlers[kSyscall];
    cell.imm = static_cast<int32_t>(it - state.syscalls.begin());
    return;
  }
  const isa::Semantics meaning = isa::semantics(Op::call, *state.dialect);
  auto fn = program.function_keys.find(key);
  if (meaning.call != isa::CallResolution::SyscallOrFunction || fn == program.function_keys.end()) {
    cell.handler = handlers[size_t(Op::call)];
    return;
  }
  // A target outside the text stays one: L_call_local pushes, then faults.
  const int64_t target = fn->second < state.cells.size() ? static_cast<int64_t>(fn->second) : -1;
  cell.handler = handlers[size_t(Op::call_local)];
  cell.imm = local_call_distance(target, pc);
}

// rodata's region: 1 << 32, or 0 where the version lowers it (v3).
Expected<void> check_layout(const isa::Program& program) {
  if (!program.rodata.empty() && program.rodata_vaddr != isa::rodata_address(*program.dialect))
    return vm_error(Errc::Unsupported, SbpfVmErrc::InvalidVirtualAddress, "rodata must start at its region's base", 0);
  if (program.rodata.size() > 0xffffffffu)
    return vm_error(Errc::Unsupported, SbpfVmErrc::InvalidVirtualAddress, "rodata larger than a region", 0);
  return {};
}

}  // namespace

Expected<Interpreter> Interpreter::create(const isa::Program& program, const Context& context) {
  if (program.dialect == nullptr || program.dialect->family != isa::Family::Sbpf)
    return make_error(Errc::Unsupported, "not an sBPF dialect");
  if (auto layout = check_layout(program); !layout) return layout.error();
  // The production verifier, whoever built the program.
  auto verified = isa::decode(std::span<const isa::Slot>(program.slots), *program.dialect);
  if (!verified) return verified.error();
  if (program.entry >= verified->size())
    return vm_error(Errc::OutOfRange, SbpfVmErrc::InvalidEntrypoint, "entry pc outside the text", program.entry);

  auto state = std::make_shared<State>();
  state->dialect = program.dialect;
  state->rodata = program.rodata;
  state->text_vaddr = program.text_vaddr;
  state->entry = program.entry;
  const isa::Dialect& dialect = *program.dialect;
  const void* const* handlers =
      isa::frame_model(dialect).gap_size != 0 ? handler_table<true>() : handler_table<false>();
  state->cells.resize(verified->size() + 1);
  for (size_t pc = 0; pc < verified->size(); ++pc) {
    const isa::Slot& slot = verified->slots[pc];
    Cell& cell = state->cells[pc];
    cell = Cell{handlers[kLddwTail], slot.dst(), slot.src(), slot.off, slot.imm};
    if (!verified->ops[pc]) continue;
    const Op op = *verified->ops[pc];
    const isa::Semantics meaning = isa::semantics(op, dialect);
    auto handler = handler_index(op, meaning, pc);
    if (!handler) return handler.error();
    cell.handler = handlers[*handler];
    if (meaning.call == isa::CallResolution::Syscall || meaning.call == isa::CallResolution::SyscallOrFunction) {
      resolve_call(*state, context.helpers(), program, cell, pc, handlers);
    } else if (meaning.call == isa::CallResolution::Local) {
      cell.imm = local_call_distance(*isa::branch_target(op, slot, static_cast<int64_t>(pc)), pc);
    } else if (meaning.call == isa::CallResolution::Indirect) {
      // The verifier checked the register (InvalidRegister).
      cell.src = static_cast<uint8_t>(isa::callx_register(slot, dialect));
    }
  }
  state->cells.back() = Cell{handlers[kOverrun], 0, 0, 0, 0};
  return Interpreter(std::move(state));
}

const isa::Dialect& Interpreter::dialect() const { return *state_->dialect; }

RunResult Interpreter::run(Context& context, std::array<uint64_t, 5> args) const {
  const isa::Dialect& dialect = *state_->dialect;
  MemoryMap& memory = context.memory();
  // The map never writes a read-only region, so the const_cast is safe.
  std::span<uint8_t> rodata(const_cast<uint8_t*>(state_->rodata.data()), state_->rodata.size());
  if (isa::rodata_address(dialect) == 0) {
    memory.map(0, "rodata", rodata, false);
    memory.map(kProgramRegion, "bytecode", {}, false);  // not readable
  } else {
    memory.map(kProgramRegion, "program", rodata, false);
  }
  context.clear_stack_and_heap();

  RunResult result;
  // One below the maximum, so that the meter's + 1 cannot wrap.
  const uint64_t budget = std::min(context.budget(), UINT64_MAX - 1);
  if (isa::frame_model(dialect).gap_size != 0)
    execute<true>(state_.get(), &context, args[0], args[1], &result, budget, nullptr);
  else
    execute<false>(state_.get(), &context, args[0], args[1], &result, budget, nullptr);
  result.output = context.output().take();
  return result;
}

}  // namespace bpfkit::vm::sbpf
