// The map types beyond arrays, hashes and ring buffers, with the kernel's
// edge cases: lpm_trie's longest match, queue and stack full and empty,
// bloom filters, maps of maps (a lookup gives the inner map), devmap, xskmap,
// cpumap, fd arrays, perf event arrays sized to the CPUs, stack traces.
#include <gtest/gtest.h>

#include <cstring>

#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

using isa::MapType;
using isa::Op;
using test::Code;

isa::MapSpec spec(MapType type, uint32_t key_size, uint32_t value_size, uint32_t max_entries, std::string name = "m") {
  isa::MapSpec s;
  s.name = std::move(name);
  s.type = static_cast<uint32_t>(type);
  s.key_size = key_size;
  s.value_size = value_size;
  s.max_entries = max_entries;
  return s;
}

template <class T>
std::span<const uint8_t> bytes_of(const T& value) {
  return {reinterpret_cast<const uint8_t*>(&value), sizeof value};
}

uint32_t u32_at(std::span<const uint8_t> bytes) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof value));
  return value;
}

vm::Map& add(vm::Context& env, const isa::MapSpec& s) {
  auto index = env.add_map(s);
  EXPECT_TRUE(index.has_value()) << to_string(index.error());
  return env.map(*index);
}

int64_t r0_of(const Code& code, vm::Context& env) {
  auto program = isa::decode(code.slots);
  EXPECT_TRUE(program.has_value());
  auto interpreter = vm::Interpreter::create(*program, env);
  EXPECT_TRUE(interpreter.has_value()) << to_string(interpreter.error());
  vm::RunResult result = interpreter->run(env, {});
  EXPECT_FALSE(result.error) << to_string(*result.error);
  return static_cast<int64_t>(result.r0);
}

// An lpm key: prefix length, then 4 bytes of address, most significant first.
struct LpmKey {
  uint32_t prefixlen;
  uint8_t data[4];
};

LpmKey lpm(uint32_t prefixlen, uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {prefixlen, {a, b, c, d}}; }

isa::MapSpec lpm_spec(uint32_t max_entries) {
  isa::MapSpec s = spec(MapType::LpmTrie, 8, 4, max_entries);
  s.flags = 1;  // BPF_F_NO_PREALLOC
  return s;
}

TEST(LpmTrie, LongestPrefixWins) {
  vm::Context env;
  vm::Map& trie = add(env, lpm_spec(8));
  const uint32_t v8 = 8, v16 = 16, v24 = 24, v0 = 100;
  ASSERT_EQ(trie.update_errno(bytes_of(lpm(8, 10, 0, 0, 0)), bytes_of(v8), vm::kBpfAny), 0);
  ASSERT_EQ(trie.update_errno(bytes_of(lpm(16, 10, 1, 0, 0)), bytes_of(v16), vm::kBpfAny), 0);
  ASSERT_EQ(trie.update_errno(bytes_of(lpm(24, 10, 1, 2, 0)), bytes_of(v24), vm::kBpfAny), 0);
  EXPECT_EQ(u32_at(trie.lookup(bytes_of(lpm(32, 10, 1, 2, 3)))), 24u);
  EXPECT_EQ(u32_at(trie.lookup(bytes_of(lpm(32, 10, 1, 3, 3)))), 16u);
  EXPECT_EQ(u32_at(trie.lookup(bytes_of(lpm(32, 10, 2, 2, 3)))), 8u);
  EXPECT_TRUE(trie.lookup(bytes_of(lpm(32, 11, 1, 2, 3))).empty());
  // The key's own prefix length bounds the match.
  EXPECT_EQ(u32_at(trie.lookup(bytes_of(lpm(20, 10, 1, 2, 3)))), 16u);
  // Bits past the prefix do not matter; a /0 entry matches everything.
  ASSERT_EQ(trie.update_errno(bytes_of(lpm(0, 1, 2, 3, 4)), bytes_of(v0), vm::kBpfAny), 0);
  EXPECT_EQ(u32_at(trie.lookup(bytes_of(lpm(32, 11, 1, 2, 3)))), 100u);
  // Post-order, as get_next_key lists them: more specific first.
  std::vector<uint32_t> order;
  for (const vm::Map::Entry& e : trie.entries()) order.push_back(u32_at(e.value));
  EXPECT_EQ(order, (std::vector<uint32_t>{24, 16, 8, 100}));
}

TEST(LpmTrie, PrefixBitsNotBytes) {
  vm::Context env;
  vm::Map& trie = add(env, lpm_spec(4));
  const uint32_t v = 1;
  ASSERT_EQ(trie.update_errno(bytes_of(lpm(12, 192, 0xa0, 0, 0)), bytes_of(v), vm::kBpfAny), 0);
  EXPECT_FALSE(trie.lookup(bytes_of(lpm(32, 192, 0xaf, 9, 9))).empty());  // first 12 bits equal
  EXPECT_TRUE(trie.lookup(bytes_of(lpm(32, 192, 0x90, 9, 9))).empty());
}

TEST(LpmTrie, FlagsFullAndDelete) {
  vm::Context env;
  vm::Map& trie = add(env, lpm_spec(2));
  const uint32_t v = 7;
  EXPECT_EQ(trie.update_errno(bytes_of(lpm(33, 1, 2, 3, 4)), bytes_of(v), vm::kBpfAny), -vm::kEINVAL);
  EXPECT_EQ(trie.update_errno(bytes_of(lpm(8, 1, 0, 0, 0)), bytes_of(v), vm::kBpfExist), -vm::kENOENT);
  EXPECT_EQ(trie.update_errno(bytes_of(lpm(8, 1, 0, 0, 0)), bytes_of(v), vm::kBpfNoExist), 0);
  EXPECT_EQ(trie.update_errno(bytes_of(lpm(8, 1, 9, 9, 9)), bytes_of(v), vm::kBpfNoExist), -vm::kEEXIST);
  EXPECT_EQ(trie.update_errno(bytes_of(lpm(16, 1, 1, 0, 0)), bytes_of(v), vm::kBpfAny), 0);
  EXPECT_EQ(trie.update_errno(bytes_of(lpm(24, 1, 1, 1, 0)), bytes_of(v), vm::kBpfAny), -vm::kENOSPC);
  EXPECT_EQ(trie.update_errno(bytes_of(lpm(16, 1, 1, 0, 0)), bytes_of(v), vm::kBpfExist), 0);  // replace when full
  EXPECT_EQ(trie.erase_errno(bytes_of(lpm(24, 1, 1, 0, 0))), -vm::kENOENT);                    // exact prefix only
  EXPECT_EQ(trie.erase_errno(bytes_of(lpm(16, 1, 1, 0, 0))), 0);
  EXPECT_EQ(u32_at(trie.lookup(bytes_of(lpm(32, 1, 1, 0, 0)))), 7u);  // the /8 is left
  isa::MapSpec prealloc = lpm_spec(2);
  prealloc.flags = 0;
  EXPECT_FALSE(env.add_map(prealloc).has_value());
}

TEST(QueueStack, FifoLifoFullAndEmpty) {
  vm::Context env;
  vm::Map& queue = add(env, spec(MapType::Queue, 0, 4, 2));
  vm::Map& stack = add(env, spec(MapType::Stack, 0, 4, 2));
  for (vm::Map* map : {&queue, &stack}) {
    uint32_t out = 0;
    EXPECT_EQ(map->pop_errno({reinterpret_cast<uint8_t*>(&out), 4}), -vm::kENOENT);
    EXPECT_EQ(map->peek_errno({reinterpret_cast<uint8_t*>(&out), 4}), -vm::kENOENT);
    EXPECT_EQ(map->push_errno(bytes_of(uint32_t{1}), vm::kBpfAny), 0);
    EXPECT_EQ(map->push_errno(bytes_of(uint32_t{2}), vm::kBpfAny), 0);
    EXPECT_EQ(map->push_errno(bytes_of(uint32_t{3}), vm::kBpfAny), -vm::kE2BIG);
    EXPECT_EQ(map->push_errno(bytes_of(uint32_t{3}), vm::kBpfNoExist), -vm::kEINVAL);
    EXPECT_EQ(map->push_errno(bytes_of(uint32_t{3}), vm::kBpfExist), 0);  // drops the oldest (1)
    EXPECT_EQ(map->peek_errno({reinterpret_cast<uint8_t*>(&out), 4}), 0);
    EXPECT_EQ(out, map == &queue ? 2u : 3u);
    EXPECT_EQ(map->pop_errno({reinterpret_cast<uint8_t*>(&out), 4}), 0);
    EXPECT_EQ(out, map == &queue ? 2u : 3u);
    EXPECT_EQ(map->pop_errno({reinterpret_cast<uint8_t*>(&out), 4}), 0);
    EXPECT_EQ(out, map == &queue ? 3u : 2u);
    EXPECT_TRUE(map->lookup({}).empty());
    EXPECT_EQ(map->erase_errno({}), -vm::kEINVAL);
  }
  // User space's update with no key pushes.
  EXPECT_TRUE(queue.update({}, bytes_of(uint32_t{9})).has_value());
  EXPECT_EQ(queue.entries().size(), 1u);
  EXPECT_FALSE(env.add_map(spec(MapType::Queue, 4, 4, 2)).has_value());  // key_size must be 0
}

TEST(QueueStack, HelpersFromPrograms) {
  vm::Context env;
  add(env, spec(MapType::Queue, 0, 8, 1));
  // push 42 twice (the second: -E2BIG), pop into the stack, return value + errno.
  Code code;
  code.add(Op::stdw, 10, 0, -8, 42);
  code.lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10).add(Op::add64_imm, 2, 0, 0, -8).mov(3, 0).call(87);
  code.lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10).add(Op::add64_imm, 2, 0, 0, -8).mov(3, 0).call(87);
  code.add(Op::mov64_reg, 6, 0);
  code.add(Op::stdw, 10, 0, -16, 0);
  code.lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10).add(Op::add64_imm, 2, 0, 0, -16).call(88);
  code.add(Op::ldxdw, 0, 10, -16).add(Op::add64_reg, 0, 6).exit();
  EXPECT_EQ(r0_of(code, env), 42 - vm::kE2BIG);
  Code empty;
  empty.lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10).add(Op::add64_imm, 2, 0, 0, -8).call(89).exit();
  EXPECT_EQ(r0_of(empty, env), -vm::kENOENT);
}

TEST(BloomFilter, NoFalsePositivesInSmallCases) {
  vm::Context env;
  vm::Map& bloom = add(env, spec(MapType::BloomFilter, 0, 4, 16));
  for (uint32_t v = 0; v < 16; v += 2) ASSERT_EQ(bloom.push_errno(bytes_of(v), vm::kBpfAny), 0);
  for (uint32_t v = 0; v < 32; ++v) {
    uint32_t probe = v;
    const int expected = v < 16 && v % 2 == 0 ? 0 : -vm::kENOENT;
    EXPECT_EQ(bloom.peek_errno({reinterpret_cast<uint8_t*>(&probe), 4}), expected) << v;
    EXPECT_EQ(probe, v);  // peek reads the value, never writes it
  }
  EXPECT_EQ(bloom.push_errno(bytes_of(uint32_t{1}), vm::kBpfExist), -vm::kEINVAL);
  uint32_t out = 0;
  EXPECT_EQ(bloom.pop_errno({reinterpret_cast<uint8_t*>(&out), 4}), -vm::kEOPNOTSUPP);
  isa::MapSpec bad = spec(MapType::BloomFilter, 0, 4, 16);
  bad.map_extra = 16;
  EXPECT_FALSE(env.add_map(bad).has_value());
}

TEST(MapOfMaps, LookupGivesTheInnerMap) {
  vm::Context env;
  isa::MapSpec inner_shape = spec(MapType::Array, 4, 8, 2, "inner");
  isa::MapSpec outer = spec(MapType::ArrayOfMaps, 4, 4, 4, "outer");
  outer.inner = std::make_shared<isa::MapSpec>(inner_shape);
  const uint32_t outer_index = *env.add_map(outer);
  const uint32_t inner_index = *env.add_map(inner_shape);
  const uint64_t forty_two = 42;
  ASSERT_TRUE(env.map(inner_index).update(bytes_of(uint32_t{1}), bytes_of(forty_two)).has_value());
  ASSERT_TRUE(env.set_inner_map(outer_index, 3, inner_index).has_value());
  // inner = lookup(outer, 3); value = lookup(inner, 1); return *value.
  Code code;
  code.add(Op::stw, 10, 0, -4, 3).lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10);
  code.add(Op::add64_imm, 2, 0, 0, -4).call(1).add(Op::jeq64_imm, 0, 0, 7, 0);
  code.add(Op::stw, 10, 0, -8, 1).add(Op::mov64_reg, 1, 0).add(Op::mov64_reg, 2, 10);
  code.add(Op::add64_imm, 2, 0, 0, -8).call(1).add(Op::jeq64_imm, 0, 0, 1, 0).add(Op::ldxdw, 0, 0);
  code.exit();
  EXPECT_EQ(r0_of(code, env), 42);
  // An empty slot gives null.
  Code empty;
  empty.add(Op::stw, 10, 0, -4, 0).lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10);
  empty.add(Op::add64_imm, 2, 0, 0, -4).call(1).exit();
  EXPECT_EQ(r0_of(empty, env), 0);
  // A map of another shape is refused, as bpf_map_meta_equal refuses it.
  const uint32_t other = *env.add_map(spec(MapType::Array, 4, 4, 2, "other"));
  auto refused = env.set_inner_map(outer_index, 0, other);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("inner map shape"), std::string::npos) << refused.error().message;
  // Without an inner definition there is no map of maps.
  EXPECT_FALSE(env.add_map(spec(MapType::HashOfMaps, 4, 4, 4)).has_value());
}

TEST(DeviceMaps, SlotsStartEmptyAndKeepKernelFlags) {
  vm::Context env;
  vm::Map& devmap = add(env, spec(MapType::DevMap, 4, 4, 4));
  vm::Map& xsk = add(env, spec(MapType::XskMap, 4, 4, 4));
  vm::Map& cpumap = add(env, spec(MapType::CpuMap, 4, 4, 4));
  vm::Map& devhash = add(env, spec(MapType::DevMapHash, 4, 8, 1));
  const uint32_t k = 1, ifindex = 1;
  EXPECT_TRUE(devmap.lookup(bytes_of(k)).empty());
  EXPECT_EQ(devmap.update_errno(bytes_of(k), bytes_of(ifindex), vm::kBpfNoExist), -vm::kEEXIST);
  EXPECT_EQ(devmap.update_errno(bytes_of(uint32_t{4}), bytes_of(ifindex), vm::kBpfAny), -vm::kE2BIG);
  EXPECT_EQ(devmap.update_errno(bytes_of(k), bytes_of(ifindex), vm::kBpfAny), 0);
  EXPECT_EQ(u32_at(devmap.lookup(bytes_of(k))), 1u);
  EXPECT_EQ(devmap.erase_errno(bytes_of(uint32_t{4})), -vm::kEINVAL);
  EXPECT_EQ(devmap.erase_errno(bytes_of(k)), 0);
  EXPECT_EQ(devmap.erase_errno(bytes_of(k)), 0);  // deleting an empty slot is no error
  EXPECT_FALSE(devmap.writable_by_programs());
  EXPECT_EQ(xsk.update_errno(bytes_of(k), bytes_of(ifindex), vm::kBpfExist), -vm::kENOENT);
  EXPECT_EQ(xsk.update_errno(bytes_of(k), bytes_of(ifindex), vm::kBpfNoExist), 0);
  EXPECT_EQ(xsk.update_errno(bytes_of(k), bytes_of(ifindex), vm::kBpfNoExist), -vm::kEEXIST);
  const uint32_t qsize = 192, none = 0;
  EXPECT_EQ(cpumap.update_errno(bytes_of(k), bytes_of(qsize), vm::kBpfAny), 0);
  EXPECT_EQ(cpumap.entries().size(), 1u);
  EXPECT_EQ(cpumap.update_errno(bytes_of(k), bytes_of(none), vm::kBpfAny), 0);  // qsize 0 removes it
  EXPECT_EQ(cpumap.entries().size(), 0u);
  const uint64_t value = 1;
  EXPECT_EQ(devhash.update_errno(bytes_of(uint32_t{7}), bytes_of(value), vm::kBpfAny), 0);
  EXPECT_EQ(devhash.update_errno(bytes_of(uint32_t{8}), bytes_of(value), vm::kBpfAny), -vm::kE2BIG);
  EXPECT_FALSE(env.add_map(spec(MapType::DevMap, 4, 6, 4)).has_value());
}

TEST(FdArrays, PerfEventArraySizedToCpusAndCollectsRecords) {
  vm::Context env;
  vm::Map& events = add(env, spec(MapType::PerfEventArray, 4, 4, 0, "events"));
  EXPECT_EQ(events.spec().max_entries, vm::possible_cpus());
  EXPECT_GE(vm::possible_cpus(), 1u);
  EXPECT_TRUE(events.lookup(bytes_of(uint32_t{0})).empty());
  EXPECT_EQ(events.update_errno(bytes_of(uint32_t{0}), bytes_of(uint32_t{5}), vm::kBpfNoExist), -vm::kEINVAL);
  EXPECT_EQ(events.erase_errno(bytes_of(uint32_t{0})), -vm::kENOENT);
  vm::PerfEventArray& perf = *events.perf_event_array();
  const uint8_t record[] = {1, 2, 3};
  perf.output(0, record);
  auto records = perf.drain();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].second, std::vector<uint8_t>(record, record + 3));
  EXPECT_TRUE(perf.drain().empty());
  vm::Map& cgroups = add(env, spec(MapType::CgroupArray, 4, 4, 2));
  EXPECT_EQ(cgroups.update_errno(bytes_of(uint32_t{1}), bytes_of(uint32_t{3}), vm::kBpfAny), 0);
  EXPECT_EQ(cgroups.entries().size(), 1u);
}

TEST(StackTrace, SameStackSameIdCollisionIsEexist) {
  vm::Context env;
  vm::Map& stacks = add(env, spec(MapType::StackTrace, 4, 8 * 4, 1));  // one bucket: every stack collides
  vm::StackTraceMap& map = *stacks.stack_trace();
  const uint64_t a[] = {0x1000, 0x2000}, b[] = {0x3000};
  const int64_t id = map.store(a, false);
  ASSERT_GE(id, 0);
  EXPECT_EQ(map.store(a, false), id);
  EXPECT_EQ(map.store(b, false), -vm::kEEXIST);
  EXPECT_EQ(map.store(b, true), id);  // BPF_F_REUSE_STACKID replaces it
  const auto value = stacks.lookup(bytes_of(static_cast<uint32_t>(id)));
  ASSERT_EQ(value.size(), 32u);
  uint64_t first = 0;
  std::memcpy(&first, value.data(), 8);
  EXPECT_EQ(first, 0x3000u);
  EXPECT_EQ(stacks.erase_errno(bytes_of(static_cast<uint32_t>(id))), 0);
  EXPECT_EQ(stacks.erase_errno(bytes_of(static_cast<uint32_t>(id))), -vm::kENOENT);
  EXPECT_FALSE(env.add_map(spec(MapType::StackTrace, 4, 12, 1)).has_value());
}

}  // namespace
}  // namespace bpfkit
