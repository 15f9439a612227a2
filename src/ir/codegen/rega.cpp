// Register allocation (rega.hpp). SSA makes the interference graph chordal:
// walking blocks in reverse postorder (every definition before its uses)
// and giving each definition a register free at that point never needs
// more registers than values live at once, as in Hack's SSA allocation and
// QBE's rega.c. The fixed registers of the ABI (arguments r1-r5, the result
// and the return value r0, r0-r5 clobbered by calls, r10 never written)
// become per-value masks of registers to avoid (liveness.cpp) plus copies
// into the fixed registers at emission. A value's hint (its register in
// the bytecode) comes first, then the register of the input it replaces
// (coalescing a copy or a two-address row), then the lowest free one, so a
// program lifted without changes gets its own registers back. When no
// register is free, the value live longest is spilled (one 8-byte slot,
// aligned so the verifier keeps a pointer's type through the spill) or,
// for a constant, re-created at each use, and allocation starts over.
#include "rega.hpp"

#include <algorithm>
#include <bit>
#include <map>
#include <tuple>

#include "rows.hpp"

namespace bpfkit::ir::codegen {
namespace {

constexpr int kAllocatable = 10;  // r0..r9

Error allocation_error(const MFunction& fn, std::string message) {
  return make_error(
      Errc::Unsupported,
      "register allocation of " + (fn.name.empty() ? std::string("the program") : fn.name) + ": " + std::move(message));
}

void rename_uses(MInst& inst, const std::map<VReg, VReg>& renames) {
  auto rename = [&](VReg& v) {
    if (auto it = renames.find(v); it != renames.end()) v = it->second;
  };
  rename(inst.dst);
  rename(inst.src);
  for (MOperand& operand : inst.fixed_uses)
    if (!operand.is_constant()) rename(operand.vreg);
}

void rename_all_uses(MFunction& fn, const std::map<VReg, VReg>& renames) {
  for (MBlock& block : fn.blocks) {
    for (MPhi& phi : block.phis)
      for (MOperand& input : phi.inputs)
        if (auto it = renames.find(input.vreg); !input.is_constant() && it != renames.end()) input.vreg = it->second;
    for (MInst& inst : block.insts) rename_uses(inst, renames);
    rename_uses(block.branch, renames);
  }
}

// A value that must leave its fixed register (a call's r0 result, or an
// argument arriving in r1-r5) but lives across a row that clobbers it gets
// a copy right after it; the copy is free to go anywhere.
uint32_t split_fixed_registers(MFunction& fn, const Liveness& live, const Rows& rows) {
  std::map<VReg, VReg> renames;
  std::vector<std::pair<VReg, VReg>> entry_copies;
  for (size_t i = 0; i < fn.params.size(); ++i) {
    const VReg p = fn.params[i];
    if (p != kNoVReg && (live.avoid[p] & bit(static_cast<unsigned>(1 + i)))) {
      const VReg c = fn.new_vreg({.hint = fn.vregs[p].hint});
      renames[p] = c;
      entry_copies.push_back({c, p});
    }
  }
  std::vector<std::tuple<uint32_t, size_t, VReg, VReg>> after;  // block, index, copy, original
  for (uint32_t b = 0; b < fn.blocks.size(); ++b)
    for (size_t i = 0; i < fn.blocks[b].insts.size(); ++i) {
      const MInst& inst = fn.blocks[b].insts[i];
      const auto fixed = fixed_def_register(inst.op);
      if (!fixed || inst.def == kNoVReg || !(live.avoid[inst.def] & bit(*fixed))) continue;
      const VReg c = fn.new_vreg({.hint = fn.vregs[inst.def].hint});
      renames[inst.def] = c;
      after.push_back({b, i, c, inst.def});
    }
  if (renames.empty()) return 0;
  rename_all_uses(fn, renames);
  for (auto it = after.rbegin(); it != after.rend(); ++it) {
    auto [b, i, copy, original] = *it;
    MInst mov{.op = rows.mov_reg, .def = copy, .src = original, .origin = fn.blocks[b].insts[i].origin};
    fn.blocks[b].insts.insert(fn.blocks[b].insts.begin() + static_cast<std::ptrdiff_t>(i + 1), mov);
  }
  auto& entry = fn.blocks[0].insts;
  for (auto it = entry_copies.rbegin(); it != entry_copies.rend(); ++it)
    entry.insert(entry.begin(), MInst{.op = rows.mov_reg, .def = it->first, .src = it->second});
  return static_cast<uint32_t>(renames.size());
}

// One attempt: a place for every value, or the value to spill.
struct Attempt {
  std::vector<std::optional<Location>> where;
  VReg spill = kNoVReg;
  std::optional<Error> error;
};

class Assigner {
 public:
  Assigner(const MFunction& fn, const Liveness& live, const std::map<VReg, int32_t>& homes)
      : fn_(fn), live_(live), used_(fn.vregs.size()) {
    for (const MBlock& block : fn.blocks) {
      for (const MPhi& phi : block.phis)
        for (const MOperand& input : phi.inputs)
          if (!input.is_constant()) used_.add(input.vreg);
      for (const MInst& inst : block.insts)
        for (VReg v : uses_of(inst)) used_.add(v);
      for (VReg v : uses_of(block.branch)) used_.add(v);
    }
    out_.where.assign(fn.vregs.size(), std::nullopt);
    for (auto [v, offset] : homes) out_.where[v] = Location::stack(offset);
  }

  Attempt run() {
    for (uint32_t b : reverse_postorder(fn_))
      if (!assign_block(b)) break;
    return std::move(out_);
  }

 private:
  std::optional<uint8_t> reg_of(VReg v) const {
    if (v == kNoVReg || v == MInst::kFp || !out_.where[v] || !out_.where[v]->is_reg()) return std::nullopt;
    return static_cast<uint8_t>(out_.where[v]->index);
  }

  RegMask held_mask() const {
    RegMask mask = 0;
    for (int r = 0; r < kAllocatable; ++r)
      if (held_[r] != kNoVReg) mask |= bit(r);
    return mask;
  }

  std::optional<uint8_t> choose(VReg v, RegMask excluded, std::initializer_list<std::optional<uint8_t>> preferred) {
    const RegMask allowed = static_cast<RegMask>(0x3ff & ~live_.avoid[v] & ~excluded & ~held_mask());
    if (!allowed) return std::nullopt;
    const int hint = fn_.vregs[v].hint;
    if (hint >= 0 && (allowed & bit(hint))) return static_cast<uint8_t>(hint);
    for (auto r : preferred)
      if (r && (allowed & bit(*r))) return *r;
    return static_cast<uint8_t>(std::countr_zero(allowed));
  }

  void take(VReg v, uint8_t r, bool live_after) {
    out_.where[v] = Location::reg(r);
    if (live_after) held_[r] = v;
  }

  // No register for `v`: the held value (or v itself) live longest goes to
  // the stack, a constant first (it is made again where used: no slot, no
  // load). Values made by an earlier spill never go again.
  bool request_spill(VReg v) {
    VReg victim = kNoVReg;
    auto rank = [&](VReg c) {
      const VRegInfo& info = fn_.vregs[c];
      return std::tuple{info.constant, !info.frame_address, live_.range[c]};
    };
    auto consider = [&](VReg c) {
      if (c == kNoVReg || fn_.vregs[c].spill_temp) return;
      if (victim == kNoVReg || rank(c) > rank(victim) || (rank(c) == rank(victim) && c < victim)) victim = c;
    };
    for (int r = 0; r < kAllocatable; ++r) consider(held_[r]);
    consider(v);
    if (victim == kNoVReg) {
      out_.error = allocation_error(
          fn_, "more than " + std::to_string(kAllocatable) + " values are needed in registers at one instruction");
      return false;
    }
    out_.spill = victim;
    return false;
  }

  bool assign_block(uint32_t b) {
    const MBlock& block = fn_.blocks[b];
    held_.fill(kNoVReg);
    bool ok = true;
    live_.live_in[b].for_each([&](VReg v) {
      if (out_.where[v] && out_.where[v]->is_reg())
        held_[out_.where[v]->index] = v;
      else if (!out_.where[v] && !(b == 0 && is_param(v)))
        ok = false;  // defined in a block that does not dominate this one
    });
    if (!ok) {
      out_.error = allocation_error(fn_, "a value is used where its definition does not dominate");
      return false;
    }
    if (b == 0)
      for (size_t i = 0; i < fn_.params.size(); ++i)
        if (fn_.params[i] != kNoVReg && !out_.where[fn_.params[i]])
          take(fn_.params[i], static_cast<uint8_t>(1 + i), used_.has(fn_.params[i]));
    for (const MPhi& phi : block.phis) {
      if (out_.where[phi.def] || !used_.has(phi.def)) continue;  // spilled to a slot, or dead
      std::optional<uint8_t> from_input;
      for (const MOperand& input : phi.inputs)
        if (auto r = reg_of(input.vreg); r && !from_input) from_input = r;
      auto r = choose(phi.def, 0, {from_input});
      if (!r) return request_spill(phi.def);
      take(phi.def, *r, true);
    }
    // Which uses die at each instruction, and whether each def outlives it.
    std::vector<std::vector<VReg>> dying(block.insts.size() + 1);
    std::vector<bool> def_lives(block.insts.size() + 1);
    walk_backwards(fn_, b, live_.live_out[b], [&](size_t i, const VRegSet& after) {
      const MInst& inst = i < block.insts.size() ? block.insts[i] : block.branch;
      if (i == block.insts.size() && block.term == TermKind::Jump) return;
      for (VReg u : uses_of(inst))
        if (!after.has(u)) dying[i].push_back(u);
      def_lives[i] = inst.def != kNoVReg && after.has(inst.def);
    });
    for (size_t i = 0; i < block.insts.size(); ++i)
      if (!assign_inst(block.insts[i], dying[i], def_lives[i])) return false;
    return true;
  }

  bool assign_inst(const MInst& inst, const std::vector<VReg>& dying, bool def_lives) {
    for (VReg u : uses_of(inst))
      if (!out_.where[u]) {
        out_.error = allocation_error(fn_, "a value is used before it has a place");
        return false;
      }
    const Tie tie = tie_of(inst.op);
    RegMask excluded = 0;
    std::optional<uint8_t> preferred;
    if (tie == Tie::Dst) {
      preferred = reg_of(inst.dst);
      if (inst.src != inst.dst)
        if (auto r = reg_of(inst.src)) excluded |= bit(*r);
    } else if (tie == Tie::Src) {
      preferred = reg_of(inst.src);
      if (inst.dst != inst.src)
        if (auto r = reg_of(inst.dst)) excluded |= bit(*r);
    } else if (isa::base_semantics(inst.op).operation == isa::Operation::Mov &&
               isa::base_semantics(inst.op).width == 64) {
      preferred = reg_of(inst.src);
    }
    for (VReg u : dying)
      if (auto r = reg_of(u); r && held_[*r] == u) held_[*r] = kNoVReg;
    if (inst.def == kNoVReg) return true;
    if (auto fixed = fixed_def_register(inst.op)) {
      if (held_[*fixed] != kNoVReg) return request_spill(held_[*fixed]);
      take(inst.def, *fixed, def_lives);
      return true;
    }
    auto r = choose(inst.def, excluded, {preferred});
    if (!r) return request_spill(inst.def);
    take(inst.def, *r, def_lives);
    return true;
  }

  bool is_param(VReg v) const { return std::find(fn_.params.begin(), fn_.params.end(), v) != fn_.params.end(); }

  const MFunction& fn_;
  const Liveness& live_;
  VRegSet used_;
  std::array<VReg, kAllocatable> held_{};
  Attempt out_;
};

// The row that defines v, if it is a constant the spill can re-create.
std::optional<MInst> constant_definition(const MFunction& fn, VReg v) {
  if (!fn.vregs[v].constant) return std::nullopt;
  for (const MBlock& block : fn.blocks)
    for (const MInst& inst : block.insts)
      if (inst.def == v) return inst;
  return std::nullopt;
}

uint64_t constant_value(const MInst& def, const Rows& rows) {
  if (isa::is_lddw(def.op)) return def.imm64;
  if (def.op == rows.mov32_zero_extending) return static_cast<uint32_t>(def.imm);
  return static_cast<uint64_t>(static_cast<int64_t>(def.imm));
}

// A phi input v whose definition a spill removed: an integer becomes the
// phi's constant; a typed constant (a map address: no plain value says
// what it is) is made again at the end of the predecessor.
void remake_for_phis(MFunction& fn, VReg v, const MInst& remat, const Rows& rows) {
  const bool integer = remat.op == rows.mov_imm || remat.op == rows.mov32_zero_extending || remat.op == rows.lddw;
  for (MBlock& block : fn.blocks)
    for (MPhi& phi : block.phis)
      for (size_t i = 0; i < phi.inputs.size(); ++i) {
        if (phi.inputs[i].vreg != v) continue;
        if (integer) {
          phi.inputs[i] = MOperand::constant(constant_value(remat, rows));
          continue;
        }
        // Live only at the predecessor's end: never spilled again (that
        // would only make it there again).
        const VReg again = fn.new_vreg({.hint = fn.vregs[v].hint, .spill_temp = true});
        MInst def = remat;
        def.def = again;
        fn.blocks[block.preds[i]].insts.push_back(def);
        phi.inputs[i] = MOperand::of(again);
      }
}

// Rewrites the function so v lives in memory: a store after its definition
// (none for a rematerialised constant), a load (or the constant) into a
// fresh value before each use. Phis read and write the slot directly. A
// parameter arrives in a register: it is stored at the entry, and a value
// of its own stands for the slot. Returns the value whose home is the slot.
VReg spill(MFunction& fn, VReg v, std::optional<int32_t> slot, const Rows& rows) {
  const std::optional<MInst> remat = constant_definition(fn, v);
  const int8_t hint = fn.vregs[v].hint;
  for (size_t i = 0; i < fn.params.size() && slot; ++i) {
    if (fn.params[i] != v) continue;
    const VReg home = fn.new_vreg({.hint = hint, .spill_temp = true});
    rename_all_uses(fn, {{v, home}});
    auto& entry = fn.blocks[0].insts;
    entry.insert(entry.begin(),
                 MInst{.op = rows.store64_reg, .dst = MInst::kFp, .src = v, .off = static_cast<int16_t>(*slot)});
    v = home;
    break;
  }
  // A constant is made again once in each block that uses it (a loop body
  // pays once a trip, not once a use); if that is still too many, each use
  // gets its own.
  const bool once_per_block = remat && !fn.vregs[v].block_remat;
  for (MBlock& block : fn.blocks) {
    std::vector<MInst> out;
    VReg made_here = kNoVReg;
    auto reload = [&](MInst& user) {
      const std::vector<VReg> uses = uses_of(user);
      if (std::find(uses.begin(), uses.end(), v) == uses.end()) return;
      if (made_here != kNoVReg) {
        rename_uses(user, {{v, made_here}});
        return;
      }
      const VReg r = once_per_block ? fn.new_vreg({.hint = hint, .constant = true, .block_remat = true})
                                    : fn.new_vreg({.hint = hint, .spill_temp = true});
      if (once_per_block) made_here = r;
      if (remat) {
        MInst again = *remat;
        again.def = r;
        again.origin = user.origin;
        out.push_back(again);
      } else {
        out.push_back(MInst{
            .op = rows.load64, .def = r, .src = MInst::kFp, .off = static_cast<int16_t>(*slot), .origin = user.origin});
      }
      rename_uses(user, {{v, r}});
    };
    for (MInst inst : block.insts) {
      reload(inst);
      if (inst.def == v) {
        if (remat) continue;
        const VReg d = fn.new_vreg({.hint = hint, .spill_temp = true});
        inst.def = d;
        out.push_back(inst);
        out.push_back(MInst{.op = rows.store64_reg,
                            .dst = MInst::kFp,
                            .src = d,
                            .off = static_cast<int16_t>(*slot),
                            .origin = inst.origin});
        continue;
      }
      out.push_back(inst);
    }
    reload(block.branch);
    block.insts = std::move(out);
  }
  if (remat) remake_for_phis(fn, v, *remat, rows);
  return v;
}

}  // namespace

// A value the bytecode gave no register (a constant the IR made, a value a
// pass created) prefers the fixed register its first fixed use needs: a
// map address made straight into the call's r1 needs no copy there.
void hint_fixed_uses(MFunction& fn) {
  auto hint = [&](const MInst& inst) {
    if (inst.fixed_uses.empty()) return;
    const std::vector<uint8_t> registers = fixed_use_registers(inst);
    for (size_t i = 0; i < inst.fixed_uses.size() && i < registers.size(); ++i)
      if (const VReg v = inst.fixed_uses[i].vreg; v != kNoVReg && fn.vregs[v].hint < 0)
        fn.vregs[v].hint = static_cast<int8_t>(registers[i]);
  };
  for (const MBlock& block : fn.blocks) {
    for (const MInst& inst : block.insts) hint(inst);
    hint(block.branch);
  }
}

Expected<Allocation> allocate(MFunction& fn, const isa::Dialect& dialect) {
  const Rows rows = rows_for(dialect);
  Allocation result;
  result.frame_low = fn.frame_low - ((fn.frame_low % 8 + 8) % 8);  // round down to 8
  result.split = split_fixed_registers(fn, compute_liveness(fn), rows);
  hint_fixed_uses(fn);
  std::map<VReg, int32_t> homes;  // spilled values read by phis: their slots
  const size_t limit = 2 * fn.vregs.size() + 16;
  for (size_t round = 0; round < limit; ++round) {
    Liveness live = compute_liveness(fn);
    Attempt attempt = Assigner(fn, live, homes).run();
    if (attempt.error) return *attempt.error;
    if (attempt.spill == kNoVReg) {
      result.where = std::move(attempt.where);
      result.liveness = std::move(live);
      return result;
    }
    const VReg v = attempt.spill;
    std::optional<int32_t> slot;
    if (constant_definition(fn, v)) {
      ++result.rematerialised;
    } else {
      result.frame_low -= 8;
      if (-result.frame_low > static_cast<int64_t>(dialect.stack_frame_size))
        return allocation_error(
            fn, "spills do not fit in the " + std::to_string(dialect.stack_frame_size) + "-byte stack frame");
      slot = result.frame_low;
      ++result.spilled;
    }
    fn.vregs[v].spill_temp = true;  // its home is final
    const VReg home = spill(fn, v, slot, rows);
    if (slot) homes[home] = *slot;
  }
  return allocation_error(fn, "did not converge");
}

}  // namespace bpfkit::ir::codegen
