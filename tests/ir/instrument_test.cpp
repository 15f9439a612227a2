// The instrumentation passes through code generation and the interpreter:
// count-insns' counter equals the interpreter's executed-instruction count
// of the original program (every conformance program that ends at an exit,
// random programs, the benchmark programs); block-hits counts each block's
// runs, and its records weighted by the blocks' sizes add up to the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "bpfkit/assembly.hpp"
#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "bpfkit/vm.hpp"
#include "random_program.hpp"
#include "test_support.hpp"

namespace bpfkit::ir {
namespace {

namespace fs = std::filesystem;

struct Counted {
  std::optional<uint64_t> r0;  // nullopt: faulted
  uint64_t instructions = 0;
  std::vector<uint8_t> map;  // the value of the map asked for, key 0
};

Counted run_counting(const isa::Program& program, std::optional<std::vector<uint8_t>> memory,
                     std::string_view map_name = "", uint64_t budget = vm::kDefaultBudget) {
  Counted out;
  vm::Context context(*program.dialect);
  context.set_budget(budget);
  if (!context.add_maps(program).has_value()) return out;
  auto engine = vm::make_interpreter(program, context);
  if (!engine) return out;
  if (memory) context.map_input(*memory);
  const vm::RunResult result = (*engine)->run(context);
  out.instructions = result.instructions;
  if (!result.error) out.r0 = result.r0;
  for (uint32_t i = 0; i < context.map_count(); ++i) {
    if (context.map(i).spec().name != map_name) continue;
    const uint32_t key = 0;
    const auto value = context.map(i).lookup(std::span(reinterpret_cast<const uint8_t*>(&key), 4));
    out.map.assign(value.begin(), value.end());
  }
  return out;
}

uint64_t u64_at(const std::vector<uint8_t>& bytes, size_t offset) {
  uint64_t value = 0;
  if (offset + 8 <= bytes.size()) std::memcpy(&value, bytes.data() + offset, 8);
  return value;
}

// validate_each: off behind the optimisation passes, whose -O2 runs do not
// validate in release builds either.
isa::Program instrumented(const isa::Program& program, std::string_view passes, bool validate_each = true) {
  auto module = lift(program);
  EXPECT_TRUE(module.has_value());
  if (!module) return {};
  auto steps = parse_pipeline(passes);
  EXPECT_TRUE(steps.has_value());
  PipelineOptions options;
  options.validate_each = validate_each;
  auto ran = run_pipeline(**module, *steps, options);
  EXPECT_TRUE(ran.has_value()) << (ran ? "" : to_string(ran.error()));
  auto generated = generate(**module, {.original = &program});
  EXPECT_TRUE(generated.has_value()) << (generated ? "" : to_string(generated.error()));
  return generated ? std::move(*generated) : isa::Program{};
}

isa::Program assembled(std::string_view source) {
  const assembly::Assembly assembly = assembly::assemble(source);
  EXPECT_TRUE(assembly.ok());
  const std::vector<isa::Slot> slots = assembly::section_slots(assembly.object);
  auto program = isa::decode(std::span<const isa::Slot>(slots));
  EXPECT_TRUE(program.has_value());
  return program ? std::move(*program) : isa::Program{};
}

struct Case {
  std::string name;
  isa::Program program;
  std::optional<std::vector<uint8_t>> memory;
  uint64_t budget = vm::kDefaultBudget;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  const fs::path dir = fs::path(BPFKIT_SHARED_DIR) / "conformance" / "tests";
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".data") continue;
      const std::string name = entry.path().filename().string();
      auto test = assembly::parse_conformance_test(test::read_text(entry.path()), name);
      if (!test) continue;
      auto slots = assembly::conformance_program(*test, name);
      if (!slots) continue;
      auto program = isa::decode(*slots);
      if (!program) continue;
      out.push_back({name, std::move(*program), test->has_memory ? std::optional(test->memory) : std::nullopt});
    }
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    const std::vector<isa::Slot> slots = testing::random_program(seed);
    auto program = isa::decode(std::span<const isa::Slot>(slots));
    if (program) out.push_back({"random " + std::to_string(seed), std::move(*program), std::nullopt});
  }
  for (const char* name : {"fib", "sieve", "bubble", "fnv1a", "xxh64", "csum"}) {
    if (std::string_view(name) == "fib" && std::getenv("BPFKIT_SKIP_SLOW")) continue;
    const fs::path file = fs::path(BPFKIT_BENCH_DIR) / (std::string(name) + ".bin");
    if (!fs::exists(file)) continue;
    const std::vector<uint8_t> bytes = test::read_bytes(file);
    auto program = isa::decode(std::span<const uint8_t>(bytes));
    if (program) out.push_back({name, std::move(*program), std::vector<uint8_t>(4096, 0), 2'000'000'000});
  }
  return out;
}

TEST(Instrument, CountInsnsEqualsTheInterpretersCount) {
  size_t compared = 0, bench = 0;
  for (const Case& c : cases()) {
    const Counted before = run_counting(c.program, c.memory, "", c.budget);
    if (!before.r0) continue;  // a fault ends a block early: the count is the block's
    const isa::Program counting = instrumented(c.program, "count-insns");
    ASSERT_FALSE(counting.slots.empty()) << c.name;
    ASSERT_EQ(counting.maps.size(), c.program.maps.size() + 1) << c.name;
    const Counted after = run_counting(counting, c.memory, ".data.bpfkit_insns", c.budget);
    EXPECT_EQ(after.r0, before.r0) << c.name;
    EXPECT_EQ(u64_at(after.map, 0), before.instructions) << c.name;
    ++compared;
    bench += c.budget != vm::kDefaultBudget;
  }
  EXPECT_GT(compared, 300u);
  std::cout << compared << " programs counted, " << bench << " of them benchmark programs\n";
}

// With the optimisation passes after it, the count is still the original's.
TEST(Instrument, CountInsnsSurvivesOptimisation) {
  size_t compared = 0;
  for (const Case& c : cases()) {
    if (c.budget != vm::kDefaultBudget) continue;
    const Counted before = run_counting(c.program, c.memory);
    if (!before.r0) continue;
    const isa::Program counting =
        instrumented(c.program, "count-insns,sccp,copyprop,cse,stackfwd,deadstores,dce,simplifycfg", false);
    const Counted after = run_counting(counting, c.memory, ".data.bpfkit_insns");
    EXPECT_EQ(after.r0, before.r0) << c.name;
    EXPECT_EQ(u64_at(after.map, 0), before.instructions) << c.name;
    ++compared;
  }
  EXPECT_GT(compared, 300u);
}

// A loop of 10 rounds: its body's record counts 10; every record's hits
// times its block's size add up to the executed instructions.
TEST(Instrument, BlockHitsCountsEachBlock) {
  const isa::Program program = assembled(
      "r0 = 0\n"
      "r1 = 10\n"
      "loop:\n"
      "r0 += r1\n"
      "r1 -= 1\n"
      "if r1 != 0 goto loop\n"
      "exit\n");
  ASSERT_EQ(program.size(), 6u);
  const isa::Program hits = instrumented(program, "block-hits,count-insns");
  const Counted before = run_counting(program, std::nullopt);
  const Counted after = run_counting(hits, std::nullopt, ".data.bpfkit_block_hits");
  EXPECT_EQ(after.r0, before.r0);
  ASSERT_EQ(after.map.size(), 3u * 16);  // blocks at slots 0, 2 and 5
  EXPECT_EQ(u64_at(after.map, 0), 0u);
  EXPECT_EQ(u64_at(after.map, 8), 1u);
  EXPECT_EQ(u64_at(after.map, 16), 2u);
  EXPECT_EQ(u64_at(after.map, 24), 10u);
  EXPECT_EQ(u64_at(after.map, 32), 5u);
  EXPECT_EQ(u64_at(after.map, 40), 1u);
  EXPECT_EQ(2 * 1 + 3 * 10 + 1 * 1, before.instructions);
  EXPECT_EQ(u64_at(run_counting(hits, std::nullopt, ".data.bpfkit_insns").map, 0), before.instructions);
}

// Instrumenting twice (a pipeline's second round) counts once.
TEST(Instrument, RunningTwiceCountsOnce) {
  const isa::Program program = assembled("r0 = 1\nr0 += 2\nexit\n");
  ASSERT_EQ(program.size(), 3u);
  const isa::Program counting = instrumented(program, "count-insns,count-insns,block-hits,block-hits");
  EXPECT_EQ(u64_at(run_counting(counting, std::nullopt, ".data.bpfkit_insns").map, 0), 3u);
  EXPECT_EQ(run_counting(counting, std::nullopt, ".data.bpfkit_block_hits").map.size(), 16u);
}

}  // namespace
}  // namespace bpfkit::ir
