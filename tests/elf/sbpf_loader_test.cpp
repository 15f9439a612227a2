// The sBPF loader (elf::sbpf::peek/load): every fixture of shared/sbpf/elfs
// with its production outcome, byte mutations of the strict header, and
// hand-built ELFs that reach each error path of the lenient loader.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/isa.hpp"
#include "sbpf_elf_builder.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace sbpf = elf::sbpf;
using isa::Slot;
using namespace test::sbpf_elf;

const std::filesystem::path kElfs = std::filesystem::path(BPFKIT_SHARED_DIR) / "sbpf" / "elfs";

std::vector<uint8_t> fixture(const std::string& name) {
  std::vector<uint8_t> bytes = test::read_bytes(kElfs / name);
  EXPECT_FALSE(bytes.empty()) << name;
  return bytes;
}

// Agave's enable_symbol_and_section_labels: every .symtab function registered.
sbpf::LoaderConfig labels_config() {
  sbpf::LoaderConfig config;
  config.symbol_labels = true;
  return config;
}

// The error name of a load, or "" when it loads.
std::string outcome(const std::vector<uint8_t>& bytes, const sbpf::LoaderConfig& config = {}) {
  auto program = sbpf::load(bytes, config);
  return program ? std::string() : std::string(program.error().name());
}

uint64_t lddw_value(const std::vector<Slot>& text, size_t pc) {
  return uint64_t{static_cast<uint32_t>(text[pc].imm)} | uint64_t{static_cast<uint32_t>(text[pc + 1].imm)} << 32;
}

uint64_t read_u64(const std::vector<uint8_t>& bytes, uint64_t offset) {
  uint64_t v = 0;
  for (unsigned i = 0; i < 8; ++i) v |= uint64_t{bytes.at(offset + i)} << (8 * i);
  return v;
}

// ---- The error table --------------------------------------------------------------

TEST(SbpfLoaderErrors, NamesAreTheRustVariants) {
  EXPECT_EQ(sbpf::error_name(sbpf::LoadErrc::FailedToParse), "FailedToParse");
  EXPECT_EQ(sbpf::error_name(sbpf::LoadErrc::WritableSectionNotSupported), "WritableSectionNotSupported");
  EXPECT_EQ(sbpf::error_name(sbpf::LoadErrc::InvalidProgramHeader), "InvalidProgramHeader");
  EXPECT_EQ(sbpf::error_name(sbpf::LoadErrc::NoDynamicStringTable), "NoDynamicStringTable");
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(sbpf::LoadErrc::NoDynamicStringTable); ++i) {
    auto code = static_cast<sbpf::LoadErrc>(i);
    EXPECT_FALSE(sbpf::error_text(code).empty());
    EXPECT_TRUE(names.insert(sbpf::error_name(code)).second) << sbpf::error_name(code);
    const Error error = make_error(Errc::BadHeader, code, "x");
    EXPECT_TRUE(error.is(code));
    EXPECT_EQ(error.name(), sbpf::error_name(code));
  }
  EXPECT_EQ(names.size(), 37u);
  EXPECT_EQ(detail_name(Domain::SbpfLoader, 999), "");
}

// ---- Fixtures ------------------------------------------------------------------------

TEST(SbpfLoaderFixtures, EveryFixtureHasItsOutcome) {
  const std::map<std::string, std::string> expected = {
      {"strict_header.so", ""},
      {"relative_call.so", ""},
      {"relative_call_sbpfv0.so", ""},
      {"reloc_64_64.so", ""},
      {"reloc_64_64_sbpfv0.so", ""},
      {"reloc_64_relative.so", ""},
      {"reloc_64_relative_sbpfv0.so", ""},
      {"reloc_64_relative_data.so", ""},
      {"reloc_64_relative_data_sbpfv0.so", ""},
      {"rodata_section.so", ""},
      {"rodata_section_sbpfv0.so", ""},
      {"struct_func_pointer.so", ""},
      {"struct_func_pointer_sbpfv0.so", ""},
      {"syscall_static.so", ""},
      {"syscall_reloc_64_32_sbpfv0.so", ""},
      {"callx_unaligned.so", ""},
      {"bss_section_sbpfv0.so", "WritableSectionNotSupported"},
      {"data_section_sbpfv0.so", "WritableSectionNotSupported"},
      {"program_headers_overflow.so", "InvalidProgramHeader"},
      {"long_section_name.so", "FailedToParse"},
      {"long_symbol_name.so", ""},
      {"long_symbol_name_sbpfv0.so", ""},
      {"long_dynamic_symbol_name_sbpfv0.so", "UnknownSymbol"},
  };
  size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kElfs)) {
    if (entry.path().extension() != ".so") continue;
    const std::string name = entry.path().filename().string();
    ASSERT_TRUE(expected.count(name)) << "unlisted fixture " << name;
    ++seen;
    sbpf::LoaderConfig config;
    config.syscalls = {"log"};
    for (bool deploy : {false, true}) {
      config.deploy_checks = deploy;
      EXPECT_EQ(outcome(fixture(name), config), expected.at(name)) << name << (deploy ? " (deploy)" : "");
      // peek() agrees with load() wherever the failure is in what it reads.
      const bool peeked = sbpf::peek(fixture(name), config).has_value();
      if (expected.at(name).empty()) {
        EXPECT_TRUE(peeked) << name;
      }
    }
  }
  EXPECT_EQ(seen, expected.size());
}

TEST(SbpfLoaderFixtures, WritableSectionsNameTheSection) {
  const auto bss_bytes = fixture("bss_section_sbpfv0.so");
  auto bss = sbpf::load(bss_bytes);
  ASSERT_FALSE(bss);
  EXPECT_NE(bss.error().message.find(".bss"), std::string::npos);
  EXPECT_EQ(bss.error().code, Errc::Unsupported);
  // The .bss section header: e_shoff + 6 * 64.
  EXPECT_EQ(bss.error().location.offset, read_u64(bss_bytes, 40) + 6 * 64);
  auto data = sbpf::load(fixture("data_section_sbpfv0.so"));
  ASSERT_FALSE(data);
  EXPECT_NE(data.error().message.find(".data"), std::string::npos);
}

TEST(SbpfLoaderFixtures, LongSectionNameIsStringTooLong) {
  auto result = sbpf::load(fixture("long_section_name.so"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().name(), "FailedToParse");
  EXPECT_NE(result.error().message.find("is longer than `16` bytes"), std::string::npos) << result.error().message;
  EXPECT_NE(result.error().message.find(".bss.__rust_no_a"), std::string::npos);
}

TEST(SbpfLoaderFixtures, UnresolvedSyscallUnderDeployChecks) {
  sbpf::LoaderConfig config;
  config.deploy_checks = true;
  auto result = sbpf::load(fixture("syscall_reloc_64_32_sbpfv0.so"), config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().name(), "UnresolvedSymbol");
  EXPECT_EQ(result.error().location.offset, 312u);
  EXPECT_EQ(result.error().location.pc, 39u);
  EXPECT_NE(result.error().message.find("log"), std::string::npos);

  config.syscalls = {"log"};
  auto program = sbpf::load(fixture("syscall_reloc_64_32_sbpfv0.so"), config);
  ASSERT_TRUE(program) << program.error().message;
  const uint32_t log = isa::murmur3_32(std::string_view("log"));
  ASSERT_EQ(program->syscalls_used.count(log), 1u);
  EXPECT_EQ(program->syscalls_used.at(log), "log");
  // r_offset 312 is slot (312 - 0x120) / 8 = 3 of .text: its imm is the key.
  EXPECT_EQ(static_cast<uint32_t>(program->text.at(3).imm), log);
  EXPECT_EQ(program->text.at(3).code, 0x85);
}

TEST(SbpfLoaderFixtures, LenientLayout) {
  auto program = sbpf::load(fixture("rodata_section_sbpfv0.so"));
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_EQ(program->info.sbpf_version, 0u);
  EXPECT_EQ(program->info.machine, 263);
  EXPECT_EQ(program->rodata_vaddr, uint64_t{1} << 32);
  EXPECT_EQ(program->text_vaddr, (uint64_t{1} << 32) + 0x120);
  EXPECT_EQ(program->info.text_offset, 0x120u);
  EXPECT_EQ(program->text.size(), 4u);
  EXPECT_EQ(program->info.text_count, 4u);
  EXPECT_EQ(program->entry_pc, 0u);
  // The image runs from address 0 to the end of .rodata; text sits at its address.
  EXPECT_EQ(program->rodata.size(), program->info.rodata_size);
  std::vector<uint8_t> text_bytes(program->rodata.begin() + 0x120, program->rodata.begin() + 0x140);
  EXPECT_EQ(text_bytes, isa::to_bytes(program->text));
  // Non-read-only parts of the image are zero.
  EXPECT_EQ(program->rodata[0], 0);
  const uint32_t entry = isa::murmur3_32(std::string_view("entrypoint"));
  ASSERT_EQ(program->functions.count(entry), 1u);
  EXPECT_EQ(program->functions.at(entry).pc, 0u);
  EXPECT_EQ(program->functions.at(entry).name, "entrypoint");
  ASSERT_EQ(program->calldests.size(), 4u);
  EXPECT_TRUE(program->calldests[0]);
}

TEST(SbpfLoaderFixtures, Reloc64_64) {
  auto v0 = sbpf::load(fixture("reloc_64_64_sbpfv0.so"));
  ASSERT_TRUE(v0) << v0.error().message;
  EXPECT_EQ(lddw_value(v0->text, 0), 0x100000120u);
  auto v3 = sbpf::load(fixture("reloc_64_64.so"));
  ASSERT_TRUE(v3) << v3.error().message;
  EXPECT_EQ(v3->info.sbpf_version, 3u);
  EXPECT_EQ(lddw_value(v3->text, 0), 0x100000000u);
  EXPECT_TRUE(v3->rodata.empty());
  EXPECT_EQ(v3->info.phndx_rodata, -1);
  EXPECT_EQ(v3->info.phndx_text, 0);
}

TEST(SbpfLoaderFixtures, Reloc64Relative) {
  auto v0 = sbpf::load(fixture("reloc_64_relative_sbpfv0.so"));
  ASSERT_TRUE(v0) << v0.error().message;
  EXPECT_EQ(lddw_value(v0->text, 0), 0x100000138u);
  auto v3 = sbpf::load(fixture("reloc_64_relative.so"));
  ASSERT_TRUE(v3) << v3.error().message;
  EXPECT_EQ(v3->text_vaddr, uint64_t{1} << 32);
  EXPECT_EQ(v3->rodata_vaddr, 0u);
}

TEST(SbpfLoaderFixtures, Reloc64RelativeDataUsesTheLegacyQuirk) {
  auto program = sbpf::load(fixture("reloc_64_relative_data_sbpfv0.so"));
  ASSERT_TRUE(program) << program.error().message;
  // .data.rel.ro at 0x160 held the low half at +4; now a full u64.
  EXPECT_EQ(read_u64(program->rodata, 0x160), 0x100000140u);
}

TEST(SbpfLoaderFixtures, RelativeCallsBecomePcKeys) {
  auto program = sbpf::load(fixture("relative_call_sbpfv0.so"));
  ASSERT_TRUE(program) << program.error().message;
  size_t calls = 0;
  for (size_t pc = 0; pc < program->text.size(); ++pc) {
    const Slot& s = program->text[pc];
    if (s.code != 0x85) continue;
    ++calls;
    auto key = static_cast<uint32_t>(s.imm);
    ASSERT_EQ(program->functions.count(key), 1u) << "pc " << pc;
    const uint64_t target = program->functions.at(key).pc;
    EXPECT_EQ(isa::sbpf_pc_key(target), key);
    EXPECT_TRUE(program->calldests.at(target));
  }
  EXPECT_GT(calls, 0u);

  auto v3 = sbpf::load(fixture("relative_call.so"));
  ASSERT_TRUE(v3) << v3.error().message;
  EXPECT_EQ(v3->entry_pc, 4u);
  EXPECT_TRUE(v3->calldests.at(4));
  for (size_t pc = 0; pc < v3->text.size(); ++pc) {
    const Slot& s = v3->text[pc];
    if (s.code == 0x85 && s.src() == 1) {
      EXPECT_TRUE(v3->calldests.at(pc + 1 + s.imm)) << pc;
    }
  }
}

TEST(SbpfLoaderFixtures, StrictHeaderLayout) {
  auto info = sbpf::peek(fixture("strict_header.so"));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->sbpf_version, 3u);
  EXPECT_EQ(info->phndx_rodata, 0);
  EXPECT_EQ(info->phndx_text, 1);
  EXPECT_EQ(info->text_offset, 0xf0u);
  EXPECT_EQ(info->text_size, 0x30u);
  EXPECT_EQ(info->rodata_size, 8u);
  EXPECT_EQ(info->entry_pc, 4u);
  auto program = sbpf::load(fixture("strict_header.so"));
  ASSERT_TRUE(program);
  EXPECT_EQ(program->rodata.size(), 8u);
  EXPECT_EQ(program->text.size(), 6u);
  EXPECT_TRUE(program->calldests.at(4));
}

TEST(SbpfLoaderFixtures, LongSymbolNamesKeepTheirLabels) {
  for (const char* name : {"long_symbol_name.so", "long_symbol_name_sbpfv0.so"}) {
    auto program = sbpf::load(fixture(name), labels_config());
    ASSERT_TRUE(program) << name << ": " << program.error().message;
    size_t longest = 0;
    for (const auto& [key, function] : program->functions) longest = std::max(longest, function.name.size());
    EXPECT_GE(longest, 64u) << name;
    EXPECT_LE(longest, 255u) << name;
    // Production (labels off, the default): no names registered, but the
    // display names are there.
    auto bare = sbpf::load(fixture(name), sbpf::LoaderConfig{});
    ASSERT_TRUE(bare);
    for (const auto& [key, function] : bare->functions)
      EXPECT_TRUE(function.name.empty() || function.name == "entrypoint") << function.name;
    size_t longest_display = 0;
    for (const auto& [pc, display] : bare->symbol_names) longest_display = std::max(longest_display, display.size());
    EXPECT_GE(longest_display, longest) << name;
    EXPECT_LE(longest_display, 255u) << name;
  }
}

TEST(SbpfLoaderFixtures, VersionWindow) {
  sbpf::LoaderConfig config;
  config.max_version = 2;
  auto result = sbpf::load(fixture("strict_header.so"), config);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().name(), "UnsupportedSBPFVersion");
  EXPECT_EQ(result.error().location.offset, 48u);
  config.max_version = 3;
  config.min_version = 1;
  EXPECT_EQ(outcome(fixture("rodata_section_sbpfv0.so"), config), "UnsupportedSBPFVersion");
  // A v0-only loader refuses v3 files.
  config.min_version = 0;
  config.max_version = 0;
  EXPECT_EQ(outcome(fixture("reloc_64_64.so"), config), "UnsupportedSBPFVersion");
  EXPECT_EQ(outcome(fixture("rodata_section_sbpfv0.so"), config), "");
}

// ---- Strict header mutations ------------------------------------------------------------

// strict_header.so: e_phnum = 3 (rodata, bytecode, one unchecked NULL segment).
TEST(SbpfLoaderStrict, EveryHeaderByteMutation) {
  const std::vector<uint8_t> original = fixture("strict_header.so");
  ASSERT_TRUE(sbpf::load(original));
  constexpr uint64_t kPhdrs = 64, kPhdrSize = 56;
  // Bytes the strict parser rejects any change of.
  auto checked = [&](uint64_t i) {
    if (i < 16) return true;                        // e_ident
    if (i >= 18 && i < 24) return true;             // e_machine, e_version
    if (i >= 32 && i < 40) return true;             // e_phoff
    if (i >= 52 && i < 56) return true;             // e_ehsize, e_phentsize
    if (i >= kPhdrs && i < kPhdrs + 2 * kPhdrSize)  // the two expected segments, but p_align
      return (i - kPhdrs) % kPhdrSize < 48;
    return false;
  };
  // Bytes it never looks at: e_type, e_shoff, e_shentsize, e_shnum,
  // e_shstrndx, p_align, the third segment.
  auto unchecked = [&](uint64_t i) {
    if (i == 16 || i == 17) return true;
    if (i >= 40 && i < 48) return true;
    if (i >= 58 && i < 64) return true;
    if (i >= kPhdrs && i < kPhdrs + 2 * kPhdrSize) return (i - kPhdrs) % kPhdrSize >= 48;
    return i >= kPhdrs + 2 * kPhdrSize && i < kPhdrs + 3 * kPhdrSize;
  };
  size_t failures = 0, successes = 0;
  for (uint64_t i = 0; i < kPhdrs + 3 * kPhdrSize; ++i) {
    if (i >= 48 && i < 52) continue;  // e_flags selects another loader
    for (uint8_t flip : {0x01, 0x02, 0x10, 0x80, 0xff}) {
      std::vector<uint8_t> bytes = original;
      bytes[i] ^= flip;
      auto result = sbpf::load(bytes);
      auto info = sbpf::peek(bytes);
      EXPECT_EQ(result.has_value(), info.has_value()) << "byte " << i;
      if (result) {
        ++successes;
        EXPECT_FALSE(checked(i)) << "byte " << i << " ^ " << int(flip) << " was accepted";
        continue;
      }
      ++failures;
      const std::string name(result.error().name());
      EXPECT_TRUE(name == "InvalidFileHeader" || name == "InvalidProgramHeader")
          << "byte " << i << " ^ " << int(flip) << ": " << name;
      EXPECT_FALSE(unchecked(i)) << "byte " << i << " ^ " << int(flip) << " rejected: " << name;
      ASSERT_TRUE(result.error().location.offset.has_value());
      EXPECT_LT(*result.error().location.offset, kPhdrs + 3 * kPhdrSize);
    }
  }
  EXPECT_GT(failures, 100u);
  EXPECT_GT(successes, 50u);
}

TEST(SbpfLoaderStrict, ErrorPaths) {
  const std::vector<uint8_t> original = fixture("strict_header.so");
  // Shorter than e_flags: the version cannot be read.
  EXPECT_EQ(outcome({original.begin(), original.begin() + 50}), "ValueOutOfBounds");
  // e_flags readable, header not: the strict parser's OutOfBounds.
  EXPECT_EQ(outcome({original.begin(), original.begin() + 60}), "OutOfBounds");
  // The header table reaching the end of the file.
  EXPECT_EQ(outcome({original.begin(), original.begin() + 64 + 3 * 56}), "InvalidFileHeader");
  // A segment running past the end of the file.
  EXPECT_EQ(outcome({original.begin(), original.begin() + 0xf8}), "InvalidProgramHeader");
  // The entrypoint outside the bytecode, or not at an instruction.
  auto bytes = original;
  put(bytes, 24, 0x100000030, 8);
  auto result = sbpf::load(bytes);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().name(), "InvalidFileHeader");
  EXPECT_EQ(result.error().location.offset, 24u);
  put(bytes, 24, 0x100000004, 8);
  EXPECT_EQ(outcome(bytes), "InvalidFileHeader");
  // Machine 263 is not the strict parser's.
  bytes = original;
  put(bytes, 18, 263, 2);
  EXPECT_EQ(outcome(bytes), "InvalidFileHeader");
}

// ---- Hand-built lenient ELFs ---------------------------------------------------------------

sbpf::LoaderConfig deploy_config(std::vector<std::string> syscalls = {}) {
  sbpf::LoaderConfig config;
  config.deploy_checks = true;
  config.syscalls = std::move(syscalls);
  return config;
}

// Loads and expects `name` at file offset `offset`.
void expect_error(const std::vector<uint8_t>& bytes, const std::string& name, std::optional<uint64_t> offset = {},
                  const sbpf::LoaderConfig& config = {}, const std::string& in_message = {}) {
  auto result = sbpf::load(bytes, config);
  ASSERT_FALSE(result) << "expected " << name;
  EXPECT_EQ(result.error().name(), name) << result.error().message;
  ASSERT_TRUE(result.error().location.offset.has_value());
  if (offset) {
    EXPECT_EQ(*result.error().location.offset, *offset) << name;
  }
  if (!in_message.empty()) {
    EXPECT_NE(result.error().message.find(in_message), std::string::npos) << result.error().message;
  }
}

TEST(SbpfLoaderBuilt, BaselineLoads) {
  ElfBuilder b;
  auto bytes = b.build();
  for (const auto& config : {sbpf::LoaderConfig{}, deploy_config()}) {
    auto program = sbpf::load(bytes, config);
    ASSERT_TRUE(program) << program.error().message;
    EXPECT_EQ(program->text.size(), 2u);
    EXPECT_EQ(program->text_vaddr, (uint64_t{1} << 32) + b.offset_of[".text"]);
    EXPECT_EQ(program->rodata.size(), b.offset_of[".text"] + 16);
    auto info = sbpf::peek(bytes, config);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->shndx_text, 1);
    EXPECT_EQ(info->shndx_dyn, 2);
    EXPECT_EQ(info->shndx_dynstr, 4);
    EXPECT_EQ(info->dynstr_offset, b.offset_of[".dynstr"]);
  }
}

TEST(SbpfLoaderBuilt, InternalCallRelocationAndRelativeCall) {
  ElfBuilder b;
  b.text = {call(-1), call(1), kExit, mov(1), kExit};
  b.dynsyms = {{"helper_fn", 0x12, 3}};
  b.relocs = {{".text", 0, 10, 1}};
  auto program = sbpf::load(b.build(), deploy_config());
  ASSERT_TRUE(program) << program.error().message;
  const uint32_t key = isa::sbpf_pc_key(3);
  EXPECT_EQ(static_cast<uint32_t>(program->text[0].imm), key);
  EXPECT_EQ(static_cast<uint32_t>(program->text[1].imm), key);  // pc 1 + 1 + 1 = 3
  ASSERT_EQ(program->functions.count(key), 1u);
  EXPECT_EQ(program->functions.at(key).pc, 3u);
  EXPECT_TRUE(program->calldests[3]);
  EXPECT_TRUE(program->calldests[0]);  // the entrypoint
  EXPECT_FALSE(program->calldests[1]);
}

TEST(SbpfLoaderBuilt, SyscallRelocation) {
  ElfBuilder b;
  b.text = {call(-1), kExit};
  b.dynsyms = {{"sol_log_", 0x10, -1}};
  b.relocs = {{".text", 0, 10, 1}};
  auto bytes = b.build();
  auto program = sbpf::load(bytes);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_EQ(static_cast<uint32_t>(program->text[0].imm), isa::murmur3_32(std::string_view("sol_log_")));
  EXPECT_EQ(program->syscalls_used.size(), 1u);
  expect_error(bytes, "UnresolvedSymbol", b.offset_of[".text"], deploy_config({"abort"}), "sol_log_");
  EXPECT_TRUE(sbpf::load(bytes, deploy_config({"sol_log_"})));
}

TEST(SbpfLoaderBuilt, Reloc64_64AndRelativeData) {
  ElfBuilder b;
  b.text = {slot(0x18, 0, 0, 0x10), slot(0, 0, 0, 0), kExit};
  b.rodata = std::vector<uint8_t>(16, 0);
  put(b.rodata, 12, 0x30, 4);  // legacy R_BPF_64_RELATIVE: low half at +4
  b.dynsyms = {{"table", 0x11, -1, 0x100}};
  b.relocs = {{".text", 0, 1, 1}, {".rodata", 8, 8, 0}};
  auto program = sbpf::load(b.build());
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_EQ(lddw_value(program->text, 0), 0x100000110u);
  EXPECT_EQ(read_u64(program->rodata, b.offset_of[".rodata"] + 8), 0x100000030u);
}

TEST(SbpfLoaderBuilt, RelativeRelocationInText) {
  ElfBuilder b;
  b.text = {slot(0x18, 0, 0, 0x48), slot(0, 0, 0, 0), kExit};
  b.relocs = {{".text", 0, 8, 0}};
  auto program = sbpf::load(b.build());
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_EQ(lddw_value(program->text, 0), 0x100000048u);
  // A zero address is refused.
  b.text[0].imm = 0;
  auto bytes = b.build();
  expect_error(bytes, "InvalidVirtualAddress", b.offset_of[".rel.dyn"]);
}

TEST(SbpfLoaderBuilt, HeaderErrors) {
  ElfBuilder b;
  const auto good = b.build();
  auto bytes = good;
  put(bytes, 48, 9, 4);
  expect_error(bytes, "UnsupportedSBPFVersion", 48);
  bytes = good;
  bytes[7] = 3;  // ELFOSABI_LINUX
  expect_error(bytes, "WrongAbi", 7);
  bytes = good;
  put(bytes, 18, 62, 2);
  expect_error(bytes, "WrongMachine", 18);
  bytes = good;
  put(bytes, 16, 2, 2);  // ET_EXEC
  expect_error(bytes, "WrongType", 16);
  bytes = good;
  bytes[1] = 'X';
  expect_error(bytes, "FailedToParse", 1, {}, "invalid file header");
  bytes = good;
  bytes[4] = 1;  // ELFCLASS32: the parser refuses it before WrongClass could
  expect_error(bytes, "FailedToParse", 4);
  bytes = good;
  put(bytes, 62, 0, 2);  // no section name table
  expect_error(bytes, "FailedToParse", 62, {}, "no section name string table");
  bytes = good;
  put(bytes, 32, 8, 8);  // program header table overlapping the file header
  put(bytes, 56, 1, 2);
  expect_error(bytes, "FailedToParse", 32, {}, "values overlap");
  EXPECT_EQ(outcome({good.begin(), good.begin() + 40}), "ValueOutOfBounds");
  EXPECT_EQ(outcome({good.begin(), good.begin() + 56}), "ValueOutOfBounds");  // parser OutOfBounds
}

TEST(SbpfLoaderBuilt, EntrypointErrors) {
  ElfBuilder b;
  auto bytes = b.build();
  put(bytes, 24, b.offset_of[".text"] + 16, 8);
  expect_error(bytes, "EntrypointOutOfBounds", 24);
  put(bytes, 24, b.offset_of[".text"] + 4, 8);
  expect_error(bytes, "InvalidEntrypoint", 24);
  // A syscall whose key is the entrypoint's.
  expect_error(b.build(), "SymbolHashCollision", 24, deploy_config({"entrypoint"}));
}

TEST(SbpfLoaderBuilt, SectionErrors) {
  ElfBuilder b;
  b.extra = {{".data", 1, 3, std::vector<uint8_t>(8)}};
  auto data = b.build();
  expect_error(data, "WritableSectionNotSupported", b.header_of[".data"], {}, ".data");
  b.extra = {{".data.rel.ro", 1, 3, std::vector<uint8_t>(8)}};  // writable but allowed
  EXPECT_EQ(outcome(b.build()), "");
  b.extra = {{".bss", 8, 3, {}}};
  expect_error(b.build(), "WritableSectionNotSupported", {}, {}, ".bss");
  b.extra = {{".text", 1, 6, std::vector<uint8_t>(8)}};
  expect_error(b.build(), "NotOneTextSection", 40);

  b.extra.clear();
  auto bytes = b.build();
  bytes[b.offset_of[".shstrtab"] + 1] = 'x';  // ".text" -> "xtext"
  expect_error(bytes, "NotOneTextSection");
  bytes = b.build();
  put(bytes, b.header_of[".text"] + 16, 0x100, 8);  // address != offset
  put(bytes, 24, 0x100, 8);
  EXPECT_EQ(outcome(bytes), "");
  expect_error(bytes, "ValueOutOfBounds", b.header_of[".text"], deploy_config());
  bytes = b.build();
  put(bytes, b.header_of[".text"] + 24, b.offset_of[".dynamic"], 8);  // out of order
  expect_error(bytes, "FailedToParse", b.header_of[".dynamic"], {}, "not in ascending order");
  bytes = b.build();
  put(bytes, b.header_of[".text"] + 24, 0, 8);  // on the file header
  expect_error(bytes, "FailedToParse", b.header_of[".text"], {}, "values overlap");
  bytes = b.build();
  put(bytes, b.shoff + 4, 1, 4);  // section 0 is not SHT_NULL
  expect_error(bytes, "FailedToParse", b.shoff, {}, "invalid section header");
  bytes = b.build();
  put(bytes, b.header_of[".shstrtab"] + 4, 1, 4);  // names not SHT_STRTAB
  expect_error(bytes, "FailedToParse", {}, {}, "invalid section header");
  bytes = b.build();
  put(bytes, b.header_of[".shstrtab"] + 32, 1u << 20, 8);  // over the section headers
  expect_error(bytes, "FailedToParse", b.header_of[".shstrtab"], {}, "values overlap");
  bytes = b.build();
  put(bytes, b.header_of[".strtab"] + 4, 8, 4);  // SHT_NOBITS, past the end of the file
  put(bytes, b.header_of[".strtab"] + 32, 1u << 20, 8);
  expect_error(bytes, "ValueOutOfBounds", b.header_of[".strtab"]);
}

TEST(SbpfLoaderBuilt, DynamicTableErrors) {
  ElfBuilder b;
  b.text = {call(-1), kExit};
  b.dynsyms = {{"x", 0x10, -1}};
  b.relocs = {{".text", 0, 10, 1}};
  const auto good = b.build();
  const uint64_t dyn = b.offset_of[".dynamic"];
  auto bytes = good;
  put(bytes, dyn + 2 * 16 + 8, 24, 8);  // DT_RELENT
  expect_error(bytes, "FailedToParse", dyn, {}, "invalid dynamic section table");
  bytes = good;
  put(bytes, dyn + 16 + 8, 0, 8);  // DT_RELSZ
  expect_error(bytes, "FailedToParse", dyn, {}, "invalid dynamic section table");
  bytes = good;
  put(bytes, dyn + 8, 0x7777, 8);  // DT_REL nowhere
  expect_error(bytes, "FailedToParse", dyn, {}, "invalid dynamic section table");
  bytes = good;
  put(bytes, dyn + 3 * 16 + 8, 0x7777, 8);  // DT_SYMTAB nowhere
  expect_error(bytes, "FailedToParse", dyn, {}, "invalid dynamic section table");
  bytes = good;
  put(bytes, b.header_of[".dynsym"] + 32, 30, 8);  // not whole symbols
  expect_error(bytes, "FailedToParse", b.header_of[".dynsym"], {}, "invalid size");
  bytes = good;
  put(bytes, b.header_of[".dynamic"] + 32, 33, 8);  // not whole entries
  expect_error(bytes, "FailedToParse", b.header_of[".dynamic"], {}, "invalid dynamic section table");
}

TEST(SbpfLoaderBuilt, RelocationErrors) {
  ElfBuilder b;
  b.text = {call(-1), kExit};
  b.dynsyms = {{"x", 0x10, -1}};
  // The builder's offsets are known once it has built.
  auto check = [&](const std::string& name, const std::string& text = {}) {
    auto bytes = b.build();
    expect_error(bytes, name, b.offset_of[".rel.dyn"], {}, text);
  };
  b.relocs = {{".text", 0, 5, 1}};
  check("UnknownRelocation", "5");
  b.relocs = {{".text", 0, 10, 7}};
  check("UnknownSymbol");
  b.relocs = {{".text", 0x1000, 1, 1}};  // past the end of the file
  check("ValueOutOfBounds");
  // A defined function outside .text.
  b.dynsyms = {{"f", 0x12, 40}};
  b.relocs = {{".text", 0, 10, 1}};
  check("ValueOutOfBounds", "outside .text");
  // A dynamic symbol name of 64 bytes or more.
  b.dynsyms = {{std::string(70, 'n'), 0x10, -1}};
  check("UnknownSymbol");
}

TEST(SbpfLoaderBuilt, RelativeJumpOutOfBounds) {
  ElfBuilder b;
  b.text = {mov(0), call(5), kExit};
  auto result = sbpf::load(b.build());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().name(), "RelativeJumpOutOfBounds");
  EXPECT_EQ(result.error().location.pc, 1u);
  EXPECT_EQ(result.error().location.offset, b.offset_of[".text"] + 8);
  b.text = {call(-3), kExit};
  expect_error(b.build(), "RelativeJumpOutOfBounds");
}

TEST(SbpfLoaderBuilt, SymbolLabels) {
  ElfBuilder b;
  b.text = {mov(0), kExit, mov(1), kExit};
  b.symbols = {{"entrypoint", 0x12, 0}, {"helper", 0x02, 2}};
  auto program = sbpf::load(b.build(), labels_config());
  ASSERT_TRUE(program) << program.error().message;
  const uint32_t key = isa::sbpf_pc_key(2);
  ASSERT_EQ(program->functions.count(key), 1u);
  EXPECT_EQ(program->functions.at(key).name, "helper");
  EXPECT_TRUE(program->calldests[2]);
  // Production (labels off): .symtab registers nothing, and names only.
  auto bare = sbpf::load(b.build());
  ASSERT_TRUE(bare) << bare.error().message;
  EXPECT_EQ(bare->functions.count(key), 0u);
  EXPECT_FALSE(bare->calldests[2]);
  EXPECT_EQ(bare->symbol_names.at(2), "helper");
  // Labels on: a function symbol outside .text is an error; off: ignored.
  b.symbols = {{"stray", 0x12, 9}};
  auto bytes = b.build();
  expect_error(bytes, "ValueOutOfBounds", b.offset_of[".symtab"] + 24, labels_config());
  EXPECT_TRUE(sbpf::load(bytes));
}

// A stale second `entrypoint` symbol: two pcs for one key. With labels on
// it is SymbolHashCollision; production loads it, entry from e_entry.
TEST(SbpfLoaderBuilt, DuplicateEntrypointSymbolLoadsWithoutLabels) {
  ElfBuilder b;
  b.text = {mov(0), kExit, mov(1), kExit};
  b.symbols = {{"entrypoint", 0x12, 0}, {"entrypoint", 0x12, 2}};
  auto bytes = b.build();
  EXPECT_EQ(outcome(bytes, labels_config()), "SymbolHashCollision");
  auto program = sbpf::load(bytes);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_EQ(program->entry_pc, 0u);
  EXPECT_FALSE(program->calldests[2]);
  auto decoded = sbpf::load_program(bytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_EQ(decoded->functions.size(), 1u);
  EXPECT_EQ(decoded->functions[0].name, "entrypoint");
}

// Agave's and Firedancer's strict parsers read no section header field:
// a v3 file without section headers loads.
TEST(SbpfLoaderStrict, NoSectionHeadersLoads) {
  std::vector<uint8_t> bytes = fixture("strict_header.so");
  put(bytes, 40, 0, 8);  // e_shoff
  put(bytes, 58, 0, 2);  // e_shentsize
  put(bytes, 60, 0, 2);  // e_shnum
  put(bytes, 62, 0, 2);  // e_shstrndx
  auto program = sbpf::load_program(bytes);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_EQ(program->entry, sbpf::load(fixture("strict_header.so"))->entry_pc);
  // e_shstrndx past e_shnum, and a wrong e_shentsize: not looked at either.
  bytes = fixture("strict_header.so");
  put(bytes, 62, 0xffff, 2);
  EXPECT_EQ(outcome(bytes), "");
  put(bytes, 58, 1, 2);
  EXPECT_EQ(outcome(bytes), "");
}

TEST(SbpfLoaderBuilt, OverlappingReadOnlySections) {
  ElfBuilder b;
  b.rodata = std::vector<uint8_t>(16, 7);
  auto bytes = b.build();
  // .rodata claims the address of .text: the sections overlap in the image.
  put(bytes, b.header_of[".rodata"] + 16, b.offset_of[".text"], 8);
  expect_error(bytes, "ValueOutOfBounds", {}, deploy_config());
  EXPECT_EQ(outcome(bytes), "");
}

TEST(SbpfLoaderBuilt, ProgramHeaderOrder) {
  // Two PT_LOAD segments in descending address order.
  ElfBuilder b;
  auto bytes = b.build();
  // Rebuild with room: shift nothing, append the table at the end instead.
  std::vector<uint8_t> with = bytes;
  with.resize(bytes.size() + 112, 0);
  const uint64_t ph = bytes.size();
  put(with, 32, ph, 8);
  put(with, 56, 2, 2);
  for (int i = 0; i < 2; ++i) {
    put(with, ph + i * 56, 1, 4);
    put(with, ph + i * 56 + 16, i == 0 ? 0x200 : 0x100, 8);
  }
  expect_error(with, "InvalidProgramHeader", ph + 56);
}

// Every prefix and many corruptions of every fixture fail cleanly.
TEST(SbpfLoaderRobustness, TruncationsAndCorruptionsNeverCrash) {
  for (const auto& entry : std::filesystem::directory_iterator(kElfs)) {
    if (entry.path().extension() != ".so") continue;
    const auto original = fixture(entry.path().filename().string());
    for (size_t n = 0; n < original.size(); n += 7) {
      std::vector<uint8_t> prefix(original.begin(), original.begin() + static_cast<std::ptrdiff_t>(n));
      auto result = sbpf::load(prefix);
      if (!result) {
        EXPECT_FALSE(result.error().name().empty());
      }
    }
    uint32_t seed = 12345;
    for (int round = 0; round < 200; ++round) {
      auto bytes = original;
      for (int k = 0; k < 4; ++k) {
        seed = seed * 1664525u + 1013904223u;
        bytes[seed % bytes.size()] ^= static_cast<uint8_t>(seed >> 24);
      }
      auto result = sbpf::load(bytes, deploy_config({"log"}));
      if (!result) {
        EXPECT_EQ(result.error().domain, Domain::SbpfLoader) << result.error().name();
      }
    }
  }
}

}  // namespace
}  // namespace bpfkit
