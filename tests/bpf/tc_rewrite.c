/* tc packet helpers: skb_load_bytes / skb_store_bytes, l3 and l4 checksum
 * replacement and csum_diff (an IPv4 packet's TTL and destination address
 * rewritten, the checksums kept right), tunnel metadata, the FIB lookup,
 * skb_change_tail and skb_change_head, each also with a bad offset, length
 * or flag so that its errno shows. The results (0 or the errno, a byte each,
 * and csum_diff's 32-bit sums) are appended to the packet, which grows by
 * 32 bytes, after 4 bytes pushed at its head. ARP is redirected to ifindex
 * 1 (TC_ACT_REDIRECT); IPv6 asks for a redirect with a bad flag
 * (TC_ACT_SHOT). */
#include "helper_defs.h"

static __attribute__((always_inline)) u8 code(long rc) { return (u8)-rc; }

#define AF_INET 2
#define IP_OFF 14

SEC("tc") int tc_rewrite(struct __sk_buff *skb) {
  u8 codes[32] = {};
  u8 eth[14];
  u32 word = 0;
  const u32 len = skb->len;
  codes[0] = code(bpf_skb_load_bytes(skb, 0, eth, sizeof eth));
  word = 0xffffffff;
  codes[1] = code(bpf_skb_load_bytes(skb, len - 2, &word, sizeof word));
  codes[2] = word == 0;  // zeroed on failure
  codes[3] = code(bpf_skb_store_bytes(skb, len - 2, &word, sizeof word, 0));
  codes[4] = code(bpf_skb_store_bytes(skb, 0, eth, sizeof eth, 4));

  struct iphdr ip;
  if (eth[12] == 0x08 && eth[13] == 0 && bpf_skb_load_bytes(skb, IP_OFF, &ip, sizeof ip) == 0) {
    /* TTL - 1: the 16-bit word ttl|protocol changes. */
    u16 old_word = *(u16 *)&ip.ttl;
    ip.ttl -= 1;
    u16 new_word = *(u16 *)&ip.ttl;
    codes[5] = code(bpf_skb_store_bytes(skb, IP_OFF + 8, &ip.ttl, 1, 0));
    codes[6] = code(bpf_l3_csum_replace(skb, IP_OFF + 10, old_word, new_word, 2));
    /* The destination becomes 10.0.0.99. */
    u32 old_daddr = ip.daddr, new_daddr = 0x6300000a;
    codes[7] = code(bpf_skb_store_bytes(skb, IP_OFF + 16, &new_daddr, 4, BPF_F_RECOMPUTE_CSUM));
    s64 diff = bpf_csum_diff(&old_daddr, 4, &new_daddr, 4, 0);
    codes[8] = code(bpf_l3_csum_replace(skb, IP_OFF + 10, 0, diff, 0));
    __builtin_memcpy(&codes[24], &diff, 4);
    if (ip.protocol == IPPROTO_TCP)
      codes[9] = code(bpf_l4_csum_replace(skb, IP_OFF + 20 + 16, old_daddr, new_daddr, BPF_F_PSEUDO_HDR | 4));
    if (ip.protocol == IPPROTO_UDP)
      codes[9] = code(
          bpf_l4_csum_replace(skb, IP_OFF + 20 + 6, old_daddr, new_daddr, BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4));
    codes[10] = code(bpf_l3_csum_replace(skb, IP_OFF + 11, 0, 0, 2));
    codes[11] = code(bpf_l3_csum_replace(skb, IP_OFF + 10, 1, 2, 3));
    codes[12] = code(bpf_l4_csum_replace(skb, IP_OFF + 10, 1, 2, 1 << 9));
  }
  u32 pair[2] = {0x01020304, 0x0a0b0c0d};
  s64 sum = bpf_csum_diff(0, 0, pair, sizeof pair, 0x1234);
  __builtin_memcpy(&codes[28], &sum, 4);
  codes[13] = code(bpf_csum_diff(pair, 4, 0, 0, 7) == 0 ? -1 : 0);
  codes[14] = code(bpf_csum_diff(pair, 3, pair, 4, 0));

  struct bpf_tunnel_key key = {};
  codes[15] = code(bpf_skb_get_tunnel_key(skb, &key, sizeof key, 0));
  key.tunnel_id = 42;
  key.remote_ipv4 = 0x0a010203;
  key.local_ipv4 = 0x0a030201;
  key.tunnel_ttl = 64;
  codes[16] = code(bpf_skb_set_tunnel_key(skb, &key, sizeof key, BPF_F_ZERO_CSUM_TX));
  __builtin_memset(&key, 0, sizeof key);
  codes[17] = code(bpf_skb_get_tunnel_key(skb, &key, sizeof key, 0));
  codes[18] = (u8)key.tunnel_id ^ (u8)(key.remote_ipv4 >> 8) ^ (u8)key.local_ipv4 ^ key.tunnel_ttl;
  codes[19] = code(bpf_skb_get_tunnel_key(skb, &key, sizeof key, BPF_F_TUNINFO_IPV6));

  struct bpf_fib_lookup fib = {};
  fib.family = AF_INET;
  fib.ifindex = 1;
  codes[20] = (u8)bpf_fib_lookup(skb, &fib, sizeof fib, 0);
  fib.ifindex = 77;
  codes[21] = code(bpf_fib_lookup(skb, &fib, sizeof fib, 0));
  fib.family = 0;
  codes[22] = code(bpf_fib_lookup(skb, &fib, sizeof fib, 0));
  codes[23] = code(bpf_fib_lookup(skb, &fib, 32, 0));

  u32 redirect_flags = eth[12] == 0x86 ? 2 : 0;
  long verdict = eth[12] == 0x08 && eth[13] == 0x06 ? bpf_redirect(1, redirect_flags) : TC_ACT_OK;
  if (eth[12] == 0x86) verdict = bpf_redirect(1, redirect_flags);

  if (bpf_skb_change_tail(skb, 5, 0) != -22) return 100;
  if (bpf_skb_change_tail(skb, len + sizeof codes, 0) != 0) return 101;
  if (bpf_skb_store_bytes(skb, len, codes, sizeof codes, 0) != 0) return 102;
  if (bpf_skb_change_head(skb, 4, 1) != -22) return 103;
  if (bpf_skb_change_head(skb, 4, 0) != 0) return 104;
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
