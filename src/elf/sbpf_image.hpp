// Internals of the sBPF loader (sbpf_loader.cpp, sbpf_lenient.cpp): the raw
// ELF structures as the parsers see them (read through elf_format.hpp's
// records and ByteReader), saturating arithmetic as the
// Rust loader uses it, errors, and the function registry.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/elf.hpp"
#include "bpfkit/elf_format.hpp"
#include "internal.hpp"

namespace bpfkit::elf::sbpf::detail {

inline constexpr uint64_t kRegionSize = uint64_t{1} << 32;  // MM_REGION_SIZE
inline constexpr uint64_t kProgramStart = kRegionSize;      // v0..v2 read-only image, v3 bytecode
inline constexpr uint64_t kStackStart = 2 * kRegionSize;
inline constexpr uint64_t kInsnSize = sizeof(isa::Slot);

// Name length limits (including the terminating NUL) of the Rust parser:
// section names 16; dynamic symbol names 64; .symtab labels up to 255 bytes.
inline constexpr uint64_t kSectionNameMax = 16, kDynSymbolNameMax = 64, kSymbolLabelMax = 256;

inline uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r = a + b;
  return r < a ? std::numeric_limits<uint64_t>::max() : r;
}
inline uint64_t sat_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
inline uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::numeric_limits<uint64_t>::max();
  return a * b;
}
inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r = a + b;
  if (r < a) return std::nullopt;
  return r;
}

// A half-open byte range [start, end); `end < start` is possible (Rust
// ranges can be reversed) and never lies inside a file.
struct Range {
  uint64_t start = 0, end = 0;
  uint64_t size() const { return end > start ? end - start : 0; }
  bool contains(uint64_t x) const { return start <= x && x < end; }
};
// Rust's overlap rule: touching ranges and empty ones at an edge do not overlap.
inline bool overlaps(Range a, Range b) { return !(a.end <= b.start || b.end <= a.start); }

// The file, read through the shared bounded reader. A field out of bounds
// reads as zero: the parsers check each range first, in the production
// loader's order, and only then read.
class Bytes {
 public:
  explicit Bytes(std::span<const uint8_t> data) : reader_(data) {}
  uint64_t size() const { return reader_.size(); }
  bool has(uint64_t offset, uint64_t length) const { return reader_.has(offset, length); }
  bool has(Range r) const { return r.start <= r.end && r.end <= size(); }
  template <class T>
  T get(uint64_t offset) const {
    return reader_.read<T>(offset).value_or(T{});
  }
  uint8_t u8(uint64_t o) const { return get<uint8_t>(o); }
  uint32_t u32(uint64_t o) const { return get<uint32_t>(o); }
  uint64_t u64(uint64_t o) const { return get<uint64_t>(o); }
  std::span<const uint8_t> slice(Range r) const {
    if (!has(r)) return {};
    return reader_.bytes().subspan(r.start, r.end - r.start);
  }

 private:
  ByteReader reader_;
};

using FileHeader = Ehdr;
// Offsets of the header fields, for error locations.
namespace ehdr_off {
inline constexpr uint64_t kClass = kEiClass, kData = kEiData, kIdentVersion = kEiVersion, kOsabi = kEiOsabi,
                          kAbiVersion = kEiAbiversion, kPad = kEiPad, kType = offsetof(Ehdr, e_type),
                          kMachine = offsetof(Ehdr, e_machine), kVersion = offsetof(Ehdr, e_version),
                          kEntry = offsetof(Ehdr, e_entry), kPhoff = offsetof(Ehdr, e_phoff),
                          kShoff = offsetof(Ehdr, e_shoff), kFlags = offsetof(Ehdr, e_flags),
                          kEhsize = offsetof(Ehdr, e_ehsize), kPhentsize = offsetof(Ehdr, e_phentsize),
                          kPhnum = offsetof(Ehdr, e_phnum), kShentsize = offsetof(Ehdr, e_shentsize),
                          kShnum = offsetof(Ehdr, e_shnum), kShstrndx = offsetof(Ehdr, e_shstrndx);
}

struct ProgramHeader {
  uint64_t at = 0;  // file offset of this header
  uint32_t type = 0, flags = 0;
  uint64_t offset = 0, vaddr = 0, paddr = 0, filesz = 0, memsz = 0;
  Range vm_range() const { return {vaddr, sat_add(vaddr, memsz)}; }
};

struct RawSection {
  uint64_t at = 0;  // file offset of this header
  uint32_t name = 0, type = 0;
  uint64_t flags = 0, addr = 0, offset = 0, size = 0;
  // The bytes it spans in the file (empty for SHT_NOBITS), saturating like Rust.
  Range file_range() const { return type == kShtNobits ? Range{} : Range{offset, sat_add(offset, size)}; }
  Range vm_range() const { return {addr, sat_add(addr, size)}; }
  bool is_writable() const { return (flags & (kShfAlloc | kShfWrite)) == (kShfAlloc | kShfWrite); }
};

struct RawSymbol {
  uint64_t at = 0;
  uint32_t name = 0;
  uint8_t info = 0;
  uint64_t value = 0;
  uint8_t type() const { return Sym{0, info, 0, 0, 0, 0}.type(); }
  uint8_t binding() const { return Sym{0, info, 0, 0, 0, 0}.binding(); }
  bool is_function() const { return type() == kSttFunc; }
};

inline FileHeader read_file_header(const Bytes& file) { return file.get<Ehdr>(0); }  // needs size() >= 64
// The offset of the first byte of e_ident that is not the ELF magic, or nullopt.
std::optional<uint64_t> magic_fault(const FileHeader& h);
// The first of EI_CLASS, EI_DATA, EI_VERSION that is not ELFCLASS64,
// little-endian, current; both parsers check these three in this order.
std::optional<uint64_t> ident_fault(const FileHeader& h);
ProgramHeader read_program_header(const Bytes& file, uint64_t at);
RawSection read_section(const Bytes& file, uint64_t at);
RawSymbol read_symbol(const Bytes& file, uint64_t at);

using elf::detail::hex;

// An error of `code` at file offset `offset`; `detail` follows the text.
Error fail(LoadErrc code, uint64_t offset, std::string detail = {});
// The code an Error from this loader carries (via Error::name).
LoadErrc code_of(const Error& error);
// ElfParserError -> ElfError, as the lenient loader reports parser errors:
// most become FailedToParse (the parser's text kept in the message).
Error parser_to_elf_error(Error error);

// `slice_from_bytes`: a table of `entry_size` entries at `r`.
// InvalidSize, OutOfBounds or InvalidAlignment (8-byte entries) as in Rust.
Expected<Range> table_at(const Bytes& file, Range r, uint64_t entry_size, uint64_t where);

// `get_string_in_section`: the NUL-terminated string at `offset_in_section`
// of a SHT_STRTAB section, looked for within `max_length` bytes.
Expected<std::string_view> string_in_section(const Bytes& file, const RawSection& strtab, uint32_t offset_in_section,
                                             uint64_t max_length);

// A .symtab function name for labels: up to 255 bytes (longer names are
// cut there); nullopt where the string table cannot be read.
std::optional<std::string_view> symbol_label(const Bytes& file, const RawSection& strtab, uint32_t offset);

// The display names of the function symbols in `symtab` (names in
// `strtab`) that lie in the text [text_start, text_start + 8 * text_count):
// pc -> name, the first name at a pc kept. Best effort: what cannot be read
// is skipped, and nothing is registered.
void read_symbol_names(const Bytes& file, const RawSection& symtab, const RawSection& strtab, uint64_t text_start,
                       uint64_t text_count, std::map<uint64_t, std::string>& names);

// Function registry of the loaded program (FunctionRegistry in Rust): key
// -> (name, pc). Registering the same key with another pc is a collision.
class Registry {
 public:
  explicit Registry(const LoaderConfig& config);
  // register_function_hashed_legacy: key = murmur3("entrypoint") for the
  // entrypoint, else sbpf_pc_key(pc); a key that is also a syscall's collides.
  Expected<uint32_t> register_hashed(std::string_view name, uint64_t pc, uint64_t where);
  Expected<void> register_key(uint32_t key, std::string_view name, uint64_t pc, uint64_t where);
  void unregister(uint32_t key) { functions_.erase(key); }
  bool is_syscall(uint32_t key) const;
  std::unordered_map<uint32_t, Program::Function>& functions() { return functions_; }

 private:
  const LoaderConfig& config_;
  std::vector<uint32_t> syscall_keys_;  // sorted
  std::unordered_map<uint32_t, Program::Function> functions_;
};

// Loader for v0..v2 (sbpf_lenient.cpp).
Expected<ElfInfo> peek_lenient(const Bytes& file, const LoaderConfig& config, uint32_t version);
Expected<Program> load_lenient(const Bytes& file, const LoaderConfig& config, uint32_t version);

std::vector<isa::Slot> slots_of(std::span<const uint8_t> bytes);

}  // namespace bpfkit::elf::sbpf::detail
