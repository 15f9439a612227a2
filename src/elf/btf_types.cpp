// The BTF type table of btf_types.hpp: the header and every record checked
// once here, so that each accessor reads only bytes that exist.
#include "btf_types.hpp"

#include "internal.hpp"

namespace bpfkit::elf::detail {
namespace {

constexpr uint64_t kHeaderSize = 24;
constexpr int kMaxChain = 32;  // libbpf's MAX_RESOLVE_DEPTH

// Bytes that follow the common 12-byte record, by kind; nullopt for a kind
// BTF does not define.
std::optional<uint64_t> extra_size(uint32_t kind, uint32_t vlen) {
  switch (kind) {
    case kBtfInt:
    case kBtfVar:
    case kBtfDeclTag: return 4;
    case kBtfPtr:
    case kBtfFwd:
    case kBtfTypedef:
    case kBtfVolatile:
    case kBtfConst:
    case kBtfRestrict:
    case kBtfFunc:
    case kBtfFloat:
    case kBtfTypeTag: return 0;
    case kBtfArray: return 12;
    case kBtfStruct:
    case kBtfUnion:
    case kBtfDatasec:
    case kBtfEnum64: return uint64_t{vlen} * 12;
    case kBtfEnum:
    case kBtfFuncProto: return uint64_t{vlen} * 8;
  }
  return std::nullopt;
}

bool is_modifier(BtfKind kind) {
  return kind == kBtfTypedef || kind == kBtfVolatile || kind == kBtfConst || kind == kBtfRestrict ||
         kind == kBtfTypeTag;
}

const char* kind_word(BtfKind kind) {
  switch (kind) {
    case kBtfStruct: return "struct ";
    case kBtfUnion: return "union ";
    case kBtfEnum:
    case kBtfEnum64: return "enum ";
    case kBtfTypedef: return "typedef ";
    case kBtfFwd: return "fwd ";
    case kBtfFunc: return "func ";
    case kBtfVar: return "var ";
    case kBtfDatasec: return "datasec ";
    default: return "";
  }
}

const char* kind_name(BtfKind kind) {
  static constexpr const char* kNames[] = {
      "unknown", "int",      "ptr",  "array",      "struct", "union",   "enum",  "fwd",      "typedef",  "volatile",
      "const",   "restrict", "func", "func_proto", "var",    "datasec", "float", "decl_tag", "type_tag", "enum64"};
  return kind <= kBtfEnum64 ? kNames[kind] : "unknown";
}

}  // namespace

size_t essential_name_length(std::string_view name) {
  // libbpf: the last X___Y in the name, X and Y not underscores, cuts it.
  for (size_t i = name.size() >= 5 ? name.size() - 5 + 1 : 0; i-- > 0;)
    if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' && name[i + 3] == '_' && name[i + 4] != '_')
      return i + 1;
  return name.size();
}

Expected<BtfTypes> BtfTypes::parse(std::span<const uint8_t> btf, uint64_t file_offset, std::string input) {
  const ByteReader in(btf);
  if (btf.size() < kHeaderSize)
    return fail(Errc::Truncated, input, file_offset, "BTF is " + hex(btf.size()) + " bytes, shorter than its header");
  const uint16_t magic = in.u16(0).value_or(0);
  if (magic == 0x9feb)
    return fail(Errc::Unsupported, input, file_offset, "BTF is big-endian (magic 0x9feb); only little-endian is read");
  if (magic != 0xeb9f) return fail(Errc::BadHeader, input, file_offset, "BTF magic " + hex(magic) + ", want 0xeb9f");
  const uint32_t hdr = in.u32(4).value_or(0), type_off = in.u32(8).value_or(0), type_len = in.u32(12).value_or(0),
                 str_off = in.u32(16).value_or(0), str_len = in.u32(20).value_or(0);
  if (hdr < kHeaderSize || !fits(hdr, 0, btf.size()))
    return fail(Errc::BadHeader, input, file_offset + 4, "BTF hdr_len " + hex(hdr) + " is not within the data");
  const auto body = btf.subspan(hdr);
  if (!fits(type_off, type_len, body.size()))
    return fail(Errc::Truncated, input, file_offset + 8,
                "BTF type_off " + hex(type_off) + " + type_len " + hex(type_len) + " runs past the data");
  if (!fits(str_off, str_len, body.size()))
    return fail(Errc::Truncated, input, file_offset + 16,
                "BTF str_off " + hex(str_off) + " + str_len " + hex(str_len) + " runs past the data");
  BtfTypes out;
  out.input_ = std::move(input);
  const auto types = body.subspan(type_off, type_len);
  const auto strings = body.subspan(str_off, str_len);
  out.bytes_.reserve(types.size() + strings.size());
  out.bytes_.insert(out.bytes_.end(), types.begin(), types.end());
  out.bytes_.insert(out.bytes_.end(), strings.begin(), strings.end());
  out.strings_ = StringTable(std::span<const uint8_t>(out.bytes_).subspan(types.size()));
  const uint64_t types_at = file_offset + hdr + type_off;
  const ByteReader records(std::span<const uint8_t>(out.bytes_).first(types.size()));
  out.types_.push_back({});  // type id 0 is void
  for (uint64_t pos = 0; pos < records.size();) {
    if (!records.has(pos, 12))
      return fail(Errc::Truncated, out.input_, types_at + pos,
                  "BTF type record at " + hex(types_at + pos) + " is cut short");
    Type t;
    t.at = types_at + pos;
    t.name = records.u32(pos).value_or(0);
    const uint32_t info = records.u32(pos + 4).value_or(0);
    t.vlen = info & 0xffff;
    t.kflag = (info >> 31) != 0;
    t.size_or_type = records.u32(pos + 8).value_or(0);
    const uint32_t kind = (info >> 24) & 0x1f;
    const auto extra = kind == kBtfUnknown ? std::nullopt : extra_size(kind, t.vlen);
    if (!extra)
      return fail(Errc::Unsupported, out.input_, t.at + 4,
                  "BTF type info " + hex(info) + ": unknown kind " + hex(kind));
    if (!records.has(pos + 12, *extra))
      return fail(Errc::Truncated, out.input_, t.at,
                  std::string("BTF ") + kind_name(static_cast<BtfKind>(kind)) + " with vlen " + hex(t.vlen) +
                      " runs past the type section");
    if (out.types_.size() >= UINT32_MAX)
      return fail(Errc::LimitExceeded, out.input_, t.at, "BTF has more than 2^32 - 1 types");
    t.kind = static_cast<BtfKind>(kind);
    t.extra = static_cast<uint32_t>(pos + 12);
    pos += 12 + *extra;
    out.types_.push_back(t);
  }
  for (uint32_t id = 1; id < out.types_.size(); ++id) {
    const std::string_view n = out.name(id);
    if (!n.empty()) out.by_essential_name_[n.substr(0, essential_name_length(n))].push_back(id);
  }
  return out;
}

uint32_t BtfTypes::extra32(uint32_t id, uint64_t offset) const {
  if (!valid(id)) return 0;
  return ByteReader(bytes_).u32(uint64_t{types_[id].extra} + offset).value_or(0);
}

std::string_view BtfTypes::name(uint32_t id) const {
  if (!valid(id)) return {};
  return strings_.at(types_[id].name).value_or(std::string_view());
}

BtfMember BtfTypes::member(uint32_t id, uint32_t i) const {
  if (!is_composite(id) || i >= vlen(id)) return {};
  BtfMember m;
  m.name = strings_.at(extra32(id, uint64_t{i} * 12)).value_or(std::string_view());
  m.type = extra32(id, uint64_t{i} * 12 + 4);
  const uint32_t offset = extra32(id, uint64_t{i} * 12 + 8);
  // kflag: the offset holds the bitfield size in its top 8 bits.
  m.bit_offset = kflag(id) ? offset & 0xffffff : offset;
  m.bitfield_size = kflag(id) ? offset >> 24 : 0;
  return m;
}

BtfArray BtfTypes::array(uint32_t id) const {
  if (kind(id) != kBtfArray) return {};
  return {extra32(id, 0), extra32(id, 4), extra32(id, 8)};
}

BtfEnumerator BtfTypes::enumerator(uint32_t id, uint32_t i) const {
  if (!is_any_enum(id) || i >= vlen(id)) return {};
  if (kind(id) == kBtfEnum) {
    const uint32_t value = extra32(id, uint64_t{i} * 8 + 4);
    const uint64_t extended =
        kflag(id) ? static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value))) : uint64_t{value};
    return {strings_.at(extra32(id, uint64_t{i} * 8)).value_or(std::string_view()), extended};
  }
  const uint64_t low = extra32(id, uint64_t{i} * 12 + 4), high = extra32(id, uint64_t{i} * 12 + 8);
  return {strings_.at(extra32(id, uint64_t{i} * 12)).value_or(std::string_view()), high << 32 | low};
}

uint32_t BtfTypes::param_type(uint32_t id, uint32_t i) const {
  if (kind(id) != kBtfFuncProto || i >= vlen(id)) return 0;
  return extra32(id, uint64_t{i} * 8 + 4);
}

uint32_t BtfTypes::skip_mods_and_typedefs(uint32_t id) const {
  for (int depth = 0; depth <= kMaxChain; ++depth) {
    if (!valid(id) || !is_modifier(types_[id].kind)) return valid(id) ? id : 0;
    id = types_[id].size_or_type;
  }
  return 0;
}

std::optional<uint64_t> BtfTypes::resolve_size(uint32_t id) const {
  uint64_t elements = 1;
  for (int depth = 0; depth <= kMaxChain; ++depth) {
    if (!valid(id) || id == 0) return std::nullopt;
    const Type& t = types_[id];
    uint64_t size = 0;
    switch (t.kind) {
      case kBtfInt:
      case kBtfStruct:
      case kBtfUnion:
      case kBtfEnum:
      case kBtfEnum64:
      case kBtfDatasec:
      case kBtfFloat: size = t.size_or_type; break;
      case kBtfPtr: size = 8; break;
      case kBtfTypedef:
      case kBtfVolatile:
      case kBtfConst:
      case kBtfRestrict:
      case kBtfVar:
      case kBtfDeclTag:
      case kBtfTypeTag: id = t.size_or_type; continue;
      case kBtfArray: {
        const BtfArray a = array(id);
        if (a.nelems != 0 && elements > UINT32_MAX / a.nelems) return std::nullopt;
        elements *= a.nelems;
        id = a.type;
        continue;
      }
      default: return std::nullopt;
    }
    if (size != 0 && elements > UINT32_MAX / size) return std::nullopt;  // libbpf: size * nelems must fit u32
    return size * elements;
  }
  return std::nullopt;
}

std::string BtfTypes::describe(uint32_t id) const {
  if (id == 0) return "void";
  std::string out;
  if (!valid(id)) return out.append("[").append(std::to_string(id)).append("] (no such type)");
  const std::string_view n = name(id);
  if (n.empty())
    return out.append("[")
        .append(std::to_string(id))
        .append("] (anonymous ")
        .append(kind_name(types_[id].kind))
        .append(")");
  return out.append(kind_word(types_[id].kind)).append(n.substr(0, 128));
}

const std::vector<uint32_t>& BtfTypes::by_essential_name(std::string_view essential) const {
  static const std::vector<uint32_t> kNone;
  auto it = by_essential_name_.find(essential);
  return it == by_essential_name_.end() ? kNone : it->second;
}

}  // namespace bpfkit::elf::detail
