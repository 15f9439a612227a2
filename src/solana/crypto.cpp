// The hashes and the curve check the runtime's syscalls need: SHA-256 from
// OpenSSL's libcrypto, Keccak-256 (the original padding, as Ethereum and
// Solana's sol_keccak256 use; OpenSSL 3.0 has none) here, and the
// edwards25519 decompression test with OpenSSL's big numbers, and
// secp256k1 public key recovery with its EC arithmetic.
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <cstring>
#include <memory>

#include "bpfkit/solana.hpp"

namespace bpfkit::solana {

namespace {

// ---- Keccak-f[1600] ------------------------------------------------------------------

constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000, 0x000000000000808b,
    0x0000000080000001, 0x8000000080008081, 0x8000000000008009, 0x000000000000008a, 0x0000000000000088,
    0x0000000080008009, 0x000000008000000a, 0x000000008000808b, 0x800000000000008b, 0x8000000000008089,
    0x8000000000008003, 0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
};
constexpr unsigned kRotations[25] = {0,  1,  62, 28, 27, 36, 44, 6,  55, 20, 3,  10, 43,
                                     25, 39, 41, 45, 15, 21, 8,  18, 2,  61, 56, 14};

uint64_t rotl(uint64_t x, unsigned n) { return n == 0 ? x : (x << n) | (x >> (64 - n)); }

void keccak_f(uint64_t a[25]) {
  for (uint64_t rc : kRoundConstants) {
    uint64_t c[5], b[25];
    for (int x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (int x = 0; x < 5; ++x) {
      const uint64_t d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
      for (int y = 0; y < 25; y += 5) a[y + x] ^= d;
    }
    // rho and pi: b[y, 2x + 3y] = rot(a[x, y])
    for (int x = 0; x < 5; ++x)
      for (int y = 0; y < 5; ++y) b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], kRotations[x + 5 * y]);
    for (int y = 0; y < 25; y += 5)
      for (int x = 0; x < 5; ++x) a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
    a[0] ^= rc;
  }
}

// ---- Field arithmetic mod 2^255 - 19 for the curve check ---------------------------------

struct BnDeleter {
  void operator()(BIGNUM* n) const { BN_free(n); }
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;

Bn bn() { return Bn(BN_new()); }

}  // namespace

std::array<uint8_t, 32> sha256(std::span<const std::span<const uint8_t>> parts) {
  std::array<uint8_t, 32> out{};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (std::span<const uint8_t> part : parts) EVP_DigestUpdate(ctx, part.data(), part.size());
  unsigned length = 0;
  EVP_DigestFinal_ex(ctx, out.data(), &length);
  EVP_MD_CTX_free(ctx);
  return out;
}

std::array<uint8_t, 32> keccak256(std::span<const std::span<const uint8_t>> parts) {
  constexpr size_t kRate = 136;  // bytes: 1600 - 2 * 256 bits
  uint64_t state[25] = {};
  uint8_t block[kRate];
  size_t filled = 0;
  auto absorb = [&] {
    for (size_t i = 0; i < kRate / 8; ++i) {
      uint64_t lane = 0;
      for (unsigned k = 0; k < 8; ++k) lane |= uint64_t{block[8 * i + k]} << (8 * k);
      state[i] ^= lane;
    }
    keccak_f(state);
    filled = 0;
  };
  for (std::span<const uint8_t> part : parts) {
    for (uint8_t byte : part) {
      block[filled++] = byte;
      if (filled == kRate) absorb();
    }
  }
  std::memset(block + filled, 0, kRate - filled);
  block[filled] ^= 0x01;  // Keccak's padding (SHA-3 would be 0x06)
  block[kRate - 1] ^= 0x80;
  absorb();
  std::array<uint8_t, 32> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(state[i / 8] >> (8 * (i % 8)));
  return out;
}

bool is_on_curve(const Pubkey& bytes) {
  // y is the low 255 bits (values >= p are taken mod p, as dalek does); the
  // point exists iff u / v is a square, u = y^2 - 1, v = d y^2 + 1.
  uint8_t big_endian[32];
  for (size_t i = 0; i < 32; ++i) big_endian[i] = bytes[31 - i];
  big_endian[0] &= 0x7f;
  std::unique_ptr<BN_CTX, BnDeleter> ctx(BN_CTX_new());
  Bn p = bn(), y = bn(), d = bn(), u = bn(), v = bn(), y2 = bn(), w = bn(), e = bn(), one = bn();
  BN_set_word(p.get(), 1);
  BN_lshift(p.get(), p.get(), 255);
  BN_sub_word(p.get(), 19);
  BN_bin2bn(big_endian, 32, y.get());
  BN_mod(y.get(), y.get(), p.get(), ctx.get());
  // d = -121665 / 121666
  Bn num = bn(), den = bn();
  BN_set_word(num.get(), 121665);
  BN_sub(num.get(), p.get(), num.get());
  BN_set_word(den.get(), 121666);
  BN_mod_inverse(den.get(), den.get(), p.get(), ctx.get());
  BN_mod_mul(d.get(), num.get(), den.get(), p.get(), ctx.get());
  BN_mod_sqr(y2.get(), y.get(), p.get(), ctx.get());
  BN_one(one.get());
  BN_mod_sub(u.get(), y2.get(), one.get(), p.get(), ctx.get());
  BN_mod_mul(v.get(), d.get(), y2.get(), p.get(), ctx.get());
  BN_mod_add(v.get(), v.get(), one.get(), p.get(), ctx.get());
  if (BN_is_zero(u.get())) return true;   // y = +-1: x = 0
  if (BN_is_zero(v.get())) return false;  // no x
  BN_mod_inverse(w.get(), v.get(), p.get(), ctx.get());
  BN_mod_mul(w.get(), w.get(), u.get(), p.get(), ctx.get());
  // Euler's criterion: w^((p-1)/2) == 1.
  BN_sub(e.get(), p.get(), one.get());
  BN_rshift1(e.get(), e.get());
  BN_mod_exp(w.get(), w.get(), e.get(), p.get(), ctx.get());
  return BN_is_one(w.get());
}

std::optional<Pubkey> create_program_address(std::span<const std::span<const uint8_t>> seeds,
                                             const Pubkey& program_id) {
  constexpr size_t kMaxSeeds = 16, kMaxSeedLength = 32;
  if (seeds.size() > kMaxSeeds) return std::nullopt;
  static constexpr std::string_view kMarker = "ProgramDerivedAddress";
  std::vector<std::span<const uint8_t>> parts(seeds.begin(), seeds.end());
  for (std::span<const uint8_t> seed : seeds)
    if (seed.size() > kMaxSeedLength) return std::nullopt;
  parts.emplace_back(program_id);
  parts.emplace_back(reinterpret_cast<const uint8_t*>(kMarker.data()), kMarker.size());
  const Pubkey address = sha256(parts);
  if (is_on_curve(address)) return std::nullopt;
  return address;
}

// ---- secp256k1 public key recovery ------------------------------------------------------

namespace {

struct EcDeleter {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};

}  // namespace

// libsecp256k1's recover, with OpenSSL's EC arithmetic: r and s below the
// order n (Signature::parse_standard_slice) and not zero; R has x = r (+ n
// with bit 1 of the id, below p) and y of the parity of bit 0; Q = r^-1 (s R
// - e G), not the point at infinity.
Expected<std::array<uint8_t, 64>> secp256k1_recover(std::span<const uint8_t, 32> hash, uint64_t recovery_id,
                                                    std::span<const uint8_t, 64> signature) {
  if (recovery_id > 3) return make_error(Errc::BadOperand, "InvalidRecoveryId");
  const Error invalid = make_error(Errc::BadOperand, "InvalidSignature");
  std::unique_ptr<EC_GROUP, EcDeleter> group(EC_GROUP_new_by_curve_name(NID_secp256k1));
  std::unique_ptr<BN_CTX, BnDeleter> ctx(BN_CTX_new());
  if (!group || !ctx) return make_error(Errc::Unsupported, "this OpenSSL has no secp256k1");
  Bn p = bn(), a = bn(), b = bn(), r = bn(), s = bn(), e = bn(), x = bn();
  const BIGNUM* n = EC_GROUP_get0_order(group.get());
  EC_GROUP_get_curve(group.get(), p.get(), a.get(), b.get(), ctx.get());
  BN_bin2bn(signature.data(), 32, r.get());
  BN_bin2bn(signature.data() + 32, 32, s.get());
  if (BN_cmp(r.get(), n) >= 0 || BN_cmp(s.get(), n) >= 0 || BN_is_zero(r.get()) || BN_is_zero(s.get())) return invalid;
  BN_copy(x.get(), r.get());
  if (recovery_id & 2) {
    BN_add(x.get(), x.get(), n);
    if (BN_cmp(x.get(), p.get()) >= 0) return invalid;
  }
  std::unique_ptr<EC_POINT, EcDeleter> big_r(EC_POINT_new(group.get())), q(EC_POINT_new(group.get()));
  if (EC_POINT_set_compressed_coordinates(group.get(), big_r.get(), x.get(), static_cast<int>(recovery_id & 1),
                                          ctx.get()) != 1)
    return invalid;
  // u1 = -e / r, u2 = s / r (mod n); Q = u1 G + u2 R.
  Bn r_inverse = bn(), u1 = bn(), u2 = bn();
  BN_bin2bn(hash.data(), 32, e.get());
  BN_nnmod(e.get(), e.get(), n, ctx.get());
  BN_mod_inverse(r_inverse.get(), r.get(), n, ctx.get());
  BN_mod_sub(u1.get(), n, e.get(), n, ctx.get());
  BN_mod_mul(u1.get(), u1.get(), r_inverse.get(), n, ctx.get());
  BN_mod_mul(u2.get(), s.get(), r_inverse.get(), n, ctx.get());
  if (EC_POINT_mul(group.get(), q.get(), u1.get(), big_r.get(), u2.get(), ctx.get()) != 1 ||
      EC_POINT_is_at_infinity(group.get(), q.get()))
    return invalid;
  uint8_t encoded[65];
  if (EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, encoded, sizeof encoded, ctx.get()) !=
      sizeof encoded)
    return invalid;
  std::array<uint8_t, 64> key;
  std::memcpy(key.data(), encoded + 1, 64);
  return key;
}

}  // namespace bpfkit::solana
