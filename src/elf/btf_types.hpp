// A BTF type table as CO-RE reads it (libbpf's struct btf, for the parts
// relo_core.c uses): every type record indexed by id, its name, kind and
// kind-specific data, each read bounded. Used for the object's own BTF (the
// "local" types CO-RE relocations name) and for the target BTF they are
// resolved against (/sys/kernel/btf/vmlinux, or `--btf FILE`).
// Not part of the public interface (elf.hpp has Btf, a handle to one).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpfkit/elf_format.hpp"
#include "bpfkit/expected.hpp"

namespace bpfkit::elf::detail {

enum BtfKind : uint8_t {
  kBtfUnknown = 0,
  kBtfInt,
  kBtfPtr,
  kBtfArray,
  kBtfStruct,
  kBtfUnion,
  kBtfEnum,
  kBtfFwd,
  kBtfTypedef,
  kBtfVolatile,
  kBtfConst,
  kBtfRestrict,
  kBtfFunc,
  kBtfFuncProto,
  kBtfVar,
  kBtfDatasec,
  kBtfFloat,
  kBtfDeclTag,
  kBtfTypeTag,
  kBtfEnum64,
};

struct BtfMember {
  std::string_view name;
  uint32_t type = 0;
  uint32_t bit_offset = 0;
  uint32_t bitfield_size = 0;  // 0: not a bitfield
};

struct BtfArray {
  uint32_t type = 0, index_type = 0, nelems = 0;
};

struct BtfEnumerator {
  std::string_view name;
  uint64_t value = 0;  // as libbpf reads it: a 32-bit enum's value sign- or zero-extended by its kflag
};

class BtfTypes {
 public:
  // Raw BTF (what /sys/kernel/btf/vmlinux holds) starting at `file_offset`
  // of `input`; the bytes are copied.
  static Expected<BtfTypes> parse(std::span<const uint8_t> btf, uint64_t file_offset, std::string input);
  BtfTypes() = default;
  BtfTypes(BtfTypes&&) = default;  // moves keep the views into bytes_ valid; copies would not
  BtfTypes& operator=(BtfTypes&&) = default;
  BtfTypes(const BtfTypes&) = delete;
  BtfTypes& operator=(const BtfTypes&) = delete;

  uint32_t count() const { return static_cast<uint32_t>(types_.size()); }  // type ids are below this; 0 is void
  bool valid(uint32_t id) const { return id < types_.size(); }
  BtfKind kind(uint32_t id) const { return valid(id) ? types_[id].kind : kBtfUnknown; }
  std::string_view name(uint32_t id) const;
  // A string of the string section (`.BTF.ext` names sections and access strings by offset).
  std::optional<std::string_view> string_at(uint32_t offset) const { return strings_.at(offset); }
  uint32_t vlen(uint32_t id) const { return valid(id) ? types_[id].vlen : 0; }
  bool kflag(uint32_t id) const { return valid(id) && types_[id].kflag; }
  uint32_t size_or_type(uint32_t id) const { return valid(id) ? types_[id].size_or_type : 0; }
  uint64_t file_offset(uint32_t id) const { return valid(id) ? types_[id].at : 0; }
  const std::string& input() const { return input_; }

  bool is_composite(uint32_t id) const { return kind(id) == kBtfStruct || kind(id) == kBtfUnion; }
  bool is_any_enum(uint32_t id) const { return kind(id) == kBtfEnum || kind(id) == kBtfEnum64; }
  // Members of a STRUCT or UNION (i < vlen), the ARRAY record, enumerators
  // of an ENUM or ENUM64, an INT's encoding (BTF_INT_SIGNED 1) and bit offset.
  BtfMember member(uint32_t id, uint32_t i) const;
  BtfArray array(uint32_t id) const;
  BtfEnumerator enumerator(uint32_t id, uint32_t i) const;
  uint32_t param_type(uint32_t id, uint32_t i) const;  // a FUNC_PROTO's parameter
  uint8_t int_encoding(uint32_t id) const { return static_cast<uint8_t>((extra32(id, 0) >> 24) & 0x0f); }
  uint8_t int_offset(uint32_t id) const { return static_cast<uint8_t>((extra32(id, 0) >> 16) & 0xff); }

  // libbpf's skip_mods_and_typedefs: follows TYPEDEF, VOLATILE, CONST,
  // RESTRICT and TYPE_TAG; 0 (void) for a bad id or a chain past 32 links.
  uint32_t skip_mods_and_typedefs(uint32_t id) const;
  // libbpf's btf__resolve_size; nullopt where it fails (no size, too deep, overflow).
  std::optional<uint64_t> resolve_size(uint32_t id) const;
  // "struct task_struct", "int", "enum e", "typedef u32", "[5] (anonymous struct)"...
  std::string describe(uint32_t id) const;
  // Type ids whose name, without a `___flavor` suffix, is `essential` (an
  // index parse() builds: candidate search is one lookup per relocation).
  const std::vector<uint32_t>& by_essential_name(std::string_view essential) const;

 private:
  struct Type {
    uint64_t at = 0;
    uint32_t name = 0, vlen = 0, size_or_type = 0;
    uint32_t extra = 0;  // offset in bytes_ of the data after the 12-byte record
    BtfKind kind = kBtfUnknown;
    bool kflag = false;
  };
  uint32_t extra32(uint32_t id, uint64_t offset) const;

  std::string input_;
  std::vector<uint8_t> bytes_;  // the type section, then the string section
  StringTable strings_;         // views into bytes_
  std::vector<Type> types_;
  std::unordered_map<std::string_view, std::vector<uint32_t>> by_essential_name_;  // views into bytes_
};

// libbpf's bpf_core_essential_name_len: the length of `name` without a
// `___flavor` suffix ("task_struct___v2" -> 11).
size_t essential_name_length(std::string_view name);

}  // namespace bpfkit::elf::detail
