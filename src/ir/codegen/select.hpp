// Instruction selection: one IR function to machine IR (mir.hpp). Each IR
// instruction becomes the row of the target dialect that does exactly what
// it says (found through the semantics table), with constants as immediates
// where the row has room for them and materialised otherwise.
#pragma once

#include "bpfkit/expected.hpp"
#include "bpfkit/ir.hpp"
#include "mir.hpp"

namespace bpfkit::ir::codegen {

// `original`, when given, is the program the IR was lifted from: each
// value's register there becomes its allocation hint. `functions` numbers
// the module's functions (local calls and function pointers name them).
// Where a phi's hint comes from first: the registers its inputs were
// written to (a loop's value), or the registers its uses read (a value
// returned). Neither is right for every function: the pipeline tries both.
enum class PhiHints : uint8_t { FromInputs, FromUses };

struct SelectOptions {
  PhiHints phi_hints = PhiHints::FromInputs;
  // A constant a loop reads is made before the loop, not on each trip.
  // That holds a register across the whole loop: where registers run
  // short, making it again at its use is smaller (and runs fewer
  // instructions than the spills it saves).
  bool constants_out_of_loops = true;
};

Expected<MFunction> select(Function& fn, const isa::Program* original,
                           const std::unordered_map<const Function*, uint32_t>& functions, SelectOptions options = {});

}  // namespace bpfkit::ir::codegen
