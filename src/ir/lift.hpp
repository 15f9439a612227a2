// Lifting's private parts: the plan of one function's bytecode blocks
// (lift_cfg.cpp), the translation of one instruction (lift_inst.cpp), and
// the SSA construction that drives both (lift.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir::lifting {

// The registers SSA renames: r0..r10. r10 is renamed too: it starts as the
// frame pointer, calls keep it, and only sBPF v1/v2 programs move it.
inline constexpr int kRegs = isa::kRegisterCount;
using RegValues = std::array<Value*, kRegs>;

// One basic block of bytecode: slots [start, end), its last instruction at
// `last`.
struct CodeBlock {
  uint32_t start = 0, end = 0, last = 0;
  std::vector<uint32_t> succs;  // start pcs: [taken, fall-through] or one
  isa::RegSet use, def;         // read before written; written
  isa::RegSet live_in;
  Block* block = nullptr;
};

struct FunctionPlan {
  std::string name;
  uint32_t start = 0, end = 0;    // slots
  std::vector<CodeBlock> blocks;  // the entry first, then by start
  std::unordered_map<uint32_t, size_t> block_at;
};

// Functions of the program: the loader's, or (raw programs) the entry and
// every local call and function-pointer target, each up to the next start.
// The entry's function first.
Expected<std::vector<FunctionPlan>> plan_functions(const isa::Program& program);

// The reachable blocks of `plan`, their successors, and register use/def.
Expected<void> plan_blocks(const isa::Program& program, FunctionPlan& plan);

// Liveness of r0-r10 over the plan's blocks (CodeBlock::live_in).
void compute_liveness(FunctionPlan& plan);

// A function of the module, by the slot it starts at: its IR function and
// how many of r1-r5 a call to it passes (up to the highest it may read
// before writing; a call inside it counts as reading all five).
struct LocalFunction {
  Function* fn = nullptr;
  size_t arguments = 5;
};
using FunctionsByStart = std::unordered_map<uint32_t, LocalFunction>;

// Translates the instruction at pc (not a block's terminator) at the
// builder's position, reading and updating `regs`.
Expected<void> translate(const isa::Program& program, size_t pc, Builder& builder, RegValues& regs,
                         const FunctionsByStart& functions);

// `value` as an operand of a `bits`-wide operation: an integer constant
// wider than that keeps only the bits the operation reads (the validator
// wants constants no wider than their operation).
inline Value* fit(Function& fn, Value* value, uint8_t bits) {
  if (!value->is_const()) return value;
  auto* c = static_cast<Const*>(value);
  if (c->const_kind() != ConstKind::Int || c->width() <= bits) return value;
  return fn.constant(c->bits(), bits);
}

// Whether the instruction at pc ends a block (jumps, conditional jumps, exit).
bool ends_block(const isa::Program& program, size_t pc);

}  // namespace bpfkit::ir::lifting
