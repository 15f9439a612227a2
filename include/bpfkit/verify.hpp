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

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::verify {

// What r1 points to at entry, and which fields and helpers the program has.
enum class ProgramType : uint8_t {
  Raw,     // bpfkit's own: r1 = a buffer of Options::mem_size bytes, r2 = its length
  Socket,  // BPF_PROG_TYPE_SOCKET_FILTER: r1 = struct __sk_buff
  Xdp,     // BPF_PROG_TYPE_XDP: r1 = struct xdp_md
  Tc,      // BPF_PROG_TYPE_SCHED_CLS: r1 = struct __sk_buff, packet access
};

// Whose rights the loader has.
enum class Profile : uint8_t {
  Root,  // CAP_SYS_ADMIN: pointer leaks and uninitialised stack reads allowed
  Bpf,   // CAP_BPF only (kernel-oracle --cap-bpf-only): both refused
};

std::optional<ProgramType> program_type_named(std::string_view name);  // "raw", "socket", "xdp", "tc"
std::string_view program_type_name(ProgramType type);
// The type libbpf gives an ELF section name ("xdp", "tc", "classifier",
// "socket", "xdp/...", ...); nullopt when the section names none of ours.
std::optional<ProgramType> program_type_of_section(std::string_view section);

struct Options {
  ProgramType type = ProgramType::Raw;
  Profile profile = Profile::Root;
  uint64_t mem_size = 0;            // Raw: bytes r1 points to
  int log_level = 0;                // 0: none; 1: the failing path; 2: every instruction
  uint64_t insn_limit = 1'000'000;  // BPF_COMPLEXITY_LIMIT_INSNS
};

// The errno the kernel's BPF_PROG_LOAD returns.
enum class Errno : uint8_t { None, Eacces, Einval, E2big, Ebadf, Enotsupp, Eproto };
std::string_view errno_name(Errno value);  // "EACCES", ...

struct Result {
  bool accepted = false;
  Errno error_number = Errno::None;
  std::optional<Error> error;  // rejected: the message and the pc
  uint64_t processed_insns = 0;
  uint64_t states = 0;       // states stored for pruning
  uint64_t peak_states = 0;  // most stored at once
  std::string log;           // log_level > 0: the trace and the statistics line
  // Per slot: whether some path reached it (dead branches are false).
  std::vector<bool> reached;
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
