// The symbolic values of loop versioning (loop_version.cpp for loops of one
// block, loop_region.cpp for loops of several): each register as (an
// invariant register's value) + (an induction variable's value at the
// iteration's start) + a constant, and what each instruction makes of them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "bpfkit/isa.hpp"

namespace bpfkit::jit::loop {

struct Affine {
  bool known = false;
  int inv = -1;  // + this invariant register's value
  int iv = -1;   // + this induction variable's value at the iteration's start
  int64_t c = 0;
  bool operator==(const Affine&) const = default;
};
using Values = std::array<Affine, isa::kRegisterCount>;

inline Affine constant(int64_t value) { return {true, -1, -1, value}; }

inline Affine sum(const Affine& a, const Affine& b) {
  Affine out;
  if (!a.known || !b.known || (a.inv >= 0 && b.inv >= 0) || (a.iv >= 0 && b.iv >= 0) ||
      __builtin_add_overflow(a.c, b.c, &out.c))
    return {};
  out.known = true;
  out.inv = std::max(a.inv, b.inv);
  out.iv = std::max(a.iv, b.iv);
  return out;
}

// Where paths meet: a value both agree on, else unknown.
inline Affine join(const Affine& a, const Affine& b) { return a == b ? a : Affine{}; }

inline bool fits_int32(int64_t value) { return value >= INT32_MIN && value <= INT32_MAX; }

// a - b as a 32-bit immediate.
inline bool difference_fits_int32(int64_t a, int64_t b) {
  int64_t difference = 0;
  return !__builtin_sub_overflow(a, b, &difference) && fits_int32(difference);
}

// An induction variable's change per iteration: a register's value or a constant.
struct Step {
  int reg = -1;
  int64_t c = 0;
  bool operator==(const Step&) const = default;
};
using Steps = std::array<std::optional<Step>, isa::kRegisterCount>;

// A step the entry check can use: a nonzero 32-bit constant, or one register.
inline bool usable_step(const std::optional<Step>& step) {
  return step && (step->reg < 0 ? step->c != 0 && fits_int32(step->c) : step->c == 0);
}

// A load, store or atomic through an affine address (the base's value plus the offset).
struct Access {
  uint32_t pc;
  Affine address;
  unsigned size;
  bool write;
};

// The values after the instruction at pc (moves, 64-bit additions and
// subtractions of constants, lddw; anything else it writes is unknown).
void advance(const isa::Program& program, const isa::Semantics& sem, isa::RegSet written, uint32_t pc, Values& value);

}  // namespace bpfkit::jit::loop
