/* A legacy map definition in the `maps` section. r0 = 42. */
#include "bpf_defs.h"

struct bpf_map_def SEC("maps") hits = {
    .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 2};

SEC("socket") int legacy_maps(void *ctx) {
  u32 key = 1;
  u64 *value = bpf_map_lookup_elem(&hits, &key);
  if (!value) return -1;
  *value += 41;
  (*value)++;
  return (int)*value;
}
