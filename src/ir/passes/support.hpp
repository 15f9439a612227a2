// What the passes share: reading constants, evaluating an instruction on
// constant operands (through isa::evaluate, so folding is the interpreter's
// arithmetic), and which instructions may be removed or moved.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir::passes {

// The register value of an integer constant (typed lddw constants are not
// integers a pass may compute with).
std::optional<uint64_t> int_value(const Value* value);

// The result of `inst` for these operand values, as the function's dialect
// computes it; nullopt if the instruction is not arithmetic or traps on
// them (sBPF division by zero).
std::optional<uint64_t> fold(const Inst& inst, std::span<const uint64_t> operands);

// Whether a conditional branch is taken for these operand values.
bool branch_taken(const Inst& branch, uint64_t a, uint64_t b);

// Whether removing `inst` when its result is unused changes nothing else:
// no memory write, call, exit or trap (sBPF division by a value that may be
// zero traps; loads may fault, but those from the stack frame cannot).
bool removable(const Inst& inst);

// Whether two executions of `inst` with equal operands give equal results
// and it has no effect: what common-subexpression elimination may merge.
bool pure(const Inst& inst);

// The stack offset an address names: %fp plus constants (through 64-bit
// adds); nullopt for any other address.
std::optional<int64_t> stack_offset(const Value* address, int64_t offset);

// Whether no pointer into the frame escapes: every address derived from
// %fp (%fp plus constants) is only used to load or store, never passed to
// a call, stored, merged by a phi or compared. Then only the function's
// own loads and stores through those addresses touch its frame. Collects
// the addresses.
bool frame_stays_private(Function& fn, std::vector<const Value*>& addresses);

// The number of low bits that may be nonzero in the value (64 when unknown).
unsigned significant_bits(const Value* value);

// The repairs' check: splits `at`'s block before `at` and ends the first
// half with `if a cond b` (64-bit) going to a new block that returns
// `bail`, else on to `at`. Returns the branch.
Inst* guard_before(Inst* at, isa::Condition cond, Value* a, Value* b, int64_t bail);
// Whether `branch` is such a check of `a` against `b`.
bool is_check(const Inst* branch, isa::Condition cond, const Value* a, const Value* b);
// Whether `at` already sits right behind such a check of `a` against `b`
// (a repair pass that ran before, or ran again in a pipeline's next round).
bool guarded(const Inst* at, isa::Condition cond, const Value* a, const Value* b);
// The parameter `key`, which the pass cannot run without.
Expected<int64_t> required(const PassParams& params, std::string_view pass, std::string_view key);

}  // namespace bpfkit::ir::passes
