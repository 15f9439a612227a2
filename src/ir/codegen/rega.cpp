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
// for a constant, re-created at each use; the attempt goes on as if it
// were gone, then allocation starts over on the rewritten function.
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

// One attempt: a place for every value, or the values to spill. The
// attempt goes on past a value it spills as if that value were gone, so
// one pass finds every spill the function needs but those the reloads
// themselves cause: allocating again after each single spill made the
// allocator quadratic on large functions.
struct Attempt {
  std::vector<std::optional<Location>> where;
  std::vector<VReg> spills;  // in the order they were chosen
  std::optional<Error> error;
};

class Assigner {
 public:
  Assigner(const MFunction& fn, const Liveness& live, const std::map<VReg, int32_t>& homes)
      : fn_(fn), live_(live), used_(fn.vregs.size()), reads_(fn.vregs.size()), spilled_(fn.vregs.size()) {
    auto read = [&](VReg v) {
      used_[v] = true;
      ++reads_[v];
    };
    for (const MBlock& block : fn.blocks) {
      for (const MPhi& phi : block.phis)
        for (const MOperand& input : phi.inputs)
          if (!input.is_constant()) read(input.vreg);
      for (const MInst& inst : block.insts)
        for (VReg v : uses_of(inst)) read(v);
      for (VReg v : uses_of(block.branch)) read(v);
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
  // load), and gives up its register. Values made by an earlier spill never
  // go again. False when no value can go: the attempt stops, with an error
  // unless spills chosen before may be what makes room (the next attempt
  // tells).
  bool spill_one(VReg v) {
    VReg victim = kNoVReg;
    auto rank = [&](VReg c) {
      const VRegInfo& info = fn_.vregs[c];
      const bool by_reads = fn_.spill_choice == SpillChoice::FewestReads;
      return std::tuple{info.constant, !info.frame_address, by_reads ? -int64_t{reads_[c]} : 0, live_.range[c]};
    };
    auto consider = [&](VReg c) {
      if (c == kNoVReg || fn_.vregs[c].spill_temp) return;
      if (victim == kNoVReg || rank(c) > rank(victim) || (rank(c) == rank(victim) && c < victim)) victim = c;
    };
    for (int r = 0; r < kAllocatable; ++r) consider(held_[r]);
    consider(v);
    if (victim == kNoVReg) {
      if (out_.spills.empty())
        out_.error = allocation_error(
            fn_, "more than " + std::to_string(kAllocatable) + " values are needed in registers at one instruction");
      return false;
    }
    out_.spills.push_back(victim);
    spilled_[victim] = true;
    for (VReg& held : held_)
      if (held == victim) held = kNoVReg;
    return true;
  }

  // A register for the definition `v`, spilling until one is free; nullopt
  // when v itself was spilled, or when nothing could be (the attempt stops).
  std::optional<uint8_t> choose_or_spill(VReg v, RegMask excluded, std::optional<uint8_t> preferred) {
    for (;;) {
      if (auto r = choose(v, excluded, {preferred})) return r;
      if (!spill_one(v)) {
        stopped_ = true;
        return std::nullopt;
      }
      if (spilled_[v]) return std::nullopt;
    }
  }

  bool assign_block(uint32_t b) {
    const MBlock& block = fn_.blocks[b];
    held_.fill(kNoVReg);
    bool ok = true;
    live_.live_in[b].for_each([&](VReg v) {
      if (spilled_[v]) return;
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
          take(fn_.params[i], static_cast<uint8_t>(1 + i), used_[fn_.params[i]]);
    for (const MPhi& phi : block.phis) {
      if (out_.where[phi.def] || !used_[phi.def]) continue;  // spilled to a slot, or dead
      std::optional<uint8_t> from_input;
      for (const MOperand& input : phi.inputs)
        if (auto r = reg_of(input.vreg); r && !from_input) from_input = r;
      auto r = choose_or_spill(phi.def, 0, from_input);
      if (stopped_) return false;
      if (r) take(phi.def, *r, true);
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
      if (!out_.where[u] && !spilled_[u]) {
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
      // The value in the fixed register, or one ranked above it, goes; if
      // that does not free the register, the next attempt spills again.
      if (held_[*fixed] != kNoVReg && (!spill_one(held_[*fixed]) || held_[*fixed] != kNoVReg)) return false;
      take(inst.def, *fixed, def_lives);
      return true;
    }
    auto r = choose_or_spill(inst.def, excluded, preferred);
    if (stopped_) return false;
    if (r) take(inst.def, *r, def_lives);
    return true;
  }

  bool is_param(VReg v) const { return std::find(fn_.params.begin(), fn_.params.end(), v) != fn_.params.end(); }

  const MFunction& fn_;
  const Liveness& live_;
  std::vector<bool> used_;
  std::vector<uint32_t> reads_;  // per vreg: the instructions and phis that read it
  std::vector<bool> spilled_;    // chosen to spill by this attempt: as if gone
  bool stopped_ = false;
  std::array<VReg, kAllocatable> held_{};
  Attempt out_;
};

// A value an attempt chose to spill, and where it goes.
struct Spill {
  VReg value = kNoVReg;
  std::optional<int32_t> slot = {};  // none for a constant, made again instead
  std::optional<MInst> remat = {};   // the constant's row
};

// The rows that define the constants among `values`, which a spill can
// re-create instead of storing and loading them (one walk for them all).
std::map<VReg, MInst> constant_definitions(const MFunction& fn, const std::vector<VReg>& values) {
  std::vector<bool> wanted(fn.vregs.size());
  for (VReg v : values)
    if (fn.vregs[v].constant) wanted[v] = true;
  std::map<VReg, MInst> out;
  for (const MBlock& block : fn.blocks)
    for (const MInst& inst : block.insts)
      if (inst.def != kNoVReg && wanted[inst.def]) out.emplace(inst.def, inst);
  return out;
}

uint64_t constant_value(const MInst& def, const Rows& rows) {
  if (isa::is_lddw(def.op)) return def.imm64;
  if (def.op == rows.mov32_zero_extending) return static_cast<uint32_t>(def.imm);
  return static_cast<uint64_t>(static_cast<int64_t>(def.imm));
}

// The register `inst` reads `v` in when it fixes one (a call argument):
// a value made again for it is best made right there, not in the register
// the original value had and then copied.
std::optional<int8_t> fixed_register_of(const MInst& inst, VReg v) {
  if (inst.fixed_uses.empty()) return std::nullopt;
  const std::vector<uint8_t> registers = fixed_use_registers(inst);
  for (size_t i = 0; i < inst.fixed_uses.size() && i < registers.size(); ++i)
    if (!inst.fixed_uses[i].is_constant() && inst.fixed_uses[i].vreg == v) return static_cast<int8_t>(registers[i]);
  return std::nullopt;
}

void rename_use(MInst& inst, VReg from, VReg to) {
  if (inst.dst == from) inst.dst = to;
  if (inst.src == from) inst.src = to;
  for (MOperand& operand : inst.fixed_uses)
    if (!operand.is_constant() && operand.vreg == from) operand.vreg = to;
}

// Rewrites the function so each spilled value lives in memory: a store
// after its definition (none for a rematerialised constant), a load (or
// the constant) into a fresh value before each use. Phis read and write
// the slot directly. Values are rewritten in the order they were chosen,
// as one spill at a time would have. Uses one walk of the function for
// them all.
class SpillRewriter {
 public:
  SpillRewriter(MFunction& fn, std::vector<Spill> spills, const Rows& rows)
      : fn_(fn), spills_(std::move(spills)), rows_(rows) {}

  // Returns, per spill, the value whose home is the slot (kNoVReg for a
  // constant).
  std::vector<VReg> run() {
    store_parameters();
    position_.assign(fn_.vregs.size(), kNone);
    for (size_t p = 0; p < spills_.size(); ++p) position_[spills_[p].value] = static_cast<int32_t>(p);
    made_here_.assign(spills_.size(), kNoVReg);
    for (MBlock& block : fn_.blocks) rewrite_block(block);
    remake_for_phis();
    std::vector<VReg> homes;
    for (const Spill& s : spills_) homes.push_back(s.slot ? s.value : kNoVReg);
    return homes;
  }

 private:
  static constexpr int32_t kNone = -1;

  int32_t position(VReg v) const { return v < position_.size() ? position_[v] : kNone; }

  // A parameter arrives in a register: it is stored at the entry, and a
  // value of its own stands for the slot.
  void store_parameters() {
    std::map<VReg, VReg> renames;
    std::vector<std::pair<VReg, int32_t>> stores;  // parameter, slot
    for (Spill& s : spills_) {
      if (!s.slot || std::find(fn_.params.begin(), fn_.params.end(), s.value) == fn_.params.end()) continue;
      const VReg home = fn_.new_vreg({.hint = fn_.vregs[s.value].hint, .spill_temp = true});
      renames[s.value] = home;
      stores.push_back({s.value, *s.slot});
      s.value = home;
    }
    if (renames.empty()) return;
    rename_all_uses(fn_, renames);  // before the stores, which read the parameter itself
    auto& entry = fn_.blocks[0].insts;
    for (auto [parameter, slot] : stores)
      entry.insert(
          entry.begin(),
          MInst{.op = rows_.store64_reg, .dst = MInst::kFp, .src = parameter, .off = static_cast<int16_t>(slot)});
  }

  // The spilled values `user` reads, each loaded (or made) into a fresh
  // value before it. A constant is made again once in each block that uses
  // it (a loop body pays once a trip, not once a use); if that is still too
  // many, each use gets its own.
  void reload(MInst& user, std::vector<MInst>& out) {
    std::vector<int32_t> read;
    for (VReg u : uses_of(user))
      if (const int32_t p = position(u); p != kNone) read.push_back(p);
    std::sort(read.begin(), read.end());
    for (int32_t p : read) {
      const Spill& s = spills_[p];
      const VReg v = s.value;
      if (made_here_[p] != kNoVReg) {
        rename_use(user, v, made_here_[p]);
        continue;
      }
      const int8_t hint = fixed_register_of(user, v).value_or(fn_.vregs[v].hint);
      const bool once_per_block = s.remat && !fn_.vregs[v].block_remat;
      const VReg r = once_per_block ? fn_.new_vreg({.hint = hint, .constant = true, .block_remat = true})
                                    : fn_.new_vreg({.hint = hint, .spill_temp = true});
      if (once_per_block) {
        made_here_[p] = r;
        made_in_block_.push_back(p);
      }
      if (s.remat) {
        MInst again = *s.remat;
        again.def = r;
        again.origin = user.origin;
        out.push_back(again);
      } else {
        out.push_back(MInst{.op = rows_.load64,
                            .def = r,
                            .src = MInst::kFp,
                            .off = static_cast<int16_t>(*s.slot),
                            .origin = user.origin});
      }
      rename_use(user, v, r);
    }
  }

  void rewrite_block(MBlock& block) {
    for (int32_t p : made_in_block_) made_here_[p] = kNoVReg;
    made_in_block_.clear();
    std::vector<MInst> out;
    out.reserve(block.insts.size());
    for (MInst inst : block.insts) {
      reload(inst, out);
      const int32_t p = position(inst.def);
      if (p == kNone) {
        out.push_back(std::move(inst));
        continue;
      }
      const Spill& s = spills_[p];
      if (s.remat) continue;
      const VReg d = fn_.new_vreg({.hint = fn_.vregs[s.value].hint, .spill_temp = true});
      inst.def = d;
      const uint32_t origin = inst.origin;
      out.push_back(std::move(inst));
      out.push_back(MInst{.op = rows_.store64_reg,
                          .dst = MInst::kFp,
                          .src = d,
                          .off = static_cast<int16_t>(*s.slot),
                          .origin = origin});
    }
    reload(block.branch, out);
    block.insts = std::move(out);
  }

  // A phi input whose definition a spill removed: an integer becomes the
  // phi's constant; a typed constant (a map address: no plain value says
  // what it is) is made again at the end of the predecessor.
  void remake_for_phis() {
    std::vector<std::tuple<int32_t, uint32_t, size_t, size_t>> inputs;  // spill, block, phi, input
    for (uint32_t b = 0; b < fn_.blocks.size(); ++b)
      for (size_t k = 0; k < fn_.blocks[b].phis.size(); ++k) {
        const MPhi& phi = fn_.blocks[b].phis[k];
        for (size_t i = 0; i < phi.inputs.size(); ++i)
          if (const int32_t p = position(phi.inputs[i].vreg); p != kNone && spills_[p].remat)
            inputs.push_back({p, b, k, i});
      }
    std::sort(inputs.begin(), inputs.end());  // spill by spill, as one spill at a time would
    for (auto [p, b, k, i] : inputs) {
      const MInst& remat = *spills_[p].remat;
      MOperand& input = fn_.blocks[b].phis[k].inputs[i];
      if (remat.op == rows_.mov_imm || remat.op == rows_.mov32_zero_extending || remat.op == rows_.lddw) {
        input = MOperand::constant(constant_value(remat, rows_));
        continue;
      }
      // Live only at the predecessor's end: never spilled again (that
      // would only make it there again).
      const VReg again = fn_.new_vreg({.hint = fn_.vregs[spills_[p].value].hint, .spill_temp = true});
      MInst def = remat;
      def.def = again;
      fn_.blocks[fn_.blocks[b].preds[i]].insts.push_back(def);
      fn_.blocks[b].phis[k].inputs[i] = MOperand::of(again);
    }
  }

  MFunction& fn_;
  std::vector<Spill> spills_;
  const Rows& rows_;
  std::vector<int32_t> position_;       // per value: its index in spills_, or kNone
  std::vector<VReg> made_here_;         // per spill: the constant made in the current block
  std::vector<int32_t> made_in_block_;  // the spills made_here_ holds one for
};

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
    ++result.rounds;
    if (attempt.error) return *attempt.error;
    if (attempt.spills.empty()) {
      result.where = std::move(attempt.where);
      result.liveness = std::move(live);
      return result;
    }
    std::map<VReg, MInst> constants = constant_definitions(fn, attempt.spills);
    std::vector<Spill> spills;
    for (VReg v : attempt.spills) {
      Spill s{.value = v};
      if (auto it = constants.find(v); it != constants.end()) {
        s.remat = it->second;
        ++result.rematerialised;
      } else {
        result.frame_low -= 8;
        if (-result.frame_low > static_cast<int64_t>(dialect.stack_frame_size))
          return allocation_error(
              fn, "spills do not fit in the " + std::to_string(dialect.stack_frame_size) + "-byte stack frame");
        s.slot = result.frame_low;
        ++result.spilled;
      }
      fn.vregs[v].spill_temp = true;  // its home is final
      spills.push_back(std::move(s));
    }
    const std::vector<VReg> slot_homes = SpillRewriter(fn, spills, rows).run();
    for (size_t i = 0; i < spills.size(); ++i)
      if (spills[i].slot) homes[slot_homes[i]] = *spills[i].slot;
  }
  return allocation_error(fn, "did not converge");
}

}  // namespace bpfkit::ir::codegen
