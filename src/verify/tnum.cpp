// Tracked numbers: each bit known (value) or unknown (mask), with the
// kernel's transfer functions (kernel/bpf/tnum.c).
#include <cstdio>

#include "internal.hpp"

namespace bpfkit::verify::detail {

Tnum tnum_range(uint64_t min, uint64_t max) {
  const uint64_t chi = min ^ max;
  const int bits = 64 - std::countl_zero(chi);
  if (bits > 63) return kTnumUnknown;
  const uint64_t delta = (uint64_t{1} << bits) - 1;
  return {min & ~delta, delta};
}

Tnum tnum_add(Tnum a, Tnum b) {
  const uint64_t sm = a.mask + b.mask, sv = a.value + b.value;
  const uint64_t chi = (sm + sv) ^ sv;
  const uint64_t mu = chi | a.mask | b.mask;
  return {sv & ~mu, mu};
}

Tnum tnum_sub(Tnum a, Tnum b) {
  const uint64_t dv = a.value - b.value;
  const uint64_t chi = (dv + a.mask) ^ (dv - b.mask);
  const uint64_t mu = chi | a.mask | b.mask;
  return {dv & ~mu, mu};
}

Tnum tnum_and(Tnum a, Tnum b) {
  const uint64_t v = a.value & b.value;
  return {v, (a.value | a.mask) & (b.value | b.mask) & ~v};
}

Tnum tnum_or(Tnum a, Tnum b) {
  const uint64_t v = a.value | b.value;
  return {v, (a.mask | b.mask) & ~v};
}

Tnum tnum_xor(Tnum a, Tnum b) {
  const uint64_t mu = a.mask | b.mask;
  return {(a.value ^ b.value) & ~mu, mu};
}

Tnum tnum_mul(Tnum a, Tnum b) {
  const uint64_t product = a.value * b.value;
  Tnum unknown_part = tnum_const(0);
  while (a.value != 0 || a.mask != 0) {
    if (a.value & 1)
      unknown_part = tnum_add(unknown_part, Tnum{0, b.mask});
    else if (a.mask & 1)
      unknown_part = tnum_add(unknown_part, Tnum{0, b.value | b.mask});
    a = tnum_rshift(a, 1);
    b = tnum_lshift(b, 1);
  }
  return tnum_add(tnum_const(product), unknown_part);
}

Tnum tnum_lshift(Tnum a, unsigned shift) { return {a.value << shift, a.mask << shift}; }
Tnum tnum_rshift(Tnum a, unsigned shift) { return {a.value >> shift, a.mask >> shift}; }

Tnum tnum_arshift(Tnum a, unsigned shift, unsigned width) {
  if (width == 32)
    return {static_cast<uint32_t>(static_cast<int32_t>(a.value) >> shift),
            static_cast<uint32_t>(static_cast<int32_t>(a.mask) >> shift)};
  return {static_cast<uint64_t>(static_cast<int64_t>(a.value) >> shift),
          static_cast<uint64_t>(static_cast<int64_t>(a.mask) >> shift)};
}

std::optional<Tnum> tnum_intersect(Tnum a, Tnum b) {
  if ((a.value ^ b.value) & ~(a.mask | b.mask)) return std::nullopt;  // a known bit differs
  const uint64_t mu = a.mask & b.mask;
  return Tnum{(a.value | b.value) & ~mu, mu};
}

Tnum tnum_cast(Tnum a, unsigned bytes) {
  if (bytes >= 8) return a;
  const uint64_t keep = (uint64_t{1} << (bytes * 8)) - 1;
  return {a.value & keep, a.mask & keep};
}

Tnum tnum_bswap(Tnum a, unsigned bytes) {
  const Tnum low = tnum_cast(a, bytes);
  const unsigned drop = 64 - bytes * 8;  // the swapped low bytes land in the top ones
  return {__builtin_bswap64(low.value) >> drop, __builtin_bswap64(low.mask) >> drop};
}

bool tnum_in(Tnum outer, Tnum inner) {
  if (inner.mask & ~outer.mask) return false;
  return outer.value == (inner.value & ~outer.mask);
}

Tnum tnum_with_subreg(Tnum a, Tnum subreg) {
  const Tnum high = tnum_lshift(tnum_rshift(a, 32), 32);
  return tnum_or(high, tnum_subreg(subreg));
}

std::string tnum_string(Tnum a) {
  char text[48];
  std::snprintf(text, sizeof text, "(%#llx; %#llx)", static_cast<unsigned long long>(a.value),
                static_cast<unsigned long long>(a.mask));
  return text;
}

}  // namespace bpfkit::verify::detail
