// Program-type runs: BPF_PROG_TEST_RUN in userspace. The context (struct
// xdp_md, struct __sk_buff, or the bytes a tracing program is given) and the
// packet are laid out as net/bpf/test_run.c lays them out on a host whose
// test runs see the loopback device (ifindex 1, queue 0); the results are
// what the kernel copies back.
#include <cstring>
#include <ctime>

#include "bpfkit/vm.hpp"

namespace bpfkit::vm {
namespace {

// The CPU time this thread has used. The kernel's test run stops its timer
// while it reschedules (bpf_test_timer_continue), so its duration is time on
// the CPU; wall-clock time here would count other processes' turns.
uint64_t thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

using isa::CtxIn;
using isa::ProgramContext;
using isa::ProgramType;

constexpr uint32_t kEthHeader = 14;        // ETH_HLEN
constexpr uint32_t kXdpHeadroom = 256;     // XDP_PACKET_HEADROOM
constexpr uint32_t kSkbHeadroom = 64 + 2;  // NET_SKB_PAD + NET_IP_ALIGN
constexpr uint32_t kTailroom = 320;        // SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
constexpr uint32_t kPageSize = 4096;
constexpr uint32_t kLoopbackIfindex = 1;
constexpr uint32_t kMaxWireLen = 65536;  // GSO_LEGACY_MAX_SIZE
constexpr uint32_t kMaxGsoSegs = 65535;  // GSO_MAX_SEGS

Error refused(const char* errno_name, const std::string& why) {
  return make_error(Errc::BadOperand, std::string("BPF_PROG_TEST_RUN would fail with ") + errno_name + ": " + why);
}

uint32_t read_u32(std::span<const uint8_t> bytes, uint32_t offset) {
  uint32_t value = 0;
  if (offset + 4 <= bytes.size()) std::memcpy(&value, bytes.data() + offset, 4);
  return value;
}

void write_u32(std::span<uint8_t> bytes, uint32_t offset, uint32_t value) {
  if (offset + 4 <= bytes.size()) std::memcpy(bytes.data() + offset, &value, 4);
}

uint32_t field_offset(ProgramContext context, std::string_view name) {
  const isa::CtxField* field = isa::ctx_field_named(context, name);
  return field ? field->offset : Packet::kNoField;
}

// ctx_in as the kernel reads it: at most the struct's size (bytes past it
// must be zero), padded with zeros; every field ctx_in may not set is zero.
Expected<std::vector<uint8_t>> context_in(ProgramContext context, const std::optional<std::vector<uint8_t>>& ctx_in) {
  const uint32_t size = isa::ctx_size(context);
  std::vector<uint8_t> ctx(size, 0);
  if (!ctx_in) return ctx;
  for (size_t i = size; i < ctx_in->size(); ++i)
    if ((*ctx_in)[i] != 0)
      return refused("EINVAL", "ctx_in has nonzero bytes past the context's " + std::to_string(size));
  std::memcpy(ctx.data(), ctx_in->data(), std::min<size_t>(size, ctx_in->size()));
  for (uint32_t offset = 0; offset < size; ++offset) {
    const isa::CtxField* field = isa::ctx_field_at(context, offset, 1);
    const bool settable = field != nullptr && field->ctx_in != CtxIn::Zero;
    if (ctx[offset] == 0 || settable) continue;
    std::string what = "ctx_in sets ";
    what.append(field ? field->name : "padding").append(" (offset ").append(std::to_string(offset));
    return refused("EINVAL", what + "), which the kernel does not take");
  }
  return ctx;
}

// bpf_prog_test_run_xdp: the frame after 256 bytes of headroom (less the
// metadata ctx_in's data asks for), xdp_md with data_meta = data.
Expected<void> lay_out_xdp(Context& context, const TestRunInput& input, std::vector<uint8_t>& ctx) {
  const auto size = static_cast<uint32_t>(input.data_in.size());
  uint32_t meta_len = 0;
  if (input.ctx_in) {
    meta_len = read_u32(ctx, 0);
    if (read_u32(ctx, 8) != 0 || read_u32(ctx, 4) != size || meta_len > size || meta_len > 32 || meta_len % 4 != 0)
      return refused("EINVAL",
                     "xdp_md in ctx_in: data_meta must be 0, data_end the packet's size and data a "
                     "metadata length (a multiple of 4, at most 32)");
    if (read_u32(ctx, 12) == 0 && read_u32(ctx, 16) != 0)
      return refused("EINVAL", "xdp_md in ctx_in: rx_queue_index without ingress_ifindex");
  }
  const uint32_t headroom = kXdpHeadroom - meta_len;
  if (size < kEthHeader || size > kPageSize - headroom - kTailroom)
    return refused("EINVAL", "an XDP frame is " + std::to_string(kEthHeader) + " to " +
                                 std::to_string(kPageSize - headroom - kTailroom) +
                                 " bytes here (fragments are not "
                                 "supported); this one is " +
                                 std::to_string(size));
  Packet packet;
  packet.buffer.assign(kPageSize, 0);
  std::memcpy(packet.buffer.data() + headroom, input.data_in.data(), size);
  packet.meta = headroom;
  packet.data = headroom + meta_len;
  packet.end = headroom + size;
  packet.ctx_data = 0;
  packet.ctx_data_end = 4;
  packet.ctx_data_meta = 8;
  context.set_packet(std::move(packet));
  if (read_u32(ctx, 12) == 0) write_u32(ctx, 12, kLoopbackIfindex);  // ingress_ifindex: lo
  return {};
}

// What eth_type_trans gives on the loopback device, whose address and
// broadcast address are both 00:00:00:00:00:00: so ff:ff:ff:ff:ff:ff is
// multicast, not broadcast.
uint32_t packet_type(std::span<const uint8_t> frame) {
  bool zero = true;
  for (int i = 0; i < 6; ++i) zero = zero && frame[i] == 0;
  if (zero) return 0;          // PACKET_HOST
  if (frame[0] & 1) return 2;  // PACKET_MULTICAST
  return 3;                    // PACKET_OTHERHOST
}

// eth_type_trans's protocol, kept in network byte order as skb->protocol is.
uint32_t packet_protocol(std::span<const uint8_t> frame) {
  const uint16_t proto = static_cast<uint16_t>(frame[12] << 8 | frame[13]);
  uint16_t host = proto;
  if (proto < 0x600) host = frame.size() >= 16 && frame[14] == 0xff && frame[15] == 0xff ? 0x0001 : 0x0004;
  return static_cast<uint32_t>((host >> 8) | ((host & 0xff) << 8));
}

bool is_l2(ProgramType type) { return type == ProgramType::Tc || type == ProgramType::TcAction; }

// bpf_prog_test_run_skb: tc sees the frame from the Ethernet header, a
// socket filter from the network header; __sk_buff as the kernel fills it.
Expected<void> lay_out_skb(Context& context, const TestRunInput& input, std::vector<uint8_t>& ctx) {
  const auto size = static_cast<uint32_t>(input.data_in.size());
  if (size < kEthHeader || size > kPageSize - kSkbHeadroom - kTailroom)
    return refused("EINVAL", "a frame is " + std::to_string(kEthHeader) + " to " +
                                 std::to_string(kPageSize - kSkbHeadroom - kTailroom) + " bytes; this one is " +
                                 std::to_string(size));
  const ProgramContext skb = ProgramContext::SkBuff;
  const uint32_t ifindex = read_u32(ctx, field_offset(skb, "ifindex"));
  const uint32_t len = is_l2(input.type) ? size : size - kEthHeader;
  const uint32_t wire_len = read_u32(ctx, field_offset(skb, "wire_len"));
  if (wire_len != 0 && (wire_len < len || wire_len > kMaxWireLen))
    return refused("EINVAL", "wire_len " + std::to_string(wire_len) + " is below the packet's length or above 65536");
  if (read_u32(ctx, field_offset(skb, "gso_segs")) > kMaxGsoSegs) return refused("EINVAL", "gso_segs above 65535");
  // The kernel pulls the network header of IPv4 and IPv6 frames (the dummy
  // socket takes its addresses): a frame cut short in it is refused.
  const uint32_t protocol = packet_protocol(input.data_in);
  const uint32_t network = size - kEthHeader;
  if ((protocol == 0x0008 && network < 20) || (protocol == 0xdd86 && network < 40))
    return refused("EINVAL", "the frame ends inside its " + std::string(protocol == 0x0008 ? "IPv4" : "IPv6") +
                                 " header (" + std::to_string(network) + " bytes after the Ethernet header)");

  Packet packet;
  packet.buffer.assign(kSkbHeadroom + size, 0);
  std::memcpy(packet.buffer.data() + kSkbHeadroom, input.data_in.data(), size);
  packet.data = packet.meta = kSkbHeadroom + (is_l2(input.type) ? 0 : kEthHeader);
  packet.network = kSkbHeadroom + kEthHeader;
  packet.end = kSkbHeadroom + size;
  packet.region_start = packet.data;  // LD_ABS offsets count from skb->data
  packet.ctx_data = field_offset(skb, "data");
  packet.ctx_data_end = field_offset(skb, "data_end");
  packet.ctx_data_meta = field_offset(skb, "data_meta");
  const uint32_t data_address = static_cast<uint32_t>(packet.address(packet.data));
  const uint32_t end_address = static_cast<uint32_t>(packet.address(packet.end));
  context.set_packet(std::move(packet));

  const std::span<const uint8_t> frame(input.data_in);
  write_u32(ctx, field_offset(skb, "len"), len);
  write_u32(ctx, field_offset(skb, "pkt_type"), packet_type(frame));
  write_u32(ctx, field_offset(skb, "protocol"), packet_protocol(frame));
  write_u32(ctx, field_offset(skb, "ifindex"), ifindex > 1 ? ifindex : kLoopbackIfindex);
  // Without ctx_in the kernel never sets the length on the wire: it reads 0.
  write_u32(ctx, field_offset(skb, "wire_len"), wire_len != 0 ? wire_len : input.ctx_in ? len : 0);
  write_u32(ctx, field_offset(skb, "data"), data_address);  // what a wider read of the field would see
  write_u32(ctx, field_offset(skb, "data_end"), end_address);
  write_u32(ctx, field_offset(skb, "data_meta"), data_address);
  return {};
}

// The context fields the kernel copies back to ctx_out.
std::vector<uint8_t> context_out(ProgramContext layout, std::span<const uint8_t> ctx) {
  std::vector<uint8_t> out(ctx.size(), 0);
  for (const isa::CtxField& field : isa::ctx_fields(layout))
    if (field.ctx_in != CtxIn::Zero && field.offset + field.size <= ctx.size())
      std::memcpy(out.data() + field.offset, ctx.data() + field.offset, field.size);
  return out;
}

}  // namespace

Expected<void> prepare_test_run(Context& context, const TestRunInput& input) {
  const isa::ProgramTypeInfo& type = isa::program_type_info(input.type);
  context.set_program_type(input.type);
  switch (type.context) {
    case ProgramContext::Buffer:
      return make_error(Errc::BadOperand, "the raw type has no context: give a program type");
    case ProgramContext::Bytes: {  // tracing: the caller describes the context
      if (!input.data_in.empty())
        return refused("ENOTSUPP", std::string(type.name) + " programs take no packet; give the context");
      context.map_program_context(input.ctx_in.value_or(std::vector<uint8_t>{}));
      return {};
    }
    case ProgramContext::SkBuff:
    case ProgramContext::XdpMd: break;
  }
  auto ctx = context_in(type.context, input.ctx_in);
  if (!ctx) return ctx.error();
  auto laid_out =
      type.context == ProgramContext::XdpMd ? lay_out_xdp(context, input, *ctx) : lay_out_skb(context, input, *ctx);
  if (!laid_out) return laid_out.error();
  context.map_program_context(std::move(*ctx));
  return {};
}

Expected<TestRunOutput> test_run(const Engine& engine, Context& context, const TestRunInput& input) {
  if (auto prepared = prepare_test_run(context, input); !prepared) return prepared.error();
  TestRunOutput out;
  const uint32_t repeat = input.repeat == 0 ? 1 : input.repeat;
  const std::array<uint64_t, 5> args{region_base(kInputRegion), 0, 0, 0, 0};
  const uint64_t start = thread_cpu_ns();
  // The packet starts with no tunnel metadata and no redirect; repeated runs
  // share the packet, its changes and its metadata, as the kernel's do.
  context.redirect().reset();
  context.tunnel().reset();
  for (uint32_t i = 0; i < repeat; ++i) {
    out.run = engine.run(context, args);
    if (out.run.error) break;
  }
  out.duration_ns = (thread_cpu_ns() - start) / repeat;
  out.retval = static_cast<uint32_t>(out.run.r0);
  out.redirect = context.redirect();
  const ProgramContext layout = isa::program_type_info(input.type).context;
  const std::span<const uint8_t> ctx = context.program_context();
  out.ctx_out =
      layout == ProgramContext::Bytes ? std::vector<uint8_t>(ctx.begin(), ctx.end()) : context_out(layout, ctx);
  if (Packet* packet = context.packet()) {
    if (layout == ProgramContext::XdpMd) {
      std::span<const uint8_t> data = packet->bytes(packet->meta, packet->end);
      out.data_out.assign(data.begin(), data.end());
    } else {
      // A socket filter's output starts at the Ethernet header, zeroed, as
      // the kernel pushes it back with memset.
      const uint32_t pushed = is_l2(input.type) ? 0 : kEthHeader;
      out.data_out.assign(pushed, 0);
      std::span<const uint8_t> data = packet->bytes(packet->data, packet->end);
      out.data_out.insert(out.data_out.end(), data.begin(), data.end());
    }
  }
  return out;
}

}  // namespace bpfkit::vm
