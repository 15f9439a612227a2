// Base58 (Solana's keys) and base64 (return data, "Program data:", account
// data in JSON).
#include <algorithm>

#include "bpfkit/solana.hpp"

namespace bpfkit::solana {

namespace {

constexpr std::string_view kBase58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Error bad(std::string message) { return make_error(Errc::BadOperand, std::move(message)); }

// "'text'" followed by `rest` (appended piecewise: GCC 12 warns falsely on
// chains of string +).
std::string quoted(std::string_view text, std::string_view rest) {
  std::string out(1, '\'');
  out.append(text).append("'").append(rest);
  return out;
}

}  // namespace

std::string to_base58(std::span<const uint8_t> bytes) {
  // Big-endian base conversion; every leading zero byte is one '1'.
  const size_t zeros = std::find_if(bytes.begin(), bytes.end(), [](uint8_t b) { return b != 0; }) - bytes.begin();
  std::vector<uint8_t> digits;  // base 58, least significant first
  for (size_t i = zeros; i < bytes.size(); ++i) {
    uint32_t carry = bytes[i];
    for (uint8_t& digit : digits) {
      carry += uint32_t{digit} << 8;
      digit = static_cast<uint8_t>(carry % 58);
      carry /= 58;
    }
    for (; carry != 0; carry /= 58) digits.push_back(static_cast<uint8_t>(carry % 58));
  }
  std::string out(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out += kBase58[*it];
  return out;
}

Expected<Pubkey> parse_pubkey(std::string_view text) {
  if (text.empty() || text.size() > 44) return bad(quoted(text, " is not a base58 public key"));
  std::vector<uint8_t> bytes;  // base 256, least significant first
  size_t ones = 0;
  while (ones < text.size() && text[ones] == '1') ++ones;
  for (size_t i = ones; i < text.size(); ++i) {
    const size_t value = kBase58.find(text[i]);
    if (value == std::string_view::npos)
      return bad(quoted(text, ": ").append(quoted(text.substr(i, 1), " is not a base58 digit")));
    uint32_t carry = static_cast<uint32_t>(value);
    for (uint8_t& byte : bytes) {
      carry += uint32_t{byte} * 58;
      byte = static_cast<uint8_t>(carry);
      carry >>= 8;
    }
    for (; carry != 0; carry >>= 8) bytes.push_back(static_cast<uint8_t>(carry));
  }
  if (ones + bytes.size() != 32)
    return bad(quoted(text, " is ").append(std::to_string(ones + bytes.size())).append(" bytes; a public key is 32"));
  Pubkey key{};
  std::copy(bytes.rbegin(), bytes.rend(), key.begin() + static_cast<std::ptrdiff_t>(ones));
  return key;
}

std::string to_base64(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = uint32_t{bytes[i]} << 16;
    if (n > 1) group |= uint32_t{bytes[i + 1]} << 8;
    if (n > 2) group |= bytes[i + 2];
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kBase64[(group >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

Expected<std::vector<uint8_t>> from_base64(std::string_view text) {
  std::vector<uint8_t> out;
  uint32_t group = 0;
  unsigned bits = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '=') {
      ++padding;
      continue;
    }
    const size_t value = kBase64.find(c);
    if (value == std::string_view::npos || padding != 0)
      return bad("not base64: unexpected '" + std::string(1, c) + "'");
    group = (group << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(group >> bits));
    }
  }
  // Standard base64 with padding, as Solana's tools print it.
  if (padding > 2 || text.size() % 4 != 0) return bad("not base64: the length or padding is wrong");
  return out;
}

}  // namespace bpfkit::solana
