// The sBPF interpreter: anza-xyz/sbpf interpreter.rs semantics (Firedancer's
// fd_vm agrees), decoded once into cells that hold their handler's address
// and run with computed goto, as the Linux interpreter is.
//
// Every opcode table row has a label here named L_<row id>; a row without one
// fails to compile. Rows no sBPF version decodes share L_not_in_dialect. What
// differs between versions is resolved once, in create(): a cell gets the
// handler of its version's variant (sign- or zero-extending add32, swapped
// sub imm, ...), so the hot loop never tests a feature flag. The one
// exception, v0's gapped stack, is a template parameter of execute().
#include <algorithm>
#include <cstring>

#include "bpfkit/vm.hpp"

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

constexpr uint64_t kFrameSize = 4096;  // bytes of one stack frame
constexpr uint32_t kMaxFrames = 64;    // the production call depth limit

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

template <class T>
inline T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}
template <class T>
inline void store(uint8_t* p, T value) {
  std::memcpy(p, &value, sizeof value);
}

inline uint64_t sign_extend32(uint32_t value) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value))); }

}  // namespace

struct Interpreter::State {
  Executable exe;
  SyscallRegistry registry;
  std::vector<const Syscall*> syscalls;  // the ones the program calls, by cell imm
  std::vector<Cell> cells;               // one per slot, then the end sentinel
};

namespace {

using State = Interpreter::State;

// What one run owns besides registers: the regions and the log.
struct Run {
  MemoryMap memory;
  std::vector<uint8_t> stack, heap;
  std::string log;
};

Error vm_error(Errc code, const char* name, std::string message, uint64_t pc) {
  Error error = make_error(code, std::move(message), at_pc(static_cast<uint32_t>(pc)));
  error.name = name;
  return error;
}

// Runs one syscall with r1..r5 and puts its result in r0. Out of line so that
// the dispatch loop's scope holds no object with a destructor. `left` is the
// interpreter's meter (remaining + 1).
bool call_syscall(const Syscall& syscall, uint64_t* reg, Run& run, const isa::Dialect& dialect, uint64_t& left,
                  Error& error) {
  uint64_t meter = left - 1;
  SyscallContext ctx{run.memory, {reg[1], reg[2], reg[3], reg[4], reg[5]}, meter, run.log, &dialect};
  Expected<uint64_t> value = syscall.fn(ctx);
  left = meter + 1;
  if (!value) {
    error = value.error();
    if (error.name.empty()) error.name = "SyscallError";
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
void execute(const State* state, Run* run, RunResult* out, uint64_t budget, const void* const** table) {
  static const void* const kHandlers[] = {
#define BPF_OP(id, ...) &&L_##id,
#include "bpfkit/isa/opcodes.def"
#undef BPF_OP
      &&L_overrun,         &&L_lddw_tail,       &&L_syscall,         &&L_add32_imm_zx,    &&L_add32_reg_zx,
      &&L_sub32_imm_zx,    &&L_sub32_reg_zx,    &&L_mul32_imm_zx,    &&L_mul32_reg_zx,    &&L_sub32_imm_swap,
      &&L_sub32_imm_swap_zx, &&L_sub64_imm_swap, &&L_mov32_reg_sx,
  };
  static_assert(sizeof kHandlers / sizeof kHandlers[0] == kExtraEnd);
  if (state == nullptr) {
    *table = kHandlers;
    return;
  }

  const isa::Dialect& dialect = *state->exe.dialect;
  const Cell* const cells = state->cells.data();
  const Cell* const end = cells + state->cells.size() - 1;
  const uint64_t text_count = state->cells.size() - 1;
  const uint64_t text_vaddr = state->exe.text_vaddr;
  const uint32_t max_frames = std::min(dialect.max_call_depth, kMaxFrames);
  // Calls move r10 to the next frame unless the program does it (v1, v2).
  const uint64_t frame_step = dialect.sbpf.manual_stack_frame_bump ? 0 : (kGapped ? 2 : 1) * kFrameSize;
  const MemoryMap& memory = run->memory;
  const RegionBounds* const regions = memory.bounds().data();
  const uint64_t region_count = memory.bounds().size();

  uint64_t reg[isa::kRegisterCount] = {};
  reg[1] = region_base(kInputRegion);
  reg[isa::kFramePointer] =
      region_base(kStackRegion) + (dialect.sbpf.manual_stack_frame_bump ? run->stack.size() : kFrameSize);

  Frame frames[kMaxFrames];
  uint32_t depth = 0;
  // The meter is remaining + 1, so that one decrement and test per
  // instruction does both the check (executed >= budget faults) and the count.
  uint64_t left = budget + 1;
  const Cell* pc = cells + state->exe.entry_pc;
  uint64_t fault_addr = 0, fault_size = 0;
  bool fault_write = false;
  const char* fault_name = nullptr;
  Error error{Errc::Unsupported, "", {}};

#define DISPATCH()                                       \
  do {                                                   \
    if (__builtin_expect(--left == 0, 0)) goto L_budget; \
    goto * pc->handler;                                  \
  } while (0)
#define NEXT()  \
  do {          \
    ++pc;       \
    DISPATCH(); \
  } while (0)
#define JUMP_IF(cond)        \
  do {                       \
    if (cond) pc += pc->off; \
    NEXT();                  \
  } while (0)
#define FAIL(code, name, message)                                   \
  do {                                                              \
    error = vm_error(code, name, message, pc - cells);              \
    goto L_fail;                                                    \
  } while (0)
// MemoryMap::translate written out, as in the Linux interpreter. In v0 a
// stack offset first loses its gap bit (bit 12 set: in a gap; the offset is
// pushed past every limit), the way Agave's vm_gap_shift maps it; only the
// first byte is tested against the gap, as there.
#define ACCESS(host, addr_expr, size, write)                                                                        \
  const uint64_t addr_ = (addr_expr);                                                                               \
  const uint64_t index_ = addr_ >> kRegionShift;                                                                    \
  uint64_t offset_ = addr_ & 0xffffffffu;                                                                           \
  if constexpr (kGapped) {                                                                                          \
    if (index_ == kStackRegion)                                                                                     \
      offset_ = (offset_ & kFrameSize) ? (uint64_t{1} << 40)                                                        \
                                       : (((offset_ >> 1) & ~(kFrameSize - 1)) | (offset_ & (kFrameSize - 1)));     \
  }                                                                                                                 \
  if (__builtin_expect(index_ >= region_count ||                                                                    \
                           offset_ + (size) > ((write) ? regions[index_].write_limit : regions[index_].read_limit), \
                       0)) {                                                                                        \
    fault_addr = addr_;                                                                                             \
    fault_size = (size);                                                                                            \
    fault_write = (write);                                                                                          \
    goto L_access_fault;                                                                                            \
  }                                                                                                                 \
  uint8_t* const host = regions[index_].host + offset_;
#define OFFSET(r) (reg[r] + static_cast<uint64_t>(static_cast<int64_t>(pc->off)))
#define IMM64 static_cast<uint64_t>(static_cast<int64_t>(pc->imm))
#define IMM32 static_cast<uint32_t>(pc->imm)
#define IMM_ZX64 static_cast<uint64_t>(static_cast<uint32_t>(pc->imm))
#define ZX(v) static_cast<uint64_t>(static_cast<uint32_t>(v))
#define SX(v) sign_extend32(static_cast<uint32_t>(v))

  DISPATCH();

  // ---- ALU. d and s are the operands; IMM is the imm as the row reads it;
  // EXT widens a 32-bit result; CHECK runs before the operation (division).
#define OP_IMM(label, T, IMM, EXT, CHECK, expr)     \
  label : {                                         \
    const T d = static_cast<T>(reg[pc->dst]), s = IMM; \
    CHECK;                                          \
    reg[pc->dst] = EXT(expr);                       \
    NEXT();                                         \
  }
#define OP_REG(label, T, EXT, CHECK, expr)                                        \
  label : {                                                                       \
    const T d = static_cast<T>(reg[pc->dst]), s = static_cast<T>(reg[pc->src]); \
    CHECK;                                                                        \
    reg[pc->dst] = EXT(expr);                                                     \
    NEXT();                                                                       \
  }
#define AS_IS(v) (v)
#define NO_CHECK static_cast<void>(0)
#define NONZERO \
  if (__builtin_expect(s == 0, 0)) goto L_divide_by_zero
  // Signed division: zero divisor, then MIN / -1 (Rust would panic on it).
#define SIGNED_OK(S)                                                                  \
  if (__builtin_expect(s == 0, 0)) goto L_divide_by_zero;                             \
  if (__builtin_expect(static_cast<S>(d) == std::numeric_limits<S>::min() && static_cast<S>(s) == -1, 0)) \
  goto L_divide_overflow
#define ALU64(name, IMM, CHECK, expr)                 \
  OP_IMM(L_##name##_imm, uint64_t, IMM, AS_IS, CHECK, expr) \
  OP_REG(L_##name##_reg, uint64_t, AS_IS, CHECK, expr)
#define ALU32(name, IMM, EXT, CHECK, expr)        \
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

  // add, sub and mul sign-extend their 32-bit result except in v2.
  ALU32(add32, IMM32, SX, NO_CHECK, d + s)
  ALU32(add32, IMM32, SX, NO_CHECK, d + s)
  ALU32(sub32, IMM32, SX, NO_CHECK, d - s)
  ALU32(mul32, IMM32, SX, NO_CHECK, d * s)
  ALU32(add32, IMM32, ZX, NO_CHECK, d + s)
#undef ALU32
