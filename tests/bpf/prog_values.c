/* A BTF prog array the object fills itself (`.values = { [0] = &first,
 * [2] = &second }`, as libbpf's init_prog_array_slots does): entry counts
 * 1 and tail-calls slot 0 (first), which counts 2 and tail-calls slot 2
 * (second), which counts 3 and returns 42. `hits` is shared by all three:
 * 123 after one run. Slot 1 is empty: a call to it falls through. */
#include "bpf_defs.h"

#define __array(name, val) typeof(val) *name[]

int first(void *ctx);
int second(void *ctx);

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 4);
  __uint(key_size, sizeof(u32));
  __array(values, int(void *));
} jump SEC(".maps") = {.values = {[0] = (void *)&first, [2] = (void *)&second}};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u64);
} hits SEC(".maps");

static __noinline void count(u64 step) {
  u32 zero = 0;
  u64 *value = bpf_map_lookup_elem(&hits, &zero);
  if (value) *value = *value * 10 + step;
}

SEC("socket/second") int second(void *ctx) {
  count(3);
  return 42;
}

SEC("socket/first") int first(void *ctx) {
  count(2);
  bpf_tail_call(ctx, &jump, 1); /* empty: falls through */
  bpf_tail_call(ctx, &jump, 2);
  return 1;
}

SEC("socket") int entry(void *ctx) {
  count(1);
  bpf_tail_call(ctx, &jump, 0);
  return 7;
}
