// The packet helpers of XDP and tc programs (net/core/filter.c), on a
// program-type run's packet (vm::test_run): reading and writing packet
// bytes, moving its head and tail, checksums, redirects, the FIB lookup and
// tunnel metadata. Each returns what the kernel returns in a
// BPF_PROG_TEST_RUN: the same errno for the same bad offset or length, the
// same packet after the call. The checksum arithmetic is x86-64's.
#include <algorithm>
#include <cstring>

#include "helper_support.hpp"

namespace bpfkit::vm::helper_support {
namespace {

using isa::ProgramType;

constexpr uint32_t kEthHeader = 14;                   // ETH_HLEN
constexpr uint32_t kXdpFrameSize = 40;                // sizeof(struct xdp_frame), kept at the head of an XDP buffer
constexpr uint32_t kXdpFrameBytes = 4096;             // a test run's frame_sz
constexpr uint32_t kSharedInfo = 320;                 // SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
constexpr uint32_t kSkbMaxLen = 16384 - kSharedInfo;  // BPF_SKB_MAX_LEN (SKB_MAX_ALLOC)
constexpr uint32_t kMaxMetaLen = 255;                 // xdp_metalen_invalid: skb_shared_info's u8 meta_len
constexpr uint32_t kLoopbackIfindex = 1;

// Return codes.
constexpr uint64_t kXdpAborted = 0, kXdpRedirect = 4;
constexpr uint64_t kTcActShot = 2, kTcActRedirect = 7;
constexpr uint64_t kFibFwdDisabled = 5, kFibNotForwarded = 4;  // BPF_FIB_LKUP_RET_*

bool is_xdp(const Context& context) { return context.program_type() == ProgramType::Xdp; }
bool is_skb(const Context& context) {
  const ProgramType type = context.program_type();
  return type == ProgramType::Tc || type == ProgramType::TcAction || type == ProgramType::Socket;
}

// The run's packet, when the program type has the kind of context the
// helper takes (what the verifier makes sure of: ARG_PTR_TO_CTX).
Expected<Packet*> packet_of(HelperCall& call, bool xdp) {
  Packet* packet = call.context.packet();
  if (packet == nullptr || (xdp ? !is_xdp(call.context) : !is_skb(call.context)))
    return make_error(Errc::HelperFailed, std::string("needs the packet of ") +
                                              (xdp ? "an XDP" : "a tc or socket filter") +
                                              " program-type run (--type, --packet)");
  if (call.args[0] != region_base(kInputRegion)) return make_error(Errc::HelperFailed, "r1 is not the context");
  return packet;
}

uint32_t skb_len(const Packet& packet) { return packet.end - packet.data; }

// After the skb's data moved or its length changed: __sk_buff's len, data,
// data_end and data_meta follow (the kernel's bpf_compute_data_pointers),
// and the packet region starts at skb->data again.
void skb_changed(Context& context) {
  Packet& packet = *context.packet();
  packet.region_start = packet.data;
  packet.meta = packet.data;
  context.remap_packet();
  std::span<uint8_t> ctx = context.program_context();
  const auto put = [&](std::string_view name, uint32_t value) {
    const isa::CtxField* field = isa::ctx_field_named(isa::ProgramContext::SkBuff, name);
    if (field != nullptr && field->offset + 4 <= ctx.size()) std::memcpy(ctx.data() + field->offset, &value, 4);
  };
  put("len", skb_len(packet));
  put("data", static_cast<uint32_t>(packet.address(packet.data)));
  put("data_end", static_cast<uint32_t>(packet.address(packet.end)));
  put("data_meta", static_cast<uint32_t>(packet.address(packet.data)));
}

// ---- Ones' complement arithmetic (include/net/checksum.h, x86-64's csum_partial).

uint32_t csum_add(uint32_t sum, uint32_t addend) {
  sum += addend;
  return sum + (sum < addend ? 1 : 0);
}
uint32_t csum_sub(uint32_t sum, uint32_t addend) { return csum_add(sum, ~addend); }
uint16_t csum_fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
uint16_t csum16_add(uint16_t sum, uint16_t addend) {
  const auto res = static_cast<uint16_t>(sum + addend);
  return static_cast<uint16_t>(res + (res < addend ? 1 : 0));
}
uint16_t csum16_sub(uint16_t sum, uint16_t addend) { return csum16_add(sum, static_cast<uint16_t>(~addend)); }

// arch/x86/lib/csum-partial_64.c: 64-bit words with end-around carry (the
// tail zero-padded), folded to 32 bits the same way. Ones' complement sums
// do not depend on the order, so the kernel's unrolling does not matter.
uint32_t csum_partial(std::span<const uint8_t> bytes, uint32_t seed) {
  uint64_t sum = seed;
  const auto add = [&sum](uint64_t value) {
    sum += value;
    sum += sum < value ? 1 : 0;
  };
  size_t at = 0;
  for (; at + 8 <= bytes.size(); at += 8) {
    uint64_t word = 0;
    std::memcpy(&word, bytes.data() + at, 8);
    add(word);
  }
  if (at < bytes.size()) {
    uint64_t trail = 0;
    std::memcpy(&trail, bytes.data() + at, bytes.size() - at);
    add(trail);
  }
  return csum_add(static_cast<uint32_t>(sum >> 32), static_cast<uint32_t>(sum));
}

uint16_t load16(const uint8_t* at) {
  uint16_t value = 0;
  std::memcpy(&value, at, 2);
  return value;
}
void store16(uint8_t* at, uint16_t value) { std::memcpy(at, &value, 2); }

// csum_replace4 and csum_replace_by_diff on the checksum at `at`.
void csum_replace4(uint8_t* at, uint32_t from, uint32_t to) {
  const uint32_t sum = csum_sub(~uint32_t{load16(at)}, from);
  store16(at, csum_fold(csum_add(sum, to)));
}
void csum_replace_by_diff(uint8_t* at, uint32_t diff) { store16(at, csum_fold(csum_add(diff, ~uint32_t{load16(at)}))); }

// ---- XDP --------------------------------------------------------------------

// bpf_xdp_adjust_head(xdp, offset): data moves by offset (the metadata
// with it), keeping room for the xdp_frame before it and an Ethernet
// header after it.
Expected<uint64_t> xdp_adjust_head(HelperCall& call) {
  auto packet = packet_of(call, true);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const auto offset = static_cast<int32_t>(call.args[1]);
  const int64_t meta_len = p.data - p.meta;
  const int64_t data = int64_t{p.data} + offset;
  if (data < kXdpFrameSize + meta_len || data > int64_t{p.end} - kEthHeader) return negative(-kEINVAL);
  if (meta_len != 0)
    std::memmove(p.buffer.data() + p.meta + offset, p.buffer.data() + p.meta, static_cast<size_t>(meta_len));
  p.meta = static_cast<uint32_t>(int64_t{p.meta} + offset);
  p.data = static_cast<uint32_t>(data);
  return 0;
}

// bpf_xdp_adjust_meta(xdp, offset): the metadata before data grows or
// shrinks; a multiple of 4 bytes, at most 252 (Linux 6.18; older kernels
// allowed 32).
Expected<uint64_t> xdp_adjust_meta(HelperCall& call) {
  auto packet = packet_of(call, true);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const int64_t meta = int64_t{p.meta} + static_cast<int32_t>(call.args[1]);
  if (meta < kXdpFrameSize || meta > p.data) return negative(-kEINVAL);
  const int64_t meta_len = p.data - meta;
  if (meta_len % 4 != 0 || meta_len > kMaxMetaLen) return negative(-kEACCES);
  p.meta = static_cast<uint32_t>(meta);
  return 0;
}

// bpf_xdp_adjust_tail(xdp, offset): data_end moves, within the frame (its
// last 320 bytes are the shared info) and leaving an Ethernet header;
// grown bytes are zeroed.
Expected<uint64_t> xdp_adjust_tail(HelperCall& call) {
  auto packet = packet_of(call, true);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const auto offset = static_cast<int32_t>(call.args[1]);
  const int64_t end = int64_t{p.end} + offset;
  if (end > kXdpFrameBytes - kSharedInfo || end < int64_t{p.data} + kEthHeader) return negative(-kEINVAL);
  if (offset > 0) std::memset(p.buffer.data() + p.end, 0, static_cast<size_t>(offset));
  p.end = static_cast<uint32_t>(end);
  call.context.remap_packet();
  return 0;
}

// bpf_xdp_load_bytes / bpf_xdp_store_bytes(xdp, offset, buf, len): offsets
// and lengths past 0xffff are -EFAULT, past the packet -EINVAL.
Expected<uint64_t> xdp_copy_bytes(HelperCall& call, bool store) {
  auto packet = packet_of(call, true);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const auto offset = static_cast<uint32_t>(call.args[1]);
  const auto len = static_cast<uint32_t>(call.args[3]);
  auto buf = guest_bytes(call, "buf", call.args[2], len, !store);
  if (!buf) return buf.error();
  if (offset > 0xffff || len > 0xffff) return negative(-kEFAULT);
  if (offset + len > p.end - p.data) return negative(-kEINVAL);
  uint8_t* at = p.buffer.data() + p.data + offset;
  if (store)
    std::memmove(at, buf->data(), len);
  else
    std::memmove(buf->data(), at, len);
  return 0;
}

// bpf_redirect_map(map, key, flags) (XDP): XDP_REDIRECT when the map holds
// the key (or BPF_F_BROADCAST), else the action in flags' low bits;
// unknown flags are XDP_ABORTED.
Expected<uint64_t> redirect_map(HelperCall& call) {
  Map* map = call.context.map_by_handle(call.args[0]);
  const isa::MapType type = map ? map->type() : isa::MapType::Unspec;
  const bool devmap = type == isa::MapType::DevMap || type == isa::MapType::DevMapHash;
  if (!devmap && type != isa::MapType::XskMap && type != isa::MapType::CpuMap)
    return make_error(Errc::HelperFailed, "r1 is not a devmap, devmap_hash, xskmap or cpumap handle");
  constexpr uint64_t kActions = 3, kBroadcast = 1 << 3, kExcludeIngress = 1 << 4;
  const uint64_t flags = call.args[2];
  if ((flags & ~(kActions | (devmap ? kBroadcast | kExcludeIngress : 0))) != 0) return kXdpAborted;
  const auto key = static_cast<uint32_t>(call.args[1]);
  const bool found = !map->lookup({reinterpret_cast<const uint8_t*>(&key), sizeof key}).empty();
  if (!found && (flags & kBroadcast) == 0) {
    call.context.redirect().reset();
    return flags & kActions;
  }
  uint32_t index = 0;
  while (&call.context.map(index) != map) ++index;
  call.context.redirect() = Redirect{index, call.args[1], 0, flags};
  return kXdpRedirect;
}

// ---- skb (tc, socket filters) ---------------------------------------------------

// bpf_skb_load_bytes(skb, offset, to, len): from skb->data; past the end,
// -EFAULT with `to` zeroed.
Expected<uint64_t> skb_load_bytes(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const auto offset = static_cast<uint32_t>(call.args[1]);
  const auto len = static_cast<uint32_t>(call.args[3]);
  auto to = guest_bytes(call, "to", call.args[2], len, true);
  if (!to) return to.error();
  if (offset > INT32_MAX || uint64_t{offset} + len > skb_len(p)) {
    std::memset(to->data(), 0, len);
    return negative(-kEFAULT);
  }
  std::memmove(to->data(), p.buffer.data() + p.data + offset, len);
  return 0;
}

// The write check of bpf_try_make_writable: the bytes must be in the
// packet (pskb_may_pull).
bool writable(const Packet& p, uint64_t end) { return end <= skb_len(p); }

// bpf_skb_store_bytes(skb, offset, from, len, flags). BPF_F_RECOMPUTE_CSUM
// only touches skb->csum, which a test run's CHECKSUM_NONE packet lacks.
Expected<uint64_t> skb_store_bytes(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const auto offset = static_cast<uint32_t>(call.args[1]);
  const auto len = static_cast<uint32_t>(call.args[3]);
  auto from = guest_bytes(call, "from", call.args[2], len, false);
  if (!from) return from.error();
  constexpr uint64_t kRecomputeCsum = 1, kInvalidateHash = 2;
  if ((call.args[4] & ~(kRecomputeCsum | kInvalidateHash)) != 0) return negative(-kEINVAL);
  if (offset > INT32_MAX || !writable(p, static_cast<uint32_t>(offset + len))) return negative(-kEFAULT);
  std::memmove(p.buffer.data() + p.data + offset, from->data(), len);
  return 0;
}

// The checks l3_csum_replace and l4_csum_replace share: the checksum's
// offset (even, at most 0xffff, inside the packet).
uint8_t* checksum_at(Packet& p, uint32_t offset) {
  if (offset > 0xffff || (offset & 1) != 0 || !writable(p, offset + 2)) return nullptr;
  return p.buffer.data() + p.data + offset;
}

constexpr uint64_t kHdrFieldMask = 0xf;

// bpf_l3_csum_replace(skb, offset, from, to, flags): flags' low bits say
// how wide from and to are (0: `to` is a csum_diff result).
Expected<uint64_t> l3_csum_replace(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  const uint64_t from = call.args[2], to = call.args[3], flags = call.args[4];
  if ((flags & ~kHdrFieldMask) != 0) return negative(-kEINVAL);
  uint8_t* sum = checksum_at(**packet, static_cast<uint32_t>(call.args[1]));
  if (sum == nullptr) return negative(-kEFAULT);
  switch (flags & kHdrFieldMask) {
    case 0:
      if (from != 0) return negative(-kEINVAL);
      csum_replace_by_diff(sum, static_cast<uint32_t>(to));
      break;
    case 2:
      store16(sum, static_cast<uint16_t>(
                       ~csum16_add(csum16_sub(static_cast<uint16_t>(~load16(sum)), static_cast<uint16_t>(from)),
                                   static_cast<uint16_t>(to))));
      break;
    case 4: csum_replace4(sum, static_cast<uint32_t>(from), static_cast<uint32_t>(to)); break;
    default: return negative(-kEINVAL);
  }
  return 0;
}

// bpf_l4_csum_replace(skb, offset, from, to, flags): as l3, for a packet
// whose checksum is not offloaded (CHECKSUM_NONE, as in a test run), with
// BPF_F_MARK_MANGLED_0 (a zero checksum means none: 0 stays 0 unless
// BPF_F_MARK_ENFORCE, a result of 0 becomes 0xffff).
Expected<uint64_t> l4_csum_replace(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  const uint64_t from = call.args[2], to = call.args[3], flags = call.args[4];
  constexpr uint64_t kPseudoHdr = 1 << 4, kMarkMangled0 = 1 << 5, kMarkEnforce = 1 << 6, kIpv6 = 1 << 7;
  if ((flags & ~(kMarkMangled0 | kMarkEnforce | kPseudoHdr | kHdrFieldMask | kIpv6)) != 0) return negative(-kEINVAL);
  uint8_t* sum = checksum_at(**packet, static_cast<uint32_t>(call.args[1]));
  if (sum == nullptr) return negative(-kEFAULT);
  const bool mangled_zero = (flags & kMarkMangled0) != 0;
  if (mangled_zero && (flags & kMarkEnforce) == 0 && load16(sum) == 0) return 0;
  switch (flags & kHdrFieldMask) {
    case 0:
      if (from != 0) return negative(-kEINVAL);
      csum_replace_by_diff(sum, static_cast<uint32_t>(to));
      break;
    case 2: csum_replace4(sum, static_cast<uint16_t>(from), static_cast<uint16_t>(to)); break;
    case 4: csum_replace4(sum, static_cast<uint32_t>(from), static_cast<uint32_t>(to)); break;
    default: return negative(-kEINVAL);
  }
  if (mangled_zero && load16(sum) == 0) store16(sum, 0xffff);  // CSUM_MANGLED_0
  return 0;
}

// The 32-bit partial sum folded to 16 bits, not complemented
// (csum_from32to16): what bpf_csum_diff returns since Linux 6.13, the same
// on every architecture.
uint32_t csum_from32to16(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  return (sum & 0xffff) + (sum >> 16);
}

// bpf_csum_diff(from, from_size, to, to_size, seed): the sum of `to` minus
// that of `from`, plus seed, folded to 16 bits. Any sizes (the verifier
// checked the buffers).
Expected<uint64_t> csum_diff(HelperCall& call) {
  const auto from_size = static_cast<uint32_t>(call.args[1]);
  const auto to_size = static_cast<uint32_t>(call.args[3]);
  const auto seed = static_cast<uint32_t>(call.args[4]);
  // A NULL buffer goes with a size of 0 (the verifier's PTR_MAYBE_NULL).
  auto from = from_size ? guest_bytes(call, "from", call.args[0], from_size, false) : std::span<uint8_t>{};
  if (!from) return from.error();
  auto to = to_size ? guest_bytes(call, "to", call.args[2], to_size, false) : std::span<uint8_t>{};
  if (!to) return to.error();
  uint32_t sum = seed;
  if (from_size != 0 && to_size != 0)
    sum = csum_sub(csum_partial(*to, seed), csum_partial(*from, 0));
  else if (to_size != 0)
    sum = csum_partial(*to, seed);
  else if (from_size != 0)
    sum = ~csum_partial(*from, ~seed);
  return csum_from32to16(sum);
}

// Makes room for `bytes` more bytes before skb->data, moving the buffer.
void ensure_headroom(Packet& p, uint32_t bytes) {
  if (p.data >= bytes) return;
  const uint32_t grow = bytes - p.data;
  p.buffer.insert(p.buffer.begin(), grow, 0);
  for (uint32_t* offset : {&p.region_start, &p.meta, &p.data, &p.end, &p.network}) *offset += grow;
}

// bpf_skb_change_tail(skb, new_len, flags): the packet grows (zeroed) or
// is cut to new_len, which may not end inside the headers before the
// network header or exceed BPF_SKB_MAX_LEN.
Expected<uint64_t> skb_change_tail(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const auto new_len = static_cast<uint32_t>(call.args[1]);
  const uint32_t min_len = p.network > p.data ? p.network - p.data : 0;
  if (call.args[2] != 0 || new_len > kSkbMaxLen || new_len < min_len) return negative(-kEINVAL);
  const uint32_t end = p.data + new_len;
  if (end > p.buffer.size()) p.buffer.resize(end, 0);
  if (end > p.end) std::fill(p.buffer.begin() + p.end, p.buffer.begin() + end, 0);
  p.end = end;
  skb_changed(call.context);
  return 0;
}

// bpf_skb_change_head(skb, head_room, flags): head_room zero bytes pushed
// before skb->data (a MAC header for an L3 packet).
Expected<uint64_t> skb_change_head(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  Packet& p = **packet;
  const auto head_room = static_cast<uint32_t>(call.args[1]);
  const uint32_t len = skb_len(p);
  const uint32_t new_len = len + head_room;
  if (call.args[2] != 0 || new_len > kSkbMaxLen || new_len < len) return negative(-kEINVAL);
  ensure_headroom(p, head_room);
  p.data -= head_room;
  std::fill_n(p.buffer.begin() + p.data, head_room, 0);
  skb_changed(call.context);
  return 0;
}

// ---- Both ---------------------------------------------------------------------------

// bpf_redirect(ifindex, flags): XDP_REDIRECT (XDP_ABORTED for any flag) or
// TC_ACT_REDIRECT (TC_ACT_SHOT for a flag other than BPF_F_INGRESS).
Expected<uint64_t> redirect(HelperCall& call) {
  const uint64_t flags = call.args[1];
  const bool xdp = is_xdp(call.context);
  if (xdp ? flags != 0 : (flags & ~uint64_t{1}) != 0) return xdp ? kXdpAborted : kTcActShot;
  call.context.redirect() = Redirect{std::nullopt, 0, static_cast<uint32_t>(call.args[0]), flags};
  return xdp ? kXdpRedirect : kTcActRedirect;
}

// Whether the FIB lookup refuses an IPv6 address outright (rt6_need_strict:
// multicast, link-local, loopback).
bool needs_strict_route(std::span<const uint8_t> address) {
  if (address[0] == 0xff) return true;
  if (address[0] == 0xfe && (address[1] & 0xc0) == 0x80) return true;
  for (int i = 0; i < 15; ++i)
    if (address[i] != 0) return false;
  return address[15] == 1;
}

// bpf_fib_lookup(ctx, params, plen, flags) on a host whose only device is
// the loopback (ifindex 1) and which forwards nothing: IPv4 and IPv6 answer
// BPF_FIB_LKUP_RET_FWD_DISABLED for it, -ENODEV for other devices.
Expected<uint64_t> fib_lookup(HelperCall& call) {
  if (call.context.packet() == nullptr)
    return make_error(Errc::HelperFailed, "needs a program-type run (--type xdp or tc)");
  constexpr int32_t kParamsSize = 64;  // sizeof(struct bpf_fib_lookup)
  const auto plen = static_cast<int32_t>(call.args[2]);
  auto params = guest_bytes(call, "params", call.args[1], plen > 0 ? static_cast<uint32_t>(plen) : 0, true);
  if (!params) return params.error();
  if (plen < kParamsSize) return negative(-kEINVAL);
  constexpr uint64_t kKnownFlags = 0x3f;  // DIRECT, OUTPUT, SKIP_NEIGH, TBID, SRC, MARK
  if ((static_cast<uint32_t>(call.args[3]) & ~kKnownFlags) != 0) return negative(-kEINVAL);
  const uint8_t family = (*params)[0];
  uint32_t ifindex = 0;
  std::memcpy(&ifindex, params->data() + 8, 4);
  constexpr uint8_t kAfInet = 2, kAfInet6 = 10;
  if (family == kAfInet6 &&
      (needs_strict_route(params->subspan(32, 16)) || needs_strict_route(params->subspan(16, 16))))
    return kFibNotForwarded;
  if (family != kAfInet && family != kAfInet6) return negative(-kEAFNOSUPPORT);
  return ifindex == kLoopbackIfindex ? kFibFwdDisabled : negative(-kENODEV);
}

// ---- Tunnel metadata (struct bpf_tunnel_key) --------------------------------------

constexpr uint32_t kTunnelKeySize = 44;
// The shorter layouts older programs pass (offsetof local_ipv6, tunnel_label,
// tunnel_ext, remote_ipv6[1]).
constexpr uint32_t kCompatLocal = 28, kCompatLabel = 24, kCompatExt = 22, kCompatIpv4 = 8;
constexpr uint64_t kTunInfoIpv6 = 1;

uint32_t get_u32(std::span<const uint8_t> bytes, size_t at) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data() + at, 4);
  return value;
}
void put_u32(std::span<uint8_t> bytes, size_t at, uint32_t value) { std::memcpy(bytes.data() + at, &value, 4); }
uint32_t from_big_endian(const uint8_t* at) {
  return uint32_t{at[0]} << 24 | uint32_t{at[1]} << 16 | uint32_t{at[2]} << 8 | at[3];
}
void to_big_endian(uint8_t* at, uint32_t value) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<uint8_t>(value >> (24 - 8 * i));
}

// bpf_skb_get_tunnel_key(skb, key, size, flags): the tunnel metadata as a
// receiver sees it (remote = the metadata's source). A packet without any
// (every test-run packet, until bpf_skb_set_tunnel_key) is -EINVAL, the
// key zeroed; the other address family is -EPROTO.
Expected<uint64_t> skb_get_tunnel_key(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  const auto size = static_cast<uint32_t>(call.args[2]);
  auto to = guest_bytes(call, "key", call.args[1], size, true);
  if (!to) return to.error();
  const uint64_t flags = call.args[3];
  constexpr uint64_t kTunInfoFlags = 1 << 4;
  const auto fail = [&](int err) {
    std::fill(to->begin(), to->end(), 0);
    return negative(err);
  };
  const std::optional<TunnelInfo>& info = call.context.tunnel();
  if (!info || (flags & ~(kTunInfoIpv6 | kTunInfoFlags)) != 0) return fail(-kEINVAL);
  if (info->ipv6 != ((flags & kTunInfoIpv6) != 0)) return fail(-kEPROTO);
  if (size != kTunnelKeySize && size != kCompatLocal && size != kCompatLabel && size != kCompatExt &&
      !(size == kCompatIpv4 && !info->ipv6))
    return fail(-kEINVAL);
  std::array<uint8_t, kTunnelKeySize> key{};
  put_u32(key, 0, static_cast<uint32_t>(info->id));
  key[20] = info->tos;
  key[21] = info->ttl;
  if ((flags & kTunInfoFlags) != 0) {
    const auto be16 = static_cast<uint16_t>((info->flags >> 8) | (info->flags << 8));
    std::memcpy(key.data() + 22, &be16, 2);
  }
  if (info->ipv6) {
    std::memcpy(key.data() + 4, info->source.data(), 16);
    std::memcpy(key.data() + 28, info->destination.data(), 16);
    put_u32(key, 24, info->label);
  } else {
    put_u32(key, 4, from_big_endian(info->source.data()));
    put_u32(key, 28, from_big_endian(info->destination.data()));
  }
  std::memcpy(to->data(), key.data(), size);
  return 0;
}

// bpf_skb_set_tunnel_key(skb, key, size, flags): attaches transmit
// metadata (remote = destination), which bpf_skb_get_tunnel_key reads back.
Expected<uint64_t> skb_set_tunnel_key(HelperCall& call) {
  auto packet = packet_of(call, false);
  if (!packet) return packet.error();
  const auto size = static_cast<uint32_t>(call.args[2]);
  auto from = guest_bytes(call, "key", call.args[1], size, false);
  if (!from) return from.error();
  const uint64_t flags = call.args[3];
  constexpr uint64_t kZeroCsumTx = 1 << 1, kDontFragment = 1 << 2, kSeqNumber = 1 << 3, kNoTunnelKey = 1 << 4;
  if ((flags & ~(kTunInfoIpv6 | kZeroCsumTx | kDontFragment | kSeqNumber | kNoTunnelKey)) != 0)
    return negative(-kEINVAL);
  if (size != kTunnelKeySize && size != kCompatLocal && size != kCompatLabel && size != kCompatExt &&
      size != kCompatIpv4)
    return negative(-kEINVAL);
  std::array<uint8_t, kTunnelKeySize> key{};
  std::memcpy(key.data(), from->data(), size);
  const bool ipv6 = (flags & kTunInfoIpv6) != 0;
  uint16_t ext = 0;
  std::memcpy(&ext, key.data() + 22, 2);
  if ((!ipv6 && get_u32(key, 24) != 0) || ext != 0) return negative(-kEINVAL);
  TunnelInfo info;
  info.id = get_u32(key, 0);
  info.tos = key[20];
  info.ttl = key[21];
  info.ipv6 = ipv6;
  // TUNNEL_NOCACHE, and CSUM / KEY / SEQ / DONT_FRAGMENT as the flags ask.
  info.flags =
      static_cast<uint16_t>(1 << 13 | ((flags & kDontFragment) ? 1 << 8 : 0) | ((flags & kZeroCsumTx) ? 0 : 1) |
                            ((flags & kSeqNumber) ? 1 << 3 : 0) | ((flags & kNoTunnelKey) ? 0 : 1 << 2));
  if (ipv6) {
    std::memcpy(info.destination.data(), key.data() + 4, 16);
    std::memcpy(info.source.data(), key.data() + 28, 16);
    info.label = get_u32(key, 24) & 0xfffff;
  } else {
    to_big_endian(info.destination.data(), get_u32(key, 4));
    to_big_endian(info.source.data(), get_u32(key, 28));
  }
  call.context.tunnel() = info;
  return 0;
}

}  // namespace

void add_packet_helpers(HelperTable& table) {
  table.add(9, skb_store_bytes);
  table.add(10, l3_csum_replace);
  table.add(11, l4_csum_replace);
  table.add(20, skb_get_tunnel_key);
  table.add(21, skb_set_tunnel_key);
  table.add(23, redirect);
  table.add(26, skb_load_bytes);
  table.add(28, csum_diff);
  table.add(38, skb_change_tail);
  table.add(43, skb_change_head);
  table.add(44, xdp_adjust_head);
  table.add(51, redirect_map);
  table.add(54, xdp_adjust_meta);
  table.add(65, xdp_adjust_tail);
  table.add(69, fib_lookup);
  table.add(189, [](HelperCall& call) { return xdp_copy_bytes(call, false); });
  table.add(190, [](HelperCall& call) { return xdp_copy_bytes(call, true); });
}

}  // namespace bpfkit::vm::helper_support
