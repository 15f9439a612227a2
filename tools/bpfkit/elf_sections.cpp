#include "elf_sections.hpp"

#include <cstdio>
#include <cstring>

namespace bpfkit::cli {
namespace {

// ELF64 field offsets (System V gABI). Only what finding a section needs.
constexpr uint64_t kEhdrSize = 64, kShdrSize = 64;
constexpr uint64_t kEiClass = 4, kEiData = 5, kEMachine = 0x12, kEShoff = 0x28, kEShentsize = 0x3a, kEShnum = 0x3c,
                   kEShstrndx = 0x3e;
constexpr uint64_t kShName = 0x00, kShType = 0x04, kShFlags = 0x08, kShOffset = 0x18, kShSize = 0x20, kShLink = 0x28;
constexpr uint8_t kElfClass64 = 2, kElfData2Lsb = 1;
constexpr uint16_t kEmBpf = 247, kShnXindex = 0xffff;
constexpr uint32_t kShtNobits = 8;
constexpr uint64_t kShfExecinstr = 0x4;

std::string hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

struct SectionHeader {
  uint64_t at;  // file offset of the header itself, for messages
  uint32_t name, type, link;
  uint64_t flags, offset, size;
};

// Reads fields only inside ranges that were checked against the file first.
class Reader {
 public:
  Reader(std::span<const uint8_t> file, std::string_view input) : file_(file), input_(input) {}

  // [offset, offset + size) lies in the file; no overflow for any values.
  bool contains(uint64_t offset, uint64_t size) const {
    return offset <= file_.size() && size <= file_.size() - offset;
  }

  // A little-endian field at a checked offset (memcpy: input is unaligned).
  template <class T>
  T field(uint64_t offset) const {
    T value;
    std::memcpy(&value, file_.data() + offset, sizeof value);
    return value;
  }

  Error fail(Errc code, uint64_t offset, const std::string& message) const {
    Location where;
    where.input = std::string(input_);
    where.offset = offset;
    return make_error(code, message, where);
  }

  Error past_end(uint64_t at, const std::string& what, uint64_t offset, uint64_t size) const {
    return fail(Errc::Truncated, at,
                what + " (offset " + hex(offset) + ", size " + hex(size) + ") runs past the end of the file (" +
                    hex(file_.size()) + " bytes)");
  }

  std::span<const uint8_t> bytes(uint64_t offset, uint64_t size) const { return file_.subspan(offset, size); }
  uint64_t size() const { return file_.size(); }

 private:
  std::span<const uint8_t> file_;
  std::string_view input_;
};

Expected<void> check_ident(const Reader& in) {
  if (!in.contains(0, kEhdrSize))
    return in.fail(Errc::Truncated, 0,
                   "file is " + std::to_string(in.size()) + " bytes, shorter than an ELF64 header (64 bytes)");
  if (in.field<uint8_t>(kEiClass) != kElfClass64)
    return in.fail(Errc::Unsupported, kEiClass,
                   "EI_CLASS is " + std::to_string(in.field<uint8_t>(kEiClass)) + ", want 2 (ELFCLASS64)");
  if (in.field<uint8_t>(kEiData) != kElfData2Lsb)
    return in.fail(Errc::Unsupported, kEiData,
                   "EI_DATA is " + std::to_string(in.field<uint8_t>(kEiData)) + ", want 1 (little-endian)");
  if (in.field<uint16_t>(kEMachine) != kEmBpf)
    return in.fail(Errc::BadHeader, kEMachine,
                   "e_machine is " + std::to_string(in.field<uint16_t>(kEMachine)) + ", want 247 (EM_BPF)");
  if (in.field<uint16_t>(kEShentsize) != kShdrSize)
    return in.fail(Errc::BadHeader, kEShentsize,
                   "e_shentsize is " + std::to_string(in.field<uint16_t>(kEShentsize)) + ", want 64");
  return {};
}

SectionHeader header_at(const Reader& in, uint64_t at) {
  return {at,
          in.field<uint32_t>(at + kShName),
          in.field<uint32_t>(at + kShType),
          in.field<uint32_t>(at + kShLink),
          in.field<uint64_t>(at + kShFlags),
          in.field<uint64_t>(at + kShOffset),
          in.field<uint64_t>(at + kShSize)};
}

// The section header table. With more than 0xff00 sections, e_shnum is 0 and
// the count is section 0's sh_size (gABI extended numbering).
Expected<std::vector<SectionHeader>> section_headers(const Reader& in) {
  const uint64_t table = in.field<uint64_t>(kEShoff);
  if (table == 0) return in.fail(Errc::BadHeader, kEShoff, "e_shoff is 0: the object has no section headers");
  uint64_t count = in.field<uint16_t>(kEShnum);
  if (count == 0) {
    if (!in.contains(table, kShdrSize)) return in.past_end(kEShoff, "section header 0", table, kShdrSize);
    count = header_at(in, table).size;
  }
  if (table > in.size() || count > (in.size() - table) / kShdrSize)  // count * 64 could overflow
    return in.fail(Errc::Truncated, kEShoff,
                   "section header table (offset " + hex(table) + ", " + std::to_string(count) +
                       " entries of 64 bytes) runs past the end of the file (" + hex(in.size()) + " bytes)");
  std::vector<SectionHeader> headers;
  headers.reserve(count);
  for (uint64_t i = 0; i < count; ++i) headers.push_back(header_at(in, table + i * kShdrSize));
  return headers;
}

// The bytes of a section, checked to lie in the file.
Expected<std::span<const uint8_t>> contents(const Reader& in, const SectionHeader& section, const std::string& what) {
  if (section.type == kShtNobits)
    return in.fail(Errc::BadHeader, section.at + kShType, what + " is SHT_NOBITS: it has no bytes in the file");
  if (!in.contains(section.offset, section.size))
    return in.past_end(section.at + kShOffset, what, section.offset, section.size);
  return in.bytes(section.offset, section.size);
}

class Names {
 public:
  static Expected<Names> load(const Reader& in, const std::vector<SectionHeader>& headers) {
    uint64_t index = in.field<uint16_t>(kEShstrndx);
    if (index == kShnXindex && !headers.empty()) index = headers[0].link;
    if (index >= headers.size())
      return in.fail(
          Errc::BadHeader, kEShstrndx,
          "e_shstrndx is " + std::to_string(index) + ", but there are " + std::to_string(headers.size()) + " sections");
    auto table = contents(in, headers[index], "the section name table");
    if (!table) return table.error();
    return Names(in, *table);
  }

  Expected<std::string> of(const SectionHeader& section) const {
    if (section.name >= table_.size())
      return in_->fail(
          Errc::BadHeader, section.at + kShName,
          "sh_name " + hex(section.name) + " is outside the section name table (" + hex(table_.size()) + " bytes)");
    const auto rest = table_.subspan(section.name);
    const void* nul = std::memchr(rest.data(), 0, rest.size());
    if (nul == nullptr)
      return in_->fail(Errc::BadHeader, section.at + kShName,
                       "section name at " + hex(section.name) + " is not NUL-terminated");
    return std::string(reinterpret_cast<const char*>(rest.data()), static_cast<const uint8_t*>(nul) - rest.data());
  }

 private:
  Names(const Reader& in, std::span<const uint8_t> table) : in_(&in), table_(table) {}
  const Reader* in_;
  std::span<const uint8_t> table_;
};

// Which section to read: by name, or the default described in the header.
Expected<size_t> choose(const Reader& in, const std::vector<SectionHeader>& headers,
                        const std::vector<std::string>& names, std::string_view wanted) {
  for (size_t i = 0; i < headers.size(); ++i)
    if (wanted.empty() ? names[i] == ".text" && headers[i].size > 0 : names[i] == wanted) return i;
  if (wanted.empty()) {
    for (size_t i = 0; i < headers.size(); ++i)
      if ((headers[i].flags & kShfExecinstr) != 0 && headers[i].size > 0) return i;
    Error none = in.fail(Errc::BadHeader, 0, "no executable section with instructions (.text is empty or missing)");
    none.where.offset.reset();  // the whole table says so, not one field
    return none;
  }
  // A usage error (exit status 2), so it names the sections there are.
  std::string message = "no section named '" + std::string(wanted) + "'; the sections are:";
  for (const std::string& name : names)
    if (!name.empty()) message.append(" ").append(name);
  Error error = in.fail(Errc::BadOperand, 0, message);
  error.where.offset.reset();
  return error;
}

}  // namespace

bool is_elf(std::span<const uint8_t> file) {
  return file.size() >= 4 && file[0] == 0x7f && file[1] == 'E' && file[2] == 'L' && file[3] == 'F';
}

Expected<ElfSection> read_elf_section(std::span<const uint8_t> file, std::string_view name,
                                      std::string_view input_name) {
  const Reader in(file, input_name);
  if (auto ident = check_ident(in); !ident) return ident.error();
  auto headers = section_headers(in);
  if (!headers) return headers.error();
  auto names = Names::load(in, *headers);
  if (!names) return names.error();
  std::vector<std::string> section_names;
  for (const SectionHeader& header : *headers) {
    auto section_name = names->of(header);
    if (!section_name) return section_name.error();
    section_names.push_back(std::move(*section_name));
  }
  auto index = choose(in, *headers, section_names, name);
  if (!index) return index.error();
  const SectionHeader& header = (*headers)[*index];
  auto bytes = contents(in, header, "section '" + section_names[*index] + "'");
  if (!bytes) return bytes.error();
  return ElfSection{section_names[*index], header.offset, std::vector<uint8_t>(bytes->begin(), bytes->end())};
}

}  // namespace bpfkit::cli
