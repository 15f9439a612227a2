// Module verify, internal: the abstract state (registers, stack, frames),
// the tnum and bounds arithmetic, and each phase's entry point. One file per
// phase: cfg.cpp (first pass), tnum.cpp, bounds.cpp (scalar ALU and
// reg_bounds_sync), branch.cpp (narrowing on both edges), memory.cpp (loads,
// stores, the context layouts), helpers.cpp (helper prototypes), state.cpp
// (comparison for pruning, printing), interpret.cpp (the second pass),
// precision.cpp (precision tracking for pruning), and verify.cpp (the public
// entry).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bpfkit/isa.hpp"
#include "bpfkit/verify.hpp"

namespace bpfkit::verify::detail {

// A rejection: the kernel's message, its errno and the instruction.
struct Reject {
  Errno error_number = Errno::Eacces;
  uint32_t pc = 0;
  std::string message;
};

// ---- tnum: a value whose bits are known (value) or unknown (mask) ------------

struct Tnum {
  uint64_t value = 0;
  uint64_t mask = ~uint64_t{0};
  friend bool operator==(const Tnum&, const Tnum&) = default;
};

inline constexpr Tnum tnum_const(uint64_t value) { return {value, 0}; }
inline constexpr Tnum kTnumUnknown{0, ~uint64_t{0}};
inline bool tnum_is_const(Tnum a) { return a.mask == 0; }
Tnum tnum_range(uint64_t min, uint64_t max);
Tnum tnum_add(Tnum a, Tnum b);
Tnum tnum_sub(Tnum a, Tnum b);
Tnum tnum_and(Tnum a, Tnum b);
Tnum tnum_or(Tnum a, Tnum b);
Tnum tnum_xor(Tnum a, Tnum b);
Tnum tnum_mul(Tnum a, Tnum b);
Tnum tnum_lshift(Tnum a, unsigned shift);
Tnum tnum_rshift(Tnum a, unsigned shift);
Tnum tnum_arshift(Tnum a, unsigned shift, unsigned width);
// Both hold; nullopt when no value satisfies both.
std::optional<Tnum> tnum_intersect(Tnum a, Tnum b);
Tnum tnum_cast(Tnum a, unsigned bytes);   // the low `bytes` bytes, zero-extended
Tnum tnum_bswap(Tnum a, unsigned bytes);  // the low `bytes` bytes in reverse order, zero-extended
bool tnum_in(Tnum outer, Tnum inner);     // every value of inner is one of outer
inline Tnum tnum_subreg(Tnum a) { return tnum_cast(a, 4); }
Tnum tnum_with_subreg(Tnum a, Tnum subreg);
std::string tnum_string(Tnum a);

// ---- Registers ----------------------------------------------------------------

enum class RegType : uint8_t {
  NotInit,
  Scalar,
  Ctx,             // r1 at entry: the context
  Stack,           // a frame's stack: r10 and what derives from it (frame)
  MapPtr,          // lddw of a map: CONST_PTR_TO_MAP (map)
  MapValue,        // a map's value (map)
  MapValueOrNull,  // bpf_map_lookup_elem's result before its null check (map, id)
  Packet,          // packet data (id, range)
  PacketMeta,
  PacketEnd,
  Mem,  // the raw type's buffer (size bytes)
};
const char* type_name(RegType type);  // the kernel's: "scalar", "ctx", "fp", "map_value_or_null", ...
inline bool is_pointer(RegType type) { return type != RegType::NotInit && type != RegType::Scalar; }

// One register. Scalars: var and the bounds are the value. Pointers: the
// pointer is base + off + a variable part that var and the bounds describe
// (zero when the offset is constant), as in the kernel.
struct Reg {
  RegType type = RegType::NotInit;
  uint8_t frame = 0;  // Stack: whose frame
  int32_t off = 0;
  uint32_t id = 0;    // null checks; packet pointers sharing a range; linked scalars
  uint32_t map = 0;   // MapPtr, MapValue(OrNull): index in Program::maps
  int64_t range = 0;  // Packet: bytes past the pointer proven below data_end
  uint64_t size = 0;  // Mem: the buffer's size
  // Scalars of a stored state: some explored path's safety depended on the
  // value (mark_chain_precision), so a state it prunes must have a value
  // within this one's; an imprecise scalar prunes any scalar.
  bool precise = false;
  Tnum var = kTnumUnknown;
  int64_t smin = std::numeric_limits<int64_t>::min(), smax = std::numeric_limits<int64_t>::max();
  uint64_t umin = 0, umax = std::numeric_limits<uint64_t>::max();
  int32_t s32min = std::numeric_limits<int32_t>::min(), s32max = std::numeric_limits<int32_t>::max();
  uint32_t u32min = 0, u32max = std::numeric_limits<uint32_t>::max();
  friend bool operator==(const Reg&, const Reg&) = default;

  bool is_const() const { return tnum_is_const(var); }
};

Reg unknown_scalar();
Reg const_scalar(uint64_t value);
Reg not_init();
// A pointer of `type` with a constant offset.
Reg pointer(RegType type, int32_t off = 0);
// A scalar of `bytes` bytes read from memory: zero-extended, or
// sign-extended when `sign`.
Reg sized_scalar(unsigned bytes, bool sign = false);

// ---- Bounds (bounds.cpp) --------------------------------------------------------

// One width's view of a scalar: for 32 bits, the low half (u in 0..2^32-1,
// s sign-extended).
struct View {
  Tnum var;
  int64_t smin, smax;
  uint64_t umin, umax;
};
View view_of(const Reg& reg, unsigned width);
// Writes a view back (32: the subregister's bounds, the low half of var),
// then syncs; false when no value is left (a dead branch).
bool set_view(Reg& reg, const View& view, unsigned width);
View full_view(unsigned width);

// The kernel's reg_bounds_sync: tnum and the four bounds refined against each
// other. False when they no longer admit any value.
bool sync_bounds(Reg& reg);
// dst op= src on scalars, as the kernel's adjust_scalar_min_max_vals does it,
// for the width's operation (32: the result zero-extended).
Reg scalar_alu(isa::Operation operation, const Reg& dst, const Reg& src, unsigned width);
// A 32-bit result (the low half of reg) zero-extended to 64 bits.
void zext32(Reg& reg);
// What a load of `bytes` with `sign` does to a known-value register.
Reg truncated(const Reg& reg, unsigned bytes);

// ---- Branches (branch.cpp) ---------------------------------------------------------

// Narrows a (and b) as if `a cond b` held in `width` bits; false when it
// cannot hold. Scalars only.
bool narrow(Reg& a, Reg& b, isa::Condition cond, unsigned width, bool taken);
isa::Condition negate(isa::Condition cond);
isa::Condition flip(isa::Condition cond);  // a cond b == b flip(cond) a

// ---- Stack, frames, state ---------------------------------------------------------

inline constexpr int kStackSize = static_cast<int>(isa::kProvenStackBytes);  // MAX_BPF_STACK
inline constexpr int kSlotCount = kStackSize / 8;
inline constexpr int kMaxFrames = 8;

enum class StackByte : uint8_t { Invalid, Misc, Zero, Spill };

struct Spilled {
  uint8_t slot = 0;  // (byte index) / 8
  uint8_t size = 8;  // a scalar spilled in its low 1, 2 or 4 bytes, or all 8
  Reg reg;
  friend bool operator==(const Spilled&, const Spilled&) = default;
};

struct Frame {
  std::array<Reg, isa::kRegisterCount> regs{};
  std::array<StackByte, kStackSize> stack{};  // byte i is at fp - 512 + i
  std::vector<Spilled> spills;                // sorted by slot
  uint32_t callsite = 0;                      // the call's pc (not the entry frame)
  uint32_t subprog = 0;

  const Reg* spill_at(int slot) const;
  Reg* spill_at(int slot);
  const Spilled* spilled_at(int slot) const;
  // Spills `reg` into the low `size` bytes of `slot` (the others are misc).
  void set_spill(int slot, const Reg& reg, int size = 8);
  void drop_spill(int slot);
};

struct State {
  std::vector<Frame> frames;  // the current one last
  // A path only a mispredicted branch takes (Spectre v1: explored for the
  // bpf profile, as the kernel does without CAP_PERFMON).
  bool speculative = false;
  Frame& top() { return frames.back(); }
  const Frame& top() const { return frames.back(); }
};

// Whether every run from `now` is one from `old` (old explored safely
// covers now): the kernel's states_equal with its regsafe/stacksafe, without
// liveness. `exact`: the same state (the infinite-loop check).
bool covers(const State& old, const State& now, Profile profile, bool exact);

// What an explored state needs of a new one for covers(old, now, _, false)
// to hold, in a few bytes kept beside the explored state's index: the same
// frame count, the same register types where old's are written, and the
// same value where old's register is a precise scalar pinned to one value. A
// necessary condition only, so skipping the states it rules out never
// changes a pruning decision; it spares reading states that differ at once.
struct CoverSummary {
  uint8_t frames = 0;
  bool speculative = false;
  uint16_t pinned = 0;  // scalars with umin == umax (old: precise ones), by register
  // The top frame's register types, a byte each (r0..r10, then NotInit), and
  // 0xff in the bytes of the written ones: compared eight at a time.
  std::array<uint64_t, 2> types{}, written{};
  uint64_t pinned_sum = 0;  // the pinned values, mixed
};
// The new state's side, made once per visit: its summary and the word each
// register would add to pinned_sum.
struct CoverProbe {
  CoverSummary summary;
  std::array<uint64_t, isa::kRegisterCount> words{};
};
CoverSummary cover_summary(const State& old, bool precise_only = true);
CoverProbe cover_probe(const State& now);
// reg_covers needs the same type where old's register is written, and
// range_within with old.umin == old.umax == v needs now.umin == now.umax == v.
inline bool may_cover(const CoverSummary& old, const CoverProbe& now) {
  if (old.frames != now.summary.frames || (old.speculative && !now.summary.speculative)) return false;
  const uint64_t type_differences = ((old.types[0] ^ now.summary.types[0]) & old.written[0]) |
                                    ((old.types[1] ^ now.summary.types[1]) & old.written[1]);
  if (type_differences != 0 || (old.pinned & ~now.summary.pinned) != 0) return false;
  uint64_t sum = 0;
  for (unsigned pinned = old.pinned; pinned != 0; pinned &= pinned - 1) sum += now.words[std::countr_zero(pinned)];
  return sum == old.pinned_sum;
}

// The current frame's registers alike (ids and precision aside): what an
// exact repeat needs first.
bool maybe_same(const State& old, const State& now);

// "R1=ctx() R10=fp0" as the kernel prints a frame.
std::string reg_string(const Reg& reg);
std::string state_string(const State& state);

// ---- The first pass (cfg.cpp) ---------------------------------------------------------

struct Cfg {
  std::vector<uint32_t> subprogs;  // starts, sorted; subprogs[0] = 0
  std::vector<bool> prune_point;   // the kernel's: jump targets, conditional jumps, local calls, after calls
  // Per slot: the registers some path from there reads before writing them,
  // within the function (the kernel's compute_live_registers). A state kept
  // for pruning forgets the others: no run from there can tell them apart.
  std::vector<isa::RegSet> live_regs;
  uint32_t subprog_of(uint32_t pc) const;
};
// The kernel's first pass over a program (add_subprog_and_kfunc): every
// function an lddw names is inside the program.
std::optional<Reject> check_function_references(const isa::Program& program);
std::optional<Reject> check_cfg(const isa::Program& program, Cfg& cfg);

// The kernel's checks of raw encodings that isa::decode refuses with its
// own words: jumps out of range or into an lddw, a cut lddw.
std::optional<Reject> check_raw_slots(std::span<const isa::Slot> slots);

// ---- Reserved fields (encoding.cpp) -------------------------------------------------

// do_check's message for an instruction whose unused fields are not zero.
std::optional<std::string> reserved_fields(const isa::Slot& slot);
// The first pass's field checks: an LDX with a non-zero imm, an opcode byte
// the kernel does not know.
std::optional<Reject> check_first_pass_fields(std::span<const isa::Slot> slots);
// A copy isa::decode accepts, with every field the kernel checks only when
// a path reaches the instruction cleared; `deferred` gets, per slot, the
// message the kernel gives there (empty: none).
std::vector<isa::Slot> clean_reserved_fields(std::span<const isa::Slot> slots, std::vector<std::string>& deferred);

// ---- After acceptance (rewrite.cpp) --------------------------------------------------

// The program as the verifier rewrites it, from what was seen (Result::reached).
Expected<isa::Program> rewrite(const isa::Program& program, const std::vector<bool>& seen, const Options& options);

// ---- The second pass (interpret.cpp) -------------------------------------------------

// `deferred`: per slot, a reserved-field rejection for when a path reaches it.
void interpret(const isa::Program& program, const Options& options, const Cfg& cfg,
               const std::vector<std::string>& deferred, Result& result, std::optional<Reject>& reject);

}  // namespace bpfkit::verify::detail
