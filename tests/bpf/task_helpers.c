/* A tracing program using the current-task helpers and the string reads:
 * it prints the fake task's pid, tgid, uid, gid and name, what reading
 * through bpf_get_current_task's pointer gives (-EFAULT, zeroed), and the
 * lengths and bytes the string reads return for a short and a cut string. */
#include "helper_defs.h"

#define PRINT(fmt, ...)                           \
  ({                                              \
    static const char f[] = fmt;                  \
    bpf_trace_printk(f, sizeof f, ##__VA_ARGS__); \
  })

SEC("kprobe/do_nanosleep") int task_helpers(void *ctx) {
  u64 pid_tgid = bpf_get_current_pid_tgid();
  u64 uid_gid = bpf_get_current_uid_gid();
  char comm[16];
  long rc = bpf_get_current_comm(comm, sizeof comm);
  PRINT("pid %u tgid %u comm %s\n", (u32)pid_tgid, (u32)(pid_tgid >> 32), comm);
  PRINT("uid %u gid %u rc %d\n", (u32)uid_gid, (u32)(uid_gid >> 32), rc);

  u64 task = bpf_get_current_task();
  u32 through_task = 0x55555555;
  rc = bpf_probe_read_kernel(&through_task, sizeof through_task, (void *)(task + 1234));
  PRINT("task read rc %d value %u nonzero %d\n", rc, through_task, task != 0);

  char cut[4];
  long n1 = bpf_probe_read_kernel_str(cut, sizeof cut, comm);
  char whole[24];
  long n2 = bpf_probe_read_user_str(whole, sizeof whole, comm);
  long n3 = bpf_probe_read_str(whole, 0, comm);
  PRINT("str %d '%s' %d\n", n1, cut, n2);
  PRINT("str0 %d bad %d zeroed %d\n", n3, bpf_probe_read_kernel_str(cut, sizeof cut, (void *)task), cut[0] == 0);
  return (u32)pid_tgid;
}

char LICENSE[] SEC("license") = "GPL";
