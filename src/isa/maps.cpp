// Map type names, from isa/map_types.def.
#include <string>
#include <string_view>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {

std::string_view map_type_name(uint32_t type) {
  switch (type) {
#define MAP_TYPE(name, id, text) \
  case id:                       \
    return text;
#include "bpfkit/isa/map_types.def"
#undef MAP_TYPE
  }
  return {};
}

std::string describe_map_type(uint32_t type) {
  const std::string_view name = map_type_name(type);
  if (name.empty()) return "type " + std::to_string(type);
  return std::string(name) + " (" + std::to_string(type) + ")";
}

}  // namespace bpfkit::isa
