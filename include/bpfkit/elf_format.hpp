// The ELF64 little-endian format as bpfkit reads and writes it: the gABI and
// BPF psABI constants, the on-disk records (with their exact layout, so that
// offsetof() names a field's offset for error locations), and ByteReader, the
// one bounded reader every ELF parser uses. No dependencies beyond the
// standard library: the ELF readers (module elf), the ELF writer (module asm)
// and the command line all include it.
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace bpfkit::elf {

// Records are copied byte for byte: that is ELFDATA2LSB only on a
// little-endian host.
static_assert(std::endian::native == std::endian::little, "bpfkit reads and writes ELF records as host structs");

// ---- e_ident ------------------------------------------------------------------
inline constexpr uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
inline constexpr uint64_t kEiClass = 4, kEiData = 5, kEiVersion = 6, kEiOsabi = 7, kEiAbiversion = 8, kEiPad = 9,
                          kEiNident = 16;
inline constexpr uint8_t kElfClass64 = 2, kElfData2Lsb = 1, kEvCurrent = 1, kElfOsabiNone = 0;

// ---- Header values --------------------------------------------------------------
inline constexpr uint16_t kEtRel = 1, kEtExec = 2, kEtDyn = 3;
inline constexpr uint16_t kEmBpf = 247, kEmSbpf = 263;

inline constexpr uint32_t kShtNull = 0, kShtProgbits = 1, kShtSymtab = 2, kShtStrtab = 3, kShtRela = 4, kShtHash = 5,
                          kShtDynamic = 6, kShtNote = 7, kShtNobits = 8, kShtRel = 9, kShtDynsym = 11;
inline constexpr uint64_t kShfWrite = 0x1, kShfAlloc = 0x2, kShfExecinstr = 0x4, kShfMerge = 0x10, kShfStrings = 0x20,
                          kShfInfoLink = 0x40;
inline constexpr uint16_t kShnUndef = 0, kShnLoreserve = 0xff00, kShnAbs = 0xfff1, kShnCommon = 0xfff2,
                          kShnXindex = 0xffff;

inline constexpr uint8_t kSttNotype = 0, kSttObject = 1, kSttFunc = 2, kSttSection = 3, kSttFile = 4;
inline constexpr uint8_t kStbLocal = 0, kStbGlobal = 1, kStbWeak = 2;

inline constexpr uint32_t kPtNull = 0, kPtLoad = 1, kPtDynamic = 2;
inline constexpr uint32_t kPfX = 1, kPfW = 2, kPfR = 4;

inline constexpr uint64_t kDtNull = 0, kDtSymtab = 6, kDtRel = 17, kDtRelsz = 18, kDtRelent = 19, kDtNum = 35;

// BPF relocation types (the psABI's, and sBPF's R_BPF_64_RELATIVE).
inline constexpr uint32_t kRBpfNone = 0, kRBpf64_64 = 1, kRBpfAbs64 = 2, kRBpfAbs32 = 3, kRBpfNodyld32 = 4,
                          kRBpf64Relative = 8, kRBpf64_32 = 10;

// ---- Records ----------------------------------------------------------------------
// Field names are the gABI's. Each struct has the file's layout.

struct Ehdr {
  uint8_t e_ident[16];
  uint16_t e_type, e_machine;
  uint32_t e_version;
  uint64_t e_entry, e_phoff, e_shoff;
  uint32_t e_flags;
  uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};

struct Shdr {
  uint32_t sh_name, sh_type;
  uint64_t sh_flags, sh_addr, sh_offset, sh_size;
  uint32_t sh_link, sh_info;
  uint64_t sh_addralign, sh_entsize;
};

struct Phdr {
  uint32_t p_type, p_flags;
  uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};

struct Sym {
  uint32_t st_name;
  uint8_t st_info, st_other;
  uint16_t st_shndx;
  uint64_t st_value, st_size;
  uint8_t type() const { return st_info & 0xf; }
  uint8_t binding() const { return st_info >> 4; }
};
constexpr uint8_t st_info(uint8_t binding, uint8_t type) { return static_cast<uint8_t>(binding << 4 | (type & 0xf)); }

struct Rel {
  uint64_t r_offset, r_info;
  uint32_t type() const { return static_cast<uint32_t>(r_info); }
  uint32_t symbol() const { return static_cast<uint32_t>(r_info >> 32); }
};
struct Rela {
  uint64_t r_offset, r_info;
  int64_t r_addend;
};
constexpr uint64_t r_info(uint32_t symbol, uint32_t type) { return uint64_t{symbol} << 32 | type; }

struct Dyn {
  uint64_t d_tag, d_val;
};

static_assert(sizeof(Ehdr) == 64 && sizeof(Shdr) == 64 && sizeof(Phdr) == 56 && sizeof(Sym) == 24 &&
              sizeof(Rel) == 16 && sizeof(Rela) == 24 && sizeof(Dyn) == 16);
inline constexpr uint64_t kEhdrSize = sizeof(Ehdr), kShdrSize = sizeof(Shdr), kPhdrSize = sizeof(Phdr),
                          kSymSize = sizeof(Sym), kRelSize = sizeof(Rel), kRelaSize = sizeof(Rela),
                          kDynSize = sizeof(Dyn);

// True if the bytes start with \x7fELF.
inline bool has_elf_magic(std::span<const uint8_t> bytes) {
  return bytes.size() >= 4 && std::equal(bytes.begin(), bytes.begin() + 4, kElfMagic);
}

// The e_ident fields every ELF64 little-endian reader checks, in this order,
// and the value each must have.
struct IdentField {
  uint64_t offset;
  uint8_t want;
  const char* what;  // for messages
};
inline constexpr IdentField kIdentFields[] = {{kEiClass, kElfClass64, "EI_CLASS (want 0x2, ELFCLASS64)"},
                                              {kEiData, kElfData2Lsb, "EI_DATA (want 0x1, little-endian)"},
                                              {kEiVersion, kEvCurrent, "EI_VERSION (want 0x1)"}};
// The offset of the first byte of the ELF magic that is wrong, or nullopt.
inline std::optional<uint64_t> bad_magic_byte(const Ehdr& header) {
  for (unsigned i = 0; i < 4; ++i)
    if (header.e_ident[i] != kElfMagic[i]) return i;
  return std::nullopt;
}
// The first of kIdentFields that is wrong, or null.
inline const IdentField* bad_ident_field(const Ehdr& header) {
  for (const IdentField& field : kIdentFields)
    if (header.e_ident[field.offset] != field.want) return &field;
  return nullptr;
}

// ---- ByteReader -------------------------------------------------------------------

// [offset, offset + size) inside `total` bytes, for any values (no overflow).
constexpr bool fits(uint64_t offset, uint64_t size, uint64_t total) {
  return offset <= total && size <= total - offset;
}

// A bounded view of little-endian bytes. Every read checks its range first
// (overflow-safe) and answers nullopt rather than read outside the view.
class ByteReader {
 public:
  constexpr ByteReader() = default;
  constexpr explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  bool has(uint64_t offset, uint64_t length) const { return fits(offset, length, size()); }

  std::optional<std::span<const uint8_t>> span(uint64_t offset, uint64_t length) const {
    if (!has(offset, length)) return std::nullopt;
    return bytes_.subspan(offset, length);
  }
  std::optional<ByteReader> slice(uint64_t offset, uint64_t length) const {
    auto s = span(offset, length);
    if (!s) return std::nullopt;
    return ByteReader(*s);
  }

  // An integer or an ELF record (any trivially copyable T) at `offset`.
  template <class T>
  requires std::is_trivially_copyable_v<T> std::optional<T> read(uint64_t offset)
  const {
    if (!has(offset, sizeof(T))) return std::nullopt;
    T value;
    std::memcpy(&value, bytes_.data() + offset, sizeof value);
    return value;
  }
  std::optional<uint8_t> u8(uint64_t offset) const { return read<uint8_t>(offset); }
  std::optional<uint16_t> u16(uint64_t offset) const { return read<uint16_t>(offset); }
  std::optional<uint32_t> u32(uint64_t offset) const { return read<uint32_t>(offset); }
  std::optional<uint64_t> u64(uint64_t offset) const { return read<uint64_t>(offset); }

  // `count` records of T from `offset`, copied out (nullopt if any lies outside).
  template <class T>
  requires std::is_trivially_copyable_v<T> std::optional<std::vector<T>> read_array(uint64_t offset, uint64_t count)
  const {
    if (count > size() / sizeof(T) || !has(offset, count * sizeof(T))) return std::nullopt;
    std::vector<T> out(count);
    if (count != 0) std::memcpy(out.data(), bytes_.data() + offset, count * sizeof(T));
    return out;
  }

  // The NUL-terminated string at `offset`, looked for within `max_length`
  // bytes; nullopt if `offset` is outside or no NUL comes in time.
  std::optional<std::string_view> c_string(uint64_t offset, uint64_t max_length = UINT64_MAX) const {
    if (offset >= size()) return std::nullopt;
    const auto rest = bytes_.subspan(offset, std::min<uint64_t>(max_length, size() - offset));
    const void* nul = std::memchr(rest.data(), 0, rest.size());
    if (nul == nullptr) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(rest.data()), static_cast<const uint8_t*>(nul) - rest.data());
  }

 private:
  std::span<const uint8_t> bytes_;
};

// A table of NUL-terminated strings (SHT_STRTAB, BTF's string section). Its
// NULs are indexed once, so a lookup costs O(log n) however long the string
// and however many names share it: a file whose every name points at one
// long string reads in linear time. Tables past 4 GiB are read up to there.
class StringTable {
 public:
  StringTable() = default;
  explicit StringTable(std::span<const uint8_t> bytes)
      : bytes_(bytes.first(std::min<uint64_t>(bytes.size(), UINT32_MAX))) {
    for (const uint8_t* p = bytes_.data(); p != nullptr && p < bytes_.data() + bytes_.size(); ++p) {
      p = static_cast<const uint8_t*>(std::memchr(p, 0, static_cast<size_t>(bytes_.data() + bytes_.size() - p)));
      if (p == nullptr) break;
      nuls_.push_back(static_cast<uint32_t>(p - bytes_.data()));
    }
  }

  uint64_t size() const { return bytes_.size(); }
  // The string at `offset`; nullopt if `offset` is outside or no NUL follows.
  std::optional<std::string_view> at(uint64_t offset) const {
    if (offset >= bytes_.size()) return std::nullopt;
    const auto nul = std::lower_bound(nuls_.begin(), nuls_.end(), offset);
    if (nul == nuls_.end()) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(bytes_.data() + offset), *nul - offset);
  }

 private:
  std::span<const uint8_t> bytes_;
  std::vector<uint32_t> nuls_;  // positions of the NULs, ascending
};

}  // namespace bpfkit::elf
