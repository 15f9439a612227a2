// Loading and running each kind of program for `run` and `plugin`: every
// runner gives one RunReport, faults and rejections included, so that one
// printer shows them all.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bpfkit/isa.hpp"
#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"
#include "report.hpp"

namespace bpfkit::cli {

// r1 = the buffer, r2 = its length (Linux); the input region (sBPF).
using Memory = std::optional<std::vector<uint8_t>>;

struct RunOptions {
  std::string file;                      // names the file in load errors
  uint64_t budget = vm::kDefaultBudget;  // instructions (Linux) or compute units (sBPF)
  bool registers = false;
  bool dump_maps = false;
  bool timed = false;  // program-type runs: print the time per run
  // Load-time setup once the maps exist (--map, --map-file); an error is bad input.
  std::function<Expected<void>(vm::Context&)> fill_maps;
  vm::Task task;                  // Linux: what the current-task helpers answer (--task)
  std::string engine = "interp";  // --engine: interp or jit
  bool harden = false;            // --harden: the JIT blinds constants
  // --verify: what the verifier proved per slot (jit::Options::proven), and
  // the raw buffer's size it assumed; the JIT drops the checks they cover.
  std::vector<isa::ProvenAccess> proven{};
  uint64_t proven_memory_size = 0;
};

// Runs `program` through the interpreter of its dialect, in a fresh Context
// with its maps and global data, r1 = memory (Linux: r2 = its length; sBPF:
// the input region). Faults and rejections come back in the report.
RunReport run_program(const isa::Program& program, Memory memory, const RunOptions& options);

// A program-type run (BPF_PROG_TEST_RUN in userspace): the context and
// packet of `input`, the maps and global data, every helper checked first.
RunReport run_test(const isa::Program& program, const vm::TestRunInput& input, const RunOptions& options);

// --verify for `run` and `plugin`: the verifier's verdict on `program` (as
// it will run: after --opt). A refusal is the error, its message as the
// kernel's log gives it with the errno named; an acceptance gives, for the
// JIT (`jit_engine`), the proofs and the buffer size they assume, which
// RunOptions::proven and proven_memory_size take (the interpreter checks
// every access anyway: nothing).
struct RunProofs {
  std::vector<isa::ProvenAccess> proven;
  uint64_t memory_size = 0;
};
Expected<RunProofs> verify_before_run(const isa::Program& program, const verify::Options& options,
                                      const std::string& file, bool jit_engine);

// Raw Linux slots: decoded, then run_program.
RunReport run_linux(std::span<const isa::Slot> slots, Memory memory, const RunOptions& options);

}  // namespace bpfkit::cli
