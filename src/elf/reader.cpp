// The bounded ELF64 little-endian reader: every field is checked against the
// file before it is used, so that no input can make us read outside it.
// Names are views into the file's string tables, never copies: an object
// whose every name is one long string costs no more than its own bytes.
#include <algorithm>

#include "bpfkit/elf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {
namespace {

using namespace detail;

// Offsets of the ELF header fields, for error locations.
constexpr uint64_t kEShoff = offsetof(Ehdr, e_shoff), kEVersion = offsetof(Ehdr, e_version),
                   kEEhsize = offsetof(Ehdr, e_ehsize), kEShentsize = offsetof(Ehdr, e_shentsize),
                   kEShstrndx = offsetof(Ehdr, e_shstrndx);

// The string at `name` of `table`, or an error naming the field at `field_at`.
Expected<std::string_view> string_at(const StringTable& table, uint64_t table_offset, uint32_t name,
                                     const std::string& input, uint64_t field_at, const char* field) {
  if (name >= table.size())
    return fail(Errc::OutOfRange, input, field_at,
                std::string(field) + " " + hex(name) + " is outside its string table (" + hex(table.size()) +
                    " bytes at " + hex(table_offset) + ")");
  auto text = table.at(name);
  if (!text)
    return fail(Errc::Truncated, input, field_at,
                std::string(field) + " " + hex(name) + ": the string is not NUL-terminated");
  return *text;
}

Expected<Ehdr> check_ident(ByteReader file, const std::string& input) {
  const auto header = file.read<Ehdr>(0);
  if (!header)
    return fail(Errc::Truncated, input, 0,
                "file is " + hex(file.size()) + " bytes, shorter than an ELF64 header (0x40 bytes)");
  if (!has_elf_magic(file.bytes()))
    return fail(Errc::BadHeader, input, 0, "e_ident magic " + hex(*file.u32(0)) + " is not \\x7fELF");
  if (const IdentField* bad = bad_ident_field(*header))
    return fail(Errc::BadHeader, input, bad->offset,
                std::string(bad->what) + " is " + hex(header->e_ident[bad->offset]));
  if (header->e_version != kEvCurrent)
    return fail(Errc::BadHeader, input, kEVersion, "e_version " + hex(header->e_version) + ", want 0x1");
  if (header->e_ehsize != kEhdrSize)
    return fail(Errc::BadHeader, input, kEEhsize, "e_ehsize " + hex(header->e_ehsize) + ", want 0x40");
  if (header->e_shentsize != kShdrSize)
    return fail(Errc::BadHeader, input, kEShentsize, "e_shentsize " + hex(header->e_shentsize) + ", want 0x40");
  return *header;
}

SectionHeader section_header(const Shdr& raw, uint32_t index) {
  SectionHeader h;
  h.index = index;
  h.type = raw.sh_type;
  h.flags = raw.sh_flags;
  h.addr = raw.sh_addr;
  h.offset = raw.sh_offset;
  h.size = raw.sh_size;
  h.link = raw.sh_link;
  h.info = raw.sh_info;
  h.addralign = raw.sh_addralign;
  h.entsize = raw.sh_entsize;
  return h;
}

}  // namespace

Expected<Reader> Reader::parse(std::span<const uint8_t> file, std::string input_name) {
  Reader r;
  r.file_ = ByteReader(file);
  r.input_ = std::move(input_name);
  auto header = check_ident(r.file_, r.input_);
  if (!header) return header.error();
  r.type_ = header->e_type;
  r.machine_ = header->e_machine;
  r.flags_ = header->e_flags;
  r.entry_ = header->e_entry;
  r.shoff_ = header->e_shoff;
  if (auto ok = r.read_sections(*header); !ok) return ok.error();
  if (auto ok = r.check_layout(); !ok) return ok.error();
  if (auto ok = r.read_symbols(); !ok) return ok.error();
  return r;
}

Error Reader::fail_at(Errc code, uint64_t offset, std::string message) const {
  return detail::fail(code, input_, offset, std::move(message));
}

uint64_t Reader::header_offset(uint32_t index) const { return shoff_ + index * kShdrSize; }

// The section table. With e_shnum 0 and a table present, the count is
// section 0's sh_size (gABI extended numbering).
Expected<void> Reader::read_sections(const Ehdr& header) {
  const uint64_t table = header.e_shoff;
  uint64_t count = header.e_shnum;
  if (table == 0) {
    if (count != 0) return fail_at(Errc::BadHeader, kEShoff, "e_shoff is 0 but e_shnum is " + hex(count));
    return {};
  }
  if (count == 0) {
    const auto first = file_.read<Shdr>(table);
    if (!first)
      return fail_at(Errc::Truncated, kEShoff,
                     "e_shoff " + hex(table) + " + 1 section header runs past the end of the file (" +
                         hex(file_.size()) + " bytes)");
    count = first->sh_size;
  }
  const auto raw = file_.read_array<Shdr>(table, count);
  if (!raw)
    return fail_at(Errc::Truncated, kEShoff,
                   "section header table (offset " + hex(table) + ", " + std::to_string(count) +
                       " entries of 64 bytes) runs past the end of the file (" + hex(file_.size()) + " bytes)");
  sections_.reserve(raw->size());
  for (uint32_t i = 0; i < raw->size(); ++i) sections_.push_back(section_header((*raw)[i], i));
  for (const SectionHeader& s : sections_)
    if (s.type != kShtNobits && !fits(s.offset, s.size, file_.size()))
      return fail_at(Errc::Truncated, header_offset(s.index) + offsetof(Shdr, sh_offset),
                     "section " + std::to_string(s.index) + " sh_offset " + hex(s.offset) + " + sh_size " +
                         hex(s.size) + " runs past the end of the file (" + hex(file_.size()) + " bytes)");
  return read_section_names(header, *raw);
}

Expected<void> Reader::read_section_names(const Ehdr& header, const std::vector<Shdr>& raw) {
  if (sections_.empty()) return {};
  uint64_t index = header.e_shstrndx;
  if (index == kShnXindex) index = sections_[0].link;
  if (index >= sections_.size())
    return fail_at(Errc::OutOfRange, kEShstrndx,
                   "e_shstrndx " + hex(index) + " is not below the section count " + hex(sections_.size()));
  const SectionHeader& names = sections_[index];
  if (names.type != kShtStrtab)
    return fail_at(Errc::BadHeader, kEShstrndx,
                   "e_shstrndx " + hex(index) + " names a section of type " + hex(names.type) + ", not SHT_STRTAB");
  const StringTable table(contents(names));
  for (SectionHeader& s : sections_) {
    auto name = string_at(table, names.offset, raw[s.index].sh_name, input_, header_offset(s.index), "sh_name");
    if (!name) return name.error();
    s.name = *name;
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
      return fail_at(Errc::BadHeader, header_offset(b.index) + offsetof(Shdr, sh_offset),
                     "section " + std::to_string(b.index) + " '" + std::string(b.name) + "' at sh_offset " +
                         hex(b.offset) + " overlaps section " + std::to_string(a.index) + " '" + std::string(a.name) +
                         "' (" + hex(a.offset) + " + " + hex(a.size) + ")");
  }
  return {};
}

Expected<void> Reader::read_symbols() {
  const SectionHeader* symtab = nullptr;
  for (const SectionHeader& s : sections_)
    if (s.type == kShtSymtab) {
      if (symtab != nullptr)
        return fail_at(Errc::BadHeader, header_offset(s.index) + offsetof(Shdr, sh_type),
                       "section " + std::to_string(s.index) + " is a second SHT_SYMTAB");
      symtab = &s;
    }
  if (symtab == nullptr) return {};
  const uint64_t at = header_offset(symtab->index);
  if (symtab->entsize != kSymSize)
    return fail_at(Errc::BadHeader, at + offsetof(Shdr, sh_entsize),
                   "symbol table sh_entsize " + hex(symtab->entsize) + ", want " + hex(kSymSize));
  if (symtab->size % kSymSize != 0)
    return fail_at(Errc::BadHeader, at + offsetof(Shdr, sh_size),
                   "symbol table sh_size " + hex(symtab->size) + " is not a multiple of " + hex(kSymSize));
  if (symtab->link >= sections_.size() || sections_[symtab->link].type != kShtStrtab)
    return fail_at(Errc::OutOfRange, at + offsetof(Shdr, sh_link),
                   "symbol table sh_link " + hex(symtab->link) + " does not name a SHT_STRTAB section");
  symtab_offset_ = symtab->offset;
  const SectionHeader& strtab = sections_[symtab->link];
  const StringTable names(contents(strtab));
  const auto raw = ByteReader(contents(*symtab)).read_array<Sym>(0, symtab->size / kSymSize);
  if (!raw) return fail_at(Errc::Truncated, at + offsetof(Shdr, sh_size), "symbol table runs past the end of the file");
  symbols_.reserve(raw->size());
  for (uint64_t i = 0; i < raw->size(); ++i) {
    const Sym& entry = (*raw)[i];
    const uint64_t field = symtab->offset + i * kSymSize;
    SymbolEntry sym;
    auto name = string_at(names, strtab.offset, entry.st_name, input_, field, "st_name");
    if (!name) return name.error();
    sym.name = *name;
    sym.type = entry.type();
    sym.binding = entry.binding();
    sym.section = entry.st_shndx;
    sym.value = entry.st_value;
    sym.size = entry.st_size;
    // SHN_XINDEX needs SHT_SYMTAB_SHNDX, which BPF objects never have.
    if ((sym.section >= sections_.size() && sym.section < kShnLoreserve) || sym.section == kShnXindex)
      return fail_at(Errc::OutOfRange, field + offsetof(Sym, st_shndx),
                     "symbol " + std::to_string(i) + " st_shndx " + hex(sym.section) +
                         " is not below the section count " + hex(sections_.size()));
    if (sym.type == kSttSection && sym.name.empty() && sym.section < sections_.size())
      sym.name = sections_[sym.section].name;  // as readelf shows them
    symbols_.push_back(sym);
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
                   "section '" + std::string(section.name) + "' is SHT_NOBITS: it has no instructions in the file");
  if (section.size % sizeof(isa::Slot) != 0)
    return fail_at(
        Errc::Truncated, at + offsetof(Shdr, sh_size),
        "section '" + std::string(section.name) + "' sh_size " + hex(section.size) + " is not a multiple of 8");
  return *ByteReader(contents(section)).read_array<isa::Slot>(0, section.size / sizeof(isa::Slot));
}

const SectionHeader* Reader::find(std::string_view name) const {
  for (const SectionHeader& s : sections_)
    if (s.name == name) return &s;
  return nullptr;
}

std::span<const uint8_t> Reader::contents(const SectionHeader& section) const {
  if (section.type == kShtNobits) return {};
  return file_.span(section.offset, section.size).value_or(std::span<const uint8_t>());
}

// Patch width of a relocation type: the 32-bit kinds write 4 bytes.
static uint64_t patch_width(uint32_t type) { return type == kRBpfAbs32 || type == kRBpfNodyld32 ? 4 : 8; }

Expected<std::vector<RelocationEntry>> Reader::relocations(const SectionHeader& section) const {
  const uint64_t at = header_offset(section.index);
  const bool rela = section.type == kShtRela;
  const std::string name(section.name);
  if (!rela && section.type != kShtRel)
    return fail_at(
        Errc::BadHeader, at + offsetof(Shdr, sh_type),
        "section " + std::to_string(section.index) + " sh_type " + hex(section.type) + " is not SHT_REL or SHT_RELA");
  const uint64_t entry = rela ? kRelaSize : kRelSize;
  if (section.entsize != entry)
    return fail_at(Errc::BadHeader, at + offsetof(Shdr, sh_entsize),
                   "relocation section '" + name + "' sh_entsize " + hex(section.entsize) + ", want " + hex(entry));
  if (section.size % entry != 0)
    return fail_at(
        Errc::BadHeader, at + offsetof(Shdr, sh_size),
        "relocation section '" + name + "' sh_size " + hex(section.size) + " is not a multiple of " + hex(entry));
  if (section.info == 0 || section.info >= sections_.size())
    return fail_at(Errc::OutOfRange, at + offsetof(Shdr, sh_info),
                   "relocation section '" + name + "' sh_info " + hex(section.info) + " does not name a section");
  const SectionHeader& target = sections_[section.info];
  const ByteReader bytes(contents(section));
  std::vector<RelocationEntry> out;
  out.reserve(section.size / entry);
  for (uint64_t i = 0; i < section.size / entry; ++i) {
    const uint64_t field = section.offset + i * entry;
    const Rel raw = *bytes.read<Rel>(i * entry);
    RelocationEntry rel;
    rel.offset = raw.r_offset;
    rel.type = raw.type();
    rel.symbol = raw.symbol();
    if (rela) rel.addend = bytes.read<Rela>(i * entry)->r_addend;
    if (rel.symbol >= symbols_.size())
      return fail_at(Errc::OutOfRange, field + offsetof(Rel, r_info) + 4,
                     "relocation " + std::to_string(i) + " of '" + name + "': symbol index " + hex(rel.symbol) +
                         " is not below the symbol count " + hex(symbols_.size()));
    if (!fits(rel.offset, patch_width(rel.type), target.size))
      return fail_at(Errc::OutOfRange, field,
                     "relocation " + std::to_string(i) + " of '" + name + "': r_offset " + hex(rel.offset) + " + " +
                         hex(patch_width(rel.type)) + " runs past section '" + std::string(target.name) + "' (" +
                         hex(target.size) + " bytes)");
    out.push_back(rel);
  }
  return out;
}

}  // namespace bpfkit::elf
