/* The program-type contexts (include/uapi/linux/bpf.h) and the packet
 * headers bpfkit's program-type test programs parse, written out so the
 * tests need no kernel or libbpf headers. */
#ifndef BPFKIT_TEST_CTX_DEFS_H
#define BPFKIT_TEST_CTX_DEFS_H

#include "bpf_defs.h"

struct xdp_md {
  u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

struct __sk_buff {
  u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto, priority, ingress_ifindex,
      ifindex, tc_index, cb[5], hash, tc_classid, data, data_end, napi_id, family, remote_ip4, local_ip4, remote_ip6[4],
      local_ip6[4], remote_port, local_port, data_meta;
  u64 flow_keys, tstamp;
  u32 wire_len, gso_segs;
  u64 sk;
  u32 gso_size;
  u8 tstamp_type;
  u64 hwtstamp;
};

enum { XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };
enum { TC_ACT_OK = 0, TC_ACT_SHOT = 2 };

struct ethhdr {
  u8 h_dest[6], h_source[6];
  u16 h_proto;
};
struct vlan_hdr {
  u16 tci, proto;
};
struct iphdr {
  u8 ihl_version, tos;
  u16 tot_len, id, frag_off;
  u8 ttl, protocol;
  u16 check;
  u32 saddr, daddr;
};
struct ipv6hdr {
  u32 flow;
  u16 payload_len;
  u8 nexthdr, hop_limit;
  u8 saddr[16], daddr[16];
};
struct l4ports {
  u16 source, dest;
};

#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_IPV6 0x86DD
#define IPPROTO_IPIP 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define bpf_htons(x) ((u16)((((x)&0xff) << 8) | (((x) >> 8) & 0xff)))

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");

#endif
