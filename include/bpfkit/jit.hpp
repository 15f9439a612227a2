// Module jit: x86-64 translation of Linux eBPF and sBPF (v0..v3) programs, an
// Engine with the interpreters' semantics to the letter: the same results,
// faults (error, pc, address), instruction counts, compute units and budget
// failure point. BPF registers live in fixed x86 registers; every memory
// access is checked inline against the Context's region table (a counted
// loop's affine accesses once, at the loop's entry, for all its iterations);
// the instruction budget is metered once a basic block with the exact count
// restored on faults and exits. The code is built in a private writable
// buffer and then mapped read-execute (W^X).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"
#include "bpfkit/vm.hpp"

namespace bpfkit::jit {

struct Options {
  // Constant blinding as the kernel does for unprivileged programs
  // (bpf_jit_blind_constants): no immediate of the program (ALU, jump,
  // store, lddw, LD_ABS operands) appears in the machine code; each is
  // built in a scratch register from two random halves (x ^ rnd, rnd),
  // fresh per instruction. Results, counts and metering are unchanged.
  bool harden = false;
  // The random values' seed; 0 draws one from std::random_device, so two
  // compilations differ. A fixed seed gives the same code (tests, --dump diffs).
  uint64_t harden_seed = 0;
  // Per slot of the program (Linux only): what the verifier proved about
  // each access (verify::Result::proven for the program as verified). The
  // accesses whose proof matches the VM's memory exactly run without their
  // region check: the stack, map values, the packet and the raw buffer;
  // context fields keep it. Empty: every access is checked (bar r10 + a
  // constant inside the frame). The proofs hold for the Context the
  // program's own maps were added to (Context::add_maps), as the verifier
  // read their specs.
  std::vector<isa::ProvenAccess> proven{};
  // The raw buffer's size the verifier assumed (verify::Options::mem_size):
  // a run whose input region (r1) is shorter or read-only is refused.
  uint64_t proven_memory_size = 0;
};

// Where the machine code of one BPF instruction lies in code().
struct CodeRange {
  uint32_t pc = 0;
  size_t begin = 0, end = 0;  // byte offsets into code()
  bool unchecked = false;     // a load, store or atomic that runs without its region check
  // An access of a loop whose every iteration's address a check at the
  // loop's entry proved in bounds: the code here has no check (a loop whose
  // entry check fails runs a copy elsewhere that checks each access).
  bool checked_at_loop_entry = false;
  // In a loop whose every trip the loop's entry charged to the meter at
  // once (it cannot fault and its trip count is known there): the code
  // here does not meter.
  bool metered_at_loop_entry = false;
};

class Jit final : public vm::Engine {
 public:
  // Translates a program against `context` as the dialect's interpreter
  // prepares it, refusing the same programs with the same errors: Linux
  // (its maps resolve lddw src 5 and 6, its packet layout the context
  // pointer loads) as vm::Interpreter::create, sBPF v0..v3 (calls resolved
  // against its syscalls and the program's function keys) as
  // vm::sbpf::Interpreter::create.
  static Expected<Jit> create(const isa::Program& program, const vm::Context& context, Options options = {});
  const isa::Dialect& dialect() const override;
  using Engine::run;
  vm::RunResult run(vm::Context& context, std::array<uint64_t, 5> args) const override;

  // The machine code: the instructions in pc order (ranges()), then the
  // cold paths (faults, metered copies of blocks, the shared exits).
  std::span<const uint8_t> code() const;
  const std::vector<CodeRange>& ranges() const;
  // Address of code()[0] as the CPU runs it (for a listing's addresses).
  uint64_t code_address() const;

  struct Code;  // defined in src/jit/code.hpp
  const Code& internals() const { return *code_; }

 private:
  explicit Jit(std::shared_ptr<const Code> code) : code_(std::move(code)) {}
  vm::RunResult run_sbpf(vm::Context& context, std::array<uint64_t, 5> args) const;
  std::shared_ptr<const Code> code_;
};

// The JIT as an engine of the vm's factory shape.
Expected<std::unique_ptr<vm::Engine>> make_jit(const isa::Program& program, const vm::Context& context,
                                               Options options = {});

// x86-64 disassembly of `bytes` (at `address`), one "addr: bytes  insn" line
// each, by Capstone.
std::string disassemble_x86(std::span<const uint8_t> bytes, uint64_t address);

// A listing of the machine code interleaved with the BPF instructions it
// came from: each instruction's text (from `describe`, given its pc), then
// its x86 code; then the cold code.
std::string listing(const Jit& jit, const std::function<std::string(uint32_t pc)>& describe);

}  // namespace bpfkit::jit
