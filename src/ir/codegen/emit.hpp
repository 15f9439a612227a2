// From allocated machine IR to slots: out-of-SSA (phis become parallel
// copies on their edges, critical edges split where copies must go), the
// fixed-register copies of calls and exits, two-address copies, block
// layout (fall-throughs instead of `ja` where blocks follow each other,
// branches inverted to fall through), jumps relaxed to `gotol` when a 16-bit
// offset cannot reach, and encoding through isa::encode.
#pragma once

#include <cstdint>
#include <vector>

#include "bpfkit/expected.hpp"
#include "mir.hpp"
#include "rega.hpp"

namespace bpfkit::ir::codegen {

struct EmittedFunction {
  std::vector<isa::Slot> slots;
  std::vector<uint32_t> origin;  // per slot
  // Slots whose imm names another function (call_local, lddw_func: by
  // offset; sBPF v0-v2 calls: by key): the module fills them in once every
  // function is placed.
  struct FunctionRef {
    uint32_t slot, callee;
    bool by_key;
  };
  std::vector<FunctionRef> function_refs;
  std::vector<isa::Program::CoreSlot> core_slots;  // the kept CO-RE relocations' rows
  int32_t frame_low = 0;
  uint32_t copies = 0;  // moves added by out-of-SSA and the ABI
};

Expected<EmittedFunction> emit_function(const MFunction& fn, Allocation allocation, const isa::Dialect& dialect);

}  // namespace bpfkit::ir::codegen
