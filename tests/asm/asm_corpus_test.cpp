// The assembler against ../shared/asm-corpus: every source assembles to the
// bytes the reference assemblers produced, with the same relocations, and
// the ELF file written from it reads cleanly in llvm-readelf and llvm-objdump
// (those checks skip when the tools are not installed).
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>

#include "bpfkit/assembly.hpp"
#include "test_support.hpp"

namespace bpfkit::assembly {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(BPFKIT_SHARED_DIR) / "asm-corpus";

using test::read_text;

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

// ---- Relocations and data sections ------------------------------------------------

// Assembles a corpus file; the test fails (and the object is empty) on errors.
Object assemble_file(const std::string& name) {
  const std::string text = read_text(kCorpus / name);
  AssembleOptions options;
  options.input_name = name;
  const Assembly assembly = assemble(text, options);
  EXPECT_TRUE(assembly.ok()) << errors_of(assembly, text);
  return assembly.object;
}

std::string relocation_type_name(uint32_t type) {
  switch (type) {
    case kRelBpf64_64: return "R_BPF_64_64";
    case kRelBpf64Abs64: return "R_BPF_64_ABS64";
    case kRelBpf64Abs32: return "R_BPF_64_ABS32";
    case kRelBpf64Nodyld32: return "R_BPF_64_NODYLD32";
    case kRelBpf64_32: return "R_BPF_64_32";
  }
  return "type" + std::to_string(type);
}

// The relocations as the corpus lists them: a `section .rel<name>` heading
// per patched section (in section order), then `offset type symbol` lines in
// the order the object holds them.
std::vector<std::string> relocation_lines(const Object& object) {
  std::vector<std::string> lines;
  for (uint32_t section = 0; section < object.sections.size(); ++section) {
    bool heading = false;
    for (const Relocation& relocation : object.relocations) {
      if (relocation.section != section) continue;
      if (!heading) lines.push_back("section .rel" + object.sections[section].name);
      heading = true;
      char offset[17];
      std::snprintf(offset, sizeof offset, "%016llx", static_cast<unsigned long long>(relocation.offset));
      lines.push_back(std::string(offset) + " " + relocation_type_name(relocation.type) + " " + relocation.symbol);
    }
  }
  return lines;
}

void expect_same_lines(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i)
    EXPECT_EQ(i < got.size() ? got[i] : "(none)", i < want.size() ? want[i] : "(none)") << "line " << i + 1;
}

class AsmCorpusRelocations : public ::testing::TestWithParam<std::string> {};

TEST_P(AsmCorpusRelocations, MatchTheReferenceAssembler) {
  const Object object = assemble_file(GetParam() + ".s");
  expect_same_lines(relocation_lines(object), read_lines(kCorpus / (GetParam() + ".expected.relocs")));
}

INSTANTIATE_TEST_SUITE_P(Files, AsmCorpusRelocations,
                         ::testing::Values("relocs-pseudoc", "relocs-normal", "clang19-v4", "gcc12"),
                         [](const auto& info) { return identifier(info.param); });

// A section's bytes as directives.expected.sections shows them: 16
// space-separated lowercase hex bytes a line.
std::vector<std::string> hex_dump(const std::vector<uint8_t>& bytes) {
  std::vector<std::string> lines;
  for (size_t at = 0; at < bytes.size(); at += 16) {
    std::string line;
    for (size_t i = at; i < std::min(at + 16, bytes.size()); ++i) {
      char byte[4];
      std::snprintf(byte, sizeof byte, i == at ? "%02x" : " %02x", bytes[i]);
      line += byte;
    }
    lines.push_back(line);
  }
  return lines;
}

// directives.s lists its sections in llvm-mc's order; llvm-mc pads no
// section's end (GNU as may pad to the alignment), so the sizes match too.
TEST(AsmCorpusDirectives, SectionsAndRelocationsMatchLlvmMc) {
  const Object object = assemble_file("directives.s");
  std::vector<std::string> got;
  for (const char* name : {".text", "socket", ".rodata", ".data", "license"}) {
    const Section* section = object.find_section(name);
    ASSERT_NE(section, nullptr) << name;
    got.push_back("section " + std::string(name));
    for (std::string& line : hex_dump(section->bytes)) got.push_back(std::move(line));
  }
  for (std::string& line : relocation_lines(object)) got.push_back(std::move(line));
  expect_same_lines(got, read_lines(kCorpus / "directives.expected.sections"));
}

TEST(AsmCorpusDirectives, SectionFlagsAndSymbols) {
  const Object object = assemble_file("directives.s");
  const auto flags = [&](const char* name) {
    const Section* section = object.find_section(name);
    return section ? section->flags : ~uint64_t{0};
  };
  EXPECT_EQ(flags(".text"), kShfAlloc | kShfExecinstr);
  EXPECT_EQ(flags("socket"), kShfAlloc | kShfExecinstr);
  EXPECT_EQ(flags(".rodata"), kShfAlloc);
  EXPECT_EQ(flags(".data"), kShfAlloc | kShfWrite);
  EXPECT_EQ(flags("license"), kShfAlloc | kShfWrite);
  const auto find = [&](std::string_view name) -> const Symbol* {
    for (const Symbol& symbol : object.symbols)
      if (symbol.name == name) return &symbol;
    return nullptr;
  };
  const Symbol* entry = find("entry");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->binding, Binding::Global);
  EXPECT_EQ(entry->type, SymbolType::Func);
  EXPECT_EQ(entry->size, 32u);              // four instructions
  EXPECT_EQ(find(".Lentry_end"), nullptr);  // assembler-local
  EXPECT_EQ(find("ANSWER"), nullptr);       // constants are no symbols
  ASSERT_NE(find("counter"), nullptr);
  EXPECT_EQ(find("counter")->binding, Binding::Global);
}

// ---- Symbols ---------------------------------------------------------------------

struct SizedSymbol {
  std::string source, symbol;
  uint64_t size;  // as llvm-mc (or GNU as for gcc12.s) computes it
};

class AsmCorpusSymbolSize : public ::testing::TestWithParam<SizedSymbol> {};

// `.size f, .-f` and `.size f, .Lend-f`: the distance from the label to
// where the directive stands (or to the later label).
TEST_P(AsmCorpusSymbolSize, MatchesTheReferenceAssembler) {
  const Object object = assemble_file(GetParam().source);
  const auto symbol = std::find_if(object.symbols.begin(), object.symbols.end(),
                                   [&](const Symbol& s) { return s.name == GetParam().symbol; });
  ASSERT_NE(symbol, object.symbols.end());
  EXPECT_EQ(symbol->size, GetParam().size);
  EXPECT_EQ(symbol->type, SymbolType::Func);
}

INSTANTIATE_TEST_SUITE_P(Files, AsmCorpusSymbolSize,
                         ::testing::Values(SizedSymbol{"relocs-pseudoc.s", "prog", 88},
                                           SizedSymbol{"relocs-normal.s", "prog", 88},
                                           SizedSymbol{"clang19-v4.s", "sample", 320},
                                           SizedSymbol{"gcc12.s", "sample", 1192},
                                           SizedSymbol{"directives.s", "entry", 32}),
                         [](const auto& info) { return identifier(info.param.source); });

class AsmCorpusSymbols : public ::testing::TestWithParam<std::string> {};

// The assembler's own symbols (`.` in expressions) and .L labels stay out.
TEST_P(AsmCorpusSymbols, AreOnlyTheSourcesNames) {
  for (const Symbol& symbol : assemble_file(GetParam()).symbols) {
    EXPECT_FALSE(symbol.name.empty());
    EXPECT_FALSE(symbol.name.starts_with(".L")) << symbol.name;
    for (char c : symbol.name)
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$')
          << "symbol name with byte " << static_cast<int>(c) << " in " << GetParam();
  }
}

// ---- The written ELF file in the LLVM tools ---------------------------------------

using test::find_tool;
using test::TempDir;

std::vector<std::string> all_sources() {
  std::vector<std::string> sources;
  for (const Case& c : corpus_cases()) sources.push_back(c.source);
  sources.push_back("directives.s");
  return sources;
}

class AsmCorpusElf : public ::testing::TestWithParam<std::string> {
 protected:
  // Writes the assembled file's object; empty if the directory is missing.
  std::string write_object() {
    const Object object = assemble_file(GetParam());
    const std::vector<uint8_t> elf = write_elf(object).value();
    if (dir_.path().empty()) return {};
    const fs::path file = dir_.path() / "out.o";
    std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(elf.data()), elf.size());
    return file.string();
  }

  // Runs `tool arguments file` and expects a clean exit without warnings.
  void expect_clean(const std::string& tool, const std::string& arguments) {
    const std::string file = write_object();
    ASSERT_FALSE(file.empty());
    const test::CommandResult result = test::run_merged(tool + " " + arguments + " " + file);
    EXPECT_EQ(result.status, 0) << result.output;
    EXPECT_EQ(result.output.find("warning"), std::string::npos) << result.output;
    EXPECT_EQ(result.output.find("error"), std::string::npos) << result.output;
  }

 private:
  TempDir dir_;
};

TEST_P(AsmCorpusElf, LlvmReadelfReadsIt) {
  const auto readelf = find_tool({"llvm-readelf", "llvm-readelf-19", "llvm-readelf-14"});
  if (!readelf) GTEST_SKIP() << "llvm-readelf is not installed";
  expect_clean(*readelf, "--wide -S -r -s");
}

TEST_P(AsmCorpusElf, LlvmObjdumpDisassemblesIt) {
  const auto objdump = find_tool({"llvm-objdump", "llvm-objdump-19", "llvm-objdump-14"});
  if (!objdump) GTEST_SKIP() << "llvm-objdump is not installed";
  expect_clean(*objdump, "-d -r");
}

INSTANTIATE_TEST_SUITE_P(Files, AsmCorpusElf, ::testing::ValuesIn(all_sources()),
                         [](const auto& info) { return identifier(info.param); });
INSTANTIATE_TEST_SUITE_P(Files, AsmCorpusSymbols, ::testing::ValuesIn(all_sources()),
                         [](const auto& info) { return identifier(info.param); });

}  // namespace
}  // namespace bpfkit::assembly
