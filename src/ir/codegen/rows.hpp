// The rows the code generator writes by itself (copies, spills, reloads,
// constants, jumps), found in the opcode and semantics tables for the target
// dialect: sBPF v2 loads and stores are other rows than Linux's, and sBPF
// has no gotol. No opcode byte is written here.
#pragma once

#include <optional>

#include "bpfkit/isa.hpp"

namespace bpfkit::ir::codegen {

// The row with this meaning in the dialect, if it has one.
std::optional<isa::Op> find_row(const isa::Dialect& dialect, isa::Operation operation, uint8_t width,
                                isa::Source source, isa::Condition condition = isa::Condition::None);

// The condition true exactly when `c` is false; None for JSET (no row tests
// that no bit is set).
isa::Condition inverse(isa::Condition c);

// The row testing the opposite condition on the same operands, if any.
std::optional<isa::Op> inverted_branch(const isa::Dialect& dialect, isa::Op branch);

struct Rows {
  isa::Op mov_reg, mov_imm, load64, store64_reg, store64_imm, ja;
  std::optional<isa::Op> gotol, lddw;  // absent in dialects without them
};
Rows rows_for(const isa::Dialect& dialect);

}  // namespace bpfkit::ir::codegen
