/* Ring buffer output: five records by bpf_ringbuf_output (i * i), one by
 * reserve + submit (99). r0 = 6 records sent. */
#include "bpf_defs.h"

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

SEC("tp/ringbuf") int ringbuf(void *ctx) {
  int sent = 0;
  for (u64 i = 0; i < 5; i++) {
    u64 value = i * i;
    if (bpf_ringbuf_output(&events, &value, sizeof value, 0) == 0) sent++;
  }
  u64 *slot = bpf_ringbuf_reserve(&events, sizeof(u64), 0);
  if (slot) {
    *slot = 99;
    bpf_ringbuf_submit(slot, 0);
    sent++;
  }
  return sent;
}
