/* A devmap (14, named by the kernel) the program never uses, and a map of
 * an id no kernel defines (99) that it does. objdump names the first and
 * shows the id of the second; run refuses the second by name (the first is
 * not created). r0 = 7 if it ever ran. */
#include "bpf_defs.h"

struct {
  __uint(type, 14); /* BPF_MAP_TYPE_DEVMAP */
  __uint(max_entries, 8);
  __type(key, u32);
  __type(value, u32);
} ports SEC(".maps");

struct {
  __uint(type, 99);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u32);
} odd SEC(".maps");

SEC("xdp") int map_types(void *ctx) {
  u32 key = 0;
  u32 *value = bpf_map_lookup_elem(&odd, &key);
  return value ? 1 : 7;
}
