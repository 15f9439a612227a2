// Module isa: the Linux BPF helpers (isa/helpers.def): every id the kernel
// defines with its name, and the prototype of each one bpfkit implements.
// Included at the end of bpfkit/isa.hpp. The VM names helpers in its errors
// from here, the disassembler and objdump name calls, and the verifier checks
// each call's arguments against the prototype.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace bpfkit::isa {

// An argument's type, as the kernel's enum bpf_arg_type names it.
enum class HelperArg : uint8_t {
  None,
  Anything,              // ARG_ANYTHING: any initialised value
  DontCare,              // ARG_DONTCARE: passed and read by the helper, never checked (trace_printk's values)
  ConstMapPtr,           // ARG_CONST_MAP_PTR
  MapKey,                // ARG_PTR_TO_MAP_KEY: key_size readable bytes
  MapValue,              // ARG_PTR_TO_MAP_VALUE: value_size readable bytes
  UninitMapValue,        // ARG_PTR_TO_MAP_VALUE | MEM_UNINIT: value_size bytes written (map_pop_elem)
  ReadOnlyMem,           // ARG_PTR_TO_MEM | MEM_RDONLY, sized by the next argument
  UninitMem,             // ARG_PTR_TO_UNINIT_MEM, written, sized by the next argument
  Mem,                   // ARG_PTR_TO_MEM: read and written (initialised), sized by the next argument
  ReadOnlyMemOrNull,     // ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY: or NULL with a size of 0
  ConstSize,             // ARG_CONST_SIZE
  ConstSizeOrZero,       // ARG_CONST_SIZE_OR_ZERO
  Ctx,                   // ARG_PTR_TO_CTX
  ConstAllocSizeOrZero,  // ARG_CONST_ALLOC_SIZE_OR_ZERO (ringbuf_reserve)
  RingBufMemRelease,     // ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE (ringbuf_submit / discard)
};

// The return type (enum bpf_return_type).
enum class HelperRet : uint8_t {
  Integer,           // RET_INTEGER
  Void,              // RET_VOID
  MapValueOrNull,    // RET_PTR_TO_MAP_VALUE_OR_NULL
  RingBufMemOrNull,  // RET_PTR_TO_RINGBUF_MEM_OR_NULL (acquires a reference)
};

// Which program types have a helper: the kernel decides per type in its
// *_func_proto functions; these are the groups those functions share.
enum class HelperGroup : uint8_t {
  Base,         // bpf_base_func_proto: every type
  BasePerfmon,  // bpf_base_func_proto, only with CAP_PERFMON
  Tracing,      // bpf_tracing_func_proto: kprobes, tracepoints, perf events
  Skb,          // sk_filter_func_proto and tc_cls_act_func_proto: socket filters and tc
  Tc,           // tc_cls_act_func_proto: tc classifiers and actions
  Xdp,          // xdp_func_proto
  TcXdp,        // both tc_cls_act_func_proto and xdp_func_proto
  SkbXdp,       // sk_filter_func_proto, tc_cls_act_func_proto and xdp_func_proto
};

struct HelperProto {
  HelperRet ret;
  HelperGroup group;
  uint32_t map_type;  // the map argument's required MapType (0: a data map)
  std::array<HelperArg, 5> args;
};

struct HelperInfo {
  uint32_t id;
  std::string_view name;     // the kernel's: "bpf_get_current_pid_tgid"
  const HelperProto* proto;  // null: bpfkit does not implement it
};

// The helper with kernel id `id`, or null for an id the kernel lacks.
const HelperInfo* helper_info(uint32_t id);
// Every helper, by id (index = id).
std::span<const HelperInfo> helper_infos();
// "bpf_get_current_pid_tgid", or "" for an unknown id.
std::string_view helper_name(uint32_t id);
// Whether a call of helper `id` may move or resize the packet, so that the
// verifier forgets every packet pointer after it (the kernel's
// bpf_helper_changes_pkt_data, for the helpers bpfkit implements).
bool helper_changes_packet(uint32_t id);
// "14 (bpf_get_current_pid_tgid)", or "9999" for an id the kernel lacks:
// how messages name a helper.
std::string describe_helper(uint32_t id);

// The id libbpf's CO-RE poisoning calls (bpf_core_poison_insn, "bad relo"):
// an instruction whose relocation matched nothing in the target BTF. Like
// the kernel, a loader accepts it and only a run that reaches it fails.
inline constexpr uint32_t kCorePoisonHelper = 0xbad2310;

}  // namespace bpfkit::isa
