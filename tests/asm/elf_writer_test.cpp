// Module asm, ELF writer: objects built by hand, written, and read back two
// ways: by a small bounds-checked ELF reader in this file (every header,
// symbol and relocation field), and by llvm-readelf / llvm-objdump / llvm-mc
// when they are installed (the parts that need them skip otherwise).
#include <elf.h>
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/isa.hpp"
#include "test_support.hpp"

#ifndef EM_BPF
#define EM_BPF 247
#endif

namespace bpfkit::assembly {
namespace {

// ---- A bounded ELF reader ---------------------------------------------------------

struct ParsedSection {
  std::string name;
  Elf64_Shdr header{};
  std::vector<uint8_t> contents;  // empty for SHT_NOBITS
};

struct ParsedSymbol {
  std::string name;
  Elf64_Sym entry{};
};

struct ParsedElf {
  Elf64_Ehdr header{};
  std::vector<ParsedSection> sections;  // all of them, the null section included
  std::vector<ParsedSymbol> symbols;    // .symtab, the null symbol included

  // Index of the section called `name`, or 0 (the null section) if none.
  size_t index_of(std::string_view name) const {
    for (size_t i = 1; i < sections.size(); ++i)
      if (sections[i].name == name) return i;
    return 0;
  }
  const ParsedSection& section(std::string_view name) const { return sections[index_of(name)]; }

  std::vector<Elf64_Rel> relocations(std::string_view section_name) const {
    std::vector<Elf64_Rel> out;
    const std::vector<uint8_t>& bytes = section(section_name).contents;
    for (size_t at = 0; at + sizeof(Elf64_Rel) <= bytes.size(); at += sizeof(Elf64_Rel)) {
      Elf64_Rel entry;
      std::memcpy(&entry, bytes.data() + at, sizeof entry);
      out.push_back(entry);
    }
    return out;
  }
};

Error malformed(std::string message) { return make_error(Errc::BadHeader, std::move(message)); }

// Every read checks that [offset, offset + size) lies inside the file.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool contains(uint64_t offset, uint64_t size) const {
    return offset <= bytes_.size() && size <= bytes_.size() - offset;
  }

  template <class T>
  std::optional<T> read(uint64_t offset) const {
    if (!contains(offset, sizeof(T))) return std::nullopt;
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof value);
    return value;
  }

  std::optional<std::vector<uint8_t>> range(uint64_t offset, uint64_t size) const {
    if (!contains(offset, size)) return std::nullopt;
    return std::vector<uint8_t>(bytes_.begin() + offset, bytes_.begin() + offset + size);
  }

 private:
  std::span<const uint8_t> bytes_;
};

// A NUL-terminated string that starts and ends inside `table`.
std::optional<std::string> string_at(const std::vector<uint8_t>& table, uint32_t offset) {
  if (offset >= table.size()) return std::nullopt;
  const auto begin = table.begin() + offset;
  const auto end = std::find(begin, table.end(), uint8_t{0});
  if (end == table.end()) return std::nullopt;
  return std::string(begin, end);
}

Expected<std::vector<ParsedSection>> parse_sections(const Reader& reader, const Elf64_Ehdr& header) {
  if (header.e_shentsize != sizeof(Elf64_Shdr)) return malformed("e_shentsize");
  std::vector<ParsedSection> sections;
  for (uint64_t i = 0; i < header.e_shnum; ++i) {
    auto section_header = reader.read<Elf64_Shdr>(header.e_shoff + i * sizeof(Elf64_Shdr));
    if (!section_header) return malformed("section header " + std::to_string(i) + " outside the file");
    ParsedSection section;
    section.header = *section_header;
    if (section.header.sh_type != SHT_NOBITS && section.header.sh_type != SHT_NULL) {
      auto contents = reader.range(section.header.sh_offset, section.header.sh_size);
      if (!contents) return malformed("section " + std::to_string(i) + " contents outside the file");
      section.contents = std::move(*contents);
    }
    sections.push_back(std::move(section));
  }
  if (header.e_shstrndx >= sections.size()) return malformed("e_shstrndx");
  for (ParsedSection& section : sections) {
    auto name = string_at(sections[header.e_shstrndx].contents, section.header.sh_name);
    if (!name) return malformed("sh_name");
    section.name = std::move(*name);
  }
  return sections;
}

Expected<std::vector<ParsedSymbol>> parse_symbols(const std::vector<ParsedSection>& sections) {
  std::vector<ParsedSymbol> symbols;
  for (const ParsedSection& symtab : sections) {
    if (symtab.header.sh_type != SHT_SYMTAB) continue;
    if (symtab.header.sh_entsize != sizeof(Elf64_Sym) || symtab.contents.size() % sizeof(Elf64_Sym) != 0)
      return malformed(".symtab entry size");
    if (symtab.header.sh_link >= sections.size()) return malformed(".symtab sh_link");
    const std::vector<uint8_t>& strings = sections[symtab.header.sh_link].contents;
    for (size_t at = 0; at < symtab.contents.size(); at += sizeof(Elf64_Sym)) {
      ParsedSymbol symbol;
      std::memcpy(&symbol.entry, symtab.contents.data() + at, sizeof symbol.entry);
      auto name = string_at(strings, symbol.entry.st_name);
      if (!name) return malformed("st_name");
      symbol.name = std::move(*name);
      symbols.push_back(std::move(symbol));
    }
  }
  return symbols;
}

Expected<ParsedElf> parse_elf(std::span<const uint8_t> bytes) {
  const Reader reader(bytes);
  ParsedElf elf;
  auto header = reader.read<Elf64_Ehdr>(0);
  if (!header) return make_error(Errc::Truncated, "no ELF header");
  elf.header = *header;
  if (std::memcmp(elf.header.e_ident, ELFMAG, SELFMAG) != 0) return malformed("magic");
  auto sections = parse_sections(reader, elf.header);
  if (!sections) return sections.error();
  elf.sections = std::move(*sections);
  auto symbols = parse_symbols(elf.sections);
  if (!symbols) return symbols.error();
  elf.symbols = std::move(*symbols);
  return elf;
}

ParsedElf write_and_parse(const Object& object) {
  auto bytes = write_elf(object);
  if (!bytes) {
    ADD_FAILURE() << to_string(bytes.error());
    return {};
  }
  auto elf = parse_elf(*bytes);
  if (!elf) {
    ADD_FAILURE() << to_string(elf.error());
    return {};
  }
  return std::move(*elf);
}

// ---- The sample object ------------------------------------------------------------

// Object section indices of the sample.
// (.bss is index 2; no symbol or relocation of the sample refers to it.)
constexpr uint32_t kText = 0, kData = 1, kMaps = 3;

std::vector<uint8_t> sample_text() {
  std::vector<isa::Slot> slots;
  for (const isa::Slot& slot : isa::encode_lddw(1, 0)) slots.push_back(slot);  // r1 = my_map ll
  for (const isa::Slot& slot : isa::encode_lddw(2, 0)) slots.push_back(slot);  // r2 = .data ll
  slots.push_back(isa::encode(isa::Op::call_local, 0, 0, 0, -1));              // call ext_func
  slots.push_back(isa::encode(isa::Op::exit));                                 // loop: exit
  return isa::to_bytes(slots);
}

std::vector<uint8_t> sample_data() {
  std::vector<uint8_t> bytes(20, 0);  // .quad 5; .quad prog; .long ext_var
  bytes[0] = 5;
  return bytes;
}

// What llvm-mc makes of kSampleSource below, in the object model.
Object sample_object() {
  Object object;
  object.sections = {
      {.name = ".text", .flags = kShfAlloc | kShfExecinstr, .alignment = 8, .bytes = sample_text()},
      {.name = ".data", .flags = kShfAlloc | kShfWrite, .alignment = 8, .bytes = sample_data()},
      {.name = ".bss",
       .type = kShtNobits,
       .flags = kShfAlloc | kShfWrite,
       .alignment = 4,
       .bytes = {0, 0, 0, 0, 0, 0, 0, 0}},
      {.name = ".maps", .flags = kShfAlloc | kShfWrite, .alignment = 8, .bytes = std::vector<uint8_t>(32, 0)},
  };
  // Locals and globals interleaved: the writer sorts them.
  object.symbols = {
      {.name = "prog", .section = kText, .size = 48, .binding = Binding::Global, .type = SymbolType::Func},
      {.name = "loop", .section = kText, .value = 40},
      {.name = "my_map", .section = kMaps, .size = 32, .binding = Binding::Global, .type = SymbolType::Object},
      {.name = "counter", .section = kData, .size = 8, .type = SymbolType::Object},
      {.name = "ext_var", .section = std::nullopt, .binding = Binding::Global},
  };
  object.relocations = {
      {.section = kText, .offset = 0, .type = kRelBpf64_64, .symbol = "my_map"},
      {.section = kText, .offset = 16, .type = kRelBpf64_64, .symbol = ".data"},
      {.section = kText, .offset = 32, .type = kRelBpf64_32, .symbol = "ext_func"},  // no Symbol: undefined
      {.section = kData, .offset = 8, .type = kRelBpf64Abs64, .symbol = "prog"},
      {.section = kData, .offset = 16, .type = kRelBpf64Abs32, .symbol = "ext_var"},
  };
  return object;
}

// The same program for llvm-mc. `counter` is local, so llvm-mc turns the
// reference to it into one against the .data section symbol, as the object
// model has it.
constexpr std::string_view kSampleSource = R"(
	.text
	.globl prog
	.type prog,@function
prog:
	r1 = my_map ll
	r2 = counter ll
	call ext_func
loop:
	exit
.Lend:
	.size prog, .Lend-prog
	.section .data,"aw",@progbits
	.p2align 3
counter:
	.quad 5
	.quad prog
	.long ext_var
	.type counter,@object
	.size counter, 8
	.section .bss,"aw",@nobits
	.p2align 2
	.zero 8
	.section .maps,"aw",@progbits
	.globl my_map
	.p2align 3
my_map:
	.zero 32
	.type my_map,@object
	.size my_map, 32
)";

// ---- Every field of the sample's file ------------------------------------------------

// ELF section indices of the sample: its sections, then .rel*, then the tables.
constexpr size_t kSectionCount = 10, kSymtabIndex = 7, kStrtabIndex = 8, kShstrtabIndex = 9;
constexpr uint64_t kHeaderTableOffset = 632;  // 625 bytes of contents, 8-aligned

TEST(ElfWriter, FileHeader) {
  const std::vector<uint8_t> bytes = write_elf(sample_object()).value();
  const ParsedElf elf = write_and_parse(sample_object());
  const Elf64_Ehdr& h = elf.header;
  const uint8_t ident[EI_NIDENT] = {0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE};
  EXPECT_EQ(std::memcmp(h.e_ident, ident, EI_NIDENT), 0);
  EXPECT_EQ(h.e_type, ET_REL);
  EXPECT_EQ(h.e_machine, EM_BPF);
  EXPECT_EQ(h.e_version, EV_CURRENT);
  EXPECT_EQ(h.e_entry, 0u);
  EXPECT_EQ(h.e_phoff, 0u);
  EXPECT_EQ(h.e_shoff, kHeaderTableOffset);
  EXPECT_EQ(h.e_flags, 0u);
  EXPECT_EQ(h.e_ehsize, sizeof(Elf64_Ehdr));
  EXPECT_EQ(h.e_phentsize, 0u);
  EXPECT_EQ(h.e_phnum, 0u);
  EXPECT_EQ(h.e_shentsize, sizeof(Elf64_Shdr));
  EXPECT_EQ(h.e_shnum, kSectionCount);
  EXPECT_EQ(h.e_shstrndx, kShstrtabIndex);
  EXPECT_EQ(bytes.size(), kHeaderTableOffset + kSectionCount * sizeof(Elf64_Shdr));  // the table ends the file
}

struct ExpectedSection {
  std::string_view name;
  uint32_t type;
  uint64_t flags, offset, size;
  uint32_t link, info;
  uint64_t alignment, entsize;
};

TEST(ElfWriter, SectionHeaders) {
  constexpr uint64_t kAX = SHF_ALLOC | SHF_EXECINSTR, kWA = SHF_WRITE | SHF_ALLOC;
  const ExpectedSection expected[kSectionCount] = {
      {"", SHT_NULL, 0, 0, 0, 0, 0, 0, 0},
      {".text", SHT_PROGBITS, kAX, 64, 48, 0, 0, 8, 0},
      {".data", SHT_PROGBITS, kWA, 112, 20, 0, 0, 8, 0},
      {".bss", SHT_NOBITS, kWA, 132, 8, 0, 0, 4, 0},  // no bytes: .maps starts at 136, not 140
      {".maps", SHT_PROGBITS, kWA, 136, 32, 0, 0, 8, 0},
      {".rel.text", SHT_REL, SHF_INFO_LINK, 168, 3 * 16, kSymtabIndex, 1, 8, 16},
      {".rel.data", SHT_REL, SHF_INFO_LINK, 216, 2 * 16, kSymtabIndex, 2, 8, 16},
      {".symtab", SHT_SYMTAB, 0, 248, 11 * 24, kStrtabIndex, 7, 8, 24},
      {".strtab", SHT_STRTAB, 0, 512, 43, 0, 0, 1, 0},
      {".shstrtab", SHT_STRTAB, 0, 555, 70, 0, 0, 1, 0},
  };
  const ParsedElf elf = write_and_parse(sample_object());
  ASSERT_EQ(elf.sections.size(), kSectionCount);
  for (size_t i = 0; i < kSectionCount; ++i) {
    SCOPED_TRACE(std::string(expected[i].name));
    const ParsedSection& section = elf.sections[i];
    EXPECT_EQ(section.name, expected[i].name);
    EXPECT_EQ(section.header.sh_type, expected[i].type);
    EXPECT_EQ(section.header.sh_flags, expected[i].flags);
    EXPECT_EQ(section.header.sh_addr, 0u);
    EXPECT_EQ(section.header.sh_offset, expected[i].offset);
    EXPECT_EQ(section.header.sh_size, expected[i].size);
    EXPECT_EQ(section.header.sh_link, expected[i].link);
    EXPECT_EQ(section.header.sh_info, expected[i].info);
    EXPECT_EQ(section.header.sh_addralign, expected[i].alignment);
    EXPECT_EQ(section.header.sh_entsize, expected[i].entsize);
  }
}

TEST(ElfWriter, SectionContents) {
  const ParsedElf elf = write_and_parse(sample_object());
  EXPECT_EQ(elf.section(".text").contents, sample_text());
  EXPECT_EQ(elf.section(".data").contents, sample_data());
  EXPECT_EQ(elf.section(".maps").contents, std::vector<uint8_t>(32, 0));
  const std::string_view strtab("\0loop\0counter\0prog\0my_map\0ext_var\0ext_func\0", 43);
  EXPECT_EQ(elf.section(".strtab").contents, std::vector<uint8_t>(strtab.begin(), strtab.end()));
  const std::string_view shstrtab("\0.text\0.data\0.bss\0.maps\0.rel.text\0.rel.data\0.symtab\0.strtab\0.shstrtab\0",
                                  70);
  EXPECT_EQ(elf.section(".shstrtab").contents, std::vector<uint8_t>(shstrtab.begin(), shstrtab.end()));
}

struct ExpectedSymbol {
  std::string_view name;
  uint64_t value, size;
  unsigned char bind, type;
  uint16_t shndx;
};

TEST(ElfWriter, SymbolTable) {
  // ELF section indices: object section i is i + 1.
  const ExpectedSymbol expected[] = {
      {"", 0, 0, STB_LOCAL, STT_NOTYPE, SHN_UNDEF},
      {"", 0, 0, STB_LOCAL, STT_SECTION, 1},  // .text
      {"", 0, 0, STB_LOCAL, STT_SECTION, 2},  // .data
      {"", 0, 0, STB_LOCAL, STT_SECTION, 3},  // .bss
      {"", 0, 0, STB_LOCAL, STT_SECTION, 4},  // .maps
      {"loop", 40, 0, STB_LOCAL, STT_NOTYPE, 1},
      {"counter", 0, 8, STB_LOCAL, STT_OBJECT, 2},
      {"prog", 0, 48, STB_GLOBAL, STT_FUNC, 1},  // sh_info of .symtab: the first non-local
      {"my_map", 0, 32, STB_GLOBAL, STT_OBJECT, 4},
      {"ext_var", 0, 0, STB_GLOBAL, STT_NOTYPE, SHN_UNDEF},
      {"ext_func", 0, 0, STB_GLOBAL, STT_NOTYPE, SHN_UNDEF},  // only named by a relocation
  };
  const ParsedElf elf = write_and_parse(sample_object());
  ASSERT_EQ(elf.symbols.size(), std::size(expected));
  for (size_t i = 0; i < std::size(expected); ++i) {
    SCOPED_TRACE("symbol " + std::to_string(i));
    const ParsedSymbol& symbol = elf.symbols[i];
    EXPECT_EQ(symbol.name, expected[i].name);
    EXPECT_EQ(symbol.entry.st_value, expected[i].value);
    EXPECT_EQ(symbol.entry.st_size, expected[i].size);
    EXPECT_EQ(ELF64_ST_BIND(symbol.entry.st_info), expected[i].bind);
    EXPECT_EQ(ELF64_ST_TYPE(symbol.entry.st_info), expected[i].type);
    EXPECT_EQ(symbol.entry.st_other, STV_DEFAULT);
    EXPECT_EQ(symbol.entry.st_shndx, expected[i].shndx);
  }
}

struct ExpectedRelocation {
  uint64_t offset;
  uint32_t type, symbol;  // symbol: .symtab index
};

void expect_relocations(const ParsedElf& elf, std::string_view section,
                        std::initializer_list<ExpectedRelocation> expected) {
  SCOPED_TRACE(std::string(section));
  const std::vector<Elf64_Rel> actual = elf.relocations(section);
  ASSERT_EQ(actual.size(), expected.size());
  size_t i = 0;
  for (const ExpectedRelocation& want : expected) {
    EXPECT_EQ(actual[i].r_offset, want.offset);
    EXPECT_EQ(ELF64_R_TYPE(actual[i].r_info), want.type);
    EXPECT_EQ(ELF64_R_SYM(actual[i].r_info), want.symbol);
    ++i;
  }
}

TEST(ElfWriter, Relocations) {
  const ParsedElf elf = write_and_parse(sample_object());
  expect_relocations(elf, ".rel.text",
                     {{0, R_BPF_64_64, 8},      // my_map
                      {16, R_BPF_64_64, 2},     // the .data section symbol
                      {32, R_BPF_64_32, 10}});  // ext_func, undefined
  expect_relocations(elf, ".rel.data",
                     {{8, kRelBpf64Abs64, 7},     // prog
                      {16, kRelBpf64Abs32, 9}});  // ext_var
}

// ---- Other shapes of object ----------------------------------------------------------

TEST(ElfWriter, EmptyObjectHasOnlyTheTables) {
  const ParsedElf elf = write_and_parse(Object{});
  ASSERT_EQ(elf.sections.size(), 4u);
  EXPECT_EQ(elf.sections[1].name, ".symtab");
  EXPECT_EQ(elf.sections[1].header.sh_info, 1u);  // just the null symbol, which is local
  EXPECT_EQ(elf.sections[1].header.sh_link, 2u);
  EXPECT_EQ(elf.sections[2].name, ".strtab");
  EXPECT_EQ(elf.sections[3].name, ".shstrtab");
  EXPECT_EQ(elf.header.e_shstrndx, 3u);
  EXPECT_EQ(elf.symbols.size(), 1u);
  EXPECT_EQ(elf.section(".strtab").contents, std::vector<uint8_t>{0});
}

TEST(ElfWriter, NoRelSectionForSectionsWithoutRelocations) {
  Object object = sample_object();
  std::erase_if(object.relocations, [](const Relocation& r) { return r.section == kText; });
  const ParsedElf elf = write_and_parse(object);
  EXPECT_EQ(elf.index_of(".rel.text"), 0u);
  EXPECT_EQ(elf.index_of(".rel.data"), 5u);
  EXPECT_EQ(elf.section(".rel.data").header.sh_info, 2u);
  EXPECT_EQ(elf.section(".rel.data").header.sh_link, elf.index_of(".symtab"));
}

TEST(ElfWriter, RelNameIsRelPlusTheSectionName) {
  Object object;
  object.sections = {{.name = "xdp", .bytes = isa::to_bytes(isa::encode_lddw(1, 0))}};
  object.relocations = {{.section = 0, .offset = 0, .type = kRelBpf64_64, .symbol = "m"}};
  EXPECT_NE(write_and_parse(object).index_of(".relxdp"), 0u);  // as llvm-mc names it
}

TEST(ElfWriter, SymbolNamedLikeASectionWinsOverTheSectionSymbol) {
  // SEC("xdp") int xdp(...): the function and its section share a name.
  Object object;
  object.sections = {{.name = "xdp", .bytes = std::vector<uint8_t>(16, 0)}};
  object.symbols = {{.name = "xdp", .section = 0, .binding = Binding::Global, .type = SymbolType::Func}};
  object.relocations = {{.section = 0, .offset = 0, .type = kRelBpf64_64, .symbol = "xdp"}};
  const ParsedElf elf = write_and_parse(object);
  ASSERT_EQ(elf.symbols.size(), 3u);
  EXPECT_EQ(ELF64_R_SYM(elf.relocations(".relxdp").at(0).r_info), 2u);
}

TEST(ElfWriter, SectionTypedSymbolIsTheSectionSymbol) {
  Object object;
  object.sections = {{.name = ".text", .bytes = std::vector<uint8_t>(16, 0)}};
  object.symbols = {{.name = ".text", .section = 0, .type = SymbolType::Section}};
  object.relocations = {{.section = 0, .offset = 0, .type = kRelBpf64_64, .symbol = ".text"}};
  const ParsedElf elf = write_and_parse(object);
  ASSERT_EQ(elf.symbols.size(), 2u);  // null, the one section symbol
  EXPECT_EQ(ELF64_R_SYM(elf.relocations(".rel.text").at(0).r_info), 1u);
}

TEST(ElfWriter, UndefinedSymbolsAreNonLocalAndShared) {
  Object object;
  object.sections = {{.name = ".text", .bytes = std::vector<uint8_t>(32, 0)}};
  object.symbols = {
      {.name = "declared", .section = std::nullopt},  // undefined but Local: an undefined symbol is global
      {.name = "maybe", .section = std::nullopt, .binding = Binding::Weak},
  };
  object.relocations = {
      {.section = 0, .offset = 0, .type = kRelBpf64_32, .symbol = "f"},
      {.section = 0, .offset = 8, .type = kRelBpf64_32, .symbol = "f"},
      {.section = 0, .offset = 16, .type = kRelBpf64_32, .symbol = "declared"},
      {.section = 0, .offset = 24, .type = kRelBpf64_32, .symbol = "maybe"},
  };
  const ParsedElf elf = write_and_parse(object);
  ASSERT_EQ(elf.symbols.size(), 5u);  // null, .text, declared, maybe, f (once)
  EXPECT_EQ(elf.section(".symtab").header.sh_info, 2u);
  EXPECT_EQ(elf.symbols[2].name, "declared");
  EXPECT_EQ(ELF64_ST_BIND(elf.symbols[2].entry.st_info), STB_GLOBAL);
  EXPECT_EQ(ELF64_ST_BIND(elf.symbols[3].entry.st_info), STB_WEAK);
  EXPECT_EQ(elf.symbols[4].name, "f");
  expect_relocations(elf, ".rel.text",
                     {{0, R_BPF_64_32, 4}, {8, R_BPF_64_32, 4}, {16, R_BPF_64_32, 2}, {24, R_BPF_64_32, 3}});
}

TEST(ElfWriter, OffsetsFollowAlignment) {
  Object object;
  object.sections = {
      {.name = "a", .alignment = 0, .bytes = {1, 2, 3}},  // 0: no constraint, like 1
      {.name = "b", .alignment = 16, .bytes = {4}},
      {.name = "c", .type = kShtNobits, .alignment = 32, .bytes = std::vector<uint8_t>(100)},
      {.name = "d", .alignment = 2, .bytes = {5}},
  };
  const ParsedElf elf = write_and_parse(object);
  EXPECT_EQ(elf.section("a").header.sh_offset, 64u);
  EXPECT_EQ(elf.section("b").header.sh_offset, 80u);
  EXPECT_EQ(elf.section("c").header.sh_offset, 96u);
  EXPECT_EQ(elf.section("c").header.sh_size, 100u);
  EXPECT_EQ(elf.section("d").header.sh_offset, 96u);  // c takes no file bytes
  EXPECT_EQ(elf.section("d").contents, std::vector<uint8_t>{5});
  EXPECT_EQ(elf.header.e_shoff % 8, 0u);
}

TEST(ElfWriter, DanglingIndicesStillGiveAWellFormedFile) {
  Object object;
  object.sections = {{.name = ".text", .bytes = std::vector<uint8_t>(8, 0)}};
  object.symbols = {{.name = "lost", .section = 7, .binding = Binding::Local}};
  object.relocations = {{.section = 3, .offset = 0, .type = kRelBpf64_32, .symbol = "nowhere"}};
  const ParsedElf elf = write_and_parse(object);
  ASSERT_EQ(elf.symbols.size(), 3u);  // null, .text, lost; no "nowhere"
  EXPECT_EQ(elf.symbols[2].entry.st_shndx, SHN_UNDEF);
  EXPECT_EQ(ELF64_ST_BIND(elf.symbols[2].entry.st_info), STB_GLOBAL);
  EXPECT_EQ(elf.sections.size(), 5u);  // no .rel section
}

// ---- The LLVM tools ---------------------------------------------------------------

using test::find_tool;
using test::TempDir;

std::string write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return path.string();
}

void expect_matches(const std::string& text, const char* pattern) {
  EXPECT_TRUE(std::regex_search(text, std::regex(pattern))) << "no match for /" << pattern << "/ in:\n" << text;
}

TEST(ElfWriter, LlvmReadelfReadsTheFile) {
  const auto readelf = find_tool({"llvm-readelf", "llvm-readelf-14"});
  if (!readelf) GTEST_SKIP() << "llvm-readelf is not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = write_file(dir.path() / "sample.o", write_elf(sample_object()).value());
  const test::CommandResult result = test::run_merged(*readelf + " --wide -h -S -r -s " + file);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(result.output.find("warning"), std::string::npos) << result.output;
  expect_matches(result.output, "Machine: +EM_BPF");
  expect_matches(result.output, "Type: +REL");
  for (const char* section :
       {"\\.text +PROGBITS", "\\.data +PROGBITS", "\\.bss +NOBITS", "\\.maps +PROGBITS", "\\.rel\\.text +REL",
        "\\.rel\\.data +REL", "\\.symtab +SYMTAB", "\\.strtab +STRTAB", "\\.shstrtab +STRTAB"})
    expect_matches(result.output, section);
  expect_matches(result.output, "R_BPF_64_64 +0+ my_map");
  expect_matches(result.output, "R_BPF_64_64 +0+ \\.data");
  expect_matches(result.output, "R_BPF_64_32 +0+ ext_func");
  expect_matches(result.output, "R_BPF_64_ABS64 +0+ prog");
  expect_matches(result.output, "R_BPF_64_ABS32 +0+ ext_var");
  expect_matches(result.output, "'\\.symtab' contains 11 entries");
  expect_matches(result.output, "48 FUNC +GLOBAL +DEFAULT +1 prog");
  expect_matches(result.output, "32 OBJECT +GLOBAL +DEFAULT +4 my_map");
  expect_matches(result.output, "NOTYPE +GLOBAL +DEFAULT +UND ext_func");
}

TEST(ElfWriter, LlvmObjdumpDisassemblesTheText) {
  const auto objdump = find_tool({"llvm-objdump", "llvm-objdump-14"});
  if (!objdump) GTEST_SKIP() << "llvm-objdump is not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string file = write_file(dir.path() / "sample.o", write_elf(sample_object()).value());
  const test::CommandResult result = test::run_merged(*objdump + " -d -r " + file);
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(result.output.find("warning"), std::string::npos) << result.output;
  expect_matches(result.output, "<prog>:");
  expect_matches(result.output, "r1 = 0 ll");
  expect_matches(result.output, "R_BPF_64_64\\s+my_map");
  expect_matches(result.output, "R_BPF_64_32\\s+ext_func");
  expect_matches(result.output, "exit");
}

// The disassembly, relocations and contents as llvm-objdump prints them,
// without the first lines (which name the file).
std::string objdump_listing(const std::string& objdump, const std::string& file) {
  const test::CommandResult result = test::run_merged(objdump + " -d -r -s -j .text -j .data -j .maps " + file);
  EXPECT_EQ(result.status, 0) << result.output;
  const size_t start = result.output.find("Contents of section");
  return start == std::string::npos ? result.output : result.output.substr(start);
}

// 65,280 sections and more need extended section numbering: the writer
// returned an empty buffer, and `bpfkit asm` wrote a 0-byte object and
// exited 0. With the null, .symtab, .strtab and .shstrtab sections, 65,275
// of the object's own is the most that fits.
TEST(ElfWriter, TooManySectionsIsAnError) {
  Object object;
  for (int i = 0; i < 65275; ++i) object.sections.push_back({.name = std::to_string(i), .bytes = {}});
  auto fits = write_elf(object);
  ASSERT_TRUE(fits) << to_string(fits.error());
  object.sections.push_back({.name = "one_more", .bytes = {}});
  auto refused = write_elf(object);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("at most 65279 can be written"), std::string::npos) << refused.error().message;
}

TEST(ElfWriter, LlvmObjdumpSeesWhatLlvmMcWouldWrite) {
  const auto objdump = find_tool({"llvm-objdump", "llvm-objdump-14"});
  const auto mc = find_tool({"llvm-mc", "llvm-mc-14"});
  if (!objdump || !mc) GTEST_SKIP() << "llvm-objdump or llvm-mc is not installed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string source = (dir.path() / "sample.s").string();
  std::ofstream(source) << kSampleSource;
  const std::string reference = (dir.path() / "reference.o").string();
  const test::CommandResult assembled =
      test::run_merged(*mc + " -triple bpfel -filetype=obj -o " + reference + " " + source);
  ASSERT_EQ(assembled.status, 0) << assembled.output;
  const std::string ours = write_file(dir.path() / "ours.o", write_elf(sample_object()).value());
  EXPECT_EQ(objdump_listing(*objdump, ours), objdump_listing(*objdump, reference));
}

}  // namespace
}  // namespace bpfkit::assembly
