// The ELF writer: an Object as an ELF64 little-endian relocatable file for
// EM_BPF, the kind of file llvm-mc, clang and libbpf exchange.
//
// Section header table, by index:
//   0            the null section
//   1 .. N       the object's sections, in order (object section i is ELF
//                section i + 1, so symbol and relocation indices map simply)
//   N+1 ..       one `.rel<name>` per section with relocations, in section order
//   then         .symtab, .strtab, .shstrtab
// Symbol table: the null symbol, one STT_SECTION symbol per section (same
// order), the local symbols, then the global and weak ones, then the
// undefined names that relocations refer to without a Symbol.
//
// File layout: the ELF header, the contents of every section in header-table
// order (each at an offset aligned to its sh_addralign; SHT_NOBITS sections
// take no bytes), then the section header table, 8-byte aligned.
#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "bpfkit/assembly.hpp"
#include "bpfkit/elf_format.hpp"
#include "large_buffer.hpp"

namespace bpfkit::assembly {
namespace {

// The records of elf_format.hpp are copied byte for byte (it asserts a
// little-endian host, whose layout is ELFDATA2LSB).
using elf::Ehdr, elf::Rel, elf::Shdr, elf::Sym;

constexpr uint64_t kSymtabAlignment = alignof(Sym);
constexpr uint64_t kRelAlignment = alignof(Rel);
constexpr uint64_t kHeaderTableAlignment = alignof(Shdr);
// Section indices from SHN_LORESERVE up mean something else in st_shndx and
// e_shstrndx; objects that large would need extended numbering.
constexpr size_t kMaxSections = elf::kShnLoreserve;

uint64_t align_up(uint64_t value, uint64_t alignment) {
  if (alignment <= 1) return value;  // 0 and 1 both mean "no constraint" in ELF
  return (value + alignment - 1) / alignment * alignment;
}

template <class T>
void append(std::vector<uint8_t>& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

// A string table; equal strings share one entry.
class StringTable {
 public:
  uint32_t add(std::string_view text) {
    if (text.empty()) return 0;  // offset 0 is the leading NUL: the empty string
    auto [it, inserted] = offsets_.try_emplace(std::string(text), static_cast<uint32_t>(data_.size()));
    if (inserted) {
      data_.insert(data_.end(), text.begin(), text.end());
      data_.push_back(0);
    }
    return it->second;
  }
  const std::vector<uint8_t>& bytes() const { return data_; }

 private:
  std::vector<uint8_t> data_{0};
  std::map<std::string, uint32_t, std::less<>> offsets_;
};

// ELF section index of object section `index`.
uint16_t elf_index(uint32_t index) { return static_cast<uint16_t>(index + 1); }

unsigned char st_bind(Binding binding, bool defined) {
  // An undefined symbol can only be resolved by another object, so it is
  // global whatever it says, as llvm-mc makes it.
  if (!defined) return binding == Binding::Weak ? elf::kStbWeak : elf::kStbGlobal;
  switch (binding) {
    case Binding::Local: return elf::kStbLocal;
    case Binding::Global: return elf::kStbGlobal;
    case Binding::Weak: return elf::kStbWeak;
  }
  return elf::kStbLocal;
}

unsigned char st_type(SymbolType type) {
  switch (type) {
    case SymbolType::NoType: return elf::kSttNotype;
    case SymbolType::Func: return elf::kSttFunc;
    case SymbolType::Object: return elf::kSttObject;
    case SymbolType::Section: return elf::kSttSection;
  }
  return elf::kSttNotype;
}

// The symbol table being built, with the index of every name a relocation
// may use.
class SymbolTable {
 public:
  explicit SymbolTable(const Object& object) : object_(object) {
    entries_.push_back(Sym{});
    add_section_symbols();
    add_symbols(/*locals=*/true);
    first_global_ = static_cast<uint32_t>(entries_.size());
    add_symbols(/*locals=*/false);
    add_section_names();
    add_undefined_references();
  }

  uint32_t index_of(const std::string& name) const { return indices_.at(name); }  // every name was added
  uint32_t first_global() const { return first_global_; }
  const StringTable& strings() const { return strings_; }

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out;
    for (const Sym& entry : entries_) append(out, entry);
    return out;
  }

 private:
  // Precondition violations (the assembler never makes them) still give a
  // well-formed file: a symbol in a section that does not exist is undefined,
  // and a relocation of one is left out (relocation_section never asks for it).
  bool in_range(std::optional<uint32_t> section) const { return section && *section < object_.sections.size(); }

  // Section symbols have no name of their own; readers show the section's.
  void add_section_symbols() {
    for (uint32_t i = 0; i < object_.sections.size(); ++i) {
      Sym entry{};
      entry.st_info = elf::st_info(elf::kStbLocal, elf::kSttSection);
      entry.st_shndx = elf_index(i);
      entries_.push_back(entry);
    }
  }

  void add_symbols(bool locals) {
    for (const Symbol& symbol : object_.symbols) {
      if (symbol.type == SymbolType::Section) {
        // Already written as the section's symbol; its name is an alias.
        if (locals && in_range(symbol.section)) indices_.try_emplace(symbol.name, *symbol.section + 1);
        continue;
      }
      const bool defined = in_range(symbol.section);
      const unsigned char bind = st_bind(symbol.binding, defined);
      if ((bind == elf::kStbLocal) != locals) continue;
      Sym entry{};
      entry.st_name = strings_.add(symbol.name);
      entry.st_info = elf::st_info(bind, st_type(symbol.type));
      entry.st_shndx = defined ? elf_index(*symbol.section) : elf::kShnUndef;
      entry.st_value = symbol.value;
      entry.st_size = symbol.size;
      indices_.try_emplace(symbol.name, static_cast<uint32_t>(entries_.size()));
      entries_.push_back(entry);
    }
  }

  // A section name names its section symbol, unless a symbol has that name.
  void add_section_names() {
    for (uint32_t i = 0; i < object_.sections.size(); ++i) indices_.try_emplace(object_.sections[i].name, i + 1);
  }

  void add_undefined_references() {
    for (const Relocation& relocation : object_.relocations) {
      if (relocation.section >= object_.sections.size() || indices_.contains(relocation.symbol)) continue;
      Sym entry{};
      entry.st_name = strings_.add(relocation.symbol);
      entry.st_info = elf::st_info(elf::kStbGlobal, elf::kSttNotype);
      entry.st_shndx = elf::kShnUndef;
      indices_.emplace(relocation.symbol, static_cast<uint32_t>(entries_.size()));
      entries_.push_back(entry);
    }
  }

  const Object& object_;
  std::vector<Sym> entries_;
  std::map<std::string, uint32_t, std::less<>> indices_;
  StringTable strings_;
  uint32_t first_global_ = 0;
};

// One entry of the section header table and the bytes it describes: an
// object section's own (not copied: code may be megabytes) or a table built
// here. None for SHT_NOBITS, whose sh_size is set directly.
struct OutputSection {
  std::string name;
  Shdr header{};
  const std::vector<uint8_t>* object_bytes = nullptr;
  std::vector<uint8_t> table;

  std::span<const uint8_t> contents() const { return object_bytes ? *object_bytes : table; }
};

OutputSection object_section(const Section& section) {
  OutputSection out;
  out.name = section.name;
  out.header.sh_type = section.type;
  out.header.sh_flags = section.flags;
  out.header.sh_addralign = section.alignment;
  out.header.sh_size = section.bytes.size();
  if (section.type != elf::kShtNobits) out.object_bytes = &section.bytes;
  return out;
}

// `.rel<name>` for the relocations of object section `index`, or nothing.
std::optional<OutputSection> relocation_section(const Object& object, uint32_t index, const SymbolTable& symbols) {
  OutputSection out;
  for (const Relocation& relocation : object.relocations) {
    if (relocation.section != index) continue;
    Rel entry{};
    entry.r_offset = relocation.offset;
    entry.r_info = elf::r_info(symbols.index_of(relocation.symbol), relocation.type);
    append(out.table, entry);
  }
  if (out.table.empty()) return std::nullopt;
  out.name = ".rel" + object.sections[index].name;
  out.header.sh_type = elf::kShtRel;
  out.header.sh_flags = elf::kShfInfoLink;  // sh_info is a section index
  out.header.sh_info = elf_index(index);
  out.header.sh_addralign = kRelAlignment;
  out.header.sh_entsize = sizeof(Rel);
  out.header.sh_size = out.table.size();
  return out;
}

OutputSection table_section(std::string name, uint32_t type, std::vector<uint8_t> contents, uint64_t alignment) {
  OutputSection out;
  out.name = std::move(name);
  out.header.sh_type = type;
  out.header.sh_addralign = alignment;
  out.header.sh_size = contents.size();
  out.table = std::move(contents);
  return out;
}

// Every section of the file after the null section, with sh_link/sh_info
// set; names and offsets come later.
std::vector<OutputSection> build_sections(const Object& object) {
  std::vector<OutputSection> out;
  for (const Section& section : object.sections) out.push_back(object_section(section));

  const SymbolTable symbols(object);
  const size_t first_rel = out.size();
  for (uint32_t i = 0; i < object.sections.size(); ++i)
    if (auto rel = relocation_section(object, i, symbols)) out.push_back(std::move(*rel));
  const size_t relocation_sections = out.size() - first_rel;

  // Header-table indices: the null section shifts every position by one.
  const uint32_t symtab_index = static_cast<uint32_t>(out.size() + 1);
  for (size_t i = 0; i < relocation_sections; ++i) out[first_rel + i].header.sh_link = symtab_index;

  OutputSection symtab = table_section(".symtab", elf::kShtSymtab, symbols.bytes(), kSymtabAlignment);
  symtab.header.sh_link = symtab_index + 1;  // .strtab follows
  symtab.header.sh_info = symbols.first_global();
  symtab.header.sh_entsize = sizeof(Sym);
  out.push_back(std::move(symtab));
  out.push_back(table_section(".strtab", elf::kShtStrtab, symbols.strings().bytes(), 1));
  return out;
}

// Appends .shstrtab and sets every sh_name.
void add_section_names(std::vector<OutputSection>& sections) {
  StringTable names;
  for (OutputSection& section : sections) section.header.sh_name = names.add(section.name);
  const uint32_t shstrtab_name = names.add(".shstrtab");
  sections.push_back(table_section(".shstrtab", elf::kShtStrtab, names.bytes(), 1));
  sections.back().header.sh_name = shstrtab_name;
}

// Sets every sh_offset; returns the offset of the section header table.
uint64_t lay_out(std::vector<OutputSection>& sections) {
  uint64_t offset = sizeof(Ehdr);
  for (OutputSection& section : sections) {
    offset = align_up(offset, section.header.sh_addralign);
    section.header.sh_offset = offset;
    offset += section.contents().size();
  }
  return align_up(offset, kHeaderTableAlignment);
}

Ehdr file_header(uint64_t header_table_offset, size_t section_count) {
  Ehdr header{};
  std::memcpy(header.e_ident, elf::kElfMagic, sizeof elf::kElfMagic);
  header.e_ident[elf::kEiClass] = elf::kElfClass64;
  header.e_ident[elf::kEiData] = elf::kElfData2Lsb;
  header.e_ident[elf::kEiVersion] = elf::kEvCurrent;
  header.e_ident[elf::kEiOsabi] = elf::kElfOsabiNone;
  header.e_type = elf::kEtRel;
  header.e_machine = elf::kEmBpf;
  header.e_version = elf::kEvCurrent;
  header.e_shoff = header_table_offset;
  header.e_flags = 0;
  header.e_ehsize = sizeof(Ehdr);
  header.e_shentsize = sizeof(Shdr);
  header.e_shnum = static_cast<uint16_t>(section_count);
  header.e_shstrndx = static_cast<uint16_t>(section_count - 1);  // .shstrtab is last
  return header;
}

}  // namespace

Expected<std::vector<uint8_t>> write_elf(const Object& object) {
  std::vector<OutputSection> sections = build_sections(object);
  add_section_names(sections);
  const size_t section_count = sections.size() + 1;  // with the null section
  if (section_count >= kMaxSections)                 // not representable without extended numbering
    return make_error(Errc::Unsupported, "the object needs " + std::to_string(section_count) +
                                             " ELF sections (with relocation, symbol and name sections); at most " +
                                             std::to_string(kMaxSections - 1) +
                                             " can be written without extended section numbering");

  // Written front to back, each byte once: the contents in place, zeros
  // only in the alignment gaps.
  const uint64_t header_table_offset = lay_out(sections);
  std::vector<uint8_t> out;
  detail::reserve_large(out, header_table_offset + section_count * sizeof(Shdr));
  append(out, file_header(header_table_offset, section_count));
  for (const OutputSection& section : sections) {
    out.resize(section.header.sh_offset);
    const std::span<const uint8_t> contents = section.contents();
    out.insert(out.end(), contents.begin(), contents.end());
  }
  out.resize(header_table_offset);
  append(out, Shdr{});  // the null section
  for (const OutputSection& section : sections) append(out, section.header);
  return out;
}

}  // namespace bpfkit::assembly
