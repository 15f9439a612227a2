// Conditional jumps on scalars: what `a cond b` (or its negation) says about
// both operands, in 64 or 32 bits, as the kernel's regs_refine_cond_op does.
// A condition that leaves no value makes its edge dead.
#include <algorithm>
#include <bit>

#include "internal.hpp"

namespace bpfkit::verify::detail {
namespace {

using isa::Condition;

int64_t smin_of(unsigned width) { return width == 64 ? std::numeric_limits<int64_t>::min() : INT32_MIN; }
int64_t smax_of(unsigned width) { return width == 64 ? std::numeric_limits<int64_t>::max() : INT32_MAX; }
uint64_t umax_of(unsigned width) { return width == 64 ? ~uint64_t{0} : UINT32_MAX; }

bool refine_eq(View& x, View& y) {
  auto var = tnum_intersect(x.var, y.var);
  if (!var) return false;
  x.var = y.var = *var;
  x.smin = y.smin = std::max(x.smin, y.smin);
  x.smax = y.smax = std::min(x.smax, y.smax);
  x.umin = y.umin = std::max(x.umin, y.umin);
  x.umax = y.umax = std::min(x.umax, y.umax);
  return x.smin <= x.smax && x.umin <= x.umax;
}

// x != c: a bound equal to c moves by one.
bool refine_ne_const(View& x, uint64_t c, unsigned width) {
  if (tnum_is_const(x.var)) return x.var.value != c;
  const int64_t sc = width == 64 ? static_cast<int64_t>(c) : static_cast<int32_t>(c);
  if (x.umin == c) ++x.umin;
  if (x.umax == c) --x.umax;
  if (x.smin == sc) ++x.smin;
  if (x.smax == sc) --x.smax;
  return x.umin <= x.umax && x.smin <= x.smax;
}

bool refine_unsigned(View& x, View& y, bool strict) {  // x > y, or x >= y
  const uint64_t step = strict ? 1 : 0;
  if (strict && (y.umin == ~uint64_t{0} || x.umax == 0)) return false;
  x.umin = std::max(x.umin, y.umin + step);
  y.umax = std::min(y.umax, x.umax - step);
  return x.umin <= x.umax && y.umin <= y.umax;
}

bool refine_signed(View& x, View& y, bool strict, unsigned width) {  // x s> y, or x s>= y
  const int64_t step = strict ? 1 : 0;
  if (strict && (y.smin == smax_of(width) || x.smax == smin_of(width))) return false;
  x.smin = std::max(x.smin, y.smin + step);
  y.smax = std::min(y.smax, x.smax - step);
  return x.smin <= x.smax && y.smin <= y.smax;
}

// x & y != 0 (set) or == 0 (clear), with y a constant.
bool refine_set(View& x, const View& y, bool set, unsigned width) {
  if (!tnum_is_const(y.var)) return true;
  const uint64_t c = y.var.value & umax_of(width);
  if (set) {
    if (((x.var.value | x.var.mask) & c) == 0) return false;
    if (std::has_single_bit(c)) x.var = tnum_or(x.var, tnum_const(c));
    return true;
  }
  if (x.var.value & c) return false;
  x.var = tnum_and(x.var, tnum_const(~c));
  return true;
}

}  // namespace

Condition negate(Condition cond) {
  const Condition negated = isa::negated(cond);
  return negated == Condition::None ? cond : negated;  // Set has no negation in the enum: narrow() takes `taken`
}

Condition flip(Condition cond) { return isa::mirrored(cond); }

bool narrow(Reg& a, Reg& b, Condition cond, unsigned width, bool taken) {
  View x = view_of(a, width), y = view_of(b, width);
  bool possible = true;
  if (cond == Condition::Set) {
    possible = refine_set(x, y, taken, width) && refine_set(y, x, taken, width);
  } else {
    if (!taken) cond = negate(cond);
    switch (cond) {
      case Condition::Eq: possible = refine_eq(x, y); break;
      case Condition::Ne:
        if (tnum_is_const(y.var)) possible = refine_ne_const(x, y.var.value, width);
        if (possible && tnum_is_const(x.var)) possible = refine_ne_const(y, x.var.value, width);
        break;
      case Condition::Gt: possible = refine_unsigned(x, y, true); break;
      case Condition::Ge: possible = refine_unsigned(x, y, false); break;
      case Condition::Lt: possible = refine_unsigned(y, x, true); break;
      case Condition::Le: possible = refine_unsigned(y, x, false); break;
      case Condition::SGt: possible = refine_signed(x, y, true, width); break;
      case Condition::SGe: possible = refine_signed(x, y, false, width); break;
      case Condition::SLt: possible = refine_signed(y, x, true, width); break;
      case Condition::SLe: possible = refine_signed(y, x, false, width); break;
      default: break;
    }
  }
  return possible && set_view(a, x, width) && set_view(b, y, width);
}

}  // namespace bpfkit::verify::detail
