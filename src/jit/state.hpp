// What generated code and the C++ runtime share: the State block that lives
// at rsp while guest code runs (registers spilled for runtime calls, the
// meter, the region table, the frames of bpf-to-bpf calls, what a fault
// leaves), and the runtime functions guest code calls for anything that is
// not a plain instruction (helpers, tail calls, callx, legacy packet loads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::jit {

// Why guest code stopped; anything but Done is a fault at State::fault_pc.
enum class Stop : uint32_t {
  Done,
  Budget,
  Access,  // fault_addr, fault_size, fault_write
  FellOffEnd,
  SecondSlot,  // a jump into the second slot of an lddw
  AddrSpaceCast,
  Kfunc,  // fault_addr holds the BTF id
  CallDepth,
  Preset,  // a runtime function wrote RunFrame::error
  // sBPF only (sbpf.cpp words them as the sBPF interpreter does).
  DivideByZero,
  DivideOverflow,
  CallOutsideText,  // a call or callx to a target outside the text
  ReturnPastEnd,    // an exit returning to the cell after the last slot
  UnknownCall,      // fault_addr holds the key
};

// One bpf-to-bpf call: where exit returns to and the caller's r6..r10.
struct Frame {
  uint64_t return_to;
  uint64_t saved[5];
  uint64_t pad[2];  // 64 bytes: index by shift
};
static_assert(sizeof(Frame) == 64);

struct RunFrame;

// The first regions' bounds are copied into the State, so that the inline
// check reads them at a fixed offset from rsp; higher indices take a cold
// path over the Context's table.
inline constexpr uint64_t kTableRegions = 8;
// The inline check's tables (State::read_end and the others) have 16
// entries, indexed by the region index's low 4 bits: entries 8..15 are
// empty and send every access to the cold path, which checks exactly. 16
// rather than 8 so that an address whose +size wraps past 2^64 (region
// 0xffffffff) lands on an empty entry.
inline constexpr uint64_t kInlineEntries = 16;
// The deepest call stack of any dialect (sBPF's 64 frames).
inline constexpr uint32_t kMaxFrames = 64;

struct State {
  uint64_t regs[isa::kRegisterCount];  // r0..r10 whenever guest code is not running
  uint64_t left;                       // the meter: budget + 1 minus instructions run
  const vm::RegionBounds* regions;
  uint64_t region_count;
  uint64_t depth;  // bpf-to-bpf frames below the entry frame
  uint64_t may_goto_left;
  uint64_t fault_addr;
  uint32_t fault_size;
  uint32_t fault_write;
  Stop stop;
  uint32_t fault_pc;
  uint64_t jump_to;  // rt_callx: where to continue
  uint32_t tail_calls;
  uint32_t pad;
  const void* code;  // the Jit::Code running (a tail call changes it)
  RunFrame* run;
  State* caller_copy;                     // the C++ side's State, which the epilogue writes back
  uint64_t stack_delta;                   // host address of a stack byte minus its guest address
  uint64_t syscall_units;                 // sBPF: compute units syscalls charged
  vm::RegionBounds table[kTableRegions];  // regions[0..7]; zero limits past region_count
  // The inline check: for region i < 8, (i << 32) + limit + 1, so that an
  // access at guest address a of n bytes (a >> 32 == i) is in bounds when
  // a + n < the entry; 0 (everything goes to the cold path) for an entry
  // past region_count or of index 8 or more. An address of another region
  // whose index has the same low 4 bits is at least 16 << 32 above the
  // entry and fails the compare as well.
  uint64_t read_end[kInlineEntries];
  uint64_t write_end[kInlineEntries];
  uint64_t host_delta[kInlineEntries];  // host - (i << 32): a + host_delta[i] is the host address
  // The check of an access whose region the code guessed (i < 8): a - (i << 32)
  // below guess_end[write][log2 size][i], which is limit - size + 1 (0 when
  // the limit is below the size, or past region_count: every access fails).
  uint64_t region_start[kTableRegions];  // i << 32
  uint64_t guess_end[2][4][kTableRegions];
  // Not copied in or out: only guest code uses the frames and check_delta.
  Frame frames[kMaxFrames];
  // Merged checks: by base register, host - (region << 32) of the region the
  // group's first access checked, for the later accesses of its block.
  uint64_t check_delta[isa::kRegisterCount];
  // A loop's entry check (loop_version.cpp): the iterations after the
  // first, the distance a variable stepping by its own constant covers over
  // them, and rax and rdx kept across a division.
  uint64_t loop_trips, loop_distance, loop_low, loop_span;
};
// The part the prologue copies in and the epilogue copies back.
inline constexpr size_t kSharedQwords = offsetof(State, frames) / 8;
static_assert(offsetof(State, frames) % 8 == 0);
// Bytes the prologue reserves below its six pushes: rsp stays 16-aligned.
inline constexpr size_t kStateBytes = (sizeof(State) + 15) / 16 * 16 + 8;

// Copies regions[0..7] into the table (after anything that may map regions).
void refresh_regions(State* state, std::span<const vm::RegionBounds> bounds);

// The C++ side of one run.
struct RunFrame {
  vm::Context* context;
  std::optional<Error> error;  // Stop::Preset
};

// Runtime functions: guest code spills r0..r10 and the meter into the State,
// calls one with rdi = the State, and reloads them. Each refreshes the
// region table (a helper may map regions). Return values as documented.
extern "C" {
// 0: r0 holds the helper's result; 1: the error is set.
uint64_t bpfkit_jit_call_helper(State* state, uint64_t id, uint64_t pc);
// 0: continue after the call; 1: the error is set; else the code to jump to.
uint64_t bpfkit_jit_tail_call(State* state, uint64_t pc);
// 0: a helper ran, continue; 1: the error is set; 2: tail call, jump to
// jump_to; 3: enter the subprogram at jump_to.
uint64_t bpfkit_jit_callx(State* state, uint64_t target, uint64_t pc);
// sBPF: syscall `index` of the running code (meter in State::left, which
// it charges): 0 with r0 set, 1 when the error is set.
uint64_t bpfkit_jit_sbpf_syscall(State* state, uint64_t index, uint64_t pc);
// LD_ABS (src_plus_one 0) / LD_IND (the register + 1): 0 with r0 loaded, 1 when out of bounds (r0 = 0, the
// program ends).
uint64_t bpfkit_jit_load_packet(State* state, uint64_t region, uint64_t size, uint64_t imm, uint64_t src_plus_one);
// A context ldxw that may read a packet pointer: 1 with dst loaded, 0 for an
// ordinary load.
uint64_t bpfkit_jit_packet_pointer(State* state, uint64_t addr, uint64_t dst);
}

}  // namespace bpfkit::jit
