/* An XDP parser in the tutorials' style: Ethernet, up to two VLAN tags,
 * IPv4 (IP-in-IP followed once) or IPv6, then TCP/UDP ports, each header
 * bounds-checked against data_end. TCP to port 80 is bounced (XDP_TX, MACs
 * swapped), UDP is dropped, ARP and the rest pass. The return value also
 * says what was seen: action | l4 protocol << 8 | VLAN tags << 16 | the
 * frame's length << 20 (the packet size a program reads from data_end). */
#include "ctx_defs.h"

static __attribute__((always_inline)) void swap_macs(struct ethhdr *eth) {
  u8 tmp[6];
  __builtin_memcpy(tmp, eth->h_dest, 6);
  __builtin_memcpy(eth->h_dest, eth->h_source, 6);
  __builtin_memcpy(eth->h_source, tmp, 6);
}

SEC("xdp") int xdp_parse(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  const u32 length = (u32)(data_end - data);
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_ABORTED;
  u16 proto = eth->h_proto;
  void *cursor = eth + 1;
  u32 tags = 0;
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if (proto != bpf_htons(ETH_P_8021Q)) break;
    struct vlan_hdr *vlan = cursor;
    if ((void *)(vlan + 1) > data_end) return XDP_DROP;
    proto = vlan->proto;
    cursor = vlan + 1;
    tags++;
  }
  u32 l4 = 0;
  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = cursor;
    if ((void *)(ip + 1) > data_end) return XDP_DROP;
    l4 = ip->protocol;
    cursor = ip + 1;
    if (l4 == IPPROTO_IPIP) {
      struct iphdr *inner = cursor;
      if ((void *)(inner + 1) > data_end) return XDP_DROP;
      l4 = inner->protocol;
      cursor = inner + 1;
    }
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = cursor;
    if ((void *)(ip6 + 1) > data_end) return XDP_DROP;
    l4 = ip6->nexthdr;
    cursor = ip6 + 1;
  } else {
    return XDP_PASS | length << 20 | tags << 16;
  }
  u32 action = XDP_PASS;
  if (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP) {
    struct l4ports *ports = cursor;
    if ((void *)(ports + 1) > data_end) return XDP_DROP;
    if (l4 == IPPROTO_UDP) action = XDP_DROP;
    if (l4 == IPPROTO_TCP && ports->dest == bpf_htons(80)) {
      swap_macs(eth);
      action = XDP_TX;
    }
  }
  return action | l4 << 8 | tags << 16 | length << 20 | ctx->ingress_ifindex << 31;
}

char LICENSE[] SEC("license") = "GPL";
