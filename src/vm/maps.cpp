// Maps: arrays, hashes (plain and LRU), prog arrays and ring buffers, with the
// kernel's update flags and errno values. Each map's values live in one
// buffer that the Context maps as a region.
#include <bit>
#include <cstring>
#include <string_view>

#include "bpfkit/vm.hpp"
#include "map_kinds.hpp"

namespace bpfkit::vm {

namespace {

using isa::MapType;

constexpr uint64_t kMaxStorage = uint64_t{1} << 31;  // well inside one 4 GiB region
// Host bytes a hash entry costs besides its key and value: the index node,
// the slot's key string, the recency list.
constexpr uint64_t kHashEntryOverhead = 96;
constexpr uint32_t kRingHeader = 8;
constexpr uint32_t kBusyBit = 1u << 31, kDiscardBit = 1u << 30;

uint64_t round8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

uint32_t load_u32(const uint8_t* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

std::vector<uint8_t> u32_bytes(uint32_t value) {
  std::vector<uint8_t> bytes(4);
  std::memcpy(bytes.data(), &value, 4);
  return bytes;
}

const char* errno_name(int err) {
  switch (-err) {
    case kEPERM: return "EPERM";
    case kENOENT: return "ENOENT";
    case kE2BIG: return "E2BIG";
    case kEAGAIN: return "EAGAIN";
    case kEFAULT: return "EFAULT";
    case kEEXIST: return "EEXIST";
    case kEINVAL: return "EINVAL";
    case kENOTSUPP: return "ENOTSUPP";
    case kENOSPC: return "ENOSPC";
    case kENODEV: return "ENODEV";
    case kEOPNOTSUPP: return "EOPNOTSUPP";
    default: return "error";
  }
}

Expected<void> as_expected(int err, const isa::MapSpec& spec) {
  if (err == 0) return {};
  const Errc code = err == -kENOENT || err == -kE2BIG || err == -kENOSPC ? Errc::OutOfRange : Errc::BadOperand;
  return make_error(code, std::string(errno_name(err)) + " from map '" + spec.name + "'");
}

// Array, per-CPU array (one CPU) and the fd arrays (prog array, cgroup
// array, array of maps): key is a u32 index, slots are 8-byte aligned as in
// the kernel's array map. An fd array's values are ids (of programs in the
// Context, of maps, of cgroups), its slots may be empty, and only BPF_ANY
// updates it (fd_array_map_update_elem).
class ArrayMap final : public Map {
 public:
  ArrayMap(const isa::MapSpec& spec, uint64_t stride)
      : Map(spec, stride * spec.max_entries), stride_(stride), present_(spec.max_entries, !is_fd_array()) {
    if (!spec.initial.empty())  // memcpy from an empty vector's null data() is undefined
      std::memcpy(storage_.data(), spec.initial.data(), std::min(spec.initial.size(), storage_.size()));
  }

  std::vector<Entry> entries() override {
    std::vector<Entry> out;
    for (uint32_t i = 0; i < spec_.max_entries; ++i)
      if (present_[i]) out.push_back(Entry{u32_bytes(i), slot(i)});
    return out;
  }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t> key) override {
    const uint32_t index = load_u32(key.data());
    if (index >= spec_.max_entries || !present_[index]) return {};
    return slot(index);
  }
  int do_update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) override {
    const uint32_t index = load_u32(key.data());
    if (index >= spec_.max_entries) return -kE2BIG;
    // Array slots always exist; fd array updates take BPF_ANY only.
    if (is_fd_array() ? flags != kBpfAny : flags == kBpfNoExist) return is_fd_array() ? -kEINVAL : -kEEXIST;
    // memmove: a program may pass a value pointer into this very slot.
    std::memmove(slot(index).data(), value.data(), value.size());
    present_[index] = true;
    return 0;
  }
  int do_erase(std::span<const uint8_t> key) override {
    if (!is_fd_array()) return -kEINVAL;
    const uint32_t index = load_u32(key.data());
    if (index >= spec_.max_entries) return -kE2BIG;
    if (!present_[index]) return -kENOENT;
    present_[index] = false;
    return 0;
  }

 private:
  bool is_fd_array() const {
    return type() == MapType::ProgArray || type() == MapType::CgroupArray || type() == MapType::ArrayOfMaps;
  }
  std::span<uint8_t> slot(uint32_t index) { return {storage_.data() + index * stride_, spec_.value_size}; }

  uint64_t stride_;
  std::vector<bool> present_;
};

// Hash maps. Value slots are taken in order as entries are added and the
// storage grows with them (doubling, up to max_entries), so a declaration of
// 2^28 entries costs nothing until it is filled; erased slots are reused
// first. LRU maps keep a true recency list: lookup and update move an entry
// to the front, a full map evicts the back.
class HashMap final : public Map {
 public:
  HashMap(const isa::MapSpec& spec, uint64_t stride) : Map(spec, 0), stride_(stride) {}

  std::vector<Entry> entries() override {
    std::vector<Entry> out;
    for (uint32_t i = 0; i < keys_.size(); ++i) {
      if (!used(i)) continue;
      out.push_back(Entry{std::vector<uint8_t>(keys_[i].begin(), keys_[i].end()), slot(i)});
    }
    return out;
  }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t> key) override {
    auto it = index_.find(as_string(key));
    if (it == index_.end()) return {};
    touch(it->second);
    return slot(it->second);
  }
  int do_update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) override {
    const std::string k = as_string(key);
    auto it = index_.find(k);
    if (it != index_.end()) {
      if (flags == kBpfNoExist) return -kEEXIST;
      write(it->second, value);
      return 0;
    }
    if (flags == kBpfExist) return -kENOENT;
    // The value may live in this map's storage, which a new slot can move.
    const std::vector<uint8_t> copy(value.begin(), value.end());
    if (free_.empty() && keys_.size() == spec_.max_entries) {
      if (!is_lru()) return -kE2BIG;
      evict();
    }
    const uint32_t s = take_slot();
    keys_[s] = k;
    index_.emplace(k, s);
    if (is_lru()) lru_pos_[s] = lru_.insert(lru_.begin(), s);
    write(s, copy);
    return 0;
  }
  int do_erase(std::span<const uint8_t> key) override {
    auto it = index_.find(as_string(key));
    if (it == index_.end()) return -kENOENT;
    release(it->second);
    index_.erase(it);
    return 0;
  }

 private:
  static std::string as_string(std::span<const uint8_t> key) {
    return std::string(reinterpret_cast<const char*>(key.data()), key.size());
  }
  bool is_lru() const { return type() == MapType::LruHash || type() == MapType::LruPerCpuHash; }
  bool used(uint32_t s) const {
    auto it = index_.find(keys_[s]);
    return it != index_.end() && it->second == s;
  }
  std::span<uint8_t> slot(uint32_t s) { return {storage_.data() + s * stride_, spec_.value_size}; }
  void write(uint32_t s, std::span<const uint8_t> value) {
    std::memmove(slot(s).data(), value.data(), value.size());  // the value may live in the map itself
    touch(s);
  }
  void touch(uint32_t s) {
    if (is_lru()) lru_.splice(lru_.begin(), lru_, lru_pos_[s]);
  }
  // A free slot: an erased one, else the next unused one (growing storage).
  uint32_t take_slot() {
    if (!free_.empty()) {
      const uint32_t s = free_.back();
      free_.pop_back();
      return s;
    }
    const auto s = static_cast<uint32_t>(keys_.size());
    keys_.emplace_back();
    lru_pos_.emplace_back();
    const uint64_t needed = (uint64_t{s} + 1) * stride_;
    if (needed > storage_.size())
      grow_storage(std::min(std::max(needed, 2 * static_cast<uint64_t>(storage_.size())), stride_ * spec_.max_entries));
    return s;
  }
  void release(uint32_t s) {
    if (is_lru()) lru_.erase(lru_pos_[s]);
    free_.push_back(s);
  }
  void evict() {
    const uint32_t victim = lru_.back();
    index_.erase(keys_[victim]);
    release(victim);
  }

  uint64_t stride_;
  std::unordered_map<std::string, uint32_t> index_;  // key bytes -> slot
  std::vector<std::string> keys_;                    // key of each slot taken so far
  std::vector<uint32_t> free_;                       // erased slots, next at back
  std::list<uint32_t> lru_;                          // most recent first
  std::vector<std::list<uint32_t>::iterator> lru_pos_;
};

Expected<void> check_spec(const isa::MapSpec& spec) {
  auto bad = [&](const char* why) { return make_error(Errc::BadOperand, "map '" + spec.name + "': " + why); };
  const auto type = static_cast<MapType>(spec.type);
  if (spec.max_entries == 0) return bad("max_entries is 0 (user space sizes it before loading: --map-size NAME=N)");
  const bool map_of_maps = type == MapType::ArrayOfMaps || type == MapType::HashOfMaps;
  if (map_of_maps && !spec.inner)
    return bad("a map of maps needs its inner map's definition (BTF __array(values, ...))");
  switch (type) {
    case MapType::Array:
    case MapType::PerCpuArray:
      if (spec.key_size != 4 || spec.value_size == 0) return bad("an array needs key_size 4 and a value_size");
      break;
    case MapType::ProgArray:
    case MapType::PerfEventArray:
    case MapType::CgroupArray:
    case MapType::ArrayOfMaps:
    case MapType::XskMap:
      if (spec.key_size != 4 || spec.value_size != 4)
        return bad((std::string(isa::map_type_name(spec.type)) + " needs key_size 4 and value_size 4").c_str());
      break;
    case MapType::DevMap:
    case MapType::DevMapHash:
    case MapType::CpuMap:
      if (spec.key_size != 4 || (spec.value_size != 4 && spec.value_size != 8))
        return bad((std::string(isa::map_type_name(spec.type)) + " needs key_size 4 and value_size 4 or 8").c_str());
      break;
    case MapType::Hash:
    case MapType::PerCpuHash:
    case MapType::LruHash:
    case MapType::LruPerCpuHash:
      if (spec.key_size == 0 || spec.value_size == 0) return bad("a hash needs a key_size and a value_size");
      break;
    case MapType::HashOfMaps:
      if (spec.key_size == 0 || spec.value_size != 4) return bad("hash_of_maps needs a key_size and value_size 4");
      break;
    case MapType::LpmTrie:
      if (spec.key_size < 5 || spec.key_size > 4 + 256 || spec.value_size == 0)
        return bad(
            "an lpm_trie needs key_size 5 to 260 (a u32 prefix length and 1 to 256 data bytes) and a value_size");
      if ((spec.flags & 1) == 0) return bad("an lpm_trie needs map_flags BPF_F_NO_PREALLOC (1), as the kernel does");
      break;
    case MapType::Queue:
    case MapType::Stack:
    case MapType::BloomFilter:
      if (spec.key_size != 0 || spec.value_size == 0)
        return bad((std::string(isa::map_type_name(spec.type)) + " needs key_size 0 and a value_size").c_str());
      if (type == MapType::BloomFilter && (spec.map_extra & ~uint64_t{0xf}) != 0)
        return bad("a bloom filter's map_extra (its hash count) must be below 16");
      break;
    case MapType::StackTrace:
      if (spec.key_size != 4 || spec.value_size < 8 || spec.value_size % 8 != 0 || spec.value_size / 8 > 127)
        return bad("a stack_trace map needs key_size 4 and a value_size of 8 to 1016, a multiple of 8");
      break;
    case MapType::RingBuf:
      if (spec.key_size != 0 || spec.value_size != 0) return bad("a ring buffer has no key or value size");
      if ((spec.max_entries & (spec.max_entries - 1)) != 0 || spec.max_entries < 8)
        return bad("a ring buffer's size must be a power of 2 of at least 8");
      break;
    default:
      return make_error(Errc::Unsupported,
                        "map '" + spec.name + "': " + isa::describe_map_type(spec.type) + " maps are not supported");
  }
  if (!spec.initial.empty() && type != MapType::Array) return bad("only arrays take initial contents");
  return {};
}

}  // namespace

Expected<std::unique_ptr<Map>> Map::create(const isa::MapSpec& spec) {
  if (auto ok = check_spec(spec); !ok) return ok.error();
  const auto type = static_cast<MapType>(spec.type);
  // Sizes are checked before anything is allocated.
  const uint64_t values = type == MapType::RingBuf      ? 2 * uint64_t{spec.max_entries}
                          : type == MapType::StackTrace ? std::bit_ceil(uint64_t{spec.max_entries}) * spec.value_size
                                                        : round8(spec.value_size) * spec.max_entries;
  if (values > kMaxStorage)
    return make_error(Errc::Unsupported, "map '" + spec.name + "': its values would take " + std::to_string(values) +
                                             " bytes; one map's region holds at most 2 GiB");
  const uint64_t stride = round8(spec.value_size);
  switch (type) {
    case MapType::RingBuf: return std::unique_ptr<Map>(new RingBuf(spec));
    case MapType::PerfEventArray: return std::unique_ptr<Map>(new PerfEventArray(spec));
    case MapType::StackTrace: return std::unique_ptr<Map>(new StackTraceMap(spec));
    case MapType::Array:
    case MapType::PerCpuArray:
    case MapType::ProgArray:
    case MapType::CgroupArray:
    case MapType::ArrayOfMaps: return std::unique_ptr<Map>(new ArrayMap(spec, stride));
    case MapType::DevMap:
    case MapType::XskMap:
    case MapType::CpuMap: return detail::make_slot_map(spec);
    case MapType::Queue:
    case MapType::Stack: return detail::make_queue_map(spec);
    case MapType::BloomFilter: return detail::make_bloom_filter(spec);
    case MapType::LpmTrie: return detail::make_lpm_trie(spec);
    default: return std::unique_ptr<Map>(new HashMap(spec, stride));  // the hashes, devmap_hash, hash_of_maps
  }
}

uint64_t Map::footprint(const isa::MapSpec& spec) {
  const uint64_t entries = spec.max_entries;
  switch (static_cast<MapType>(spec.type)) {
    case MapType::RingBuf: return 2 * entries;  // the ring, mapped twice
    case MapType::StackTrace: return std::bit_ceil(uint64_t{spec.max_entries}) * spec.value_size;  // the buckets
    case MapType::Hash:
    case MapType::PerCpuHash:
    case MapType::LruHash:
    case MapType::LruPerCpuHash:
    case MapType::DevMapHash:
    case MapType::HashOfMaps:
    case MapType::LpmTrie:
    case MapType::Queue:
    case MapType::Stack:
    case MapType::BloomFilter: {
      // Up to 2^32 entries of up to 2^33 bytes: computed wide, saturated.
      const unsigned __int128 bytes =
          static_cast<unsigned __int128>(entries) * (round8(spec.value_size) + spec.key_size + kHashEntryOverhead);
      return bytes > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(bytes);
    }
    default: return entries * round8(spec.value_size);
  }
}

void Map::grow_storage(uint64_t bytes) {
  storage_.resize(bytes);
  if (memory_ != nullptr) memory_->map(region_, memory_->name(region_), storage_, writable_by_programs());
}

bool Map::writable_by_programs() const {
  // devmap and xskmap values are BPF_F_RDONLY_PROG in the kernel.
  return !spec_.read_only && type() != MapType::DevMap && type() != MapType::DevMapHash && type() != MapType::XskMap;
}

int Map::push_errno(std::span<const uint8_t>, uint64_t) { return -kEINVAL; }
int Map::pop_errno(std::span<uint8_t>) { return -kEINVAL; }
int Map::peek_errno(std::span<uint8_t>) { return -kEINVAL; }

std::span<uint8_t> Map::lookup(std::span<const uint8_t> key) {
  if (key.size() != spec_.key_size || type() == MapType::RingBuf) return {};
  return do_lookup(key);
}

int Map::update_errno(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) {
  if (key.size() != spec_.key_size || value.size() != spec_.value_size || flags > kBpfExist) return -kEINVAL;
  return do_update(key, value, flags);
}

int Map::erase_errno(std::span<const uint8_t> key) {
  if (key.size() != spec_.key_size) return -kEINVAL;
  return do_erase(key);
}

Expected<void> Map::update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) {
  return as_expected(update_errno(key, value, flags), spec_);
}

Expected<void> Map::erase(std::span<const uint8_t> key) { return as_expected(erase_errno(key), spec_); }

// ---- Ring buffer -------------------------------------------------------------

RingBuf::RingBuf(const isa::MapSpec& spec) : Map(spec, uint64_t{2} * spec.max_entries), mask_(spec.max_entries - 1) {}

uint64_t RingBuf::reserve(uint64_t size) {
  // The kernel refuses records that could never fit, and reservations that
  // would overrun the consumer.
  const uint64_t len = round8(size + kRingHeader);
  if (size > kBusyBit - 1 - kRingHeader || len > mask_ + 1) return 0;
  if (producer_ + len - consumer_ > mask_ + 1) return 0;
  const uint64_t at = producer_ & mask_;
  const uint32_t header[2] = {static_cast<uint32_t>(size) | kBusyBit, static_cast<uint32_t>(at)};
  std::memcpy(storage_.data() + at, header, sizeof header);
  producer_ += len;
  reserved_.insert(at);
  return handle() + at + kRingHeader;
}

bool RingBuf::finish(uint64_t addr, bool discard) {
  if (addr - handle() < kRingHeader || addr - handle() >= storage_.size()) return false;
  const uint64_t at = addr - handle() - kRingHeader;
  if (reserved_.erase(at) == 0) return false;
  uint32_t header = load_u32(storage_.data() + at) & ~(kBusyBit | kDiscardBit);
  header |= discard ? kDiscardBit : 0;
  std::memcpy(storage_.data() + at, &header, sizeof header);
  return true;
}

std::vector<std::vector<uint8_t>> RingBuf::drain() {
  std::vector<std::vector<uint8_t>> records;
  while (consumer_ < producer_) {
    const uint64_t at = consumer_ & mask_;
    // Busy records hold back the rest, as in the kernel.
    if (reserved_.count(at) != 0) break;
    const uint32_t header = load_u32(storage_.data() + at);
    const uint64_t size = header & ~(kBusyBit | kDiscardBit);
    const uint64_t len = round8(size + kRingHeader);
    // A program may have scribbled over a header: stop rather than misread.
    if (len > producer_ - consumer_) break;
    const uint8_t* data = storage_.data() + at + kRingHeader;
    if ((header & kDiscardBit) == 0) records.emplace_back(data, data + size);
    consumer_ += len;
  }
  return records;
}

}  // namespace bpfkit::vm
