// Register allocation on the machine IR in SSA form (see rega.cpp).
#pragma once

#include <optional>
#include <vector>

#include "bpfkit/expected.hpp"
#include "liveness.hpp"
#include "mir.hpp"

namespace bpfkit::ir::codegen {

struct Allocation {
  // Per vreg: its register, or its stack slot (a spilled value read by
  // phis); nullopt for a value that needs none (dead, or rematerialised).
  std::vector<std::optional<Location>> where;
  int32_t frame_low = 0;  // lowest stack offset in use, spill slots included (a multiple of 8)
  Liveness liveness;      // of the function as finally rewritten
  uint32_t spilled = 0, rematerialised = 0, split = 0;
  uint32_t rounds = 0;  // allocation attempts: one, plus one after each batch of spills
};

// Gives every value a place, rewriting `fn` where it must: a copy after a
// row whose fixed result register (r0) the value cannot keep (it lives
// across a call), a copy of a parameter that lives across a call, and
// spills (a store after the definition and a load before each use, or the
// constant re-created at each use). Fails only when even that cannot fit
// (more than ten values needed at once by one instruction) or the frame
// would pass `frame_size` bytes.
Expected<Allocation> allocate(MFunction& fn, const isa::Dialect& dialect);

}  // namespace bpfkit::ir::codegen
