// The assembler against ../shared/asm-corpus: every source assembles to the
// bytes the reference assemblers produced, with the same relocations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "bpfkit/assembly.hpp"

namespace bpfkit::assembly {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(BPFKIT_SHARED_DIR) / "asm-corpus";

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> read_lines(const fs::path& file) {
  std::vector<std::string> lines;
  std::istringstream in(read_text(file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::vector<std::string> hex_slots(const std::vector<uint8_t>& bytes) {
  std::vector<std::string> lines;
  for (size_t at = 0; at + 8 <= bytes.size(); at += 8) {
    char buf[17];
    for (int i = 0; i < 8; ++i) std::snprintf(buf + 2 * i, 3, "%02x", bytes[at + i]);
    lines.emplace_back(buf, 16);
  }
  return lines;
}

std::string errors_of(const Assembly& assembly, std::string_view source) {
  std::string out;
  for (const Error& error : assembly.errors) out += format_diagnostic(error, source);
  return out;
}

// (source file, expected .text hex file)
struct Case {
  std::string source, expected;
};

std::vector<Case> corpus_cases() {
  return {{"core-normal.s", "core.expected.hex"},
          {"core-pseudoc.s", "core.expected.hex"},
          {"core-pseudoc-gas.s", "core.expected.hex"},
          {"core-mixed.s", "core.expected.hex"},
          {"llvm-extra.s", "llvm-extra.expected.hex"},
          {"gas-extra-normal.s", "gas-extra-normal.expected.hex"},
          {"gas-extra-pseudoc.s", "gas-extra-pseudoc.expected.hex"},
          {"legacy-gas240.s", "legacy-gas240.expected.hex"},
          {"relocs-pseudoc.s", "relocs-pseudoc.expected.hex"},
          {"relocs-normal.s", "relocs-normal.expected.hex"},
          {"clang19-v4.s", "clang19-v4.expected.hex"},
          {"gcc12.s", "gcc12.expected.hex"}};
}

class AsmCorpus : public ::testing::TestWithParam<Case> {};

TEST_P(AsmCorpus, AssemblesToReferenceBytes) {
  const fs::path source = kCorpus / GetParam().source;
  const std::string text = read_text(source);
  AssembleOptions options;
  options.input_name = GetParam().source;
  const Assembly assembly = assemble(text, options);
  ASSERT_TRUE(assembly.ok()) << errors_of(assembly, text);
  const Section* section = assembly.object.find_section(".text");
  ASSERT_NE(section, nullptr);
  const std::vector<std::string> want = read_lines(kCorpus / GetParam().expected);
  const std::vector<std::string> got = hex_slots(section->bytes);
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i)
    EXPECT_EQ(i < got.size() ? got[i] : "(none)", i < want.size() ? want[i] : "(none)") << "slot " << i;
}

std::string identifier(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, AsmCorpus, ::testing::ValuesIn(corpus_cases()),
                         [](const auto& info) { return identifier(info.param.source); });

}  // namespace
}  // namespace bpfkit::assembly
