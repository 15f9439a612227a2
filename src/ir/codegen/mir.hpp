// The machine IR the code generator works on: BPF rows (isa::Op) whose
// register operands are virtual registers, in SSA form, in basic blocks with
// phis. Instruction selection (select.cpp) makes it from the IR; register
// allocation (rega.cpp) gives each virtual register a register or a stack
// slot; emission (emit.cpp) replaces the phis by parallel copies, lays the
// blocks out and encodes them. Like QBE's target instructions on temps:
// every phase after selection is the same for every IR instruction.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bpfkit/isa.hpp"
#include "parallel_copy.hpp"

namespace bpfkit::ir::codegen {

using VReg = uint32_t;
inline constexpr VReg kNoVReg = std::numeric_limits<VReg>::max();

// A value read by a phi or a fixed-register copy: a virtual register or a
// 64-bit constant.
struct MOperand {
  VReg vreg = kNoVReg;
  uint64_t value = 0;  // when vreg == kNoVReg

  static MOperand of(VReg v) { return {v, 0}; }
  static MOperand constant(uint64_t k) { return {kNoVReg, k}; }
  bool is_constant() const { return vreg == kNoVReg; }
};

// One instruction: a row of the target dialect. `dst` and `src` are the
// values its dst and src fields read (the frame pointer is kFp); `def` is
// the value it writes, into the field the row writes (dst; src for atomic
// fetches; r0 for calls, cmpxchg and packet loads). An ALU row that reads
// and writes dst ties `def` to `dst`: emission copies dst first when the
// allocator put them apart.
struct MInst {
  static constexpr VReg kFp = kNoVReg - 1;  // r10, never allocated

  isa::Op op = isa::Op::exit;
  VReg def = kNoVReg;
  VReg dst = kNoVReg;
  VReg src = kNoVReg;
  int16_t off = 0;
  int32_t imm = 0;
  uint64_t imm64 = 0;  // lddw rows
  // Values that must be in fixed registers when the row runs: a call's
  // arguments (r1, r2, ...), exit's r0, cmpxchg's expected value (r0), a
  // packet load's context (r6).
  std::vector<MOperand> fixed_uses = {};
  uint32_t callee = 0;  // call_local, lddw_func, by_key: index of the function in the module
  bool by_key = false;  // sBPF v0-v2: `call imm` names function `callee` by its key
  uint32_t origin = 0;  // bytecode index it came from
  // A kept CO-RE relocation's number (ir::Opcode::Core): the row's off and
  // imm stay as they are, and emission says where the row went.
  uint32_t core = kNoCore;
  static constexpr uint32_t kNoCore = std::numeric_limits<uint32_t>::max();
};

// Registers a row clobbers besides its def (calls: r0-r5).
bool clobbers_caller_saved(isa::Op op);
// The registers `fixed_uses` go to, in order.
std::vector<uint8_t> fixed_use_registers(const MInst& inst);
// The register `def` is written to when the row fixes it (r0), else nullopt.
std::optional<uint8_t> fixed_def_register(isa::Op op);
// Whether def is tied to the dst (ALU read-modify-write) or src (atomic fetch).
enum class Tie : uint8_t { None, Dst, Src };
Tie tie_of(isa::Op op);

struct MPhi {
  VReg def = kNoVReg;
  std::vector<MOperand> inputs = {};  // one per predecessor, in `preds` order
};

// How a block ends.
enum class TermKind : uint8_t { Jump, Branch, Exit };

struct MBlock {
  std::vector<MPhi> phis;
  std::vector<MInst> insts;
  TermKind term = TermKind::Exit;
  // Branch: the conditional jump row and its operands (`branch.op`,
  // `.dst`, `.src`, `.imm`); taken goes to succs[0], else to succs[1].
  // Exit: `branch` is the exit row with r0 in fixed_uses. Jump: succs[0].
  MInst branch;
  std::vector<uint32_t> succs, preds;
  uint32_t origin = 0;  // bytecode index of its first instruction, for layout
};

// What the allocator may know about a virtual register.
struct VRegInfo {
  int8_t hint = -1;  // preferred register (the one it had in the bytecode), -1 none
  // Defined by a constant row (mov imm, lddw): a spill re-creates the row
  // instead of storing and loading (rematerialisation).
  bool constant = false;
  // Defined as r10 + k: a constant too, but made again in two rows (a copy
  // of r10 and the add), so a one-row constant is spilled first.
  bool frame_address = false;
  bool spill_temp = false;  // made by a spill: never spilled again
  // A constant re-made once per block by a spill: spilled again, it is
  // re-made at each use.
  bool block_remat = false;
};

// Which value the allocator spills when registers run out: the one live
// longest, or the one read fewest times (each read after a spill costs a
// reload; the longest lived among those), as clang keeps a pointer read
// all through a function and spills a value read once. Generation tries
// the second where the first spilled and keeps the smaller code
// (module.cpp).
enum class SpillChoice : uint8_t { LongestLive, FewestReads };

struct MFunction {
  SpillChoice spill_choice = SpillChoice::LongestLive;
  std::string name;
  std::optional<uint32_t> key;  // sBPF: the key calls name it by (else the hash of its pc)
  std::vector<MBlock> blocks;   // blocks[0] is the entry
  std::vector<VRegInfo> vregs;
  // Values arriving in r1..r5 (kNoVReg where unused).
  std::vector<VReg> params;
  // Lowest stack offset the function's own code uses (<= 0): spill slots
  // go below it.
  int32_t frame_low = 0;

  VReg new_vreg(VRegInfo info = {}) {
    vregs.push_back(info);
    return static_cast<VReg>(vregs.size() - 1);
  }
};

struct MModule {
  const isa::Dialect* dialect = &isa::kLinuxV4;
  std::vector<MFunction> functions;  // functions[0] runs first
};

}  // namespace bpfkit::ir::codegen
