// CO-RE access specifications (libbpf's struct bpf_core_spec), shared by
// the `.BTF.ext` reader (which describes each relocation) and the resolver.
// Not part of the public interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bpfkit/elf.hpp"
#include "btf_types.hpp"

namespace bpfkit::elf::detail {

inline constexpr size_t kCoreSpecMaxLength = 64;  // BPF_CORE_SPEC_MAX_LEN

// One step of an access: a named member (name non-empty) or an array index.
struct CoreAccessor {
  uint32_t type_id = 0;  // the struct or union holding the member, or the array's element type
  uint32_t index = 0;    // member index or array index
  std::string_view name;
};

struct CoreSpec {
  const BtfTypes* btf = nullptr;
  uint32_t root_type_id = 0;
  CoreKind kind = CoreKind::FieldByteOffset;
  std::vector<CoreAccessor> accessors;  // named members and array indices (anonymous members are skipped)
  std::vector<uint32_t> raw;            // every index of the access string
  uint64_t bit_offset = 0;
};

bool is_field_kind(CoreKind kind);
bool is_type_kind(CoreKind kind);
bool is_enumval_kind(CoreKind kind);

// libbpf's bpf_core_parse_spec: `access` ("0:1:2") followed through `btf`
// from `type_id`. The error is a reason (the caller adds where).
Expected<CoreSpec> parse_core_spec(const BtfTypes& btf, uint32_t type_id, std::string_view access, CoreKind kind);
// The access as a reader writes it: "pid", "se.vruntime", "[1].comm[2]",
// an enumerator's name; empty for a type relocation.
std::string core_spec_text(const CoreSpec& spec);
// "0:1:2"
std::string core_raw_text(const std::vector<uint32_t>& raw);

}  // namespace bpfkit::elf::detail
