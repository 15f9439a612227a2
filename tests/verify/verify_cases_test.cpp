// The hand-written verifier cases (tests/data/verify/*.cases, format in its
// README.md): each program assembled, verified, and its verdict, errno and
// message compared with the kernel's.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/load.hpp"
#include "bpfkit/verify.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace bpfkit;

struct Case {
  std::string name, file;
  int line = 0;
  std::string options;
  bool accept = true;
  std::string errno_name, message;
  std::string source;
};

std::string trim(std::string text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::vector<Case> read_cases() {
  std::vector<Case> cases;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(BPFKIT_VERIFY_CASES))
    if (entry.path().extension() == ".cases") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    std::ifstream in(file);
    int number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (line.starts_with("== ")) {
        Case next;
        next.file = file.filename().string();
        next.line = number;
        next.name = trim(line.substr(3, line.find(':') == std::string::npos ? std::string::npos : line.find(':') - 3));
        cases.push_back(next);
      } else if (cases.empty() || line.starts_with("#") || trim(line).empty()) {
        continue;
      } else if (line.starts_with("options:")) {
        cases.back().options = trim(line.substr(8));
      } else if (line.starts_with("expect:")) {
        std::istringstream words(line.substr(7));
        std::string verdict;
        words >> verdict;
        cases.back().accept = verdict == "accept";
        if (!cases.back().accept) {
          words >> cases.back().errno_name;
          std::getline(words, cases.back().message);
          cases.back().message = trim(cases.back().message);
        }
      } else {  // the program: indented instructions and labels
        cases.back().source += line + "\n";
      }
    }
  }
  return cases;
}

verify::Options options_of(const Case& test) {
  verify::Options options;
  std::istringstream words(test.options);
  for (std::string word; words >> word;) {
    std::string value;
    words >> value;
    if (word == "--type") options.type = *verify::program_type_named(value);
    if (word == "--profile") options.profile = value == "bpf" ? verify::Profile::Bpf : verify::Profile::Root;
    if (word == "--mem-size") options.mem_size = std::stoull(value);
  }
  return options;
}

class VerifyCase : public ::testing::TestWithParam<Case> {};

TEST_P(VerifyCase, GivesTheKernelsVerdict) {
  const Case& test = GetParam();
  SCOPED_TRACE(test.file + ":" + std::to_string(test.line) + ": " + test.name);
  auto slots = load::assemble(test.source, test.file);
  ASSERT_TRUE(slots.has_value()) << to_string(slots.error());
  const verify::Result result = verify::verify_slots(*slots, options_of(test));
  const std::string message = result.error ? result.error->message : "";
  if (test.accept) {
    EXPECT_TRUE(result.accepted) << "rejected: " << message << "\n" << result.log;
    return;
  }
  EXPECT_FALSE(result.accepted) << "accepted; the kernel says: " << test.message;
  EXPECT_EQ(verify::errno_name(result.error_number), test.errno_name) << message;
  EXPECT_NE(message.find(test.message), std::string::npos) << "message: " << message << "\nwant: " << test.message;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.file.substr(0, info.param.file.find('.')) + "_" + info.param.name;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Cases, VerifyCase, ::testing::ValuesIn(read_cases()), case_name);

}  // namespace

// ---- Clang-compiled objects -------------------------------------------------------------

namespace {

struct ObjectCase {
  const char* file;
  const char* function;  // "" for the default program
  bool accept;
  const char* message;
};

// The type from the section, as `bpfkit verify` takes it (raw where the
// section names none of ours).
verify::Result verify_object(const std::string& path, const std::string& function) {
  load::Options options;
  options.function = function;
  auto opened = load::open_file(path, options);
  EXPECT_TRUE(opened.has_value()) << to_string(opened.error());
  if (!opened) return {};
  const std::string text = bpfkit::test::read_text(path);
  auto object = elf::EbpfObject::parse(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()), path);
  EXPECT_TRUE(object.has_value());
  auto chosen = object->choose_program("", function);
  EXPECT_TRUE(chosen.has_value());
  verify::Options verify_options;
  verify_options.type = verify::program_type_of_section((*chosen)->section).value_or(verify::ProgramType::Raw);
  return verify::verify(opened->program, verify_options);
}

// The C test programs (tests/bpf): what the kernel makes of them. Pointers
// in global data load as scalars in the kernel too (data_pointers).
TEST(VerifyObjects, TestProgramsAsTheKernelSees) {
  const std::string dir = BPFKIT_TEST_BPF_DIR;
  if (!std::filesystem::exists(dir + "/compute.o")) GTEST_SKIP() << "the C test programs were not built (clang-19)";
  const ObjectCase cases[] = {
      {"compute.o", "", true, ""},
      {"subprogs.o", "", true, ""},
      {"global_data.o", "", true, ""},
      {"legacy_maps.o", "", true, ""},
      {"map_types.o", "", true, ""},
      {"maps.o", "", true, ""},
      {"tail_call.o", "entry", true, ""},
      {"data_pointers.o", "", false, "R1 invalid mem access 'scalar'"},
      {"map_kinds.o", "map_kinds", true, ""},
      {"map_kinds.o", "wrong_map", false, "cannot pass map_type 16 into func bpf_map_lookup_elem#1"},
      {"load_setup.o", "", true, ""},
  };
  for (const ObjectCase& test : cases) {
    SCOPED_TRACE(test.file);
    const verify::Result result = verify_object(dir + "/" + test.file, test.function);
    EXPECT_EQ(result.accepted, test.accept) << (result.error ? result.error->message : "") << "\n" << result.log;
    if (!test.accept && result.error) {
      EXPECT_NE(result.error->message.find(test.message), std::string::npos);
    }
  }
}

// The six benchmark programs loop over their whole input: past the 1M
// processed-instruction limit, as in the kernel (E2BIG).
TEST(VerifyObjects, BenchProgramsExceedTheLimit) {
  const std::string dir = BPFKIT_BENCH_DIR;
  if (!std::filesystem::exists(dir + "/fib.bpf.o")) GTEST_SKIP() << "the benchmark programs were not built";
  for (const char* name : {"fib", "sieve", "bubble", "fnv1a", "xxh64", "csum"}) {
    SCOPED_TRACE(name);
    auto opened = load::open_file(dir + "/" + name + ".bpf.o");
    ASSERT_TRUE(opened.has_value()) << to_string(opened.error());
    verify::Options options;
    options.mem_size = 4096;
    const verify::Result result = verify::verify(opened->program, options);
    EXPECT_FALSE(result.accepted);
    EXPECT_EQ(verify::errno_name(result.error_number), "E2BIG") << (result.error ? result.error->message : "");
  }
}

}  // namespace
