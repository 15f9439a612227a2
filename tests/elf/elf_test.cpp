// The ELF loader: objects that clang-19 compiles at test time (skipped
// without it), malformed objects made by mutating a good one, and a
// deterministic mutation loop that must never crash.
#include "bpfkit/elf.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <set>

#include "elf_object_builder.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

using elf::EbpfObject;

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

constexpr const char* kPrelude = R"(
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
typedef unsigned int u32;
typedef unsigned long long u64;
struct bpf_map_def { u32 type, key_size, value_size, max_entries, map_flags; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_trace_printk)(const char *fmt, u32 size, ...) = (void *)6;
char _license[] SEC("license") = "GPL";
)";

// Compiles `source` with clang-19; nullopt if clang-19 is missing.
std::optional<std::vector<uint8_t>> compile(const std::string& source) {
  static const auto clang = test::find_tool({"clang-19"});
  if (!clang) return std::nullopt;
  test::TempDir dir;
  const auto c = dir.path() / "prog.c", o = dir.path() / "prog.o";
  std::ofstream(c) << kPrelude << source;
  const auto result = test::run_merged(*clang + " -O2 -g -target bpf -mcpu=v3 -c " + c.string() + " -o " + o.string());
  EXPECT_EQ(result.status, 0) << result.output;
  return test::read_bytes(o);
}

#define COMPILE_OR_SKIP(var, source)                      \
  auto var##_bytes = compile(source);                     \
  if (!var##_bytes) GTEST_SKIP() << "clang-19 not found"; \
  auto var = EbpfObject::parse(*var##_bytes, "test.o");   \
  ASSERT_TRUE(var.has_value()) << to_string(var.error())

const isa::MapSpec* map_named(const elf::ObjectInfo& info, std::string_view name) {
  for (const auto& m : info.maps)
    if (m.name == name) return &m;
  return nullptr;
}

size_t map_index(const elf::ObjectInfo& info, std::string_view name) {
  for (size_t i = 0; i < info.maps.size(); ++i)
    if (info.maps[i].name == name) return i;
  return SIZE_MAX;
}

std::vector<size_t> lddws_with_src(const std::vector<isa::Slot>& code, uint8_t src) {
  std::vector<size_t> out;
  for (size_t pc = 0; pc < code.size(); ++pc)
    if (code[pc].code == isa::info(isa::Op::lddw).code) {
      if (code[pc].src() == src) out.push_back(pc);
      ++pc;
    }
  return out;
}

TEST(ElfObject, LegacyMaps) {
  COMPILE_OR_SKIP(obj, R"(
struct bpf_map_def SEC("maps") counts = { .type = 2, .key_size = 4, .value_size = 8, .max_entries = 16 };
struct bpf_map_def SEC("maps") table = { .type = 1, .key_size = 8, .value_size = 16, .max_entries = 64, .map_flags = 1 };
SEC("xdp") int prog(void *ctx) {
  u32 k = 0; u64 k2 = 1;
  u64 *v = bpf_map_lookup_elem(&counts, &k);
  void *w = bpf_map_lookup_elem(&table, &k2);
  return (v ? 1 : 0) + (w ? 2 : 0);
}
)");
  const auto& info = obj->info();
  EXPECT_EQ(info.license, "GPL");
  ASSERT_EQ(info.maps.size(), 2u);
  EXPECT_EQ(info.maps[0].name, "counts");
  EXPECT_EQ(info.maps[0].type, 2u);
  EXPECT_EQ(info.maps[0].key_size, 4u);
  EXPECT_EQ(info.maps[0].value_size, 8u);
  EXPECT_EQ(info.maps[0].max_entries, 16u);
  EXPECT_EQ(info.maps[1].name, "table");
  EXPECT_EQ(info.maps[1].flags, 1u);
  EXPECT_EQ(info.maps[1].max_entries, 64u);
  auto prog = obj->default_program();
  ASSERT_TRUE(prog.has_value()) << to_string(prog.error());
  EXPECT_EQ((*prog)->section, "xdp");
  EXPECT_EQ((*prog)->function, "prog");
  auto linked = obj->load_program(**prog);
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  const auto pcs = lddws_with_src(linked->slots, isa::kPseudoMapIdx);
  ASSERT_EQ(pcs.size(), 2u);
  std::set<int32_t> imms{linked->slots[pcs[0]].imm, linked->slots[pcs[1]].imm};
  EXPECT_EQ(imms, (std::set<int32_t>{0, 1}));
  EXPECT_EQ(linked->maps.size(), 2u);
  EXPECT_TRUE(isa::decode(std::span<const isa::Slot>(linked->slots)).has_value());
}

TEST(ElfObject, BtfMaps) {
  COMPILE_OR_SKIP(obj, R"(
struct key { u32 a; u64 b; char c[6]; };
struct {
  __uint(type, 2);
  __type(key, u32);
  __type(value, u64);
  __uint(max_entries, 8);
} arr SEC(".maps");
struct {
  __uint(type, 1);
  __type(key, struct key);
  __uint(value_size, 12);
  __uint(max_entries, 1024);
  __uint(map_flags, 1);
} hash SEC(".maps");
SEC("tc") int prog(void *ctx) {
  u32 k = 0; struct key hk = {};
  u64 *v = bpf_map_lookup_elem(&arr, &k);
  void *w = bpf_map_lookup_elem(&hash, &hk);
  return (v ? 1 : 0) + (w ? 2 : 0);
}
)");
  const auto& info = obj->info();
  const auto* arr = map_named(info, "arr");
  const auto* hash = map_named(info, "hash");
  ASSERT_NE(arr, nullptr);
  ASSERT_NE(hash, nullptr);
  EXPECT_EQ(arr->type, 2u);
  EXPECT_EQ(arr->key_size, 4u);
  EXPECT_EQ(arr->value_size, 8u);
  EXPECT_EQ(arr->max_entries, 8u);
  EXPECT_EQ(hash->type, 1u);
  EXPECT_EQ(hash->key_size, 24u);  // u32, pad, u64, char[6], pad
  EXPECT_EQ(hash->value_size, 12u);
  EXPECT_EQ(hash->max_entries, 1024u);
  EXPECT_EQ(hash->flags, 1u);
  auto linked = obj->load_program(info.programs.at(0));
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  const auto pcs = lddws_with_src(linked->slots, isa::kPseudoMapIdx);
  ASSERT_EQ(pcs.size(), 2u);
  EXPECT_EQ(linked->slots[pcs[0]].imm, static_cast<int32_t>(map_index(info, "arr")));
  EXPECT_EQ(linked->slots[pcs[1]].imm, static_cast<int32_t>(map_index(info, "hash")));

  // A damaged .BTF: bad magic, then an unknown kind in the first type record.
  auto reader = elf::Reader::parse(*obj_bytes);
  ASSERT_TRUE(reader.has_value());
  const auto* btf = reader->find(".BTF");
  ASSERT_NE(btf, nullptr);
  auto bytes = *obj_bytes;
  bytes[btf->offset] = 0;
  auto bad = EbpfObject::parse(bytes);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::BadHeader);
  EXPECT_EQ(bad.error().location.offset, btf->offset);
  bytes = *obj_bytes;
  uint32_t hdr_len, type_off;
  std::memcpy(&hdr_len, bytes.data() + btf->offset + 4, 4);
  std::memcpy(&type_off, bytes.data() + btf->offset + 8, 4);
  const uint64_t first_info = btf->offset + hdr_len + type_off + 4;
  bytes[first_info + 3] = 0x1f;  // kind 31
  bad = EbpfObject::parse(bytes);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::Unsupported);
  EXPECT_EQ(bad.error().location.offset, first_info);
}

TEST(ElfObject, GlobalData) {
  COMPILE_OR_SKIP(obj, R"(
const volatile u32 limit = 7;
u64 counter = 5;
u64 zeroes[4];
u64 *counter_ptr SEC(".data.ptrs") = &counter;
SEC("xdp") int prog(void *ctx) {
  counter += limit;
  zeroes[2] = *counter_ptr;
  bpf_trace_printk("hello %d\n", 10, limit);
  return 0;
}
)");
  const auto& info = obj->info();
  const auto* rodata = map_named(info, ".rodata");
  const auto* data = map_named(info, ".data");
  const auto* bss = map_named(info, ".bss");
  ASSERT_NE(rodata, nullptr);
  ASSERT_NE(data, nullptr);
  ASSERT_NE(bss, nullptr);
  EXPECT_TRUE(rodata->read_only);
  EXPECT_FALSE(data->read_only);
  EXPECT_EQ(data->type, 2u);
  EXPECT_EQ(data->key_size, 4u);
  EXPECT_EQ(data->max_entries, 1u);
  EXPECT_EQ(data->value_size, 8u);
  ASSERT_EQ(data->initial.size(), 8u);
  EXPECT_EQ(data->initial[0], 5);
  EXPECT_EQ(bss->value_size, 32u);
  EXPECT_TRUE(bss->initial.empty());  // no bytes in the file: the VM zeroes the value
  bool has_string = false;            // the format string is in .rodata or .rodata.str1.1
  for (const auto& m : info.maps)
    if (m.read_only && m.initial.size() >= 10 && std::memcmp(m.initial.data(), "hello %d\n", 10) == 0)
      has_string = true;
  EXPECT_TRUE(has_string);
  // Code and data relocations are listed; those of .BTF and .debug_* are not.
  auto noted = [&](std::string_view section, uint64_t offset, std::string_view type, std::string_view symbol) {
    for (const auto& r : info.relocations)
      if (r.section == section && r.offset == offset && r.type == type && r.symbol == symbol) return true;
    return false;
  };
  EXPECT_TRUE(noted("xdp", 0, "R_BPF_64_64", "limit"));
  EXPECT_TRUE(noted(".data.ptrs", 0, "R_BPF_64_ABS64", "counter"));
  for (const auto& r : info.relocations) EXPECT_NE(r.section.substr(0, 4), ".BTF") << r.section;
  for (const auto& r : info.relocations) EXPECT_NE(r.section.substr(0, 6), ".debug") << r.section;
  ASSERT_NE(map_named(info, ".data.ptrs"), nullptr);
  EXPECT_EQ(map_named(info, ".data.ptrs")->value_size, 8u);
  auto linked = obj->load_program(info.programs.at(0));
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  // The program carries the object's maps and global data, by index, and
  // the pointers to write into them.
  EXPECT_EQ(linked->maps.size(), info.maps.size());
  for (size_t i = 0; i < info.maps.size() && i < linked->maps.size(); ++i) {
    EXPECT_EQ(linked->maps[i].name, info.maps[i].name);
    EXPECT_EQ(linked->maps[i].initial, info.maps[i].initial);
  }
  EXPECT_EQ(linked->data_relocations, info.data_relocations);
  EXPECT_FALSE(linked->data_relocations.empty());
  EXPECT_EQ(linked->dialect, &isa::kLinuxV4);
  EXPECT_EQ(linked->entry, 0u);
  EXPECT_EQ(linked->ops.size(), linked->slots.size());
  const auto pcs = lddws_with_src(linked->slots, isa::kPseudoMapIdxValue);
  std::set<std::pair<int32_t, int32_t>> refs;
  for (size_t pc : pcs) refs.insert({linked->slots[pc].imm, linked->slots[pc + 1].imm});
  EXPECT_TRUE(refs.count({static_cast<int32_t>(map_index(info, ".data")), 0}));
  EXPECT_TRUE(refs.count({static_cast<int32_t>(map_index(info, ".bss")), 0}));  // zeroes; [2] is the store's off
  EXPECT_TRUE(refs.count({static_cast<int32_t>(map_index(info, ".rodata")), 0}));
  EXPECT_TRUE(refs.count({static_cast<int32_t>(map_index(info, ".rodata.str1.1")), 0}));
}

// As libbpf creates maps for the program it loads: only the maps its code
// names, with the inner maps their `.values` name; a map only another
// program uses (here of a type bpfkit lacks) is not there.
TEST(ElfObject, OnlyTheProgramsMapsAreLinked) {
  COMPILE_OR_SKIP(obj, R"(
#define __array(name, val) typeof(val) *name[]
struct inner { __uint(type, 2); __uint(max_entries, 1); __type(key, u32); __type(value, u64); };
struct inner unused_inner SEC(".maps"), used_inner SEC(".maps");
struct { __uint(type, 12); __uint(max_entries, 2); __type(key, u32); __array(values, struct inner); }
  outer SEC(".maps") = {.values = {[1] = &used_inner}};
struct { __uint(type, 15); __uint(max_entries, 1); __type(key, u32); __type(value, u32); } socks SEC(".maps");
SEC("xdp") int first(void *ctx) { u32 k = 1; return bpf_map_lookup_elem(&outer, &k) != 0; }
SEC("xdp") int second(void *ctx) { u32 k = 0; return bpf_map_lookup_elem(&socks, &k) != 0; }
)");
  const auto& info = obj->info();
  const isa::MapSpec* outer = map_named(info, "outer");
  ASSERT_NE(outer, nullptr);
  ASSERT_NE(outer->inner, nullptr);  // from __array(values, struct inner)
  EXPECT_EQ(outer->inner->type, 2u);
  EXPECT_EQ(outer->inner->value_size, 8u);
  EXPECT_EQ(outer->value_size, 4u);
  ASSERT_EQ(outer->initial_maps.size(), 1u);
  EXPECT_EQ(outer->initial_maps[0],
            (std::pair<uint32_t, uint32_t>{1, static_cast<uint32_t>(map_index(info, "used_inner"))}));
  auto first = obj->find_program("", "first");
  ASSERT_TRUE(first.has_value());
  auto linked = obj->load_program(**first);
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  std::vector<std::string> names;
  for (const isa::MapSpec& m : linked->maps) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{"used_inner", "outer"}));
  ASSERT_EQ(linked->maps[1].initial_maps.size(), 1u);
  EXPECT_EQ(linked->maps[1].initial_maps[0], (std::pair<uint32_t, uint32_t>{1, 0}));  // renumbered
  const auto pcs = lddws_with_src(linked->slots, isa::kPseudoMapIdx);
  ASSERT_EQ(pcs.size(), 1u);
  EXPECT_EQ(linked->slots[pcs[0]].imm, 1);  // outer, as renumbered
  auto second = obj->find_program("", "second");
  ASSERT_TRUE(second.has_value());
  auto other = obj->load_program(**second);
  ASSERT_TRUE(other.has_value());
  ASSERT_EQ(other->maps.size(), 1u);
  EXPECT_EQ(other->maps[0].name, "socks");
}

// iproute2's legacy struct bpf_elf_map: a map of maps takes the map whose
// id is its inner_id as its inner map, which goes in slot inner_idx.
TEST(ElfObject, LegacyInnerMaps) {
  COMPILE_OR_SKIP(obj, R"(
struct bpf_elf_map { u32 type, size_key, size_value, max_elem, flags, id, pinning, inner_id, inner_idx; };
struct bpf_elf_map SEC("maps") inner = {.type = 2, .size_key = 4, .size_value = 8, .max_elem = 1, .id = 42,
                                         .inner_idx = 3};
struct bpf_elf_map SEC("maps") outer = {.type = 12, .size_key = 4, .size_value = 4, .max_elem = 4, .inner_id = 42};
SEC("xdp") int prog(void *ctx) { u32 k = 3; return bpf_map_lookup_elem(&outer, &k) != 0; }
)");
  const isa::MapSpec* outer = map_named(obj->info(), "outer");
  ASSERT_NE(outer, nullptr);
  ASSERT_NE(outer->inner, nullptr);
  EXPECT_EQ(outer->inner->value_size, 8u);
  ASSERT_EQ(outer->initial_maps.size(), 1u);
  EXPECT_EQ(outer->initial_maps[0].first, 3u);
  EXPECT_EQ(outer->initial_maps[0].second, map_index(obj->info(), "inner"));
  auto linked = obj->load_program(obj->info().programs.at(0));
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  EXPECT_EQ(linked->maps.size(), 2u);  // the inner map comes along
}

// Target of the local call at pc, checked to be the start of `callee`.
int64_t call_target(const std::vector<isa::Slot>& code, size_t pc) { return int64_t(pc) + 1 + code[pc].imm; }

TEST(ElfObject, SubprogramsAreAppended) {
  COMPILE_OR_SKIP(obj, R"(
__attribute__((noinline)) int helper_in_text(int x) { return x * 3 + 1; }
static __attribute__((noinline)) int static_helper(int x) { return x ^ 0x55; }
SEC("xdp") int prog(void *ctx) {
  long v = (long)ctx;
  return helper_in_text((int)v) + static_helper((int)v);
}
)");
  const auto& info = obj->info();
  auto prog = obj->find_program("xdp", "");
  ASSERT_TRUE(prog.has_value()) << to_string(prog.error());
  auto linked = obj->load_program(**prog);
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  const auto& code = linked->slots;
  EXPECT_GT(code.size(), (*prog)->slots);
  std::vector<int64_t> targets;
  for (size_t pc = 0; pc < (*prog)->slots; ++pc)
    if (isa::lookup(code[pc]) == isa::Op::call_local) targets.push_back(call_target(code, pc));
  ASSERT_EQ(targets.size(), 2u);
  for (int64_t t : targets) {
    EXPECT_GE(t, (*prog)->slots);  // in an appended copy
    EXPECT_LT(t, static_cast<int64_t>(code.size()));
  }
  EXPECT_NE(targets[0], targets[1]);
  // helper_in_text is a global .text function: also a program, and the copy matches it.
  auto helper = obj->find_program(".text", "helper_in_text");
  ASSERT_TRUE(helper.has_value()) << to_string(helper.error());
  auto alone = obj->load_program(**helper);
  ASSERT_TRUE(alone.has_value());
  bool found = false;
  for (int64_t t : targets)
    if (t + alone->slots.size() <= code.size() &&
        std::equal(alone->slots.begin(), alone->slots.end(), code.begin() + t))
      found = true;
  EXPECT_TRUE(found);
  EXPECT_TRUE(isa::decode(std::span<const isa::Slot>(code)).has_value());
  EXPECT_GE(info.relocations.size(), 1u);
}

// A static function in the program's own section is called pc-relative with
// no relocation; a callback's address is an lddw relocated against .text.
TEST(ElfObject, SameSectionCallAndFunctionAddress) {
  COMPILE_OR_SKIP(obj, R"(
static long (*bpf_loop)(u32 n, void *cb, void *ctx, u64 flags) = (void *)181;
static __attribute__((noinline)) long callback(u32 i, void *ctx) { return i > 2; }
static __attribute__((noinline, section("xdp"))) int local(int x) { return x * 7; }
SEC("xdp") int prog(void *ctx) {
  long v = (long)ctx;
  return local((int)v) + bpf_loop(4, callback, 0, 0);
}
)");
  auto prog = obj->find_program("xdp", "prog");
  ASSERT_TRUE(prog.has_value()) << to_string(prog.error());
  auto linked = obj->load_program(**prog);
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  const auto& code = linked->slots;
  const auto funcs = lddws_with_src(code, 4);
  ASSERT_EQ(funcs.size(), 1u);
  const int64_t callback_at = call_target(code, funcs[0]);
  EXPECT_GE(callback_at, (*prog)->slots);
  EXPECT_LT(callback_at, static_cast<int64_t>(code.size()));
  int calls = 0;
  for (size_t pc = 0; pc < (*prog)->slots; ++pc)
    if (isa::lookup(code[pc]) == isa::Op::call_local) {
      ++calls;
      EXPECT_GE(call_target(code, pc), (*prog)->slots);
      EXPECT_NE(call_target(code, pc), callback_at);
    }
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(isa::decode(std::span<const isa::Slot>(code)).has_value());
}

TEST(ElfObject, TwoProgramsNeedAChoice) {
  COMPILE_OR_SKIP(obj, R"(
SEC("xdp") int xdp_pass(void *ctx) { return 2; }
SEC("tc") int tc_drop(void *ctx) { return 2; }
)");
  auto prog = obj->default_program();
  ASSERT_FALSE(prog.has_value());
  EXPECT_EQ(prog.error().message, "2 programs: xdp/xdp_pass, tc/tc_drop; pick one with --section or --function");
  auto tc = obj->find_program("", "tc_drop");
  ASSERT_TRUE(tc.has_value());
  EXPECT_EQ((*tc)->section, "tc");
  EXPECT_FALSE(obj->find_program("kprobe", "").has_value());
}

// ---- Malformed objects ------------------------------------------------------------

class Malformed : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bytes = compile(R"(
struct bpf_map_def SEC("maps") counts = { .type = 2, .key_size = 4, .value_size = 8, .max_entries = 16 };
__attribute__((noinline)) int sub(int x) { return x + 1; }
SEC("xdp") int prog(void *ctx) { u32 k = 0; return bpf_map_lookup_elem(&counts, &k) ? sub(1) : 0; }
)");
    if (!bytes) GTEST_SKIP() << "clang-19 not found";
    good = *bytes;
    auto reader = elf::Reader::parse(good);
    ASSERT_TRUE(reader.has_value()) << to_string(reader.error());
    sections = reader->sections();
    symbols = reader->symbols();
    ASSERT_TRUE(EbpfObject::parse(good).has_value());
  }

  template <class T>
  T get(uint64_t at) const {
    T v;
    std::memcpy(&v, good.data() + at, sizeof v);
    return v;
  }
  template <class T>
  static void put(std::vector<uint8_t>& bytes, uint64_t at, T v) {
    std::memcpy(bytes.data() + at, &v, sizeof v);
  }
  uint64_t shoff() const { return get<uint64_t>(0x28); }
  uint64_t header(uint32_t i) const { return shoff() + uint64_t{i} * 64; }
  const elf::SectionHeader& named(std::string_view name) const {
    for (const auto& s : sections)
      if (s.name == name) return s;
    ADD_FAILURE() << "no section " << name;
    return sections[0];
  }

  // Parses `bytes` as an eBPF object and links every program; expects `code`.
  static void expect(const std::vector<uint8_t>& bytes, Errc code, const char* what) {
    auto obj = EbpfObject::parse(bytes, "bad.o");
    Error error = obj ? Error{} : obj.error();
    if (obj)
      for (const auto& p : obj->info().programs)
        if (auto linked = obj->load_program(p); !linked) {
          error = linked.error();
          break;
        }
    ASSERT_FALSE(obj.has_value() && error.message.empty()) << what << ": accepted";
    EXPECT_EQ(error.code, code) << what << ": " << to_string(error);
    EXPECT_TRUE(error.location.offset.has_value()) << what << ": " << to_string(error);
  }

  std::vector<uint8_t> good;
  std::vector<elf::SectionHeader> sections;
  std::vector<elf::SymbolEntry> symbols;
};

TEST_F(Malformed, Header) {
  expect(std::vector<uint8_t>(good.begin(), good.begin() + 40), Errc::Truncated, "truncated header");
  auto b = good;
  put<uint64_t>(b, 0x28, good.size() + 8);
  expect(b, Errc::Truncated, "e_shoff past end");
  b = good;
  put<uint16_t>(b, 0x3c, 0xfff0);
  expect(b, Errc::Truncated, "e_shnum huge");
  auto error = elf::Reader::parse(b).error();
  EXPECT_EQ(error.message, "section header table (offset " + hex(shoff()) +
                               ", 65520 entries of 64 bytes) runs past the end of the file (" + hex(good.size()) +
                               " bytes)");
  EXPECT_EQ(error.location.offset, 0x28u);
  b = good;
  put<uint16_t>(b, 0x3e, 0x7000);
  expect(b, Errc::OutOfRange, "e_shstrndx");
  b = good;
  put<uint16_t>(b, 0x12, 62);
  expect(b, Errc::BadHeader, "e_machine");
  b = good;
  b[4] = 1;
  expect(b, Errc::BadHeader, "ELFCLASS32");
  b = good;
  put<uint16_t>(b, 0x3a, 40);
  expect(b, Errc::BadHeader, "e_shentsize");
}

TEST_F(Malformed, Sections) {
  const auto& text = named(".text");
  auto b = good;
  put<uint64_t>(b, header(text.index) + 24, good.size() - 4);
  expect(b, Errc::Truncated, "section offset past end");
  b = good;
  put<uint32_t>(b, header(text.index), 0x7fffffff);
  expect(b, Errc::OutOfRange, "sh_name");
  // The section name table's last byte is its terminating NUL.
  const auto& shstrtab = sections[get<uint16_t>(0x3e)];
  b = good;
  b[shstrtab.offset + shstrtab.size - 1] = 'x';
  expect(b, Errc::Truncated, "string without NUL");
  b = good;
  const auto& xdp = named("xdp");
  put<uint64_t>(b, header(xdp.index) + 24, text.offset);
  put<uint64_t>(b, header(xdp.index) + 32, std::max<uint64_t>(xdp.size, 8));
  expect(b, Errc::BadHeader, "overlapping sections");
}

TEST_F(Malformed, Symbols) {
  const auto& symtab = named(".symtab");
  auto b = good;
  put<uint64_t>(b, header(symtab.index) + 56, 16);
  expect(b, Errc::BadHeader, "symtab entsize");
  b = good;
  put<uint16_t>(b, symtab.offset + 24 + 6, 0x4000);
  expect(b, Errc::OutOfRange, "st_shndx");
}

TEST_F(Malformed, MapsAndBtf) {
  const auto& maps = named("maps");
  const auto& symtab = named(".symtab");
  uint32_t counts = 0;
  for (uint32_t i = 0; i < symbols.size(); ++i)
    if (symbols[i].name == "counts") counts = i;
  ASSERT_NE(counts, 0u);
  auto b = good;
  put<uint64_t>(b, symtab.offset + counts * 24 + 8, maps.size - 4);  // st_value: the def runs past `maps`
  expect(b, Errc::OutOfRange, "map definition past its section");
  const auto& btf = named(".BTF");
  b = good;
  put<uint16_t>(b, btf.offset, 0x1234);
  auto bad_magic = EbpfObject::parse(b);  // .BTF is read only for `.maps`: this object has none
  EXPECT_TRUE(bad_magic.has_value());
}

TEST_F(Malformed, Relocations) {
  const auto& rel = named(".relxdp");
  auto b = good;
  put<uint32_t>(b, rel.offset + 12, 0x10000);
  expect(b, Errc::OutOfRange, "relocation symbol index");
  b = good;
  put<uint64_t>(b, rel.offset, named("xdp").size);
  expect(b, Errc::OutOfRange, "relocation offset past section end");
  b = good;
  put<uint64_t>(b, header(rel.index) + 56, 24);
  expect(b, Errc::BadHeader, "relocation entsize");
}

// Every byte of the ELF header and of the section table set to a few values:
// errors are fine, crashes are not (run under ASan by scripts/test --sanitize).
TEST_F(Malformed, MutationsNeverCrash) {
  std::vector<uint64_t> positions;
  for (uint64_t i = 0; i < 64; ++i) positions.push_back(i);
  for (uint64_t i = shoff(); i < good.size() && i < shoff() + sections.size() * 64; ++i) positions.push_back(i);
  const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
  size_t accepted = 0;
  for (uint64_t at : positions)
    for (uint8_t v : values) {
      auto b = good;
      b[at] = v;
      auto obj = EbpfObject::parse(b);
      if (!obj) continue;
      ++accepted;
      for (const auto& p : obj->info().programs) obj->load_program(p).ignore();
      obj->default_program().ignore();
    }
  EXPECT_GT(accepted, 0u);
}

// ---- Hostile objects (issue 16), built by hand -------------------------------------

using isa::Op;
using test::ObjectBuilder;

const isa::Slot kExit = isa::encode(Op::exit);
isa::Slot call_local(int32_t imm) { return isa::encode(Op::call_local, 0, 1, 0, imm); }

// Section 1: `xdp` with the program `prog` (r0 = 0; exit).
void xdp_program(ObjectBuilder& b) {
  const uint32_t xdp = b.code("xdp", {isa::encode(Op::mov64_imm), kExit});
  b.symbol("prog", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(xdp), 0, 16);
}

// Two executable sections named .text: functions are matched by section
// index, so a call into the 2-slot one never copies the 100-slot one's size.
TEST(HostileObject, TwoSectionsNamedText) {
  ObjectBuilder b;
  const uint32_t small = b.code(".text", {kExit, call_local(-2)});
  const uint32_t big = b.code(".text", std::vector<isa::Slot>(100, kExit));
  b.symbol("prog", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(small), 8, 8);
  b.symbol("big", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(big), 0, 800);
  auto obj = EbpfObject::parse(b.build());
  ASSERT_TRUE(obj.has_value()) << to_string(obj.error());
  auto prog = obj->find_program("", "prog");
  ASSERT_TRUE(prog.has_value()) << to_string(prog.error());
  EXPECT_EQ((*prog)->section_index, small);
  auto linked = obj->load_program(**prog);
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  ASSERT_EQ(linked->slots.size(), 2u);  // the call, then the one-slot piece it calls
  EXPECT_EQ(linked->slots[0].imm, 0);
  EXPECT_EQ(linked->slots[1], kExit);
  ASSERT_EQ(linked->functions.size(), 1u);  // the piece it calls has no symbol
  EXPECT_EQ(linked->functions[0].name, "prog");
  EXPECT_EQ(linked->functions[0].start, 0u);
  EXPECT_EQ(linked->functions[0].size, 1u);
}

// Function boundaries survive link(): each placed function's name, first
// slot and size in the linked code.
TEST(HostileObject, LinkedFunctionsKeepTheirBoundaries) {
  ObjectBuilder b;
  // .text: helper_a (2 slots), helper_b (1 slot); xdp: prog calls b, then a.
  const uint32_t text = b.code(".text", {isa::encode(Op::mov64_imm, 0, 0, 0, 1), kExit, kExit});
  b.symbol("helper_a", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(text), 0, 16);
  b.symbol("helper_b", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(text), 16, 8);
  const uint32_t xdp = b.code("xdp", {call_local(-1), call_local(-1), kExit});
  b.symbol("prog", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(xdp), 0, 24);
  const uint32_t b_sym = 2, a_sym = 1;
  b.relocations(xdp, {{0, elf::r_info(b_sym, elf::kRBpf64_32)}, {8, elf::r_info(a_sym, elf::kRBpf64_32)}});
  auto obj = EbpfObject::parse(b.build());
  ASSERT_TRUE(obj.has_value()) << to_string(obj.error());
  auto prog = obj->find_program("xdp", "");
  ASSERT_TRUE(prog.has_value()) << to_string(prog.error());
  auto linked = obj->load_program(**prog);
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  ASSERT_EQ(linked->slots.size(), 6u);
  ASSERT_EQ(linked->functions.size(), 3u);
  const std::pair<std::string_view, std::pair<uint32_t, uint32_t>> want[] = {
      {"prog", {0, 3}}, {"helper_b", {3, 1}}, {"helper_a", {4, 2}}};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(linked->functions[i].name, want[i].first);
    EXPECT_EQ(linked->functions[i].start, want[i].second.first) << want[i].first;
    EXPECT_EQ(linked->functions[i].size, want[i].second.second) << want[i].first;
  }
  EXPECT_EQ(linked->slots[0].imm, 2);  // prog -> helper_b at 3
  EXPECT_EQ(linked->slots[1].imm, 2);  // prog -> helper_a at 4
  EXPECT_EQ(linked->function_at(5)->name, "helper_a");
}

// A linked program that does not decode is refused with the decoder's error
// and the input's name.
TEST(HostileObject, LoadProgramDecodesTheLinkedCode) {
  ObjectBuilder b;
  const uint32_t xdp = b.code("xdp", {isa::Slot{0xff, 0, 0, 0}, kExit});
  b.symbol("prog", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(xdp), 0, 16);
  auto obj = EbpfObject::parse(b.build(), "bad.o");
  ASSERT_TRUE(obj.has_value()) << to_string(obj.error());
  auto program = obj->load_program(obj->info().programs.at(0));
  ASSERT_FALSE(program.has_value());
  EXPECT_EQ(program.error().code, Errc::BadOpcode);
  EXPECT_EQ(program.error().location.pc, 0u);
  EXPECT_EQ(program.error().location.input, "bad.o");
}

// Every name points at one long string: names are views into the file, never
// copies, and map names (which are copies) have a total bound.
TEST(HostileObject, NamesSharingOneLongString) {
  ObjectBuilder b;
  xdp_program(b);
  const uint32_t shared = b.name(std::string(1 << 16, 'x'));
  for (int i = 0; i < 2000; ++i) b.symbol(shared, elf::kStbLocal, elf::kSttNotype, 1, 0);
  const auto bytes = b.build();
  auto reader = elf::Reader::parse(bytes);
  ASSERT_TRUE(reader.has_value()) << to_string(reader.error());
  const auto& symbols = reader->symbols();
  ASSERT_EQ(symbols.size(), 2002u);
  EXPECT_EQ(symbols[2].name.size(), size_t{1} << 16);
  EXPECT_EQ(symbols[2].name.data(), symbols[2001].name.data());  // one string, not 2,000 copies
  EXPECT_TRUE(EbpfObject::parse(bytes).has_value());

  // 300 map definitions named by that 64 KiB string: 19 MB of map names.
  ObjectBuilder maps;
  xdp_program(maps);
  const uint32_t long_name = maps.name(std::string(1 << 16, 'm'));
  const uint32_t section =
      maps.section({"maps", elf::kShtProgbits, elf::kShfAlloc | elf::kShfWrite, std::vector<uint8_t>(300 * 20)});
  for (uint64_t i = 0; i < 300; ++i)
    maps.symbol(long_name, elf::kStbGlobal, elf::kSttObject, static_cast<uint16_t>(section), i * 20, 20);
  auto obj = EbpfObject::parse(maps.build(), "names.o");
  ASSERT_FALSE(obj.has_value());
  EXPECT_EQ(obj.error().code, Errc::Unsupported);
  EXPECT_NE(obj.error().message.find("map names exceed 0x1000000 bytes"), std::string::npos) << obj.error().message;
}

// Each slot calls the one before it: every piece is placed once, so the
// linked program is as long as the section (not N * N / 2 slots).
TEST(HostileObject, ChainOfCallsLinksInLinearSize) {
  constexpr uint32_t kSlots = 20000;
  std::vector<isa::Slot> code(kSlots, call_local(-2));
  code[0] = kExit;
  ObjectBuilder b;
  const uint32_t xdp = b.code("xdp", code);
  b.symbol("prog", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(xdp), (kSlots - 1) * 8, 8);
  auto obj = EbpfObject::parse(b.build());
  ASSERT_TRUE(obj.has_value()) << to_string(obj.error());
  auto linked = obj->load_program(obj->info().programs.at(0));
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  ASSERT_EQ(linked->slots.size(), kSlots);
  // The program first, then the piece [0, kSlots - 1) it calls into, at its last slot.
  EXPECT_EQ(linked->slots[0].imm, static_cast<int32_t>(kSlots - 2));
  EXPECT_TRUE(isa::decode(std::span<const isa::Slot>(linked->slots)).has_value());
}

// Three symbols name one bpf_map_def: one map, which every alias refers to.
TEST(HostileObject, MapAliasesShareOneMap) {
  ObjectBuilder b;
  std::vector<isa::Slot> code;
  for (int i = 0; i < 3; ++i) {
    const auto lddw = isa::encode_lddw(1, 0);
    code.insert(code.end(), lddw.begin(), lddw.end());
  }
  code.push_back(kExit);
  const uint32_t xdp = b.code("xdp", code);
  b.symbol("prog", elf::kStbGlobal, elf::kSttFunc, static_cast<uint16_t>(xdp), 0, code.size() * 8);
  const uint32_t def[5] = {2, 4, 8, 16, 0};
  std::vector<uint8_t> bytes(sizeof def);
  std::memcpy(bytes.data(), def, sizeof def);
  const uint32_t maps = b.section({"maps", elf::kShtProgbits, elf::kShfAlloc | elf::kShfWrite, bytes});
  std::vector<elf::Rel> relocations;
  for (uint32_t i = 0; i < 3; ++i) {
    const uint32_t sym =
        b.symbol("alias" + std::to_string(i), elf::kStbGlobal, elf::kSttObject, static_cast<uint16_t>(maps), 0, 20);
    relocations.push_back({i * 16, elf::r_info(sym, elf::kRBpf64_64)});
  }
  b.relocations(xdp, relocations);
  auto obj = EbpfObject::parse(b.build());
  ASSERT_TRUE(obj.has_value()) << to_string(obj.error());
  ASSERT_EQ(obj->info().maps.size(), 1u);
  EXPECT_EQ(obj->info().maps[0].name, "alias0");
  EXPECT_EQ(obj->info().maps[0].max_entries, 16u);
  auto linked = obj->load_program(obj->info().programs.at(0));
  ASSERT_TRUE(linked.has_value()) << to_string(linked.error());
  EXPECT_EQ(lddws_with_src(linked->slots, isa::kPseudoMapIdx), (std::vector<size_t>{0, 2, 4}));
  for (size_t pc : {0, 2, 4}) EXPECT_EQ(linked->slots[pc].imm, 0);
}

// .bss sections cost no bytes at parse time, and their sizes have one total
// bound, reported against the section that crosses it.
TEST(HostileObject, BssSizesAreBoundedInAll) {
  auto bss = [](ObjectBuilder& b, std::string name, uint64_t size) {
    b.section({std::move(name), elf::kShtNobits, elf::kShfAlloc | elf::kShfWrite, {}, size});
  };
  ObjectBuilder one;
  xdp_program(one);
  bss(one, ".bss.big", uint64_t{1} << 26);
  auto obj = EbpfObject::parse(one.build());
  ASSERT_TRUE(obj.has_value()) << to_string(obj.error());
  ASSERT_EQ(obj->info().maps.size(), 1u);
  EXPECT_EQ(obj->info().maps[0].value_size, uint32_t{1} << 26);
  EXPECT_TRUE(obj->info().maps[0].initial.empty());

  ObjectBuilder many;
  xdp_program(many);
  for (int i = 0; i < 100; ++i) bss(many, ".bss." + std::to_string(i), uint64_t{1} << 25);
  auto refused = EbpfObject::parse(many.build(), "bss.o");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::Unsupported);
  EXPECT_NE(refused.error().message.find("global data section '.bss.2' sh_size 0x2000000 brings the object's "
                                         "global data past 0x4000000 bytes"),
            std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(refused.error().location.offset.has_value());
}

// A .maps DATASEC of 65,535 entries naming one STRUCT of 65,535 members (1.5
// MB): each definition is read once, and the entries, one variable, make one map.
// Raw BTF for hand-made objects: a string table and type records as u32 words.
struct BtfBuilder {
  std::vector<uint8_t> strings = {0};
  std::vector<uint32_t> types;

  uint32_t str(std::string_view text) {
    const auto at = static_cast<uint32_t>(strings.size());
    strings.insert(strings.end(), text.begin(), text.end());
    strings.push_back(0);
    return at;
  }
  void type(uint32_t name, uint32_t kind, uint32_t vlen, uint32_t size_or_type) {
    types.insert(types.end(), {name, kind << 24 | vlen, size_or_type});
  }
  std::vector<uint8_t> bytes() const {
    const uint32_t header[6] = {0x0001eb9f,
                                24,
                                0,
                                static_cast<uint32_t>(types.size() * 4),
                                static_cast<uint32_t>(types.size() * 4),
                                static_cast<uint32_t>(strings.size())};
    std::vector<uint8_t> out(sizeof header + types.size() * 4 + strings.size());
    std::memcpy(out.data(), header, sizeof header);
    std::memcpy(out.data() + sizeof header, types.data(), types.size() * 4);
    std::copy(strings.begin(), strings.end(),
              out.begin() + static_cast<std::ptrdiff_t>(sizeof header + types.size() * 4));
    return out;
  }
};

TEST(HostileObject, BtfDatasecOfOneLargeStruct) {
  constexpr uint32_t kCount = 65535;
  BtfBuilder raw;
  raw.type(raw.str("int"), 1, 0, 4);  // [1] int
  raw.types.push_back(32);
  raw.type(0, 3, 0, 0);  // [2] int[16]: __uint(max_entries, 16) is a pointer to it
  raw.types.insert(raw.types.end(), {1, 1, 16});
  raw.type(0, 2, 0, 2);                    // [3] PTR to [2]
  raw.type(raw.str("def"), 4, kCount, 8);  // [4] the struct: max_entries, then padding
  raw.types.insert(raw.types.end(), {raw.str("max_entries"), 3, 0});
  const uint32_t pad = raw.str("pad");
  for (uint32_t i = 1; i < kCount; ++i) raw.types.insert(raw.types.end(), {pad, 1, 0});
  raw.type(raw.str("counts"), 14, 0, 4);  // [5] VAR counts of [4]
  raw.types.push_back(1);
  raw.type(raw.str(".maps"), 15, kCount, 8);  // [6] DATASEC: every entry is [5]
  for (uint32_t i = 0; i < kCount; ++i) raw.types.insert(raw.types.end(), {5, 0, 8});
  const std::vector<uint8_t> btf = raw.bytes();

  ObjectBuilder b;
  xdp_program(b);
  const uint32_t maps =
      b.section({".maps", elf::kShtProgbits, elf::kShfAlloc | elf::kShfWrite, std::vector<uint8_t>(8)});
  b.section({".BTF", elf::kShtProgbits, 0, btf});
  b.symbol("counts", elf::kStbGlobal, elf::kSttObject, static_cast<uint16_t>(maps), 0, 8);
  auto obj = EbpfObject::parse(b.build());
  ASSERT_TRUE(obj.has_value()) << to_string(obj.error());
  ASSERT_EQ(obj->info().maps.size(), 1u);
  EXPECT_EQ(obj->info().maps[0].name, "counts");
  EXPECT_EQ(obj->info().maps[0].max_entries, 16u);
}

// A `.kconfig` extern's size comes from BTF: a char array of 1 GiB must be
// refused (the kernel's array map value limit), not allocated. fuzz_elf
// found the allocation as a timeout.
TEST(HostileObject, KconfigExternOfAGibibyteIsRefused) {
  BtfBuilder raw;
  raw.type(raw.str("char"), 1, 0, 1);  // [1] char: INT, 8 bits, BTF_INT_CHAR
  raw.types.push_back(2u << 24 | 8);
  raw.type(0, 3, 0, 0);  // [2] char[1 GiB]
  raw.types.insert(raw.types.end(), {1, 1, 1u << 30});
  raw.type(raw.str("CONFIG_HUGE"), 14, 0, 2);  // [3] VAR of [2], extern
  raw.types.push_back(2);
  raw.type(raw.str(".kconfig"), 15, 1, 0);  // [4] DATASEC with [3]
  raw.types.insert(raw.types.end(), {3, 0, 1u << 30});
  const std::vector<uint8_t> btf = raw.bytes();

  ObjectBuilder b;
  xdp_program(b);
  b.section({".BTF", elf::kShtProgbits, 0, btf});
  b.symbol("CONFIG_HUGE", elf::kStbGlobal, elf::kSttNotype, 0, 0, 0);
  auto obj = EbpfObject::parse(b.build());
  ASSERT_FALSE(obj.has_value());
  EXPECT_EQ(obj.error().code, Errc::LimitExceeded) << to_string(obj.error());
  EXPECT_NE(to_string(obj.error()).find("CONFIG_HUGE"), std::string::npos) << to_string(obj.error());
}

}  // namespace
}  // namespace bpfkit
