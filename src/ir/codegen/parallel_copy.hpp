// Out-of-SSA's core: a set of copies that happen at once (the phis of an
// edge, the arguments of a call, the return value) turned into an ordered
// list of plain moves. Cycles are broken through one temporary location, a
// free register or a stack slot; never by an XOR swap, which the kernel's
// verifier refuses on pointers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bpfkit::ir::codegen {

// Where a value lives between instructions: a register r0..r10, or the
// 8-byte stack slot at r10 + offset (offset negative, a multiple of 8, so the
// verifier keeps a pointer's type through a spill and a fill).
struct Location {
  enum class Kind : uint8_t { Reg, Stack };
  Kind kind = Kind::Reg;
  int32_t index = 0;  // register number, or frame offset

  static constexpr Location reg(int32_t r) { return {Kind::Reg, r}; }
  static constexpr Location stack(int32_t offset) { return {Kind::Stack, offset}; }
  constexpr bool is_reg() const { return kind == Kind::Reg; }
  constexpr bool is_stack() const { return kind == Kind::Stack; }
  friend constexpr bool operator==(const Location&, const Location&) = default;
  friend constexpr auto operator<=>(const Location&, const Location&) = default;
};

std::string to_string(const Location& location);

// One copy: dst receives either the value of location `src` or the 64-bit
// constant `value` (when from_constant).
struct Move {
  Location dst;
  Location src;
  uint64_t value = 0;
  bool from_constant = false;

  static Move copy(Location dst, Location src) { return {dst, src, 0, false}; }
  static Move constant(Location dst, uint64_t value) { return {dst, {}, value, true}; }
  friend bool operator==(const Move&, const Move&) = default;
};

// Orders the parallel copy `copies` (destinations distinct) into moves that,
// run one after another, leave every destination with the value its source
// had before any of them ran. Copies to themselves vanish; constants go
// last; copies whose destination nobody still reads go first, and a cycle
// is broken by saving one of its locations in `temp` (which must be neither
// a destination nor a source). The result has the fewest moves possible:
// one per copy, plus one per cycle. Deterministic: the same input gives the
// same order.
std::vector<Move> sequentialize(std::span<const Move> copies, Location temp);

// Whether the copies need a temporary (they contain a cycle of length >= 2).
bool needs_temporary(std::span<const Move> copies);

}  // namespace bpfkit::ir::codegen
