// What the isa module's files share and nobody else sees.
#pragma once

#include <span>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa::detail {

// A program of these slots in this dialect, before its rows are read: ops
// empty per slot, each slot its own origin.
Program start_program(std::span<const Slot> slots, const Dialect& dialect);

}  // namespace bpfkit::isa::detail
