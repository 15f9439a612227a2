// The round trip at -O0: lift, generate code, and the program must do what
// the original did. Every conformance program (same r0 or the same fault),
// random programs, the benchmark programs (same r0; instruction counts
// printed), the compiled test objects (the same verdict from bpfkit's
// verifier), and the kernel's verifier, where bpf() is allowed: what it
// accepted before it accepts after.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf.hpp"
#include "bpfkit/ir.hpp"
#include "bpfkit/ir/codegen.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/verify.hpp"
#include "bpfkit/vm.hpp"
#include "object_programs.hpp"
#include "oracle.hpp"
#include "random_program.hpp"
#include "test_support.hpp"

namespace bpfkit::ir {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  std::optional<uint64_t> r0;
  std::optional<Errc> fault;
  uint64_t instructions = 0;
};

Outcome run(const isa::Program& program, std::optional<std::vector<uint8_t>> memory,
            uint64_t budget = vm::kDefaultBudget) {
  vm::Context context(*program.dialect);
  context.set_budget(budget);
  auto engine = vm::make_interpreter(program, context);
  if (!engine) return {std::nullopt, engine.error().code, 0};
  if (memory) context.map_input(*memory);
  const vm::RunResult result = (*engine)->run(context);
  if (result.error) return {std::nullopt, result.error->code, result.instructions};
  return {result.r0, std::nullopt, result.instructions};
}

isa::Program round_trip(const isa::Program& program, const std::string& name, OptLevel level = OptLevel::O0) {
  auto generated = optimize_program(program, level);
  EXPECT_TRUE(generated.has_value()) << name << ": " << (generated ? "" : to_string(generated.error()));
  return generated ? std::move(*generated) : isa::Program{};
}

std::string identifier(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

// ---- Conformance ----------------------------------------------------------------

std::vector<fs::path> conformance_files() {
  const fs::path dir = fs::path(BPFKIT_SHARED_DIR) / "conformance" / "tests";
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == ".data") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

struct Conformance {
  isa::Program program;
  std::optional<std::vector<uint8_t>> memory;
};

std::optional<Conformance> conformance_program(const fs::path& file) {
  auto test = assembly::parse_conformance_test(test::read_text(file), file.filename().string());
  if (!test) return std::nullopt;
  auto slots = assembly::conformance_program(*test, file.filename().string());
  if (!slots) return std::nullopt;
  auto program = isa::decode(*slots);
  if (!program) return std::nullopt;
  return Conformance{std::move(*program), test->has_memory ? std::optional(test->memory) : std::nullopt};
}

class ConformanceRoundTrip : public ::testing::TestWithParam<fs::path> {};

TEST_P(ConformanceRoundTrip, SameResultAtO0) {
  auto original = conformance_program(GetParam());
  ASSERT_TRUE(original.has_value());
  const isa::Program generated = round_trip(original->program, GetParam().filename().string());
  ASSERT_FALSE(generated.slots.empty());
  const Outcome before = run(original->program, original->memory), after = run(generated, original->memory);
  EXPECT_EQ(before.r0, after.r0);
  EXPECT_EQ(before.fault, after.fault);
}

// The passes of -O2 between lifting and code generation change nothing a
// program computes either.
TEST_P(ConformanceRoundTrip, SameResultAtO2) {
  auto original = conformance_program(GetParam());
  ASSERT_TRUE(original.has_value());
  const isa::Program generated = round_trip(original->program, GetParam().filename().string(), OptLevel::O2);
  ASSERT_FALSE(generated.slots.empty());
  const Outcome before = run(original->program, original->memory), after = run(generated, original->memory);
  EXPECT_EQ(before.r0, after.r0);
  EXPECT_EQ(before.fault, after.fault);
}

INSTANTIATE_TEST_SUITE_P(Suite, ConformanceRoundTrip, ::testing::ValuesIn(conformance_files()),
                         [](const auto& info) { return identifier(info.param.stem().string()); });

// ---- Random programs (those of the verifier's kernel differential test) --------------

TEST(CodegenRoundTrip, RandomProgramsRunTheSame) {
  size_t compared = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const std::vector<isa::Slot> slots = testing::random_program(seed);
    auto program = isa::decode(std::span<const isa::Slot>(slots));
    if (!program) {
      program.ignore();
      continue;
    }
    auto module = lift(*program);
    if (!module) {  // what the lifter refuses is the lifter's test
      module.ignore();
      continue;
    }
    auto generated = generate(**module, {.original = &*program});
    ASSERT_TRUE(generated.has_value()) << "seed " << seed << ": " << to_string(generated.error());
    std::vector<uint8_t> memory(64, 0x5a);
    const Outcome before = run(*program, memory, 100'000), after = run(*generated, memory, 200'000);
    if (before.fault == Errc::BudgetExceeded) continue;  // a loop the budget cut: nothing to compare
    EXPECT_EQ(before.r0, after.r0) << "seed " << seed;
    EXPECT_EQ(before.fault.has_value(), after.fault.has_value()) << "seed " << seed;
    auto optimized = optimize_program(*program, OptLevel::O2);
    ASSERT_TRUE(optimized.has_value()) << "seed " << seed << " -O2: " << to_string(optimized.error());
    const Outcome at_o2 = run(*optimized, memory, 200'000);
    EXPECT_EQ(before.r0, at_o2.r0) << "seed " << seed << " -O2";
    EXPECT_EQ(before.fault.has_value(), at_o2.fault.has_value()) << "seed " << seed << " -O2";
    ++compared;
  }
  EXPECT_GT(compared, 100u);
}

// ---- The benchmark programs ---------------------------------------------------------

// The benchmark programs clang built (name, program); none without clang.
std::vector<std::pair<std::string, isa::Program>> bench_programs() {
  std::vector<std::pair<std::string, isa::Program>> out;
  for (const char* name : {"fib", "sieve", "bubble", "fnv1a", "xxh64", "csum"}) {
    const fs::path file = fs::path(BPFKIT_BENCH_DIR) / (std::string(name) + ".bin");
    if (!fs::exists(file)) continue;
    const std::vector<uint8_t> bytes = test::read_bytes(file);
    auto program = isa::decode(std::span<const uint8_t>(bytes));
    EXPECT_TRUE(program.has_value()) << name;
    if (program) out.emplace_back(name, std::move(*program));
  }
  return out;
}

TEST(CodegenRoundTrip, BenchProgramsComputeTheSame) {
  size_t compared = 0;
  for (const auto& [name, program] : bench_programs()) {
    const isa::Program generated = round_trip(program, name);
    const isa::Program optimized = round_trip(program, name, OptLevel::O2);
    std::cout << name << ": " << program.size() << " instructions before, " << generated.size() << " after -O0, "
              << optimized.size() << " after -O2\n";
    // fib ignores its memory and runs 100 million rounds: only in full runs.
    if (std::string_view(name) == "fib" && std::getenv("BPFKIT_SKIP_SLOW")) continue;
    const std::vector<uint8_t> memory(4096, 0);
    const Outcome before = run(program, memory, 2'000'000'000), after = run(generated, memory, 2'000'000'000);
    ASSERT_TRUE(before.r0.has_value()) << name;
    EXPECT_EQ(before.r0, after.r0) << name;
    EXPECT_EQ(before.r0, run(optimized, memory, 2'000'000'000).r0) << name << " -O2";
    ++compared;
  }
  if (compared == 0) GTEST_SKIP() << "no benchmark programs in " << BPFKIT_BENCH_DIR << " (clang)";
}

// -O2 makes none of them larger than clang -O2 did (issue 12's goal on
// them). xxh64 keeps four hash lanes, their pointer and counters live
// across its loops: its constants held in registers before the loops left
// too few, and two more rows than clang's 187 (selection now also tries
// them made where they are read).
TEST(CodegenRoundTrip, BenchProgramsAreNoLargerThanClangMadeThem) {
  const auto programs = bench_programs();
  if (programs.empty()) GTEST_SKIP() << "no benchmark programs in " << BPFKIT_BENCH_DIR << " (clang)";
  for (const auto& [name, program] : programs) {
    auto optimized = optimize_program(program, OptLevel::O2);
    ASSERT_TRUE(optimized.has_value()) << name << ": " << to_string(optimized.error());
    EXPECT_LE(optimized->size(), program.size()) << name;
  }
}

// ---- The compiled test objects ----------------------------------------------------------

// The test objects' programs, each with the program type of its section.
struct ObjectProgram {
  std::string name;
  verify::ProgramType type;
  isa::Program program;
};

std::vector<ObjectProgram> object_programs() {
  std::vector<ObjectProgram> out;
  for (test::ObjectProgram& p : test::object_programs(BPFKIT_TEST_BPF_DIR)) {
    const auto type = verify::program_type_of_section(p.section);
    out.push_back({std::move(p.name), type.value_or(verify::ProgramType::Raw), std::move(p.program)});
  }
  return out;
}

// bpfkit's verifier gives each program its verdict again after `level`.
void expect_objects_keep_their_verdict(OptLevel level) {
  const std::vector<ObjectProgram> programs = object_programs();
  if (programs.empty()) GTEST_SKIP() << "no compiled BPF test programs (clang-19)";
  size_t accepted = 0;
  for (const ObjectProgram& p : programs) {
    const isa::Program generated = round_trip(p.program, p.name, level);
    ASSERT_FALSE(generated.slots.empty()) << p.name;
    verify::Options options;
    options.type = p.type;
    const verify::Result before = verify::verify(p.program, options), after = verify::verify(generated, options);
    EXPECT_EQ(before.accepted, after.accepted) << p.name << " -O" << static_cast<int>(level) << ": before "
                                               << (before.error ? before.error->message : "accepted") << ", after "
                                               << (after.error ? to_string(*after.error) : "accepted");
    accepted += before.accepted;
    std::cout << p.name << ": " << p.program.size() << " -> " << generated.size() << " instructions at -O"
              << static_cast<int>(level) << "\n";
  }
  EXPECT_GT(accepted, 5u);
}

TEST(CodegenRoundTrip, CompiledObjectsKeepTheirVerdict) { expect_objects_keep_their_verdict(OptLevel::O0); }

TEST(CodegenRoundTrip, CompiledObjectsKeepTheirVerdictAtO2) { expect_objects_keep_their_verdict(OptLevel::O2); }

// ---- sBPF ---------------------------------------------------------------------------------

// The sBPF fixtures that load, in their version's encodings: the same r0 or
// the same production error after -O0 (compute units differ with the code).
TEST(CodegenRoundTrip, SbpfFixturesRunTheSame) {
  const fs::path dir = fs::path(BPFKIT_SHARED_DIR) / "sbpf" / "elfs";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no sBPF fixtures in " << dir;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  elf::sbpf::LoaderConfig config;
  config.syscalls = vm::HelperTable::sbpf_reference_harness().names();
  auto run_sbpf = [](const isa::Program& program) -> std::pair<std::string, uint64_t> {
    vm::Context context(*program.dialect);
    context.helpers() = vm::HelperTable::sbpf_reference_harness();
    auto engine = vm::make_interpreter(program, context);
    if (!engine) return {std::string(engine.error().name()), 0};
    const vm::RunResult result = (*engine)->run(context);
    if (result.error) return {std::string(result.error->name()), 0};
    return {"", result.r0};
  };
  size_t compared = 0;
  for (const fs::path& file : files) {
    auto program = elf::sbpf::load_program(test::read_bytes(file), config);
    if (!program) {
      program.ignore();
      continue;
    }
    auto module = lift(*program);
    if (!module) {  // what the lifter refuses is the lifter's test
      std::cout << file.filename().string() << ": " << to_string(module.error()) << "\n";
      continue;
    }
    auto generated = generate(**module, {.original = &*program});
    if (!generated) {  // refused with a reason (indirect calls, a moved r10), never wrong code
      EXPECT_EQ(generated.error().code, Errc::Unsupported) << file.filename() << ": " << to_string(generated.error());
      std::cout << file.filename().string() << ": " << to_string(generated.error()) << "\n";
      continue;
    }
    EXPECT_EQ(run_sbpf(*program), run_sbpf(*generated)) << file.filename();
    ++compared;
  }
  std::cout << compared << " sBPF fixtures compared\n";
  EXPECT_GT(compared, 5u);
}

// ---- The kernel --------------------------------------------------------------------------

// What the kernel's verifier accepted (as a socket filter) it accepts after
// lift, `level` and code generation.
void expect_kernel_accepts_after(OptLevel level) {
  const test::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  if (const auto why = test::Oracle::unavailable(dir.path())) GTEST_SKIP() << *why;
  std::vector<std::vector<isa::Slot>> originals, generated;
  std::vector<std::string> names;
  for (const fs::path& file : conformance_files()) {
    auto original = conformance_program(file);
    if (!original) continue;
    auto again = optimize_program(original->program, level);
    if (!again) {
      again.ignore();
      continue;
    }
    originals.push_back(original->program.slots);
    generated.push_back(again->slots);
    names.push_back(file.filename().string());
  }
  for (uint64_t seed = 1; seed <= 120; ++seed) {
    const std::vector<isa::Slot> slots = testing::random_program(seed);
    auto program = isa::decode(std::span<const isa::Slot>(slots));
    if (!program) {
      program.ignore();
      continue;
    }
    auto again = optimize_program(*program, level);
    if (!again) {
      again.ignore();
      continue;
    }
    originals.push_back(slots);
    generated.push_back(again->slots);
    names.push_back("random program " + std::to_string(seed));
  }
  const auto before = test::Oracle::verdicts(dir.path(), originals, "socket", false);
  const auto after = test::Oracle::verdicts(dir.path(), generated, "socket", false);
  ASSERT_EQ(before.size(), originals.size());
  ASSERT_EQ(after.size(), generated.size());
  size_t accepted = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!before[i].has_verdict || !before[i].accepted) continue;
    ++accepted;
    EXPECT_TRUE(after[i].has_verdict && after[i].accepted) << names[i] << ":\n" << after[i].log;
  }
  std::cout << accepted << " conformance and random programs the kernel accepts, before and after -O"
            << static_cast<int>(level) << "\n";
  EXPECT_GT(accepted, 200u);
}

TEST(CodegenRoundTrip, KernelAcceptsWhatItAcceptedBefore) { expect_kernel_accepts_after(OptLevel::O0); }

TEST(CodegenRoundTrip, KernelAcceptsWhatItAcceptedBeforeAtO2) { expect_kernel_accepts_after(OptLevel::O2); }

}  // namespace
}  // namespace bpfkit::ir
