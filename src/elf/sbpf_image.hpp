// Internals of the sBPF loader (sbpf_loader.cpp, sbpf_lenient.cpp): bounded
// little-endian reads of the raw ELF structures, saturating arithmetic as the
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

namespace bpfkit::elf::sbpf::detail {

inline constexpr uint64_t kRegionSize = uint64_t{1} << 32;  // MM_REGION_SIZE
inline constexpr uint64_t kProgramStart = kRegionSize;      // v0..v2 read-only image, v3 bytecode
inline constexpr uint64_t kStackStart = 2 * kRegionSize;
inline constexpr uint64_t kInsnSize = 8;

inline constexpr uint16_t kEmBpf = 247, kEmSbpf = 263;
inline constexpr uint16_t kEtDyn = 3;
inline constexpr uint32_t kPtLoad = 1, kPtDynamic = 2;
inline constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;
inline constexpr uint32_t kShtNull = 0, kShtSymtab = 2, kShtStrtab = 3, kShtDynamic = 6, kShtNobits = 8,
                          kShtDynsym = 11;
inline constexpr uint64_t kShfWrite = 1, kShfAlloc = 2;
inline constexpr uint8_t kOpCallImm = 0x85;

inline constexpr uint64_t kEhdrSize = 64, kPhdrSize = 56, kShdrSize = 64, kSymSize = 24, kRelSize = 16, kDynSize = 16;

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

// The file, read little-endian with every access checked.
class Bytes {
 public:
  explicit Bytes(std::span<const uint8_t> data) : data_(data) {}
  uint64_t size() const { return data_.size(); }
  bool has(uint64_t offset, uint64_t length) const { return offset <= size() && length <= size() - offset; }
  bool has(Range r) const { return r.start <= r.end && r.end <= size(); }
  // Reads `width` bytes at `offset`; 0 where out of bounds (callers check first).
  uint64_t le(uint64_t offset, unsigned width) const {
    if (!has(offset, width)) return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < width; ++i) v |= uint64_t{data_[offset + i]} << (8 * i);
    return v;
  }
  uint8_t u8(uint64_t o) const { return static_cast<uint8_t>(le(o, 1)); }
  uint16_t u16(uint64_t o) const { return static_cast<uint16_t>(le(o, 2)); }
  uint32_t u32(uint64_t o) const { return static_cast<uint32_t>(le(o, 4)); }
  uint64_t u64(uint64_t o) const { return le(o, 8); }
  std::span<const uint8_t> slice(Range r) const {
    if (!has(r)) return {};
    return data_.subspan(r.start, r.end - r.start);
  }

 private:
  std::span<const uint8_t> data_;
};

struct FileHeader {
  uint8_t ident[16] = {};
  uint16_t type = 0, machine = 0;
  uint32_t version = 0;
  uint64_t entry = 0, phoff = 0, shoff = 0;
  uint32_t flags = 0;
  uint16_t ehsize = 0, phentsize = 0, phnum = 0, shentsize = 0, shnum = 0, shstrndx = 0;
};
// Offsets of the fields, for error locations.
namespace ehdr_off {
inline constexpr uint64_t kClass = 4, kData = 5, kIdentVersion = 6, kOsabi = 7, kAbiVersion = 8, kPad = 9, kType = 16,
                          kMachine = 18, kVersion = 20, kEntry = 24, kPhoff = 32, kShoff = 40, kFlags = 48,
                          kEhsize = 52, kPhentsize = 54, kPhnum = 56, kShentsize = 58, kShnum = 60, kShstrndx = 62;
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
  bool is_function() const { return (info & 0x0f) == 2; }
};

FileHeader read_file_header(const Bytes& file);  // needs size() >= 64
// The offset of the first byte of e_ident that is not the ELF magic, or nullopt.
std::optional<uint64_t> magic_fault(const FileHeader& h);
ProgramHeader read_program_header(const Bytes& file, uint64_t at);
RawSection read_section(const Bytes& file, uint64_t at);
RawSymbol read_symbol(const Bytes& file, uint64_t at);

std::string hex(uint64_t value);

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
