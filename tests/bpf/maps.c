/* BTF-defined maps: a hash map of counters filled in a loop, and an array.
 * counts: key 0 = 0+3+6+9 = 18, key 1 = 1+4+7 = 12, key 2 = 2+5+8 = 15;
 * r0 = 18 * 10000 + 12 * 100 + 15 = 181215, also stored in totals[0]. */
#include "bpf_defs.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, u32);
  __type(value, u64);
} counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, u64);
} totals SEC(".maps");

SEC("tc") int maps(void *ctx) {
  for (u32 i = 0; i < 10; i++) {
    u32 key = i % 3;
    u64 *value = bpf_map_lookup_elem(&counts, &key);
    if (value) {
      *value += i;
    } else {
      u64 first = i;
      bpf_map_update_elem(&counts, &key, &first, BPF_NOEXIST);
    }
  }
  u64 result = 0;
  for (u32 key = 0; key < 3; key++) {
    u64 *value = bpf_map_lookup_elem(&counts, &key);
    if (value) result = result * 100 + *value;
  }
  u32 zero = 0;
  u64 *total = bpf_map_lookup_elem(&totals, &zero);
  if (total) *total = result;
  return (int)result;
}
