/* XDP packet helpers: xdp_load_bytes / xdp_store_bytes, adjust_head,
 * adjust_tail and adjust_meta, each also called with a bad offset or length
 * so that its errno shows; redirect. Each helper's result (0 or its errno)
 * is one byte of the 8 bytes of metadata the program leaves before the
 * frame (data_out starts at data_meta). The frame's Ethernet header is
 * popped and pushed back with the MACs swapped; it is cut to 100 bytes or
 * grown by 8. ARP is redirected to ifindex 1 (XDP_REDIRECT); IPv6 asks for
 * a redirect with a flag (XDP_ABORTED); the rest passes. */
#include "helper_defs.h"

static __attribute__((always_inline)) u8 code(long rc) { return (u8)-rc; }

SEC("xdp") int xdp_adjust(struct xdp_md *ctx) {
  u8 codes[8] = {};
  u8 eth[14], word[4];
  const u32 len = (u32)(ctx->data_end - ctx->data);
  codes[0] = code(bpf_xdp_load_bytes(ctx, 0, eth, sizeof eth));
  codes[1] = code(bpf_xdp_load_bytes(ctx, 0x10000, word, sizeof word));
  codes[2] = code(bpf_xdp_load_bytes(ctx, len - 2, word, sizeof word));
  codes[3] = code(bpf_xdp_adjust_head(ctx, 14));
  if (codes[3] == 0) {
    codes[3] = code(bpf_xdp_adjust_head(ctx, -14));
    u8 tmp[6];
    __builtin_memcpy(tmp, eth, 6);
    __builtin_memcpy(eth, eth + 6, 6);
    __builtin_memcpy(eth + 6, tmp, 6);
    codes[3] |= code(bpf_xdp_store_bytes(ctx, 0, eth, sizeof eth)) << 4;
  }
  codes[4] = code(bpf_xdp_adjust_head(ctx, -300));
  codes[5] = code(bpf_xdp_adjust_tail(ctx, len > 100 ? 100 - (int)len : 8));
  codes[6] = code(bpf_xdp_adjust_tail(ctx, 4000));
  codes[7] = code(bpf_xdp_adjust_meta(ctx, -6));
  if (bpf_xdp_adjust_meta(ctx, -8) != 0) return XDP_ABORTED;
  u8 *meta = (void *)(long)ctx->data_meta;
  if ((void *)(meta + 8) > (void *)(long)ctx->data) return XDP_ABORTED;
  __builtin_memcpy(meta, codes, 8);

  u8 *data = (void *)(long)ctx->data;
  if ((void *)(data + 14) > (void *)(long)ctx->data_end) return XDP_DROP;
  u16 proto = *(u16 *)(data + 12);
  if (proto == bpf_htons(ETH_P_ARP)) return bpf_redirect(1, 0);
  if (proto == bpf_htons(ETH_P_IPV6)) return bpf_redirect(1, 1);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
