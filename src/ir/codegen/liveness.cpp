// Liveness by the iterative backward dataflow over blocks, phi inputs live
// at the end of their predecessor (as QBE's live.c), then one backward walk
// of each block for the avoid masks and range lengths.
#include "liveness.hpp"

#include <algorithm>
#include <iterator>

namespace bpfkit::ir::codegen {

bool VRegSet::merge(const VRegSet& other) {
  if (std::includes(members_.begin(), members_.end(), other.members_.begin(), other.members_.end())) return false;
  std::vector<VReg> merged;
  merged.reserve(members_.size() + other.members_.size());
  std::set_union(members_.begin(), members_.end(), other.members_.begin(), other.members_.end(),
                 std::back_inserter(merged));
  members_ = std::move(merged);
  return true;
}

std::vector<VReg> uses_of(const MInst& inst) {
  std::vector<VReg> out;
  auto add = [&](VReg v) {
    if (v != kNoVReg && v != MInst::kFp && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  };
  add(inst.dst);
  add(inst.src);
  for (const MOperand& operand : inst.fixed_uses) add(operand.vreg);
  return out;
}

RegMask clobbers_of(const MInst& inst) {
  if (clobbers_caller_saved(inst.op)) return kCallerSaved;
  if (fixed_def_register(inst.op)) return bit(0);
  return 0;
}

std::vector<uint32_t> reverse_postorder(const MFunction& fn) {
  std::vector<uint32_t> order;
  std::vector<uint8_t> state(fn.blocks.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<std::pair<uint32_t, size_t>> stack{{0, 0}};
  state[0] = 1;
  while (!stack.empty()) {
    auto& [block, next] = stack.back();
    if (next < fn.blocks[block].succs.size()) {
      const uint32_t succ = fn.blocks[block].succs[next++];
      if (state[succ] == 0) {
        state[succ] = 1;
        stack.push_back({succ, 0});
      }
      continue;
    }
    state[block] = 2;
    order.push_back(block);
    stack.pop_back();
  }
  std::reverse(order.begin(), order.end());
  return order;
}

namespace {

// What flows out of `block` into `succ`: succ's live-in and the phi inputs
// coming from this edge.
void add_edge_uses(const MFunction& fn, uint32_t block, uint32_t succ, const VRegSet& succ_in, VRegSet& out) {
  out.merge(succ_in);
  const MBlock& s = fn.blocks[succ];
  for (size_t p = 0; p < s.preds.size(); ++p) {
    if (s.preds[p] != block) continue;
    for (const MPhi& phi : s.phis)
      if (p < phi.inputs.size() && !phi.inputs[p].is_constant()) out.add(phi.inputs[p].vreg);
  }
}

void step_backwards(const MInst& inst, VRegSet& live) {
  if (inst.def != kNoVReg) live.remove(inst.def);
  for (VReg v : uses_of(inst)) live.add(v);
}

}  // namespace

void walk_backwards(const MFunction& fn, uint32_t block, const VRegSet& live_out,
                    const std::function<void(size_t, const VRegSet&)>& visit) {
  const MBlock& b = fn.blocks[block];
  VRegSet live = live_out;
  visit(b.insts.size(), live);
  if (b.term != TermKind::Jump) step_backwards(b.branch, live);
  for (size_t i = b.insts.size(); i-- > 0;) {
    visit(i, live);
    step_backwards(b.insts[i], live);
  }
}

Liveness compute_liveness(const MFunction& fn) {
  const size_t n = fn.vregs.size();
  Liveness live;
  live.live_in.assign(fn.blocks.size(), VRegSet());
  live.live_out.assign(fn.blocks.size(), VRegSet());
  live.avoid.assign(n, 0);
  live.range.assign(n, 0);
  std::vector<uint32_t> order = reverse_postorder(fn);
  std::reverse(order.begin(), order.end());  // postorder: successors first, few rounds
  for (bool changed = true; changed;) {
    changed = false;
    for (uint32_t b : order) {
      VRegSet out;
      for (uint32_t s : fn.blocks[b].succs) add_edge_uses(fn, b, s, live.live_in[s], out);
      VRegSet in = out;
      const MBlock& block = fn.blocks[b];
      if (block.term != TermKind::Jump) step_backwards(block.branch, in);
      for (size_t i = block.insts.size(); i-- > 0;) step_backwards(block.insts[i], in);
      for (const MPhi& phi : block.phis) in.remove(phi.def);
      live.live_out[b] = std::move(out);
      changed |= live.live_in[b].merge(in);
    }
  }
  for (uint32_t b : order) {
    const MBlock& block = fn.blocks[b];
    walk_backwards(fn, b, live.live_out[b], [&](size_t i, const VRegSet& after) {
      const MInst& inst = i < block.insts.size() ? block.insts[i] : block.branch;
      if (i == block.insts.size() && block.term == TermKind::Jump) return;
      const std::vector<uint8_t> fixed = fixed_use_registers(inst);
      RegMask fixed_mask = 0;
      for (uint8_t r : fixed) fixed_mask |= bit(r);
      const RegMask clobbered = clobbers_of(inst);
      after.for_each([&](VReg v) {
        if (v == inst.def) return;
        ++live.range[v];
        RegMask avoid = clobbered | fixed_mask;
        for (size_t k = 0; k < inst.fixed_uses.size() && k < fixed.size(); ++k)
          if (inst.fixed_uses[k].vreg == v) avoid &= static_cast<RegMask>(~bit(fixed[k]));
        live.avoid[v] |= avoid | clobbered;  // a value it fills is still clobbered when the row writes it
      });
      // The row's own register operands must survive the copies into its
      // fixed registers (callx's target, cmpxchg's address and new value).
      for (VReg v : {inst.dst, inst.src}) {
        if (v == kNoVReg || v == MInst::kFp) continue;
        RegMask avoid = fixed_mask;
        for (size_t k = 0; k < inst.fixed_uses.size() && k < fixed.size(); ++k)
          if (inst.fixed_uses[k].vreg == v) avoid &= static_cast<RegMask>(~bit(fixed[k]));
        live.avoid[v] |= avoid;
      }
    });
  }
  return live;
}

}  // namespace bpfkit::ir::codegen
