// Module ir: code generation from the IR back to a Program, and the
// optimisation levels `bpfkit opt`, `run --opt` and `plugin --opt` use.
// Included at the end of bpfkit/ir.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::ir {

class Function;
class Module;
struct PassInfo;

enum class OptLevel : uint8_t { O0, O1, O2 };
// "O0", "O1", "O2" (also "0", "1", "2").
std::optional<OptLevel> opt_level_named(std::string_view name);

// The optimisation pipeline of a level (level_pipeline), run on every
// function of the module.
Expected<void> optimize(Module& module, OptLevel level);

struct CodegenStats {
  uint32_t spilled = 0;         // values given a stack slot
  uint32_t rematerialised = 0;  // constants made again instead of spilled
  uint32_t split = 0;           // copies out of a fixed register (r0 after a call, r1-r5 at entry)
  uint32_t copies = 0;          // moves added by out-of-SSA and the calling convention
  int32_t frame_bytes = 0;      // the deepest function frame
};

struct CodegenOptions {
  // The program the module was lifted from, if any: each value's register
  // there is the allocator's first choice (an unchanged module gets its own
  // registers back), and its maps, global data, relocations and sBPF image
  // carry over to the result.
  const isa::Program* original = nullptr;
  CodegenStats* stats = nullptr;
};

// CFG preparation (it may add blocks to the module's functions: see
// src/ir/codegen/prepare.hpp), critical-edge splitting, out-of-SSA, register allocation, layout and
// encoding: a Program in the module's dialect, functions in module order
// (the first is the entry), each slot's origin the IR instruction's.
Expected<isa::Program> generate(Module& module, const CodegenOptions& options = {});

// What optimize_program reports, and a pipeline of the caller's instead
// of the level's.
struct OptimizeOptions {
  CodegenStats* stats = nullptr;
  std::string_view passes;  // when not empty: this pipeline, with no retry
  // Called with each module lifted, before `pipeline` runs on it (opt
  // --print-after-all); a retry lifts again.
  std::function<void(Module& module, std::string_view pipeline)> after_lift;
  // Called after each pass that ran (PipelineOptions::after_pass).
  std::function<void(const PassInfo& pass, Function& fn, bool changed)> after_pass;
};

// lift, optimize at `level`, generate; where the code ran short of
// registers (it spilled or made values again), the level's retry pipeline
// too (level_retry_pipeline), keeping the smaller program: what `opt`,
// `run --opt` and `plugin --opt` do.
Expected<isa::Program> optimize_program(const isa::Program& program, OptLevel level,
                                        const OptimizeOptions& options = {});

}  // namespace bpfkit::ir
