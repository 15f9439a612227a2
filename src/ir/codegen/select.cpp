// Instruction selection (select.hpp). Rows come from the semantics table
// for the function's dialect: the row whose operation, width, operand kind
// and result extension are the IR instruction's. Where the dialect has no
// such row (movsx before v4, zero-extension in sBPF v2) a short exact
// sequence of other rows does it.
#include "select.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "liveness.hpp"
#include "rows.hpp"

namespace bpfkit::ir::codegen {
namespace {

using isa::Operation;
using isa::Source;

bool fits_int32(int64_t v) {
  return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
}

Operation atomic_operation(AtomicOp op) {
  switch (op) {
    case AtomicOp::Add: return Operation::AtomicAdd;
    case AtomicOp::Or: return Operation::AtomicOr;
    case AtomicOp::And: return Operation::AtomicAnd;
    case AtomicOp::Xor: return Operation::AtomicXor;
    case AtomicOp::Xchg: return Operation::AtomicXchg;
    case AtomicOp::Cmpxchg: return Operation::AtomicCmpxchg;
  }
  return Operation::None;
}

// A row by meaning, with the extension and fetch the IR asks for.
std::optional<isa::Op> row(const isa::Dialect& dialect, Operation operation, uint8_t width, Source source,
                           isa::Condition condition = isa::Condition::None, isa::Extension ext = isa::Extension::None,
                           bool fetch = false) {
  const std::vector<isa::Semantics>& meanings = row_meanings(dialect);
  for (const isa::OpInfo& info : isa::kOps) {
    const isa::Semantics& s = meanings[static_cast<size_t>(info.op)];
    if (s.operation == operation && s.width == width && s.source == source && s.condition == condition && !s.swapped &&
        s.fetch == fetch && (ext == isa::Extension::None || s.result == ext))
      return info.op;
  }
  return std::nullopt;
}

// The kernel refuses an immediate shift by the width or more (or by a
// negative amount) and an immediate divisor of zero, where the register
// forms are defined at run time: a register the lifter saw holding a
// constant stays a register then, so that what was accepted still is.
bool kernel_accepts_immediate(Operation operation, uint8_t width, int32_t imm) {
  switch (operation) {
    case Operation::Lsh:
    case Operation::Rsh:
    case Operation::Arsh: return imm >= 0 && imm < width;
    case Operation::Div:
    case Operation::SDiv:
    case Operation::Mod:
    case Operation::SMod: return imm != 0;
    default: return true;
  }
}

Error unsupported(const Inst& inst, const std::string& what) {
  bpfkit::Location where;
  if (inst.origin() != kNoOrigin) where.pc = inst.origin();
  return make_error(Errc::Unsupported, "code generation: " + what, where);
}

class Selector {
 public:
  Selector(Function& fn, const isa::Program* original, const std::unordered_map<const Function*, uint32_t>& functions,
           SelectOptions options)
      : options_(options),
        fn_(fn),
        original_(original),
        functions_(functions),
        dialect_(fn.dialect()),
        rows_(rows_for(dialect_)) {}

  Expected<MFunction> run() {
    out_.name = fn_.name();
    out_.params.assign(5, kNoVReg);
    const auto& blocks = fn_.blocks();
    for (size_t i = 0; i < blocks.size(); ++i) block_index_[blocks[i]] = static_cast<uint32_t>(i);
    out_.blocks.resize(blocks.size());
    if (!blocks.empty() && !blocks[0]->preds().empty())
      return make_error(Errc::Unsupported, "code generation: the entry block of " + fn_.name() + " has predecessors");
    // Every result gets its virtual register first: phis name values
    // defined further down.
    for (Block* block : blocks)
      for (Inst& inst : *block)
        if (inst.has_result())
          vreg_[&inst] = out_.new_vreg({.hint = inst.op() == Opcode::Phi ? phi_hint(inst) : hint_of(inst)});
    compute_frame_low();
    for (size_t i = 0; i < blocks.size(); ++i)
      if (auto status = select_block(*blocks[i], out_.blocks[i]); !status) return status.error();
    flush_pending();
    hint_phis();
    place_shared_constants();
    auto& entry = out_.blocks[0].insts;
    entry.insert(entry.begin(), hoisted_defs_.begin(), hoisted_defs_.end());
    return std::move(out_);
  }

 private:
  // ---- Hints ---------------------------------------------------------------------

  // The register the original program wrote this value to.
  int8_t hint_of(const Inst& inst) const {
    if (!original_ || inst.origin() == kNoOrigin || inst.origin() >= original_->size()) return -1;
    const auto op = original_->ops[inst.origin()];
    if (!op) return -1;
    const isa::Slot& slot = original_->slots[inst.origin()];
    if (fixed_def_register(*op)) return 0;
    if (tie_of(*op) == Tie::Src) return static_cast<int8_t>(slot.src());
    if (isa::writes(isa::shape_info(*op).dst) && slot.dst() < isa::kFramePointer)
      return static_cast<int8_t>(slot.dst());
    return -1;
  }

  // Whether the original instruction wrote the value to a register it
  // fixes (r0 of a call): that says nothing of where the value lives next.
  bool writes_fixed_register(const Inst& inst) const {
    if (!original_ || inst.origin() == kNoOrigin || inst.origin() >= original_->size()) return false;
    const auto op = original_->ops[inst.origin()];
    return op && fixed_def_register(*op).has_value();
  }

  // The register the original instruction at a use's origin read the
  // value from, if the use is a register field there.
  int register_read_by(const Use& use) const {
    const Inst& user = *use.user();
    if (!original_ || user.origin() == kNoOrigin || user.origin() >= original_->size()) return -1;
    const auto op = original_->ops[user.origin()];
    if (!op) return -1;
    const isa::Slot& slot = original_->slots[user.origin()];
    const isa::ShapeInfo& shape = isa::shape_info(*op);
    const unsigned i = use.index();
    auto field = [&](bool dst) -> int {
      const isa::RegAccess access = dst ? shape.dst : shape.src;
      return isa::reads(access) ? (dst ? slot.dst() : slot.src()) : -1;
    };
    switch (user.op()) {
      case Opcode::SExt:
      case Opcode::ZExt:
      case Opcode::AddrSpaceCast:
      case Opcode::Assign:
      case Opcode::LoadRaw:
      case Opcode::Load: return field(false);
      case Opcode::Ret: return 0;
      case Opcode::LdAbs: return 6;
      case Opcode::LdInd: return i == 0 ? 6 : field(false);
      case Opcode::Call:
        if (user.attrs().call == CallKind::Indirect)
          return i == 0 ? static_cast<int>(isa::callx_register(slot, *original_->dialect)) : static_cast<int>(i);
        return static_cast<int>(i + 1);
      case Opcode::Atomic:
        if (user.attrs().atomic == AtomicOp::Cmpxchg && i == 1) return 0;
        return field(i == 0);
      case Opcode::Phi: return -1;
      case Opcode::Core: return field(i == 0 && core_shape(user.attrs().row).reads_dst);
      default: return field(i == 0);  // binary, unary in place, stores, branches
    }
  }

  // Votes for r0-r9; the register with most (the lowest on a tie), or -1.
  class RegisterVotes {
   public:
    void add(int r) {
      if (r >= 0 && r < isa::kFramePointer) ++count_[static_cast<size_t>(r)];
    }
    int8_t winner() const {
      int best = -1;
      for (int r = 0; r < isa::kFramePointer; ++r)
        if (count_[static_cast<size_t>(r)] > 0 &&
            (best < 0 || count_[static_cast<size_t>(r)] > count_[static_cast<size_t>(best)]))
          best = r;
      return static_cast<int8_t>(best);
    }

   private:
    std::array<int, isa::kRegisterCount> count_{};
  };

  // The register most uses read the value from (the lowest on a tie), or -1.
  int8_t vote(const Value& value) const {
    RegisterVotes votes;
    for (const Use& use : value.uses()) votes.add(register_read_by(use));
    return votes.winner();
  }

  // A phi's register in the original is where its inputs were written (a
  // loop's counter lives in one register, each trip's new value written
  // over the old); its uses may read it through a copy the IR folded away.
  // The register most inputs were written to (not a call's r0: the value
  // leaves it), else the one most uses read.
  int8_t phi_hint(const Inst& phi) const {
    if (options_.phi_hints == PhiHints::FromUses) return vote(phi);
    RegisterVotes votes;
    for (size_t i = 0; i < phi.operand_count(); ++i)
      if (phi.operand(i)->kind() == ValueKind::Inst) {
        const auto* input = static_cast<const Inst*>(phi.operand(i));
        if (input->op() != Opcode::Phi && !writes_fixed_register(*input)) votes.add(hint_of(*input));
      }
    const int8_t best = votes.winner();
    return best >= 0 ? best : vote(phi);
  }

  // A phi without a hint takes its first input's.
  void hint_phis() {
    for (bool changed = true; changed;) {
      changed = false;
      for (const MBlock& block : out_.blocks)
        for (const MPhi& phi : block.phis) {
          if (out_.vregs[phi.def].hint >= 0) continue;
          for (const MOperand& input : phi.inputs)
            if (!input.is_constant() && out_.vregs[input.vreg].hint >= 0) {
              out_.vregs[phi.def].hint = out_.vregs[input.vreg].hint;
              changed = true;
              break;
            }
        }
    }
  }

  // ---- Shared integer constants ------------------------------------------------

  // Each integer goes where clang's machine passes would put it: in the
  // nearest block dominating every use, then out of every loop around that
  // block (to the block dominating the outermost loop's header), so a loop
  // does not make it again on each iteration (unless the options say
  // not to: SelectOptions::constants_out_of_loops). In the block, it goes right
  // before its first reader. Making it at the entry instead stretches it
  // across code that needs its register for something else.
  void place_shared_constants() {
    if (shared_.empty()) return;
    const DominatorTree tree(fn_);
    const LoopInfo loops(fn_, tree);
    for (SharedConstant& shared : shared_) {
      Block* place = common_dominator(tree, shared.users);
      if (!place) {  // a use the entry does not reach: the entry dominates it still
        hoisted_defs_.insert(hoisted_defs_.end(), shared.defs.begin(), shared.defs.end());
        continue;
      }
      if (Loop* loop = loops.loop_of(place); loop && options_.constants_out_of_loops) {
        while (loop->parent) loop = loop->parent;
        place = tree.idom(loop->header);
      }
      auto& insts = out_.blocks[block_index_.at(place)].insts;
      auto reader = std::find_if(insts.begin(), insts.end(),
                                 [&](const MInst& inst) { return std::ranges::count(uses_of(inst), shared.vreg) > 0; });
      insts.insert(reader, shared.defs.begin(), shared.defs.end());
    }
  }

  // The nearest block dominating all of `blocks`; null if one is unreachable.
  static Block* common_dominator(const DominatorTree& tree, const std::vector<Block*>& blocks) {
    Block* common = nullptr;
    for (Block* block : blocks) {
      if (!tree.reachable(block)) return nullptr;
      if (!common) {
        common = block;
        continue;
      }
      while (common != block) {  // idoms come earlier in reverse postorder
        while (tree.rpo_index(common) > tree.rpo_index(block)) common = tree.idom(common);
        while (tree.rpo_index(block) > tree.rpo_index(common)) block = tree.idom(block);
      }
    }
    return common;
  }

  // ---- The frame ---------------------------------------------------------------

  // The lowest frame offset the code reaches through r10 plus a constant
  // (directly, or through a pointer r10 + k); allocs go below it, and
  // spills below those.
  void compute_frame_low() {
    std::unordered_map<const Value*, int64_t> fp_offset{{fn_.frame_pointer(), 0}};
    int64_t low = 0;
    for (Block* block : fn_.blocks())
      for (Inst& inst : *block) {
        if (inst.op() == Opcode::Add && inst.width() == 64 && inst.operand(1)->is_const()) {
          if (auto it = fp_offset.find(inst.operand(0)); it != fp_offset.end()) {
            const int64_t at = it->second + static_cast<Const*>(inst.operand(1))->as_signed();
            fp_offset[&inst] = at;
            low = std::min(low, at);
          }
        }
        if (inst.op() == Opcode::Assign)
          if (auto it = fp_offset.find(inst.operand(0)); it != fp_offset.end()) fp_offset[&inst] = it->second;
        const bool core = inst.op() == Opcode::Core;
        if (core && inst.attrs().row == isa::Op::add64_imm)  // a kept CO-RE offset, at its value in the object
          if (auto it = fp_offset.find(inst.operand(0)); it != fp_offset.end()) {
            fp_offset[&inst] = it->second + inst.attrs().imm;
            low = std::min(low, fp_offset[&inst]);
          }
        const bool memory = inst.op() == Opcode::LoadRaw || inst.op() == Opcode::StoreRaw ||
                            inst.op() == Opcode::Atomic || (core && core_shape(inst.attrs().row).touches_memory);
        if (memory && inst.operand_count() > 0)
          if (auto it = fp_offset.find(inst.operand(0)); it != fp_offset.end())
            low = std::min(low, it->second + inst.attrs().offset);
      }
    low = std::max<int64_t>(low, -static_cast<int64_t>(dialect_.stack_frame_size));
    frame_low_ = static_cast<int32_t>(low - ((low % 8 + 8) % 8));
    for (Block* block : fn_.blocks())
      for (Inst& inst : *block)
        if (inst.op() == Opcode::Alloc || inst.op() == Opcode::AllocArray) {
          int64_t bytes = inst.attrs().imm * (inst.op() == Opcode::AllocArray ? std::max(1, inst.attrs().aux) : 1);
          bytes = (bytes + 7) / 8 * 8;
          frame_low_ -= static_cast<int32_t>(bytes);
          alloc_offset_[&inst] = frame_low_;
        }
    out_.frame_low = frame_low_;
  }

  // ---- Operands ----------------------------------------------------------------

  // The value standing for r1..r5 at entry. Where the program moved an
  // argument to another register at once (clang's `r6 = r1`), its uses read
  // that one: a copy at the entry then lets the argument leave its
  // register, as the program's own copy did.
  VReg param(int reg) {
    const auto i = static_cast<size_t>(reg - 1);
    VReg& arrives = out_.params[i];
    if (arrives == kNoVReg) {
      arrives = out_.new_vreg({.hint = static_cast<int8_t>(reg)});
      param_use_[i] = arrives;
      const int8_t wanted = vote(*fn_.arg(reg));
      if (wanted >= 0 && wanted != reg && copied_at_entry(reg, wanted)) {
        param_use_[i] = out_.new_vreg({.hint = wanted});
        hoisted_defs_.insert(hoisted_defs_.begin(), MInst{.op = rows_.mov_reg, .def = param_use_[i], .src = arrives});
      }
    }
    return param_use_[i];
  }

  // r3-r5 at the program's entry, which neither the kernel nor Solana
  // define and every bpfkit run sets to 0: a phi's copy of one is made as
  // that 0. The copy goes on the phi's edge, often the entry's, where the
  // original read the register only in code the verifier knows is dead, and
  // the kernel refuses a read of an uninitialised register (fuzz_opt).
  // Not when the entry is also called: then they are arguments.
  bool undefined_at_entry(int reg) {
    if (reg < 3 || functions_.at(&fn_) != 0) return false;
    if (!entry_called_) {
      entry_called_ = false;
      for (const auto& f : fn_.module()->functions())
        for (Block* block : f->blocks())
          for (const Inst& inst : *block)
            if (inst.op() == Opcode::Call && inst.callee() == &fn_) entry_called_ = true;
    }
    return !*entry_called_;
  }

  // Whether the original function's first block moves the argument from
  // r`reg` to r`wanted` for good: copies it before anything overwrites
  // r`reg`, and then leaves r`wanted` alone up to the block's end. (A copy
  // that the next row changes in place, `r0 = r1; r0 >>= 32`, is a
  // two-address row's, not a move of the argument.) Elsewhere (a copy in a
  // loop's preheader, say) the argument is better left where it arrives.
  bool copied_at_entry(int reg, int wanted) const {
    if (!original_ || fn_.origin() == kNoOrigin) return false;
    bool copied = false;
    for (size_t pc = fn_.origin(); pc < original_->size(); ++pc) {
      const auto op = original_->ops[pc];
      if (!op) continue;  // the second slot of an lddw
      const isa::Slot& slot = original_->slots[pc];
      const uint8_t code = isa::info(*op).code;
      if (isa::op_class(code) == isa::cls::kJmp || isa::op_class(code) == isa::cls::kJmp32) return copied;
      const bool writes_dst = isa::writes(isa::shape_info(*op).dst);
      if (copied && writes_dst && slot.dst() == wanted) return false;
      if (!copied && *op == isa::Op::mov64_reg && slot.src() == reg && slot.dst() == wanted) {
        copied = true;
        continue;
      }
      if (!copied && writes_dst && slot.dst() == reg) return false;
    }
    return copied;
  }

  // A register holding the constant, made here.
  VReg materialise(const Const& k, std::vector<MInst>& out, uint32_t origin) {
    // A one-row constant (a map address too) is made again by a spill,
    // as clang makes an lddw again before each call rather than keep it
    // in a callee-saved register.
    const VReg v = out_.new_vreg({.constant = true});
    MInst def{.op = rows_.mov_imm, .def = v, .origin = origin};
    const uint64_t bits = k.bits();
    switch (k.const_kind()) {
      case ConstKind::Int: {
        const std::vector<ConstantRow> made = constant_rows(rows_, bits);
        out_.vregs[v].constant = made.size() == 1;
        VReg previous = kNoVReg;
        for (size_t i = 0; i < made.size(); ++i) {
          const VReg written = i + 1 == made.size() ? v : out_.new_vreg();
          out.push_back({.op = made[i].op,
                         .def = written,
                         .dst = previous,
                         .imm = made[i].imm,
                         .imm64 = made[i].imm64,
                         .origin = origin});
          previous = written;
        }
        return v;
      }
      case ConstKind::MapFd:
        def.op = isa::Op::lddw_map_fd;
        def.imm64 = k.index();
        break;
      case ConstKind::MapValue:
        def.op = isa::Op::lddw_map_value;
        def.imm64 = k.index() | (bits << 32);
        break;
      case ConstKind::BtfId:
        def.op = isa::Op::lddw_btf_id;
        def.imm64 = k.index() | (bits << 32);
        break;
      case ConstKind::MapIdx:
        def.op = isa::Op::lddw_map_idx;
        def.imm64 = k.index();
        break;
      case ConstKind::MapIdxValue:
        def.op = isa::Op::lddw_map_idx_value;
        def.imm64 = k.index() | (bits << 32);
        break;
      case ConstKind::Func:
        def.op = isa::Op::lddw_func;
        def.callee = functions_.at(k.target());
        break;
    }
    out.push_back(def);
    return v;
  }

  Expected<VReg> reg_of(Value* value, std::vector<MInst>& out, uint32_t origin) {
    switch (value->kind()) {
      case ValueKind::Inst: {
        auto it = vreg_.find(static_cast<Inst*>(value));
        if (it == vreg_.end()) return make_error(Errc::BadOperand, "code generation: an operand without a result");
        return it->second;
      }
      case ValueKind::Arg: return param(static_cast<Special*>(value)->reg());
      case ValueKind::FramePointer: return MInst::kFp;
      case ValueKind::Const: {
        const Const& k = *static_cast<Const*>(value);
        if (k.const_kind() != ConstKind::Int && k.const_kind() != ConstKind::BtfId &&
            k.const_kind() != ConstKind::MapValue && k.const_kind() != ConstKind::MapIdxValue) {
          // A map or function address: made once in each block that uses
          // it (the first use comes first: selection goes in order), as
          // clang loads a map for the calls that follow. A global-data
          // address is a base for loads in many blocks: shared, below.
          auto [it, made] = block_constants_.try_emplace(&k, kNoVReg);
          if (made) {
            it->second = materialise(k, out, origin);
            out_.vregs[it->second].hint = vote(k);
          }
          return it->second;
        }
        // An integer, a global-data address or a kernel variable's address
        // (values, rarely a call's argument) is made once for all its uses, where
        // place_shared_constants() decides; under pressure the allocator
        // makes it again at each use instead of spilling it.
        const SharedKey key{k.const_kind() == ConstKind::Int ? nullptr : &k, k.bits()};
        auto [it, made] = shared_index_.try_emplace(key, shared_.size());
        if (made) {
          SharedConstant shared;
          shared.vreg = materialise(k, shared.defs, origin);
          out_.vregs[shared.vreg].hint = vote(k);
          shared_.push_back(std::move(shared));
        }
        shared_[it->second].users.push_back(current_);
        return shared_[it->second].vreg;
      }
      case ValueKind::Undef: {  // any value will do: zero
        const VReg v = out_.new_vreg({.constant = true});
        out.push_back({.op = rows_.mov_imm, .def = v, .origin = origin});
        return v;
      }
    }
    return make_error(Errc::BadOperand, "code generation: an unknown value");
  }

  // A value for a fixed-register copy (call arguments, the return value).
  Expected<std::optional<MOperand>> operand_of(Value* value, std::vector<MInst>& out, uint32_t origin) {
    if (value->kind() == ValueKind::Undef) return std::optional<MOperand>();
    if (value->is_const() && static_cast<Const*>(value)->const_kind() == ConstKind::Int)
      return std::optional(MOperand::constant(static_cast<Const*>(value)->bits()));
    auto v = reg_of(value, out, origin);
    if (!v) return v.error();
    if (*v == MInst::kFp) {  // r10 itself cannot be a copy's source location in the allocator's terms
      const VReg copy = out_.new_vreg();
      out.push_back({.op = rows_.mov_reg, .def = copy, .src = MInst::kFp, .origin = origin});
      return std::optional(MOperand::of(copy));
    }
    return std::optional(MOperand::of(*v));
  }

  // The constant as the immediate of a `width`-bit row, if it fits: 64-bit
  // rows sign-extend imm (or zero-extend it where the row says so).
  static std::optional<int32_t> immediate(Value* value, uint8_t width, bool zero_extended = false) {
    if (!value->is_const()) return std::nullopt;
    const Const& k = *static_cast<Const*>(value);
    if (k.const_kind() != ConstKind::Int) return std::nullopt;
    if (width < 64) return static_cast<int32_t>(static_cast<uint32_t>(k.bits()));
    if (zero_extended) return k.bits() <= 0xffffffffu ? std::optional(static_cast<int32_t>(k.bits())) : std::nullopt;
    if (fits_int32(static_cast<int64_t>(k.bits()))) return static_cast<int32_t>(k.bits());
    return std::nullopt;
  }

  // ---- Instructions --------------------------------------------------------------

  Expected<void> select_block(Block& block, MBlock& mb) {
    block_constants_.clear();
    current_ = &block;
    for (Block* pred : block.preds()) mb.preds.push_back(block_index_.at(pred));
    mb.origin = block.first() && block.first()->origin() != kNoOrigin ? block.first()->origin() : 0;
    for (Inst& inst : block) {
      if (inst.op() == Opcode::Phi) {
        if (auto status = select_phi(inst, block, mb); !status) return status;
        continue;
      }
      if (auto status = select_inst(inst, mb); !status) return status;
    }
    return {};
  }

  Expected<void> select_phi(Inst& phi, Block& block, MBlock& mb) {
    MPhi out{.def = vreg_.at(&phi)};
    for (Block* pred : block.preds()) {
      const int index = phi.incoming_index(pred);
      if (index < 0) return unsupported(phi, "a phi without an input for a predecessor");
      Value* value = phi.operand(static_cast<size_t>(index));
      if (value->kind() == ValueKind::Undef ||
          (value->kind() == ValueKind::Arg && undefined_at_entry(static_cast<Special*>(value)->reg()))) {
        out.inputs.push_back(MOperand::constant(0));
        continue;
      }
      if (value->is_const() && static_cast<Const*>(value)->const_kind() == ConstKind::Int) {
        out.inputs.push_back(MOperand::constant(static_cast<Const*>(value)->bits()));
        continue;
      }
      if (value->kind() == ValueKind::Inst || value->kind() == ValueKind::Arg) {
        auto v = reg_of(value, pending_[pred], 0);
        if (!v) return v.error();
        out.inputs.push_back(MOperand::of(*v));
        continue;
      }
      // r10 or a typed constant: made at the end of the predecessor (not
      // through this block's cache of typed constants: another block).
      const uint32_t at = pred->last() && pred->last()->origin() != kNoOrigin ? pred->last()->origin() : 0;
      if (value->is_const()) {
        out.inputs.push_back(MOperand::of(materialise(*static_cast<Const*>(value), pending_[pred], at)));
        continue;
      }
      auto v = operand_of(value, pending_[pred], at);
      if (!v) return v.error();
      out.inputs.push_back(**v);
    }
    mb.phis.push_back(std::move(out));
    return {};
  }

  // Whether the original instruction wrote r10 (sBPF v1, v2 move their
  // frame by hand): the allocator never gives r10 out, so such a program
  // cannot be generated yet.
  bool moves_frame_pointer(const Inst& inst) const {
    if (!original_ || inst.origin() == kNoOrigin || inst.origin() >= original_->size()) return false;
    const auto op = original_->ops[inst.origin()];
    return op && isa::writes(isa::shape_info(*op).dst) && original_->slots[inst.origin()].dst() == isa::kFramePointer;
  }

  Expected<void> select_inst(Inst& inst, MBlock& mb) {
    auto& out = mb.insts;
    const uint32_t origin = inst.origin() == kNoOrigin ? 0 : inst.origin();
    if (moves_frame_pointer(inst)) return unsupported(inst, "programs that move r10 are not generated yet");
    const Attrs& a = inst.attrs();
    const VReg def = inst.has_result() ? vreg_.at(&inst) : kNoVReg;
    auto reg = [&](Value* v) { return reg_of(v, out, origin); };
    if (auto operation = binary_operation(inst.op())) {
      auto lhs = reg(inst.operand(0));
      if (!lhs) return lhs.error();
      if (*lhs == MInst::kFp && (inst.op() != Opcode::Add || inst.width() != 64))
        return unsupported(inst, "arithmetic on r10 other than adding to it");
      auto imm_row = row(dialect_, *operation, inst.width(), Source::Imm, isa::Condition::None, a.ext);
      if (imm_row) {
        const bool zero_extended = isa::semantics(*imm_row, dialect_).imm_zero_extended;
        auto k = immediate(inst.operand(1), inst.width(), zero_extended);
        if (k && kernel_accepts_immediate(*operation, inst.width(), *k)) {
          out.push_back({.op = *imm_row, .def = def, .dst = *lhs, .imm = *k, .origin = origin});
          // A stack address (r10 + k) is made again where a spill would
          // store it, as clang rematerialises a frame index: it then never
          // holds a callee-saved register across calls.
          if (*lhs == MInst::kFp) out_.vregs[def].constant = out_.vregs[def].frame_address = true;
          return {};
        }
      }
      auto reg_row = row(dialect_, *operation, inst.width(), Source::Reg, isa::Condition::None, a.ext);
      if (!reg_row) return unsupported(inst, "no row for this operation in " + std::string(dialect_.name));
      auto rhs = reg(inst.operand(1));
      if (!rhs) return rhs.error();
      out.push_back({.op = *reg_row, .def = def, .dst = *lhs, .src = *rhs, .origin = origin});
      return {};
    }
    switch (inst.op()) {
      case Opcode::Neg: {
        auto r = row(dialect_, Operation::Neg, inst.width(), Source::None, isa::Condition::None, a.ext);
        if (!r) return unsupported(inst, "no neg row in " + std::string(dialect_.name));
        auto x = reg(inst.operand(0));
        if (!x) return x.error();
        out.push_back({.op = *r, .def = def, .dst = *x, .origin = origin});
        return {};
      }
      case Opcode::SExt: return select_sext(inst, def, out, origin);
      case Opcode::ZExt: return select_zext(inst, def, out, origin);
      case Opcode::Bswap:
      case Opcode::ToLe:
      case Opcode::ToBe: {
        const Operation operation = inst.op() == Opcode::Bswap  ? Operation::Bswap
                                    : inst.op() == Opcode::ToLe ? Operation::ToLe
                                                                : Operation::ToBe;
        auto r = row(dialect_, operation, inst.width(), Source::None);
        if (!r) return unsupported(inst, "no byte-swap row for this width in " + std::string(dialect_.name));
        auto x = reg(inst.operand(0));
        if (!x) return x.error();
        out.push_back({.op = *r, .def = def, .dst = *x, .origin = origin});
        return {};
      }
      case Opcode::AddrSpaceCast: {
        auto x = reg(inst.operand(0));
        if (!x) return x.error();
        out.push_back({.op = isa::Op::addr_space_cast,
                       .def = def,
                       .src = *x,
                       .imm = static_cast<int32_t>(a.imm),
                       .origin = origin});
        return {};
      }
      case Opcode::Assign: {
        Value* source = inst.operand(0);
        if (source->is_const() && static_cast<Const*>(source)->const_kind() == ConstKind::Int) {
          std::vector<MInst> made;
          const VReg k = materialise(*static_cast<Const*>(source), made, origin);
          for (MInst& m : made)
            if (m.def == k) m.def = def;
          out_.vregs[def].constant = out_.vregs[k].constant;
          out.insert(out.end(), made.begin(), made.end());
          return {};
        }
        auto x = reg(source);
        if (!x) return x.error();
        out.push_back({.op = rows_.mov_reg, .def = def, .src = *x, .origin = origin});
        return {};
      }
      case Opcode::Alloc:
      case Opcode::AllocArray:
        out.push_back({.op = row(dialect_, Operation::Add, 64, Source::Imm).value_or(isa::Op::add64_imm),
                       .def = def,
                       .dst = MInst::kFp,
                       .imm = alloc_offset_.at(&inst),
                       .origin = origin});
        return {};
      case Opcode::Load:
      case Opcode::LoadRaw: return select_load(inst, def, out, origin);
      case Opcode::Store:
      case Opcode::StoreRaw: return select_store(inst, out, origin);
      case Opcode::Atomic: return select_atomic(inst, def, out, origin);
      case Opcode::LdAbs:
      case Opcode::LdInd: {
        const bool indirect = inst.op() == Opcode::LdInd;
        auto r = row(dialect_, Operation::LoadPacket, inst.width(), indirect ? Source::Reg : Source::Imm);
        if (!r) return unsupported(inst, "no packet-load row");
        auto ctx = operand_of(inst.operand(0), out, origin);
        if (!ctx) return ctx.error();
        MInst m{.op = *r, .def = def, .imm = static_cast<int32_t>(a.imm), .origin = origin};
        if (*ctx) m.fixed_uses.push_back(**ctx);
        if (indirect) {
          auto index = reg(inst.operand(1));
          if (!index) return index.error();
          m.src = *index;
        }
        out.push_back(std::move(m));
        return {};
      }
      case Opcode::Call: return select_call(inst, def, out, origin);
      case Opcode::Core: return select_core(inst, def, out, origin);
      case Opcode::Ja:
        mb.term = TermKind::Jump;
        mb.succs = {block_index_.at(inst.target(0))};
        return {};
      case Opcode::Br: return select_branch(inst, mb, origin);
      case Opcode::MayGoto:
        mb.term = TermKind::Branch;
        mb.branch = MInst{.op = isa::Op::may_goto, .origin = origin};
        mb.succs = {block_index_.at(inst.target(0)), block_index_.at(inst.target(1))};
        return {};
      case Opcode::Ret: {
        mb.term = TermKind::Exit;
        mb.branch =
            MInst{.op = row(dialect_, Operation::Exit, 64, Source::None).value_or(isa::Op::exit), .origin = origin};
        auto r0 = operand_of(inst.operand(0), out, origin);
        if (!r0) return r0.error();
        if (*r0) mb.branch.fixed_uses.push_back(**r0);
        return {};
      }
      default: break;
    }
    return unsupported(inst, "the IR operation `" + std::string(info(inst.op()).text) + "` has no code yet");
  }

  // A kept CO-RE row: the same row, its registers allocated, its fields
  // as the object had them.
  Expected<void> select_core(Inst& inst, VReg def, std::vector<MInst>& out, uint32_t origin) {
    const Attrs& a = inst.attrs();
    const CoreShape shape = core_shape(a.row);
    MInst m{.op = a.row,
            .def = def,
            .off = static_cast<int16_t>(a.offset),
            .imm = static_cast<int32_t>(a.imm),
            .imm64 = static_cast<uint64_t>(a.imm),
            .origin = origin,
            .core = static_cast<uint32_t>(a.aux)};
    size_t next = 0;
    for (VReg* field : {shape.reads_dst ? &m.dst : nullptr, shape.reads_src ? &m.src : nullptr}) {
      if (!field) continue;
      auto r = reg_of(inst.operand(next++), out, origin);
      if (!r) return r.error();
      *field = *r;
    }
    out.push_back(std::move(m));
    return {};
  }

  Expected<void> select_sext(Inst& inst, VReg def, std::vector<MInst>& out, uint32_t origin) {
    const uint8_t from = inst.attrs().width, to = inst.attrs().to;
    auto x = reg_of(inst.operand(0), out, origin);
    if (!x) return x.error();
    for (const isa::OpInfo& info : isa::kOps) {
      const isa::Semantics s = isa::semantics(info.op, dialect_);
      if (s.operation == Operation::MovSx && s.width == to && info.value == from) {
        out.push_back({.op = info.op, .def = def, .src = *x, .origin = origin});
        return {};
      }
    }
    if (from == 32 && to == 64)  // sBPF v2: mov32 reg sign-extends
      if (auto r = row(dialect_, Operation::Mov, 32, Source::Reg, isa::Condition::None, isa::Extension::Sign)) {
        out.push_back({.op = *r, .def = def, .src = *x, .origin = origin});
        return {};
      }
    // Shift left then arithmetic right, in the result's width.
    auto lsh = row(dialect_, Operation::Lsh, to, Source::Imm, isa::Condition::None,
                   to == 32 ? isa::Extension::Zero : isa::Extension::None);
    auto arsh = row(dialect_, Operation::Arsh, to, Source::Imm, isa::Condition::None,
                    to == 32 ? isa::Extension::Zero : isa::Extension::None);
    if (!lsh || !arsh) return unsupported(inst, "no way to sign-extend in " + std::string(dialect_.name));
    const VReg shifted = out_.new_vreg({.hint = out_.vregs[def].hint});
    out.push_back({.op = *lsh, .def = shifted, .dst = *x, .imm = to - from, .origin = origin});
    out.push_back({.op = *arsh, .def = def, .dst = shifted, .imm = to - from, .origin = origin});
    return {};
  }

  Expected<void> select_zext(Inst& inst, VReg def, std::vector<MInst>& out, uint32_t origin) {
    const uint8_t from = inst.attrs().width;
    auto x = reg_of(inst.operand(0), out, origin);
    if (!x) return x.error();
    if (from == 32) {
      if (auto r = row(dialect_, Operation::Mov, 32, Source::Reg, isa::Condition::None, isa::Extension::Zero)) {
        out.push_back({.op = *r, .def = def, .src = *x, .origin = origin});
        return {};
      }
      const VReg shifted = out_.new_vreg({.hint = out_.vregs[def].hint});
      out.push_back({.op = isa::Op::lsh64_imm, .def = shifted, .dst = *x, .imm = 32, .origin = origin});
      out.push_back({.op = isa::Op::rsh64_imm, .def = def, .dst = shifted, .imm = 32, .origin = origin});
      return {};
    }
    out.push_back({.op = row(dialect_, Operation::And, 64, Source::Imm).value_or(isa::Op::and64_imm),
                   .def = def,
                   .dst = *x,
                   .imm = static_cast<int32_t>((uint64_t{1} << from) - 1),
                   .origin = origin});
    return {};
  }

  // The base register and offset of a memory access: an alloc is r10 plus
  // its place in the frame.
  Expected<std::pair<VReg, int32_t>> address_of(Inst& inst, std::vector<MInst>& out, uint32_t origin) {
    Value* base = inst.operand(0);
    int64_t offset = inst.attrs().offset;
    if (base->kind() == ValueKind::Inst)
      if (auto it = alloc_offset_.find(static_cast<Inst*>(base)); it != alloc_offset_.end()) {
        offset += it->second;
        base = fn_.frame_pointer();
      }
    if (offset < std::numeric_limits<int16_t>::min() || offset > std::numeric_limits<int16_t>::max())
      return unsupported(inst, "a memory offset that does not fit in 16 bits");
    auto r = reg_of(base, out, origin);
    if (!r) return r.error();
    return std::pair{*r, static_cast<int32_t>(offset)};
  }

  Expected<void> select_load(Inst& inst, VReg def, std::vector<MInst>& out, uint32_t origin) {
    const bool sign = inst.attrs().is_signed;
    auto r = row(dialect_, sign ? Operation::LoadSx : Operation::Load, inst.width(), Source::Reg);
    if (!r) return unsupported(inst, "no load row for this width in " + std::string(dialect_.name));
    auto address = address_of(inst, out, origin);
    if (!address) return address.error();
    out.push_back(
        {.op = *r, .def = def, .src = address->first, .off = static_cast<int16_t>(address->second), .origin = origin});
    return {};
  }

  Expected<void> select_store(Inst& inst, std::vector<MInst>& out, uint32_t origin) {
    auto address = address_of(inst, out, origin);
    if (!address) return address.error();
    const auto off = static_cast<int16_t>(address->second);
    Value* value = inst.operand(1);
    if (auto imm_row = row(dialect_, Operation::Store, inst.width(), Source::Imm))
      if (auto k = immediate(value, inst.width())) {
        out.push_back({.op = *imm_row, .dst = address->first, .off = off, .imm = *k, .origin = origin});
        return {};
      }
    auto r = row(dialect_, Operation::Store, inst.width(), Source::Reg);
    if (!r) return unsupported(inst, "no store row for this width in " + std::string(dialect_.name));
    auto v = reg_of(value, out, origin);
    if (!v) return v.error();
    out.push_back({.op = *r, .dst = address->first, .src = *v, .off = off, .origin = origin});
    return {};
  }

  Expected<void> select_atomic(Inst& inst, VReg def, std::vector<MInst>& out, uint32_t origin) {
    const Attrs& a = inst.attrs();
    const bool cmpxchg = a.atomic == AtomicOp::Cmpxchg;
    auto r = row(dialect_, atomic_operation(a.atomic), inst.width(), Source::Reg, isa::Condition::None,
                 isa::Extension::None, a.fetch || cmpxchg || a.atomic == AtomicOp::Xchg);
    if (!r) return unsupported(inst, "no atomic row for this operation in " + std::string(dialect_.name));
    auto address = address_of(inst, out, origin);
    if (!address) return address.error();
    MInst m{
        .op = *r, .def = def, .dst = address->first, .off = static_cast<int16_t>(address->second), .origin = origin};
    if (cmpxchg) {
      auto expected = operand_of(inst.operand(1), out, origin);
      if (!expected) return expected.error();
      m.fixed_uses.push_back(expected->value_or(MOperand::constant(0)));
      auto replacement = reg_of(inst.operand(2), out, origin);
      if (!replacement) return replacement.error();
      m.src = *replacement;
    } else {
      auto value = reg_of(inst.operand(1), out, origin);
      if (!value) return value.error();
      m.src = *value;
    }
    out.push_back(std::move(m));
    return {};
  }

  Expected<void> select_call(Inst& inst, VReg def, std::vector<MInst>& out, uint32_t origin) {
    const Attrs& a = inst.attrs();
    MInst m{.op = isa::Op::call, .def = def, .imm = static_cast<int32_t>(a.imm), .origin = origin};
    size_t first_arg = 0;
    switch (a.call) {
      case CallKind::Helper:
      case CallKind::Syscall: {
        auto r = row(dialect_, Operation::Call, 64, Source::Imm);
        if (!r) return unsupported(inst, "no call row");
        m.op = *r;
        break;
      }
      case CallKind::Kfunc:
        m.op = isa::Op::call_kfunc;
        m.off = static_cast<int16_t>(a.aux);
        break;
      case CallKind::Local:
        if (!inst.callee() || !functions_.count(inst.callee()))
          return unsupported(inst, "a call to a function outside the module");
        m.imm = 0;
        m.callee = functions_.at(inst.callee());
        if (isa::has_row(isa::Op::call_local, dialect_)) {
          m.op = isa::Op::call_local;
        } else {  // sBPF v0-v2: `call imm` with the callee's key
          auto r = row(dialect_, Operation::Call, 64, Source::Imm);
          if (!r) return unsupported(inst, "no call row");
          m.op = *r;
          m.by_key = true;
        }
        break;
      case CallKind::Indirect: {
        // sBPF function addresses are plain integers once loaded: nothing
        // says which constants to move with the code.
        if (dialect_.family == isa::Family::Sbpf)
          return unsupported(inst, "sBPF indirect calls (function addresses are not relocated yet)");
        m.op = row(dialect_, Operation::Callx, 64, Source::Reg).value_or(isa::Op::callx);
        auto target = reg_of(inst.operand(0), out, origin);
        if (!target) return target.error();
        m.dst = *target;
        first_arg = 1;
        break;
      }
    }
    std::vector<MOperand> args;
    for (size_t i = first_arg; i < inst.operand_count(); ++i) {
      auto arg = operand_of(inst.operand(i), out, origin);
      if (!arg) return arg.error();
      args.push_back(arg->value_or(MOperand{}));  // kNoVReg with no value: undefined, see below
    }
    // Undefined arguments at the end are left out; in between they are 0.
    while (!args.empty() && args.back().is_constant() &&
           inst.operand(first_arg + args.size() - 1)->kind() == ValueKind::Undef)
      args.pop_back();
    m.fixed_uses = std::move(args);
    // A result the program moved out of r0 at once (`r6 = r0`): copied
    // there, so that r0 is free again.
    const int8_t wanted = vote(inst);
    if (def != kNoVReg && wanted > 0) {
      const VReg in_r0 = out_.new_vreg({.hint = 0});
      m.def = in_r0;
      out_.vregs[def].hint = wanted;
      out.push_back(std::move(m));
      out.push_back({.op = rows_.mov_reg, .def = def, .src = in_r0, .origin = origin});
      return {};
    }
    out.push_back(std::move(m));
    return {};
  }

  Expected<void> select_branch(Inst& inst, MBlock& mb, uint32_t origin) {
    mb.term = TermKind::Branch;
    mb.succs = {block_index_.at(inst.target(0)), block_index_.at(inst.target(1))};
    const uint8_t width = inst.width();
    const isa::Condition cond = inst.attrs().cond;
    auto lhs = reg_of(inst.operand(0), mb.insts, origin);
    if (!lhs) return lhs.error();
    if (auto imm_row = row(dialect_, Operation::JumpIf, width, Source::Imm, cond))
      if (auto k = immediate(inst.operand(1), width)) {
        mb.branch = MInst{.op = *imm_row, .dst = *lhs, .imm = *k, .origin = origin};
        return {};
      }
    auto r = row(dialect_, Operation::JumpIf, width, Source::Reg, cond);
    if (!r) return unsupported(inst, "no conditional jump for this test in " + std::string(dialect_.name));
    auto rhs = reg_of(inst.operand(1), mb.insts, origin);
    if (!rhs) return rhs.error();
    mb.branch = MInst{.op = *r, .dst = *lhs, .src = *rhs, .origin = origin};
    return {};
  }

 public:
  // Values a phi needs made at the end of a predecessor (r10, lddw forms).
  std::unordered_map<Block*, std::vector<MInst>> pending_;

  void flush_pending() {
    for (auto& [block, insts] : pending_) {
      auto& target = out_.blocks[block_index_.at(block)].insts;
      target.insert(target.end(), insts.begin(), insts.end());
    }
  }

 private:
  SelectOptions options_;
  Function& fn_;
  const isa::Program* original_;
  const std::unordered_map<const Function*, uint32_t>& functions_;
  const isa::Dialect& dialect_;
  const Rows rows_;
  MFunction out_;
  std::unordered_map<const Block*, uint32_t> block_index_;
  std::unordered_map<const Inst*, VReg> vreg_;
  std::unordered_map<const Inst*, int32_t> alloc_offset_;
  // An integer constant in a register, made once for all its users.
  struct SharedConstant {
    VReg vreg = kNoVReg;
    std::vector<MInst> defs;    // the rows that make it
    std::vector<Block*> users;  // the blocks reading it, one entry per use
  };
  std::vector<SharedConstant> shared_;  // in order of first use
  // An integer constant by its value; a typed one by itself.
  struct SharedKey {
    const Const* typed;
    uint64_t bits;
    bool operator==(const SharedKey&) const = default;
  };
  struct SharedKeyHash {
    size_t operator()(const SharedKey& key) const {
      return std::hash<uint64_t>{}(key.bits) ^ std::hash<const Const*>{}(key.typed);
    }
  };
  std::unordered_map<SharedKey, size_t, SharedKeyHash> shared_index_;
  Block* current_ = nullptr;                                // the block being selected
  std::unordered_map<const Const*, VReg> block_constants_;  // typed constants made in the current block
  std::vector<MInst> hoisted_defs_;                         // made at the entry: argument copies
  std::array<VReg, 5> param_use_{};
  std::optional<bool> entry_called_;  // whether a call names the entry function (undefined_at_entry)
  int32_t frame_low_ = 0;
};

}  // namespace

Expected<MFunction> select(Function& fn, const isa::Program* original,
                           const std::unordered_map<const Function*, uint32_t>& functions, SelectOptions options) {
  Selector selector(fn, original, functions, options);
  return selector.run();
}

}  // namespace bpfkit::ir::codegen
