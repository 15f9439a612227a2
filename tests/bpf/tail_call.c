/* Tail calls through a prog array: entry jumps to jump[0] (returns 42);
 * with jump[0] empty the call falls through and entry returns 7. */
#include "bpf_defs.h"

struct {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, 2);
  __type(key, u32);
  __type(value, u32);
} jump SEC(".maps");

SEC("socket/next") int next(void *ctx) { return 42; }

SEC("socket") int entry(void *ctx) {
  bpf_tail_call(ctx, &jump, 0);
  return 7;
}
