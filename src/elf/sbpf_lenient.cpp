// The lenient sBPF loader (v0..v2): section headers, the dynamic table,
// relocations, and the read-only image mapped at 1 << 32. Mirrors
// solana-sbpf's `Elf64::parse`, `Executable::validate`, `relocate` and
// `parse_ro_sections` step by step, so errors come out in the same order.
#include <algorithm>
#include <cstring>

#include "sbpf_image.hpp"

namespace bpfkit::elf::sbpf::detail {

namespace {

// What Elf64::parse finds.
struct Elf {
  FileHeader h;
  std::vector<ProgramHeader> phdrs;
  std::vector<RawSection> sections;
  std::optional<RawSection> names;  // .shstrtab
  int32_t symtab = -1, strtab = -1, dynstr = -1, dynsym = -1, shndx_dyn = -1, phndx_dyn = -1;
  std::optional<Range> relocations;  // DT_REL table
};

// ---- Elf64::parse (ElfParserError codes) -------------------------------------

std::optional<uint64_t> header_fault(const FileHeader& h) {
  using namespace ehdr_off;
  if (auto bad = magic_fault(h)) return bad;
  if (auto bad = ident_fault(h)) return bad;
  const std::pair<bool, uint64_t> checks[] = {
      {h.e_version != kEvCurrent, kVersion},    {h.e_ehsize != kEhdrSize, kEhsize},
      {h.e_phentsize != kPhdrSize, kPhentsize}, {h.e_shentsize != kShdrSize, kShentsize},
      {h.e_shstrndx >= h.e_shnum, kShstrndx},
  };
  for (const auto& [bad, offset] : checks)
    if (bad) return offset;
  return std::nullopt;
}

// The range of a header table, checked against the file header and `others`.
Expected<Range> header_table(const Bytes& file, uint64_t offset, uint64_t count, uint64_t entry, uint64_t field,
                             std::initializer_list<Range> others) {
  auto end = checked_add(offset, count * entry);
  if (!end) return fail(LoadErrc::OutOfBounds, field);
  Range r{offset, *end};
  for (Range other : others)
    if (overlaps(other, r)) return fail(LoadErrc::Overlap, field);
  return table_at(file, r, entry, field);
}

Expected<void> check_segments(const Bytes& file, const Elf& elf) {
  uint64_t vaddr = 0;
  for (const auto& p : elf.phdrs) {
    if (p.type != kPtLoad) continue;
    // Loadable segments must be in ascending address order.
    if (p.vaddr < vaddr) return fail(LoadErrc::InvalidProgramHeader, p.at);
    auto end = checked_add(p.offset, p.filesz);
    if (!end || *end > file.size()) return fail(LoadErrc::OutOfBounds, p.at);
    vaddr = p.vaddr;
  }
  return {};
}

Expected<void> check_sections(const Bytes& file, const Elf& elf, Range ph, Range sh) {
  uint64_t offset = 0;
  for (const auto& s : elf.sections) {
    if (s.type == kShtNobits) continue;
    auto end = checked_add(s.offset, s.size);
    if (!end) return fail(LoadErrc::OutOfBounds, s.at);
    Range r{s.offset, *end};
    if (overlaps(r, {0, kEhdrSize}) || overlaps(r, ph) || overlaps(r, sh)) return fail(LoadErrc::Overlap, s.at);
    if (r.start < offset) return fail(LoadErrc::SectionNotInOrder, s.at);
    offset = r.end;
    if (offset > file.size()) return fail(LoadErrc::OutOfBounds, s.at);
  }
  return {};
}

Expected<std::string_view> section_name(const Bytes& file, const Elf& elf, uint32_t sh_name) {
  if (!elf.names) return fail(LoadErrc::NoSectionNameStringTable, ehdr_off::kShstrndx);
  return string_in_section(file, *elf.names, sh_name, kSectionNameMax);
}

// parse_sections: the well-known tables by name, each at most once.
Expected<void> find_named_sections(const Bytes& file, Elf& elf) {
  if (!elf.names) return fail(LoadErrc::NoSectionNameStringTable, ehdr_off::kShstrndx);
  for (size_t i = 0; i < elf.sections.size(); ++i) {
    auto name = section_name(file, elf, elf.sections[i].name);
    if (!name) return name.error();
    int32_t* slot = *name == ".symtab"   ? &elf.symtab
                    : *name == ".strtab" ? &elf.strtab
                    : *name == ".dynstr" ? &elf.dynstr
                                         : nullptr;
    if (slot == nullptr) continue;
    if (*slot != -1) return fail(LoadErrc::InvalidSectionHeader, elf.sections[i].at, "duplicate " + std::string(*name));
    *slot = static_cast<int32_t>(i);
  }
  return {};
}

// The dynamic table: PT_DYNAMIC if it reads as one, else SHT_DYNAMIC.
Expected<std::optional<Range>> dynamic_table(const Bytes& file, Elf& elf) {
  for (size_t i = 0; i < elf.phdrs.size(); ++i) {
    if (elf.phdrs[i].type != kPtDynamic) continue;
    elf.phndx_dyn = static_cast<int32_t>(i);
    const auto& p = elf.phdrs[i];
    auto end = checked_add(p.offset, p.filesz);
    if (end) {
      if (auto r = table_at(file, {p.offset, *end}, kDynSize, p.at)) return std::optional<Range>(*r);
    }
    break;
  }
  for (size_t i = 0; i < elf.sections.size(); ++i) {
    const auto& s = elf.sections[i];
    if (s.type != kShtDynamic) continue;
    elf.shndx_dyn = static_cast<int32_t>(i);
    auto end = checked_add(s.offset, s.size);
    if (!end || !table_at(file, {s.offset, *end}, kDynSize, s.at))
      return fail(LoadErrc::InvalidDynamicSectionTable, s.at);
    return std::optional<Range>(Range{s.offset, *end});
  }
  return std::optional<Range>();
}

// File offset of virtual address `vaddr`: through the segment holding it,
// else (old toolchains) the section starting there.
Expected<uint64_t> offset_of_vaddr(const Elf& elf, uint64_t vaddr, uint64_t where) {
  for (const auto& p : elf.phdrs) {
    auto end = checked_add(p.vaddr, p.memsz);
    if (!end) return fail(LoadErrc::OutOfBounds, p.at);
    if (p.vaddr <= vaddr && vaddr < *end) {
      auto offset = checked_add(vaddr - p.vaddr, p.offset);
      if (!offset) return fail(LoadErrc::OutOfBounds, p.at);
      return *offset;
    }
  }
  for (const auto& s : elf.sections)
    if (s.addr == vaddr) return s.offset;
  return fail(LoadErrc::InvalidDynamicSectionTable, where, "DT_REL outside every segment and section");
}

Expected<void> parse_dynamic(const Bytes& file, Elf& elf) {
  auto table = dynamic_table(file, elf);
  if (!table) return table.error();
  if (!*table) return {};  // a static file
  uint64_t tags[kDtNum] = {};
  const Range r = **table;
  for (uint64_t at = r.start; at < r.end; at += kDynSize) {
    uint64_t tag = file.u64(at);
    if (tag == kDtNull) break;
    if (tag < kDtNum) tags[tag] = file.u64(at + 8);
  }
  const uint64_t where = r.start;
  if (tags[kDtRel] != 0) {
    if (tags[kDtRelent] != kRelSize) return fail(LoadErrc::InvalidDynamicSectionTable, where, "DT_RELENT");
    uint64_t size = tags[kDtRelsz];
    if (size == 0) return fail(LoadErrc::InvalidDynamicSectionTable, where, "DT_RELSZ");
    auto offset = offset_of_vaddr(elf, tags[kDtRel], where);
    if (!offset) return offset.error();
    auto end = checked_add(*offset, size);
    if (!end) return fail(LoadErrc::OutOfBounds, where);
    if (!table_at(file, {*offset, *end}, kRelSize, where))
      return fail(LoadErrc::InvalidDynamicSectionTable, where, "relocation table");
    elf.relocations = Range{*offset, *end};
  }
  if (tags[kDtSymtab] != 0) {
    auto it = std::find_if(elf.sections.begin(), elf.sections.end(),
                           [&](const RawSection& s) { return s.addr == tags[kDtSymtab]; });
    if (it == elf.sections.end()) return fail(LoadErrc::InvalidDynamicSectionTable, where, "DT_SYMTAB");
    if (it->type != kShtSymtab && it->type != kShtDynsym) return fail(LoadErrc::InvalidSectionHeader, it->at);
    auto end = checked_add(it->offset, it->size);
    if (!end) return fail(LoadErrc::OutOfBounds, it->at);
    if (auto ok = table_at(file, {it->offset, *end}, kSymSize, it->at); !ok) return ok.error();
    elf.dynsym = static_cast<int32_t>(it - elf.sections.begin());
  }
  return {};
}

Expected<Elf> parse_elf64(const Bytes& file) {
  if (file.size() < kEhdrSize) return fail(LoadErrc::OutOfBounds, 0, "file shorter than the ELF header");
  Elf elf;
  elf.h = read_file_header(file);
  if (auto bad = header_fault(elf.h)) return fail(LoadErrc::InvalidFileHeader, *bad);
  const Range fh{0, kEhdrSize};
  auto ph = header_table(file, elf.h.e_phoff, elf.h.e_phnum, kPhdrSize, ehdr_off::kPhoff, {fh});
  if (!ph) return ph.error();
  auto sh = header_table(file, elf.h.e_shoff, elf.h.e_shnum, kShdrSize, ehdr_off::kShoff, {fh, *ph});
  if (!sh) return sh.error();
  for (uint64_t at = ph->start; at < ph->end; at += kPhdrSize) elf.phdrs.push_back(read_program_header(file, at));
  for (uint64_t at = sh->start; at < sh->end; at += kShdrSize) elf.sections.push_back(read_section(file, at));
  if (elf.sections.empty() || elf.sections[0].type != kShtNull)
    return fail(LoadErrc::InvalidSectionHeader, sh->start, "first section is not SHT_NULL");
  if (auto ok = check_segments(file, elf); !ok) return ok.error();
  if (auto ok = check_sections(file, elf, *ph, *sh); !ok) return ok.error();
  if (elf.h.e_shstrndx != 0) elf.names = elf.sections[elf.h.e_shstrndx];
  if (auto ok = find_named_sections(file, elf); !ok) return ok.error();
  if (auto ok = parse_dynamic(file, elf); !ok) return ok.error();
  return elf;
}

// ---- Executable::validate (ElfError codes) --------------------------------------

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// The first section named `name`.
std::optional<size_t> find_section(const Bytes& file, const Elf& elf, std::string_view name) {
  for (size_t i = 0; i < elf.sections.size(); ++i) {
    auto n = section_name(file, elf, elf.sections[i].name);
    if (n && *n == name) return i;
  }
  return std::nullopt;
}

Expected<size_t> validate(const Bytes& file, const Elf& elf) {
  using namespace ehdr_off;
  const FileHeader& h = elf.h;
  if (h.e_ident[kClass] != 2) return fail(LoadErrc::WrongClass, kClass);
  if (h.e_ident[kData] != 1) return fail(LoadErrc::WrongEndianess, kData);
  if (h.e_ident[kOsabi] != 0) return fail(LoadErrc::WrongAbi, kOsabi);
  if (h.e_machine != kEmBpf && h.e_machine != kEmSbpf) return fail(LoadErrc::WrongMachine, kMachine);
  if (h.e_type != kEtDyn) return fail(LoadErrc::WrongType, kType);

  size_t texts = 0;
  for (const auto& s : elf.sections) {
    auto name = section_name(file, elf, s.name);
    if (name && *name == ".text") ++texts;
  }
  if (texts != 1) return fail(LoadErrc::NotOneTextSection, kShoff, std::to_string(texts) + " .text sections");

  for (const auto& s : elf.sections) {
    auto name = section_name(file, elf, s.name);
    if (!name) continue;
    bool data = starts_with(*name, ".data") && !starts_with(*name, ".data.rel");
    if (starts_with(*name, ".bss") || (s.is_writable() && data))
      return fail(LoadErrc::WritableSectionNotSupported, s.at, std::string(*name));
  }
  // Every section's bytes, NOBITS included, must lie in the file.
  for (const auto& s : elf.sections) {
    auto end = checked_add(s.offset, s.size);
    if (!end || !file.has({s.offset, *end})) return fail(LoadErrc::ValueOutOfBounds, s.at, "section outside the file");
  }
  size_t text = *find_section(file, elf, ".text");
  if (!elf.sections[text].vm_range().contains(h.e_entry))
    return fail(LoadErrc::EntrypointOutOfBounds, kEntry, "e_entry " + hex(h.e_entry));
  return text;
}

// Everything up to relocation: parse, validate, check the text section.
struct Checked {
  Elf elf;
  size_t text = 0;
  ElfInfo info;
};

Expected<Checked> check(const Bytes& file, const LoaderConfig& config, uint32_t version) {
  auto elf = parse_elf64(file);
  if (!elf) return parser_to_elf_error(elf.error());
  auto text = validate(file, *elf);
  if (!text) return text.error();
  const RawSection& t = elf->sections[*text];
  uint64_t text_vaddr = sat_add(t.addr, kProgramStart);
  if ((config.deploy_checks && t.addr != t.offset) || text_vaddr > kStackStart)
    return fail(LoadErrc::ValueOutOfBounds, t.at, ".text address " + hex(t.addr) + " at file offset " + hex(t.offset));

  Checked out{std::move(*elf), *text, {}};
  ElfInfo& info = out.info;
  info.sbpf_version = version;
  info.machine = out.elf.h.e_machine;
  info.text_offset = t.offset;
  info.text_vaddr = text_vaddr;
  info.text_size = t.file_range().size();
  info.text_count = info.text_size / kInsnSize;
  info.rodata_size = file.size();  // an upper bound until load() builds the image
  info.entry_pc = sat_sub(out.elf.h.e_entry, t.addr) / kInsnSize;
  info.shndx_text = static_cast<int32_t>(*text);
  info.shndx_symtab = out.elf.symtab;
  info.shndx_strtab = out.elf.strtab;
  info.shndx_dyn = out.elf.shndx_dyn;
  info.shndx_dynstr = out.elf.dynstr;
  info.phndx_dyn = out.elf.phndx_dyn;
  if (out.elf.dynstr >= 0) {
    info.dynstr_offset = out.elf.sections[out.elf.dynstr].offset;
    info.dynstr_size = out.elf.sections[out.elf.dynstr].size;
  }
  return out;
}

// ---- relocate ----------------------------------------------------------------------

// The file being relocated, with bounded reads and writes.
class Image {
 public:
  explicit Image(std::span<const uint8_t> file) : bytes_(file.begin(), file.end()) {}
  bool has(uint64_t offset, uint64_t length) const { return fits(offset, length, bytes_.size()); }
  // A little-endian field of `width` (at most 8) bytes at a checked offset.
  uint64_t read(uint64_t offset, unsigned width) const {
    uint64_t value = 0;
    std::memcpy(&value, bytes_.data() + offset, width);
    return value;
  }
  void write(uint64_t offset, uint64_t value, unsigned width) { std::memcpy(bytes_.data() + offset, &value, width); }
  std::span<const uint8_t> span(Range r) const {
    return ByteReader(bytes_).span(r.start, r.size()).value_or(std::span<const uint8_t>());
  }

 private:
  std::vector<uint8_t> bytes_;
};

class Relocator {
 public:
  Relocator(const Bytes& file, const Checked& c, const LoaderConfig& config, Registry& registry, Program& program)
      : file_(file),
        elf_(c.elf),
        text_(c.elf.sections[c.text]),
        config_(config),
        registry_(registry),
        program_(program),
        image_(file.slice({0, file.size()})) {}

  Expected<void> run();
  Image& image() { return image_; }

 private:
  Expected<void> relative_calls();
  Expected<void> relocation(uint64_t at);
  Expected<void> reloc_64_64(uint64_t at, uint64_t r_offset, uint32_t sym);
  Expected<void> reloc_relative(uint64_t at, uint64_t r_offset);
  Expected<void> reloc_64_32(uint64_t at, uint64_t r_offset, uint32_t sym);
  Expected<void> symbol_labels();
  Expected<RawSymbol> dynamic_symbol(uint32_t index, uint64_t at) const;
  Expected<void> put(uint64_t offset, uint64_t value, unsigned width, uint64_t at);
  Expected<uint64_t> get(uint64_t offset, unsigned width, uint64_t at) const;

  const Bytes& file_;
  const Elf& elf_;
  const RawSection& text_;
  const LoaderConfig& config_;
  Registry& registry_;
  Program& program_;
  Image image_;
};

Expected<void> Relocator::put(uint64_t offset, uint64_t value, unsigned width, uint64_t at) {
  if (!image_.has(offset, width)) return fail(LoadErrc::ValueOutOfBounds, at, "write at " + hex(offset));
  image_.write(offset, value, width);
  return {};
}

Expected<uint64_t> Relocator::get(uint64_t offset, unsigned width, uint64_t at) const {
  if (!image_.has(offset, width)) return fail(LoadErrc::ValueOutOfBounds, at, "read at " + hex(offset));
  return image_.read(offset, width);
}

// `call imm` with imm != -1 is a pc-relative call: the target is registered
// and the immediate becomes its key.
Expected<void> Relocator::relative_calls() {
  const Range r = text_.file_range();
  if (!image_.has(r.start, r.size()) || r.end < r.start) return fail(LoadErrc::ValueOutOfBounds, text_.at);
  const auto count = static_cast<int64_t>(r.size() / kInsnSize);
  for (int64_t i = 0; i < count; ++i) {
    uint64_t at = r.start + static_cast<uint64_t>(i) * kInsnSize;
    auto imm = static_cast<int32_t>(image_.read(at + 4, 4));
    if (image_.read(at, 1) != isa::info(isa::Op::call).code || imm == -1) continue;
    int64_t target = i + 1 + imm;
    if (target < 0 || target >= count) {
      Error e = fail(LoadErrc::RelativeJumpOutOfBounds, at, "at instruction #" + std::to_string(i));
      e.location.pc = static_cast<uint32_t>(i);
      return e;
    }
    std::string name = config_.symbol_labels ? "function_" + std::to_string(target) : std::string();
    auto key = registry_.register_hashed(name, static_cast<uint64_t>(target), at);
    if (!key) return key.error();
    image_.write(at + 4, *key, 4);
  }
  return {};
}

Expected<RawSymbol> Relocator::dynamic_symbol(uint32_t index, uint64_t at) const {
  if (elf_.dynsym < 0)
    return fail(LoadErrc::UnknownSymbol, at, "dynamic symbol " + std::to_string(index) + ": no .dynsym");
  const RawSection& s = elf_.sections[elf_.dynsym];
  if (index >= s.size / kSymSize)
    return fail(LoadErrc::UnknownSymbol, at, "dynamic symbol " + std::to_string(index) + " is past the end of .dynsym");
  return read_symbol(file_, s.offset + uint64_t{index} * kSymSize);
}

Expected<void> Relocator::reloc_64_64(uint64_t at, uint64_t r_offset, uint32_t sym) {
  const uint64_t imm = sat_add(r_offset, 4);
  auto refd = get(imm, 4, at);
  if (!refd) return refd.error();
  auto symbol = dynamic_symbol(sym, at);
  if (!symbol) return symbol.error();
  uint64_t addr = sat_add(symbol->value, *refd);
  // Addresses are rooted at the read-only image, 1 << 32.
  if (addr < kProgramStart) addr += kProgramStart;
  if (auto ok = put(imm, addr & 0xffffffff, 4, at); !ok) return ok;
  return put(sat_add(imm, kInsnSize), addr >> 32, 4, at);
}

Expected<void> Relocator::reloc_relative(uint64_t at, uint64_t r_offset) {
  const uint64_t imm = sat_add(r_offset, 4);
  if (text_.file_range().contains(r_offset)) {
    // An lddw: the address is split over the two immediates.
    const uint64_t imm_high = sat_add(sat_add(r_offset, kInsnSize), 4);
    auto low = get(imm, 4, at);
    if (!low) return low.error();
    auto high = get(imm_high, 4, at);
    if (!high) return high.error();
    uint64_t addr = (*high << 32) | *low;
    if (addr == 0) return fail(LoadErrc::InvalidVirtualAddress, at, hex(addr));
    if (addr < kProgramStart) addr += kProgramStart;
    if (auto ok = put(imm, addr & 0xffffffff, 4, at); !ok) return ok;
    return put(imm_high, addr >> 32, 4, at);
  }
  // Data outside .text: old toolchains stored only the low 32 bits, shifted
  // up by 32, so the value is read at +4 and written back as a u64.
  auto low = get(imm, 4, at);
  if (!low) return low.error();
  return put(r_offset, kProgramStart + *low, 8, at);
}

Expected<void> Relocator::reloc_64_32(uint64_t at, uint64_t r_offset, uint32_t sym) {
  const uint64_t imm = sat_add(r_offset, 4);
  auto symbol = dynamic_symbol(sym, at);
  if (!symbol) return symbol.error();
  std::optional<std::string_view> name;
  if (elf_.dynstr >= 0) {
    if (auto n = string_in_section(file_, elf_.sections[elf_.dynstr], symbol->name, kDynSymbolNameMax)) name = *n;
  }
  if (!name)
    return fail(LoadErrc::UnknownSymbol, at,
                "the name at .dynstr offset " + std::to_string(symbol->name) +
                    " is missing, unterminated or longer than " + std::to_string(kDynSymbolNameMax) + " bytes");
  uint32_t key = 0;
  if (symbol->is_function() && symbol->value != 0) {
    // A defined function: an internal call.
    if (!text_.vm_range().contains(symbol->value))
      return fail(LoadErrc::ValueOutOfBounds, at, "call target " + hex(symbol->value) + " outside .text");
    auto k = registry_.register_hashed(*name, (symbol->value - text_.addr) / kInsnSize, at);
    if (!k) return k.error();
    key = *k;
  } else {
    key = isa::murmur3_32(*name);
    if (config_.deploy_checks && !registry_.is_syscall(key)) {
      Error e = fail(LoadErrc::UnresolvedSymbol, r_offset,
                     std::string(*name) + " at instruction #" + std::to_string(r_offset / kInsnSize) +
                         " (ELF file offset " + hex(r_offset) + ")");
      if (r_offset / kInsnSize <= UINT32_MAX) e.location.pc = static_cast<uint32_t>(r_offset / kInsnSize);
      return e;
    }
    program_.syscalls_used[key] = std::string(*name);
  }
  return put(imm, key, 4, at);
}

Expected<void> Relocator::relocation(uint64_t at) {
  const Rel rel = file_.get<Rel>(at);
  const uint64_t r_offset = rel.r_offset;
  const uint32_t type = rel.type(), sym = rel.symbol();
  switch (type) {
    case kRBpf64_64: return reloc_64_64(at, r_offset, sym);
    case kRBpf64Relative: return reloc_relative(at, r_offset);
    case kRBpf64_32: return reloc_64_32(at, r_offset, sym);
    default: return fail(LoadErrc::UnknownRelocation, at, std::to_string(type));
  }
}

// With labels on, every function of .symtab is registered under its name.
Expected<void> Relocator::symbol_labels() {
  if (!config_.symbol_labels || elf_.symtab < 0) return {};
  const RawSection& s = elf_.sections[elf_.symtab];
  auto end = checked_add(s.offset, s.size);
  if (s.type != kShtSymtab && s.type != kShtDynsym) return {};
  if (!end || !table_at(file_, {s.offset, *end}, kSymSize, s.at)) return {};
  for (uint64_t at = s.offset; at < *end; at += kSymSize) {
    RawSymbol sym = read_symbol(file_, at);
    // STT_FUNC with binding LOCAL or GLOBAL (Rust: `st_info & 0xef == STT_FUNC`).
    if (!sym.is_function() || (sym.binding() != kStbLocal && sym.binding() != kStbGlobal)) continue;
    if (!text_.vm_range().contains(sym.value))
      return fail(LoadErrc::ValueOutOfBounds, at, "symbol " + hex(sym.value) + " outside .text");
    uint64_t pc = (sym.value - text_.addr) / kInsnSize;
    if (elf_.strtab < 0) return fail(LoadErrc::UnknownSymbol, at, "no .strtab for symbol names");
    auto name = symbol_label(file_, elf_.sections[elf_.strtab], sym.name);
    if (!name)
      return fail(LoadErrc::UnknownSymbol, at,
                  "the name at .strtab offset " + std::to_string(sym.name) + " is missing or unterminated");
    if (auto key = registry_.register_hashed(*name, pc, at); !key) return key.error();
  }
  return {};
}

Expected<void> Relocator::run() {
  if (auto ok = relative_calls(); !ok) return ok;
  if (elf_.relocations) {
    for (uint64_t at = elf_.relocations->start; at < elf_.relocations->end; at += kRelSize)
      if (auto ok = relocation(at); !ok) return ok;
  }
  return symbol_labels();
}

// ---- parse_ro_sections -----------------------------------------------------------------

bool is_ro_section(std::string_view name) {
  return name == ".text" || name == ".rodata" || name == ".data.rel.ro" || name == ".eh_frame";
}

// The read-only image as the VM maps it at 1 << 32: [0, highest address)
// with every read-only section copied to its address and the rest zero.
Expected<std::vector<uint8_t>> ro_image(const Bytes& file, const Elf& elf, const Image& image,
                                        const LoaderConfig& config) {
  uint64_t lowest = UINT64_MAX, highest = 0, fill = 0;
  bool invalid_offsets = false;
  std::vector<const RawSection*> ro;
  for (const auto& s : elf.sections) {
    auto name = section_name(file, elf, s.name);
    if (!name || !is_ro_section(*name)) continue;
    if (s.addr != s.offset) invalid_offsets = true;
    if ((config.deploy_checks && invalid_offsets) || sat_add(s.addr, kRegionSize) > kStackStart)
      return fail(LoadErrc::ValueOutOfBounds, s.at, std::string(*name) + " address " + hex(s.addr));
    const Range r = s.file_range();
    if (!file.has(r)) return fail(LoadErrc::ValueOutOfBounds, s.at);
    lowest = std::min(lowest, s.addr);
    highest = std::max(highest, sat_add(s.addr, r.size()));
    fill = sat_add(fill, r.size());
    ro.push_back(&s);
  }
  // Overlapping read-only sections (the check ignores gaps).
  if (config.deploy_checks && sat_add(lowest, fill) > highest)
    return fail(LoadErrc::ValueOutOfBounds, elf.h.e_shoff, "read-only sections overlap");
  if (highest > file.size()) return fail(LoadErrc::ValueOutOfBounds, elf.h.e_shoff, "read-only image beyond the file");
  std::vector<uint8_t> out(highest, 0);
  for (const RawSection* s : ro) {
    auto bytes = image.span(s->file_range());
    std::copy(bytes.begin(), bytes.end(), out.begin() + static_cast<std::ptrdiff_t>(s->addr));
  }
  return out;
}

}  // namespace

Expected<ElfInfo> peek_lenient(const Bytes& file, const LoaderConfig& config, uint32_t version) {
  auto checked = check(file, config, version);
  if (!checked) return checked.error();
  return checked->info;
}

Expected<Program> load_lenient(const Bytes& file, const LoaderConfig& config, uint32_t version) {
  auto checked = check(file, config, version);
  if (!checked) return checked.error();
  const RawSection& text = checked->elf.sections[checked->text];
  Program program;
  Registry registry(config);
  Relocator relocator(file, *checked, config, registry, program);
  if (auto ok = relocator.run(); !ok) return ok.error();

  uint64_t offset = sat_sub(checked->elf.h.e_entry, text.addr);
  if (offset % kInsnSize != 0) return fail(LoadErrc::InvalidEntrypoint, ehdr_off::kEntry, hex(checked->elf.h.e_entry));
  const uint64_t entry_pc = offset / kInsnSize;
  registry.unregister(isa::murmur3_32(std::string_view("entrypoint")));
  if (auto key = registry.register_hashed("entrypoint", entry_pc, ehdr_off::kEntry); !key) return key.error();

  auto rodata = ro_image(file, checked->elf, relocator.image(), config);
  if (!rodata) return rodata.error();

  program.info = checked->info;
  program.info.rodata_size = rodata->size();
  program.info.entry_pc = entry_pc;
  program.rodata = std::move(*rodata);
  program.rodata_vaddr = kProgramStart;
  program.text = slots_of(relocator.image().span(text.file_range()));
  program.text_vaddr = checked->info.text_vaddr;
  program.entry_pc = entry_pc;
  program.functions = std::move(registry.functions());
  const Elf& elf = checked->elf;
  if (elf.symtab >= 0 && elf.strtab >= 0)
    read_symbol_names(file, elf.sections[elf.symtab], elf.sections[elf.strtab], text.addr, program.text.size(),
                      program.symbol_names);
  program.calldests.assign(program.text.size(), false);
  for (const auto& [key, function] : program.functions)
    if (function.pc < program.calldests.size()) program.calldests[function.pc] = true;
  return program;
}

}  // namespace bpfkit::elf::sbpf::detail
