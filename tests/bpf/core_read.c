/* CO-RE: one program per kind of relocation, each reading `struct task`
 * through r1 as the object was compiled to see it. Run against a target
 * BTF (tests/bpf/core_target_*.c, the kernel's) the loads follow the
 * target's layout. */
#include "bpf_defs.h"
#include "core_defs.h"

struct task {
  int pid;
  int tgid;
  unsigned long long start_time;
  char comm[16];
  unsigned int flags : 3;
  int mode : 5;
  int extra;
} __attribute__((preserve_access_index));

/* A flavor: matches a target `struct task`, the suffix ignored. */
struct task___v2 {
  int tgid;
} __attribute__((preserve_access_index));

enum task_state { STATE_RUNNING = 1, STATE_ZOMBIE = 2 };

SEC("tracepoint/core/tgid") int read_tgid(struct task *t) { return t->tgid; }

SEC("tracepoint/core/start") long read_start_time(struct task *t) { return t->start_time; }

SEC("tracepoint/core/comm") int read_comm(struct task *t) { return t->comm[2]; }

SEC("tracepoint/core/bitfield") long read_mode(struct task *t) { return BPF_CORE_READ_BITFIELD(t, mode); }

SEC("tracepoint/core/probe") int probe_pid(struct task *t) { return BPF_CORE_READ(t, pid); }

/* The guard: where the target has no `extra`, the load is poisoned and dead. */
SEC("tracepoint/core/guarded") int guarded_extra(struct task *t) {
  if (bpf_core_field_exists(t->extra)) return t->extra;
  return -1;
}

/* No guard: where the target has no `extra`, the run reaches the poison. */
SEC("tracepoint/core/unguarded") int unguarded_extra(struct task *t) { return t->extra; }

SEC("tracepoint/core/flavor") int read_flavor(struct task___v2 *t) { return t->tgid; }

/* Sizes, offsets and type facts as numbers: field size * 1000 + offset *
 * 10 + whether struct task exists; the struct's size in the high half. */
SEC("tracepoint/core/facts") long type_facts(void *ctx) {
  struct task *t = 0;
  long facts = bpf_core_field_size(t->start_time) * 1000 + bpf_core_field_offset(t->start_time) * 10 +
               bpf_core_type_exists(struct task);
  return facts + ((long)bpf_core_type_size(struct task) << 32);
}

/* Enum values: the value of STATE_RUNNING * 10 + whether STATE_ZOMBIE exists. */
SEC("tracepoint/core/enum") long enum_facts(void *ctx) {
  return bpf_core_enum_value(enum task_state, STATE_RUNNING) * 10 +
         bpf_core_enum_value_exists(enum task_state, STATE_ZOMBIE);
}

/* Against the kernel's BTF: two fields of its task_struct, and one it lacks. */
struct task_struct {
  int pid;
  int tgid;
  int bpfkit_no_such_field;
} __attribute__((preserve_access_index));

SEC("kprobe/core_kernel") long kernel_tgid(struct task_struct *t) {
  if (bpf_core_field_exists(t->bpfkit_no_such_field)) return -1;
  return t->tgid;
}

char LICENSE[] SEC("license") = "GPL";
