/* The event, stack and cgroup helpers, and XDP redirects through every
 * kind of redirect map, one program each. The helpers' answers go in `out`
 * (negated errnos as positive numbers, cgroup answers plus 100), so that a
 * run's map dump shows each one:
 *  - perf_out (xdp): bpf_perf_event_output to this CPU's slot, to slot 1000
 *    (-E2BIG), with 8 bytes of the packet appended, with a flag past
 *    BPF_F_CTXLEN_MASK (-EINVAL). Without a reader: -ENOENT, the kernel's
 *    answer for a map nobody opened; `bpfkit run` reads every CPU's slot.
 *  - in_cgroup (tc): bpf_skb_under_cgroup for slots 0 (the root cgroup:
 *    101), 1 (a cgroup the task is not in: 100), 2 (empty: -EAGAIN, 89),
 *    9 (past max_entries: -E2BIG, 93).
 *  - stacks (kprobe): bpf_get_stackid, bpf_get_stack (bytes written) and
 *    bpf_current_task_under_cgroup on slot 1.
 *  - to_devmap, to_devmap_hash, to_cpumap, to_xskmap, to_missing (xdp):
 *    bpf_redirect_map(map, key, XDP_PASS): XDP_REDIRECT (4) when the slot
 *    is filled, else XDP_PASS (to_missing: XDP_DROP). */
#include "bpf_defs.h"
#include "ctx_defs.h"

static long (*bpf_perf_event_output)(void *ctx, void *map, u64 flags, void *data, u64 size) = (void *)25;
static long (*bpf_get_stackid)(void *ctx, void *map, u64 flags) = (void *)27;
static long (*bpf_skb_under_cgroup)(void *skb, void *map, u32 index) = (void *)33;
static long (*bpf_current_task_under_cgroup)(void *map, u32 index) = (void *)37;
static long (*bpf_redirect_map)(void *map, u64 key, u64 flags) = (void *)51;
static long (*bpf_get_stack)(void *ctx, void *buf, u32 size, u64 flags) = (void *)67;

#define BPF_F_CURRENT_CPU 0xffffffffULL

struct {
  __uint(type, 4); /* BPF_MAP_TYPE_PERF_EVENT_ARRAY: max_entries 0, sized to the CPUs */
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} events SEC(".maps");

struct {
  __uint(type, 8); /* BPF_MAP_TYPE_CGROUP_ARRAY */
  __uint(max_entries, 4);
  __uint(key_size, sizeof(u32));
  __uint(value_size, sizeof(u32));
} cgroups SEC(".maps");

struct {
  __uint(type, 7); /* BPF_MAP_TYPE_STACK_TRACE */
  __uint(max_entries, 16);
  __uint(key_size, sizeof(u32));
  __uint(value_size, 4 * sizeof(u64));
} stack_map SEC(".maps");

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
  __uint(type, 16); /* BPF_MAP_TYPE_CPUMAP */
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, u32);
} cpus SEC(".maps");

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

SEC("xdp") int perf_out(struct xdp_md *ctx) {
  u32 data = 0x11223344;
  put(0, -bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &data, sizeof data));
  put(1, -bpf_perf_event_output(ctx, &events, 1000, &data, sizeof data));
  put(2, -bpf_perf_event_output(ctx, &events, (8ULL << 32) | BPF_F_CURRENT_CPU, &data, sizeof data));
  put(3, -bpf_perf_event_output(ctx, &events, 1ULL << 52, &data, sizeof data));
  return XDP_PASS;
}

SEC("tc") int in_cgroup(struct __sk_buff *skb) {
  put(0, 100 + bpf_skb_under_cgroup(skb, &cgroups, 0));
  put(1, 100 + bpf_skb_under_cgroup(skb, &cgroups, 1));
  put(2, 100 + bpf_skb_under_cgroup(skb, &cgroups, 2));
  put(3, 100 + bpf_skb_under_cgroup(skb, &cgroups, 9));
  return TC_ACT_OK;
}

SEC("kprobe/do_nanosleep") int stacks(void *ctx) {
  u64 ips[4];
  put(0, bpf_get_stackid(ctx, &stack_map, 0));
  put(1, bpf_get_stack(ctx, ips, sizeof ips, 0));
  put(2, ips[0]);
  put(3, 100 + bpf_current_task_under_cgroup(&cgroups, 1));
  return 0;
}

SEC("xdp") int to_devmap(struct xdp_md *ctx) { return bpf_redirect_map(&tx_port, 0, XDP_PASS); }
SEC("xdp") int to_devmap_hash(struct xdp_md *ctx) { return bpf_redirect_map(&tx_hash, 7, XDP_PASS); }
SEC("xdp") int to_cpumap(struct xdp_md *ctx) { return bpf_redirect_map(&cpus, 0, XDP_PASS); }
SEC("xdp") int to_xskmap(struct xdp_md *ctx) { return bpf_redirect_map(&xsks, 0, XDP_PASS); }
SEC("xdp") int to_missing(struct xdp_md *ctx) { return bpf_redirect_map(&tx_port, 3, XDP_DROP); }
