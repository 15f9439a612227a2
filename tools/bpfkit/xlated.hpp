// The program as the verifier rewrote it, printed as `bpftool prog dump
// xlated` lists it: by `verify --xlated` and `offload`.
#pragma once

#include <ostream>
#include <span>

#include "bpfkit/isa.hpp"
#include "report.hpp"

namespace bpfkit::cli {

// "xlated:" and one line per slot: index, the 16 hex digits, the instruction.
void print_xlated(std::ostream& out, std::span<const isa::Slot> xlated);
// The slots as 16 hex digits each, in memory byte order (kernel-oracle's form).
Json xlated_json(std::span<const isa::Slot> xlated);

}  // namespace bpfkit::cli
