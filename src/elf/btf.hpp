// Just enough of BTF to read the map definitions of a `.maps` section.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::elf::detail {

struct BtfMap {
  uint64_t offset = 0;  // of the variable in `.maps`
  isa::MapSpec spec;
};

// The variables of the `.maps` DATASEC in `btf` (the `.BTF` section's bytes,
// which start at `file_offset`), in DATASEC order.
Expected<std::vector<BtfMap>> btf_maps(std::span<const uint8_t> btf, uint64_t file_offset, const std::string& input);

}  // namespace bpfkit::elf::detail
