// The whole machine-IR module to one isa::Program: each function allocated
// and emitted (rega.cpp, emit.cpp), placed one after another with the entry
// first, calls and function addresses resolved, the kernel's limits checked.
#pragma once

#include <cstdint>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"
#include "mir.hpp"

namespace bpfkit::ir::codegen {

struct ModuleStats {
  uint32_t spilled = 0, rematerialised = 0, split = 0, copies = 0;
  int32_t deepest_frame = 0;  // bytes, the largest of the functions
};

// Function starts in the result are in `starts` (same order as the module).
struct GeneratedModule {
  isa::Program program;
  std::vector<uint32_t> starts;
  ModuleStats stats;
};

Expected<GeneratedModule> generate_module(MModule& module);

// How many slots the function takes once allocated and emitted (on a copy:
// the caller's function is left as it is), to choose between two
// selections of one function.
struct EmittedSize {
  size_t slots = 0;
  bool spilled = false;  // the allocation spilled or rematerialised a value: registers ran short
};
Expected<EmittedSize> emitted_size(MFunction fn, const isa::Dialect& dialect);

}  // namespace bpfkit::ir::codegen
