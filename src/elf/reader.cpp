// The bounded ELF64 little-endian reader: every field is checked against the
// file before it is used, so that no input can make us read outside it.
#include <algorithm>

#include "bpfkit/elf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {
namespace {

using namespace detail;

// Offsets of the ELF header fields, for error locations.
constexpr uint64_t kEType = offsetof(Ehdr, e_type), kEMachine = offsetof(Ehdr, e_machine),
                   kEVersion = offsetof(Ehdr, e_version), kEEntry = offsetof(Ehdr, e_entry),
                   kEShoff = offsetof(Ehdr, e_shoff), kEFlags = offsetof(Ehdr, e_flags),
                   kEEhsize = offsetof(Ehdr, e_ehsize), kEShentsize = offsetof(Ehdr, e_shentsize),
                   kEShnum = offsetof(Ehdr, e_shnum), kEShstrndx = offsetof(Ehdr, e_shstrndx);

// Reads one section's strings: offsets inside the table, names NUL-terminated.
Expected<std::string> string_at(std::span<const uint8_t> table, uint64_t table_offset, uint32_t name,
                                const std::string& input, uint64_t field_at, const char* field) {
  if (name >= table.size())
    return fail(Errc::OutOfRange, input, field_at,
                std::string(field) + " " + hex(name) + " is outside its string table (" + hex(table.size()) +
                    " bytes at " + hex(table_offset) + ")");
  const auto rest = table.subspan(name);
  const void* nul = std::memchr(rest.data(), 0, rest.size());
  if (nul == nullptr)
    return fail(Errc::Truncated, input, field_at,
                std::string(field) + " " + hex(name) + ": the string is not NUL-terminated");
  return std::string(reinterpret_cast<const char*>(rest.data()), static_cast<const uint8_t*>(nul) - rest.data());
}

Expected<void> check_ident(std::span<const uint8_t> file, const std::string& input) {
  if (file.size() < kEhdrSize)
    return fail(Errc::Truncated, input, 0,
                "file is " + hex(file.size()) + " bytes, shorter than an ELF64 header (0x40 bytes)");
  if (!has_elf_magic(file))
    return fail(Errc::BadHeader, input, 0, "e_ident magic " + hex(load<uint32_t>(file, 0)) + " is not \\x7fELF");
  const std::pair<uint64_t, const char*> fields[] = {{kEiClass, "EI_CLASS (want 0x2, ELFCLASS64)"},
                                                     {kEiData, "EI_DATA (want 0x1, little-endian)"},
                                                     {kEiVersion, "EI_VERSION (want 0x1)"}};
  const uint8_t wanted[] = {2, 1, 1};
  for (size_t i = 0; i < 3; ++i)
    if (file[fields[i].first] != wanted[i])
      return fail(Errc::BadHeader, input, fields[i].first,
                  std::string(fields[i].second) + " is " + hex(file[fields[i].first]));
  if (load<uint32_t>(file, kEVersion) != 1)
    return fail(Errc::BadHeader, input, kEVersion, "e_version " + hex(load<uint32_t>(file, kEVersion)) + ", want 0x1");
  if (load<uint16_t>(file, kEEhsize) != kEhdrSize)
    return fail(Errc::BadHeader, input, kEEhsize, "e_ehsize " + hex(load<uint16_t>(file, kEEhsize)) + ", want 0x40");
  if (load<uint16_t>(file, kEShentsize) != kShdrSize)
    return fail(Errc::BadHeader, input, kEShentsize,
                "e_shentsize " + hex(load<uint16_t>(file, kEShentsize)) + ", want 0x40");
  return {};
}

SectionHeader header_at(std::span<const uint8_t> file, uint64_t at, uint32_t index) {
  SectionHeader h;
  h.index = index;
  h.type = load<uint32_t>(file, at + 4);
  h.flags = load<uint64_t>(file, at + 8);
  h.addr = load<uint64_t>(file, at + 16);
  h.offset = load<uint64_t>(file, at + 24);
  h.size = load<uint64_t>(file, at + 32);
  h.link = load<uint32_t>(file, at + 40);
  h.info = load<uint32_t>(file, at + 44);
  h.addralign = load<uint64_t>(file, at + 48);
  h.entsize = load<uint64_t>(file, at + 56);
  return h;
}

}  // namespace

Expected<Reader> Reader::parse(std::span<const uint8_t> file, std::string input_name) {
  Reader r;
  r.file_ = file;
  r.input_ = std::move(input_name);
  if (auto ok = check_ident(file, r.input_); !ok) return ok.error();
  r.type_ = load<uint16_t>(file, kEType);
  r.machine_ = load<uint16_t>(file, kEMachine);
  r.flags_ = load<uint32_t>(file, kEFlags);
  r.entry_ = load<uint64_t>(file, kEEntry);
  if (auto ok = r.read_sections(); !ok) return ok.error();
  if (auto ok = r.check_layout(); !ok) return ok.error();
  if (auto ok = r.read_symbols(); !ok) return ok.error();
  return r;
}

Error Reader::fail_at(Errc code, uint64_t offset, std::string message) const {
  return detail::fail(code, input_, offset, std::move(message));
}

uint64_t Reader::header_offset(uint32_t index) const { return load<uint64_t>(file_, kEShoff) + index * kShdrSize; }

// The section table. With e_shnum 0 and a table present, the count is
// section 0's sh_size (gABI extended numbering).
Expected<void> Reader::read_sections() {
  const uint64_t table = load<uint64_t>(file_, kEShoff);
  uint64_t count = load<uint16_t>(file_, kEShnum);
  if (table == 0) {
    if (count != 0) return fail_at(Errc::BadHeader, kEShoff, "e_shoff is 0 but e_shnum is " + hex(count));
    return {};
  }
  if (count == 0) {
    if (!fits(table, kShdrSize, file_.size()))
      return fail_at(Errc::Truncated, kEShoff,
                     "e_shoff " + hex(table) + " + 1 section header runs past the end of the file (" +
                         hex(file_.size()) + " bytes)");
    count = load<uint64_t>(file_, table + 32);
  }
  if (table > file_.size() || count > (file_.size() - table) / kShdrSize)  // count * 64 could overflow
    return fail_at(Errc::Truncated, kEShoff,
                   "section header table (offset " + hex(table) + ", " + std::to_string(count) +
                       " entries of 64 bytes) runs past the end of the file (" + hex(file_.size()) + " bytes)");
  for (uint64_t i = 0; i < count; ++i) sections_.push_back(header_at(file_, table + i * kShdrSize, uint32_t(i)));
  for (const SectionHeader& s : sections_)
    if (s.type != kShtNobits && !fits(s.offset, s.size, file_.size()))
      return fail_at(Errc::Truncated, header_offset(s.index) + 24,
                     "section " + std::to_string(s.index) + " sh_offset " + hex(s.offset) + " + sh_size " +
                         hex(s.size) + " runs past the end of the file (" + hex(file_.size()) + " bytes)");
  return read_section_names();
}

Expected<void> Reader::read_section_names() {
  if (sections_.empty()) return {};
  uint64_t index = load<uint16_t>(file_, kEShstrndx);
  if (index == kShnXindex) index = sections_[0].link;
  if (index >= sections_.size())
    return fail_at(Errc::OutOfRange, kEShstrndx,
                   "e_shstrndx " + hex(index) + " is not below the section count " + hex(sections_.size()));
  const SectionHeader& names = sections_[index];
  if (names.type != kShtStrtab)
    return fail_at(Errc::BadHeader, kEShstrndx,
                   "e_shstrndx " + hex(index) + " names a section of type " + hex(names.type) + ", not SHT_STRTAB");
  for (SectionHeader& s : sections_) {
    auto name = string_at(contents(names), names.offset, load<uint32_t>(file_, header_offset(s.index)), input_,
                          header_offset(s.index), "sh_name");
    if (!name) return name.error();
    s.name = std::move(*name);
  }
  return {};
}

// Two sections that share bytes would let one patch the other behind our back.
Expected<void> Reader::check_layout() const {
  std::vector<const SectionHeader*> placed;
  for (const SectionHeader& s : sections_)
    if (s.type != kShtNobits && s.size != 0) placed.push_back(&s);
  std::sort(placed.begin(), placed.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < placed.size(); ++i) {
    const SectionHeader& a = *placed[i - 1];
    const SectionHeader& b = *placed[i];
    if (b.offset < a.offset + a.size)
      return fail_at(Errc::BadHeader, header_offset(b.index) + 24,
                     "section " + std::to_string(b.index) + " '" + b.name + "' at sh_offset " + hex(b.offset) +
                         " overlaps section " + std::to_string(a.index) + " '" + a.name + "' (" + hex(a.offset) +
                         " + " + hex(a.size) + ")");
  }
  return {};
}

Expected<void> Reader::read_symbols() {
  const SectionHeader* symtab = nullptr;
  for (const SectionHeader& s : sections_)
    if (s.type == kShtSymtab) {
      if (symtab != nullptr)
        return fail_at(Errc::BadHeader, header_offset(s.index) + 4,
                       "section " + std::to_string(s.index) + " is a second SHT_SYMTAB");
      symtab = &s;
    }
  if (symtab == nullptr) return {};
  const uint64_t at = header_offset(symtab->index);
  if (symtab->entsize != kSymSize)
    return fail_at(Errc::BadHeader, at + 56, "symbol table sh_entsize " + hex(symtab->entsize) + ", want 0x18");
  if (symtab->size % kSymSize != 0)
    return fail_at(Errc::BadHeader, at + 32,
                   "symbol table sh_size " + hex(symtab->size) + " is not a multiple of 0x18");
  if (symtab->link >= sections_.size() || sections_[symtab->link].type != kShtStrtab)
    return fail_at(Errc::OutOfRange, at + 40,
                   "symbol table sh_link " + hex(symtab->link) + " does not name a SHT_STRTAB section");
  symtab_offset_ = symtab->offset;
  const SectionHeader& strtab = sections_[symtab->link];
  const auto bytes = contents(*symtab);
  for (uint64_t i = 0; i < symtab->size / kSymSize; ++i) {
    const uint64_t field = symtab->offset + i * kSymSize;
    SymbolEntry sym;
    auto name =
        string_at(contents(strtab), strtab.offset, load<uint32_t>(bytes, i * kSymSize), input_, field, "st_name");
    if (!name) return name.error();
    sym.name = std::move(*name);
    const uint8_t info = bytes[i * kSymSize + 4];
    sym.type = info & 0xf;
    sym.binding = info >> 4;
    sym.section = load<uint16_t>(bytes, i * kSymSize + 6);
    sym.value = load<uint64_t>(bytes, i * kSymSize + 8);
    sym.size = load<uint64_t>(bytes, i * kSymSize + 16);
    // SHN_XINDEX needs SHT_SYMTAB_SHNDX, which BPF objects never have.
    if ((sym.section >= sections_.size() && sym.section < kShnLoreserve) || sym.section == kShnXindex)
      return fail_at(Errc::OutOfRange, field + 6,
                     "symbol " + std::to_string(i) + " st_shndx " + hex(sym.section) +
                         " is not below the section count " + hex(sections_.size()));
    if (sym.type == kSttSection && sym.name.empty() && sym.section < sections_.size())
      sym.name = sections_[sym.section].name;  // as readelf shows them
    symbols_.push_back(std::move(sym));
  }
  return {};
}

Expected<const SectionHeader*> Reader::code_section(std::string_view name) const {
  for (const SectionHeader& s : sections_)
    if (name.empty() ? s.name == ".text" && s.size > 0 : s.name == name) return &s;
  if (name.empty()) {
    for (const SectionHeader& s : sections_)
      if ((s.flags & kShfExecinstr) != 0 && s.size > 0) return &s;
    Location where;  // the whole table says so, not one field
    where.input = input_;
    return make_error(Errc::BadHeader, "no executable section with instructions (.text is empty or missing)", where);
  }
  // A usage error: it names the sections there are.
  std::string message = "no section named '" + std::string(name) + "'; the sections are:";
  for (const SectionHeader& s : sections_)
    if (!s.name.empty()) message.append(" ").append(s.name);
  Location where;
  where.input = input_;
  return make_error(Errc::BadOperand, std::move(message), where);
}

Expected<std::vector<isa::Slot>> Reader::slots(const SectionHeader& section) const {
  const uint64_t at = header_offset(section.index);
  if (section.type == kShtNobits)
    return fail_at(Errc::BadHeader, at + offsetof(Shdr, sh_type),
                   "section '" + section.name + "' is SHT_NOBITS: it has no instructions in the file");
  if (section.size % sizeof(isa::Slot) != 0)
    return fail_at(Errc::Truncated, at + offsetof(Shdr, sh_size),
                   "section '" + section.name + "' sh_size " + hex(section.size) + " is not a multiple of 8");
  const auto bytes = contents(section);
  std::vector<isa::Slot> slots(bytes.size() / sizeof(isa::Slot));
  if (!slots.empty()) std::memcpy(slots.data(), bytes.data(), bytes.size());
  return slots;
}

const SectionHeader* Reader::find(std::string_view name) const {
  for (const SectionHeader& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

std::span<const uint8_t> Reader::contents(const SectionHeader& section) const {
  if (section.type == kShtNobits || !fits(section.offset, section.size, file_.size())) return {};
  return file_.subspan(section.offset, section.size);
}

// Patch width of a relocation type: the 32-bit kinds write 4 bytes.
static uint64_t patch_width(uint32_t type) { return type == kRBpfAbs32 || type == kRBpfNodyld32 ? 4 : 8; }

Expected<std::vector<RelocationEntry>> Reader::relocations(const SectionHeader& section) const {
  const uint64_t at = header_offset(section.index);
  const bool rela = section.type == kShtRela;
  if (!rela && section.type != kShtRel)
    return fail_at(
        Errc::BadHeader, at + 4,
        "section " + std::to_string(section.index) + " sh_type " + hex(section.type) + " is not SHT_REL or SHT_RELA");
  const uint64_t entry = rela ? kRelaSize : kRelSize;
  if (section.entsize != entry)
    return fail_at(
        Errc::BadHeader, at + 56,
        "relocation section '" + section.name + "' sh_entsize " + hex(section.entsize) + ", want " + hex(entry));
  if (section.size % entry != 0)
    return fail_at(Errc::BadHeader, at + 32,
                   "relocation section '" + section.name + "' sh_size " + hex(section.size) + " is not a multiple of " +
                       hex(entry));
  if (section.info == 0 || section.info >= sections_.size())
    return fail_at(
        Errc::OutOfRange, at + 44,
        "relocation section '" + section.name + "' sh_info " + hex(section.info) + " does not name a section");
  const SectionHeader& target = sections_[section.info];
  const auto bytes = contents(section);
  std::vector<RelocationEntry> out;
  for (uint64_t i = 0; i < section.size / entry; ++i) {
    const uint64_t field = section.offset + i * entry;
    RelocationEntry rel;
    rel.offset = load<uint64_t>(bytes, i * entry);
    const uint64_t info = load<uint64_t>(bytes, i * entry + 8);
    rel.type = static_cast<uint32_t>(info);
    rel.symbol = static_cast<uint32_t>(info >> 32);
    if (rela) rel.addend = load<int64_t>(bytes, i * entry + 16);
    if (rel.symbol >= symbols_.size())
      return fail_at(Errc::OutOfRange, field + 12,
                     "relocation " + std::to_string(i) + " of '" + section.name + "': symbol index " + hex(rel.symbol) +
                         " is not below the symbol count " + hex(symbols_.size()));
    if (!fits(rel.offset, patch_width(rel.type), target.size))
      return fail_at(Errc::OutOfRange, field,
                     "relocation " + std::to_string(i) + " of '" + section.name + "': r_offset " + hex(rel.offset) +
                         " + " + hex(patch_width(rel.type)) + " runs past section '" + target.name + "' (" +
                         hex(target.size) + " bytes)");
    out.push_back(rel);
  }
  return out;
}

}  // namespace bpfkit::elf
