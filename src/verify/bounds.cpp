// Scalars: the constructors, the kernel's reg_bounds_sync (the tnum and the
// signed and unsigned 64- and 32-bit bounds refined against each other), and
// the ALU on abstract scalars (adjust_scalar_min_max_vals).
#include <algorithm>

#include "internal.hpp"

namespace bpfkit::verify::detail {
namespace {

using isa::Operation;

constexpr int64_t kS64Min = std::numeric_limits<int64_t>::min(), kS64Max = std::numeric_limits<int64_t>::max();
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr int64_t kS32Min = std::numeric_limits<int32_t>::min(), kS32Max = std::numeric_limits<int32_t>::max();

uint64_t umax_of(unsigned width) { return width == 64 ? kU64Max : kU32Max; }
int64_t smin_of(unsigned width) { return width == 64 ? kS64Min : kS32Min; }
int64_t smax_of(unsigned width) { return width == 64 ? kS64Max : kS32Max; }

Tnum cast_to(Tnum t, unsigned width) { return width == 64 ? t : tnum_subreg(t); }

void update_bounds(Reg& r) {
  const Tnum sub = tnum_subreg(r.var);
  r.s32min = std::max(r.s32min, static_cast<int32_t>(sub.value | (sub.mask & 0x80000000u)));
  r.s32max = std::min(r.s32max, static_cast<int32_t>(sub.value | (sub.mask & 0x7fffffffu)));
  r.u32min = std::max(r.u32min, static_cast<uint32_t>(sub.value));
  r.u32max = std::min(r.u32max, static_cast<uint32_t>(sub.value | sub.mask));
  const uint64_t sign = uint64_t{1} << 63;
  r.smin = std::max(r.smin, static_cast<int64_t>(r.var.value | (r.var.mask & sign)));
  r.smax = std::min(r.smax, static_cast<int64_t>(r.var.value | (r.var.mask & ~sign)));
  r.umin = std::max(r.umin, r.var.value);
  r.umax = std::min(r.umax, r.var.value | r.var.mask);
}

void deduce_bounds(Reg& r) {
  // Signed and unsigned ranges of one width, where they do not cross a sign boundary.
  if (static_cast<int32_t>(r.u32min) <= static_cast<int32_t>(r.u32max)) {
    r.s32min = std::max(r.s32min, static_cast<int32_t>(r.u32min));
    r.s32max = std::min(r.s32max, static_cast<int32_t>(r.u32max));
  }
  if (static_cast<uint32_t>(r.s32min) <= static_cast<uint32_t>(r.s32max)) {
    r.u32min = std::max(r.u32min, static_cast<uint32_t>(r.s32min));
    r.u32max = std::min(r.u32max, static_cast<uint32_t>(r.s32max));
  }
  if (static_cast<int64_t>(r.umin) <= static_cast<int64_t>(r.umax)) {
    r.smin = std::max(r.smin, static_cast<int64_t>(r.umin));
    r.smax = std::min(r.smax, static_cast<int64_t>(r.umax));
  }
  if (static_cast<uint64_t>(r.smin) <= static_cast<uint64_t>(r.smax)) {
    r.umin = std::max(r.umin, static_cast<uint64_t>(r.smin));
    r.umax = std::min(r.umax, static_cast<uint64_t>(r.smax));
  }
  // 64 -> 32: with the upper half fixed, the lower half moves within one range.
  if ((r.umin >> 32) == (r.umax >> 32)) {
    r.u32min = std::max(r.u32min, static_cast<uint32_t>(r.umin));
    r.u32max = std::min(r.u32max, static_cast<uint32_t>(r.umax));
    if (static_cast<int32_t>(r.umin) <= static_cast<int32_t>(r.umax)) {
      r.s32min = std::max(r.s32min, static_cast<int32_t>(r.umin));
      r.s32max = std::min(r.s32max, static_cast<int32_t>(r.umax));
    }
  }
  if ((static_cast<uint64_t>(r.smin) >> 32) == (static_cast<uint64_t>(r.smax) >> 32)) {
    if (static_cast<uint32_t>(r.smin) <= static_cast<uint32_t>(r.smax)) {
      r.u32min = std::max(r.u32min, static_cast<uint32_t>(r.smin));
      r.u32max = std::min(r.u32max, static_cast<uint32_t>(r.smax));
    }
    if (static_cast<int32_t>(r.smin) <= static_cast<int32_t>(r.smax)) {
      r.s32min = std::max(r.s32min, static_cast<int32_t>(r.smin));
      r.s32max = std::min(r.s32max, static_cast<int32_t>(r.smax));
    }
  }
  // 32 -> 64: the same when the upper half is fixed; a sign-extended 32-bit value.
  if ((r.umin >> 32) == (r.umax >> 32)) {
    const uint64_t high = r.umin & ~kU32Max;
    r.umin = std::max(r.umin, high | r.u32min);
    r.umax = std::min(r.umax, high | r.u32max);
  }
  if ((static_cast<uint64_t>(r.smin) >> 32) == (static_cast<uint64_t>(r.smax) >> 32)) {
    const uint64_t high = static_cast<uint64_t>(r.smin) & ~kU32Max;
    r.smin = std::max(r.smin, static_cast<int64_t>(high | r.u32min));
    r.smax = std::min(r.smax, static_cast<int64_t>(high | r.u32max));
  }
  if (r.smin >= kS32Min && r.smax <= kS32Max) {
    r.smin = std::max(r.smin, int64_t{r.s32min});
    r.smax = std::min(r.smax, int64_t{r.s32max});
  }
}

bool empty(const Reg& r) { return r.umin > r.umax || r.smin > r.smax || r.u32min > r.u32max || r.s32min > r.s32max; }

bool bound_offset(Reg& r) {
  auto var = tnum_intersect(r.var, tnum_range(r.umin, r.umax));
  if (!var) return false;
  auto sub = tnum_intersect(tnum_subreg(*var), tnum_range(r.u32min, r.u32max));
  if (!sub) return false;
  r.var = tnum_with_subreg(*var, *sub);
  return true;
}

// ---- The ALU on one width's view --------------------------------------------------

View full(unsigned width) { return {cast_to(kTnumUnknown, width), smin_of(width), smax_of(width), 0, umax_of(width)}; }

// Signed bounds of a + b or a - b, or the full range on overflow.
void signed_range(View& r, __int128 low, __int128 high, unsigned width) {
  if (low < smin_of(width) || high > smax_of(width)) {
    r.smin = smin_of(width);
    r.smax = smax_of(width);
  } else {
    r.smin = static_cast<int64_t>(low);
    r.smax = static_cast<int64_t>(high);
  }
}

void unsigned_range(View& r, unsigned __int128 low, unsigned __int128 high, unsigned width) {
  if (high > umax_of(width)) {
    r.umin = 0;
    r.umax = umax_of(width);
  } else {
    r.umin = static_cast<uint64_t>(low);
    r.umax = static_cast<uint64_t>(high);
  }
}

// Signed bounds equal to the unsigned ones when both operands are non-negative.
void signed_from_unsigned(View& r, const View& a, const View& b, unsigned width) {
  if (a.smin >= 0 && b.smin >= 0 && r.umax <= static_cast<uint64_t>(smax_of(width))) {
    r.smin = static_cast<int64_t>(r.umin);
    r.smax = static_cast<int64_t>(r.umax);
  }
}

View alu_view(Operation operation, const View& a, const View& b, unsigned width) {
  View r = full(width);
  const bool b_const = tnum_is_const(b.var);
  switch (operation) {
    case Operation::Add:
      r.var = cast_to(tnum_add(a.var, b.var), width);
      signed_range(r, __int128{a.smin} + b.smin, __int128{a.smax} + b.smax, width);
      unsigned_range(r, static_cast<unsigned __int128>(a.umin) + b.umin,
                     static_cast<unsigned __int128>(a.umax) + b.umax, width);
      break;
    case Operation::Sub:
      r.var = cast_to(tnum_sub(a.var, b.var), width);
      signed_range(r, __int128{a.smin} - b.smax, __int128{a.smax} - b.smin, width);
      if (a.umin >= b.umax) {
        r.umin = a.umin - b.umax;
        r.umax = a.umax - b.umin;
      }
      break;
    case Operation::Mul:
      r.var = cast_to(tnum_mul(a.var, b.var), width);
      unsigned_range(r, static_cast<unsigned __int128>(a.umin) * b.umin,
                     static_cast<unsigned __int128>(a.umax) * b.umax, width);
      signed_from_unsigned(r, a, b, width);
      break;
    case Operation::And:
      r.var = tnum_and(a.var, b.var);
      r.umin = r.var.value;
      r.umax = std::min(a.umax, b.umax);
      signed_from_unsigned(r, a, b, width);
      break;
    case Operation::Or:
      r.var = tnum_or(a.var, b.var);
      r.umin = std::max(a.umin, b.umin);
      r.umax = r.var.value | r.var.mask;
      signed_from_unsigned(r, a, b, width);
      break;
    case Operation::Xor:
      r.var = tnum_xor(a.var, b.var);
      r.umin = r.var.value;
      r.umax = r.var.value | r.var.mask;
      signed_from_unsigned(r, a, b, width);
      break;
    case Operation::Lsh:
      if (b.umax >= width) break;
      if (b_const) r.var = cast_to(tnum_lshift(a.var, static_cast<unsigned>(b.umin)), width);
      if (a.umax <= (umax_of(width) >> b.umax)) {
        r.umin = a.umin << b.umin;
        r.umax = a.umax << b.umax;
      }
      break;
    case Operation::Rsh:
      if (b.umax >= width) break;
      if (b_const) r.var = tnum_rshift(a.var, static_cast<unsigned>(b.umin));
      r.umin = a.umin >> b.umax;
      r.umax = a.umax >> b.umin;
      break;
    case Operation::Arsh:
      if (!b_const || b.umin >= width) break;
      r.var = cast_to(tnum_arshift(a.var, static_cast<unsigned>(b.umin), width), width);
      r.smin = a.smin >> b.umin;
      r.smax = a.smax >> b.umin;
      break;
    case Operation::Div:  // x / 0 = 0
      if (b.umin > 0) {
        r.umin = a.umin / b.umax;
        r.umax = a.umax / b.umin;
      } else {
        r.umax = a.umax;
      }
      break;
    case Operation::Mod:  // x % 0 = x
      r.umax = b.umin > 0 ? std::min(a.umax, b.umax - 1) : a.umax;
      break;
    default: break;  // signed division and remainder: unknown
  }
  return r;
}

// The concrete operation, as Linux defines it (the ALU rows the verifier
// folds: computable() admits only operations that cannot trap).
uint64_t concrete(Operation operation, uint64_t a, uint64_t b, unsigned width) {
  isa::Semantics linux_row;
  linux_row.operation = operation;
  linux_row.width = static_cast<uint8_t>(width);
  linux_row.result = width == 32 ? isa::Extension::Zero : isa::Extension::None;
  linux_row.division = isa::DivisionPolicy::Defined;
  return isa::evaluate(linux_row, a, b).value_or(0);
}

// Operations whose low 32 result bits depend only on the operands' low 32 bits.
bool low_half_closed(Operation operation) {
  switch (operation) {
    case Operation::Add:
    case Operation::Sub:
    case Operation::Mul:
    case Operation::And:
    case Operation::Or:
    case Operation::Xor: return true;
    default: return false;
  }
}

}  // namespace

Reg unknown_scalar() {
  Reg reg;
  reg.type = RegType::Scalar;
  return reg;
}

Reg const_scalar(uint64_t value) {
  Reg reg = unknown_scalar();
  reg.var = tnum_const(value);
  reg.smin = reg.smax = static_cast<int64_t>(value);
  reg.umin = reg.umax = value;
  reg.s32min = reg.s32max = static_cast<int32_t>(value);
  reg.u32min = reg.u32max = static_cast<uint32_t>(value);
  return reg;
}

Reg not_init() { return Reg{}; }

Reg pointer(RegType type, int32_t off) {
  Reg reg = const_scalar(0);
  reg.type = type;
  reg.off = off;
  return reg;
}

Reg sized_scalar(unsigned bytes, bool sign) {
  Reg reg = unknown_scalar();
  if (bytes >= 8) return reg;
  const unsigned bits = bytes * 8;
  if (sign) {
    reg.smin = -(int64_t{1} << (bits - 1));
    reg.smax = (int64_t{1} << (bits - 1)) - 1;
  } else {
    reg.umax = (uint64_t{1} << bits) - 1;
    reg.var = tnum_range(0, reg.umax);
  }
  sync_bounds(reg);
  return reg;
}

View view_of(const Reg& reg, unsigned width) {
  if (width == 64) return {reg.var, reg.smin, reg.smax, reg.umin, reg.umax};
  return {tnum_subreg(reg.var), reg.s32min, reg.s32max, reg.u32min, reg.u32max};
}

View full_view(unsigned width) { return full(width); }

bool set_view(Reg& reg, const View& view, unsigned width) {
  if (width == 64) {
    auto var = tnum_intersect(reg.var, view.var);
    if (!var) return false;
    reg.var = *var;
    reg.smin = std::max(reg.smin, view.smin);
    reg.smax = std::min(reg.smax, view.smax);
    reg.umin = std::max(reg.umin, view.umin);
    reg.umax = std::min(reg.umax, view.umax);
  } else {
    auto sub = tnum_intersect(tnum_subreg(reg.var), tnum_subreg(view.var));
    if (!sub) return false;
    reg.var = tnum_with_subreg(reg.var, *sub);
    reg.s32min = std::max(reg.s32min, static_cast<int32_t>(std::max(view.smin, kS32Min)));
    reg.s32max = std::min(reg.s32max, static_cast<int32_t>(std::min(view.smax, kS32Max)));
    reg.u32min = std::max(reg.u32min, static_cast<uint32_t>(std::min(view.umin, kU32Max)));
    reg.u32max = std::min(reg.u32max, static_cast<uint32_t>(std::min(view.umax, kU32Max)));
  }
  return sync_bounds(reg);
}

// A known value whose bounds are all that value: nothing to refine (each
// step below would clamp a bound to itself). The common case, taken first.
static bool is_exact_constant(const Reg& r) {
  const uint64_t v = r.var.value;
  return r.var.mask == 0 && r.umin == v && r.umax == v && r.smin == static_cast<int64_t>(v) &&
         r.smax == static_cast<int64_t>(v) && r.u32min == static_cast<uint32_t>(v) &&
         r.u32max == static_cast<uint32_t>(v) && r.s32min == static_cast<int32_t>(v) &&
         r.s32max == static_cast<int32_t>(v);
}

bool sync_bounds(Reg& reg) {
  if (is_exact_constant(reg)) return true;
  for (int round = 0; round < 2; ++round) {
    if (empty(reg)) return false;
    update_bounds(reg);
    deduce_bounds(reg);
    if (empty(reg) || !bound_offset(reg)) return false;
    update_bounds(reg);
  }
  return !empty(reg);
}

void zext32(Reg& reg) {
  reg.var = tnum_subreg(reg.var);
  reg.umin = reg.u32min;
  reg.umax = reg.u32max;
  reg.smin = reg.u32min;
  reg.smax = reg.u32max;
  if (!sync_bounds(reg)) reg = sized_scalar(4);
}

Reg truncated(const Reg& reg, unsigned bytes) {
  if (bytes >= 8) return reg;
  if (reg.is_const()) return const_scalar(tnum_cast(reg.var, bytes).value);
  Reg out = sized_scalar(bytes);
  if (auto var = tnum_intersect(out.var, tnum_cast(reg.var, bytes))) out.var = *var;
  if (!sync_bounds(out)) return sized_scalar(bytes);
  return out;
}

// The kernel's is_safe_to_compute_dst_reg_range: division, remainder and
// shifts by anything but a constant below the width give an unknown 64-bit
// scalar, even from constants (never more precise than the kernel: a
// branch we would know dead, it explores).
bool computable(Operation operation, const Reg& src, unsigned width) {
  switch (operation) {
    case Operation::Add:
    case Operation::Sub:
    case Operation::And:
    case Operation::Xor:
    case Operation::Or:
    case Operation::Mul: return true;
    case Operation::Lsh:
    case Operation::Rsh:
    case Operation::Arsh: {
      const View amount = view_of(src, width);
      return tnum_is_const(amount.var) && amount.umin == amount.umax && amount.umax < width;
    }
    default: return false;
  }
}

Reg scalar_alu(Operation operation, const Reg& dst, const Reg& src, unsigned width) {
  if (!computable(operation, src, width)) return unknown_scalar();
  if (dst.is_const() && src.is_const()) return const_scalar(concrete(operation, dst.var.value, src.var.value, width));
  Reg out = unknown_scalar();
  const View result = alu_view(operation, view_of(dst, width), view_of(src, width), width);
  if (width == 32) {
    if (!set_view(out, result, 32)) return sized_scalar(4);
    zext32(out);
    return out;
  }
  if (!set_view(out, result, 64)) return unknown_scalar();
  if (low_half_closed(operation)) {
    const View low = alu_view(operation, view_of(dst, 32), view_of(src, 32), 32);
    Reg refined = out;
    if (set_view(refined, low, 32)) out = refined;
  }
  return out;
}

}  // namespace bpfkit::verify::detail
