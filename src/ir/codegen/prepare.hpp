// Edits of the IR's CFG that code generation makes before selection, as
// LLVM's CodeGenPrepare does: shapes that cost nothing in SSA but copies
// once the phis are gone.
#pragma once

#include "bpfkit/ir.hpp"

namespace bpfkit::ir::codegen {

// Predecessors that hand a block's phis the same values, constants among
// them, reach it through one new block: the copies of those constants are
// made once there instead of once on each edge. This also gives back the
// loop preheader CFG simplification folded away (clang's loops have one),
// so a constant hoisted out of the loop has a block of its own to go to.
// Back edges keep their own way in. Returns the number of blocks added.
size_t join_phi_edges(Function& fn);

}  // namespace bpfkit::ir::codegen
