// The Context: the regions, maps, helpers, programs and output one program
// runs against, whichever engine runs it.
#include <algorithm>
#include <cstring>

#include "bpfkit/vm.hpp"

namespace bpfkit::vm {

// A program a prog array may name, and the forms engines made of it.
struct Context::ProgramSlot {
  std::shared_ptr<const isa::Program> program;
  std::vector<std::pair<const void*, std::unique_ptr<Engine>>> prepared;  // by engine kind
};

Context::Context(const isa::Dialect& dialect)
    : dialect_(dialect),
      helpers_(HelperTable::defaults(dialect)),
      stack_(isa::frame_model(dialect).stack_bytes()),
      budget_(dialect.family == isa::Family::Sbpf ? kDefaultComputeBudget : kDefaultBudget) {
  memory_.map(kStackRegion, "stack", stack_, true);
  if (dialect.family == isa::Family::Sbpf) set_heap_size(kDefaultHeapSize);
}

Context::~Context() = default;

uint64_t Context::map_input(std::span<uint8_t> bytes, bool writable) {
  memory_.map(kInputRegion, "input", bytes, writable);
  input_size_ = bytes.size();
  input_mapped_ = true;
  return region_base(kInputRegion);
}

void Context::unmap_input() {
  memory_.unmap(kInputRegion);
  input_size_ = 0;
  input_mapped_ = false;
}

std::array<uint64_t, 5> Context::entry_args() const {
  // sBPF's r1 is the input region whether or not anything is mapped there.
  if (dialect_.family == isa::Family::Sbpf) return {region_base(kInputRegion), 0, 0, 0, 0};
  if (!input_mapped_) return {};
  return {region_base(kInputRegion), input_size_, 0, 0, 0};
}

uint64_t Context::map_program_context(std::vector<uint8_t> bytes) {
  program_context_ = std::move(bytes);
  return map_input(program_context_);
}

void Context::set_packet(Packet packet) {
  packet_ = std::move(packet);
  remap_packet();
}

void Context::remap_packet() {
  if (!packet_) return;
  std::span<uint8_t> region = packet_->bytes(packet_->region_start, packet_->end);
  memory_.map(kPacketRegion, "packet", region, true);
}

bool Context::packet_pointer_at(uint64_t addr, uint64_t& value) const {
  if (!packet_ || (addr >> kRegionShift) != kInputRegion) return false;
  const auto offset = static_cast<uint32_t>(addr & 0xffffffffu);
  if (offset == packet_->ctx_data)
    value = packet_->address(packet_->data);
  else if (offset == packet_->ctx_data_end)
    value = packet_->address(packet_->end);
  else if (offset == packet_->ctx_data_meta)
    value = packet_->address(packet_->meta);
  else
    return false;
  return true;
}

void Context::set_heap_size(uint64_t bytes) {
  heap_.assign(bytes, 0);
  memory_.map(kHeapRegion, "heap", heap_, true);
}

void Context::clear_stack_and_heap() {
  std::fill(stack_.begin(), stack_.end(), 0);
  std::fill(heap_.begin(), heap_.end(), 0);
}

Expected<uint32_t> Context::add_map(const isa::MapSpec& declared) {
  isa::MapSpec sized;
  const bool per_cpu_sized =
      declared.type == static_cast<uint32_t>(isa::MapType::PerfEventArray) && declared.max_entries == 0;
  if (per_cpu_sized) {  // libbpf: one slot per possible CPU
    sized = declared;
    sized.max_entries = possible_cpus();
  }
  const isa::MapSpec& spec = per_cpu_sized ? sized : declared;
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
  const uint64_t base = memory_.map_next("map '" + spec.name + "'", (*map)->storage(), (*map)->writable_by_programs());
  (*map)->handle_ = base;
  (*map)->memory_ = &memory_;
  (*map)->region_ = static_cast<uint32_t>(base >> kRegionShift);
  const auto index = static_cast<uint32_t>(maps_.size());
  map_by_region_[base >> kRegionShift] = index;
  maps_.push_back(std::move(*map));
  return index;
}

Expected<void> Context::add_maps(const isa::Program& program) {
  const auto first = static_cast<uint32_t>(maps_.size());
  for (const isa::MapSpec& spec : program.maps)
    if (auto index = add_map(spec); !index) return index.error();
  // Maps of maps: the inner maps the object puts in their slots (.values).
  for (uint32_t i = 0; i < program.maps.size(); ++i)
    for (const auto& [key, inner] : program.maps[i].initial_maps)
      if (auto set = set_inner_map(first + i, key, first + inner); !set) return set;
  // Prog arrays: the programs the object puts in their slots (.values).
  for (uint32_t i = 0; i < program.maps.size(); ++i)
    for (const auto& [key, target] : program.maps[i].initial_programs) {
      const uint32_t id = add_program(target);
      std::vector<uint8_t> key_bytes(maps_[first + i]->spec().key_size, 0);
      std::memcpy(key_bytes.data(), &key, std::min<size_t>(4, key_bytes.size()));
      if (auto set = maps_[first + i]->update(key_bytes, {reinterpret_cast<const uint8_t*>(&id), 4}); !set) return set;
    }
  isa::apply_data_relocations(program.data_relocations, map_addresses(),
                              [&](uint32_t map) { return maps_.at(map)->storage(); });
  return {};
}

// The kernel's bpf_map_meta_equal: the inner map must have the shape the
// outer map was declared with (max_entries too, unless BPF_F_INNER_MAP).
Expected<void> Context::set_inner_map(uint32_t outer, uint32_t key, uint32_t inner) {
  if (outer >= maps_.size() || inner >= maps_.size() || !maps_[outer]->holds_maps())
    return make_error(Errc::BadOperand, "set_inner_map: no such map of maps or inner map");
  const isa::MapSpec& meta = *maps_[outer]->spec().inner;
  const isa::MapSpec& spec = maps_[inner]->spec();
  constexpr uint32_t kInnerMap = 1u << 12;  // BPF_F_INNER_MAP
  if (spec.type != meta.type || spec.key_size != meta.key_size || spec.value_size != meta.value_size ||
      (spec.flags & ~kInnerMap) != (meta.flags & ~kInnerMap) ||
      ((meta.flags & kInnerMap) == 0 && spec.max_entries != meta.max_entries) || maps_[inner]->holds_maps())
    return make_error(Errc::BadOperand, "map '" + spec.name + "' does not have the inner map shape of map '" +
                                            maps_[outer]->spec().name + "' (" + isa::describe_map_type(meta.type) +
                                            ", key_size " + std::to_string(meta.key_size) + ", value_size " +
                                            std::to_string(meta.value_size) + ", max_entries " +
                                            std::to_string(meta.max_entries) + ")");
  std::vector<uint8_t> key_bytes(maps_[outer]->spec().key_size, 0);
  std::memcpy(key_bytes.data(), &key, std::min<size_t>(4, key_bytes.size()));
  const uint8_t* id = reinterpret_cast<const uint8_t*>(&inner);
  return maps_[outer]->update(key_bytes, std::span<const uint8_t>(id, 4));
}

Map* Context::inner_map(std::span<const uint8_t> value) {
  uint32_t id = 0;
  if (value.size() != 4) return nullptr;
  std::memcpy(&id, value.data(), 4);
  return id < maps_.size() ? maps_[id].get() : nullptr;
}

std::vector<uint64_t> Context::map_addresses() const {
  std::vector<uint64_t> addresses;
  for (const auto& map : maps_) addresses.push_back(map->handle());
  return addresses;
}

Map* Context::map_containing(uint64_t addr) {
  auto it = map_by_region_.find(addr >> kRegionShift);
  return it == map_by_region_.end() ? nullptr : maps_[it->second].get();
}

Map* Context::map_by_handle(uint64_t addr) {
  Map* map = map_containing(addr);
  return map != nullptr && map->handle() == addr ? map : nullptr;
}

uint32_t Context::add_program(std::shared_ptr<const isa::Program> program) {
  programs_.push_back(ProgramSlot{std::move(program), {}});
  return static_cast<uint32_t>(programs_.size() - 1);
}

const isa::Program* Context::program(uint32_t id) const {
  return id < programs_.size() ? programs_[id].program.get() : nullptr;
}

const Engine* Context::prepared_program(
    uint32_t id, const void* engine_kind,
    const std::function<Expected<std::unique_ptr<Engine>>(const isa::Program&)>& prepare, Error& error) {
  if (id >= programs_.size()) return nullptr;
  ProgramSlot& slot = programs_[id];
  for (const auto& [kind, engine] : slot.prepared)
    if (kind == engine_kind) return engine.get();
  auto engine = prepare(*slot.program);
  if (!engine) {
    error = engine.error();
    return nullptr;
  }
  slot.prepared.emplace_back(engine_kind, std::move(*engine));
  return slot.prepared.back().second.get();
}

// ---- Output ---------------------------------------------------------------------

void Output::write(std::string_view text) {
  if (bytes_ >= limit_) return;  // already truncated
  const bool truncate = text.size() > limit_ - bytes_;
  if (truncate) text = text.substr(0, limit_ - bytes_);
  bytes_ += text.size();
  emit(text);
  if (truncate) {
    bytes_ = limit_;
    emit("\n[output truncated at " + std::to_string(limit_) + " bytes]\n");
  }
}

void Output::log(std::string_view message) {
  if (truncated_) return;
  const uint64_t total = bytes_ + message.size();
  if (total >= kLogLimit) {
    truncated_ = true;
    emit("Log truncated\n");
    return;
  }
  bytes_ = total;
  std::string line(message);
  line += '\n';
  emit(line);
}

std::string Output::take() {
  std::string text = std::move(text_);
  text_.clear();
  bytes_ = 0;
  truncated_ = false;
  return text;
}

void Output::emit(std::string_view text) {
  if (sink_)
    sink_(text);
  else
    text_.append(text);
}

}  // namespace bpfkit::vm
