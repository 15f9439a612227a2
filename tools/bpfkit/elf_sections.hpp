// One section of an ELF64 little-endian object, for `bpfkit disasm`. A small
// bounded reader that the elf module will replace: every offset and size is
// checked against the file before it is read, and each error names the
// field, its value and its file offset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"

namespace bpfkit::cli {

struct ElfSection {
  std::string name;
  uint64_t offset = 0;  // in the file
  std::vector<uint8_t> bytes;
};

// True if `file` starts with the ELF magic bytes.
bool is_elf(std::span<const uint8_t> file);

// The section called `name`; with an empty name, `.text` if it has bytes,
// else the first executable (SHF_EXECINSTR) section that has bytes (clang
// puts programs in sections such as `xdp` and leaves `.text` empty).
Expected<ElfSection> read_elf_section(std::span<const uint8_t> file, std::string_view name,
                                      std::string_view input_name);

}  // namespace bpfkit::cli
