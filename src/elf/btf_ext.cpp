// `.BTF.ext` as libbpf's btf_ext__new reads it: a header, then three
// info sections (func_info, line_info, CO-RE relocations), each a record
// size followed by blocks of {section name, record count, records}. Every
// size and offset is checked against the section before it is read; the
// CO-RE records are then tied to their code sections and their access
// strings followed through the object's `.BTF`.
#include <algorithm>

#include "bpfkit/elf.hpp"
#include "btf_types.hpp"
#include "core_relo.hpp"
#include "internal.hpp"

namespace bpfkit::elf {

using namespace detail;

namespace {

constexpr uint32_t kMinHeader = 24;     // up to line_info_len
constexpr uint32_t kFuncInfoSize = 8;   // insn_off, type_id
constexpr uint32_t kLineInfoSize = 16;  // insn_off, file_name_off, line_off, line_col
constexpr uint32_t kCoreReloSize = 16;  // insn_off, type_id, access_str_off, kind
constexpr uint32_t kLastCoreKind = static_cast<uint32_t>(CoreKind::TypeMatches);

// One block of an info section: the records of one code section.
struct InfoBlock {
  uint32_t section_name = 0;  // offset in .BTF's strings
  uint32_t count = 0;
  uint64_t at = 0;                   // file offset of the first record
  std::span<const uint8_t> records;  // count * record_size bytes
  uint32_t record_size = 0;
};

class BtfExtReader {
 public:
  BtfExtReader(std::span<const uint8_t> bytes, uint64_t file_offset, const std::string& input)
      : in_(bytes), at_(file_offset), input_(input) {}

  Expected<void> read_header() {
    if (in_.size() < kMinHeader)
      return fail(Errc::Truncated, input_, at_, ".BTF.ext is " + hex(in_.size()) + " bytes, shorter than its header");
    if (in_.u16(0).value_or(0) != 0xeb9f)
      return fail(Errc::BadHeader, input_, at_, ".BTF.ext magic " + hex(in_.u16(0).value_or(0)) + ", want 0xeb9f");
    if (in_.u8(2).value_or(0) != 1)
      return fail(Errc::Unsupported, input_, at_ + 2, ".BTF.ext version " + hex(in_.u8(2).value_or(0)) + ", want 1");
    if (in_.u8(3).value_or(0) != 0)
      return fail(Errc::Unsupported, input_, at_ + 3, ".BTF.ext flags " + hex(in_.u8(3).value_or(0)) + ", want 0");
    header_ = in_.u32(4).value_or(0);
    if (header_ < kMinHeader || header_ > in_.size())
      return fail(Errc::BadHeader, input_, at_ + 4,
                  ".BTF.ext hdr_len " + hex(header_) + " is not from 0x18 to the section's size " + hex(in_.size()));
    return {};
  }

  // The blocks of the info section whose off/len fields are at `field`;
  // none when the header is too short to have them or len is 0.
  Expected<std::vector<InfoBlock>> blocks(uint32_t field, uint32_t min_record, const char* what) {
    std::vector<InfoBlock> out;
    if (field + 8 > header_) return out;
    const uint32_t off = in_.u32(field).value_or(0), len = in_.u32(field + 4).value_or(0);
    if (len == 0) return out;
    const uint64_t start = uint64_t{header_} + off;
    if (off % 4 != 0)
      return fail(Errc::BadHeader, input_, at_ + field,
                  std::string(".BTF.ext ") + what + " offset " + hex(off) + " is not a multiple of 4");
    if (!in_.has(start, len))
      return fail(Errc::Truncated, input_, at_ + field,
                  std::string(".BTF.ext ") + what + " at " + hex(off) + " + " + hex(len) + " runs past the section");
    if (len < 4)
      return fail(Errc::Truncated, input_, at_ + start, std::string(".BTF.ext ") + what + " has no record size");
    const uint32_t record_size = in_.u32(start).value_or(0);
    if (record_size < min_record || record_size % 4 != 0)
      return fail(Errc::BadHeader, input_, at_ + start,
                  std::string(".BTF.ext ") + what + " record size " + hex(record_size) +
                      " is not a multiple of 4 of at least " + hex(min_record));
    for (uint64_t pos = start + 4; pos < start + len;) {
      if (!fits(pos, 8, start + len))
        return fail(Errc::Truncated, input_, at_ + pos, std::string(".BTF.ext ") + what + " block header is cut short");
      InfoBlock block;
      block.section_name = in_.u32(pos).value_or(0);
      block.count = in_.u32(pos + 4).value_or(0);
      block.record_size = record_size;
      if (block.count == 0)
        return fail(Errc::BadHeader, input_, at_ + pos + 4, std::string(".BTF.ext ") + what + " block has no records");
      const uint64_t bytes = uint64_t{block.count} * record_size;
      if (!fits(pos + 8, bytes, start + len))
        return fail(Errc::Truncated, input_, at_ + pos,
                    std::string(".BTF.ext ") + what + " block of " + std::to_string(block.count) +
                        " records runs past its section");
      block.at = at_ + pos + 8;
      block.records = in_.bytes().subspan(pos + 8, bytes);
      out.push_back(block);
      pos += 8 + bytes;
    }
    return out;
  }

 private:
  ByteReader in_;
  uint64_t at_;
  const std::string& input_;
  uint32_t header_ = 0;
};

// A name for a message, cut short (an input may make names megabytes long).
std::string shown(std::string_view name) {
  std::string out = "'";
  out.append(name.substr(0, 64));
  out.append("'");
  return out;
}

// The code section a block's section name names, or null.
const SectionHeader* code_section_named(const Reader& in, const BtfTypes& btf, uint32_t name_offset) {
  const auto name = btf.string_at(name_offset);
  if (!name) return nullptr;
  for (const SectionHeader& s : in.sections())
    if (s.name == *name && (s.flags & kShfExecinstr) != 0 && s.type != kShtNobits) return &s;
  return nullptr;
}

// The func_info blocks, each tied to the code section it names when .BTF
// names one (a block naming none is kept unresolved).
void keep_func_info(const Reader& reader, const std::string& input, std::span<const InfoBlock> blocks,
                    BtfExtInfo& ext) {
  if (blocks.empty()) return;
  ext.func_info_size = blocks.front().record_size;
  std::optional<BtfTypes> types;
  if (const SectionHeader* btf = reader.find(".BTF")) {
    auto parsed = BtfTypes::parse(reader.contents(*btf), btf->offset, input);
    if (parsed) types.emplace(std::move(*parsed));
  }
  for (const InfoBlock& block : blocks) {
    ext.func_info += block.count;
    FuncInfoBlock kept;
    kept.section_name = block.section_name;
    kept.records.assign(block.records.begin(), block.records.end());
    if (const SectionHeader* code = types ? code_section_named(reader, *types, block.section_name) : nullptr)
      kept.section_index = code->index;
    ext.func_info_blocks.push_back(std::move(kept));
  }
}

}  // namespace

Expected<void> EbpfObject::read_btf_ext() {
  const Reader& in = reader_;
  const SectionHeader* ext = in.find(".BTF.ext");
  if (ext == nullptr) return {};
  BtfExtReader reader(in.contents(*ext), ext->offset, input_);
  if (auto ok = reader.read_header(); !ok) return ok;
  auto func_info = reader.blocks(8, kFuncInfoSize, "func_info");
  if (!func_info) return func_info.error();
  auto line_info = reader.blocks(16, kLineInfoSize, "line_info");
  if (!line_info) return line_info.error();
  auto core = reader.blocks(24, kCoreReloSize, "CO-RE relocation");
  if (!core) return core.error();
  info_.btf_ext.present = true;
  for (const InfoBlock& b : *line_info) info_.btf_ext.line_info += b.count;
  keep_func_info(in, input_, *func_info, info_.btf_ext);
  if (core->empty()) return {};
  const SectionHeader* btf = in.find(".BTF");
  if (btf == nullptr)
    return fail(Errc::BadHeader, input_, ext->offset, ".BTF.ext has CO-RE relocations and the object has no .BTF");
  auto types = BtfTypes::parse(in.contents(*btf), btf->offset, input_);
  if (!types) return types.error();
  local_btf_ = std::make_shared<const BtfTypes>(std::move(*types));
  const BtfTypes& local = *local_btf_;
  for (const InfoBlock& block : *core) {
    const auto name = local.string_at(block.section_name);
    const SectionHeader* code = code_section_named(in, local, block.section_name);
    if (code == nullptr)
      return fail(Errc::BadHeader, input_, block.at - 8,
                  ".BTF.ext CO-RE block names section " +
                      (name ? shown(*name) : "at string " + hex(block.section_name)) +
                      ", which is no code section of the object");
    const ByteReader records(block.records);
    for (uint32_t i = 0; i < block.count; ++i) {
      const uint64_t pos = uint64_t{i} * block.record_size;
      const uint64_t at = block.at + pos;
      const uint32_t insn_off = records.u32(pos).value_or(0), type_id = records.u32(pos + 4).value_or(0),
                     access_off = records.u32(pos + 8).value_or(0), kind = records.u32(pos + 12).value_or(0);
      if (insn_off % 8 != 0 || insn_off >= code->size)
        return fail(Errc::OutOfRange, input_, at,
                    "CO-RE relocation insn_off " + hex(insn_off) + " is not an instruction of section " +
                        shown(code->name) + " (" + hex(code->size) + " bytes)");
      if (kind > kLastCoreKind)
        return fail(Errc::Unsupported, input_, at + 12,
                    "CO-RE relocation kind " + std::to_string(kind) + " is unknown");
      const auto access = local.string_at(access_off);
      if (!access)
        return fail(Errc::OutOfRange, input_, at + 8,
                    "CO-RE relocation access string offset " + hex(access_off) + " is outside .BTF's strings");
      CoreRelocation relo;
      relo.section = code->name;
      relo.section_index = code->index;
      relo.insn = insn_off / 8;
      relo.kind = static_cast<CoreKind>(kind);
      relo.type_id = type_id;
      relo.access = *access;
      relo.access_offset = access_off;
      relo.section_name = block.section_name;
      relo.at = at;
      auto spec = parse_core_spec(local, type_id, *access, relo.kind);
      if (!spec)
        return fail(Errc::BadHeader, input_, at,
                    "CO-RE relocation (" + std::string(core_kind_name(relo.kind)) + ", access " + shown(*access) +
                        ") at insn " + std::to_string(relo.insn) + " of section " + shown(code->name) + ": " +
                        spec.error().message);
      relo.type = local.describe(type_id);
      relo.field = core_spec_text(*spec);
      info_.core_relocations.push_back(std::move(relo));
    }
  }
  std::stable_sort(info_.core_relocations.begin(), info_.core_relocations.end(),
                   [](const CoreRelocation& a, const CoreRelocation& b) {
                     return std::pair(a.section_index, a.insn) < std::pair(b.section_index, b.insn);
                   });
  return {};
}

// The CO-RE section: its record size, then one block per code section
// (its name, the count, the records by slot), each record as read but for
// its insn_off.
std::vector<uint8_t> EbpfObject::write_core(std::span<const CoreAt> core) const {
  std::vector<uint8_t> bytes;
  if (core.empty()) return bytes;
  auto put32 = [&bytes](uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  std::vector<CoreAt> sorted(core.begin(), core.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const CoreAt& a, const CoreAt& b) {
    return std::pair(a.section, a.slot) < std::pair(b.section, b.slot);
  });
  put32(kCoreReloSize);
  for (size_t first = 0; first < sorted.size();) {
    size_t end = first;
    while (end < sorted.size() && sorted[end].section == sorted[first].section) ++end;
    put32(info_.core_relocations[sorted[first].relocation].section_name);
    put32(static_cast<uint32_t>(end - first));
    for (size_t i = first; i < end; ++i) {
      const CoreRelocation& relo = info_.core_relocations[sorted[i].relocation];
      put32(sorted[i].slot * 8);
      put32(relo.type_id);
      put32(relo.access_offset);
      put32(static_cast<uint32_t>(relo.kind));
    }
    first = end;
  }
  return bytes;
}

Expected<EbpfObject::MovedBtfExt> EbpfObject::moved_btf_ext(const MovedSlot& moved,
                                                            std::span<const CoreAt> core) const {
  const Reader& in = reader_;
  const SectionHeader* ext = in.find(".BTF.ext");
  const SectionHeader* btf = in.find(".BTF");
  if (ext == nullptr || btf == nullptr) return fail(Errc::BadHeader, input_, 0, "no .BTF.ext with a .BTF");
  std::shared_ptr<const BtfTypes> types = local_btf_;
  if (!types) {
    auto parsed = BtfTypes::parse(in.contents(*btf), btf->offset, input_);
    if (!parsed) return parsed.error();
    types = std::make_shared<const BtfTypes>(std::move(*parsed));
  }
  BtfExtReader reader(in.contents(*ext), ext->offset, input_);
  if (auto ok = reader.read_header(); !ok) return ok.error();
  auto func_info = reader.blocks(8, kFuncInfoSize, "func_info");
  if (!func_info) return func_info.error();
  auto line_info = reader.blocks(16, kLineInfoSize, "line_info");
  if (!line_info) return line_info.error();

  MovedBtfExt out;
  // One info section: its record size, then per block the section's name,
  // the count and the records, each with its insn_off (bytes) moved.
  // Records are sorted by their new place; two lines on one instruction
  // keep the first (the kernel wants insn_off to grow).
  auto write_info = [&](const std::vector<InfoBlock>& blocks, bool lines) -> Expected<std::vector<uint8_t>> {
    std::vector<uint8_t> bytes;
    if (blocks.empty()) return bytes;
    auto put32 = [&bytes](uint32_t v) {
      for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
    };
    put32(blocks[0].record_size);
    for (const InfoBlock& block : blocks) {
      const SectionHeader* code = code_section_named(in, *types, block.section_name);
      if (code == nullptr) return fail(Errc::BadHeader, input_, block.at - 8, ".BTF.ext block names no code section");
      std::vector<std::pair<uint32_t, std::span<const uint8_t>>> records;  // new slot, record
      const ByteReader reader_of_block(block.records);
      for (uint32_t i = 0; i < block.count; ++i) {
        const uint64_t pos = uint64_t{i} * block.record_size;
        const uint32_t insn_off = reader_of_block.u32(pos).value_or(0);
        const std::optional<uint32_t> now = insn_off % 8 == 0 ? moved(code->index, insn_off / 8) : std::nullopt;
        if (!now) {
          if (!lines) return fail(Errc::Unsupported, input_, block.at + pos, "a function's func_info did not move");
          ++out.lines_dropped;
          continue;
        }
        records.emplace_back(*now, block.records.subspan(pos, block.record_size));
      }
      std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      records.erase(
          std::unique(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
          records.end());
      if (records.empty()) continue;
      put32(block.section_name);
      put32(static_cast<uint32_t>(records.size()));
      for (const auto& [slot, record] : records) {
        put32(slot * 8);
        bytes.insert(bytes.end(), record.begin() + 4, record.end());
      }
      (lines ? out.line_info : out.func_info) += static_cast<uint32_t>(records.size());
    }
    return bytes;
  };
  auto funcs = write_info(*func_info, false);
  if (!funcs) return funcs.error();
  auto lines = write_info(*line_info, true);
  if (!lines) return lines.error();
  const std::vector<uint8_t> relocations = write_core(core);
  out.core = static_cast<uint32_t>(core.size());
  // The header libbpf reads (24 bytes, or 32 with a CO-RE section), then each section.
  const uint32_t header = relocations.empty() ? kMinHeader : kMinHeader + 8;
  auto put32_at = [&out](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  out.bytes = {0x9f, 0xeb, 1, 0};
  put32_at(header);
  put32_at(0);
  put32_at(static_cast<uint32_t>(funcs->size()));
  put32_at(static_cast<uint32_t>(funcs->size()));
  put32_at(static_cast<uint32_t>(lines->size()));
  if (!relocations.empty()) {
    put32_at(static_cast<uint32_t>(funcs->size() + lines->size()));
    put32_at(static_cast<uint32_t>(relocations.size()));
  }
  out.bytes.insert(out.bytes.end(), funcs->begin(), funcs->end());
  out.bytes.insert(out.bytes.end(), lines->begin(), lines->end());
  out.bytes.insert(out.bytes.end(), relocations.begin(), relocations.end());
  return out;
}

}  // namespace bpfkit::elf
