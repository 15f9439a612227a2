// Module isa: Linux program types (isa/program_types.def): their kernel ids,
// the ELF section names libbpf gives them, and their contexts (struct
// __sk_buff, struct xdp_md) field by field, with the kernel's access rules
// and what BPF_PROG_TEST_RUN's ctx_in may set. Included at the end of
// bpfkit/isa.hpp. The verifier checks context accesses here and the VM lays
// out test-run contexts from here, so both agree.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace bpfkit::isa {

enum class ProgramType : uint8_t {
#define PROGRAM_TYPE(Enumerator, kernel_id, name, context) Enumerator,
#include "bpfkit/isa/program_types.def"
};

// What r1 points to at entry.
enum class ProgramContext : uint8_t {
  Buffer,  // bpfkit's raw type: a buffer (r2 = its length)
  SkBuff,  // struct __sk_buff (192 bytes)
  XdpMd,   // struct xdp_md (24 bytes)
  Bytes,   // tracing types: bytes the caller describes (pt_regs, a tracepoint's record, ...)
};

// What reading a context field gives.
enum class CtxKind : uint8_t { Invalid, Scalar, Packet, PacketEnd, PacketMeta };
// Which access sizes a field allows (see program_types.def).
enum class CtxRule : uint8_t { Narrow, Whole, Within, Never };
// What BPF_PROG_TEST_RUN's ctx_in may hold in a field.
enum class CtxIn : uint8_t { Zero, Set, In };

struct CtxField {
  ProgramContext context;
  std::string_view name;
  uint32_t offset, size;
  CtxKind kind;
  CtxRule rule;
  uint32_t readers, writers;  // bit (1 << ProgramType) per type that may read / write it
  CtxIn ctx_in;
};

struct ProgramTypeInfo {
  ProgramType type;
  uint32_t kernel_id;     // enum bpf_prog_type (0: bpfkit's raw type)
  std::string_view name;  // "xdp", "tc", "socket", ...
  ProgramContext context;
};

const ProgramTypeInfo& program_type_info(ProgramType type);
std::span<const ProgramTypeInfo> program_types();
std::optional<ProgramType> program_type_named(std::string_view name);
// The type libbpf gives a section: "xdp", "tc/ingress", "kprobe/do_exit", ...
std::optional<ProgramType> program_type_of_section(std::string_view section);

// Every field of a context layout, in offset order; its size in bytes (0
// for Buffer and Bytes, whose size the caller gives).
std::span<const CtxField> ctx_fields(ProgramContext context);
uint32_t ctx_size(ProgramContext context);
const CtxField* ctx_field_named(ProgramContext context, std::string_view name);
// The field [offset, offset + size) lies in, if it lies in one.
const CtxField* ctx_field_at(ProgramContext context, int64_t offset, int64_t size);

// What a program of `type` gets from an access to its context at `offset`
// of `size` bytes (a write when `write`), as the kernel's
// *_is_valid_access functions decide: Invalid where the kernel refuses.
CtxKind ctx_access(ProgramType type, int64_t offset, int size, bool write);

}  // namespace bpfkit::isa
