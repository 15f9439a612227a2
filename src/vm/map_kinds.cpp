// Map types with their own semantics, each as the kernel's kernel/bpf file
// for it behaves: devmap.c, xskmap.c and cpumap.c (slots that start empty),
// queue_stack_maps.c, bloom_filter.c, lpm_trie.c, arraymap.c's perf event
// array and stackmap.c. Errno values are the kernel's, negated.
#include "map_kinds.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <fstream>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace bpfkit::vm {

namespace {

using isa::MapType;

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

uint64_t round8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

std::string as_string(std::span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// devmap, xskmap and cpumap: u32-indexed slots that start empty; a program
// may read a present slot (devmap, xskmap) but never write one.
class SlotMap final : public Map {
 public:
  explicit SlotMap(const isa::MapSpec& spec)
      : Map(spec, round8(spec.value_size) * spec.max_entries), present_(spec.max_entries, false) {}

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
    if (type() == MapType::XskMap) {  // xsk_map_update_elem
      if (present_[index] && flags == kBpfNoExist) return -kEEXIST;
      if (!present_[index] && flags == kBpfExist) return -kENOENT;
    } else if (flags == kBpfNoExist) {  // dev_map_update_elem, cpu_map_update_elem: slots always "exist"
      return -kEEXIST;
    }
    std::memmove(slot(index).data(), value.data(), value.size());
    // A cpumap entry of queue size 0 removes the CPU.
    present_[index] = type() != MapType::CpuMap || load_u32(value.data()) != 0;
    return 0;
  }
  int do_erase(std::span<const uint8_t> key) override {
    const uint32_t index = load_u32(key.data());
    if (index >= spec_.max_entries) return -kEINVAL;
    present_[index] = false;
    return 0;
  }

 private:
  std::span<uint8_t> slot(uint32_t index) {
    return {storage_.data() + index * round8(spec_.value_size), spec_.value_size};
  }
  std::vector<bool> present_;
};

// Queue (FIFO) and stack (LIFO) of at most max_entries values, no keys.
// Values are copied in and out, never pointed to: the region stays empty.
class QueueMap final : public Map {
 public:
  explicit QueueMap(const isa::MapSpec& spec) : Map(spec, 0) {}

  std::vector<Entry> entries() override {  // oldest first
    std::vector<Entry> out;
    for (std::vector<uint8_t>& value : values_) out.push_back(Entry{{}, value});
    return out;
  }

  int push_errno(std::span<const uint8_t> value, uint64_t flags) override {
    if ((flags & kBpfNoExist) != 0 || flags > kBpfExist) return -kEINVAL;
    if (value.size() != spec_.value_size) return -kEINVAL;
    if (values_.size() == spec_.max_entries) {
      if (flags != kBpfExist) return -kE2BIG;
      values_.pop_front();  // BPF_EXIST overwrites the oldest, in both kinds
    }
    values_.emplace_back(value.begin(), value.end());
    return 0;
  }
  int pop_errno(std::span<uint8_t> out) override { return take(out, true); }
  int peek_errno(std::span<uint8_t> out) override { return take(out, false); }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t>) override { return {}; }
  int do_update(std::span<const uint8_t>, std::span<const uint8_t> value, uint64_t flags) override {
    return push_errno(value, flags);
  }
  int do_erase(std::span<const uint8_t>) override { return -kEINVAL; }

 private:
  int take(std::span<uint8_t> out, bool remove) {
    if (values_.empty()) return -kENOENT;
    const bool fifo = type() == MapType::Queue;
    std::vector<uint8_t>& value = fifo ? values_.front() : values_.back();
    std::memcpy(out.data(), value.data(), std::min(out.size(), value.size()));
    if (remove) fifo ? values_.pop_front() : values_.pop_back();
    return 0;
  }
  std::deque<std::vector<uint8_t>> values_;  // oldest first
};

// Bloom filter: push adds a value, peek answers 0 ("maybe there") or
// -ENOENT ("certainly not"). Kept as an exact set: a filter with no false
// positives, which is one the kernel's could be (its hash seed is random).
class BloomFilter final : public Map {
 public:
  explicit BloomFilter(const isa::MapSpec& spec) : Map(spec, 0) {}

  std::vector<Entry> entries() override { return {}; }  // user space cannot list a filter

  int push_errno(std::span<const uint8_t> value, uint64_t flags) override {
    if (flags != kBpfAny || value.size() != spec_.value_size) return -kEINVAL;
    values_.insert(as_string(value));
    return 0;
  }
  int pop_errno(std::span<uint8_t>) override { return -kEOPNOTSUPP; }
  int peek_errno(std::span<uint8_t> value) override { return values_.contains(as_string(value)) ? 0 : -kENOENT; }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t>) override { return {}; }
  int do_update(std::span<const uint8_t>, std::span<const uint8_t> value, uint64_t flags) override {
    return push_errno(value, flags);
  }
  int do_erase(std::span<const uint8_t>) override { return -kEOPNOTSUPP; }

 private:
  std::unordered_set<std::string> values_;
};

// Longest-prefix-match trie. A key is a u32 prefix length (host order) and
// data_size bytes read most significant bit first. An entry is found by its
// prefix (the first prefixlen bits); a lookup answers the entry with the
// longest prefix that is no longer than the key's and matches it. Entries
// are indexed by (length, masked prefix), so a lookup tries each length
// present, longest first. Values live in slots of the map's region.
class LpmTrie final : public Map {
 public:
  explicit LpmTrie(const isa::MapSpec& spec)
      : Map(spec, 0), data_size_(spec.key_size - 4), max_prefixlen_(data_size_ * 8) {}

  // In the kernel's get_next_key order (post-order: a prefix after the more
  // specific ones under it, the 0 branch first).
  std::vector<Entry> entries() override {
    std::vector<uint32_t> slots;
    for (uint32_t s = 0; s < keys_.size(); ++s)
      if (!keys_[s].empty()) slots.push_back(s);
    std::sort(slots.begin(), slots.end(), [&](uint32_t a, uint32_t b) { return post_order(keys_[a], keys_[b]); });
    std::vector<Entry> out;
    for (uint32_t s : slots) out.push_back(Entry{std::vector<uint8_t>(keys_[s].begin(), keys_[s].end()), slot(s)});
    return out;
  }

 protected:
  std::span<uint8_t> do_lookup(std::span<const uint8_t> key) override {
    const uint32_t limit = std::min(load_u32(key.data()), max_prefixlen_);
    for (auto it = lengths_.lower_bound(limit); it != lengths_.end(); ++it) {  // longest first
      auto found = index_.find(masked(key, *it));
      if (found != index_.end()) return slot(found->second);
    }
    return {};
  }
  int do_update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) override {
    const uint32_t prefixlen = load_u32(key.data());
    if (prefixlen > max_prefixlen_) return -kEINVAL;
    const std::string k = masked(key, prefixlen);
    auto it = index_.find(k);
    if (it != index_.end()) {
      if (flags == kBpfNoExist) return -kEEXIST;
      keys_[it->second] = as_string(key);  // the kernel's new node keeps the key as given
      std::memmove(slot(it->second).data(), value.data(), value.size());
      return 0;
    }
    if (flags == kBpfExist) return -kENOENT;
    if (index_.size() == spec_.max_entries) return -kENOSPC;
    const std::vector<uint8_t> copy(value.begin(), value.end());  // the value may live in this map
    const uint32_t s = take_slot();
    keys_[s] = as_string(key);
    index_.emplace(k, s);
    ++count_[prefixlen];
    lengths_.insert(prefixlen);
    std::memcpy(slot(s).data(), copy.data(), copy.size());
    return 0;
  }
  int do_erase(std::span<const uint8_t> key) override {
    const uint32_t prefixlen = load_u32(key.data());
    if (prefixlen > max_prefixlen_) return -kEINVAL;
    auto it = index_.find(masked(key, prefixlen));
    if (it == index_.end()) return -kENOENT;
    keys_[it->second].clear();
    free_.push_back(it->second);
    index_.erase(it);
    if (--count_[prefixlen] == 0) lengths_.erase(prefixlen);
    return 0;
  }

 private:
  static bool bit(std::string_view key, uint32_t n) {  // bit n of the data, most significant first
    return (static_cast<uint8_t>(key[4 + n / 8]) >> (7 - n % 8)) & 1;
  }
  static uint32_t prefixlen_of(std::string_view key) { return load_u32(reinterpret_cast<const uint8_t*>(key.data())); }
  // a before b in the trie's post-order: where one prefix holds the other,
  // the longer comes first; else the first differing bit decides.
  static bool post_order(std::string_view a, std::string_view b) {
    const uint32_t la = prefixlen_of(a), lb = prefixlen_of(b);
    for (uint32_t n = 0; n < std::min(la, lb); ++n)
      if (bit(a, n) != bit(b, n)) return !bit(a, n);
    return la > lb;
  }
  // The prefix length and the data's first `length` bits, the rest zero.
  std::string masked(std::span<const uint8_t> key, uint32_t length) const {
    std::string out(4 + data_size_, '\0');
    std::memcpy(out.data(), &length, 4);
    for (uint32_t byte = 0; byte * 8 < length; ++byte) {
      const uint32_t bits = std::min<uint32_t>(8, length - byte * 8);
      out[4 + byte] = static_cast<char>(key[4 + byte] & static_cast<uint8_t>(0xff00u >> bits));
    }
    return out;
  }
  std::span<uint8_t> slot(uint32_t s) { return {storage_.data() + s * round8(spec_.value_size), spec_.value_size}; }
  uint32_t take_slot() {
    if (!free_.empty()) {
      const uint32_t s = free_.back();
      free_.pop_back();
      return s;
    }
    const auto s = static_cast<uint32_t>(keys_.size());
    keys_.emplace_back();
    const uint64_t stride = round8(spec_.value_size);
    const uint64_t needed = (uint64_t{s} + 1) * stride;
    if (needed > storage_.size())
      grow_storage(std::min(std::max(needed, 2 * static_cast<uint64_t>(storage_.size())), stride * spec_.max_entries));
    return s;
  }

  uint32_t data_size_, max_prefixlen_;
  std::unordered_map<std::string, uint32_t> index_;  // masked key -> slot
  std::vector<std::string> keys_;                    // each slot's key as given; empty when free
  std::vector<uint32_t> free_;
  std::unordered_map<uint32_t, uint32_t> count_;  // entries per prefix length
  std::set<uint32_t, std::greater<>> lengths_;    // prefix lengths present, longest first
};

// The kernel's jhash2 (include/linux/jhash.h) over u32 words: stack ids.
uint32_t rol32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
uint32_t jhash2(std::span<const uint32_t> words, uint32_t initval) {
  uint32_t a, b, c;
  a = b = c = 0xdeadbeefu + (static_cast<uint32_t>(words.size()) << 2) + initval;
  size_t i = 0, length = words.size();
  auto mix = [&] {
    a -= c, a ^= rol32(c, 4), c += b;
    b -= a, b ^= rol32(a, 6), a += c;
    c -= b, c ^= rol32(b, 8), b += a;
    a -= c, a ^= rol32(c, 16), c += b;
    b -= a, b ^= rol32(a, 19), a += c;
    c -= b, c ^= rol32(b, 4), b += a;
  };
  while (length > 3) {
    a += words[i], b += words[i + 1], c += words[i + 2];
    mix();
    length -= 3, i += 3;
  }
  switch (length) {
    case 3: c += words[i + 2]; [[fallthrough]];
    case 2: b += words[i + 1]; [[fallthrough]];
    case 1:
      a += words[i];
      c ^= b, c -= rol32(b, 14);
      a ^= c, a -= rol32(c, 11);
      b ^= a, b -= rol32(a, 25);
      c ^= b, c -= rol32(b, 16);
      a ^= c, a -= rol32(c, 4);
      b ^= a, b -= rol32(a, 14);
      c ^= b, c -= rol32(b, 24);
      break;
    default: break;
  }
  return c;
}

uint64_t buckets_of(uint32_t max_entries) {  // roundup_pow_of_two
  uint64_t n = 1;
  while (n < max_entries) n <<= 1;
  return n;
}

}  // namespace

uint32_t possible_cpus() {
  // "0-3" or "0,2-5": the highest CPU number, plus one.
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  if (in && std::getline(in, text) && !text.empty()) {
    uint32_t highest = 0, number = 0;
    bool digits = false;
    for (char c : text + ",") {
      if (c >= '0' && c <= '9') {
        number = number * 10 + static_cast<uint32_t>(c - '0');
        digits = true;
      } else {
        if (digits) highest = std::max(highest, number);
        number = 0;
        digits = false;
      }
    }
    return highest + 1;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// ---- Perf event array ------------------------------------------------------------

PerfEventArray::PerfEventArray(const isa::MapSpec& spec)
    : Map(spec, 4 * uint64_t{spec.max_entries}), present_(spec.max_entries, false) {}

void PerfEventArray::output(uint32_t cpu, std::span<const uint8_t> record) {
  records_.emplace_back(cpu, std::vector<uint8_t>(record.begin(), record.end()));
}

void PerfEventArray::attach_readers() {
  for (uint32_t i = 0; i < spec_.max_entries; ++i) {
    std::memcpy(storage_.data() + 4 * i, &i, 4);
    present_[i] = true;
  }
}

std::vector<std::pair<uint32_t, std::vector<uint8_t>>> PerfEventArray::drain() { return std::move(records_); }

std::vector<Map::Entry> PerfEventArray::entries() {
  std::vector<Entry> out;
  for (uint32_t i = 0; i < spec_.max_entries; ++i)
    if (present_[i]) out.push_back(Entry{u32_bytes(i), {storage_.data() + 4 * i, 4}});
  return out;
}

std::span<uint8_t> PerfEventArray::do_lookup(std::span<const uint8_t>) { return {}; }  // fds are not readable

// fd_array_map: BPF_ANY only; delete of an empty slot is -ENOENT.
int PerfEventArray::do_update(std::span<const uint8_t> key, std::span<const uint8_t> value, uint64_t flags) {
  const uint32_t index = load_u32(key.data());
  if (flags != kBpfAny) return -kEINVAL;
  if (index >= spec_.max_entries) return -kE2BIG;
  std::memcpy(storage_.data() + 4 * index, value.data(), 4);
  present_[index] = true;
  return 0;
}

int PerfEventArray::do_erase(std::span<const uint8_t> key) {
  const uint32_t index = load_u32(key.data());
  if (index >= spec_.max_entries) return -kE2BIG;
  if (!present_[index]) return -kENOENT;
  present_[index] = false;
  return 0;
}

// ---- Stack trace ---------------------------------------------------------------------

StackTraceMap::StackTraceMap(const isa::MapSpec& spec)
    : Map(spec, uint64_t{spec.value_size} * buckets_of(spec.max_entries)),
      present_(buckets_of(spec.max_entries), false) {}

int64_t StackTraceMap::store(std::span<const uint64_t> ips, bool reuse) {
  const size_t depth = std::min<size_t>(ips.size(), spec_.value_size / 8);
  if (depth == 0) return -kEFAULT;
  std::vector<uint32_t> words(depth * 2);
  std::memcpy(words.data(), ips.data(), depth * 8);
  const uint32_t id = jhash2(words, 0) & (static_cast<uint32_t>(present_.size()) - 1);
  uint8_t* bucket = storage_.data() + uint64_t{id} * spec_.value_size;
  if (present_[id] && std::memcmp(bucket, ips.data(), depth * 8) == 0) return id;
  if (present_[id] && !reuse) return -kEEXIST;
  std::memset(bucket, 0, spec_.value_size);
  std::memcpy(bucket, ips.data(), depth * 8);
  present_[id] = true;
  return id;
}

std::vector<Map::Entry> StackTraceMap::entries() {
  std::vector<Entry> out;
  for (uint32_t i = 0; i < present_.size(); ++i)
    if (present_[i])
      out.push_back(Entry{u32_bytes(i), {storage_.data() + uint64_t{i} * spec_.value_size, spec_.value_size}});
  return out;
}

std::span<uint8_t> StackTraceMap::do_lookup(std::span<const uint8_t> key) {
  const uint32_t id = load_u32(key.data());
  if (id >= present_.size() || !present_[id]) return {};
  return {storage_.data() + uint64_t{id} * spec_.value_size, spec_.value_size};
}

int StackTraceMap::do_update(std::span<const uint8_t>, std::span<const uint8_t>, uint64_t) {
  return -kEINVAL;  // stack_map_update_elem: only bpf_get_stackid fills the map
}

int StackTraceMap::do_erase(std::span<const uint8_t> key) {
  const uint32_t id = load_u32(key.data());
  if (id >= present_.size()) return -kEINVAL;
  if (!present_[id]) return -kENOENT;
  present_[id] = false;
  return 0;
}

namespace detail {

std::unique_ptr<Map> make_slot_map(const isa::MapSpec& spec) { return std::make_unique<SlotMap>(spec); }
std::unique_ptr<Map> make_queue_map(const isa::MapSpec& spec) { return std::make_unique<QueueMap>(spec); }
std::unique_ptr<Map> make_bloom_filter(const isa::MapSpec& spec) { return std::make_unique<BloomFilter>(spec); }
std::unique_ptr<Map> make_lpm_trie(const isa::MapSpec& spec) { return std::make_unique<LpmTrie>(spec); }

}  // namespace detail

}  // namespace bpfkit::vm
