// The arithmetic of the ALU rows as one function of the semantics table:
// what the interpreters compute, for the consumers that fold or check values
// without running a program (the IR's constant folder, the verifier's
// constant operands, differential tests).
#include <limits>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {

namespace {

template <class U>
U signed_quotient(U d, U s) {  // Linux: x / 0 = 0, MIN / -1 = MIN
  using S = std::make_signed_t<U>;
  if (s == 0) return 0;
  if (static_cast<S>(s) == -1) return U{0} - d;
  return static_cast<U>(static_cast<S>(d) / static_cast<S>(s));
}

template <class U>
U signed_remainder(U d, U s) {  // Linux: x % 0 = x, MIN % -1 = 0
  using S = std::make_signed_t<U>;
  if (s == 0) return d;
  if (static_cast<S>(s) == -1) return 0;
  return static_cast<U>(static_cast<S>(d) % static_cast<S>(s));
}

// Whether the dialect traps on this division: sBPF's zero divisor, and its
// signed MIN / -1.
template <class U>
bool division_traps(const Semantics& s, U d, U divisor) {
  using S = std::make_signed_t<U>;
  if (s.division == DivisionPolicy::Trap || s.division == DivisionPolicy::TrapOverflow)
    if (divisor == 0) return true;
  return s.division == DivisionPolicy::TrapOverflow && static_cast<S>(divisor) == -1 &&
         static_cast<S>(d) == std::numeric_limits<S>::min();
}

// The two-operand operations at one width (U is uint32_t or uint64_t).
template <class U>
std::optional<U> binary(const Semantics& s, U d, U v) {
  using S = std::make_signed_t<U>;
  constexpr U shift_mask = sizeof(U) * 8 - 1;
  if (s.swapped) std::swap(d, v);
  if (division_traps(s, d, v)) return std::nullopt;
  switch (s.operation) {
    case Operation::Add: return static_cast<U>(d + v);
    case Operation::Sub: return static_cast<U>(d - v);
    case Operation::Mul: return static_cast<U>(d * v);
    case Operation::Div: return v ? static_cast<U>(d / v) : U{0};
    case Operation::Mod: return v ? static_cast<U>(d % v) : d;
    case Operation::SDiv: return signed_quotient(d, v);
    case Operation::SMod: return signed_remainder(d, v);
    case Operation::Or: return static_cast<U>(d | v);
    case Operation::And: return static_cast<U>(d & v);
    case Operation::Xor: return static_cast<U>(d ^ v);
    case Operation::Lsh: return static_cast<U>(d << (v & shift_mask));
    case Operation::Rsh: return static_cast<U>(d >> (v & shift_mask));
    case Operation::Arsh: return static_cast<U>(static_cast<S>(d) >> (v & shift_mask));
    case Operation::Mov: return v;
    case Operation::Neg: return static_cast<U>(U{0} - d);
    default: return std::nullopt;
  }
}

uint64_t high_product(bool is_signed, uint64_t d, uint64_t v) {
  if (is_signed)
    return static_cast<uint64_t>(
        static_cast<__int128>(static_cast<int64_t>(d)) * static_cast<__int128>(static_cast<int64_t>(v)) >> 64);
  return static_cast<uint64_t>((static_cast<unsigned __int128>(d) * static_cast<unsigned __int128>(v)) >> 64);
}

uint64_t byte_order(Operation operation, unsigned width, uint64_t d) {
  if (operation == Operation::ToLe) {  // little-endian hosts only truncate
    return width == 64 ? d : d & ((uint64_t{1} << width) - 1);
  }
  switch (width) {  // ToBe and Bswap swap
    case 16: return __builtin_bswap16(static_cast<uint16_t>(d));
    case 32: return __builtin_bswap32(static_cast<uint32_t>(d));
    default: return __builtin_bswap64(d);
  }
}

uint64_t sign_extend(uint64_t value, unsigned bits) {
  const unsigned shift = 64 - bits;
  return static_cast<uint64_t>(static_cast<int64_t>(value << shift) >> shift);
}

uint64_t extend_result(const Semantics& s, uint32_t value) {
  return s.result == Extension::Sign ? sign_extend(value, 32) : value;
}

}  // namespace

uint64_t immediate_operand(const Semantics& semantics, int32_t imm) {
  if (semantics.width == 32 || semantics.imm_zero_extended) return static_cast<uint32_t>(imm);
  return static_cast<uint64_t>(static_cast<int64_t>(imm));
}

std::optional<uint64_t> evaluate(const Semantics& s, uint64_t dst, uint64_t src) {
  switch (s.operation) {
    case Operation::Hor: return dst | (static_cast<uint64_t>(static_cast<uint32_t>(src)) << 32);
    case Operation::UHMul:
    case Operation::SHMul: return high_product(s.operation == Operation::SHMul, dst, src);
    case Operation::ToLe:
    case Operation::ToBe:
    case Operation::Bswap: return byte_order(s.operation, s.width, dst);
    default: break;
  }
  if (s.width == 32) {
    const auto value = binary<uint32_t>(s, static_cast<uint32_t>(dst), static_cast<uint32_t>(src));
    if (!value) return std::nullopt;
    return extend_result(s, *value);
  }
  if (s.width != 64) return std::nullopt;
  return binary<uint64_t>(s, dst, src);
}

std::optional<uint64_t> evaluate_alu(Op op, const Dialect& dialect, uint64_t dst, uint64_t src) {
  const Semantics s = semantics(op, dialect);
  if (s.operation != Operation::MovSx) return evaluate(s, dst, src);
  // The row's off says how many low bits of src are sign-extended.
  const uint64_t value = sign_extend(src, static_cast<unsigned>(info(op).value));
  return s.width == 32 ? static_cast<uint32_t>(value) : value;
}

Condition negated(Condition condition) {
  switch (condition) {
    case Condition::Eq: return Condition::Ne;
    case Condition::Ne: return Condition::Eq;
    case Condition::Gt: return Condition::Le;
    case Condition::Le: return Condition::Gt;
    case Condition::Ge: return Condition::Lt;
    case Condition::Lt: return Condition::Ge;
    case Condition::SGt: return Condition::SLe;
    case Condition::SLe: return Condition::SGt;
    case Condition::SGe: return Condition::SLt;
    case Condition::SLt: return Condition::SGe;
    default: return Condition::None;
  }
}

Condition mirrored(Condition condition) {
  switch (condition) {
    case Condition::Gt: return Condition::Lt;
    case Condition::Ge: return Condition::Le;
    case Condition::Lt: return Condition::Gt;
    case Condition::Le: return Condition::Ge;
    case Condition::SGt: return Condition::SLt;
    case Condition::SGe: return Condition::SLe;
    case Condition::SLt: return Condition::SGt;
    case Condition::SLe: return Condition::SGe;
    default: return condition;
  }
}

bool condition_holds(Condition condition, unsigned width, uint64_t a, uint64_t b) {
  if (width == 32) {
    a = static_cast<uint32_t>(a);
    b = static_cast<uint32_t>(b);
  }
  const int64_t sa = width == 32 ? int64_t{static_cast<int32_t>(a)} : static_cast<int64_t>(a);
  const int64_t sb = width == 32 ? int64_t{static_cast<int32_t>(b)} : static_cast<int64_t>(b);
  switch (condition) {
    case Condition::Always: return true;
    case Condition::Eq: return a == b;
    case Condition::Ne: return a != b;
    case Condition::Gt: return a > b;
    case Condition::Ge: return a >= b;
    case Condition::Lt: return a < b;
    case Condition::Le: return a <= b;
    case Condition::Set: return (a & b) != 0;
    case Condition::SGt: return sa > sb;
    case Condition::SGe: return sa >= sb;
    case Condition::SLt: return sa < sb;
    case Condition::SLe: return sa <= sb;
    case Condition::None: return false;
  }
  return false;
}

}  // namespace bpfkit::isa
