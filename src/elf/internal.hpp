// Shared by the files of module elf: ELF constants, bounded little-endian
// loads and the error helper. Not part of the public interface.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>

#include "bpfkit/expected.hpp"

namespace bpfkit::elf::detail {

// System V gABI and the BPF psABI values this module needs.
inline constexpr uint32_t kShtNull = 0, kShtProgbits = 1, kShtSymtab = 2, kShtStrtab = 3, kShtRela = 4, kShtNobits = 8,
                          kShtRel = 9;
inline constexpr uint64_t kShfWrite = 0x1, kShfAlloc = 0x2, kShfExecinstr = 0x4;
inline constexpr uint16_t kShnUndef = 0, kShnLoreserve = 0xff00, kShnAbs = 0xfff1, kShnCommon = 0xfff2,
                          kShnXindex = 0xffff;
inline constexpr uint8_t kSttNotype = 0, kSttObject = 1, kSttFunc = 2, kSttSection = 3;
inline constexpr uint8_t kStbLocal = 0, kStbGlobal = 1, kStbWeak = 2;
inline constexpr uint16_t kEtRel = 1, kEmBpf = 247;
inline constexpr uint32_t kRBpfNone = 0, kRBpf64_64 = 1, kRBpfAbs64 = 2, kRBpfAbs32 = 3, kRBpfNodyld32 = 4,
                          kRBpf64_32 = 10;

inline std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

// [offset, offset + size) inside a buffer of `total` bytes, for any values.
inline bool fits(uint64_t offset, uint64_t size, uint64_t total) { return offset <= total && size <= total - offset; }

// A little-endian field at an offset the caller checked (memcpy: unaligned input).
template <class T>
T load(std::span<const uint8_t> bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

inline Error fail(Errc code, const std::string& input, uint64_t offset, std::string message) {
  Location where;
  where.input = input;
  where.offset = offset;
  return make_error(code, std::move(message), std::move(where));
}

}  // namespace bpfkit::elf::detail
