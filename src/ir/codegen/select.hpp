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
Expected<MFunction> select(Function& fn, const isa::Program* original,
                           const std::unordered_map<const Function*, uint32_t>& functions);

}  // namespace bpfkit::ir::codegen
