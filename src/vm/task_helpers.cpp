// The current-task helpers (kernel/bpf/helpers.c) answering for the
// Context's fake Task, and the string reads (kernel/trace/bpf_trace.c) with
// the kernel's return values and NUL handling.
#include <algorithm>
#include <cstring>

#include "helper_support.hpp"

namespace bpfkit::vm::helper_support {
namespace {

constexpr size_t kTaskCommLen = 16;  // TASK_COMM_LEN

// bpf_get_current_pid_tgid(): tgid << 32 | pid.
Expected<uint64_t> get_current_pid_tgid(HelperCall& call) {
  const Task& task = call.context.task();
  return uint64_t{task.tgid} << 32 | task.pid;
}

// bpf_get_current_uid_gid(): gid << 32 | uid.
Expected<uint64_t> get_current_uid_gid(HelperCall& call) {
  const Task& task = call.context.task();
  return uint64_t{task.gid} << 32 | task.uid;
}

// bpf_get_current_comm(buf, size): the name, cut to size - 1 bytes, NUL
// terminated and padded with zeros (strscpy_pad); 0.
Expected<uint64_t> get_current_comm(HelperCall& call) {
  const auto size = static_cast<uint32_t>(call.args[1]);
  auto buf = guest_bytes(call, "buf", call.args[0], size, true);
  if (!buf) return buf.error();
  if (size == 0) return 0;
  const std::string& comm = call.context.task().comm;
  const size_t copied = std::min({comm.size(), kTaskCommLen - 1, size_t{size} - 1});
  std::fill(buf->begin(), buf->end(), 0);
  std::memcpy(buf->data(), comm.data(), copied);
  return 0;
}

// bpf_probe_read_str / _user_str / _kernel_str(dst, size, src): copies up
// to and including the NUL, at most size bytes (the last one then becomes
// NUL), and returns the bytes copied with the NUL; an unreadable byte
// before that is -EFAULT with dst zeroed. size 0 copies nothing.
Expected<uint64_t> probe_read_str(HelperCall& call) {
  const auto size = static_cast<uint32_t>(call.args[1]);
  auto dst = guest_bytes(call, "dst", call.args[0], size, true);
  if (!dst) return dst.error();
  const uint64_t src = call.args[2];
  for (uint32_t i = 0; i < size; ++i) {
    const uint8_t* byte = call.memory.translate(src + i, 1, false);
    if (byte == nullptr) {
      std::fill(dst->begin(), dst->end(), 0);
      return negative(-kEFAULT);
    }
    (*dst)[i] = *byte;
    if (*byte == 0) return i + 1;
  }
  if (size != 0) (*dst)[size - 1] = 0;
  return size;
}

}  // namespace

void add_task_helpers(HelperTable& table) {
  table.add(14, get_current_pid_tgid);
  table.add(15, get_current_uid_gid);
  table.add(16, get_current_comm);
  table.add(35, [](HelperCall& call) -> Expected<uint64_t> { return call.context.task().address; });
  table.add(45, probe_read_str);
  table.add(114, probe_read_str);
  table.add(115, probe_read_str);
}

}  // namespace bpfkit::vm::helper_support
