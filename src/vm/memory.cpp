// The region map: the only way a running program reaches memory.
#include <cstdio>

#include "bpfkit/vm.hpp"

namespace bpfkit::vm {

void MemoryMap::map(uint32_t index, std::string name, std::span<uint8_t> bytes, bool writable) {
  if (index >= bounds_.size()) {
    bounds_.resize(index + 1);
    names_.resize(index + 1);
  }
  const uint64_t size = bytes.size() > 0xffffffffu ? 0xffffffffu : bytes.size();
  bounds_[index] = RegionBounds{bytes.data(), size, writable ? size : 0};
  names_[index] = std::move(name);
}

uint64_t MemoryMap::map_next(std::string name, std::span<uint8_t> bytes, bool writable) {
  uint32_t index = kFirstFreeRegion;
  while (index < bounds_.size() && !names_[index].empty()) ++index;
  map(index, std::move(name), bytes, writable);
  return region_base(index);
}

void MemoryMap::unmap(uint32_t index) {
  if (index >= bounds_.size()) return;
  bounds_[index] = RegionBounds{};
  names_[index].clear();
}

std::string MemoryMap::describe_fault(uint64_t addr, uint64_t size, bool write) const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "invalid %s of %llu byte%s at 0x%llx", write ? "write" : "read",
                static_cast<unsigned long long>(size), size == 1 ? "" : "s", static_cast<unsigned long long>(addr));
  std::string message = buf;
  const uint64_t index = addr >> kRegionShift;
  if (index >= bounds_.size() || names_[index].empty()) return message + " (no region mapped there)";
  const RegionBounds& region = bounds_[index];
  std::snprintf(buf, sizeof buf, " (region '%s' is %llu bytes%s)", names_[index].c_str(),
                static_cast<unsigned long long>(region.read_limit), region.write_limit == 0 ? ", read-only" : "");
  return message + buf;
}

}  // namespace bpfkit::vm
