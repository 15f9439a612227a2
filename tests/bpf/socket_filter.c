/* A socket filter in the classic style: legacy packet loads (LD_ABS) from
 * the network header, where a socket filter's view of the frame starts.
 * Keeps the whole IPv4 packet for TCP and UDP (returns skb->len), the first
 * 64 bytes of anything else IPv4, nothing of other protocols. */
#include "ctx_defs.h"

SEC("socket") int socket_filter(struct __sk_buff *skb) {
  if (skb->protocol != bpf_htons(ETH_P_IP)) return 0;
  const u32 version = load_byte(skb, 0) >> 4;
  if (version != 4) return 0;
  const u32 proto = load_byte(skb, 9);
  if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) return skb->len + load_half(skb, 2) * 0;
  return 64;
}

char LICENSE[] SEC("license") = "GPL";
