// Module isa: what each instruction does in each dialect, the frame model and
// the memory layout. Included at the end of bpfkit/isa.hpp; every engine,
// the verifier, the lifter and the JIT read their semantics here instead of
// testing dialect features themselves.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace bpfkit::isa {

// ---- Semantics of one row in one dialect --------------------------------------

enum class Operation : uint8_t {
  None,  // the dialect does not have the row
  // ALU: dst = dst op src (src is the immediate or register of `source`).
  Add,
  Sub,
  Mul,
  Div,
  SDiv,
  Mod,
  SMod,
  Or,
  And,
  Xor,
  Lsh,
  Rsh,
  Arsh,
  Mov,
  MovSx,  // dst = sign-extended low bits of src (the width is the row's off)
  Neg,    // dst = -dst
  UHMul,
  SHMul,  // high 64 bits of the 128-bit product (sBPF v2 PQR)
  Hor,    // dst |= imm << 32 (sBPF v2, in place of lddw)
  ToLe,
  ToBe,           // byte order: truncate (le) or swap (be) to `width`
  Bswap,          // unconditional swap (Linux v4)
  AddrSpaceCast,  // arena pointers
  // Memory.
  LoadImm64,   // lddw: dst = imm64
  LoadPseudo,  // lddw with a pseudo source (map, BTF id, function): a loader resolves it
  LoadPacket,  // legacy LD_ABS / LD_IND: r0 = big-endian packet bytes
  Load,
  LoadSx,
  Store,
  AtomicAdd,
  AtomicOr,
  AtomicAnd,
  AtomicXor,
  AtomicXchg,
  AtomicCmpxchg,
  // Control.
  Jump,       // unconditional (ja: off, gotol: imm)
  JumpIf,     // condition on dst and src
  MayGoto,    // jumps once the hidden loop counter runs out
  Call,       // by imm; `call` says how the imm is resolved
  CallLocal,  // pc-relative bpf-to-bpf call
  CallKfunc,  // a kernel function by BTF id
  Callx,      // indirect, register from `callx_register`
  Exit,
};

enum class Source : uint8_t { None, Imm, Reg };

enum class Condition : uint8_t { None, Always, Eq, Ne, Gt, Ge, Lt, Le, Set, SGt, SGe, SLt, SLe };

// How a 32-bit ALU result fills the upper half of dst.
enum class Extension : uint8_t { None, Zero, Sign };

// What division and remainder do with a zero divisor (and signed MIN / -1).
enum class DivisionPolicy : uint8_t {
  None,
  Defined,      // Linux: x / 0 = 0, x % 0 = x, MIN / -1 = MIN, MIN % -1 = 0
  Trap,         // sBPF: a zero divisor is DivideByZero
  TrapOverflow  // sBPF v2 signed PQR: DivideByZero, and MIN / -1 is DivideOverflow
};

// How `call imm` finds its callee.
enum class CallResolution : uint8_t {
  None,
  Helper,             // Linux: helper by id
  Local,              // pc + 1 + imm (Linux call_local, sBPF v3 src 1)
  Kfunc,              // Linux: kernel function by BTF id
  Syscall,            // sBPF v3 src 0: syscall by murmur3 key
  SyscallOrFunction,  // sBPF v0..v2: a syscall's key first, else a registered function's key
  Indirect,           // callx: the address in a register
};

// Which slot field names a register (callx's target).
enum class Field : uint8_t { None, Imm, Src, Dst };

struct Semantics {
  Operation operation = Operation::None;
  uint8_t width = 0;  // see semantics.def
  Source source = Source::None;
  Condition condition = Condition::None;
  bool fetch = false;
  // Decided by the dialect:
  Extension result = Extension::None;  // 32-bit ALU results
  bool imm_zero_extended = false;      // a 64-bit operation widens imm without sign (PQR unsigned forms)
  bool swapped = false;                // dst = src op dst (sBPF v2 `sub imm`)
  DivisionPolicy division = DivisionPolicy::None;
  CallResolution call = CallResolution::None;
  Field callx_register = Field::None;

  friend constexpr bool operator==(const Semantics&, const Semantics&) = default;
};

// Whether the dialect decodes the row at all.
bool has_row(Op op, const Dialect& dialect);

// The row's meaning apart from any dialect: semantics.def's row alone.
Semantics base_semantics(Op op);

// The row's meaning in the dialect; operation None if the dialect lacks it.
Semantics semantics(Op op, const Dialect& dialect);

// The register callx reads its target from (Linux: dst; sBPF v0, v1: imm;
// v2: src; v3: dst). May be out of range: the verifier refuses that.
int64_t callx_register(const Slot& slot, const Dialect& dialect);

// ---- Evaluation -------------------------------------------------------------------

// The second operand of an ALU row with an immediate, as the interpreters
// widen it: 32-bit rows and sBPF's unsigned PQR forms take it zero-extended,
// the other 64-bit rows sign-extended.
uint64_t immediate_operand(const Semantics& semantics, int32_t imm);

// What an ALU row (arithmetic, moves, movsx, byte order, PQR, hor) computes
// in the dialect from dst and src as registers hold them (an immediate
// widened by immediate_operand): exactly the interpreters' result, 32-bit
// extension, sBPF v2's swapped `sub imm` and Linux division by zero included.
// nullopt where the dialect traps (sBPF division by zero, signed MIN / -1)
// and for rows that are not arithmetic (memory, jumps, addr_space_cast).
std::optional<uint64_t> evaluate_alu(Op op, const Dialect& dialect, uint64_t dst, uint64_t src);
// The same from the semantics alone, for callers that have no row (the
// verifier, the IR): every operation evaluate_alu takes but MovSx, whose
// source width is in the row.
std::optional<uint64_t> evaluate(const Semantics& semantics, uint64_t dst, uint64_t src);
// Whether a conditional jump of `width` bits (32: JMP32, the low halves)
// is taken for dst = a and src = b.
bool condition_holds(Condition condition, unsigned width, uint64_t a, uint64_t b);
// The condition that holds exactly when `condition` does not; None for one
// with no such condition in the enum (Set, Always, None).
Condition negated(Condition condition);
// The condition with its operands swapped (b < a for a > b); Eq, Ne, Set,
// Always and None are their own.
Condition mirrored(Condition condition);

// ---- Control flow -------------------------------------------------------------
//
// branch_target(op, slot, pc) is in isa/shapes.hpp: the shape says where a
// target lives.

// The pcs that may run after the instruction at pc: fall-through (unless the
// row never falls through), then a jump or local call target. An indirect
// call's target is unknown here; its fall-through (the return) is listed.
struct Successors {
  std::array<int64_t, 2> pcs{};
  uint8_t count = 0;
  const int64_t* begin() const { return pcs.data(); }
  const int64_t* end() const { return pcs.data() + count; }
};
Successors successors(const Program& program, size_t pc);

// ---- Memory layout --------------------------------------------------------------
//
// A guest address is a region index in bits 63..32 and an offset in bits
// 31..0 (sBPF's layout, kept for both dialects). Index 0 is never mapped (but
// sBPF v3's rodata), so null and small integers fault.
inline constexpr unsigned kRegionShift = 32;
inline constexpr uint32_t kProgramRegion = 1;  // code: lddw func addresses, callx targets; sBPF v0..v2 rodata
inline constexpr uint32_t kStackRegion = 2;
inline constexpr uint32_t kHeapRegion = 3;
inline constexpr uint32_t kInputRegion = 4;  // context / packet buffer (r1)
inline constexpr uint32_t kFirstFreeRegion = 5;

constexpr uint64_t region_base(uint32_t index) { return static_cast<uint64_t>(index) << kRegionShift; }

// Where sBPF maps the read-only image: 1 << 32, or 0 where the version lowers
// it (v3, whose bytecode region then stays unreadable).
constexpr uint64_t rodata_address(const Dialect& dialect) {
  return dialect.sbpf.lower_rodata_vaddr ? 0 : region_base(kProgramRegion);
}

// ---- Frames -------------------------------------------------------------------

struct FrameModel {
  uint64_t frame_size = 0;   // bytes of one frame
  uint64_t gap_size = 0;     // unmapped guest bytes after each frame (sBPF v0)
  uint32_t max_depth = 0;    // frames, including the entry frame
  int64_t call_fp_step = 0;  // what a call adds to r10 (0: the program moves it itself)
  uint64_t entry_fp = 0;     // r10 at entry, as an offset into the stack region
  uint64_t stack_bytes() const { return frame_size * max_depth; }  // host bytes
};

constexpr FrameModel frame_model(const Dialect& dialect) {
  FrameModel model;
  model.frame_size = dialect.stack_frame_size;
  model.max_depth = dialect.max_call_depth;
  const uint64_t stack = model.frame_size * model.max_depth;
  if (dialect.family == Family::Linux) {  // the stack grows down; a call moves r10 one frame down
    model.call_fp_step = -static_cast<int64_t>(model.frame_size);
    model.entry_fp = stack;
    return model;
  }
  model.gap_size = dialect.sbpf.stack_frame_gaps ? model.frame_size : 0;
  if (dialect.sbpf.manual_stack_frame_bump) {  // v1, v2: r10 starts at the top, `add r10, imm` moves it
    model.entry_fp = stack;
    return model;
  }
  model.call_fp_step = static_cast<int64_t>(model.frame_size + model.gap_size);
  model.entry_fp = model.frame_size;
  return model;
}

// sBPF v0's gapped stack as Agave's vm_gap_shift maps it: odd frame-sized
// pages of the stack region are gaps, even ones map to consecutive frames.
// Returns the host offset, or kUnmappedOffset (past any region) for a gap.
// Only the first byte of an access is tested against the gap, as there.
inline constexpr uint64_t kUnmappedOffset = uint64_t{1} << 40;
inline constexpr uint64_t kGappedFrameSize = 4096;  // v0's frame, = its gap, a power of two
constexpr uint64_t gapped_stack_offset(uint64_t offset) {
  constexpr uint64_t frame = kGappedFrameSize;
  return (offset & frame) ? kUnmappedOffset : (((offset >> 1) & ~(frame - 1)) | (offset & (frame - 1)));
}
static_assert(frame_model(kSbpfV0).gap_size == kGappedFrameSize && frame_model(kSbpfV0).frame_size == kGappedFrameSize);

}  // namespace bpfkit::isa
