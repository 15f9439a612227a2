// Liveness of virtual registers on the machine IR, and what it implies for
// the allocator: which registers each value must avoid because an
// instruction it lives across clobbers them (calls: r0-r5) or fills them
// (a call's arguments, cmpxchg's r0, a packet load's r6).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "mir.hpp"

namespace bpfkit::ir::codegen {

// A set of virtual registers, as a sorted list: the sets liveness keeps
// (live in and out of every block, live after every instruction) hold the
// few values live at one point, so a bit per value of the function would
// make each of them, and each walk over one, cost the function's size.
class VRegSet {
 public:
  VRegSet() = default;
  bool has(VReg v) const { return std::binary_search(members_.begin(), members_.end(), v); }
  void add(VReg v) {
    const auto it = std::lower_bound(members_.begin(), members_.end(), v);
    if (it == members_.end() || *it != v) members_.insert(it, v);
  }
  void remove(VReg v) {
    const auto it = std::lower_bound(members_.begin(), members_.end(), v);
    if (it != members_.end() && *it == v) members_.erase(it);
  }
  // this |= other; true if this grew.
  bool merge(const VRegSet& other);
  // In increasing order.
  template <class F>
  void for_each(F&& f) const {
    for (VReg v : members_) f(v);
  }

 private:
  std::vector<VReg> members_;
};

// Registers as a 16-bit mask (bit n = rn).
using RegMask = uint16_t;
inline constexpr RegMask kCallerSaved = 0x3f;  // r0-r5
constexpr RegMask bit(unsigned reg) { return static_cast<RegMask>(1u << reg); }

// The values an instruction reads (dst, src, fixed uses; never r10).
std::vector<VReg> uses_of(const MInst& inst);
// Registers the row overwrites besides its def (r0-r5 for calls and packet
// loads, r0 for cmpxchg).
RegMask clobbers_of(const MInst& inst);

struct Liveness {
  std::vector<VRegSet> live_in, live_out;  // per block; live_in excludes the block's phis
  std::vector<RegMask> avoid;              // per vreg
  std::vector<uint32_t> range;             // per vreg: instructions it is live across (spill choice)
};

Liveness compute_liveness(const MFunction& fn);

// Blocks reachable from the entry in reverse postorder (iterative).
std::vector<uint32_t> reverse_postorder(const MFunction& fn);

// Walks a block backwards: for each instruction (the terminator as index
// insts.size()), `visit(index, live_after)`; live_after holds the values
// live just after it.
void walk_backwards(const MFunction& fn, uint32_t block, const VRegSet& live_out,
                    const std::function<void(size_t, const VRegSet&)>& visit);

}  // namespace bpfkit::ir::codegen
