// CO-RE relocations resolved and applied as libbpf's relo_core.c does:
// parse the access (bpf_core_parse_spec), find the target's candidates
// (bpf_core_find_cands: same essential name, compatible kind), match the
// access in each (bpf_core_spec_match, bpf_core_types_are_compat,
// bpf_core_types_match), compute the old and new values
// (bpf_core_calc_relo), insist that the candidates agree, then patch the
// instruction or poison it (bpf_core_patch_insn).
#include "core_relo.hpp"

#include <algorithm>
#include <charconv>

#include "bpfkit/elf.hpp"
#include "internal.hpp"

namespace bpfkit::elf {

using namespace detail;

namespace {

constexpr int kMaxTypeDepth = 32;  // libbpf's recursion limit for type compatibility

// Member comparisons one relocation may make. libbpf's search through
// anonymous members, and type_matches' member by member comparison, grow
// with the product of the types' sizes at every level of nesting: a
// crafted BTF could make them run for years. Real ones take thousands.
class Work {
 public:
  bool spend() {
    if (left_ == 0) return false;
    --left_;
    return true;
  }

 private:
  uint64_t left_ = uint64_t{1} << 22;
};

Error too_much_work() {
  return make_error(Errc::LimitExceeded, "matching takes more than 4 million member comparisons");
}

Error reason(std::string message) { return make_error(Errc::BadHeader, std::move(message)); }

// libbpf's is_flex_arr: an array of 0 elements that is the last member of
// the struct the previous accessor named.
bool is_flex_array(const BtfTypes& btf, const CoreAccessor* previous, const BtfArray& array) {
  if (previous == nullptr || previous->name.empty() || array.nelems > 0) return false;
  return previous->index + 1 == btf.vlen(previous->type_id);
}

bool kinds_compatible(const BtfTypes& a, uint32_t a_id, const BtfTypes& b, uint32_t b_id) {
  return a.kind(a_id) == b.kind(b_id) || (a.is_any_enum(a_id) && b.is_any_enum(b_id));
}

bool essential_names_equal(std::string_view a, std::string_view b) {
  const size_t length = essential_name_length(a);
  return length == essential_name_length(b) && a.substr(0, length) == b.substr(0, length);
}

// bpf_core_fields_are_compat: a member's local and target types.
Expected<bool> fields_compatible(const BtfTypes& local, uint32_t local_id, const BtfTypes& target, uint32_t target_id) {
  for (int depth = 0; depth < kMaxTypeDepth; ++depth) {
    local_id = local.skip_mods_and_typedefs(local_id);
    target_id = target.skip_mods_and_typedefs(target_id);
    if (local_id == 0 || target_id == 0) return reason("a member's type is void or cannot be followed");
    if (local.is_composite(local_id) && target.is_composite(target_id)) return true;
    if (!kinds_compatible(local, local_id, target, target_id)) return false;
    switch (local.kind(local_id)) {
      case kBtfPtr:
      case kBtfFloat: return true;
      case kBtfFwd:
      case kBtfEnum:
      case kBtfEnum64: {
        const std::string_view a = local.name(local_id), b = target.name(target_id);
        return essential_name_length(a) == 0 || essential_name_length(b) == 0 || essential_names_equal(a, b);
      }
      case kBtfInt: return local.int_offset(local_id) == 0 && target.int_offset(target_id) == 0;
      case kBtfArray:
        local_id = local.array(local_id).type;
        target_id = target.array(target_id).type;
        continue;
      default: return false;
    }
  }
  return reason("member types nest deeper than 32");
}

// __bpf_core_types_are_compat: for type_exists, type_size, target_type_id.
Expected<bool> types_compatible(const BtfTypes& local, uint32_t local_id, const BtfTypes& target, uint32_t target_id,
                                int level, Work& work) {
  if (!kinds_compatible(local, local_id, target, target_id)) return false;
  for (int depth = 0; depth < kMaxTypeDepth; ++depth) {
    local_id = local.skip_mods_and_typedefs(local_id);
    target_id = target.skip_mods_and_typedefs(target_id);
    if (!kinds_compatible(local, local_id, target, target_id)) return false;
    switch (local.kind(local_id)) {
      case kBtfUnknown:
      case kBtfStruct:
      case kBtfUnion:
      case kBtfEnum:
      case kBtfFwd:
      case kBtfEnum64: return true;
      case kBtfInt: return local.int_offset(local_id) == 0 && target.int_offset(target_id) == 0;
      case kBtfPtr:
        local_id = local.size_or_type(local_id);
        target_id = target.size_or_type(target_id);
        continue;
      case kBtfArray:
        local_id = local.array(local_id).type;
        target_id = target.array(target_id).type;
        continue;
      case kBtfFuncProto: {
        if (local.vlen(local_id) != target.vlen(target_id)) return false;
        for (uint32_t i = 0; i < local.vlen(local_id); ++i) {
          if (level <= 0) return reason("function prototypes nest deeper than 32");
          if (!work.spend()) return too_much_work();
          auto same = types_compatible(local, local.skip_mods_and_typedefs(local.param_type(local_id, i)), target,
                                       target.skip_mods_and_typedefs(target.param_type(target_id, i)), level - 1, work);
          if (!same || !*same) return same;
        }
        local_id = local.size_or_type(local_id);  // then the return types
        target_id = target.size_or_type(target_id);
        continue;
      }
      default: return false;
    }
  }
  return reason("types nest deeper than 32");
}

// bpf_core_names_match: an anonymous name matches any.
bool names_match(std::string_view a, std::string_view b) { return a.empty() || b.empty() || a == b; }

Expected<bool> types_match(const BtfTypes& local, uint32_t local_id, const BtfTypes& target, uint32_t target_id,
                           bool behind_pointer, int level, Work& work);

// bpf_core_enums_match: every local enumerator has a target one of its name, and the sizes agree.
Expected<bool> enums_match(const BtfTypes& local, uint32_t local_id, const BtfTypes& target, uint32_t target_id,
                           Work& work) {
  if (local.size_or_type(local_id) != target.size_or_type(target_id)) return false;
  for (uint32_t i = 0; i < local.vlen(local_id); ++i) {
    bool found = false;
    for (uint32_t j = 0; j < target.vlen(target_id) && !found; ++j) {
      if (!work.spend()) return too_much_work();
      found = names_match(local.enumerator(local_id, i).name, target.enumerator(target_id, j).name);
    }
    if (!found) return false;
  }
  return true;
}

// bpf_core_composites_match: every local member has a target member of its name and a matching type.
Expected<bool> composites_match(const BtfTypes& local, uint32_t local_id, const BtfTypes& target, uint32_t target_id,
                                bool behind_pointer, int level, Work& work) {
  if (local.vlen(local_id) > target.vlen(target_id)) return false;
  for (uint32_t i = 0; i < local.vlen(local_id); ++i) {
    const BtfMember l = local.member(local_id, i);
    bool matched = false;
    for (uint32_t j = 0; j < target.vlen(target_id) && !matched; ++j) {
      const BtfMember t = target.member(target_id, j);
      if (!work.spend()) return too_much_work();
      if (!names_match(l.name, t.name)) continue;
      auto same = types_match(local, l.type, target, t.type, behind_pointer, level - 1, work);
      if (!same) return same;
      matched = *same;
    }
    if (!matched) return false;
  }
  return true;
}

// __bpf_core_types_match: for type_matches (bpf_core_type_matches()).
Expected<bool> types_match(const BtfTypes& local, uint32_t local_id, const BtfTypes& target, uint32_t target_id,
                           bool behind_pointer, int level, Work& work) {
  for (int depth = 0; depth < kMaxTypeDepth; ++depth) {
    if (level <= 0) return reason("types nest deeper than 32");
    local_id = local.skip_mods_and_typedefs(local_id);
    target_id = target.skip_mods_and_typedefs(target_id);
    if (!names_match(local.name(local_id), target.name(target_id))) return false;
    const BtfKind lk = local.kind(local_id), tk = target.kind(target_id);
    switch (lk) {
      case kBtfUnknown: return lk == tk;
      case kBtfFwd: {
        const bool local_union = local.kflag(local_id);
        if (behind_pointer && lk != tk) return (tk == kBtfStruct && !local_union) || (tk == kBtfUnion && local_union);
        return lk == tk && local_union == target.kflag(target_id);
      }
      case kBtfEnum:
      case kBtfEnum64:
        if (!target.is_any_enum(target_id)) return false;
        return enums_match(local, local_id, target, target_id, work);
      case kBtfStruct:
      case kBtfUnion:
        if (behind_pointer) {
          if (lk == tk) return true;
          return tk == kBtfFwd && (lk == kBtfUnion) == target.kflag(target_id);
        }
        if (lk != tk) return false;
        return composites_match(local, local_id, target, target_id, behind_pointer, level, work);
      case kBtfInt:
        return lk == tk && local.size_or_type(local_id) == target.size_or_type(target_id) &&
               (local.int_encoding(local_id) & 1) == (target.int_encoding(target_id) & 1);
      case kBtfPtr:
        if (lk != tk) return false;
        behind_pointer = true;
        local_id = local.size_or_type(local_id);
        target_id = target.size_or_type(target_id);
        continue;
      case kBtfArray:
        if (lk != tk || local.array(local_id).nelems != target.array(target_id).nelems) return false;
        local_id = local.array(local_id).type;
        target_id = target.array(target_id).type;
        continue;
      case kBtfFuncProto:
        if (lk != tk || local.vlen(local_id) != target.vlen(target_id)) return false;
        for (uint32_t i = 0; i < local.vlen(local_id); ++i) {
          auto same = types_match(local, local.param_type(local_id, i), target, target.param_type(target_id, i),
                                  behind_pointer, level - 1, work);
          if (!same || !*same) return same;
        }
        local_id = local.size_or_type(local_id);
        target_id = target.size_or_type(target_id);
        continue;
      default: return false;
    }
  }
  return reason("types nest deeper than 32");
}

// bpf_core_match_member: the local accessor's member in target type
// `target_id`, by name, looking through anonymous members. Pushes onto
// `spec` as it goes; 0 = no match.
Expected<bool> match_member(const BtfTypes& local, const CoreAccessor& accessor, const BtfTypes& target,
                            uint32_t target_id, CoreSpec& spec, uint32_t& next_target_id, Work& work) {
  const BtfMember local_member = local.member(accessor.type_id, accessor.index);
  target_id = target.skip_mods_and_typedefs(target_id);
  if (target_id == 0) return reason("a target member's type cannot be followed");
  if (!target.is_composite(target_id)) return false;
  for (uint32_t i = 0; i < target.vlen(target_id); ++i) {
    const BtfMember m = target.member(target_id, i);
    if (!work.spend()) return too_much_work();
    if (spec.raw.size() == kCoreSpecMaxLength) return reason("the target nests structs deeper than 64");
    spec.bit_offset += m.bit_offset;  // speculate that this member is the one
    spec.raw.push_back(i);
    if (m.name.empty()) {
      auto found = match_member(local, accessor, target, m.type, spec, next_target_id, work);
      if (!found || *found) return found;
    } else if (m.name == local_member.name) {
      spec.accessors.push_back({target_id, i, m.name});
      next_target_id = m.type;
      auto compatible = fields_compatible(local, local_member.type, target, m.type);
      if (!compatible || !*compatible) spec.accessors.pop_back();
      return compatible;
    }
    spec.bit_offset -= m.bit_offset;
    spec.raw.pop_back();
  }
  return false;
}

// bpf_core_spec_match: the local spec followed in candidate `target_id`.
Expected<bool> match_spec(const CoreSpec& local, const BtfTypes& target, uint32_t target_id, CoreSpec& out,
                          Work& work) {
  out = {};
  out.btf = &target;
  out.root_type_id = target_id;
  out.kind = local.kind;
  if (is_type_kind(local.kind)) {
    return local.kind == CoreKind::TypeMatches
               ? types_match(*local.btf, local.root_type_id, target, target_id, false, kMaxTypeDepth, work)
               : types_compatible(*local.btf, local.root_type_id, target, target_id, kMaxTypeDepth, work);
  }
  if (is_enumval_kind(local.kind)) {
    target_id = target.skip_mods_and_typedefs(target_id);
    if (!target.is_any_enum(target_id)) return false;
    const std::string_view name = local.accessors[0].name;
    for (uint32_t i = 0; i < target.vlen(target_id); ++i) {
      const std::string_view candidate = target.enumerator(target_id, i).name;
      if (!essential_names_equal(name, candidate)) continue;
      out.accessors.push_back({target_id, i, candidate});
      out.raw.push_back(i);
      return true;
    }
    return false;
  }
  for (size_t i = 0; i < local.accessors.size(); ++i) {
    const CoreAccessor& accessor = local.accessors[i];
    const uint32_t target_type = target.skip_mods_and_typedefs(target_id);
    if (target_type == 0) return reason("a target type cannot be followed");
    if (!accessor.name.empty()) {
      auto matched = match_member(*local.btf, accessor, target, target_id, out, target_id, work);
      if (!matched || !*matched) return matched;
      continue;
    }
    target_id = target_type;
    if (i > 0) {  // the first index is into the root type itself
      if (target.kind(target_type) != kBtfArray) return false;
      const BtfArray array = target.array(target_type);
      const CoreAccessor* previous = out.accessors.empty() ? nullptr : &out.accessors.back();
      if (!is_flex_array(target, previous, array) && accessor.index >= array.nelems) return false;
      target_id = target.skip_mods_and_typedefs(array.type);
      if (target_id == 0) return reason("a target array's element type cannot be followed");
    }
    if (out.raw.size() == kCoreSpecMaxLength) return reason("the target nests structs deeper than 64");
    out.accessors.push_back({target_id, accessor.index, {}});
    out.raw.push_back(accessor.index);
    auto size = target.resolve_size(target_id);
    if (!size) return reason("the size of " + target.describe(target_id) + " cannot be resolved");
    out.bit_offset += uint64_t{accessor.index} * *size * 8;
  }
  return true;
}

struct FieldValue {
  uint64_t value = 0;
  uint32_t size = 0;     // of the field, for a load or store's width (byte_off, not bitfields)
  uint32_t type_id = 0;  // the field's type, skipped
};

// bpf_core_calc_field_relo. nullopt spec: no match (poison, but field_exists is 0).
Expected<FieldValue> field_value(CoreKind kind, const CoreSpec* spec, bool* validate, bool& poison) {
  FieldValue out;
  if (kind == CoreKind::FieldExists) {
    out.value = spec != nullptr ? 1 : 0;
    return out;
  }
  if (spec == nullptr) {
    poison = true;
    return out;
  }
  const CoreAccessor& accessor = spec->accessors.back();
  const BtfTypes& btf = *spec->btf;
  if (accessor.name.empty()) {  // an array element
    auto size = btf.resolve_size(accessor.type_id);
    if (!size) return reason("the size of " + btf.describe(accessor.type_id) + " cannot be resolved");
    if (kind == CoreKind::FieldByteOffset) {
      out.value = spec->bit_offset / 8;
      out.size = static_cast<uint32_t>(std::min<uint64_t>(*size, UINT32_MAX));
      out.type_id = accessor.type_id;
    } else if (kind == CoreKind::FieldByteSize) {
      out.value = *size;
    } else {
      return reason(std::string(core_kind_name(kind)) + " cannot be applied to an array element");
    }
    if (validate != nullptr) *validate = true;
    return out;
  }
  const BtfMember member = btf.member(accessor.type_id, accessor.index);
  const uint32_t field_type = btf.skip_mods_and_typedefs(member.type);
  const uint64_t bit_offset = spec->bit_offset;
  uint64_t bit_size = member.bitfield_size;
  const bool bitfield = bit_size > 0;
  uint64_t byte_size = 0, byte_offset = 0;
  if (bitfield) {
    byte_size = btf.size_or_type(field_type);
    if (byte_size == 0) return reason("bitfield of " + btf.describe(field_type) + " has no size");
    byte_offset = bit_offset / 8 / byte_size * byte_size;
    while (bit_offset + bit_size - byte_offset * 8 > byte_size * 8) {  // the smallest load that holds it
      if (byte_size >= 8) return reason("the bitfield cannot be read with one 64-bit load");
      byte_size *= 2;
      byte_offset = bit_offset / 8 / byte_size * byte_size;
    }
  } else {
    auto size = btf.resolve_size(field_type);
    if (!size) return reason("the size of " + btf.describe(field_type) + " cannot be resolved");
    byte_size = *size;
    byte_offset = bit_offset / 8;
    bit_size = byte_size * 8;
  }
  if (validate != nullptr) *validate = !bitfield;  // the compiler may lay bitfields out otherwise
  switch (kind) {
    case CoreKind::FieldByteOffset:
      out.value = byte_offset;
      if (!bitfield) {
        out.size = static_cast<uint32_t>(std::min<uint64_t>(byte_size, UINT32_MAX));
        out.type_id = field_type;
      }
      break;
    case CoreKind::FieldByteSize: out.value = byte_size; break;
    case CoreKind::FieldSigned:
      out.value = (btf.is_any_enum(field_type) && btf.kflag(field_type)) ||
                  (btf.kind(field_type) == kBtfInt && (btf.int_encoding(field_type) & 1) != 0);
      if (validate != nullptr) *validate = true;
      break;
    case CoreKind::FieldLshiftU64: out.value = 64 - (bit_offset + bit_size - byte_offset * 8); break;  // little-endian
    case CoreKind::FieldRshiftU64:
      out.value = 64 - bit_size;
      if (validate != nullptr) *validate = true;
      break;
    default: return reason("not a field relocation");
  }
  return out;
}

// bpf_core_calc_type_relo / bpf_core_calc_enumval_relo.
Expected<uint64_t> type_value(CoreKind kind, const CoreSpec* spec, bool* validate, bool& poison) {
  if (validate != nullptr) *validate = true;
  switch (kind) {
    case CoreKind::TypeIdTarget:
      if (validate != nullptr) *validate = false;  // linking may renumber the local id
      return spec != nullptr ? spec->root_type_id : 0;
    case CoreKind::TypeExists:
    case CoreKind::TypeMatches: return spec != nullptr ? 1 : 0;
    case CoreKind::TypeSize: {
      if (spec == nullptr) return 0;
      auto size = spec->btf->resolve_size(spec->root_type_id);
      if (!size) return reason("the size of " + spec->btf->describe(spec->root_type_id) + " cannot be resolved");
      return *size;
    }
    case CoreKind::EnumvalExists: return spec != nullptr ? 1 : 0;
    case CoreKind::EnumvalValue:
      if (spec == nullptr) {
        poison = true;
        return 0;
      }
      return spec->btf->enumerator(spec->accessors[0].type_id, spec->accessors[0].index).value;
    default: return reason("not a type or enum relocation");
  }
}

// bpf_core_calc_relo: the local answer, and the target's (nullptr: no match).
Expected<CoreResult> calc_relocation(const CoreSpec& local, const CoreSpec* target) {
  CoreResult result;
  bool poison = false;
  if (is_field_kind(local.kind)) {
    auto original = field_value(local.kind, &local, &result.validate, poison);
    if (!original) return original.error();
    auto patched = field_value(local.kind, target, nullptr, poison);
    if (!patched) return patched.error();
    result.original = original->value;
    result.value = patched->value;
    result.original_size = original->size;
    result.new_size = patched->size;
    if (!poison && result.original_size != result.new_size) {
      // Only a pointer, or an unsigned integer, reads the same at another width.
      const BtfTypes& l = *local.btf;
      const BtfTypes& t = *target->btf;
      const uint32_t a = original->type_id, b = patched->type_id;
      const bool pointers = l.kind(a) == kBtfPtr && t.kind(b) == kBtfPtr;
      const bool unsigned_ints =
          l.kind(a) == kBtfInt && t.kind(b) == kBtfInt && (l.int_encoding(a) & 1) == 0 && (t.int_encoding(b) & 1) == 0;
      result.fail_memsz_adjust = !pointers && !unsigned_ints;
    }
  } else {
    auto original = type_value(local.kind, &local, &result.validate, poison);
    if (!original) return original.error();
    auto patched = type_value(local.kind, target, nullptr, poison);
    if (!patched) return patched.error();
    result.original = *original;
    result.value = *patched;
  }
  result.poisoned = poison;
  return result;
}

// A name for a message, cut short (an input may make names megabytes long).
std::string quoted(std::string_view text) {
  std::string out = "'";
  out.append(text.substr(0, 128));
  out.append("'");
  return out;
}

}  // namespace

bool detail::is_field_kind(CoreKind kind) { return kind <= CoreKind::FieldRshiftU64; }
bool detail::is_type_kind(CoreKind kind) {
  return (kind >= CoreKind::TypeIdLocal && kind <= CoreKind::TypeSize) || kind == CoreKind::TypeMatches;
}
bool detail::is_enumval_kind(CoreKind kind) {
  return kind == CoreKind::EnumvalExists || kind == CoreKind::EnumvalValue;
}

std::string_view core_kind_name(CoreKind kind) {
  static constexpr std::string_view kNames[] = {"byte_off",    "byte_sz",    "field_exists",   "signed",
                                                "lshift_u64",  "rshift_u64", "local_type_id",  "target_type_id",
                                                "type_exists", "type_size",  "enumval_exists", "enumval_value",
                                                "type_matches"};
  const auto index = static_cast<size_t>(kind);
  return index < std::size(kNames) ? kNames[index] : "unknown";
}

std::string detail::core_raw_text(const std::vector<uint32_t>& raw) {
  std::string out;
  for (size_t i = 0; i < raw.size(); ++i) out.append(i == 0 ? "" : ":").append(std::to_string(raw[i]));
  return out;
}

Expected<CoreSpec> detail::parse_core_spec(const BtfTypes& btf, uint32_t type_id, std::string_view access,
                                           CoreKind kind) {
  CoreSpec spec;
  spec.btf = &btf;
  spec.root_type_id = type_id;
  spec.kind = kind;
  if (type_id == 0 || !btf.valid(type_id))
    return reason("type id " + std::to_string(type_id) + " is not a type of the object's BTF");
  if (access.empty() || access.front() == ':') return reason("access string " + quoted(access) + " is malformed");
  if (is_type_kind(kind)) {
    if (access != "0") return reason("a type relocation's access string is \"0\", not " + quoted(access));
    return spec;
  }
  for (size_t pos = 0; pos < access.size();) {
    if (access[pos] == ':') ++pos;
    uint32_t index = 0;
    auto [end, ec] = std::from_chars(access.data() + pos, access.data() + access.size(), index);
    if (ec != std::errc() || end == access.data() + pos)
      return reason("access string " + quoted(access) + " is not numbers separated by ':'");
    if (index > INT32_MAX) return reason("access string " + quoted(access) + " has an index past 2^31 - 1");
    if (spec.raw.size() == kCoreSpecMaxLength) return reason("access string " + quoted(access) + " is longer than 64");
    spec.raw.push_back(index);
    pos = static_cast<size_t>(end - access.data());
  }
  uint32_t id = btf.skip_mods_and_typedefs(type_id);
  if (id == 0) return reason(btf.describe(type_id) + " cannot be followed to a type");
  spec.accessors.push_back({id, spec.raw[0], {}});
  if (is_enumval_kind(kind)) {
    if (!btf.is_any_enum(id) || spec.raw.size() > 1 || spec.raw[0] >= btf.vlen(id))
      return reason("access " + quoted(access) + " names no enumerator of " + btf.describe(id));
    spec.accessors[0].name = btf.enumerator(id, spec.raw[0]).name;
    return spec;
  }
  auto size = btf.resolve_size(id);
  if (!size) return reason("the size of " + btf.describe(id) + " cannot be resolved");
  constexpr uint64_t kMaxBits = uint64_t{1} << 32;  // libbpf keeps the offset in 32 bits
  const auto add_bits = [&](uint64_t index, uint64_t bytes) -> bool {
    if (bytes != 0 && index > kMaxBits / 8 / bytes) return false;
    spec.bit_offset += index * bytes * 8;
    return spec.bit_offset < kMaxBits;
  };
  if (!add_bits(spec.raw[0], *size)) return reason("access " + quoted(access) + " lies past 4 GiB");
  for (size_t i = 1; i < spec.raw.size(); ++i) {
    id = btf.skip_mods_and_typedefs(id);
    if (id == 0) return reason("access " + quoted(access) + " reaches a type that cannot be followed");
    const uint32_t index = spec.raw[i];
    if (btf.is_composite(id)) {
      if (index >= btf.vlen(id))
        return reason("access " + quoted(access) + ": " + btf.describe(id) + " has no member " + std::to_string(index));
      const BtfMember m = btf.member(id, index);
      spec.bit_offset += m.bit_offset;
      if (spec.bit_offset >= kMaxBits) return reason("access " + quoted(access) + " lies past 4 GiB");
      if (!m.name.empty()) spec.accessors.push_back({id, index, m.name});
      id = m.type;
    } else if (btf.kind(id) == kBtfArray) {
      const BtfArray array = btf.array(id);
      id = btf.skip_mods_and_typedefs(array.type);
      if (id == 0) return reason("access " + quoted(access) + ": an array's element type cannot be followed");
      if (!is_flex_array(btf, &spec.accessors.back(), array) && index >= array.nelems)
        return reason("access " + quoted(access) + ": index " + std::to_string(index) + " is past the array's " +
                      std::to_string(array.nelems) + " elements");
      spec.accessors.push_back({id, index, {}});
      auto element = btf.resolve_size(id);
      if (!element) return reason("the size of " + btf.describe(id) + " cannot be resolved");
      if (!add_bits(index, *element)) return reason("access " + quoted(access) + " lies past 4 GiB");
    } else {
      return reason("access " + quoted(access) + " steps into " + btf.describe(id) + ", not a struct, union or array");
    }
  }
  return spec;
}

std::string detail::core_spec_text(const CoreSpec& spec) {
  if (is_type_kind(spec.kind) || spec.accessors.empty()) return "";
  if (is_enumval_kind(spec.kind)) return std::string(spec.accessors[0].name);
  std::string out;
  for (size_t i = 0; i < spec.accessors.size(); ++i) {
    const CoreAccessor& a = spec.accessors[i];
    if (!a.name.empty())
      out.append(out.empty() ? "" : ".").append(a.name.substr(0, 128));
    else if (i > 0 || a.index != 0)
      out.append("[" + std::to_string(a.index) + "]");
  }
  return out;
}

Expected<Btf> Btf::parse(std::span<const uint8_t> bytes, std::string input_name) {
  Btf btf;
  if (has_elf_magic(bytes)) {  // an object's .BTF, as btf__parse reads an ELF file
    auto reader = Reader::parse(bytes, input_name);
    if (!reader) return reader.error();
    const SectionHeader* section = reader->find(".BTF");
    if (section == nullptr) return fail(Errc::BadHeader, input_name, 0, "the ELF file has no .BTF section");
    auto types = BtfTypes::parse(reader->contents(*section), section->offset, std::move(input_name));
    if (!types) return types.error();
    btf.types_ = std::make_shared<const BtfTypes>(std::move(*types));
    return btf;
  }
  auto types = BtfTypes::parse(bytes, 0, std::move(input_name));
  if (!types) return types.error();
  btf.types_ = std::make_shared<const BtfTypes>(std::move(*types));
  return btf;
}

uint32_t Btf::type_count() const { return types_->count(); }
const std::string& Btf::input_name() const { return types_->input(); }

Expected<CoreResult> EbpfObject::resolve_core(size_t index, const Btf& target_btf) const {
  if (index >= info_.core_relocations.size() || local_btf_ == nullptr)
    return make_error(Errc::OutOfRange, "no CO-RE relocation #" + std::to_string(index));
  const CoreRelocation& relo = info_.core_relocations[index];
  const BtfTypes& local = *local_btf_;
  const BtfTypes& target = target_btf.types();
  const auto failure = [&](const std::string& why) {
    return fail(Errc::Unsupported, input_, relo.at,
                "CO-RE relocation #" + std::to_string(index) + " (" + std::string(core_kind_name(relo.kind)) + " of " +
                    relo.type + (relo.field.empty() ? "" : " " + quoted(relo.field)) + ", access " +
                    quoted(relo.access) + ") at insn " + std::to_string(relo.insn) + " of section " +
                    quoted(relo.section) + " against " + quoted(target.input()) + ": " + why);
  };
  auto local_spec = parse_core_spec(local, relo.type_id, relo.access, relo.kind);
  if (!local_spec) return failure(local_spec.error().message);
  if (relo.kind == CoreKind::TypeIdLocal) {  // no candidates: the object's own id
    CoreResult result;
    result.validate = false;
    result.original = result.value = relo.type_id;
    return result;
  }
  const std::string_view local_name = local.name(relo.type_id);
  if (local_name.empty()) return failure("libbpf does not relocate anonymous types");
  const std::vector<uint32_t>& named =
      target.by_essential_name(local_name.substr(0, essential_name_length(local_name)));
  CoreResult chosen;
  CoreSpec chosen_spec;
  Work work;  // shared by every candidate
  uint32_t matches = 0, candidates = 0;
  for (uint32_t id : named) {
    if (!kinds_compatible(local, relo.type_id, target, id)) continue;
    ++candidates;
    CoreSpec target_spec;
    auto matched = match_spec(*local_spec, target, id, target_spec, work);
    if (!matched) return failure(matched.error().message);
    if (!*matched) continue;
    auto result = calc_relocation(*local_spec, &target_spec);
    if (!result) return failure(result.error().message);
    if (matches == 0) {
      chosen = std::move(*result);
      chosen_spec = std::move(target_spec);
    } else if (target_spec.bit_offset != chosen_spec.bit_offset) {
      return failure("field offset ambiguity: " + target.describe(chosen_spec.root_type_id) + " has it at bit " +
                     std::to_string(chosen_spec.bit_offset) + ", " + target.describe(id) + " at bit " +
                     std::to_string(target_spec.bit_offset));
    } else if (result->poisoned != chosen.poisoned || (!result->poisoned && result->value != chosen.value)) {
      return failure("relocation decision ambiguity: " + target.describe(chosen_spec.root_type_id) + " gives " +
                     std::to_string(chosen.value) + ", " + target.describe(id) + " gives " +
                     std::to_string(result->value));
    }
    ++matches;
  }
  if (matches == 0) {  // expected for existence checks; an instruction that needs a value is poisoned
    auto result = calc_relocation(*local_spec, nullptr);
    if (!result) return failure(result.error().message);
    result->candidates = candidates;
    return result;
  }
  chosen.candidates = candidates;
  chosen.target_type_id = chosen_spec.root_type_id;
  chosen.target_type = target.describe(chosen_spec.root_type_id);
  chosen.target_access = is_type_kind(relo.kind) ? "0" : core_raw_text(chosen_spec.raw);
  return chosen;
}

namespace {

// The row that differs from `op` only in its access width (ldxw -> ldxdw):
// same shape, same class and the same mnemonic once the width is cut off.
std::optional<isa::Op> with_width(isa::Op op, uint32_t bytes) {
  const auto stem = [](std::string_view gnu) {
    for (std::string_view width : {"dw", "w", "h", "b"})
      if (gnu.ends_with(width)) return gnu.substr(0, gnu.size() - width.size());
    return gnu;
  };
  const isa::OpInfo& row = isa::info(op);
  for (const isa::OpInfo& other : isa::kOps)
    if (isa::is_linux(other) && other.shape == row.shape && isa::op_class(other.code) == isa::op_class(row.code) &&
        isa::access_size(other.op) == bytes && stem(other.gnu) == stem(row.gnu))
      return other.op;
  return std::nullopt;
}

// Whether a kept relocation's instruction at slots[0] is one bpfkit keeps
// (and bpf_core_patch_insn patches): an ALU row with an immediate (imm), a
// load or store (off), or a plain lddw (its 64-bit value).
bool core_patchable(std::span<const isa::Slot> slots) {
  const auto op = isa::lookup(slots[0]);
  if (!op || !isa::core_patchable(*op, slots[0])) return false;
  return *op != isa::Op::lddw || (slots.size() > 1 && slots[1].code == 0 && slots[1].regs == 0 && slots[1].off == 0);
}

void poison(isa::Slot& slot) { slot = isa::encode(isa::Op::call, 0, 0, 0, kCorePoisonHelper); }

}  // namespace

// bpf_core_patch_insn, for the slots of one placed piece of code.
Expected<void> EbpfObject::apply_core(uint32_t section, uint32_t first, std::span<isa::Slot> slots, uint32_t base,
                                      const LoadOptions& options, std::vector<isa::Program::CoreSlot>& kept) const {
  auto begin = std::lower_bound(info_.core_relocations.begin(), info_.core_relocations.end(), std::pair(section, first),
                                [](const CoreRelocation& r, std::pair<uint32_t, uint32_t> at) {
                                  return std::pair(r.section_index, r.insn) < at;
                                });
  for (auto it = begin;
       it != info_.core_relocations.end() && it->section_index == section && it->insn < uint64_t{first} + slots.size();
       ++it) {
    const CoreRelocation& relo = *it;
    const auto index = static_cast<size_t>(it - info_.core_relocations.begin());
    const std::string what = "CO-RE relocation #" + std::to_string(index) + " (" +
                             std::string(core_kind_name(relo.kind)) + " of " + relo.type +
                             (relo.field.empty() ? "" : " " + quoted(relo.field)) + ") at insn " +
                             std::to_string(relo.insn) + " of section " + quoted(relo.section);
    if (options.keep_core) {
      if (!core_patchable(slots.subspan(relo.insn - first)))
        return fail(Errc::Unsupported, input_, relo.at,
                    what + ": the instruction " + isa::slot_hex(slots[relo.insn - first]) +
                        " is not one whose relocation bpfkit keeps (ALU with an immediate, load, store, lddw); "
                        "resolve the relocations for one kernel instead (opt --btf FILE)");
      kept.push_back({base + (relo.insn - first), static_cast<uint32_t>(index)});
      continue;
    }
    if (options.core_target == nullptr)
      return fail(Errc::Unsupported, input_, relo.at,
                  what + " needs a target BTF (the kernel's, or --btf FILE) and none was given");
    auto result = resolve_core(index, *options.core_target);
    if (!result) return result.error();
    isa::Slot* insn = &slots[relo.insn - first];
    const bool has_next = relo.insn - first + 1 < slots.size();
    const auto op = isa::lookup(*insn);
    const auto refuse = [&](const std::string& why) {
      return fail(Errc::Unsupported, input_, relo.at, what + ": " + why);
    };
    const bool is_lddw = op && *op == isa::Op::lddw;
    const auto note_poison = [&](const std::string& why) {
      if (options.poisoned != nullptr)
        options.poisoned->push_back(what + " is poisoned at pc " + std::to_string(base + (relo.insn - first)) + ": " +
                                    why + " in " + quoted(options.core_target->input_name()));
    };
    if (result->poisoned) {
      if (is_lddw && has_next) poison(insn[1]);  // a lone second half would read as opcode 0
      poison(*insn);
      note_poison(result->candidates == 0 ? "no type of that name" : "no candidate has the field or value");
      continue;
    }
    const uint8_t cls = isa::op_class(insn->code);
    if (!op) return refuse("the instruction " + isa::slot_hex(*insn) + " is not one the relocation can patch");
    const isa::ShapeInfo& shape = isa::shape_info(*op);
    if ((cls == isa::cls::kAlu || cls == isa::cls::kAlu64) && shape.imm == isa::FieldUse::Value) {
      if (result->validate && static_cast<uint64_t>(static_cast<int64_t>(insn->imm)) != result->original)
        return refuse("the instruction holds " + std::to_string(insn->imm) + ", the object's BTF says " +
                      std::to_string(result->original));
      insn->imm = static_cast<int32_t>(static_cast<uint32_t>(result->value));
    } else if ((cls == isa::cls::kLdx || cls == isa::cls::kSt || cls == isa::cls::kStx) &&
               shape.off == isa::FieldUse::Offset) {
      if (result->validate && static_cast<uint64_t>(static_cast<int64_t>(insn->off)) != result->original)
        return refuse("the instruction's offset is " + std::to_string(insn->off) + ", the object's BTF says " +
                      std::to_string(result->original));
      if (result->value > INT16_MAX)
        return refuse("the field's offset " + std::to_string(result->value) + " does not fit an instruction's offset");
      if (result->fail_memsz_adjust) {  // libbpf poisons a load or store whose width would change unsafely
        poison(*insn);
        note_poison("the field's size changes and it is no pointer or unsigned integer");
        continue;
      }
      insn->off = static_cast<int16_t>(result->value);
      if (result->new_size != result->original_size) {
        if (isa::access_size(*op) != result->original_size)
          return refuse("the access is " + std::to_string(isa::access_size(*op)) + " bytes, the field " +
                        std::to_string(result->original_size));
        auto wider = with_width(*op, result->new_size);
        if (!wider) return refuse("no load or store is " + std::to_string(result->new_size) + " bytes wide");
        insn->code = isa::info(*wider).code;
      }
    } else if (is_lddw && has_next && insn->src() == 0 && insn->off == 0 && insn[1].code == 0 && insn[1].regs == 0 &&
               insn[1].off == 0) {
      const uint64_t held = uint64_t{static_cast<uint32_t>(insn->imm)} | uint64_t{static_cast<uint32_t>(insn[1].imm)}
                                                                             << 32;
      if (result->validate && held != result->original)
        return refuse("the lddw holds " + std::to_string(held) + ", the object's BTF says " +
                      std::to_string(result->original));
      insn->imm = static_cast<int32_t>(static_cast<uint32_t>(result->value));
      insn[1].imm = static_cast<int32_t>(static_cast<uint32_t>(result->value >> 32));
    } else {
      return refuse("the instruction " + isa::slot_hex(*insn) + " (" + std::string(isa::info(*op).gnu) +
                    ") is not one CO-RE patches (ALU with an immediate, load, store, lddw)");
    }
  }
  return {};
}

}  // namespace bpfkit::elf
