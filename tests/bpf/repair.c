/* Programs the verifier refuses, one a section, as real programs get
 * refused: an index into a map value that nothing bounds, and a lookup whose
 * NULL is never checked. `bpfkit repair` (module repair) makes each one
 * acceptable; tests/repair runs the repaired code in bpfkit and in the
 * kernel. The index comes from the packet, whose first bytes the tests
 * choose; the map is one array slot of eight u64 (what kernel-oracle -m 64
 * creates), which the tests fill with 100 + i. The returned values stay
 * below 256 so that every run's r0 is the map's value itself. */
#include "ctx_defs.h"

struct table {
  u64 slot[8];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct table);
} table SEC(".maps");

static __attribute__((always_inline)) struct table *lookup(void) {
  u32 key = 0;
  return bpf_map_lookup_elem(&table, &key);
}

/* A byte as the index: up to 255 slots of a table of 8
 * ("invalid access to map value, value_size=64 off=2040 size=8"). */
SEC("xdp") int byte_index(struct xdp_md *ctx) {
  u8 *data = (u8 *)(long)ctx->data, *end = (u8 *)(long)ctx->data_end;
  if (data + 4 > end) return XDP_DROP;
  struct table *t = lookup();
  if (!t) return XDP_DROP;
  return t->slot[data[0]];
}

/* A 32-bit index: "R? unbounded memory access". */
SEC("xdp") int word_index(struct xdp_md *ctx) {
  u32 *data = (u32 *)(long)ctx->data, *end = (u32 *)(long)ctx->data_end;
  if (data + 1 > end) return XDP_DROP;
  struct table *t = lookup();
  if (!t) return XDP_DROP;
  return t->slot[*data];
}

/* A signed index, negative ones included: the pointer add itself is
 * refused ("makes map_value pointer be out of bounds"). */
SEC("xdp") int signed_index(struct xdp_md *ctx) {
  int *data = (int *)(long)ctx->data, *end = (int *)(long)ctx->data_end;
  if (data + 1 > end) return XDP_DROP;
  struct table *t = lookup();
  if (!t) return XDP_DROP;
  return t->slot[*data];
}

/* A store through an index masked too loosely (& 15 for 8 slots): the
 * write is refused; the program returns the slot written. */
SEC("xdp") int masked_store(struct xdp_md *ctx) {
  u8 *data = (u8 *)(long)ctx->data, *end = (u8 *)(long)ctx->data_end;
  if (data + 4 > end) return XDP_DROP;
  struct table *t = lookup();
  if (!t) return XDP_DROP;
  u32 i = data[0] & 15;
  t->slot[i] = 200 + i;
  return i;
}

/* No NULL check after a lookup whose key comes from the packet (with a
 * constant key in range, Linux 6.14 and later know an array lookup cannot
 * fail): "R0 invalid mem access 'map_value_or_null'". Key 0 finds the
 * value; any other key finds nothing. */
SEC("xdp") int unchecked_lookup(struct xdp_md *ctx) {
  u8 *data = (u8 *)(long)ctx->data, *end = (u8 *)(long)ctx->data_end;
  if (data + 4 > end) return XDP_DROP;
  u32 key = data[0];
  struct table *t = bpf_map_lookup_elem(&table, &key);
  return t->slot[1];
}

/* Both at once: two rounds, the NULL check first. The index is the first
 * byte, the key the second. */
SEC("xdp") int unchecked_both(struct xdp_md *ctx) {
  u8 *data = (u8 *)(long)ctx->data, *end = (u8 *)(long)ctx->data_end;
  if (data + 4 > end) return XDP_DROP;
  u32 key = data[1];
  struct table *t = bpf_map_lookup_elem(&table, &key);
  return t->slot[data[0]];
}

/* Refused for something no repair answers: a read of the map value past
 * its end at a constant offset, which no index check can fix. */
SEC("xdp") int past_the_end(struct xdp_md *ctx) {
  struct table *t = lookup();
  if (!t) return XDP_DROP;
  return *(u64 *)((u8 *)t + 64);
}

char LICENSE[] SEC("license") = "GPL";
