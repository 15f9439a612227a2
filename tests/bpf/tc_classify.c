/* A tc classifier reading __sk_buff: the fields the kernel fills on a test
 * run (len, pkt_type, protocol, ifindex, wire_len, mark, priority, cb),
 * direct packet access through data / data_end, and a rewrite of the IPv4
 * TOS byte. Returns a checksum of everything it read; TC_ACT_SHOT (2) for
 * frames too short for an IPv4 header. */
#include "ctx_defs.h"

SEC("tc") int tc_classify(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;
  u32 sum = skb->len * 3 + skb->pkt_type * 5 + skb->protocol * 7 + skb->ifindex * 11 + skb->wire_len * 13 +
            skb->mark * 17 + skb->priority * 19 + skb->cb[0] * 23 + skb->vlan_present * 29 + skb->gso_segs;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return TC_ACT_SHOT;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end) return TC_ACT_SHOT;
    ip->tos = 0x10;
    sum += ip->protocol * 31 + ip->ttl;
  }
  skb->mark = sum;
  return sum & 0xffff;
}

char LICENSE[] SEC("license") = "GPL";
