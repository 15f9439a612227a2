// The sBPF loader: version dispatch, shared helpers, and the strict (v3+)
// parser. The lenient (v0..v2) parser lives in sbpf_lenient.cpp.
//
// Behaviour follows solana-sbpf's `Executable::load` (and Firedancer's
// fd_sbpf_loader, which mirrors it): the same checks in the same order, so
// that the same error comes out for the same file.
#include <algorithm>
#include <array>
#include <cstring>

#include "sbpf_image.hpp"

namespace bpfkit::elf::sbpf {

namespace {

// The broad class a CLI prints for each loader error.
Errc category(LoadErrc code) {
  switch (code) {
    case LoadErrc::OutOfBounds: return Errc::Truncated;
    case LoadErrc::ValueOutOfBounds:
    case LoadErrc::EntrypointOutOfBounds:
    case LoadErrc::InvalidEntrypoint:
    case LoadErrc::RelativeJumpOutOfBounds:
    case LoadErrc::AddressOutsideLoadableSection:
    case LoadErrc::InvalidVirtualAddress: return Errc::OutOfRange;
    case LoadErrc::UnsupportedSBPFVersion:
    case LoadErrc::WritableSectionNotSupported:
    case LoadErrc::UnknownRelocation: return Errc::Unsupported;
    case LoadErrc::UnresolvedSymbol: return Errc::UnknownHelper;
    default: return Errc::BadHeader;
  }
}

}  // namespace

namespace detail {

std::optional<uint64_t> magic_fault(const FileHeader& h) { return bad_magic_byte(h); }

std::optional<uint64_t> ident_fault(const FileHeader& h) {
  const IdentField* bad = bad_ident_field(h);
  return bad ? std::optional<uint64_t>(bad->offset) : std::nullopt;
}

ProgramHeader read_program_header(const Bytes& file, uint64_t at) {
  const Phdr p = file.get<Phdr>(at);
  return {at, p.p_type, p.p_flags, p.p_offset, p.p_vaddr, p.p_paddr, p.p_filesz, p.p_memsz};
}

RawSection read_section(const Bytes& file, uint64_t at) {
  const Shdr s = file.get<Shdr>(at);
  return {at, s.sh_name, s.sh_type, s.sh_flags, s.sh_addr, s.sh_offset, s.sh_size};
}

RawSymbol read_symbol(const Bytes& file, uint64_t at) {
  const Sym s = file.get<Sym>(at);
  return {at, s.st_name, s.st_info, s.st_value};
}

Error fail(LoadErrc code, uint64_t offset, std::string detail) {
  std::string message(error_text(code));
  if (!detail.empty()) message += ": " + detail;
  Location where;
  where.offset = offset;
  return make_error(category(code), code, std::move(message), std::move(where));
}

LoadErrc code_of(const Error& error) {
  return error.domain == Domain::SbpfLoader ? static_cast<LoadErrc>(error.detail) : LoadErrc::FailedToParse;
}

Error parser_to_elf_error(Error error) {
  switch (code_of(error)) {
    case LoadErrc::InvalidProgramHeader: return error;
    case LoadErrc::OutOfBounds: {
      error.set_detail(LoadErrc::ValueOutOfBounds);
      error.code = category(LoadErrc::ValueOutOfBounds);
      return error;
    }
    default: {
      // The parser's own text survives in the message, as Rust's
      // FailedToParse(String) keeps it.
      error.message = std::string(error_text(LoadErrc::FailedToParse)) + ": " + error.message;
      error.set_detail(LoadErrc::FailedToParse);
      error.code = category(LoadErrc::FailedToParse);
      return error;
    }
  }
}

Expected<Range> table_at(const Bytes& file, Range r, uint64_t entry_size, uint64_t where) {
  if (r.size() % entry_size != 0) return fail(LoadErrc::InvalidSize, where);
  if (!file.has(r)) return fail(LoadErrc::OutOfBounds, where);
  // The Rust parser casts in place: entries must be 8-byte aligned.
  if (r.start % 8 != 0) return fail(LoadErrc::InvalidAlignment, where);
  return r;
}

Expected<std::string_view> string_in_section(const Bytes& file, const RawSection& strtab, uint32_t offset_in_section,
                                             uint64_t max_length) {
  if (strtab.type != kShtStrtab) return fail(LoadErrc::InvalidSectionHeader, strtab.at);
  auto start = checked_add(strtab.offset, offset_in_section);
  auto section_end = checked_add(strtab.offset, strtab.size);
  if (!start || !section_end) return fail(LoadErrc::OutOfBounds, strtab.at);
  auto limit = checked_add(*start, max_length);
  if (!limit) return fail(LoadErrc::OutOfBounds, strtab.at);
  Range r{*start, std::min(*section_end, *limit)};
  if (!file.has(r)) return fail(LoadErrc::OutOfBounds, strtab.at);
  auto bytes = file.slice(r);
  const void* nul = bytes.empty() ? nullptr : std::memchr(bytes.data(), 0, bytes.size());
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (nul == nullptr) {
    std::string detail(1, '`');
    detail.append(text).append("` is longer than `").append(std::to_string(max_length)).append("` bytes");
    return fail(LoadErrc::StringTooLong, r.start, std::move(detail));
  }
  return text.substr(0, static_cast<const uint8_t*>(nul) - bytes.data());
}

std::optional<std::string_view> symbol_label(const Bytes& file, const RawSection& strtab, uint32_t offset) {
  auto name = string_in_section(file, strtab, offset, kSymbolLabelMax);
  if (name) return *name;
  if (code_of(name.error()) != LoadErrc::StringTooLong) return std::nullopt;
  // A longer name keeps its first bytes as the label.
  auto bytes = file.slice({strtab.offset + offset, strtab.offset + offset + kSymbolLabelMax - 1});
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void read_symbol_names(const Bytes& file, const RawSection& symtab, const RawSection& strtab, uint64_t text_start,
                       uint64_t text_count, std::map<uint64_t, std::string>& names) {
  auto end = checked_add(symtab.offset, symtab.size);
  if (!end || !table_at(file, {symtab.offset, *end}, kSymSize, symtab.at)) return;
  for (uint64_t at = symtab.offset; at < *end; at += kSymSize) {
    RawSymbol sym = read_symbol(file, at);
    if (!sym.is_function() || sym.value < text_start) continue;
    const uint64_t pc = (sym.value - text_start) / kInsnSize;
    if (pc >= text_count || names.contains(pc)) continue;
    auto name = symbol_label(file, strtab, sym.name);
    if (name && !name->empty()) names.emplace(pc, std::string(*name));
  }
}

Registry::Registry(const LoaderConfig& config) : config_(config) {
  for (const auto& name : config.syscalls) syscall_keys_.push_back(isa::murmur3_32(name));
  std::sort(syscall_keys_.begin(), syscall_keys_.end());
}

bool Registry::is_syscall(uint32_t key) const {
  return std::binary_search(syscall_keys_.begin(), syscall_keys_.end(), key);
}

Expected<void> Registry::register_key(uint32_t key, std::string_view name, uint64_t pc, uint64_t where) {
  auto [it, inserted] = functions_.try_emplace(key);
  if (inserted) {
    it->second.pc = pc;
    if (config_.symbol_labels || name == "entrypoint") it->second.name = std::string(name);
    return {};
  }
  if (it->second.pc != pc) return fail(LoadErrc::SymbolHashCollision, where, hex(key));
  return {};
}

Expected<uint32_t> Registry::register_hashed(std::string_view name, uint64_t pc, uint64_t where) {
  uint32_t key = name == "entrypoint" ? isa::murmur3_32(std::string_view("entrypoint")) : isa::sbpf_pc_key(pc);
  if (is_syscall(key)) return fail(LoadErrc::SymbolHashCollision, where, hex(key));
  if (auto ok = register_key(key, name, pc, where); !ok) return ok.error();
  return key;
}

std::vector<isa::Slot> slots_of(std::span<const uint8_t> bytes) {
  return ByteReader(bytes).read_array<isa::Slot>(0, bytes.size() / kInsnSize).value_or(std::vector<isa::Slot>());
}

}  // namespace detail

namespace {

using namespace detail;

// ---- Version ---------------------------------------------------------------

// e_flags -> version, as `Executable::load` resolves it: 0..4 name
// themselves, anything else is reserved (never enabled).
Expected<uint32_t> resolve_version(const Bytes& file, const LoaderConfig& config) {
  if (!file.has(ehdr_off::kFlags, 4)) return fail(LoadErrc::ValueOutOfBounds, ehdr_off::kFlags, "file too short");
  const uint32_t flags = file.u32(ehdr_off::kFlags);
  if (flags > 4 || flags < config.min_version || flags > config.max_version)
    return fail(LoadErrc::UnsupportedSBPFVersion, ehdr_off::kFlags, "e_flags " + std::to_string(flags));
  return flags;
}

// ---- Strict parser (v3+) ----------------------------------------------------

// One expected segment: read-only data (optional, first) then bytecode.
struct ExpectedSegment {
  uint32_t flags;
  uint64_t vaddr;
};
constexpr ExpectedSegment kRodataSegment{kPfR, 0};
constexpr ExpectedSegment kBytecodeSegment{kPfX, kProgramStart};

// The first header field the strict parser rejects, or nullopt. Fields it
// does not look at: e_type, e_entry (checked later), e_shoff, e_flags, and
// the section header fields e_shentsize, e_shnum, e_shstrndx (Agave's and
// Firedancer's strict parsers accept a file without section headers).
std::optional<uint64_t> strict_header_fault(const FileHeader& h, uint64_t ph_end, uint64_t file_size) {
  using namespace ehdr_off;
  if (auto bad = magic_fault(h)) return bad;
  const std::pair<bool, uint64_t> checks[] = {
      {h.e_ident[kOsabi] != kElfOsabiNone, kOsabi},
      {h.e_ident[kAbiVersion] != 0, kAbiVersion},
      {h.e_machine != kEmBpf, kMachine},
      {h.e_version != 1, kVersion},
      {h.e_phoff != kEhdrSize, kPhoff},
      {h.e_ehsize != kEhdrSize, kEhsize},
      {h.e_phentsize != kPhdrSize, kPhentsize},
      {h.e_phnum == 0, kPhnum},
      {ph_end >= file_size, kPhnum},
  };
  for (unsigned i = kPad; i < kEiNident; ++i)
    if (h.e_ident[i] != 0) return i;
  if (auto bad = ident_fault(h)) return bad;
  for (const auto& [bad, offset] : checks)
    if (bad) return offset;
  return std::nullopt;
}

// The checks every strict segment passes; `expected_offset` is where it must
// start (segments follow the header table back to back).
bool segment_ok(const ProgramHeader& p, ExpectedSegment want, uint64_t expected_offset, uint64_t file_size) {
  return p.type == kPtLoad && p.flags == want.flags && p.offset == expected_offset && p.offset < file_size &&
         p.offset % kInsnSize == 0 && p.vaddr == want.vaddr && p.paddr == want.vaddr && p.filesz == p.memsz &&
         p.filesz <= file_size - p.offset && p.filesz % kInsnSize == 0 && p.memsz < kRegionSize;
}

struct StrictLayout {
  ElfInfo info;
  std::optional<ProgramHeader> rodata;
  ProgramHeader bytecode;
};

Expected<StrictLayout> parse_strict(const Bytes& file, uint32_t version) {
  if (file.size() < kEhdrSize) return fail(LoadErrc::OutOfBounds, 0, "file shorter than the ELF header");
  FileHeader h = read_file_header(file);
  uint64_t ph_end = sat_add(kEhdrSize, sat_mul(kPhdrSize, h.e_phnum));
  if (auto bad = strict_header_fault(h, ph_end, file.size())) return fail(LoadErrc::InvalidFileHeader, *bad);

  StrictLayout layout;
  // Read-only data comes first when present: an empty one may be left out.
  ProgramHeader first = read_program_header(file, kEhdrSize);
  bool has_rodata = first.flags == kPfR;
  unsigned needed = has_rodata ? 2 : 1;
  if (h.e_phnum < needed) return fail(LoadErrc::InvalidProgramHeader, kEhdrSize, "no bytecode segment");
  uint64_t expected_offset = ph_end;
  for (unsigned i = 0; i < needed; ++i) {
    ProgramHeader p = read_program_header(file, kEhdrSize + i * kPhdrSize);
    ExpectedSegment want = (has_rodata && i == 0) ? kRodataSegment : kBytecodeSegment;
    if (!segment_ok(p, want, expected_offset, file.size())) return fail(LoadErrc::InvalidProgramHeader, p.at);
    expected_offset = sat_add(expected_offset, p.filesz);
    if (want.flags == kPfR) {
      layout.rodata = p;
      layout.info.phndx_rodata = static_cast<int32_t>(i);
    } else {
      layout.bytecode = p;
      layout.info.phndx_text = static_cast<int32_t>(i);
    }
  }

  const ProgramHeader& code = layout.bytecode;
  // The last byte of the entry instruction must be inside the bytecode.
  if (!code.vm_range().contains(sat_sub(sat_add(h.e_entry, kInsnSize), 1)) || h.e_entry % kInsnSize != 0)
    return fail(LoadErrc::InvalidFileHeader, ehdr_off::kEntry, "entrypoint outside the bytecode");

  ElfInfo& info = layout.info;
  info.sbpf_version = version;
  info.machine = h.e_machine;
  info.text_offset = code.offset;
  info.text_vaddr = code.vaddr;
  info.text_size = code.memsz;
  info.text_count = code.memsz / kInsnSize;
  info.rodata_size = layout.rodata ? layout.rodata->memsz : 0;
  info.entry_pc = (h.e_entry - code.vaddr) / kInsnSize;
  return layout;
}

// Function symbols of a v3 file: display names always; with labels on, as
// Agave's strict parser reads them, call destinations and labels too. The
// strict parser needs no section headers, so anything unreadable is skipped.
void strict_symbols(const Bytes& file, const FileHeader& h, uint64_t text_vaddr, uint64_t text_count,
                    const LoaderConfig& config, Program& program) {
  Range ph{kEhdrSize, sat_add(kEhdrSize, sat_mul(kPhdrSize, h.e_phnum))};
  auto sh_end = checked_add(h.e_shoff, uint64_t{h.e_shnum} * kShdrSize);
  if (!sh_end || h.e_shstrndx == 0 || h.e_shstrndx >= h.e_shnum || h.e_shentsize != kShdrSize) return;
  Range sh{h.e_shoff, *sh_end};
  if (overlaps({0, kEhdrSize}, sh) || overlaps(ph, sh) || !table_at(file, sh, kShdrSize, 0)) return;
  RawSection names = read_section(file, h.e_shoff + uint64_t{h.e_shstrndx} * kShdrSize);
  std::optional<RawSection> symtab, strtab;
  for (uint64_t i = 0; i < h.e_shnum; ++i) {
    RawSection s = read_section(file, h.e_shoff + i * kShdrSize);
    auto name = string_in_section(file, names, s.name, 64);
    if (!name) continue;
    if (*name == ".symtab") symtab = s;
    if (*name == ".strtab") strtab = s;
  }
  if (!symtab || !strtab) return;
  read_symbol_names(file, *symtab, *strtab, text_vaddr, text_count, program.symbol_names);
  if (!config.symbol_labels) return;
  auto table = table_at(file, {symtab->offset, sat_add(symtab->offset, symtab->size)}, kSymSize, symtab->at);
  if (!table) return;
  for (uint64_t at = table->start; at < table->end; at += kSymSize) {
    RawSymbol sym = read_symbol(file, at);
    // Rust tests `st_info & STT_FUNC`, a bit test rather than the type.
    if ((sym.info & kSttFunc) == 0) continue;
    uint64_t pc = sat_sub(sym.value, text_vaddr) / kInsnSize;
    if (pc < text_count) program.calldests[pc] = true;
    auto name = symbol_label(file, *strtab, sym.name);
    if (name && program.functions.count(static_cast<uint32_t>(pc)) == 0)
      program.functions[static_cast<uint32_t>(pc)] = Program::Function{pc, std::string(*name)};
  }
}

// v3 internal calls are pc-relative (`call` with src 1): their targets are
// call destinations too.
void mark_relative_calls(Program& program) {
  const auto count = static_cast<int64_t>(program.text.size());
  for (int64_t pc = 0; pc < count; ++pc) {
    const isa::Slot& s = program.text[pc];
    if (isa::lookup(s) != isa::Op::call_local) continue;
    int64_t target = pc + 1 + s.imm;
    if (target >= 0 && target < count) program.calldests[target] = true;
  }
}

Expected<Program> load_strict(const Bytes& file, const LoaderConfig& config, uint32_t version) {
  auto layout = parse_strict(file, version);
  if (!layout) return layout.error();
  Program program;
  program.info = layout->info;
  if (layout->rodata) {
    auto bytes = file.slice({layout->rodata->offset, layout->rodata->offset + layout->rodata->filesz});
    program.rodata.assign(bytes.begin(), bytes.end());
  }
  program.rodata_vaddr = 0;
  const ProgramHeader& code = layout->bytecode;
  program.text = slots_of(file.slice({code.offset, code.offset + code.filesz}));
  program.text_vaddr = code.vaddr;
  program.entry_pc = program.info.entry_pc;
  program.calldests.assign(program.text.size(), false);
  if (program.entry_pc < program.calldests.size()) program.calldests[program.entry_pc] = true;
  strict_symbols(file, read_file_header(file), code.vaddr, program.text.size(), config, program);
  mark_relative_calls(program);
  return program;
}

}  // namespace

Expected<ElfInfo> peek(std::span<const uint8_t> bytes, const LoaderConfig& config) {
  Bytes file(bytes);
  auto version = resolve_version(file, config);
  if (!version) return version.error();
  if (*version >= 3) {
    auto layout = parse_strict(file, *version);
    if (!layout) return layout.error();
    return layout->info;
  }
  return peek_lenient(file, config, *version);
}

Expected<Program> load(std::span<const uint8_t> bytes, const LoaderConfig& config) {
  Bytes file(bytes);
  auto version = resolve_version(file, config);
  if (!version) return version.error();
  if (*version >= 3) return load_strict(file, config, *version);
  return load_lenient(file, config, *version);
}

}  // namespace bpfkit::elf::sbpf
