// Shared by the eBPF object files of module elf: the error helper (bounded
// reads are elf_format.hpp's ByteReader). Not part of the public interface.
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

inline Error fail(Errc code, const std::string& input, uint64_t offset, std::string message) {
  Location where;
  where.input = input;
  where.offset = offset;
  return make_error(code, std::move(message), std::move(where));
}

}  // namespace bpfkit::elf::detail
