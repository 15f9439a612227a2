// Clang-compiled objects end to end: the C programs of tests/bpf (built at
// build time with clang-19) and the benchmark programs load through the ELF
// loader, get their maps, run, and give the values their sources state.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;

const fs::path kObjects = BPFKIT_TEST_BPF_DIR;
const fs::path kBenchObjects = BPFKIT_BENCH_OBJECT_DIR;

Expected<elf::EbpfObject> parse(const fs::path& file) {
  const std::string text = test::read_text(file);
  if (text.empty()) return make_error(Errc::Io, "cannot read " + file.string() + " (is clang-19 installed?)");
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  return elf::EbpfObject::parse(bytes, file.string());
}

// The loaded program; the first program of an object also adds its maps.
Expected<isa::Program> load(const elf::EbpfObject& object, const elf::ProgramInfo& program, vm::Context& env) {
  auto loaded = object.load_program(program);
  if (!loaded) return loaded.error();
  if (env.map_count() == 0) {
    for (const isa::MapSpec& spec : loaded->maps)
      if (auto index = env.add_map(spec); !index) return index.error();
    isa::apply_data_relocations(loaded->data_relocations, env.map_addresses(),
                                [&](uint32_t map) { return env.map(map).storage(); });
  }
  return loaded;
}

Expected<vm::Interpreter> prepare(const elf::EbpfObject& object, const elf::ProgramInfo& program, vm::Context& env) {
  auto loaded = load(object, program, env);
  if (!loaded) return loaded.error();
  return vm::Interpreter::create(*loaded, env);
}

// Runs the object's default program (or `function`) with no memory.
Expected<uint64_t> run_object(const fs::path& file, vm::Context& env, std::string_view function = "") {
  auto object = parse(file);
  if (!object) return object.error();
  auto program = function.empty() ? object->default_program() : object->find_program("", function);
  if (!program) return program.error();
  auto interpreter = prepare(*object, **program, env);
  if (!interpreter) return interpreter.error();
  auto result = interpreter->run(env);
  if (result.error) return *result.error;
  return result.r0;
}

uint64_t u64_at(std::span<const uint8_t> bytes) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data(), std::min(bytes.size(), sizeof value));
  return value;
}

class EbpfPrograms : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kObjects / "maps.o")) GTEST_SKIP() << "the C test programs were not built (clang-19 missing)";
  }
  vm::Context env;
};

TEST_F(EbpfPrograms, GlobalDataInRodataDataAndBss) {
  auto r0 = run_object(kObjects / "global_data.o", env);
  ASSERT_TRUE(r0.has_value()) << to_string(r0.error());
  EXPECT_EQ(*r0, 11020u);
}

TEST_F(EbpfPrograms, SubprogramsAcrossSectionsAndStaticFunctions) {
  auto r0 = run_object(kObjects / "subprogs.o", env, "subprogs");
  ASSERT_TRUE(r0.has_value()) << to_string(r0.error());
  EXPECT_EQ(*r0, 168u);
}

TEST_F(EbpfPrograms, HashAndArrayMapsWithALoopCounter) {
  auto r0 = run_object(kObjects / "maps.o", env);
  ASSERT_TRUE(r0.has_value()) << to_string(r0.error());
  EXPECT_EQ(*r0, 181215u);
  ASSERT_EQ(env.map_count(), 2u);
  const uint32_t zero = 0;
  const std::span<const uint8_t> key(reinterpret_cast<const uint8_t*>(&zero), sizeof zero);
  EXPECT_EQ(u64_at(env.map(0).lookup(key)), 18u);      // counts[0]
  EXPECT_EQ(u64_at(env.map(1).lookup(key)), 181215u);  // totals[0]
}

TEST_F(EbpfPrograms, LegacyMapsSection) {
  auto r0 = run_object(kObjects / "legacy_maps.o", env);
  ASSERT_TRUE(r0.has_value()) << to_string(r0.error());
  EXPECT_EQ(*r0, 42u);
}

TEST_F(EbpfPrograms, RingBufferRecordsReachTheEmbedder) {
  auto r0 = run_object(kObjects / "ringbuf.o", env);
  ASSERT_TRUE(r0.has_value()) << to_string(r0.error());
  EXPECT_EQ(*r0, 6u);
  vm::RingBuf* ring = env.map(0).ringbuf();
  ASSERT_NE(ring, nullptr);
  std::vector<uint64_t> values;
  for (const std::vector<uint8_t>& record : ring->drain()) values.push_back(u64_at(record));
  EXPECT_EQ(values, (std::vector<uint64_t>{0, 1, 4, 9, 16, 99}));
}

TEST_F(EbpfPrograms, PointersInGlobalData) {
  auto r0 = run_object(kObjects / "data_pointers.o", env);
  ASSERT_TRUE(r0.has_value()) << to_string(r0.error());
  EXPECT_EQ(*r0, 168u);
}

TEST_F(EbpfPrograms, TailCallThroughAProgArray) {
  auto object = parse(kObjects / "tail_call.o");
  ASSERT_TRUE(object.has_value()) << to_string(object.error());
  auto entry = object->find_program("", "entry");
  auto next = object->find_program("", "next");
  ASSERT_TRUE(entry.has_value() && next.has_value());
  auto entry_program = prepare(*object, **entry, env);
  ASSERT_TRUE(entry_program.has_value()) << to_string(entry_program.error());
  // An empty slot: the call falls through.
  auto fallthrough = entry_program->run(env);
  ASSERT_TRUE(fallthrough.ok()) << to_string(*fallthrough.error);
  EXPECT_EQ(fallthrough.r0, 7u);
  auto next_program = load(*object, **next, env);
  ASSERT_TRUE(next_program.has_value()) << to_string(next_program.error());
  const uint32_t id = env.add_program(std::make_shared<isa::Program>(std::move(*next_program))), slot = 0;
  ASSERT_TRUE(env.map(0)
                  .update({reinterpret_cast<const uint8_t*>(&slot), 4}, {reinterpret_cast<const uint8_t*>(&id), 4})
                  .has_value());
  auto jumped = entry_program->run(env);
  ASSERT_TRUE(jumped.ok()) << to_string(*jumped.error);
  EXPECT_EQ(jumped.r0, 42u);
}

// A prog array the object fills itself (`.values`): the targets come with
// the program, share its maps (by the same indices), and run through two
// tail calls; the empty slot falls through.
TEST_F(EbpfPrograms, ProgArrayValuesFilledByTheObject) {
  auto object = parse(kObjects / "prog_values.o");
  ASSERT_TRUE(object.has_value()) << to_string(object.error());
  auto entry = object->find_program("", "entry");
  ASSERT_TRUE(entry.has_value());
  auto program = object->load_program(**entry);
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  ASSERT_EQ(program->maps.size(), 2u);
  EXPECT_EQ(program->maps[0].name, "jump");  // in the object's order
  EXPECT_EQ(program->maps[0].initial_programs.size(), 2u);
  ASSERT_TRUE(env.add_maps(*program).has_value());  // the maps, and the programs in jump's slots
  auto interpreter = vm::Interpreter::create(*program, env);
  ASSERT_TRUE(interpreter.has_value()) << to_string(interpreter.error());
  auto result = interpreter->run(env);
  ASSERT_TRUE(result.ok()) << to_string(*result.error);
  EXPECT_EQ(result.r0, 42u);
  vm::Map* hits = nullptr;
  for (uint32_t i = 0; i < env.map_count(); ++i)
    if (env.map(i).spec().name == "hits") hits = &env.map(i);
  ASSERT_NE(hits, nullptr);
  const uint32_t zero = 0;
  EXPECT_EQ(u64_at(hits->lookup({reinterpret_cast<const uint8_t*>(&zero), 4})), 123u);
  // A target names the same maps by the same indices, and no programs of
  // its own (the first program's arrays hold them).
  for (const isa::MapSpec& spec : program->maps)
    for (const auto& [slot, target] : spec.initial_programs) {
      ASSERT_EQ(target->maps.size(), program->maps.size());
      for (size_t i = 0; i < target->maps.size(); ++i) {
        EXPECT_EQ(target->maps[i].name, program->maps[i].name);
        EXPECT_TRUE(target->maps[i].initial_programs.empty());
      }
    }
}

// The six benchmark programs, built as objects by bench/CMakeLists.txt.
struct BenchCase {
  const char* name;
  uint64_t memory;
  uint64_t r0;
};

void PrintTo(const BenchCase& bench, std::ostream* os) { *os << bench.name; }

class BenchObjects : public ::testing::TestWithParam<BenchCase> {};

TEST_P(BenchObjects, ReturnTheirExpectedR0) {
  // Seven billion instructions in all: left to the Release run.
  if (std::getenv("BPFKIT_SKIP_SLOW")) GTEST_SKIP() << "BPFKIT_SKIP_SLOW is set";
  const fs::path file = kBenchObjects / (std::string(GetParam().name) + ".bpf.o");
  if (!fs::exists(file)) GTEST_SKIP() << file << " was not built";
  auto object = parse(file);
  ASSERT_TRUE(object.has_value()) << to_string(object.error());
  auto program = object->default_program();
  ASSERT_TRUE(program.has_value()) << to_string(program.error());
  vm::Context env;
  auto interpreter = prepare(*object, **program, env);
  ASSERT_TRUE(interpreter.has_value()) << to_string(interpreter.error());
  std::vector<uint8_t> memory(GetParam().memory);
  env.map_input(memory);
  auto result = interpreter->run(env);
  ASSERT_TRUE(result.ok()) << to_string(*result.error);
  EXPECT_EQ(result.r0, GetParam().r0);
}

INSTANTIATE_TEST_SUITE_P(
    Bench, BenchObjects,
    ::testing::Values(BenchCase{"fib", 8, 0xc437dbe96c6dec3b}, BenchCase{"sieve", 1 << 20, 0x7d2904},
                      BenchCase{"bubble", 1 << 16, 0x91757205de85d1aa}, BenchCase{"fnv1a", 1 << 20, 0xe178415f3bb15b25},
                      BenchCase{"xxh64", 1 << 20, 0xb712cd771b46bc29}, BenchCase{"csum", 1 << 20, 0x153628edfbe00}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace bpfkit
