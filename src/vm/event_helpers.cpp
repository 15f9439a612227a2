// The helpers that report events and ask about the task's place
// (kernel/trace/bpf_trace.c, kernel/bpf/stackmap.c, net/core/filter.c):
// bpf_perf_event_output into a perf event array's records, bpf_get_stackid
// and bpf_get_stack over the Task's described stacks, and the cgroup tests
// (current_task_under_cgroup, skb_under_cgroup) over the Task's cgroups.
// Each returns the kernel's errno for the same bad index, flag or size.
#include <algorithm>
#include <cstring>

#include "helper_support.hpp"

namespace bpfkit::vm::helper_support {
namespace {

using isa::ProgramType;

constexpr uint64_t kIndexMask = 0xffffffffULL;      // BPF_F_INDEX_MASK
constexpr uint64_t kCurrentCpu = kIndexMask;        // BPF_F_CURRENT_CPU
constexpr uint64_t kCtxLenMask = 0xfffffULL << 32;  // BPF_F_CTXLEN_MASK
constexpr uint32_t kCurrentCpuNumber = 0;           // bpf_get_smp_processor_id's answer
constexpr uint64_t kSkipMask = 0xff;                // BPF_F_SKIP_FIELD_MASK
constexpr uint64_t kUserStack = 1 << 8;             // BPF_F_USER_STACK
constexpr uint64_t kFastStackCmp = 1 << 9;          // BPF_F_FAST_STACK_CMP
constexpr uint64_t kReuseStackid = 1 << 10;         // BPF_F_REUSE_STACKID
constexpr uint64_t kUserBuildId = 1 << 11;          // BPF_F_USER_BUILD_ID
constexpr uint32_t kBuildIdEntry = 32;              // sizeof(struct bpf_stack_build_id)
constexpr int32_t kBuildIdStatusIp = 1;             // BPF_STACK_BUILD_ID_IP: no build id, the address

bool has_skb(ProgramType type) {
  return type == ProgramType::Tc || type == ProgramType::TcAction || type == ProgramType::Socket;
}

// The map argument at args[index] as the kind `want` names, or an error
// naming the helper's argument (what the verifier would have refused).
Expected<Map*> map_of_type(HelperCall& call, int index, isa::MapType want, const char* what) {
  Map* map = call.context.map_by_handle(call.args[index]);
  if (map == nullptr || map->type() != want) {
    // Built up piece by piece: GCC 12 warns (-Wrestrict, falsely) on "r" + to_string(...).
    std::string message(1, 'r');
    message.append(std::to_string(index + 1)).append(" is not ").append(what).append(" handle");
    return make_error(Errc::HelperFailed, message);
  }
  return map;
}

// The packet bytes a tc or XDP program's perf_event_output appends to its
// record (the flags' BPF_F_CTXLEN_MASK): from skb->data or xdp->data. Null
// when the run has no packet of that kind.
const Packet* event_packet(const Context& context) {
  const ProgramType type = context.program_type();
  return type == ProgramType::Xdp || has_skb(type) ? context.packet() : nullptr;
}

// bpf_perf_event_output(ctx, map, flags, data, size) and its skb / xdp forms
// (bpf_skb_event_output, bpf_xdp_event_output, chosen by the program type):
// the record goes to the slot BPF_F_CURRENT_CPU (CPU 0 here) or the index
// names; -E2BIG past max_entries, -ENOENT for a slot without a reader,
// -EOPNOTSUPP for another CPU's slot (its event is not on this CPU), -EINVAL
// for unknown flags, -EFAULT for a packet length past the packet. The record
// is what a perf buffer reader gets: the data, the packet bytes asked for,
// zeros up to the raw sample's 8-byte alignment (with its u32 size).
Expected<uint64_t> perf_event_output(HelperCall& call) {
  auto map = map_of_type(call, 1, isa::MapType::PerfEventArray, "a perf event array");
  if (!map) return map.error();
  auto data = guest_bytes(call, "data", call.args[3], call.args[4], false);
  if (!data) return data.error();
  const uint64_t flags = call.args[2];
  const Packet* packet = event_packet(call.context);
  const uint64_t allowed = packet != nullptr ? kIndexMask | kCtxLenMask : kIndexMask;
  if ((flags & ~allowed) != 0) return negative(-kEINVAL);
  const uint32_t packet_bytes = static_cast<uint32_t>((flags & kCtxLenMask) >> 32);
  if (packet != nullptr && packet_bytes > packet->end - packet->data) return negative(-kEFAULT);
  const uint64_t index = (flags & kIndexMask) == kCurrentCpu ? kCurrentCpuNumber : flags & kIndexMask;
  PerfEventArray& events = *(*map)->perf_event_array();
  if (index >= (*map)->spec().max_entries) return negative(-kE2BIG);
  if (!events.has_reader(static_cast<uint32_t>(index))) return negative(-kENOENT);
  if (index != kCurrentCpuNumber) return negative(-kEOPNOTSUPP);
  std::vector<uint8_t> record(data->begin(), data->end());
  if (packet_bytes != 0) {
    const uint8_t* from = packet->buffer.data() + packet->data;
    record.insert(record.end(), from, from + packet_bytes);
  }
  record.resize(((record.size() + 4 + 7) & ~size_t{7}) - 4, 0);
  events.output(static_cast<uint32_t>(index), record);
  return 0;
}

// The stack bpf_get_stackid / bpf_get_stack see: the Task's kernel or user
// stack (run --task kstack=..., ustack=...), empty unless described.
const std::vector<uint64_t>& stack_of(const Context& context, uint64_t flags) {
  return (flags & kUserStack) != 0 ? context.task().user_stack : context.task().kernel_stack;
}

// bpf_get_stackid(ctx, map, flags): the id of the stack (less `skip`
// frames) in a stack trace map; -EFAULT when there is no stack deeper than
// skip (userspace has no stack of its own: a run without a described one
// gets this, as the kernel answers when it cannot walk a callchain), -EEXIST
// for another stack in its bucket without BPF_F_REUSE_STACKID.
Expected<uint64_t> get_stackid(HelperCall& call) {
  auto map = map_of_type(call, 1, isa::MapType::StackTrace, "a stack trace map");
  if (!map) return map.error();
  const uint64_t flags = call.args[2];
  if ((flags & ~(kSkipMask | kUserStack | kFastStackCmp | kReuseStackid)) != 0) return negative(-kEINVAL);
  const std::vector<uint64_t>& stack = stack_of(call.context, flags);
  const uint64_t skip = flags & kSkipMask;
  if (stack.size() <= skip) return negative(-kEFAULT);
  const int64_t id = (*map)->stack_trace()->store(std::span(stack).subspan(skip), (flags & kReuseStackid) != 0);
  return static_cast<uint64_t>(id);
}

// bpf_get_stack(ctx, buf, size, flags): the stack (less `skip` frames) as
// u64 addresses, or with BPF_F_USER_BUILD_ID as bpf_stack_build_id entries
// (status BPF_STACK_BUILD_ID_IP: no file is mapped to give a build id);
// returns the bytes written, the rest of buf zeroed. -EINVAL (buf zeroed)
// for unknown flags, a build id of the kernel stack or a size that is not a
// whole number of entries; -EFAULT (buf zeroed) when the stack is shorter
// than skip.
Expected<uint64_t> get_stack(HelperCall& call) {
  const auto size = static_cast<uint32_t>(call.args[2]);
  auto buf = guest_bytes(call, "buf", call.args[1], size, true);
  if (!buf) return buf.error();
  const uint64_t flags = call.args[3];
  const bool user = (flags & kUserStack) != 0, build_id = (flags & kUserBuildId) != 0;
  const auto fail = [&](int err) {
    std::fill(buf->begin(), buf->end(), 0);
    return negative(err);
  };
  if ((flags & ~(kSkipMask | kUserStack | kUserBuildId)) != 0 || (!user && build_id)) return fail(-kEINVAL);
  const uint32_t entry = build_id ? kBuildIdEntry : 8;
  if (size % entry != 0) return fail(-kEINVAL);
  const std::vector<uint64_t>& stack = stack_of(call.context, flags);
  const uint64_t skip = flags & kSkipMask;
  if (stack.empty() || stack.size() < skip) return fail(-kEFAULT);
  const size_t count = std::min<size_t>(stack.size() - skip, size / entry);
  std::fill(buf->begin(), buf->end(), 0);
  for (size_t i = 0; i < count; ++i) {
    uint8_t* at = buf->data() + i * entry;
    if (build_id) {
      std::memcpy(at, &kBuildIdStatusIp, 4);
      at += kBuildIdEntry - 8;  // the union of offset and ip, after the 20-byte id
    }
    std::memcpy(at, &stack[skip + i], 8);
  }
  return count * entry;
}

// The cgroup in slot `index` of a cgroup array (its id here; the kernel
// holds the cgroup an fd named), as both cgroup tests read it: -E2BIG past
// max_entries, -EAGAIN for an empty slot; else 1 when the task is in it or
// below it, 0 otherwise.
uint64_t under_cgroup(HelperCall& call, Map& map, uint32_t index) {
  if (index >= map.spec().max_entries) return negative(-kE2BIG);
  const std::span<uint8_t> slot = map.lookup({reinterpret_cast<const uint8_t*>(&index), sizeof index});
  if (slot.empty()) return negative(-kEAGAIN);
  uint32_t id = 0;
  std::memcpy(&id, slot.data(), std::min<size_t>(slot.size(), sizeof id));
  const std::vector<uint64_t>& cgroups = call.context.task().cgroups;
  return std::find(cgroups.begin(), cgroups.end(), id) != cgroups.end() ? 1 : 0;
}

// bpf_current_task_under_cgroup(map, index).
Expected<uint64_t> current_task_under_cgroup(HelperCall& call) {
  auto map = map_of_type(call, 0, isa::MapType::CgroupArray, "a cgroup array");
  if (!map) return map.error();
  return under_cgroup(call, **map, static_cast<uint32_t>(call.args[1]));
}

// bpf_skb_under_cgroup(skb, map, index): the cgroup of the packet's socket.
// A test run's skb belongs to the kernel's dummy socket, created in the
// cgroup of the task that runs the test: so the Task's cgroups answer.
Expected<uint64_t> skb_under_cgroup(HelperCall& call) {
  if (!has_skb(call.context.program_type()) || call.context.packet() == nullptr)
    return make_error(Errc::HelperFailed,
                      "needs the packet of a tc or socket filter program-type run (--type, --packet)");
  auto map = map_of_type(call, 1, isa::MapType::CgroupArray, "a cgroup array");
  if (!map) return map.error();
  return under_cgroup(call, **map, static_cast<uint32_t>(call.args[2]));
}

}  // namespace

void add_event_helpers(HelperTable& table) {
  table.add(25, perf_event_output);
  table.add(27, get_stackid);
  table.add(33, skb_under_cgroup);
  table.add(37, current_task_under_cgroup);
  table.add(67, get_stack);
}

}  // namespace bpfkit::vm::helper_support
