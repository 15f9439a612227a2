// Just enough of BTF to read the map definitions of a `.maps` section.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::elf::detail {

struct BtfMap {
  uint64_t offset = 0;    // of the variable in `.maps`
  uint64_t at = 0;        // file offset of the variable's BTF record, for messages
  std::string_view name;  // the variable's, a view into the BTF strings
  isa::MapSpec spec;      // its shape; spec.name is left for the caller to copy
};

// The variables of the `.maps` DATASEC in `btf` (the `.BTF` section's bytes,
// which start at `file_offset`), in DATASEC order. Linear in the size of the
// BTF: each map definition (a STRUCT) is read once, however many variables
// share it.
Expected<std::vector<BtfMap>> btf_maps(std::span<const uint8_t> btf, uint64_t file_offset, const std::string& input);

}  // namespace bpfkit::elf::detail
