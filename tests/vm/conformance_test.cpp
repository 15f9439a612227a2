// Every file of the bpf_conformance suite, run through the interpreter; the
// full 64-bit r0 must equal the file's `-- result`.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bpfkit/assembly.hpp"
#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;

fs::path corpus_dir() { return fs::path(BPFKIT_SHARED_DIR) / "conformance" / "tests"; }

std::vector<fs::path> corpus() {
  std::vector<fs::path> files;
  if (!fs::is_directory(corpus_dir())) return files;
  for (const auto& entry : fs::directory_iterator(corpus_dir()))
    if (entry.path().extension() == ".data") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

using test::read_text;

std::string identifier(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

// Runs a test the way the plugin protocol does: r1 = memory, r2 = its length
// when the test has `-- mem`, otherwise both 0.
Expected<uint64_t> run_test(const assembly::ConformanceTest& test, const std::string& name) {
  auto slots = assembly::conformance_program(test, name);
  if (!slots) return slots.error();
  auto program = isa::decode(*slots);
  if (!program) return program.error();
  vm::Context context;
  auto interpreter = vm::Interpreter::create(*program, context);
  if (!interpreter) return interpreter.error();
  std::vector<uint8_t> memory = test.memory;
  if (test.has_memory) context.map_input(memory);
  vm::RunResult result = interpreter->run(context);
  if (result.error) return *result.error;
  return result.r0;
}

class Conformance : public ::testing::TestWithParam<fs::path> {};

TEST_P(Conformance, FullR0MatchesResult) {
  const fs::path& file = GetParam();
  auto test = assembly::parse_conformance_test(read_text(file), file.filename().string());
  ASSERT_TRUE(test.has_value()) << to_string(test.error());
  auto r0 = run_test(*test, file.filename().string());
  if (test->error) {
    ASSERT_FALSE(r0.has_value()) << "expected an error: " << *test->error;
    return;
  }
  ASSERT_TRUE(test->result.has_value()) << "file has neither -- result nor -- error";
  ASSERT_TRUE(r0.has_value()) << to_string(r0.error());
  EXPECT_EQ(*r0, *test->result) << std::hex << "r0 0x" << *r0 << ", expected 0x" << *test->result;
}

INSTANTIATE_TEST_SUITE_P(Suite, Conformance, ::testing::ValuesIn(corpus()),
                         [](const auto& info) { return identifier(info.param.stem().string()); });

TEST(ConformanceCorpus, HasAll313Files) { EXPECT_EQ(corpus().size(), 313u) << "in " << corpus_dir(); }

}  // namespace
}  // namespace bpfkit
