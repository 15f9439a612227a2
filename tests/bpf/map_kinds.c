/* Maps of the kinds beyond arrays and hashes, used from an XDP program:
 * an lpm_trie (longest prefix), a queue and a stack (push/pop/peek), a bloom
 * filter, an array and a hash of maps filled by `.values`, and lookups in a
 * devmap, a devmap_hash and an xskmap (empty unless user space fills them).
 * Each part's answer goes in `out`; r0 sums them (see each line).
 * A second program (`other`) uses a perf event array, a cgroup array, a
 * cpumap and a stack trace map: loading `map_kinds` creates none of them. */
#include "bpf_defs.h"

#define __array(name, val) typeof(val) *name[]
#define BPF_F_NO_PREALLOC 1

static long (*bpf_map_push_elem)(void *map, const void *value, u64 flags) = (void *)87;
static long (*bpf_map_pop_elem)(void *map, void *value) = (void *)88;
static long (*bpf_map_peek_elem)(void *map, void *value) = (void *)89;

struct xdp_md {
  u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

struct lpm_key {
  u32 prefixlen;
  u8 addr[4];
};

struct {
  __uint(type, 11); /* BPF_MAP_TYPE_LPM_TRIE */
  __uint(max_entries, 16);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct lpm_key);
  __type(value, u32);
} routes SEC(".maps");

struct {
  __uint(type, 22); /* BPF_MAP_TYPE_QUEUE */
  __uint(max_entries, 4);
  __type(value, u32);
} fifo SEC(".maps");

struct {
  __uint(type, 23); /* BPF_MAP_TYPE_STACK */
  __uint(max_entries, 4);
  __type(value, u32);
} lifo SEC(".maps");

struct {
  __uint(type, 30); /* BPF_MAP_TYPE_BLOOM_FILTER */
  __uint(max_entries, 16);
  __type(value, u32);
} seen SEC(".maps");

struct inner {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u64);
};
struct inner inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
  __uint(type, 12); /* BPF_MAP_TYPE_ARRAY_OF_MAPS */
  __uint(max_entries, 2);
  __type(key, u32);
  __array(values, struct inner);
} outer SEC(".maps") = {.values = {&inner_a, &inner_b}};

struct {
  __uint(type, 13); /* BPF_MAP_TYPE_HASH_OF_MAPS */
  __uint(max_entries, 4);
  __type(key, u32);
  __array(values, struct inner);
} by_id SEC(".maps") = {.values = {[1] = &inner_a}};

struct {
  __uint(type, 14); /* BPF_MAP_TYPE_DEVMAP */
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, u32);
} tx_port SEC(".maps");

struct {
  __uint(type, 25); /* BPF_MAP_TYPE_DEVMAP_HASH */
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, u32);
} tx_hash SEC(".maps");

struct {
  __uint(type, 17); /* BPF_MAP_TYPE_XSKMAP */
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, u32);
} xsks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 8);
  __type(key, u32);
  __type(value, u64);
} out SEC(".maps");

static __noinline void put(u32 slot, u64 value) {
  u64 *at = bpf_map_lookup_elem(&out, &slot);
  if (at) *at = value;
}

/* 10.0.0.0/8 -> 1, 10.1.0.0/16 -> 2, 10.1.2.0/24 -> 3; then 10.1.2.3,
 * 10.1.9.9, 10.9.9.9 and 11.0.0.0 give 3, 2, 1, 0: 3210. */
static __noinline u64 longest_prefix(void) {
  struct lpm_key key = {8, {10, 0, 0, 0}};
  u32 value = 1;
  bpf_map_update_elem(&routes, &key, &value, BPF_ANY);
  key.prefixlen = 16, key.addr[1] = 1, value = 2;
  bpf_map_update_elem(&routes, &key, &value, BPF_ANY);
  key.prefixlen = 24, key.addr[2] = 2, value = 3;
  bpf_map_update_elem(&routes, &key, &value, BPF_ANY);
  static const u8 probes[4][4] = {{10, 1, 2, 3}, {10, 1, 9, 9}, {10, 9, 9, 9}, {11, 0, 0, 0}};
  u64 result = 0;
  for (int i = 0; i < 4; i++) {
    struct lpm_key probe = {32, {probes[i][0], probes[i][1], probes[i][2], probes[i][3]}};
    u32 *found = bpf_map_lookup_elem(&routes, &probe);
    result = result * 10 + (found ? *found : 0);
  }
  return result;
}

/* push 1, 2, 3 to each; the queue pops 1, the stack 3; a pop of an empty
 * queue is -ENOENT (-2): 1 * 100 + 3 * 10 + 2 = 132. */
static __noinline u64 queue_and_stack(void) {
  /* Unrolled: a counter kept on the stack across the calls is one the
   * kernel's verifier cannot bound ("infinite loop detected"). */
  u32 values[3] = {1, 2, 3};
  for (int i = 0; i < 3; i++) {
    bpf_map_push_elem(&fifo, &values[i], BPF_ANY);
    bpf_map_push_elem(&lifo, &values[i], BPF_ANY);
  }
  u32 first = 0, last = 0, peeked = 0;
  bpf_map_pop_elem(&fifo, &first);
  bpf_map_pop_elem(&lifo, &last);
  bpf_map_peek_elem(&fifo, &peeked); /* 2, left in place */
  bpf_map_pop_elem(&fifo, &peeked);
  bpf_map_pop_elem(&fifo, &peeked);
  long empty = bpf_map_pop_elem(&fifo, &peeked);
  return first * 100 + last * 10 + (u64)(-empty);
}

/* 5 and 7 in the filter; 5 is found (0), 6 is not (-ENOENT): 2. */
static __noinline u64 bloom(void) {
  u32 five = 5, seven = 7, six = 6;
  bpf_map_push_elem(&seen, &five, BPF_ANY);
  bpf_map_push_elem(&seen, &seven, BPF_ANY);
  long hit = bpf_map_peek_elem(&seen, &five), miss = bpf_map_peek_elem(&seen, &six);
  return (u64)(hit * 10 - miss);
}

/* outer[1] is inner_b, by_id[1] is inner_a: add 5 to inner_b[0] and 7 to
 * inner_a[0] through them, 9 to inner_a[0] directly: 5 * 100 + 16 = 516;
 * outer[0] is inner_a too (then 516 + 1000 * 16 = 16516). */
static __noinline u64 maps_of_maps(void) {
  u32 one = 1, zero = 0;
  u64 result = 0;
  void *b = bpf_map_lookup_elem(&outer, &one);
  void *a = bpf_map_lookup_elem(&by_id, &one);
  if (!a || !b) return 99;
  u64 *vb = bpf_map_lookup_elem(b, &zero);
  u64 *va = bpf_map_lookup_elem(a, &zero);
  u64 *direct = bpf_map_lookup_elem(&inner_a, &zero);
  if (!va || !vb || !direct) return 98;
  *vb += 5;
  *va += 7;
  *direct += 9;
  result = *vb * 100 + *va;
  void *a_again = bpf_map_lookup_elem(&outer, &zero);
  if (a_again) {
    u64 *v = bpf_map_lookup_elem(a_again, &zero);
    if (v) result += *v * 1000;
  }
  return result;
}

/* Empty unless user space filled them: 0 each, 1 for a present key 0. */
static __noinline u64 device_maps(void) {
  u32 zero = 0;
  u64 found = 0;
  if (bpf_map_lookup_elem(&tx_port, &zero)) found += 100;
  if (bpf_map_lookup_elem(&tx_hash, &zero)) found += 10;
  if (bpf_map_lookup_elem(&xsks, &zero)) found += 1;
  return found;
}

/* 3210 + 132 + 2 + 16516 + device_maps() = 19860 with empty device maps. */
SEC("xdp") int map_kinds(struct xdp_md *ctx) {
  u64 parts[5] = {longest_prefix(), queue_and_stack(), bloom(), maps_of_maps(), device_maps()};
  u64 sum = 0;
  for (u32 i = 0; i < 5; i++) {
    put(i, parts[i]);
    sum += parts[i];
  }
  return (int)sum;
}

/* ---- Another program's maps: none of them is created for map_kinds. ---- */

struct {
  __uint(type, 4); /* BPF_MAP_TYPE_PERF_EVENT_ARRAY: max_entries 0, sized to the CPUs */
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} events SEC(".maps");

struct {
  __uint(type, 8); /* BPF_MAP_TYPE_CGROUP_ARRAY */
  __uint(max_entries, 1);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} cgroups SEC(".maps");

struct {
  __uint(type, 16); /* BPF_MAP_TYPE_CPUMAP */
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, u32);
} cpus SEC(".maps");

struct {
  __uint(type, 7); /* BPF_MAP_TYPE_STACK_TRACE */
  __uint(max_entries, 16);
  __uint(key_size, sizeof(u32));
  __uint(value_size, 8 * 8);
} stacks SEC(".maps");

struct {
  __uint(type, 15); /* BPF_MAP_TYPE_SOCKMAP: bpfkit has none */
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, u32);
} socks SEC(".maps");

static long (*bpf_perf_event_output)(void *ctx, void *map, u64 flags, void *data, u64 size) = (void *)25;
static long (*bpf_get_stackid)(void *ctx, void *map, u64 flags) = (void *)27;
static long (*bpf_redirect_map)(void *map, u64 key, u64 flags) = (void *)51;
static long (*bpf_current_task_under_cgroup)(void *map, u32 index) = (void *)37;

SEC("xdp") int other(struct xdp_md *ctx) {
  u32 zero = 0;
  bpf_perf_event_output(ctx, &events, 0xffffffffULL, &zero, sizeof zero);
  bpf_get_stackid(ctx, &stacks, 0);
  bpf_current_task_under_cgroup(&cgroups, 0);
  bpf_map_lookup_elem(&socks, &zero);
  return (int)bpf_redirect_map(&cpus, 0, 0);
}

/* A cpumap takes no lookup: the kernel refuses the pair once the arguments
 * are checked (check_map_func_compatibility). */
SEC("xdp") int wrong_map(struct xdp_md *ctx) {
  u32 key = 0;
  return bpf_map_lookup_elem(&cpus, &key) != 0;
}
