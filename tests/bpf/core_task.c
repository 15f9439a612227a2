/* CO-RE against the running kernel, as tracing tools write it: fields of
 * the kernel's task_struct at the offsets its BTF gives, read through a
 * probe read (kprobe) and through direct loads from BTF pointers
 * (tp_btf), with a guard on a field no kernel has. libbpf resolves the
 * relocations when it loads the object; `bpfkit opt` keeps them, so its
 * output loads wherever the input does. */
#include "bpf_defs.h"
#include "core_defs.h"

static u64 (*bpf_get_current_task)(void) = (void *)35;

struct task_struct {
  int pid;
  int tgid;
  struct task_struct *real_parent;
  char comm[16];
  int bpfkit_no_such_field;
} __attribute__((preserve_access_index));

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, int);
  __type(value, u64);
} switches SEC(".maps");

/* The parent's tgid and the first letters of its name, read by probe. */
SEC("kprobe/do_nanosleep") int parent_of_sleeper(void *ctx) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct task_struct *parent = BPF_CORE_READ(task, real_parent);
  if (bpf_core_field_exists(task->bpfkit_no_such_field)) return -1;
  int tgid = BPF_CORE_READ(parent, tgid);
  char first = BPF_CORE_READ(parent, comm[0]);
  return first == 's' ? tgid : -tgid;
}

/* Counts switches away from each pid: direct loads through the BTF
 * pointers sched_switch passes (preempt, prev, next). */
SEC("tp_btf/sched_switch") int count_switches(u64 *ctx) {
  struct task_struct *prev = (struct task_struct *)ctx[1];
  struct task_struct *next = (struct task_struct *)ctx[2];
  int pid = prev->pid;
  if (pid == 0 || prev->tgid == next->tgid) return 0;
  u64 one = 1;
  u64 *count = bpf_map_lookup_elem(&switches, &pid);
  if (count) {
    __sync_fetch_and_add(count, 1);
    return 0;
  }
  bpf_map_update_elem(&switches, &pid, &one, BPF_ANY);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
