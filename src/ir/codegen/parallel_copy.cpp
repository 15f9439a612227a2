// The parallel-copy sequentializer (see parallel_copy.hpp). The copies form
// a graph in which each destination has one source: trees hanging off
// disjoint cycles. A copy whose destination no pending copy reads can go
// now; once none can, only whole cycles remain, and saving one location of
// a cycle in the temporary turns it into a chain. Sizes are small (the
// phis of one edge, the arguments of one call), so the quadratic scans are
// cheaper than any index.
#include "parallel_copy.hpp"

#include <algorithm>
#include <cassert>

namespace bpfkit::ir::codegen {

std::string to_string(const Location& location) {
  std::string text = location.is_reg() ? "r" : "[r10";  // appended, not `"r" + ...`: GCC 12 warns wrongly on that
  text += std::to_string(location.index);
  if (location.is_stack()) text += "]";
  return text;
}

namespace {

bool is_read_by_pending(const std::vector<Move>& pending, Location location) {
  return std::any_of(pending.begin(), pending.end(), [&](const Move& m) { return m.src == location; });
}

// Emits, in order, every pending copy whose destination no other pending
// copy still reads; stops when all left are blocked (cycles only).
void emit_ready(std::vector<Move>& pending, std::vector<Move>& out) {
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (is_read_by_pending(pending, pending[i].dst)) continue;
      out.push_back(pending[i]);
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      progress = true;
      break;  // restart from the front: the order stays the input's where it can
    }
  }
}

}  // namespace

std::vector<Move> sequentialize(std::span<const Move> copies, Location temp) {
  std::vector<Move> pending, constants, out;
  for (const Move& m : copies) {
    assert(m.dst != temp && (m.from_constant || m.src != temp));
    if (m.from_constant)
      constants.push_back(m);
    else if (m.dst != m.src)
      pending.push_back(m);
  }
  while (true) {
    emit_ready(pending, out);
    if (pending.empty()) break;
    // Every pending destination is read by another pending copy: the first
    // one's destination is on a cycle. Save it and let its readers read the
    // temporary instead.
    const Location saved = pending.front().dst;
    out.push_back(Move::copy(temp, saved));
    for (Move& m : pending)
      if (m.src == saved) m.src = temp;
  }
  out.insert(out.end(), constants.begin(), constants.end());
  return out;
}

bool needs_temporary(std::span<const Move> copies) {
  const Location unused = Location::stack(1);  // never a real slot: offsets are negative
  for (const Move& m : sequentialize(copies, unused))
    if (m.dst == unused) return true;
  return false;
}

}  // namespace bpfkit::ir::codegen
