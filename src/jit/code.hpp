// A translated program: the machine code (read-execute), its entry points
// and where each BPF instruction's code lies.
#pragma once

#include <memory>
#include <vector>

#include "bpfkit/jit.hpp"
#include "regmap.hpp"
#include "state.hpp"

namespace bpfkit::jit {

struct Jit::Code {
  std::unique_ptr<Xbyak::CodeGenerator> generator;  // owns the mapping
  void (*entry)(State* state) = nullptr;            // prologue: copies the State in, runs from pc 0
  const void* body = nullptr;                       // pc 0's block, where a tail call lands
  std::vector<const void*> block_at;                // block entry by pc (null inside a block): callx targets
  std::vector<CodeRange> ranges;
  const isa::Dialect* dialect = nullptr;
  bool unchecked_stack = false;     // some stack accesses (r10 + constant, or proven) skip the region check
  uint64_t proven_memory_size = 0;  // accesses to the raw buffer skip it: the input region's size they need
  // sBPF: what the run maps and calls.
  std::vector<uint8_t> rodata;             // the read-only region (v0..v2: the text within it)
  std::vector<vm::Helper> syscalls;        // by the index the code passes bpfkit_jit_sbpf_syscall
  std::vector<const void*> callx_targets;  // code address by slot (the generated code indexes it)
};

// Translates `program`; the lddw values and packet facts come from `inputs`.
struct CompileInputs {
  std::vector<uint64_t> map_addresses;  // handles by map index (lddw src 5 and 6)
  bool has_packet = false;              // LD_ABS reads the packet region, else the input
  uint32_t ctx_data = vm::Packet::kNoField, ctx_data_end = vm::Packet::kNoField,
           ctx_data_meta = vm::Packet::kNoField;  // context offsets of the packet pointers
  const vm::HelperTable* syscalls = nullptr;      // sBPF: what `call imm` resolves against
  bool harden = false;                            // constant blinding (Options::harden)
  uint64_t harden_seed = 0;                       // nonzero (Jit::create draws one for 0)
  std::span<const isa::ProvenAccess> proven;      // Options::proven: per slot, or empty
  uint64_t proven_memory_size = 0;                // Options::proven_memory_size
};
Expected<std::shared_ptr<Jit::Code>> compile(const isa::Program& program, const CompileInputs& inputs);

// sbpf.cpp: the program as the sBPF interpreter prepares it (layout checks,
// the production verifier's decoding, the entry), with its errors; and the
// error a stopped sBPF run reports.
Expected<isa::Program> prepare_sbpf(const isa::Program& program);
Error sbpf_stop_error(const State& state, const RunFrame& frame, const isa::Dialect& dialect);

}  // namespace bpfkit::jit
