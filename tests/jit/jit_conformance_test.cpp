// The bpf_conformance suite under the JIT: every file's r0 (or error), and
// the same registers, count and error as the interpreter.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "bpfkit/assembly.hpp"
#include "bpfkit/verify.hpp"
#include "compare.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> corpus() {
  const fs::path dir = fs::path(BPFKIT_SHARED_DIR) / "conformance" / "tests";
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".data") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string identifier(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

class JitConformance : public ::testing::TestWithParam<fs::path> {};

TEST_P(JitConformance, ResultAndInterpreterAgree) {
  const fs::path& file = GetParam();
  auto test = assembly::parse_conformance_test(test::read_text(file), file.filename().string());
  ASSERT_TRUE(test.has_value()) << to_string(test.error());
  auto slots = assembly::conformance_program(*test, file.filename().string());
  ASSERT_TRUE(slots.has_value()) << to_string(slots.error());
  auto program = isa::decode(*slots);
  if (!program) {
    ASSERT_TRUE(test->error.has_value()) << to_string(program.error());
    return;
  }
  const std::vector<uint8_t> memory = test->has_memory ? test->memory : std::vector<uint8_t>{};
  const test::EngineRun jit = test::run_engine(true, *program, memory, std::nullopt);
  if (test->error) {
    EXPECT_TRUE(!jit.prepared || jit.result.error.has_value()) << "expected an error: " << *test->error;
  } else {
    ASSERT_TRUE(jit.prepared) << jit.prepare_error;
    ASSERT_FALSE(jit.result.error.has_value()) << to_string(*jit.result.error);
    ASSERT_TRUE(test->result.has_value());
    EXPECT_EQ(jit.result.r0, *test->result) << std::hex << "r0 0x" << jit.result.r0 << ", expected 0x" << *test->result;
  }
  test::expect_same_run(*program, memory);
  test::expect_same_run(*program, memory, std::nullopt, jit::Options{.harden = true});  // constants blinded
  // What the verifier accepts (raw type, r1 = the memory) runs with the
  // checks it proved redundant left out, with the interpreter's results.
  verify::Options verify_options;
  verify_options.mem_size = memory.size();
  verify::Result verdict = verify::verify(*program, verify_options);
  if (verdict.accepted)
    test::expect_same_run(*program, memory, std::nullopt,
                          jit::Options{.proven = std::move(verdict.proven), .proven_memory_size = memory.size()});
}

INSTANTIATE_TEST_SUITE_P(Suite, JitConformance, ::testing::ValuesIn(corpus()),
                         [](const auto& info) { return identifier(info.param.stem().string()); });

TEST(JitConformanceCorpus, HasAll313Files) { EXPECT_EQ(corpus().size(), 313u); }

}  // namespace
}  // namespace bpfkit
