// Module load: open() gives an isa::Program for every kind of input, and a
// clear error, with a code and the file's name, for bad input.
#include "bpfkit/load.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_support.hpp"

namespace bpfkit {
namespace {

namespace fs = std::filesystem;
using isa::Op;
using load::InputKind;

const fs::path kShared = BPFKIT_SHARED_DIR;
const fs::path kObjects = BPFKIT_TEST_BPF_DIR;

std::vector<uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

Expected<load::Opened> open_text(std::string_view text, std::string_view name, const load::Options& options = {}) {
  return load::open(bytes_of(text), name, options);
}

// The error of a failed open: a code, a message, and the file's name.
Error failure(const Expected<load::Opened>& opened, std::string_view name) {
  EXPECT_FALSE(opened.has_value()) << name << ": accepted";
  if (opened.has_value()) return make_error(Errc::Unsupported, "accepted");
  const Error& error = opened.error();
  EXPECT_EQ(error.location.input, name) << to_string(error);
  EXPECT_FALSE(error.message.empty());
  return error;
}

const isa::Slot kExit = isa::encode(Op::exit);

TEST(LoadKind, ByMagicExtensionAndContent) {
  EXPECT_EQ(load::kind_of(bytes_of("b7 00 00 00 2a 00 00 00"), "x"), InputKind::Hex);
  EXPECT_EQ(load::kind_of(bytes_of("r0 = 1\nexit\n"), "x"), InputKind::Assembly);
  EXPECT_EQ(load::kind_of(bytes_of("00"), "x.s"), InputKind::Assembly);
  EXPECT_EQ(load::kind_of(bytes_of("r0 = 1"), "x.hex"), InputKind::Hex);
  EXPECT_EQ(load::kind_of(bytes_of("-- asm"), "x.data"), InputKind::ConformanceTest);
  EXPECT_EQ(load::kind_of(bytes_of("abc"), "x.bin"), InputKind::Raw);
  EXPECT_EQ(load::kind_of(std::vector<uint8_t>{1, 0, 2}, "x.s"), InputKind::Raw);
  std::vector<uint8_t> elf(64, 0);
  elf[0] = 0x7f, elf[1] = 'E', elf[2] = 'L', elf[3] = 'F';
  EXPECT_EQ(load::kind_of(elf, "x"), InputKind::EbpfObject);
  EXPECT_FALSE(load::is_sbpf_elf(elf));
  elf[offsetof(elf::Ehdr, e_type)] = elf::kEtDyn;
  EXPECT_EQ(load::kind_of(elf, "x"), InputKind::SbpfObject);
  EXPECT_TRUE(load::is_sbpf_elf(elf));
  EXPECT_FALSE(load::is_sbpf_elf(std::vector<uint8_t>{0x7f, 'E', 'L', 'F'}));  // too short for a header
}

TEST(LoadOpen, RawSlots) {
  const std::vector<isa::Slot> slots = {isa::encode(Op::mov64_imm, 0, 0, 0, 42), kExit};
  auto opened = load::open(isa::to_bytes(slots), "answer.bin");
  ASSERT_TRUE(opened) << to_string(opened.error());
  EXPECT_EQ(opened->kind, InputKind::Raw);
  EXPECT_EQ(opened->program.slots, slots);
  EXPECT_EQ(opened->program.ops[0], Op::mov64_imm);
  EXPECT_EQ(opened->program.dialect, &isa::kLinuxV4);
  EXPECT_FALSE(opened->memory);
}

TEST(LoadOpen, HexText) {
  auto opened = open_text("# the answer\nb7 00 00 00 2a 00 00 00\n0x0000000000000095\n", "answer.hex");
  ASSERT_TRUE(opened) << to_string(opened.error());
  EXPECT_EQ(opened->kind, InputKind::Hex);
  ASSERT_EQ(opened->program.size(), 2u);
  EXPECT_EQ(opened->program.slots[0], isa::encode(Op::mov64_imm, 0, 0, 0, 42));
  EXPECT_EQ(opened->program.slots[1], kExit);
}

TEST(LoadOpen, ConformanceTestBringsItsMemory) {
  const fs::path file = kShared / "conformance" / "tests" / "add.data";
  if (!fs::exists(file)) GTEST_SKIP() << "no conformance corpus";
  auto opened = load::open_file(file.string());
  ASSERT_TRUE(opened) << to_string(opened.error());
  EXPECT_EQ(opened->kind, InputKind::ConformanceTest);
  EXPECT_GT(opened->program.size(), 0u);
  auto memory = open_text("-- asm\nmov %r0, %r2\nexit\n-- mem\n00 00 00 01\n-- result\n0x4\n", "mem.data");
  ASSERT_TRUE(memory) << to_string(memory.error());
  ASSERT_TRUE(memory->memory);
  EXPECT_EQ(*memory->memory, (std::vector<uint8_t>{0, 0, 0, 1}));
}

TEST(LoadOpen, AssemblyInEachSyntax) {
  for (const char* source : {"r0 = 42\nexit\n", "mov %r0, 42\nexit\n"}) {
    SCOPED_TRACE(source);
    auto opened = open_text(source, "answer.s");
    ASSERT_TRUE(opened) << to_string(opened.error());
    EXPECT_EQ(opened->kind, InputKind::Assembly);
    ASSERT_EQ(opened->program.size(), 2u);
    EXPECT_EQ(opened->program.slots[0], isa::encode(Op::mov64_imm, 0, 0, 0, 42));
  }
}

// Raw sBPF v0 text: laid out at the program region, readable there as
// rodata, entry 0, and a pc-relative call linked to its target's key.
TEST(LoadOpen, RawSbpfTextIsLaidOutAndLinked) {
  load::Options options;
  options.dialect = &isa::kSbpfV0;
  options.sbpf.syscalls = {"sol_log_"};
  const uint32_t sol_log = isa::murmur3_32(std::string_view("sol_log_"));
  // call +2 (pc-relative, to pc 3), call sol_log_, exit; pc 3: r0 = 7, exit.
  const std::vector<isa::Slot> text = {isa::encode(Op::call, 0, 0, 0, 2),
                                       isa::encode(Op::call, 0, 0, 0, static_cast<int32_t>(sol_log)), kExit,
                                       isa::encode(Op::mov64_imm, 0, 0, 0, 7), kExit};
  auto opened = load::open(isa::to_bytes(text), "calls.bin", options);
  ASSERT_TRUE(opened) << to_string(opened.error());
  const isa::Program& program = opened->program;
  EXPECT_EQ(program.dialect, &isa::kSbpfV0);
  EXPECT_EQ(program.text_vaddr, isa::region_base(isa::kProgramRegion));
  EXPECT_EQ(program.rodata_vaddr, program.text_vaddr);
  EXPECT_EQ(program.rodata, isa::to_bytes(program.slots));
  EXPECT_EQ(program.entry, 0u);
  const uint32_t key = isa::sbpf_pc_key(3);
  EXPECT_EQ(static_cast<uint32_t>(program.slots[0].imm), key);
  ASSERT_TRUE(program.function_keys.contains(key));
  EXPECT_EQ(program.function_keys.at(key), 3u);
  EXPECT_EQ(program.function_keys.at(isa::murmur3_32(std::string_view("entrypoint"))), 0u);
  EXPECT_EQ(static_cast<uint32_t>(program.slots[1].imm), sol_log);
  ASSERT_TRUE(program.syscall_keys.contains(sol_log));
  EXPECT_EQ(program.syscall_keys.at(sol_log), "sol_log_");

  // v3: rodata at 0, empty; calls stay pc-relative.
  options.dialect = &isa::kSbpfV3;
  auto v3 = open_text("r0 = 1\nexit\n", "v3.s", options);
  ASSERT_TRUE(v3) << to_string(v3.error());
  EXPECT_TRUE(v3->program.rodata.empty());
  EXPECT_EQ(v3->program.rodata_vaddr, 0u);
  EXPECT_TRUE(v3->program.function_keys.empty());
}

TEST(LoadOpen, EbpfObjectChosenProgram) {
  const fs::path file = kObjects / "subprogs.o";
  if (!fs::exists(file)) GTEST_SKIP() << "the C test programs were not built (clang-19 missing)";
  auto opened = load::open_file(file.string());
  ASSERT_TRUE(opened) << to_string(opened.error());
  EXPECT_EQ(opened->kind, InputKind::EbpfObject);
  const isa::Program& program = opened->program;
  ASSERT_GE(program.functions.size(), 4u);  // subprogs, and triple, add_one and square it calls
  EXPECT_EQ(program.functions[0].name, "subprogs");
  EXPECT_EQ(program.functions[0].start, 0u);
  std::vector<std::string> names;
  for (const isa::Function& f : program.functions) names.push_back(f.name);
  for (const char* callee : {"triple", "add_one", "square"})
    EXPECT_NE(std::find(names.begin(), names.end(), callee), names.end()) << callee;

  load::Options choose;
  choose.function = "triple";
  auto triple = load::open_file(file.string(), choose);
  ASSERT_TRUE(triple) << to_string(triple.error());
  EXPECT_EQ(triple->program.functions.at(0).name, "triple");

  choose.function = "nope";
  const Error missing = failure(load::open_file(file.string(), choose), file.string());
  EXPECT_EQ(missing.code, Errc::BadOperand) << to_string(missing);
}

TEST(LoadOpen, EbpfObjectMapsAndGlobalData) {
  const fs::path file = kObjects / "global_data.o";
  if (!fs::exists(file)) GTEST_SKIP() << "the C test programs were not built (clang-19 missing)";
  auto opened = load::open_file(file.string());
  ASSERT_TRUE(opened) << to_string(opened.error());
  EXPECT_FALSE(opened->program.maps.empty());
  bool src6 = false;
  for (size_t pc = 0; pc < opened->program.size(); ++pc) src6 |= opened->program.ops[pc] == Op::lddw_map_idx_value;
  EXPECT_TRUE(src6) << "global data is referenced by map index";
}

TEST(LoadOpen, SbpfSharedObject) {
  const fs::path file = kShared / "sbpf" / "elfs" / "relative_call_sbpfv0.so";
  if (!fs::exists(file)) GTEST_SKIP() << "no sBPF fixtures";
  auto opened = load::open_file(file.string());
  ASSERT_TRUE(opened) << to_string(opened.error());
  EXPECT_EQ(opened->kind, InputKind::SbpfObject);
  EXPECT_EQ(opened->program.dialect, &isa::kSbpfV0);
  EXPECT_GE(opened->program.functions.size(), 2u);
  EXPECT_FALSE(opened->program.function_keys.empty());
  EXPECT_EQ(opened->program.rodata_vaddr, isa::region_base(isa::kProgramRegion));

  auto v3 = load::open_file((kShared / "sbpf" / "elfs" / "strict_header.so").string());
  ASSERT_TRUE(v3) << to_string(v3.error());
  EXPECT_EQ(v3->program.dialect, &isa::kSbpfV3);
}

// ---- Bad input: each error has a code, a message and the file's name -----------

TEST(LoadErrors, NotWholeInstructions) {
  const Error error = failure(load::open(std::vector<uint8_t>(12, 0), "short.bin"), "short.bin");
  EXPECT_EQ(error.code, Errc::Truncated);
  EXPECT_EQ(error.location.offset, 8u);
  EXPECT_EQ(failure(open_text("b7 00 00", "short.hex"), "short.hex").code, Errc::Truncated);
}

TEST(LoadErrors, BadHexNamesLineAndColumn) {
  const Error error = failure(open_text("b7 00 00 00 2a 00 00 00\n95 0g\n", "bad.hex"), "bad.hex");
  EXPECT_EQ(error.code, Errc::BadOperand);
  EXPECT_EQ(error.location.line, 2u);
  EXPECT_EQ(error.location.column, 4u);
  EXPECT_EQ(failure(open_text("0x12345678901234567", "word.hex"), "word.hex").code, Errc::BadOperand);
  EXPECT_EQ(load::parse_hex_bytes("0g", "--mem-hex").error().location.input, "--mem-hex");
  EXPECT_FALSE(load::parse_hex_bytes("012", "--mem-hex"));
}

TEST(LoadErrors, AssemblySyntaxAndUndefinedSymbols) {
  const Error syntax = failure(open_text("r0 = 1\nr0 +=\nexit\n", "bad.s"), "bad.s");
  EXPECT_EQ(syntax.location.line, 2u) << to_string(syntax);
  const Error needs_loader = failure(open_text("call undefined_thing\nexit\n", "reloc.s"), "reloc.s");
  EXPECT_EQ(needs_loader.code, Errc::Unsupported) << to_string(needs_loader);
  EXPECT_EQ(needs_loader.location.pc, 0u);
}

TEST(LoadErrors, CodeThatDoesNotDecode) {
  const std::vector<isa::Slot> slots = {isa::Slot{0xff, 0, 0, 0}, kExit};
  const Error linux_error = failure(load::open(isa::to_bytes(slots), "bad.bin"), "bad.bin");
  EXPECT_EQ(linux_error.code, Errc::BadOpcode);
  EXPECT_EQ(linux_error.location.pc, 0u);
  load::Options v2;
  v2.dialect = &isa::kSbpfV2;
  const Error sbpf_error = failure(load::open(isa::to_bytes(slots), "bad.bin", v2), "bad.bin");
  EXPECT_EQ(sbpf_error.name(), "UnknownOpCode");
  EXPECT_EQ(failure(load::open({}, "empty.bin"), "empty.bin").code, Errc::Truncated);
}

TEST(LoadErrors, BrokenElfFiles) {
  std::vector<uint8_t> elf(64, 0);
  elf[0] = 0x7f, elf[1] = 'E', elf[2] = 'L', elf[3] = 'F';
  const Error ebpf = failure(load::open(elf, "broken.o"), "broken.o");
  EXPECT_EQ(ebpf.code, Errc::BadHeader) << to_string(ebpf);
  elf[offsetof(elf::Ehdr, e_type)] = elf::kEtDyn;
  const Error sbpf = failure(load::open(elf, "broken.so"), "broken.so");
  EXPECT_EQ(sbpf.domain, Domain::SbpfLoader) << to_string(sbpf);
  const fs::path bss = kShared / "sbpf" / "elfs" / "bss_section_sbpfv0.so";
  if (fs::exists(bss)) {
    EXPECT_EQ(failure(load::open_file(bss.string()), bss.string()).name(), "WritableSectionNotSupported");
  }
}

TEST(LoadErrors, SectionOrFunctionForAnythingButAnEbpfObject) {
  load::Options options;
  options.section = ".text";
  const Error error = failure(open_text("r0 = 0\nexit\n", "prog.s", options), "prog.s");
  EXPECT_EQ(error.code, Errc::BadOperand);
  EXPECT_NE(error.message.find("an assembly program"), std::string::npos) << error.message;
}

TEST(LoadErrors, UnreadableFiles) {
  test::TempDir dir;
  const std::string missing = (dir.path() / "missing.bin").string();
  EXPECT_EQ(failure(load::open_file(missing), missing).code, Errc::Io);
  const std::string directory = dir.path().string();
  EXPECT_EQ(failure(load::open_file(directory), directory).code, Errc::Io);
}

}  // namespace
}  // namespace bpfkit
