// BTF reading for BTF-defined maps. libbpf's map macros encode numbers in
// types: __uint(name, N) is `int (*name)[N]` (a PTR to an ARRAY of N) and
// __type(name, T) is `T *name` (a PTR to T, whose size is the map's).
#include "btf.hpp"

#include <optional>
#include <unordered_map>

#include "internal.hpp"

namespace bpfkit::elf::detail {
namespace {

enum Kind : uint32_t {
  kInt = 1,
  kPtr,
  kArray,
  kStruct,
  kUnion,
  kEnum,
  kFwd,
  kTypedef,
  kVolatile,
  kConst,
  kRestrict,
  kFunc,
  kFuncProto,
  kVar,
  kDatasec,
  kFloat,
  kDeclTag,
  kTypeTag,
  kEnum64
};

struct Type {
  uint64_t at = 0;  // file offset of the type's record
  uint32_t name = 0, kind = 0, vlen = 0, size_or_type = 0;
  bool kind_flag = false;
  std::span<const uint8_t> extra;  // the kind-specific data after the 12-byte record
};

// Bytes that follow the common record, by kind; nullopt for a kind we do not know.
std::optional<uint64_t> extra_size(uint32_t kind, uint32_t vlen) {
  switch (kind) {
    case kInt:
    case kVar:
    case kDeclTag: return 4;
    case kPtr:
    case kFwd:
    case kTypedef:
    case kVolatile:
    case kConst:
    case kRestrict:
    case kFunc:
    case kFloat:
    case kTypeTag: return 0;
    case kArray: return 12;
    case kStruct:
    case kUnion:
    case kDatasec:
    case kEnum64: return uint64_t{vlen} * 12;
    case kEnum:
    case kFuncProto: return uint64_t{vlen} * 8;
  }
  return std::nullopt;
}

class Btf {
 public:
  Btf(const std::string& input) : input_(input) {}

  Expected<void> read(std::span<const uint8_t> btf, uint64_t file_offset) {
    if (btf.size() < 24)
      return fail(Errc::Truncated, input_, file_offset,
                  ".BTF is " + hex(btf.size()) + " bytes, shorter than its header");
    if (load16(btf, 0) != 0xeb9f)
      return fail(Errc::BadHeader, input_, file_offset, ".BTF magic " + hex(load16(btf, 0)) + ", want 0xeb9f");
    const uint32_t hdr = load32(btf, 4), type_off = load32(btf, 8), type_len = load32(btf, 12),
                   str_off = load32(btf, 16), str_len = load32(btf, 20);
    if (hdr < 24 || !fits(hdr, 0, btf.size()))
      return fail(Errc::BadHeader, input_, file_offset + 4, ".BTF hdr_len " + hex(hdr) + " is not within the section");
    const auto body = btf.subspan(hdr);
    if (!fits(type_off, type_len, body.size()))
      return fail(Errc::Truncated, input_, file_offset + 8,
                  ".BTF type_off " + hex(type_off) + " + type_len " + hex(type_len) + " runs past the section");
    if (!fits(str_off, str_len, body.size()))
      return fail(Errc::Truncated, input_, file_offset + 16,
                  ".BTF str_off " + hex(str_off) + " + str_len " + hex(str_len) + " runs past the section");
    strings_ = StringTable(body.subspan(str_off, str_len));
    return read_types(body.subspan(type_off, type_len), file_offset + hdr + type_off);
  }

  Expected<std::vector<BtfVariable>> datasec(std::string_view section) {
    std::vector<BtfVariable> out;
    for (const Type& t : types_) {
      if (t.kind != kDatasec || name_of(t.name) != section) continue;
      for (uint32_t i = 0; i < t.vlen; ++i) {
        auto var = type(load32(t.extra, i * 12), t.at);
        if (!var) return var.error();
        if ((*var)->kind != kVar) continue;  // a FUNC (a ksym function) has no data
        BtfVariable v;
        v.name = name_of((*var)->name);
        v.offset = load32(t.extra, i * 12 + 4);
        auto size = size_of((*var)->size_or_type, (*var)->at);
        if (!size) return size.error();
        v.size = *size;
        classify((*var)->size_or_type, (*var)->at, v);
        out.push_back(v);
      }
    }
    return out;
  }

  // libbpf's find_kcfg_type: bool, tristate (enum libbpf_tristate), char,
  // char array, integer; anything else is Unknown (libbpf refuses it).
  void classify(uint32_t id, uint64_t at, BtfVariable& v) const {
    auto t = resolve(id, at);
    if (!t) return;
    const Type& type = **t;
    if (type.kind == kEnum && name_of(type.name) == "libbpf_tristate") {
      v.kind = KconfigKind::Tristate, v.align = 4;
    } else if (type.kind == kEnum || type.kind == kEnum64) {
      v.kind = KconfigKind::Int, v.align = type.size_or_type, v.is_signed = false;
    } else if (type.kind == kInt) {
      const uint32_t encoding = load32(type.extra, 0) >> 24;  // BTF_INT_SIGNED 1, CHAR 2, BOOL 4
      v.align = type.size_or_type;
      v.is_signed = (encoding & 1) != 0;
      v.kind = (encoding & 4) != 0                             ? KconfigKind::Bool
               : (encoding & 2) != 0 && type.size_or_type == 1 ? KconfigKind::Char
                                                               : KconfigKind::Int;
    } else if (type.kind == kArray) {
      auto elem = resolve(load32(type.extra, 0), type.at);
      if (elem && (*elem)->kind == kInt && (*elem)->size_or_type == 1) v.kind = KconfigKind::CharArray, v.align = 1;
    }
    if (v.align == 0 || (v.align & (v.align - 1)) != 0) v.align = 1;
  }

  Expected<std::vector<BtfMap>> maps() {
    std::vector<BtfMap> out;
    for (const Type& t : types_) {
      if (t.kind != kDatasec || name_of(t.name) != ".maps") continue;
      for (uint32_t i = 0; i < t.vlen; ++i) {
        auto map = map_of(load32(t.extra, i * 12), t.at, 0);
        if (!map) return map.error();
        map->offset = load32(t.extra, i * 12 + 4);
        out.push_back(std::move(*map));
      }
    }
    return out;
  }

 private:
  // Fields at offsets the caller checked (an unchecked one would read 0).
  static uint16_t load16(std::span<const uint8_t> b, uint64_t o) { return ByteReader(b).u16(o).value_or(0); }
  static uint32_t load32(std::span<const uint8_t> b, uint64_t o) { return ByteReader(b).u32(o).value_or(0); }

  Expected<void> read_types(std::span<const uint8_t> section, uint64_t at) {
    types_.push_back({});  // type id 0 is void
    uint64_t pos = 0;
    while (pos < section.size()) {
      if (!fits(pos, 12, section.size()))
        return fail(Errc::Truncated, input_, at + pos, "BTF type record at " + hex(at + pos) + " is cut short");
      Type t;
      t.at = at + pos;
      t.name = load32(section, pos);
      const uint32_t info = load32(section, pos + 4);
      t.kind = (info >> 24) & 0x1f;
      t.vlen = info & 0xffff;
      t.kind_flag = (info >> 31) != 0;
      t.size_or_type = load32(section, pos + 8);
      const auto extra = extra_size(t.kind, t.vlen);
      if (!extra)
        return fail(Errc::Unsupported, input_, t.at + 4,
                    "BTF type info " + hex(info) + ": unknown kind " + hex(t.kind));
      if (!fits(pos + 12, *extra, section.size()))
        return fail(Errc::Truncated, input_, t.at,
                    "BTF type of kind " + hex(t.kind) + " with vlen " + hex(t.vlen) + " runs past the type section");
      t.extra = section.subspan(pos + 12, *extra);
      pos += 12 + *extra;
      types_.push_back(t);
    }
    return {};
  }

  std::string_view name_of(uint32_t offset) const { return strings_.at(offset).value_or(std::string_view()); }

  Expected<const Type*> type(uint32_t id, uint64_t at) const {
    if (id == 0 || id >= types_.size())
      return fail(Errc::OutOfRange, input_, at,
                  "BTF type id " + hex(id) + " is not below the type count " + hex(types_.size()));
    return &types_[id];
  }

  // Follows typedefs and qualifiers (bounded: a cycle is an error).
  Expected<const Type*> resolve(uint32_t id, uint64_t at) const {
    for (int depth = 0; depth < 32; ++depth) {
      auto t = type(id, at);
      if (!t) return t.error();
      const uint32_t k = (*t)->kind;
      if (k != kTypedef && k != kVolatile && k != kConst && k != kRestrict && k != kTypeTag) return t;
      id = (*t)->size_or_type;
      at = (*t)->at;
    }
    return fail(Errc::BadHeader, input_, at, "BTF type chain at " + hex(at) + " is longer than 32 links");
  }

  Expected<uint64_t> size_of(uint32_t id, uint64_t at, int depth = 0) const {
    if (depth > 32) return fail(Errc::BadHeader, input_, at, "BTF array nesting at " + hex(at) + " is deeper than 32");
    auto t = resolve(id, at);
    if (!t) return t.error();
    switch ((*t)->kind) {
      case kInt:
      case kStruct:
      case kUnion:
      case kEnum:
      case kEnum64:
      case kFloat: return uint64_t{(*t)->size_or_type};
      case kPtr: return 8;
      case kArray: {
        auto elem = size_of(load32((*t)->extra, 0), (*t)->at, depth + 1);
        if (!elem) return elem.error();
        const uint64_t n = load32((*t)->extra, 8);
        if (n != 0 && *elem > (uint64_t{1} << 32) / n)
          return fail(Errc::OutOfRange, input_, (*t)->at, "BTF array of " + hex(n) + " elements is too large");
        return *elem * n;
      }
    }
    return fail(Errc::Unsupported, input_, (*t)->at, "BTF type of kind " + hex((*t)->kind) + " has no size");
  }

  // __uint(name, N): PTR to ARRAY of N.
  Expected<uint32_t> number(uint32_t member_type, uint64_t at, std::string_view member) const {
    auto ptr = resolve(member_type, at);
    if (!ptr) return ptr.error();
    if ((*ptr)->kind != kPtr)
      return fail(
          Errc::BadHeader, input_, (*ptr)->at,
          "map member '" + std::string(member) + "' is BTF kind " + hex((*ptr)->kind) + ", want a PTR (__uint)");
    auto array = resolve((*ptr)->size_or_type, (*ptr)->at);
    if (!array) return array.error();
    if ((*array)->kind != kArray)
      return fail(Errc::BadHeader, input_, (*array)->at,
                  "map member '" + std::string(member) + "' points to BTF kind " + hex((*array)->kind) +
                      ", want an ARRAY (__uint)");
    return load32((*array)->extra, 8);
  }

  // __type(name, T): PTR to T; the size of T.
  Expected<uint32_t> pointee_size(uint32_t member_type, uint64_t at, std::string_view member) const {
    auto ptr = resolve(member_type, at);
    if (!ptr) return ptr.error();
    if ((*ptr)->kind != kPtr)
      return fail(
          Errc::BadHeader, input_, (*ptr)->at,
          "map member '" + std::string(member) + "' is BTF kind " + hex((*ptr)->kind) + ", want a PTR (__type)");
    auto size = size_of((*ptr)->size_or_type, (*ptr)->at);
    if (!size) return size.error();
    if (*size > UINT32_MAX)
      return fail(Errc::OutOfRange, input_, (*ptr)->at,
                  "map member '" + std::string(member) + "' type size " + hex(*size) + " does not fit 32 bits");
    return static_cast<uint32_t>(*size);
  }

  // `__array(values, struct {...})`: an ARRAY of PTRs to the inner map's
  // definition STRUCT. A prog array's `__array(values, int (void *))`
  // points to a FUNC_PROTO instead: no inner map.
  Expected<std::optional<isa::MapSpec>> inner_shape(uint32_t type, uint64_t at, int depth) {
    auto array = resolve(type, at);
    if (!array) return array.error();
    if ((*array)->kind != kArray) return std::optional<isa::MapSpec>();
    auto ptr = resolve(load32((*array)->extra, 0), (*array)->at);
    if (!ptr) return ptr.error();
    if ((*ptr)->kind != kPtr) return std::optional<isa::MapSpec>();
    auto def = resolve((*ptr)->size_or_type, (*ptr)->at);
    if (!def) return def.error();
    if ((*def)->kind != kStruct) return std::optional<isa::MapSpec>();
    if (depth > 0)  // the kernel allows one level: an inner map is no map of maps
      return fail(Errc::Unsupported, input_, (*def)->at, "a map of maps' inner map is itself a map of maps");
    auto shape = shape_of(**def, depth + 1);
    if (!shape) return shape.error();
    return std::optional<isa::MapSpec>(shape->spec);
  }

  Expected<void> member(isa::MapSpec& spec, std::string_view name, uint32_t type, uint64_t at) const {
    uint32_t* number_field = name == "type"          ? &spec.type
                             : name == "key_size"    ? &spec.key_size
                             : name == "value_size"  ? &spec.value_size
                             : name == "max_entries" ? &spec.max_entries
                             : name == "map_flags"   ? &spec.flags
                                                     : nullptr;
    if (name == "map_extra") {
      auto n = number(type, at, name);
      if (!n) return n.error();
      spec.map_extra = *n;
    } else if (number_field != nullptr) {
      auto n = number(type, at, name);
      if (!n) return n.error();
      *number_field = *n;
    } else if (name == "key" || name == "value") {
      auto n = pointee_size(type, at, name);
      if (!n) return n.error();
      (name == "key" ? spec.key_size : spec.value_size) = *n;
    }  // other members (pinning, values, ...) do not change the map's shape here
    return {};
  }

  Expected<BtfMap> map_of(uint32_t var_id, uint64_t at, int depth) {
    auto var = type(var_id, at);
    if (!var) return var.error();
    if ((*var)->kind != kVar)
      return fail(Errc::BadHeader, input_, (*var)->at,
                  ".maps DATASEC entry is BTF kind " + hex((*var)->kind) + ", want VAR");
    BtfMap map;
    map.at = (*var)->at;
    map.name = name_of((*var)->name);
    auto def = resolve((*var)->size_or_type, (*var)->at);
    if (!def) return def.error();
    if ((*def)->kind != kStruct)
      return fail(
          Errc::BadHeader, input_, (*def)->at,
          "map '" + std::string(map.name.substr(0, 64)) + "' is BTF kind " + hex((*def)->kind) + ", want STRUCT");
    auto shape = shape_of(**def, depth);
    if (!shape) return shape.error();
    map.spec = shape->spec;
    map.values_offset = shape->values_offset;
    return map;
  }

  struct Shape {
    isa::MapSpec spec;
    std::optional<uint64_t> values_offset;
  };

  // The map a definition STRUCT describes, read once per STRUCT: a DATASEC
  // may name one large STRUCT in every entry.
  Expected<Shape> shape_of(const Type& def, int depth) {
    const auto id = static_cast<uint32_t>(&def - types_.data());
    if (auto it = shapes_.find(id); it != shapes_.end()) return it->second;
    Shape shape;
    const bool bitfield_offsets = def.kind_flag;  // member offsets hold a bitfield size above bit 24
    for (uint32_t i = 0; i < def.vlen; ++i) {
      const std::string_view name = name_of(load32(def.extra, i * 12));
      const uint32_t type = load32(def.extra, i * 12 + 4);
      if (auto ok = member(shape.spec, name, type, def.at); !ok) return ok.error();
      if (name != "values") continue;
      shape.spec.value_size = 4;  // libbpf: a map of maps' or prog array's values are u32 ids
      auto inner = inner_shape(type, def.at, depth);
      if (!inner) return inner.error();
      // Where `.values` starts: inner maps, or a prog array's programs.
      const uint32_t bits = load32(def.extra, i * 12 + 8) & (bitfield_offsets ? 0xffffffu : 0xffffffffu);
      shape.values_offset = bits / 8;
      if (!*inner) continue;
      shape.spec.inner = std::make_shared<const isa::MapSpec>(std::move(**inner));
    }
    shapes_.emplace(id, shape);
    return shape;
  }

  const std::string& input_;
  StringTable strings_;
  std::vector<Type> types_;
  std::unordered_map<uint32_t, Shape> shapes_;  // definition STRUCT id -> the map it describes
};

}  // namespace

Expected<std::vector<BtfVariable>> btf_datasec(std::span<const uint8_t> btf, uint64_t file_offset,
                                               const std::string& input, std::string_view section) {
  Btf reader(input);
  if (auto ok = reader.read(btf, file_offset); !ok) return ok.error();
  return reader.datasec(section);
}

Expected<std::vector<BtfMap>> btf_maps(std::span<const uint8_t> btf, uint64_t file_offset, const std::string& input) {
  Btf reader(input);
  if (auto ok = reader.read(btf, file_offset); !ok) return ok.error();
  return reader.maps();
}

}  // namespace bpfkit::elf::detail
