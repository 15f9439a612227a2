// Shared by the eBPF object files of module elf: bounded little-endian
// loads and the error helper. Not part of the public interface.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>

#include "bpfkit/elf_format.hpp"
#include "bpfkit/expected.hpp"

namespace bpfkit::elf::detail {

inline std::string hex(uint64_t value) { return hex_string(value); }

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
