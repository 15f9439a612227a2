// The helper table (Linux helpers and sBPF syscalls alike) and the default
// Linux helpers. Every pointer argument
// goes through the MemoryMap: a pointer the verifier would have refused ends
// the run with HelperFailed; a bad source for probe_read is -EFAULT, as at
// run time in the kernel.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <set>

#include "bpfkit/vm.hpp"
#include "helper_support.hpp"

namespace bpfkit::vm {

void HelperTable::add(uint32_t id, std::string name, HelperFn fn) {
  by_key_[id] = Helper{std::move(name), std::move(fn)};
}

Expected<void> HelperTable::add_syscall(std::string name, HelperFn fn) {
  const uint32_t key = isa::murmur3_32(name);
  auto it = by_key_.find(key);
  if (it != by_key_.end() && it->second.name != name) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "syscall '%s' has the key %#x of '%s'", name.c_str(), key, it->second.name.c_str());
    return make_error(Errc::BadOperand, SbpfVmErrc::SymbolHashCollision, buf);
  }
  by_key_[key] = Helper{std::move(name), std::move(fn)};
  return {};
}

void HelperTable::add(uint32_t id, HelperFn fn) { add(id, std::string(isa::helper_name(id)), std::move(fn)); }

Expected<void> HelperTable::check_calls(const isa::Program& program) const {
  std::set<uint32_t> missing;
  for (size_t pc = 0; pc < program.size(); ++pc) {
    if (!program.ops[pc]) continue;
    const isa::Semantics meaning = isa::semantics(*program.ops[pc], *program.dialect);
    const auto id = static_cast<uint32_t>(program.slots[pc].imm);
    if (meaning.call == isa::CallResolution::Helper && id != kTailCallHelper && id != isa::kCorePoisonHelper &&
        find(id) == nullptr)
      missing.insert(id);  // (a CO-RE poison fails only where it runs, as in the kernel)
  }
  if (missing.empty()) return {};
  std::string list;
  for (uint32_t id : missing) list.append(list.empty() ? "" : ", ").append(isa::describe_helper(id));
  return make_error(Errc::UnknownHelper, "the program calls helpers bpfkit does not implement: " + list);
}

const Helper* HelperTable::find(uint32_t key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &it->second;
}

std::vector<std::string> HelperTable::names() const {
  std::vector<std::string> names;
  for (const auto& [key, helper] : by_key_) names.push_back(helper.name);
  std::sort(names.begin(), names.end());
  return names;
}

HelperTable HelperTable::defaults(const isa::Dialect& dialect) {
  return dialect.family == isa::Family::Sbpf ? sbpf_defaults() : linux_defaults();
}

bool HelperCall::consume(uint64_t units) {
  if (meter == nullptr) return true;
  const bool enough = *meter >= units;
  *meter = enough ? *meter - units : 0;
  return enough;
}

uint8_t* HelperCall::translate(uint64_t addr, uint64_t size, bool write) const {
  const isa::Dialect& dialect = context.dialect();
  if (isa::frame_model(dialect).gap_size != 0 && (addr >> kRegionShift) == kStackRegion) {
    const uint64_t offset = isa::gapped_stack_offset(addr & 0xffffffffu);
    if (offset == isa::kUnmappedOffset) return nullptr;
    addr = region_base(kStackRegion) | offset;
  }
  return memory.translate(addr, size, write);
}

void HelperCall::log(std::string_view message) { context.output().log(message); }

namespace {

uint64_t negative(int err) { return static_cast<uint64_t>(static_cast<int64_t>(err)); }

// The kernel formats into a buffer of BPF_TRACE_PRINTK_SIZE (1024) bytes:
// one call prints at most 1023 characters, whatever widths the format asks.
constexpr size_t kTracePrintkSize = 1024;

// snprintf into a string of at most kTracePrintkSize - 1 characters (a
// `%99999999d` never becomes a 100 MB string). The format is built here from
// parsed parts, never taken from the program.
template <class T>
std::string printf_string(const std::string& format, T value) {
  char buf[kTracePrintkSize];
  const int n = std::snprintf(buf, sizeof buf, format.c_str(), value);
  return std::string(buf, n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1) : 0);
}

Error bad_pointer(const HelperCall& call, const char* what, uint64_t addr, uint64_t size, bool write) {
  return make_error(Errc::HelperFailed, std::string(what) + ": " + call.memory.describe_fault(addr, size, write));
}

// Guest bytes [addr, addr + size) for a pointer argument, or an Error.
Expected<std::span<uint8_t>> bytes(const HelperCall& call, const char* what, uint64_t addr, uint64_t size, bool write) {
  uint8_t* host = call.memory.translate(addr, size, write);
  if (host == nullptr) return bad_pointer(call, what, addr, size, write);
  return std::span<uint8_t>(host, size);
}

Expected<Map*> map_arg(HelperCall& call) {
  Map* map = call.context.map_by_handle(call.args[0]);
  if (map == nullptr)
    return make_error(Errc::HelperFailed, printf_string("r1 = 0x%" PRIx64 " is not a map handle", call.args[0]));
  return map;
}

Expected<uint64_t> map_lookup_elem(HelperCall& call) {
  auto map = map_arg(call);
  if (!map) return map.error();
  auto key = bytes(call, "key", call.args[1], (*map)->spec().key_size, false);
  if (!key) return key.error();
  // Programs may not look into prog arrays or ring buffers.
  const auto type = (*map)->type();
  if (type == isa::MapType::ProgArray || type == isa::MapType::RingBuf) return 0;
  std::span<uint8_t> value = (*map)->lookup(*key);
  if (value.empty()) return 0;
  if ((*map)->holds_maps()) {  // the inner map itself, as the kernel's map-in-map lookup returns it
    Map* inner = call.context.inner_map(value);
    return inner != nullptr ? inner->handle() : 0;
  }
  return (*map)->handle() + static_cast<uint64_t>(value.data() - (*map)->storage().data());
}

Expected<uint64_t> map_update_elem(HelperCall& call) {
  auto map = map_arg(call);
  if (!map) return map.error();
  const isa::MapSpec& spec = (*map)->spec();
  auto key = bytes(call, "key", call.args[1], spec.key_size, false);
  if (!key) return key.error();
  auto value = bytes(call, "value", call.args[2], spec.value_size, false);
  if (!value) return value.error();
  if ((*map)->type() == isa::MapType::ProgArray) return negative(-kEINVAL);  // only user space fills these
  if (spec.read_only) return negative(-kEPERM);
  return negative((*map)->update_errno(*key, *value, call.args[3]));
}

Expected<uint64_t> map_delete_elem(HelperCall& call) {
  auto map = map_arg(call);
  if (!map) return map.error();
  auto key = bytes(call, "key", call.args[1], (*map)->spec().key_size, false);
  if (!key) return key.error();
  if ((*map)->type() == isa::MapType::ProgArray) return negative(-kEINVAL);
  if ((*map)->spec().read_only) return negative(-kEPERM);
  return negative((*map)->erase_errno(*key));
}

// bpf_map_push_elem(map, value, flags) (queue, stack, bloom filter).
Expected<uint64_t> map_push_elem(HelperCall& call) {
  auto map = map_arg(call);
  if (!map) return map.error();
  auto value = bytes(call, "value", call.args[1], (*map)->spec().value_size, false);
  if (!value) return value.error();
  return negative((*map)->push_errno(*value, call.args[2]));
}

// bpf_map_pop_elem / bpf_map_peek_elem(map, value): the value is written
// (a bloom filter's peek reads it instead).
Expected<uint64_t> map_take_elem(HelperCall& call, bool pop) {
  auto map = map_arg(call);
  if (!map) return map.error();
  const bool bloom = (*map)->type() == isa::MapType::BloomFilter;
  auto value = bytes(call, "value", call.args[1], (*map)->spec().value_size, !bloom);
  if (!value) return value.error();
  return negative(pop ? (*map)->pop_errno(*value) : (*map)->peek_errno(*value));
}

// probe_read*(dst, size, src): the source may be anything; a bad one zeroes
// the destination and returns -EFAULT.
Expected<uint64_t> probe_read(HelperCall& call) {
  const uint64_t size = static_cast<uint32_t>(call.args[1]);
  auto dst = bytes(call, "dst", call.args[0], size, true);
  if (!dst) return dst.error();
  const uint8_t* src = call.memory.translate(call.args[2], size, false);
  if (src == nullptr) {
    std::memset(dst->data(), 0, size);
    return negative(-kEFAULT);
  }
  std::memmove(dst->data(), src, size);
  return 0;
}

// A NUL-terminated guest string of at most `limit` bytes; empty if unreadable
// (the kernel prints what it could copy, which is nothing).
std::string guest_string(const MemoryMap& memory, uint64_t addr, size_t limit) {
  std::string text;
  for (size_t i = 0; i < limit; ++i) {
    const uint8_t* p = memory.translate(addr + i, 1, false);
    if (p == nullptr) return "";
    if (*p == 0) break;
    text.push_back(static_cast<char>(*p));
  }
  return text;
}

// One conversion of bpf_trace_printk's format, after the '%'.
struct Conversion {
  std::string flags;  // "[0 +-]*[width]" as written
  int longs = 0;      // number of 'l'
  char kind = 0;      // d i u x X p s c
};

// Parses a conversion at fmt[i] (just past '%'); advances i. The accepted
// set is what the kernel's bpf_bprintf_prepare accepts.
bool parse_conversion(std::string_view fmt, size_t& i, Conversion& conv) {
  const size_t start = i;
  while (i < fmt.size() && std::strchr("0+- ", fmt[i]) != nullptr) ++i;
  while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') ++i;
  conv.flags = std::string(fmt.substr(start, i - start));
  if (conv.flags.size() > 8) return false;
  if (i < fmt.size() && (fmt[i] == 'p' || fmt[i] == 's' || fmt[i] == 'c')) {
    conv.kind = fmt[i++];
    if (conv.kind == 'p' && i < fmt.size() && fmt[i] == 'x') ++i;  // %px prints the same
    return true;
  }
  while (i < fmt.size() && fmt[i] == 'l' && conv.longs < 2) ++conv.longs, ++i;
  if (i >= fmt.size() || std::strchr("diuxX", fmt[i]) == nullptr) return false;
  conv.kind = fmt[i++];
  return true;
}

std::string format_one(const MemoryMap& memory, const Conversion& conv, uint64_t arg) {
  const std::string spec = "%" + conv.flags;
  switch (conv.kind) {
    case 's': return printf_string(spec + "s", guest_string(memory, arg, 512).c_str());
    case 'c': return printf_string(spec + "c", static_cast<int>(static_cast<unsigned char>(arg)));
    case 'p': return printf_string("0x%" PRIx64, arg);
    case 'd':
    case 'i': return printf_string(spec + PRId64, conv.longs ? static_cast<int64_t>(arg) : static_cast<int32_t>(arg));
    default: {
      const uint64_t v = conv.longs ? arg : static_cast<uint32_t>(arg);
      return printf_string(spec + (conv.kind == 'u' ? PRIu64 : conv.kind == 'x' ? PRIx64 : PRIX64), v);
    }
  }
}

// bpf_trace_printk(fmt, fmt_size, a1, a2, a3): at most three conversions;
// a bad format is -EINVAL. Prints at most 1023 characters, as the kernel's
// buffer does, and returns the bytes written.
Expected<uint64_t> trace_printk(HelperCall& call) {
  auto fmt_bytes = bytes(call, "fmt", call.args[0], static_cast<uint32_t>(call.args[1]), false);
  if (!fmt_bytes) return fmt_bytes.error();
  const char* chars = reinterpret_cast<const char*>(fmt_bytes->data());
  const void* nul = std::memchr(chars, 0, fmt_bytes->size());
  if (nul == nullptr) return negative(-kEINVAL);
  const std::string_view fmt(chars, static_cast<const char*>(nul) - chars);
  std::string out;
  int used = 0;
  for (size_t i = 0; i < fmt.size();) {
    // Past the kernel's buffer the format is still checked, but nothing is kept.
    const bool room = out.size() < kTracePrintkSize;
    if (fmt[i] != '%') {
      if (room) out.push_back(fmt[i]);
      ++i;
      continue;
    }
    if (++i < fmt.size() && fmt[i] == '%') {
      if (room) out.push_back(fmt[i]);
      ++i;
      continue;
    }
    Conversion conv;
    if (used == 3 || !parse_conversion(fmt, i, conv)) return negative(-kEINVAL);
    const uint64_t arg = call.args[2 + used++];
    if (room) out += format_one(call.memory, conv, arg);
  }
  if (out.size() > kTracePrintkSize - 1) out.resize(kTracePrintkSize - 1);
  call.context.write_output(out);
  return out.size();
}

Expected<RingBuf*> ringbuf_arg(HelperCall& call) {
  Map* map = call.context.map_by_handle(call.args[0]);
  if (map == nullptr || map->ringbuf() == nullptr)
    return make_error(Errc::HelperFailed, "r1 is not a ring buffer handle");
  return map->ringbuf();
}

constexpr uint64_t kWakeupFlags = 3;  // BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP

Expected<uint64_t> ringbuf_output(HelperCall& call) {
  auto ring = ringbuf_arg(call);
  if (!ring) return ring.error();
  auto data = bytes(call, "data", call.args[1], call.args[2], false);
  if (!data) return data.error();
  if ((call.args[3] & ~kWakeupFlags) != 0) return negative(-kEINVAL);
  const uint64_t at = (*ring)->reserve(data->size());
  if (at == 0) return negative(-kEAGAIN);
  std::memcpy(call.memory.translate(at, data->size(), true), data->data(), data->size());
  (*ring)->finish(at, false);
  return 0;
}

Expected<uint64_t> ringbuf_reserve(HelperCall& call) {
  auto ring = ringbuf_arg(call);
  if (!ring) return ring.error();
  if (call.args[2] != 0) return 0;
  return (*ring)->reserve(call.args[1]);
}

Expected<uint64_t> ringbuf_finish(HelperCall& call, bool discard) {
  Map* map = call.context.map_containing(call.args[0]);
  if (map == nullptr || map->ringbuf() == nullptr || !map->ringbuf()->finish(call.args[0], discard))
    return make_error(Errc::HelperFailed, "r1 is not a reserved ring buffer record");
  return 0;
}

}  // namespace

Expected<std::span<uint8_t>> helper_support::guest_bytes(const HelperCall& call, const char* what, uint64_t addr,
                                                         uint64_t size, bool write) {
  return bytes(call, what, addr, size, write);
}

HelperTable HelperTable::linux_defaults() {
  HelperTable registry;
  registry.add(1, map_lookup_elem);
  registry.add(2, map_update_elem);
  registry.add(3, map_delete_elem);
  registry.add(4, probe_read);
  registry.add(5, [](HelperCall&) -> Expected<uint64_t> {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  });
  registry.add(6, trace_printk);
  registry.add(7, [](HelperCall& call) -> Expected<uint64_t> { return call.context.random(); });
  registry.add(8, [](HelperCall&) -> Expected<uint64_t> { return 0; });
  registry.add(87, map_push_elem);
  registry.add(88, [](HelperCall& call) { return map_take_elem(call, true); });
  registry.add(89, [](HelperCall& call) { return map_take_elem(call, false); });
  registry.add(112, probe_read);
  registry.add(113, probe_read);
  registry.add(130, ringbuf_output);
  registry.add(131, ringbuf_reserve);
  registry.add(132, [](HelperCall& call) { return ringbuf_finish(call, false); });
  registry.add(133, [](HelperCall& call) { return ringbuf_finish(call, true); });
  helper_support::add_packet_helpers(registry);
  helper_support::add_task_helpers(registry);
  helper_support::add_event_helpers(registry);
  return registry;
}

}  // namespace bpfkit::vm
