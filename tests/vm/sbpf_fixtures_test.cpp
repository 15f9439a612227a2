// The 23 sBPF fixtures of ../shared/sbpf end to end: the loader of module elf,
// then the sBPF VM. Each gives the exact r0 and compute units, or the exact
// production error, that ../shared/sbpf/README.md states.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "bpfkit/elf.hpp"
#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(BPFKIT_SHARED_DIR) / "sbpf" / "elfs";

std::vector<uint8_t> read_fixture(const std::string& name) { return test::read_bytes(kFixtures / name); }

struct Outcome {
  std::string error;  // production error name; empty for success
  uint64_t r0 = 0;
  uint64_t compute_units = 0;
};

// Runs a loaded program with the reference harness's syscalls (the defaults
// with a free "log").
Outcome run_loaded(Expected<isa::Program> program, std::vector<uint8_t>& input) {
  if (!program) return {std::string(program.error().name())};
  vm::Context context(*program->dialect);
  context.helpers() = vm::HelperTable::sbpf_reference_harness();
  auto interpreter = vm::sbpf::Interpreter::create(*program, context);
  if (!interpreter) return {std::string(interpreter.error().name())};
  if (!input.empty()) context.map_input(input);
  const vm::RunResult result = interpreter->run(context);
  if (result.error) return {std::string(result.error->name()), 0, result.compute_units};
  return {"", result.r0, result.compute_units};
}

// Loads one fixture in two steps (load(), then to_program()) and runs it.
Outcome run_fixture(const std::string& name, std::vector<uint8_t> input = {}, elf::sbpf::LoaderConfig config = {}) {
  const std::vector<uint8_t> file = read_fixture(name);
  EXPECT_FALSE(file.empty()) << name;
  if (config.syscalls.empty()) config.syscalls = vm::HelperTable::sbpf_reference_harness().names();
  auto loaded = elf::sbpf::load(file, config);
  if (!loaded) return {std::string(loaded.error().name())};
  return run_loaded(elf::sbpf::to_program(std::move(*loaded), config), input);
}

// The same through elf::sbpf::load_program in one step.
Outcome run_fixture_program(const std::string& name, std::vector<uint8_t> input = {}) {
  elf::sbpf::LoaderConfig config;
  config.syscalls = vm::HelperTable::sbpf_reference_harness().names();
  return run_loaded(elf::sbpf::load_program(read_fixture(name), config), input);
}

struct Fixture {
  const char* file;
  std::vector<uint8_t> input;
  Outcome expected;
};

// Test names and messages show the file, not the struct's bytes.
void PrintTo(const Fixture& fixture, std::ostream* out) { *out << fixture.file; }

class SbpfFixture : public testing::TestWithParam<Fixture> {};

TEST_P(SbpfFixture, GivesTheReadmesResult) {
  const Fixture& fixture = GetParam();
  const Outcome got = run_fixture(fixture.file, fixture.input);
  EXPECT_EQ(got.error, fixture.expected.error);
  if (fixture.expected.error.empty() || fixture.expected.compute_units != 0) {
    EXPECT_EQ(got.r0, fixture.expected.r0) << std::hex << "0x" << got.r0;
    EXPECT_EQ(got.compute_units, fixture.expected.compute_units);
  }
}

const std::vector<uint8_t> kOne = {1};

TEST_P(SbpfFixture, GivesTheReadmesResultAsAnIsaProgram) {
  const Fixture& fixture = GetParam();
  const Outcome got = run_fixture_program(fixture.file, fixture.input);
  EXPECT_EQ(got.error, fixture.expected.error);
  if (fixture.expected.error.empty() || fixture.expected.compute_units != 0) {
    EXPECT_EQ(got.r0, fixture.expected.r0) << std::hex << "0x" << got.r0;
    EXPECT_EQ(got.compute_units, fixture.expected.compute_units);
  }
}

INSTANTIATE_TEST_SUITE_P(Readme, SbpfFixture,
                         testing::Values(Fixture{"strict_header.so", {}, {"", 42, 5}},
                                         Fixture{"relative_call.so", kOne, {"", 3, 16}},
                                         Fixture{"relative_call_sbpfv0.so", kOne, {"", 3, 16}},
                                         Fixture{"reloc_64_64.so", {}, {"", 0x1'0000'0000, 2}},
                                         Fixture{"reloc_64_64_sbpfv0.so", {}, {"", 0x1'0000'0120, 2}},
                                         Fixture{"reloc_64_relative.so", {}, {"", 0, 2}},
                                         Fixture{"reloc_64_relative_sbpfv0.so", {}, {"", 0x1'0000'0138, 2}},
                                         Fixture{"reloc_64_relative_data.so", {}, {"", 0, 3}},
                                         Fixture{"reloc_64_relative_data_sbpfv0.so", {}, {"", 0x1'0000'0140, 3}},
                                         Fixture{"rodata_section.so", {}, {"", 42, 3}},
                                         Fixture{"rodata_section_sbpfv0.so", {}, {"", 42, 3}},
                                         Fixture{"struct_func_pointer.so", {}, {"", 0x0102030405060708, 2}},
                                         Fixture{"struct_func_pointer_sbpfv0.so", {}, {"", 0x0102030405060708, 2}},
                                         Fixture{"syscall_static.so", {}, {"", 0, 5}},
                                         Fixture{"syscall_reloc_64_32_sbpfv0.so", {}, {"", 0, 5}},
                                         Fixture{"callx_unaligned.so", {}, {"CallDepthExceeded", 0, 129}},
                                         Fixture{"bss_section_sbpfv0.so", {}, {"WritableSectionNotSupported"}},
                                         Fixture{"data_section_sbpfv0.so", {}, {"WritableSectionNotSupported"}},
                                         Fixture{"program_headers_overflow.so", {}, {"InvalidProgramHeader"}},
                                         Fixture{"long_section_name.so", {}, {"FailedToParse"}},
                                         Fixture{"long_dynamic_symbol_name_sbpfv0.so", {}, {"UnknownSymbol"}}),
                         [](const testing::TestParamInfo<Fixture>& info) {
                           std::string name = info.param.file;
                           name = name.substr(0, name.size() - 3);
                           return name;
                         });

TEST(SbpfFixtures, LongSymbolNamesLoad) {
  for (const char* name : {"long_symbol_name.so", "long_symbol_name_sbpfv0.so"}) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> file = read_fixture(name);
    elf::sbpf::LoaderConfig labels;
    labels.symbol_labels = true;
    auto program = elf::sbpf::load(file, labels);
    ASSERT_TRUE(program) << to_string(program.error());
    bool long_label = false;
    for (const auto& [key, function] : program->functions) long_label |= function.name.size() >= 64;
    EXPECT_TRUE(long_label) << "a label of 64 bytes or more is kept";
    // Production loading (no labels) keeps the names for display.
    auto bare = elf::sbpf::load(file);
    ASSERT_TRUE(bare) << to_string(bare.error());
    bool long_name = false;
    for (const auto& [pc, symbol] : bare->symbol_names) long_name |= symbol.size() >= 64;
    EXPECT_TRUE(long_name);
  }
}

TEST(SbpfFixtures, WritableSectionErrorNamesTheSection) {
  for (const char* name : {"bss_section_sbpfv0.so", "data_section_sbpfv0.so"}) {
    auto program = elf::sbpf::load(read_fixture(name));
    ASSERT_FALSE(program);
    EXPECT_EQ(program.error().name(), "WritableSectionNotSupported");
    EXPECT_NE(program.error().message.find(std::string(name).starts_with("bss") ? ".bss" : ".data"), std::string::npos)
        << program.error().message;
    EXPECT_TRUE(program.error().location.offset.has_value());
  }
}

TEST(SbpfFixtures, UnresolvedSyscallFailsOnlyWithDeployChecks) {
  elf::sbpf::LoaderConfig config;
  config.deploy_checks = true;
  config.syscalls = {"sol_log_"};  // no "log"
  auto program = elf::sbpf::load(read_fixture("syscall_reloc_64_32_sbpfv0.so"), config);
  ASSERT_FALSE(program);
  EXPECT_EQ(program.error().name(), "UnresolvedSymbol");
  EXPECT_NE(program.error().message.find("log"), std::string::npos) << program.error().message;
  ASSERT_TRUE(program.error().location.offset.has_value());
  EXPECT_EQ(*program.error().location.offset, 312u);
  EXPECT_NE(program.error().message.find("39"), std::string::npos) << "the instruction index";

  config.deploy_checks = false;
  EXPECT_TRUE(elf::sbpf::load(read_fixture("syscall_reloc_64_32_sbpfv0.so"), config));
}

TEST(SbpfFixtures, SyscallWithoutRegistrationIsAnErrorAtRunTime) {
  // Loaded without "log" (no deploy checks), the call has nowhere to go.
  elf::sbpf::LoaderConfig config;
  config.syscalls = {"sol_log_"};
  vm::HelperTable only_sol_log;
  ASSERT_TRUE(only_sol_log.add_syscall("sol_log_", [](vm::HelperCall&) -> Expected<uint64_t> { return 0; }));
  auto loaded = elf::sbpf::load(read_fixture("syscall_static.so"), config);
  ASSERT_TRUE(loaded) << to_string(loaded.error());
  auto program = elf::sbpf::to_program(std::move(*loaded));
  ASSERT_TRUE(program) << to_string(program.error());
  vm::Context context(*program->dialect);
  context.helpers() = only_sol_log;
  auto interpreter = vm::sbpf::Interpreter::create(*program, context);
  ASSERT_TRUE(interpreter);
  const vm::RunResult result = interpreter->run(context);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(result.error->name(), "UnsupportedInstruction");
}

TEST(SbpfFixtures, BudgetOfExactlyTheUsedUnitsSucceedsAndOneLessFails) {
  const std::vector<uint8_t> file = read_fixture("relative_call.so");
  auto loaded = elf::sbpf::load(file);
  ASSERT_TRUE(loaded) << to_string(loaded.error());
  auto program = elf::sbpf::to_program(std::move(*loaded));
  ASSERT_TRUE(program) << to_string(program.error());
  vm::Context context(*program->dialect);
  auto interpreter = vm::sbpf::Interpreter::create(*program, context);
  ASSERT_TRUE(interpreter);
  std::vector<uint8_t> input = kOne;
  context.map_input(input);
  context.set_budget(16);
  vm::RunResult result = interpreter->run(context);
  EXPECT_FALSE(result.error.has_value());
  EXPECT_EQ(result.compute_units, 16u);
  context.set_budget(15);
  result = interpreter->run(context);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(result.error->name(), "ExceededMaxInstructions");
  EXPECT_EQ(result.compute_units, 15u);
}

TEST(SbpfFixtures, VersionsAreReadFromTheHeader) {
  auto v3 = elf::sbpf::peek(read_fixture("strict_header.so"));
  ASSERT_TRUE(v3) << to_string(v3.error());
  EXPECT_EQ(v3->sbpf_version, 3u);
  auto v0 = elf::sbpf::peek(read_fixture("rodata_section_sbpfv0.so"));
  ASSERT_TRUE(v0) << to_string(v0.error());
  EXPECT_EQ(v0->sbpf_version, 0u);
  elf::sbpf::LoaderConfig only_v0;
  only_v0.max_version = 0;
  auto refused = elf::sbpf::load(read_fixture("strict_header.so"), only_v0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().name(), "UnsupportedSBPFVersion");
}

// load_program: the dialect, the decoded text, functions with names and
// boundaries, call keys, syscalls by key, the images and the entry.
TEST(SbpfProgram, CarriesWhatTheLoaderFound) {
  elf::sbpf::LoaderConfig config;
  config.syscalls = vm::HelperTable::sbpf_defaults().names();
  for (const char* name : {"relative_call_sbpfv0.so", "relative_call.so", "syscall_reloc_64_32_sbpfv0.so",
                           "syscall_static.so", "rodata_section_sbpfv0.so", "rodata_section.so"}) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> file = read_fixture(name);
    auto loaded = elf::sbpf::load(file, config);
    ASSERT_TRUE(loaded) << to_string(loaded.error());
    auto program = elf::sbpf::load_program(file, config);
    ASSERT_TRUE(program) << to_string(program.error());
    EXPECT_EQ(program->dialect, isa::sbpf_dialect(loaded->info.sbpf_version));
    EXPECT_EQ(program->slots, loaded->text);
    EXPECT_EQ(program->ops.size(), program->slots.size());
    EXPECT_EQ(program->entry, loaded->entry_pc);
    EXPECT_EQ(program->rodata, loaded->rodata);
    EXPECT_EQ(program->rodata_vaddr, loaded->rodata_vaddr);
    EXPECT_EQ(program->text_vaddr, loaded->text_vaddr);
    // Functions: one per call destination, in order, back to back to the end.
    ASSERT_FALSE(program->functions.empty());
    size_t destinations = 0;
    for (bool d : loaded->calldests) destinations += d ? 1 : 0;
    EXPECT_EQ(program->functions.size(), destinations);
    for (size_t i = 0; i < program->functions.size(); ++i) {
      const isa::Function& f = program->functions[i];
      EXPECT_TRUE(loaded->calldests[f.start]) << f.name;
      EXPECT_FALSE(f.name.empty());
      const uint32_t end =
          i + 1 < program->functions.size() ? program->functions[i + 1].start : static_cast<uint32_t>(program->size());
      EXPECT_EQ(f.start + f.size, end) << f.name;
    }
    ASSERT_NE(program->function_at(program->entry), nullptr);
    EXPECT_EQ(program->function_at(program->entry)->start, program->entry);
    // v0..v2 resolve calls by key; v3 has none.
    if (loaded->info.sbpf_version < 3) {
      EXPECT_EQ(program->function_keys.size(), loaded->functions.size());
      EXPECT_EQ(program->function_keys.at(isa::murmur3_32(std::string_view("entrypoint"))), program->entry);
    } else {
      EXPECT_TRUE(program->function_keys.empty());
    }
  }
}

TEST(SbpfProgram, NamesFunctionsAndSyscalls) {
  elf::sbpf::LoaderConfig config;
  config.syscalls = vm::HelperTable::sbpf_defaults().names();
  for (const char* name : {"syscall_reloc_64_32_sbpfv0.so", "syscall_static.so"}) {
    SCOPED_TRACE(name);
    auto program = elf::sbpf::load_program(read_fixture(name), config);
    ASSERT_TRUE(program) << to_string(program.error());
    const uint32_t log = isa::murmur3_32(std::string_view("log"));
    ASSERT_TRUE(program->syscall_keys.contains(log));
    EXPECT_EQ(program->syscall_keys.at(log), "log");
  }
  auto relative = elf::sbpf::load_program(read_fixture("relative_call_sbpfv0.so"), config);
  ASSERT_TRUE(relative) << to_string(relative.error());
  ASSERT_GE(relative->functions.size(), 2u);
  std::vector<std::string> names;
  for (const isa::Function& f : relative->functions) names.push_back(f.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "entrypoint"), names.end()) << testing::PrintToString(names);
}

TEST(SbpfProgram, LoaderAndVerifierErrorsKeepTheirNames) {
  auto refused = elf::sbpf::load_program(read_fixture("bss_section_sbpfv0.so"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().name(), "WritableSectionNotSupported");
  // A text the loader takes but the verifier refuses: an unknown opcode.
  std::vector<uint8_t> file = read_fixture("strict_header.so");
  auto image = elf::sbpf::load(file);
  ASSERT_TRUE(image) << to_string(image.error());
  file[image->info.text_offset] = 0xff;
  auto bad = elf::sbpf::load_program(file);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().name(), "UnknownOpCode");
  EXPECT_EQ(bad.error().location.pc, 0u);
}

}  // namespace
}  // namespace bpfkit
