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

Environment::Environment(const isa::Dialect& dialect)
    : dialect_(dialect), helpers_(HelperRegistry::linux_defaults()), stack_(isa::frame_model(dialect).stack_bytes()) {
  memory_.map(kStackRegion, "stack", stack_, true);
}

uint64_t Environment::map_input(std::span<uint8_t> bytes, bool writable) {
  memory_.map(kInputRegion, "input", bytes, writable);
  input_size_ = bytes.size();
  return region_base(kInputRegion);
}

Expected<uint32_t> Environment::add_map(const isa::MapSpec& spec) {
  const uint64_t footprint = Map::footprint(spec);
  if (footprint > map_memory_limit_ - std::min(map_memory_, map_memory_limit_))
    return make_error(Errc::Unsupported, "map '" + spec.name + "' may take " + std::to_string(footprint) +
                                             " bytes when full; with the maps before it (" +
                                             std::to_string(map_memory_) + " bytes) that is past the limit of " +
                                             std::to_string(map_memory_limit_) + " bytes for one program's maps");
  auto map = Map::create(spec);
  if (!map) return map.error();
  map_memory_ += footprint;
  // A region needs a nonempty name, or map_next would hand its index out again.
  const uint64_t base = memory_.map_next("map '" + spec.name + "'", (*map)->storage(), !spec.read_only);
  (*map)->handle_ = base;
  (*map)->memory_ = &memory_;
  (*map)->region_ = static_cast<uint32_t>(base >> kRegionShift);
  const auto index = static_cast<uint32_t>(maps_.size());
  map_by_region_[base >> kRegionShift] = index;
  maps_.push_back(std::move(*map));
  return index;
}

std::vector<uint64_t> Environment::map_addresses() const {
  std::vector<uint64_t> addresses;
  for (const auto& map : maps_) addresses.push_back(map->handle());
  return addresses;
}

Map* Environment::map_containing(uint64_t addr) {
  auto it = map_by_region_.find(addr >> kRegionShift);
  return it == map_by_region_.end() ? nullptr : maps_[it->second].get();
}

Map* Environment::map_by_handle(uint64_t addr) {
  Map* map = map_containing(addr);
  return map != nullptr && map->handle() == addr ? map : nullptr;
}

uint32_t Environment::add_program(const Interpreter& program) {
  programs_.push_back(program);
  return static_cast<uint32_t>(programs_.size() - 1);
}

void Environment::write_output(std::string_view text) {
  if (output_bytes_ >= output_limit_) return;  // already truncated
  const bool truncate = text.size() > output_limit_ - output_bytes_;
  if (truncate) text = text.substr(0, output_limit_ - output_bytes_);
  output_bytes_ += text.size();
  emit(text);
  if (truncate) {
    output_bytes_ = output_limit_;
    emit("\n[output truncated at " + std::to_string(output_limit_) + " bytes]\n");
  }
}

void Environment::emit(std::string_view text) {
  if (sink_)
    sink_(text);
  else
    output_.append(text);
}

}  // namespace bpfkit::vm
