// Just enough of BTF to read the map definitions of a `.maps` section.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/expected.hpp"
#include "bpfkit/isa.hpp"

namespace bpfkit::elf::detail {

struct BtfMap {
  uint64_t offset = 0;    // of the variable in `.maps`
  uint64_t at = 0;        // file offset of the variable's BTF record, for messages
  std::string_view name;  // the variable's, a view into the BTF strings
  isa::MapSpec spec;      // its shape (spec.inner for a map of maps); spec.name is left for the caller
  // `__array(values, ...)`: the byte offset of the `values` member in the
  // definition, where `.values = {...}` puts one pointer per slot
  // (relocations against the inner maps' symbols); nullopt without one.
  std::optional<uint64_t> values_offset;
};

// A variable of a DATASEC (`.kconfig`'s externs, `.rodata`'s globals): its
// name, offset and size, and for `.kconfig` the kind libbpf gives it.
struct BtfVariable {
  std::string_view name;
  uint64_t offset = 0;  // 0 in a .o for externs: libbpf lays them out
  uint64_t size = 0;
  uint64_t align = 1;
  KconfigKind kind = KconfigKind::Unknown;
  bool is_signed = false;
};

// The variables of DATASEC `section` (none if it is missing), each with
// its type's size; kinds as libbpf's find_kcfg_type gives them.
Expected<std::vector<BtfVariable>> btf_datasec(std::span<const uint8_t> btf, uint64_t file_offset,
                                               const std::string& input, std::string_view section);

// The variables of the `.maps` DATASEC in `btf` (the `.BTF` section's bytes,
// which start at `file_offset`), in DATASEC order. Linear in the size of the
// BTF: each map definition (a STRUCT) is read once, however many variables
// share it.
Expected<std::vector<BtfMap>> btf_maps(std::span<const uint8_t> btf, uint64_t file_offset, const std::string& input);

}  // namespace bpfkit::elf::detail
