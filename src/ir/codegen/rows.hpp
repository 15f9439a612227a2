// The rows the code generator writes by itself (copies, spills, reloads,
// constants, jumps), found in the opcode and semantics tables for the target
// dialect: sBPF v2 loads and stores are other rows than Linux's, and sBPF
// has no gotol. No opcode byte is written here.
#pragma once

#include <optional>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::ir::codegen {

// Every row's meaning in the dialect, indexed by isa::Op, worked out once
// per dialect and thread: code generation searches the rows by meaning for
// each instruction, and isa::semantics is too dear to ask each time.
const std::vector<isa::Semantics>& row_meanings(const isa::Dialect& dialect);

// The row with this meaning in the dialect, if it has one.
std::optional<isa::Op> find_row(const isa::Dialect& dialect, isa::Operation operation, uint8_t width,
                                isa::Source source, isa::Condition condition = isa::Condition::None);

// The row testing the opposite condition on the same operands, if any.
std::optional<isa::Op> inverted_branch(const isa::Dialect& dialect, isa::Op branch);

struct Rows {
  isa::Op mov_reg, mov_imm, load64, store64_reg, store64_imm, ja;
  std::optional<isa::Op> gotol, lddw;  // absent in dialects without them
  // `w = imm` when it zero-extends its immediate (as Linux's does), and
  // sBPF's `hor64` (imm into the upper half), for wide constants.
  std::optional<isa::Op> mov32_zero_extending, hor64;
};
Rows rows_for(const isa::Dialect& dialect);

// One row putting (part of) a constant into a register.
struct ConstantRow {
  isa::Op op;
  int32_t imm = 0;
  uint64_t imm64 = 0;  // lddw
};
// The fewest rows that make `value` in a register, as clang picks them: a
// sign-extended `r = imm`, a zero-extended `w = imm`, an lddw, or (sBPF v2
// on, which has no lddw) `w = low` then `hor64 high`. Each row writes the
// register; the second of two reads it too.
std::vector<ConstantRow> constant_rows(const Rows& rows, uint64_t value);

}  // namespace bpfkit::ir::codegen
