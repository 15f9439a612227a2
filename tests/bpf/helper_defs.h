/* The helpers of bpfkit's packet, task and string helper tests, as libbpf's
 * bpf_helper_defs.h declares them, written out so the tests need no libbpf. */
#ifndef BPFKIT_TEST_HELPER_DEFS_H
#define BPFKIT_TEST_HELPER_DEFS_H

#include "ctx_defs.h"

struct bpf_tunnel_key {
  u32 tunnel_id;
  union {
    u32 remote_ipv4;
    u32 remote_ipv6[4];
  };
  u8 tunnel_tos, tunnel_ttl;
  u16 tunnel_ext;
  u32 tunnel_label;
  union {
    u32 local_ipv4;
    u32 local_ipv6[4];
  };
};

struct bpf_fib_lookup {
  u8 family, l4_protocol;
  u16 sport, dport, tot_len;
  u32 ifindex, tos;
  u32 ipv6_src[4], ipv6_dst[4];
  u32 vlan, mark;
  u8 smac[6], dmac[6];
};

enum {
  BPF_F_RECOMPUTE_CSUM = 1,
  BPF_F_PSEUDO_HDR = 1 << 4,
  BPF_F_MARK_MANGLED_0 = 1 << 5,
  BPF_F_TUNINFO_IPV6 = 1,
  BPF_F_ZERO_CSUM_TX = 1 << 1,
};

static long (*bpf_skb_store_bytes)(void *skb, u32 offset, const void *from, u32 len, u64 flags) = (void *)9;
static long (*bpf_l3_csum_replace)(void *skb, u32 offset, u64 from, u64 to, u64 size) = (void *)10;
static long (*bpf_l4_csum_replace)(void *skb, u32 offset, u64 from, u64 to, u64 flags) = (void *)11;
static u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static u64 (*bpf_get_current_uid_gid)(void) = (void *)15;
static long (*bpf_get_current_comm)(void *buf, u32 size) = (void *)16;
static long (*bpf_skb_get_tunnel_key)(void *skb, struct bpf_tunnel_key *key, u32 size, u64 flags) = (void *)20;
static long (*bpf_skb_set_tunnel_key)(void *skb, struct bpf_tunnel_key *key, u32 size, u64 flags) = (void *)21;
static long (*bpf_redirect)(u32 ifindex, u64 flags) = (void *)23;
static long (*bpf_skb_load_bytes)(const void *skb, u32 offset, void *to, u32 len) = (void *)26;
static s64 (*bpf_csum_diff)(u32 *from, u32 from_size, u32 *to, u32 to_size, u32 seed) = (void *)28;
static u64 (*bpf_get_current_task)(void) = (void *)35;
static long (*bpf_skb_change_tail)(void *skb, u32 len, u64 flags) = (void *)38;
static long (*bpf_skb_change_head)(void *skb, u32 len, u64 flags) = (void *)43;
static long (*bpf_xdp_adjust_head)(struct xdp_md *xdp_md, int delta) = (void *)44;
static long (*bpf_probe_read_str)(void *dst, u32 size, const void *unsafe_ptr) = (void *)45;
static long (*bpf_redirect_map)(void *map, u64 key, u64 flags) = (void *)51;
static long (*bpf_xdp_adjust_meta)(struct xdp_md *xdp_md, int delta) = (void *)54;
static long (*bpf_xdp_adjust_tail)(struct xdp_md *xdp_md, int delta) = (void *)65;
static long (*bpf_fib_lookup)(void *ctx, struct bpf_fib_lookup *params, int plen, u32 flags) = (void *)69;
static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *unsafe_ptr) = (void *)113;
static long (*bpf_probe_read_user_str)(void *dst, u32 size, const void *unsafe_ptr) = (void *)114;
static long (*bpf_probe_read_kernel_str)(void *dst, u32 size, const void *unsafe_ptr) = (void *)115;
static long (*bpf_xdp_load_bytes)(struct xdp_md *xdp_md, u32 offset, void *buf, u32 len) = (void *)189;
static long (*bpf_xdp_store_bytes)(struct xdp_md *xdp_md, u32 offset, void *buf, u32 len) = (void *)190;

#endif
