// Maps and the map, output, probe_read and ring buffer helpers; tail calls;
// lddw src 5/6 resolution. Kernel semantics throughout (errno values, update
// flags, MAX_TAIL_CALL_CNT).
#include <gtest/gtest.h>

#include <cstring>

#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

using isa::encode;
using isa::MapType;
using isa::Op;

using test::Code;

// The program of `code`, for prog arrays.
std::shared_ptr<const isa::Program> program_of(const Code& code) {
  auto program = isa::decode(code.slots);
  EXPECT_TRUE(program.has_value()) << to_string(program.error());
  return program ? std::make_shared<isa::Program>(std::move(*program)) : nullptr;
}

Expected<vm::Interpreter> compile(const Code& code, vm::Context& env) {
  auto program = isa::decode(code.slots);
  if (!program) return program.error();
  return vm::Interpreter::create(*program, env);
}

// A fault becomes the error: these tests look at results.
Expected<vm::RunResult> run(const Code& code, vm::Context& env, std::array<uint64_t, 5> args = {}) {
  auto interpreter = compile(code, env);
  if (!interpreter) return interpreter.error();
  vm::RunResult result = interpreter->run(env, args);
  if (result.error) return *result.error;
  return result;
}

int64_t r0_of(const Code& code, vm::Context& env) {
  auto result = run(code, env);
  EXPECT_TRUE(result.has_value()) << to_string(result.error());
  return result ? static_cast<int64_t>(result->r0) : 0xdeadbeef;
}

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

uint64_t u64_at(std::span<const uint8_t> bytes) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof value));
  return value;
}

vm::Map& add(vm::Context& env, const isa::MapSpec& s) {
  auto index = env.add_map(s);
  EXPECT_TRUE(index.has_value()) << to_string(index.error());
  return env.map(*index);
}

// ---- Map semantics through the embedder API ---------------------------------

TEST(Maps, ArrayUpdateFlagsAndBounds) {
  vm::Context env;
  vm::Map& map = add(env, spec(MapType::Array, 4, 8, 4));
  const uint32_t k1 = 1, k9 = 9;
  const uint64_t v = 42;
  EXPECT_EQ(u64_at(map.lookup(bytes_of(k1))), 0u);  // arrays start zeroed and always exist
  EXPECT_EQ(map.update_errno(bytes_of(k1), bytes_of(v), vm::kBpfAny), 0);
  EXPECT_EQ(u64_at(map.lookup(bytes_of(k1))), 42u);
  EXPECT_EQ(map.update_errno(bytes_of(k1), bytes_of(v), vm::kBpfNoExist), -vm::kEEXIST);
  EXPECT_EQ(map.update_errno(bytes_of(k1), bytes_of(v), vm::kBpfExist), 0);
  EXPECT_EQ(map.update_errno(bytes_of(k9), bytes_of(v), vm::kBpfAny), -vm::kE2BIG);
  EXPECT_EQ(map.update_errno(bytes_of(k1), bytes_of(v), 7), -vm::kEINVAL);
  EXPECT_EQ(map.erase_errno(bytes_of(k1)), -vm::kEINVAL);
  EXPECT_TRUE(map.lookup(bytes_of(k9)).empty());
  EXPECT_EQ(map.entries().size(), 4u);
  EXPECT_FALSE(map.update(bytes_of(k9), bytes_of(v)).has_value());
  EXPECT_NE(map.update(bytes_of(k9), bytes_of(v)).error().message.find("E2BIG"), std::string::npos);
  // The handle is element 0's address.
  EXPECT_EQ(env.memory().translate(map.handle() + 8, 8, false), map.lookup(bytes_of(k1)).data());
}

TEST(Maps, PerCpuArrayBehavesAsOneCpu) {
  vm::Context env;
  vm::Map& map = add(env, spec(MapType::PerCpuArray, 4, 4, 2));
  const uint32_t k = 1, v = 7;
  EXPECT_TRUE(map.update(bytes_of(k), bytes_of(v)).has_value());
  EXPECT_EQ(u64_at(map.lookup(bytes_of(k))), 7u);
}

TEST(Maps, InitialContentsAndReadOnly) {
  vm::Context env;
  isa::MapSpec s = spec(MapType::Array, 4, 8, 1, ".rodata");
  s.initial = {1, 2, 3, 4, 5, 6, 7, 8};
  s.read_only = true;
  vm::Map& map = add(env, s);
  EXPECT_EQ(u64_at(map.lookup(bytes_of(uint32_t{0}))), 0x0807060504030201u);
  EXPECT_NE(env.memory().translate(map.handle(), 8, false), nullptr);
  EXPECT_EQ(env.memory().translate(map.handle(), 1, true), nullptr);
}

TEST(Maps, HashFlagsErrorsAndFull) {
  for (MapType type : {MapType::Hash, MapType::PerCpuHash}) {
    vm::Context env;
    vm::Map& map = add(env, spec(type, 8, 4, 2));
    const uint64_t a = 1, b = 2, c = 3;
    const uint32_t v = 5, w = 6;
    EXPECT_TRUE(map.lookup(bytes_of(a)).empty());
    EXPECT_EQ(map.update_errno(bytes_of(a), bytes_of(v), vm::kBpfExist), -vm::kENOENT);
    EXPECT_EQ(map.update_errno(bytes_of(a), bytes_of(v), vm::kBpfNoExist), 0);
    EXPECT_EQ(map.update_errno(bytes_of(a), bytes_of(w), vm::kBpfNoExist), -vm::kEEXIST);
    EXPECT_EQ(map.update_errno(bytes_of(a), bytes_of(w), vm::kBpfExist), 0);
    EXPECT_EQ(u64_at(map.lookup(bytes_of(a))), 6u);
    EXPECT_EQ(map.update_errno(bytes_of(b), bytes_of(v), vm::kBpfAny), 0);
    EXPECT_EQ(map.update_errno(bytes_of(c), bytes_of(v), vm::kBpfAny), -vm::kE2BIG);
    EXPECT_EQ(map.update_errno(bytes_of(a), bytes_of(v), vm::kBpfAny), 0);  // replacing works when full
    EXPECT_EQ(map.entries().size(), 2u);
    EXPECT_EQ(map.erase_errno(bytes_of(a)), 0);
    EXPECT_EQ(map.erase_errno(bytes_of(a)), -vm::kENOENT);
    EXPECT_EQ(map.update_errno(bytes_of(c), bytes_of(v), vm::kBpfAny), 0);
    EXPECT_EQ(map.update_errno(bytes_of(uint32_t{1}), bytes_of(v), vm::kBpfAny), -vm::kEINVAL);  // key size
    ASSERT_EQ(map.entries().size(), 2u);
  }
}

// Issue 16 #9: a hash map of 2^28 entries took 13.6 GB when declared. Hash
// storage grows as entries are added; what all maps of one Context may
// take when full is bounded, and a declaration past it names the map.
TEST(Maps, HashStorageGrowsWithEntries) {
  vm::Context env;
  vm::Map& map = add(env, spec(MapType::Hash, 4, 8, 1u << 20));
  EXPECT_EQ(map.storage().size(), 0u);
  std::vector<uint64_t> handles;
  for (uint32_t k = 0; k < 100; ++k) {
    const uint64_t v = k * 3;
    ASSERT_EQ(map.update_errno(bytes_of(k), bytes_of(v), vm::kBpfAny), 0);
  }
  EXPECT_GE(map.storage().size(), 100u * 8);
  EXPECT_LT(map.storage().size(), 1024u * 8);
  for (uint32_t k = 0; k < 100; ++k) EXPECT_EQ(u64_at(map.lookup(bytes_of(k))), k * 3u);
  // The region follows the storage: a program reads the values it grew into.
  const uint32_t key = 99;
  Code code;
  code.add(Op::stw, 10, 0, -4, static_cast<int32_t>(key)).lddw(1, map.handle()).add(Op::mov64_reg, 2, 10);
  code.add(Op::add64_imm, 2, 0, 0, -4).call(1).add(Op::ldxdw, 0, 0, 0).exit();
  EXPECT_EQ(r0_of(code, env), 297);
}

TEST(Maps, MapMemoryIsBoundedBeforeAllocating) {
  vm::Context env;
  auto huge = env.add_map(spec(MapType::Hash, 8, 8, 1u << 28, "huge"));
  ASSERT_FALSE(huge.has_value());
  EXPECT_NE(huge.error().message.find("'huge'"), std::string::npos) << huge.error().message;
  EXPECT_NE(huge.error().message.find("limit"), std::string::npos) << huge.error().message;
  // A 2^31-byte ring needs a 4 GiB region: refused before allocating it.
  auto ring = vm::Map::create(spec(MapType::RingBuf, 0, 0, 1u << 31, "ring"));
  ASSERT_FALSE(ring.has_value());
  EXPECT_NE(ring.error().message.find("'ring'"), std::string::npos) << ring.error().message;
  // The limit counts every map: two that fit alone do not fit together.
  vm::Context small;
  small.set_map_memory_limit(1u << 20);
  EXPECT_TRUE(small.add_map(spec(MapType::Array, 4, 8, 100000, "a")).has_value());
  auto second = small.add_map(spec(MapType::Array, 4, 8, 100000, "b"));
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("'b'"), std::string::npos) << second.error().message;
}

TEST(Maps, LruEvictsLeastRecentlyUsed) {
  for (MapType type : {MapType::LruHash, MapType::LruPerCpuHash}) {
    vm::Context env;
    vm::Map& map = add(env, spec(type, 4, 4, 3));
    for (uint32_t k = 1; k <= 3; ++k) ASSERT_EQ(map.update_errno(bytes_of(k), bytes_of(k), vm::kBpfAny), 0);
    EXPECT_FALSE(map.lookup(bytes_of(uint32_t{1})).empty());  // 1 is now the most recent; 2 the least
    const uint32_t four = 4, five = 5;
    EXPECT_EQ(map.update_errno(bytes_of(four), bytes_of(four), vm::kBpfAny), 0);
    EXPECT_TRUE(map.lookup(bytes_of(uint32_t{2})).empty());
    EXPECT_EQ(map.update_errno(bytes_of(uint32_t{3}), bytes_of(four), vm::kBpfExist), 0);  // 1 least now
    EXPECT_EQ(map.update_errno(bytes_of(five), bytes_of(five), vm::kBpfAny), 0);
    EXPECT_TRUE(map.lookup(bytes_of(uint32_t{1})).empty());
    EXPECT_FALSE(map.lookup(bytes_of(uint32_t{3})).empty());
    EXPECT_FALSE(map.lookup(bytes_of(four)).empty());
    EXPECT_FALSE(map.lookup(bytes_of(five)).empty());
  }
}

TEST(Maps, ProgArraySlots) {
  vm::Context env;
  vm::Map& map = add(env, spec(MapType::ProgArray, 4, 4, 2));
  const uint32_t k = 1, id = 0;
  EXPECT_TRUE(map.lookup(bytes_of(k)).empty());
  EXPECT_EQ(map.update_errno(bytes_of(k), bytes_of(id), vm::kBpfNoExist), -vm::kEINVAL);
  EXPECT_EQ(map.update_errno(bytes_of(k), bytes_of(id), vm::kBpfAny), 0);
  EXPECT_EQ(map.entries().size(), 1u);
  EXPECT_EQ(map.erase_errno(bytes_of(k)), 0);
  EXPECT_EQ(map.erase_errno(bytes_of(k)), -vm::kENOENT);
  EXPECT_EQ(map.erase_errno(bytes_of(uint32_t{2})), -vm::kE2BIG);
}

TEST(Maps, BadSpecsAreRefused) {
  vm::Context env;
  EXPECT_FALSE(env.add_map(spec(MapType::Array, 8, 4, 1)).has_value());
  EXPECT_FALSE(env.add_map(spec(MapType::Hash, 4, 4, 0)).has_value());
  EXPECT_FALSE(env.add_map(spec(MapType::RingBuf, 0, 0, 100)).has_value());
  EXPECT_FALSE(env.add_map(spec(static_cast<MapType>(99), 4, 4, 1)).has_value());
  EXPECT_EQ(env.map_count(), 0u);
}

TEST(Maps, UnsupportedTypesAreNamedInTheError) {
  vm::Context env;
  auto sockmap = env.add_map(spec(MapType::SockMap, 4, 4, 1));
  ASSERT_FALSE(sockmap.has_value());
  EXPECT_EQ(sockmap.error().code, Errc::Unsupported);
  EXPECT_NE(sockmap.error().message.find("sockmap (15) maps are not supported"), std::string::npos)
      << sockmap.error().message;
  auto unknown = env.add_map(spec(static_cast<MapType>(99), 4, 4, 1));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("type 99 maps are not supported"), std::string::npos)
      << unknown.error().message;
}

TEST(Maps, RingBufReserveSubmitDiscardDrain) {
  vm::Context env;
  vm::Map& map = add(env, spec(MapType::RingBuf, 0, 0, 64));
  vm::RingBuf& ring = *map.ringbuf();
  const uint64_t a = ring.reserve(4);
  const uint64_t b = ring.reserve(3);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  std::memcpy(env.memory().translate(a, 4, true), "abcd", 4);
  std::memcpy(env.memory().translate(b, 3, true), "xyz", 3);
  EXPECT_TRUE(ring.finish(b, false));
  EXPECT_TRUE(ring.drain().empty());  // a is still busy and holds b back
  EXPECT_TRUE(ring.finish(a, true));
  EXPECT_FALSE(ring.finish(a, false));  // no longer reserved
  auto records = ring.drain();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], (std::vector<uint8_t>{'x', 'y', 'z'}));
  // Full: 64 bytes hold 4 records of 8 data bytes (16 with the header).
  for (int i = 0; i < 4; ++i) ASSERT_NE(ring.reserve(8), 0u) << i;
  EXPECT_EQ(ring.reserve(1), 0u);
  EXPECT_EQ(ring.reserve(100), 0u);
}

TEST(Maps, RingBufRecordsWrapContiguously) {
  vm::Context env;
  vm::RingBuf& ring = *add(env, spec(MapType::RingBuf, 0, 0, 32)).ringbuf();
  for (int round = 0; round < 5; ++round) {
    const uint64_t at = ring.reserve(13);
    ASSERT_NE(at, 0u) << round;
    uint8_t* p = env.memory().translate(at, 13, true);
    ASSERT_NE(p, nullptr);
    for (int i = 0; i < 13; ++i) p[i] = static_cast<uint8_t>(round * 16 + i);
    ASSERT_TRUE(ring.finish(at, false));
    auto records = ring.drain();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0][12], round * 16 + 12);
  }
}

// ---- Helpers from programs ------------------------------------------------------

// r1 = map handle (lddw src 5), r2 = &key on the stack holding `key`.
Code& map_and_key(Code& code, uint32_t map_index, int32_t key) {
  code.add(Op::stw, 10, 0, -8, key).add(Op::stw, 10, 0, -4, 0);
  code.lddw(1, map_index, Op::lddw_map_idx);
  code.add(Op::mov64_reg, 2, 10).add(Op::add64_imm, 2, 0, 0, -8);
  return code;
}

TEST(MapHelpers, LookupAndStoreThroughThePointer) {
  vm::Context env;
  vm::Map& map = add(env, spec(MapType::Hash, 8, 8, 4));
  const uint64_t key = 3, value = 10;
  ASSERT_TRUE(map.update(bytes_of(key), bytes_of(value)).has_value());
  Code code;
  map_and_key(code, 0, 3).call(1);
  code.add(Op::jeq64_imm, 0, 0, 3, 0);  // null: r0 stays 0
  code.add(Op::ldxdw, 1, 0).add(Op::add64_imm, 1, 0, 0, 5).add(Op::stxdw, 0, 1);
  code.exit();
  EXPECT_NE(r0_of(code, env), 0);
  EXPECT_EQ(u64_at(map.lookup(bytes_of(key))), 15u);
  // A missing key gives null.
  Code missing;
  map_and_key(missing, 0, 4).call(1).exit();
  EXPECT_EQ(r0_of(missing, env), 0);
}

TEST(MapHelpers, UpdateAndDeleteReturnErrno) {
  vm::Context env;
  vm::Map& map = add(env, spec(MapType::Hash, 8, 8, 1));
  auto update = [&](int32_t key, int32_t flags) {
    Code code;
    map_and_key(code, 0, key);
    code.add(Op::stdw, 10, 0, -16, 77).add(Op::mov64_reg, 3, 10).add(Op::add64_imm, 3, 0, 0, -16);
    code.mov(4, flags).call(2).exit();
    return r0_of(code, env);
  };
  auto erase = [&](int32_t key) {
    Code code;
    map_and_key(code, 0, key).call(3).exit();
    return r0_of(code, env);
  };
  EXPECT_EQ(update(1, vm::kBpfExist), -vm::kENOENT);
  EXPECT_EQ(update(1, vm::kBpfNoExist), 0);
  EXPECT_EQ(update(1, vm::kBpfNoExist), -vm::kEEXIST);
  EXPECT_EQ(update(2, vm::kBpfAny), -vm::kE2BIG);
  EXPECT_EQ(update(1, 9), -vm::kEINVAL);
  EXPECT_EQ(u64_at(map.lookup(bytes_of(uint64_t{1}))), 77u);
  EXPECT_EQ(erase(1), 0);
  EXPECT_EQ(erase(1), -vm::kENOENT);
}

TEST(MapHelpers, ReadOnlyArrayRefusesProgramWrites) {
  vm::Context env;
  isa::MapSpec s = spec(MapType::Array, 4, 8, 1, ".rodata");
  s.read_only = true;
  s.initial = {9, 0, 0, 0, 0, 0, 0, 0};
  add(env, s);
  // Global data: lddw src 6 = base + offset, then load.
  EXPECT_EQ(r0_of(Code().lddw(1, 0, Op::lddw_map_idx_value).add(Op::ldxdw, 0, 1).exit(), env), 9);
  auto store = run(Code().lddw(1, 0, Op::lddw_map_idx_value).add(Op::stdw, 1, 0, 0, 1).exit(), env);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, Errc::AccessViolation);
  Code update;
  map_and_key(update, 0, 0).add(Op::mov64_reg, 3, 2).mov(4, 0).call(2).exit();
  EXPECT_EQ(r0_of(update, env), -vm::kEPERM);
}

TEST(MapHelpers, BadPointersAreCaughtNeverHostFaults) {
  vm::Context env;
  add(env, spec(MapType::Hash, 8, 8, 1));
  add(env, spec(MapType::RingBuf, 0, 0, 64));
  const uint64_t nowhere = uint64_t{77} << 32;
  auto fails = [&](Code code) {
    auto result = run(code, env);
    EXPECT_FALSE(result.has_value());
    return result.has_value() ? Errc::Io : result.error().code;
  };
  // Map handle not a map; key pointer outside every region; value pointer bad.
  EXPECT_EQ(fails(Code().lddw(1, nowhere).mov(2, 0).call(1).exit()), Errc::HelperFailed);
  EXPECT_EQ(fails(Code().lddw(1, 0, Op::lddw_map_idx).lddw(2, nowhere).call(1).exit()), Errc::HelperFailed);
  Code update;
  map_and_key(update, 0, 1).lddw(3, nowhere).mov(4, 0).call(2).exit();
  EXPECT_EQ(fails(update), Errc::HelperFailed);
  EXPECT_EQ(fails(Code().lddw(1, 0, Op::lddw_map_idx).mov(2, 8).call(3).exit()), Errc::HelperFailed);
  // A key that runs off the end of the stack.
  EXPECT_EQ(fails(Code().lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10).call(1).exit()), Errc::HelperFailed);
  // trace_printk with a bad format; ringbuf helpers with bad arguments.
  EXPECT_EQ(fails(Code().lddw(1, nowhere).mov(2, 4).call(6).exit()), Errc::HelperFailed);
  EXPECT_EQ(fails(Code().lddw(1, 1, Op::lddw_map_idx).lddw(2, nowhere).mov(3, 8).mov(4, 0).call(130).exit()),
            Errc::HelperFailed);
  EXPECT_EQ(fails(Code()
                      .lddw(1, 1, Op::lddw_map_idx)
                      .add(Op::mov64_reg, 2, 10)
                      .add(Op::add64_imm, 2, 0, 0, -8)
                      .lddw(3, ~uint64_t{0} - 4)
                      .mov(4, 0)
                      .call(130)
                      .exit()),
            Errc::HelperFailed);  // a size that would wrap the bounds check
  EXPECT_EQ(fails(Code().lddw(1, 0, Op::lddw_map_idx).mov(2, 8).mov(3, 0).call(131).exit()), Errc::HelperFailed);
  EXPECT_EQ(fails(Code().lddw(1, nowhere).mov(2, 0).call(132).exit()), Errc::HelperFailed);
  EXPECT_EQ(fails(Code().add(Op::mov64_reg, 1, 10).mov(2, 0).call(133).exit()), Errc::HelperFailed);
  // probe_read into a bad destination.
  EXPECT_EQ(
      fails(Code().lddw(1, nowhere).mov(2, 8).add(Op::mov64_reg, 3, 10).add(Op::add64_imm, 3, 0, 0, -8).call(4).exit()),
      Errc::HelperFailed);
}

TEST(MapHelpers, ProbeReadCopiesOrZeroesWithEfault) {
  for (int32_t id : {4, 112, 113}) {
    vm::Context env;
    std::vector<uint8_t> input = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint64_t in = env.map_input(input);
    Code good;
    good.add(Op::mov64_reg, 1, 10).add(Op::add64_imm, 1, 0, 0, -8).mov(2, 8).lddw(3, in).call(id);
    good.add(Op::ldxdw, 0, 10, -8).exit();
    EXPECT_EQ(r0_of(good, env), 0x0807060504030201);
    Code bad;
    bad.add(Op::stdw, 10, 0, -8, -1).add(Op::mov64_reg, 1, 10).add(Op::add64_imm, 1, 0, 0, -8).mov(2, 8);
    bad.lddw(3, in + 4).call(id).add(Op::ldxdw, 1, 10, -8).add(Op::jeq64_imm, 1, 0, 1, 0).mov(0, 99).exit();
    EXPECT_EQ(r0_of(bad, env), -vm::kEFAULT);  // and the destination was zeroed
  }
}

// Puts `text` (NUL-terminated) at r10 - 64 and points r1 at it, r2 = size.
Code& format(Code& code, const std::string& text) {
  std::string padded = text;
  padded.push_back('\0');
  while (padded.size() % 4 != 0) padded.push_back('\0');
  for (size_t i = 0; i < padded.size(); i += 4) {
    int32_t word;
    std::memcpy(&word, padded.data() + i, 4);
    code.add(Op::stw, 10, 0, static_cast<int16_t>(-64 + static_cast<int>(i)), word);
  }
  code.add(Op::mov64_reg, 1, 10).add(Op::add64_imm, 1, 0, 0, -64).mov(2, static_cast<int32_t>(text.size() + 1));
  return code;
}

TEST(MapHelpers, TracePrintkFormats) {
  vm::Context env;
  auto print = [&](const std::string& fmt, uint64_t a1, uint64_t a2 = 0, uint64_t a3 = 0) -> std::string {
    Code code;
    format(code, fmt).lddw(3, a1).lddw(4, a2).lddw(5, a3).call(6).exit();
    auto result = run(code, env);
    if (!result) return to_string(result.error());
    const auto r0 = static_cast<int64_t>(result->r0);
    if (r0 >= 0) {
      EXPECT_EQ(static_cast<size_t>(r0), result->output.size());
    }
    return r0 < 0 ? "errno " + std::to_string(r0) : result->output;
  };
  EXPECT_EQ(print("d=%d i=%i u=%u\n", static_cast<uint64_t>(-5), 7, 0xffffffffu), "d=-5 i=7 u=4294967295\n");
  EXPECT_EQ(print("%x %ld %lu", 255, static_cast<uint64_t>(-2), 1ull << 40), "ff -2 1099511627776");
  EXPECT_EQ(print("%lx %lld %llu", 0xabcdef012ull, static_cast<uint64_t>(-3), 5), "abcdef012 -3 5");
  EXPECT_EQ(print("%llx %c%% %5d|", 0x10, 'A', 42), "10 A%    42|");
  EXPECT_EQ(print("%p", 0x1234), "0x1234");
  EXPECT_EQ(print("%s!", env.stack_top() - 64), "%s!!");  // the format itself
  EXPECT_EQ(print("[%s]", 8), "[]");                      // unreadable string
  EXPECT_EQ(print("%d %d %d %d", 1, 2, 3), "errno -22");  // at most three
  EXPECT_EQ(print("%q", 1), "errno -22");
  // An embedder's sink gets the text instead.
  std::string seen;
  env.output().set_sink([&](std::string_view text) { seen += text; });
  Code code;
  format(code, "hi %u").mov(3, 3).call(6).exit();
  auto result = run(code, env);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->r0, 4u);
  EXPECT_EQ(seen, "hi 3");
  EXPECT_EQ(result->output, "");
}

// Issue 16 #5: `%99999999d` built a 100 MB string per call into an unbounded
// buffer. One call prints at most the kernel's 1023 characters, and one run
// keeps at most the output limit, then a marker.
TEST(MapHelpers, TracePrintkOutputIsBounded) {
  vm::Context env;
  Code code;
  format(code, "%99999999d|").mov(3, 7).call(6).exit();
  auto once = run(code, env);
  ASSERT_TRUE(once.has_value());
  EXPECT_EQ(once->r0, 1023u);
  ASSERT_EQ(once->output.size(), 1023u);
  EXPECT_EQ(once->output.back(), ' ');  // cut inside the padding
  env.output().set_limit(3000);
  Code each;  // 40 calls
  each.mov(6, 40);
  format(each, "%99999999d|").mov(3, 7).call(6).add(Op::sub64_imm, 6, 0, 0, 1);
  each.add(Op::jne64_imm, 6, 0, -static_cast<int16_t>(each.slots.size()), 0).exit();
  auto bounded = run(each, env);
  ASSERT_TRUE(bounded.has_value());
  const std::string marker = "\n[output truncated at 3000 bytes]\n";
  EXPECT_EQ(bounded->output.size(), 3000u + marker.size());
  EXPECT_EQ(bounded->output.substr(3000), marker);
  // The next run starts with a fresh allowance and is cut the same way.
  auto again = run(each, env);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->output, bounded->output);
}

TEST(MapHelpers, FormatWithoutNulIsEinval) {
  vm::Context env;
  Code code;
  code.add(Op::stw, 10, 0, -8, 0x41414141).add(Op::mov64_reg, 1, 10).add(Op::add64_imm, 1, 0, 0, -8).mov(2, 4);
  code.call(6).exit();
  EXPECT_EQ(r0_of(code, env), -vm::kEINVAL);
}

TEST(MapHelpers, PrandomIsSeedable) {
  vm::Context a, b;
  a.set_seed(123);
  b.set_seed(123);
  const Code code = Code().call(7).exit();
  const int64_t first = r0_of(code, a);
  EXPECT_EQ(first, r0_of(code, b));
  EXPECT_NE(first, r0_of(code, a));
  EXPECT_EQ(r0_of(Code().call(8).exit(), a), 0);
}

TEST(MapHelpers, RingBufFromPrograms) {
  vm::Context env;
  add(env, spec(MapType::RingBuf, 0, 0, 64));
  // output: 4 bytes from the stack.
  Code output;
  output.add(Op::stw, 10, 0, -8, 0x64636261).lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10);
  output.add(Op::add64_imm, 2, 0, 0, -8).mov(3, 4).mov(4, 0).call(130).exit();
  EXPECT_EQ(r0_of(output, env), 0);
  // reserve 8, write through the pointer, submit; then reserve and discard.
  Code submit;
  submit.lddw(1, 0, Op::lddw_map_idx).mov(2, 8).mov(3, 0).call(131).add(Op::jeq64_imm, 0, 0, 4, 0);
  submit.add(Op::stdw, 0, 0, 0, 0x7a).add(Op::mov64_reg, 1, 0).mov(2, 0).call(132).exit();
  EXPECT_EQ(r0_of(submit, env), 0);
  Code discard;
  discard.lddw(1, 0, Op::lddw_map_idx).mov(2, 8).mov(3, 0).call(131).add(Op::jeq64_imm, 0, 0, 3, 0);
  discard.add(Op::mov64_reg, 1, 0).mov(2, 0).call(133).exit();
  EXPECT_EQ(r0_of(discard, env), 0);
  auto records = env.map(0).ringbuf()->drain();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0], (std::vector<uint8_t>{'a', 'b', 'c', 'd'}));
  EXPECT_EQ(u64_at(records[1]), 0x7au);
  // Errors: bad flags, full ring, reserve with flags.
  Code bad_flags = output;
  bad_flags.slots[bad_flags.slots.size() - 3] = encode(Op::mov64_imm, 4, 0, 0, 8);
  EXPECT_EQ(r0_of(bad_flags, env), -vm::kEINVAL);
  Code big;
  big.lddw(1, 0, Op::lddw_map_idx).add(Op::mov64_reg, 2, 10).add(Op::add64_imm, 2, 0, 0, -64).mov(3, 60);
  big.mov(4, 0).call(130).exit();
  EXPECT_EQ(r0_of(big, env), -vm::kEAGAIN);
  EXPECT_EQ(r0_of(Code().lddw(1, 0, Op::lddw_map_idx).mov(2, 8).mov(3, 1).call(131).exit(), env), 0);
}

// ---- lddw src 5 / 6 ------------------------------------------------------------------

TEST(MapLoads, ResolveToHandles) {
  vm::Context env;
  add(env, spec(MapType::Array, 4, 8, 2, "a"));
  add(env, spec(MapType::Array, 4, 8, 2, "b"));
  EXPECT_EQ(static_cast<uint64_t>(r0_of(Code().lddw(0, 1, Op::lddw_map_idx).exit(), env)), env.map(1).handle());
  Code value;
  value.lddw(0, 1, Op::lddw_map_idx_value);
  value.slots[1].imm = 8;  // the offset lives in the second slot
  value.exit();
  EXPECT_EQ(static_cast<uint64_t>(r0_of(value, env)), env.map(1).handle() + 8);
  EXPECT_NE(env.map(0).handle(), env.map(1).handle());
}

TEST(MapLoads, Errors) {
  vm::Context env;
  add(env, spec(MapType::Array, 4, 8, 1));
  auto program = isa::decode(Code().mov(0, 0).lddw(0, 3, Op::lddw_map_idx).exit().slots);
  ASSERT_TRUE(program.has_value());
  vm::Context no_maps;
  auto unresolved = vm::Interpreter::create(*program, no_maps);
  ASSERT_FALSE(unresolved.has_value());
  EXPECT_EQ(unresolved.error().code, Errc::Unsupported);
  auto out_of_range = vm::Interpreter::create(*program, env);
  ASSERT_FALSE(out_of_range.has_value());
  EXPECT_EQ(out_of_range.error().code, Errc::OutOfRange);
  EXPECT_EQ(out_of_range.error().location.pc, 1u);
}

// ---- Tail calls ------------------------------------------------------------------------

// r1 = ctx (kept), r2 = prog array 0, r3 = index; tail call; then r0 = fallback.
Code tail_call_to(int32_t index, int32_t fallback) {
  Code code;
  code.lddw(2, 0, Op::lddw_map_idx).mov(3, index).call(12).mov(0, fallback).exit();
  return code;
}

TEST(TailCalls, JumpKeepsR1AndStack) {
  vm::Context env;
  vm::Map& progs = add(env, spec(MapType::ProgArray, 4, 4, 4));
  // Target: r0 = r1 + *(u64 *)(r10 - 8).
  auto target = program_of(Code().add(Op::ldxdw, 0, 10, -8).add(Op::add64_reg, 0, 1).exit());
  ASSERT_NE(target, nullptr);
  const uint32_t id = env.add_program(target);
  ASSERT_TRUE(progs.update(bytes_of(uint32_t{2}), bytes_of(id)).has_value());
  Code caller;
  caller.add(Op::stdw, 10, 0, -8, 100);
  for (const auto& slot : tail_call_to(2, 7).slots) caller.slots.push_back(slot);
  auto result = run(caller, env, {5});
  ASSERT_TRUE(result.has_value()) << to_string(result.error());
  EXPECT_EQ(result->r0, 105u);
  // An empty slot and an index out of range continue after the call.
  EXPECT_EQ(r0_of(tail_call_to(1, 7), env), 7);
  EXPECT_EQ(r0_of(tail_call_to(9, 8), env), 8);
}

TEST(TailCalls, AtMost33) {
  vm::Context env;
  vm::Map& progs = add(env, spec(MapType::ProgArray, 4, 4, 1));
  add(env, spec(MapType::Array, 4, 8, 1, "count"));
  // Counts its runs in map 1, then tail-calls itself; when that fails, exits
  // with the count.
  Code self;
  self.lddw(6, 1, Op::lddw_map_idx).add(Op::ldxdw, 0, 6).add(Op::add64_imm, 0, 0, 0, 1).add(Op::stxdw, 6, 0);
  self.lddw(2, 0, Op::lddw_map_idx).mov(3, 0).call(12).add(Op::ldxdw, 0, 6).exit();
  const uint32_t id = env.add_program(program_of(self));
  ASSERT_TRUE(progs.update(bytes_of(uint32_t{0}), bytes_of(id)).has_value());
  auto result = run(self, env);
  ASSERT_TRUE(result.has_value()) << to_string(result.error());
  EXPECT_EQ(result->r0, 34u);  // the first run plus 33 tail calls
}

// A prog array names programs; the interpreter prepares one at its first
// tail call, so a program that cannot be prepared (a map it names does not
// exist) faults at the call, naming the program.
TEST(TailCalls, TargetThatCannotBePreparedFaults) {
  vm::Context env;
  vm::Map& progs = add(env, spec(MapType::ProgArray, 4, 4, 1));
  const uint32_t id = env.add_program(program_of(Code().lddw(0, 7, Op::lddw_map_idx).exit()));
  ASSERT_TRUE(progs.update(bytes_of(uint32_t{0}), bytes_of(id)).has_value());
  auto result = run(tail_call_to(0, 1), env);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().location.pc, 3u);
  EXPECT_NE(result.error().message.find("program 0"), std::string::npos) << result.error().message;
}

TEST(TailCalls, BadProgArrayAndSubprogram) {
  vm::Context env;
  add(env, spec(MapType::Array, 4, 4, 1));
  auto result = run(tail_call_to(0, 1), env);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, Errc::HelperFailed);
  EXPECT_EQ(result.error().location.pc, 3u);
  // callx 12 is a tail call too.
  vm::Context env2;
  add(env2, spec(MapType::ProgArray, 4, 4, 1));
  Code callx;
  callx.lddw(2, 0, Op::lddw_map_idx).mov(3, 0).mov(4, 12).add(Op::callx, 4).mov(0, 3).exit();
  EXPECT_EQ(r0_of(callx, env2), 3);
  // From a subprogram: refused.
  Code sub;
  sub.add(Op::call_local, 0, 1, 0, 1).exit();
  for (const auto& slot : tail_call_to(0, 1).slots) sub.slots.push_back(slot);
  auto refused = run(sub, env2);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, Errc::Unsupported);
}

}  // namespace
}  // namespace bpfkit
