// Module verify: a static verifier that gives the Linux kernel's verdict on
// a program, with the kernel's message and errno class, without a kernel.
//
// Two passes, as kernel/bpf/verifier.c makes them: the CFG (jumps in range,
// subprograms, unreachable code, fall-through off a subprogram's end), then
// a path-sensitive abstract interpretation (register types, scalars as a
// tnum plus signed and unsigned 64- and 32-bit bounds, the stack per byte,
// memory accesses by program type, helpers, bpf-to-bpf calls, loops under
// the 1,000,000 processed-instruction limit, state pruning). It reads only
// an isa::Program (instructions, maps) and the isa tables.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::verify {

// What r1 points to at entry, and which fields and helpers the program has:
// isa's program types (isa/program_types.def, whose context rules the
// verifier reads). The verifier models Raw (bpfkit's own: r1 = a buffer of
// Options::mem_size bytes, r2 = its length), Socket, Xdp and Tc.
using ProgramType = isa::ProgramType;

// Whose rights the loader has.
enum class Profile : uint8_t {
  Root,  // CAP_SYS_ADMIN: pointer leaks and uninitialised stack reads allowed
  Bpf,   // CAP_BPF only (kernel-oracle --cap-bpf-only): both refused
};

// The types the verifier models, by name: "raw", "socket", "xdp", "tc".
std::optional<ProgramType> program_type_named(std::string_view name);
std::string_view program_type_name(ProgramType type);
// The type libbpf gives an ELF section name ("xdp", "tc", "classifier",
// "socket", "xdp/...", ...; "action" as tc); nullopt when the section names
// none the verifier models.
std::optional<ProgramType> program_type_of_section(std::string_view section);

// ---- What a backend sees (the kernel's bpf_prog_offload_ops; module offload) ----

// One register as the verifier knows it before an instruction.
struct RegisterState {
  std::string_view type;  // the kernel's names: "scalar", "ctx", "fp", "map_value", "pkt", ...; "?" not written
  int32_t off = 0;        // pointers: the constant offset
  uint32_t id = 0;
  uint32_t map = 0;                      // map_ptr, map_value, map_value_or_null: the map's index in isa::Program::maps
  uint64_t size = 0;                     // mem: the buffer's size in bytes
  uint64_t var_value = 0, var_mask = 0;  // the tnum: bits known (value) and unknown (mask)
  int64_t smin = 0, smax = 0;
  uint64_t umin = 0, umax = 0;
  int32_t s32min = 0, s32max = 0;
  uint32_t u32min = 0, u32max = 0;
  std::string text;  // as the kernel's log prints it: "scalar(umax=255,var_off=(0x0; 0xff))"
  bool is_const() const { return type == "scalar" && var_mask == 0; }
};

// One 8-byte stack slot of the current frame.
struct StackSlotState {
  int32_t off = 0;  // from the frame pointer: -8, -16, ...
  std::string
      bytes;  // per byte from the lowest address, as the kernel prints them: '?' invalid, 'm' misc, '0' zero, 'r' spill
  std::optional<RegisterState> spilled;
};

// The verifier's state at one instruction on one path, read-only.
class StateView {
 public:
  virtual ~StateView() = default;
  virtual uint32_t frame() const = 0;  // 0: the entry function; n: n calls deep
  virtual RegisterState reg(int regno) const = 0;
  virtual std::vector<StackSlotState> stack() const = 0;  // the slots written so far
  virtual std::vector<uint32_t> path() const = 0;         // instructions processed on this path before this one
  virtual bool speculative() const = 0;                   // a mispredicted path (the bpf profile)
};

// The errno the kernel's BPF_PROG_LOAD returns. (ENOTSUPP is the kernel's
// internal 524; EOPNOTSUPP is 95, what offload devices return.)
enum class Errno : uint8_t { None, Eacces, Einval, E2big, Ebadf, Enotsupp, Eproto, Eopnotsupp, Enomem };
std::string_view errno_name(Errno value);  // "EACCES", ...

// A hook's refusal: the errno loading fails with and the reason.
struct Refusal {
  Errno error_number = Errno::Einval;
  std::string message;
};

// Callbacks from inside verification, in the kernel's order. Module offload
// adapts its Backend to these; the defaults do nothing.
class Hooks {
 public:
  virtual ~Hooks() = default;
  // Once the instructions and maps are checked, before the CFG check (where
  // bpf_check calls bpf_prog_offload_verifier_prep); a refusal ends loading.
  virtual std::optional<Refusal> prepare() { return std::nullopt; }
  // Before each processed instruction, after the pruning check; a refusal
  // ends verification with it. prev_insn_idx: -1 at the start, else the
  // instruction processed before on this path (the branch after a pop).
  virtual std::optional<Refusal> insn_hook(const StateView&, uint32_t /*insn_idx*/, int64_t /*prev_insn_idx*/) {
    return std::nullopt;
  }
  // Once, after successful verification and before any rewrite.
  virtual std::optional<Refusal> finalize() { return std::nullopt; }
  // The dead-code rewrites, each before it is made: the new
  // instruction at `off`, and `count` instructions removed at `off` (in the
  // program as already shrunk).
  virtual void replace_insn(uint32_t /*off*/, const isa::Slot& /*insn*/) {}
  virtual void remove_insns(uint32_t /*off*/, uint32_t /*count*/) {}
};

struct Options {
  ProgramType type = ProgramType::Raw;
  Profile profile = Profile::Root;
  uint64_t mem_size = 0;            // Raw: bytes r1 points to
  int log_level = 0;                // 0: none; 1: the failing path; 2: every instruction
  uint64_t insn_limit = 1'000'000;  // BPF_COMPLEXITY_LIMIT_INSNS
  Hooks* hooks = nullptr;           // called during verification and the rewrites
  // false: no path is cut short because an explored state covers it; each
  // goes to its end (or the limit). The kernel's checks are not monotone
  // (an offset it refuses as a constant it accepts as an unknown scalar),
  // so a program can be accepted only because a wider state was explored
  // first; without pruning it is refused. Not what the kernel does.
  bool prune = true;
};

struct Result {
  bool accepted = false;
  Errno error_number = Errno::None;
  std::optional<Error> error;  // rejected: the message and the pc
  uint64_t processed_insns = 0;
  uint64_t states = 0;       // states stored for pruning
  uint64_t peak_states = 0;  // most stored at once
  std::string log;           // log_level > 0: the trace and the statistics line
  // Per slot: whether some path reached it (the kernel's aux seen: not set
  // by mispredicted paths; dead branches are false).
  std::vector<bool> reached;
  // Accepted: per slot of the verified program, what every path reaching
  // its load, store or atomic proved (isa::ProvenAccess; mispredicted paths
  // included). A translator of `rewritten` finds slot i's at origin[i].
  std::vector<isa::ProvenAccess> proven;
  // Accepted: the program as the kernel rewrites it before translation
  // ("xlated") for what the verifier itself rewrites: conditional jumps
  // with a dead edge hard-wired, dead code removed, then every `ja 0` (the
  // same for both profiles). The kernel's other fix-ups, such as context
  // conversion and helper addresses, are not made.
  std::vector<isa::Slot> xlated;
  // The same program with its functions, maps and each slot's origin (the
  // kernel's orig_idx): what a backend translates.
  isa::Program rewritten;
};

// The kernel's statistics line: "processed N insns (limit 1000000) ...".
std::string stats_line(const Result& result, const Options& options);

// Verifies a decoded program (from isa::decode or a loader).
Result verify(const isa::Program& program, const Options& options = {});

// Verifies raw slots: the kernel's checks of encodings that isa::decode
// refuses are made first, in the kernel's words (jumps out of range or into
// an lddw, a cut lddw), then decode, then verify().
Result verify_slots(std::span<const isa::Slot> slots, const Options& options = {});

}  // namespace bpfkit::verify
