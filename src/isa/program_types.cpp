// The program type table, from isa/program_types.def.
#include <array>
#include <string_view>

#include "bpfkit/isa.hpp"

namespace bpfkit::isa {
namespace {

constexpr uint32_t bit(ProgramType type) { return uint32_t{1} << static_cast<unsigned>(type); }
// Who may read or write a field (program_types.def's masks).
constexpr uint32_t kNone = 0;
constexpr uint32_t kTcOnly = bit(ProgramType::Tc) | bit(ProgramType::TcAction);
constexpr uint32_t kSkbAll = kTcOnly | bit(ProgramType::Socket);
constexpr uint32_t kXdp = bit(ProgramType::Xdp);

constexpr ProgramTypeInfo kTypes[] = {
#define PROGRAM_TYPE(Enumerator, kernel_id, name, context) \
  {ProgramType::Enumerator, kernel_id, name, ProgramContext::context},
#include "bpfkit/isa/program_types.def"
};

struct Section {
  std::string_view prefix;
  ProgramType type;
};
constexpr Section kSections[] = {
#define SECTION(prefix, Type) {prefix, ProgramType::Type},
#include "bpfkit/isa/program_types.def"
};

constexpr CtxField kFields[] = {
#define CTX_FIELD(context, name, offset, size, kind, rule, readers, writers, ctx_in) \
  {ProgramContext::context, name, offset, size, CtxKind::kind, CtxRule::rule, readers, writers, CtxIn::ctx_in},
#include "bpfkit/isa/program_types.def"
};

// The rows of each layout are together and in offset order, without overlaps.
consteval bool layouts_are_ordered() {
  for (size_t i = 1; i < std::size(kFields); ++i)
    if (kFields[i].context == kFields[i - 1].context && kFields[i].offset < kFields[i - 1].offset + kFields[i - 1].size)
      return false;
  return true;
}
static_assert(layouts_are_ordered(), "program_types.def: a layout's fields must be in offset order");

consteval bool types_are_in_order() {
  for (size_t i = 0; i < std::size(kTypes); ++i)
    if (static_cast<size_t>(kTypes[i].type) != i) return false;
  return true;
}
static_assert(types_are_in_order());

}  // namespace

const ProgramTypeInfo& program_type_info(ProgramType type) { return kTypes[static_cast<size_t>(type)]; }

std::span<const ProgramTypeInfo> program_types() { return kTypes; }

std::optional<ProgramType> program_type_named(std::string_view name) {
  for (const ProgramTypeInfo& info : kTypes)
    if (info.name == name) return info.type;
  return std::nullopt;
}

std::optional<ProgramType> program_type_of_section(std::string_view section) {
  for (const Section& entry : kSections) {
    if (section == entry.prefix) return entry.type;
    if (section.starts_with(entry.prefix) && section.size() > entry.prefix.size() &&
        section[entry.prefix.size()] == '/')
      return entry.type;
  }
  return std::nullopt;
}

std::span<const CtxField> ctx_fields(ProgramContext context) {
  size_t first = 0;
  while (first < std::size(kFields) && kFields[first].context != context) ++first;
  size_t end = first;
  while (end < std::size(kFields) && kFields[end].context == context) ++end;
  return std::span<const CtxField>(kFields).subspan(first, end - first);
}

uint32_t ctx_size(ProgramContext context) {
  switch (context) {
    case ProgramContext::SkBuff: return 192;  // sizeof(struct __sk_buff)
    case ProgramContext::XdpMd: return 24;    // sizeof(struct xdp_md)
    case ProgramContext::Buffer:
    case ProgramContext::Bytes: return 0;
  }
  return 0;
}

const CtxField* ctx_field_named(ProgramContext context, std::string_view name) {
  for (const CtxField& field : ctx_fields(context))
    if (field.name == name) return &field;
  return nullptr;
}

const CtxField* ctx_field_at(ProgramContext context, int64_t offset, int64_t size) {
  if (offset < 0 || size <= 0) return nullptr;
  for (const CtxField& field : ctx_fields(context))
    if (offset >= field.offset && offset + size <= int64_t{field.offset} + field.size) return &field;
  return nullptr;
}

CtxKind ctx_access(ProgramType type, int64_t offset, int size, bool write) {
  if (size <= 0 || offset < 0 || offset % size != 0) return CtxKind::Invalid;
  const CtxField* field = ctx_field_at(program_type_info(type).context, offset, size);
  if (field == nullptr || ((write ? field->writers : field->readers) & bit(type)) == 0) return CtxKind::Invalid;
  switch (field->rule) {
    case CtxRule::Never: return CtxKind::Invalid;
    case CtxRule::Whole:
      if (static_cast<uint32_t>(size) != (field->size > 8 ? 4 : field->size)) return CtxKind::Invalid;
      break;
    case CtxRule::Narrow:
      if (write ? static_cast<uint32_t>(size) != field->size : size > 4) return CtxKind::Invalid;
      break;
    case CtxRule::Within: break;
  }
  return field->kind == CtxKind::Scalar || !write ? field->kind : CtxKind::Invalid;
}

}  // namespace bpfkit::isa
