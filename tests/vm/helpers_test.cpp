// The packet, task and string helpers one call at a time, on a prepared
// program-type run: the kernel's return codes for each bad offset, length or
// flag, and the packet and context after each change. (The C programs of
// tests/bpf run them against the kernel in test_run_kernel_test.)
#include <gtest/gtest.h>

#include <cstring>

#include "bpfkit/vm.hpp"
#include "test_support.hpp"

namespace bpfkit {
namespace {

using isa::ProgramType;

uint64_t neg(int err) { return static_cast<uint64_t>(-static_cast<int64_t>(err)); }

std::vector<uint8_t> frame(size_t size, uint16_t proto = 0x0800) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i + 1);
  bytes[12] = static_cast<uint8_t>(proto >> 8);
  bytes[13] = static_cast<uint8_t>(proto);
  return bytes;
}

// A prepared program-type run whose helpers the test calls directly; the
// stack is the scratch memory for their buffers.
struct HelperRun {
  vm::Context context;
  const uint64_t ctx = vm::region_base(vm::kInputRegion);

  explicit HelperRun(ProgramType type, std::vector<uint8_t> packet = frame(64)) {
    vm::TestRunInput input;
    input.type = type;
    input.data_in = std::move(packet);
    auto prepared = vm::prepare_test_run(context, input);
    EXPECT_TRUE(prepared.has_value()) << prepared.error().message;
  }

  Expected<uint64_t> try_call(uint32_t id, std::array<uint64_t, 5> args) {
    const vm::Helper* helper = context.helpers().find(id);
    if (helper == nullptr) return make_error(Errc::UnknownHelper, "no helper");
    vm::HelperCall call{context, context.memory(), args};
    return helper->fn(call);
  }
  uint64_t call(uint32_t id, std::array<uint64_t, 5> args = {}) {
    auto result = try_call(id, args);
    EXPECT_TRUE(result.has_value()) << result.error().message;
    return result ? *result : 0xdeadbeef;
  }
  // Stack bytes [offset, offset + size) as a guest address and a host span.
  uint64_t stack(uint32_t offset) const { return vm::region_base(vm::kStackRegion) + offset; }
  uint8_t* host(uint32_t offset) { return context.memory().translate(stack(offset), 1, true); }
  std::vector<uint8_t> data() {
    const vm::Packet& p = *context.packet();
    return {p.buffer.begin() + p.data, p.buffer.begin() + p.end};
  }
  uint32_t ctx_u32(std::string_view field) {
    const isa::CtxField* f = isa::ctx_field_named(isa::ProgramContext::SkBuff, field);
    uint32_t value = 0;
    std::memcpy(&value, context.program_context().data() + f->offset, 4);
    return value;
  }
};

// ---- XDP ----------------------------------------------------------------------

TEST(XdpHelpers, AdjustHeadKeepsRoomForTheFrameAndAnEthernetHeader) {
  HelperRun run(ProgramType::Xdp, frame(64));
  EXPECT_EQ(run.call(44, {run.ctx, 51}), neg(22));  // data would pass data_end - 14
  EXPECT_EQ(run.call(44, {run.ctx, 50}), 0u);
  EXPECT_EQ(run.data().size(), 14u);
  EXPECT_EQ(run.call(44, {run.ctx, static_cast<uint64_t>(-(256 + 50 - 40))}), 0u);  // to the xdp_frame's end
  EXPECT_EQ(run.call(44, {run.ctx, static_cast<uint64_t>(-1)}), neg(22));
  EXPECT_EQ(run.data().size(), 64u - 50 + 266);
}

TEST(XdpHelpers, AdjustHeadMovesTheMetadata) {
  HelperRun run(ProgramType::Xdp, frame(64));
  ASSERT_EQ(run.call(54, {run.ctx, static_cast<uint64_t>(-8)}), 0u);
  vm::Packet& p = *run.context.packet();
  std::memcpy(p.buffer.data() + p.meta, "METADATA", 8);
  ASSERT_EQ(run.call(44, {run.ctx, 4}), 0u);
  EXPECT_EQ(p.data - p.meta, 8u);
  EXPECT_EQ(std::memcmp(p.buffer.data() + p.meta, "METADATA", 8), 0);
  // The frame before it must leave room for the metadata too.
  EXPECT_EQ(run.call(44, {run.ctx, static_cast<uint64_t>(-(256 + 4 - 40 - 8) - 1)}), neg(22));
}

TEST(XdpHelpers, AdjustMetaChecksAlignmentLengthAndBounds) {
  HelperRun run(ProgramType::Xdp);
  EXPECT_EQ(run.call(54, {run.ctx, static_cast<uint64_t>(-6)}), neg(13));    // not a multiple of 4: EACCES
  EXPECT_EQ(run.call(54, {run.ctx, static_cast<uint64_t>(-252)}), neg(22));  // into the xdp_frame: EINVAL
  EXPECT_EQ(run.call(54, {run.ctx, 4}), neg(22));                            // past data
  EXPECT_EQ(run.call(54, {run.ctx, static_cast<uint64_t>(-216)}), 0u);
  EXPECT_EQ(run.context.packet()->data - run.context.packet()->meta, 216u);
}

TEST(XdpHelpers, AdjustTailZeroesWhatItGrowsAndKeepsTheSharedInfo) {
  HelperRun run(ProgramType::Xdp, frame(64));
  vm::Packet& p = *run.context.packet();
  p.buffer[p.end] = 0xee;  // stale bytes past the frame
  EXPECT_EQ(run.call(65, {run.ctx, 8}), 0u);
  EXPECT_EQ(run.data().size(), 72u);
  EXPECT_EQ(run.data()[64], 0);
  EXPECT_EQ(run.call(65, {run.ctx, static_cast<uint64_t>(-59)}), neg(22));  // under an Ethernet header
  EXPECT_EQ(run.call(65, {run.ctx, 4096 - 320 - 256 - 72 + 1}), neg(22));   // into skb_shared_info
  EXPECT_EQ(run.call(65, {run.ctx, 4096 - 320 - 256 - 72}), 0u);
  // The packet region follows data_end.
  EXPECT_NE(run.context.memory().translate(p.address(p.end - 1), 1, false), nullptr);
}

TEST(XdpHelpers, LoadAndStoreBytesRefuseOffsetsPastTheFrame) {
  HelperRun run(ProgramType::Xdp, frame(64));
  EXPECT_EQ(run.call(189, {run.ctx, 60, run.stack(0), 4}), 0u);
  EXPECT_EQ(std::memcmp(run.host(0), run.data().data() + 60, 4), 0);
  EXPECT_EQ(run.call(189, {run.ctx, 61, run.stack(0), 4}), neg(22));
  EXPECT_EQ(run.call(189, {run.ctx, 0x10000, run.stack(0), 4}), neg(14));
  EXPECT_EQ(run.call(190, {run.ctx, 0x10000, run.stack(0), 4}), neg(14));
  std::memcpy(run.host(0), "abcd", 4);
  EXPECT_EQ(run.call(190, {run.ctx, 2, run.stack(0), 4}), 0u);
  EXPECT_EQ(std::memcmp(run.data().data() + 2, "abcd", 4), 0);
  // The buffer is the verifier's business: a bad one ends the run.
  EXPECT_FALSE(run.try_call(189, {run.ctx, 0, 0, 4}).has_value());
}

TEST(XdpHelpers, RedirectRecordsTheTargetAndRefusesFlags) {
  HelperRun run(ProgramType::Xdp);
  EXPECT_EQ(run.call(23, {3, 1}), 0u);  // XDP_ABORTED
  EXPECT_FALSE(run.context.redirect().has_value());
  EXPECT_EQ(run.call(23, {3, 0}), 4u);  // XDP_REDIRECT
  ASSERT_TRUE(run.context.redirect().has_value());
  EXPECT_EQ(run.context.redirect()->ifindex, 3u);
  EXPECT_FALSE(run.context.redirect()->map.has_value());
}

TEST(XdpHelpers, PacketHelpersNeedTheirProgramType) {
  HelperRun tc(ProgramType::Tc);
  auto wrong = tc.try_call(44, {tc.ctx, 4});
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message.find("XDP"), std::string::npos);
  vm::Context raw;
  vm::HelperCall call{raw, raw.memory(), {0, 0, 0, 16, 0}};
  EXPECT_FALSE(raw.helpers().find(26)->fn(call).has_value());
}

// ---- skb ------------------------------------------------------------------------

TEST(SkbHelpers, LoadBytesZeroesTheBufferOnFailure) {
  HelperRun run(ProgramType::Tc, frame(64));
  EXPECT_EQ(run.call(26, {run.ctx, 60, run.stack(0), 4}), 0u);
  std::memset(run.host(0), 0xff, 8);
  EXPECT_EQ(run.call(26, {run.ctx, 61, run.stack(0), 4}), neg(14));
  EXPECT_EQ(run.host(0)[0], 0);
  EXPECT_EQ(run.host(0)[3], 0);
  EXPECT_EQ(run.host(0)[4], 0xff);
  EXPECT_EQ(run.call(26, {run.ctx, 0x80000000u, run.stack(0), 4}), neg(14));
  // A socket filter's offsets count from the network header.
  HelperRun socket(ProgramType::Socket, frame(64));
  EXPECT_EQ(socket.call(26, {socket.ctx, 0, socket.stack(0), 1}), 0u);
  EXPECT_EQ(socket.host(0)[0], 15);
  EXPECT_EQ(socket.call(26, {socket.ctx, 47, socket.stack(0), 4}), neg(14));
}

TEST(SkbHelpers, StoreBytesChecksFlagsAndRange) {
  HelperRun run(ProgramType::Tc, frame(64));
  std::memcpy(run.host(0), "wxyz", 4);
  EXPECT_EQ(run.call(9, {run.ctx, 60, run.stack(0), 4, 3}), 0u);  // RECOMPUTE_CSUM | INVALIDATE_HASH
  EXPECT_EQ(std::memcmp(run.data().data() + 60, "wxyz", 4), 0);
  EXPECT_EQ(run.call(9, {run.ctx, 0, run.stack(0), 4, 4}), neg(22));
  EXPECT_EQ(run.call(9, {run.ctx, 61, run.stack(0), 4, 0}), neg(14));
  EXPECT_EQ(run.call(9, {run.ctx, 0x80000000u, run.stack(0), 4, 0}), neg(14));
}

// The IPv4 header checksum over 20 bytes at `header` (0 when it verifies).
uint16_t ip_checksum(const uint8_t* header) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += uint32_t{header[i]} << 8 | header[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> ipv4_frame() {
  std::vector<uint8_t> bytes = frame(64);
  const uint8_t header[20] = {0x45, 0, 0, 50, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(bytes.data() + 14, header, 20);
  const uint16_t sum = ip_checksum(bytes.data() + 14);
  bytes[24] = static_cast<uint8_t>(sum >> 8);
  bytes[25] = static_cast<uint8_t>(sum);
  return bytes;
}

TEST(SkbHelpers, L3CsumReplaceKeepsTheHeaderChecksumRight) {
  HelperRun run(ProgramType::Tc, ipv4_frame());
  vm::Packet& p = *run.context.packet();
  uint8_t* ip = p.buffer.data() + p.data + 14;
  ASSERT_EQ(ip_checksum(ip), 0);
  // The destination 10.0.0.2 becomes 10.0.0.99 (4-byte form).
  uint32_t old_daddr = 0, new_daddr = 0x6300000a;
  std::memcpy(&old_daddr, ip + 16, 4);
  std::memcpy(ip + 16, &new_daddr, 4);
  EXPECT_EQ(run.call(10, {run.ctx, 24, old_daddr, new_daddr, 4}), 0u);
  EXPECT_EQ(ip_checksum(ip), 0);
  // TTL 64 -> 63 (2-byte form), then back by a csum_diff (form 0).
  uint16_t old_word = 0;
  std::memcpy(&old_word, ip + 8, 2);
  ip[8] = 63;
  uint16_t new_word = 0;
  std::memcpy(&new_word, ip + 8, 2);
  EXPECT_EQ(run.call(10, {run.ctx, 24, old_word, new_word, 2}), 0u);
  EXPECT_EQ(ip_checksum(ip), 0);
  std::memcpy(run.host(0), &old_daddr, 4);
  std::memcpy(run.host(4), &new_daddr, 4);
  const uint64_t diff = run.call(28, {run.stack(4), 4, run.stack(0), 4, 0});
  std::memcpy(ip + 16, &old_daddr, 4);
  EXPECT_EQ(run.call(10, {run.ctx, 24, 0, diff, 0}), 0u);
  EXPECT_EQ(ip_checksum(ip), 0);
  // Refused: form 0 with a `from`, a form other than 0/2/4, an odd or far offset.
  EXPECT_EQ(run.call(10, {run.ctx, 24, 1, 2, 0}), neg(22));
  EXPECT_EQ(run.call(10, {run.ctx, 24, 1, 2, 3}), neg(22));
  EXPECT_EQ(run.call(10, {run.ctx, 24, 1, 2, 0x10 | 2}), neg(22));
  EXPECT_EQ(run.call(10, {run.ctx, 25, 1, 2, 2}), neg(14));
  EXPECT_EQ(run.call(10, {run.ctx, 64, 1, 2, 2}), neg(14));  // past the packet
  EXPECT_EQ(run.call(10, {run.ctx, 0x10000, 1, 2, 2}), neg(14));
}

TEST(SkbHelpers, L4CsumReplaceMarksMangledZero) {
  std::vector<uint8_t> bytes = frame(64);
  bytes[40] = bytes[41] = 0;  // a UDP checksum of 0: none
  HelperRun run(ProgramType::Tc, bytes);
  vm::Packet& p = *run.context.packet();
  constexpr uint64_t kMangled0 = 1 << 5, kEnforce = 1 << 6;
  EXPECT_EQ(run.call(11, {run.ctx, 40, 1, 2, kMangled0 | 2}), 0u);
  EXPECT_EQ(p.buffer[p.data + 40], 0);  // left alone
  // Forced, a sum that comes out 0 is written as 0xffff.
  p.buffer[p.data + 40] = 0x00;
  p.buffer[p.data + 41] = 0x01;  // 0x0100 (host order): adding 0x0100 makes the sum 0
  EXPECT_EQ(run.call(11, {run.ctx, 40, 0x0000, 0x0100, kMangled0 | kEnforce | 2}), 0u);
  EXPECT_EQ(p.buffer[p.data + 40], 0xff);
  EXPECT_EQ(p.buffer[p.data + 41], 0xff);
  EXPECT_EQ(run.call(11, {run.ctx, 40, 0, 0, 1 << 8}), neg(22));
  EXPECT_EQ(run.call(11, {run.ctx, 41, 0, 0, 2}), neg(14));
}

TEST(SkbHelpers, CsumDiffFoldsTo16BitsAsLinux6_18Does) {
  // Values from the kernel (kernel-oracle, tc): seed only, `from` only, and
  // odd sizes.
  HelperRun run(ProgramType::Tc);
  const uint64_t words = 0x0a0b0c0d01020304;
  std::memcpy(run.host(0), &words, 8);
  EXPECT_EQ(run.call(28, {0, 0, 0, 0, 0x12345678}), 0x68acu);
  EXPECT_EQ(run.call(28, {run.stack(0), 8, 0, 0, 0x12345678}), 0x4e8eu);
  EXPECT_EQ(run.call(28, {run.stack(0), 7, run.stack(0), 5, 0x12345678}), 0x5ca1u);
}

TEST(SkbHelpers, ChangeTailGrowsZeroedAndTrimsWithinLimits) {
  HelperRun run(ProgramType::Tc, frame(64));
  EXPECT_EQ(run.call(38, {run.ctx, 13, 0}), neg(22));  // shorter than the MAC header
  EXPECT_EQ(run.call(38, {run.ctx, 100, 1}), neg(22));
  EXPECT_EQ(run.call(38, {run.ctx, 16384 - 320 + 1, 0}), neg(22));
  EXPECT_EQ(run.call(38, {run.ctx, 100, 0}), 0u);
  EXPECT_EQ(run.data().size(), 100u);
  EXPECT_EQ(run.data()[99], 0);
  EXPECT_EQ(run.ctx_u32("len"), 100u);
  EXPECT_EQ(run.call(38, {run.ctx, 14, 0}), 0u);
  EXPECT_EQ(run.ctx_u32("len"), 14u);
  const vm::Packet& p = *run.context.packet();
  EXPECT_EQ(run.ctx_u32("data_end") - run.ctx_u32("data"), 14u);
  EXPECT_EQ(run.context.memory().translate(p.address(p.end), 1, false), nullptr);
}

TEST(SkbHelpers, ChangeHeadPushesZerosPastTheHeadroom) {
  HelperRun run(ProgramType::Tc, frame(64));
  EXPECT_EQ(run.call(43, {run.ctx, 8, 1}), neg(22));
  EXPECT_EQ(run.call(43, {run.ctx, 0xffffffff, 0}), neg(22));  // the length would wrap
  EXPECT_EQ(run.call(43, {run.ctx, 200, 0}), 0u);              // more than the 66 bytes of headroom
  const std::vector<uint8_t> data = run.data();
  ASSERT_EQ(data.size(), 264u);
  EXPECT_EQ(data[199], 0);
  EXPECT_EQ(data[200], 1);
  EXPECT_EQ(run.ctx_u32("len"), 264u);
  // skb_change_tail's shortest length now ends at the (unmoved) network header.
  EXPECT_EQ(run.call(38, {run.ctx, 213, 0}), neg(22));
  EXPECT_EQ(run.call(38, {run.ctx, 214, 0}), 0u);
}

TEST(SkbHelpers, RedirectAcceptsOnlyTheIngressFlag) {
  HelperRun run(ProgramType::Tc);
  EXPECT_EQ(run.call(23, {5, 2}), 2u);  // TC_ACT_SHOT
  EXPECT_EQ(run.call(23, {5, 1}), 7u);  // TC_ACT_REDIRECT, BPF_F_INGRESS
  ASSERT_TRUE(run.context.redirect().has_value());
  EXPECT_EQ(run.context.redirect()->ifindex, 5u);
  EXPECT_EQ(run.context.redirect()->flags, 1u);
}

TEST(SkbHelpers, FibLookupAnswersAsAHostThatDoesNotForward) {
  HelperRun run(ProgramType::Tc);
  uint8_t* params = run.host(0);
  std::memset(params, 0, 64);
  params[0] = 2;                                                // AF_INET
  params[8] = 1;                                                // ifindex 1
  EXPECT_EQ(run.call(69, {run.ctx, run.stack(0), 64, 0}), 5u);  // BPF_FIB_LKUP_RET_FWD_DISABLED
  EXPECT_EQ(run.call(69, {run.ctx, run.stack(0), 63, 0}), neg(22));
  EXPECT_EQ(run.call(69, {run.ctx, run.stack(0), 64, 0x40}), neg(22));
  params[8] = 2;
  EXPECT_EQ(run.call(69, {run.ctx, run.stack(0), 64, 0}), neg(19));  // no such device
  params[0] = 10;                                                    // AF_INET6, to ff02::1
  params[32] = 0xff;
  params[33] = 0x02;
  params[47] = 1;
  EXPECT_EQ(run.call(69, {run.ctx, run.stack(0), 64, 0}), 4u);  // BPF_FIB_LKUP_RET_NOT_FWDED
  params[32] = 0x20;                                            // 2002::1
  EXPECT_EQ(run.call(69, {run.ctx, run.stack(0), 64, 0}), neg(19));
  params[0] = 7;
  EXPECT_EQ(run.call(69, {run.ctx, run.stack(0), 64, 0}), neg(97));
}

TEST(SkbHelpers, TunnelKeyIsSetThenReadBackAsAReceiverSeesIt) {
  HelperRun run(ProgramType::Tc);
  std::memset(run.host(0), 0xff, 44);
  EXPECT_EQ(run.call(20, {run.ctx, run.stack(0), 44, 0}), neg(22));  // no metadata yet
  EXPECT_EQ(run.host(0)[0], 0);
  EXPECT_EQ(run.host(0)[43], 0);
  uint8_t* key = run.host(0);
  std::memset(key, 0, 44);
  key[0] = 42;    // tunnel_id
  key[4] = 0x03;  // remote_ipv4 0x0a010203
  key[5] = 0x02;
  key[6] = 0x01;
  key[7] = 0x0a;
  key[21] = 64;    // ttl
  key[28] = 0x01;  // local_ipv4 0x0a030201
  key[29] = 0x02;
  key[30] = 0x03;
  key[31] = 0x0a;
  EXPECT_EQ(run.call(21, {run.ctx, run.stack(0), 20, 0}), neg(22));       // no such layout
  EXPECT_EQ(run.call(21, {run.ctx, run.stack(0), 44, 1 << 5}), neg(22));  // unknown flag
  key[24] = 1;                                                            // a flow label without BPF_F_TUNINFO_IPV6
  EXPECT_EQ(run.call(21, {run.ctx, run.stack(0), 44, 0}), neg(22));
  key[24] = 0;
  EXPECT_EQ(run.call(21, {run.ctx, run.stack(0), 44, 0}), 0u);
  EXPECT_EQ(run.call(20, {run.ctx, run.stack(64), 44, 1}), neg(71));  // IPv6 asked, IPv4 there: EPROTO
  EXPECT_EQ(run.call(20, {run.ctx, run.stack(64), 44, 0}), 0u);
  const uint8_t* got = run.host(64);
  EXPECT_EQ(got[0], 42);
  EXPECT_EQ(got[21], 64);
  EXPECT_EQ(got[4], 0x01);                                      // remote: the metadata's source, what was set as local
  EXPECT_EQ(got[28], 0x03);                                     // local: what was set as remote
  EXPECT_EQ(run.call(20, {run.ctx, run.stack(64), 8, 0}), 0u);  // the oldest layout, IPv4 only
}

// ---- Task and strings ---------------------------------------------------------

TEST(TaskHelpers, AnswerForTheConfiguredTask) {
  HelperRun run(ProgramType::Kprobe, {});
  EXPECT_EQ(run.call(14), uint64_t{1000} << 32 | 1000);
  vm::Task configured;
  configured.pid = 7, configured.tgid = 9, configured.uid = 11, configured.gid = 13;
  configured.comm = "a-very-long-task-name";
  run.context.set_task(configured);
  EXPECT_EQ(run.call(14), uint64_t{9} << 32 | 7);
  EXPECT_EQ(run.call(15), uint64_t{13} << 32 | 11);
  std::memset(run.host(0), 0xff, 32);
  EXPECT_EQ(run.call(16, {run.stack(0), 32}), 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(run.host(0))), "a-very-long-tas");  // 15 bytes
  EXPECT_EQ(run.host(0)[31], 0);                                                          // padded
  EXPECT_EQ(run.call(16, {run.stack(0), 4}), 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(run.host(0))), "a-v");
  // Reading through the task pointer fails as a bad kernel address does.
  const uint64_t task = run.call(35);
  EXPECT_EQ(task, vm::Task{}.address);
  std::memset(run.host(0), 0xff, 8);
  EXPECT_EQ(run.call(113, {run.stack(0), 8, task + 0x100}), neg(14));
  EXPECT_EQ(run.host(0)[7], 0);
}

TEST(TaskHelpers, StringReadsCountTheNulAndCutToSize) {
  for (uint32_t id : {45u, 114u, 115u}) {
    SCOPED_TRACE(id);
    HelperRun run(ProgramType::Kprobe, {});
    std::memcpy(run.host(100), "abc", 4);
    std::memset(run.host(0), 0xff, 16);
    EXPECT_EQ(run.call(id, {run.stack(0), 16, run.stack(100)}), 4u);  // with the NUL
    EXPECT_EQ(run.host(0)[4], 0xff);                                  // the rest untouched
    EXPECT_EQ(run.call(id, {run.stack(0), 3, run.stack(100)}), 3u);   // cut: "ab" and a NUL
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(run.host(0))), "ab");
    EXPECT_EQ(run.call(id, {run.stack(0), 0, run.stack(100)}), 0u);
    // Unreadable, at once or before the NUL: -EFAULT, all of dst zeroed.
    EXPECT_EQ(run.call(id, {run.stack(0), 8, 0}), neg(14));
    EXPECT_EQ(run.host(0)[0], 0);
    std::memset(run.host(0), 0xff, 8);
    const uint32_t last = static_cast<uint32_t>(isa::frame_model(isa::kLinuxV4).stack_bytes()) - 2;
    std::memcpy(run.host(last), "xy", 2);
    EXPECT_EQ(run.call(id, {run.stack(0), 8, run.stack(last)}), neg(14));
    EXPECT_EQ(run.host(0)[0], 0);
    EXPECT_EQ(run.host(0)[7], 0);
  }
}

// ---- Events, stacks and cgroups (event_helpers.cpp) ---------------------------------

// A map of `spec` in the run's context; its handle.
uint64_t add_map(HelperRun& run, uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t max_entries,
                 const char* name = "m") {
  isa::MapSpec spec;
  spec.name = name, spec.type = type, spec.key_size = key_size, spec.value_size = value_size;
  spec.max_entries = max_entries;
  auto index = run.context.add_map(spec);
  EXPECT_TRUE(index.has_value()) << index.error().message;
  return run.context.map(*index).handle();
}

constexpr uint32_t kPerfEventArray = 4, kStackTrace = 7, kCgroupArray = 8;
constexpr uint64_t kCurrentCpu = 0xffffffffULL;

TEST(EventHelpers, PerfEventOutputNeedsAReaderOnThisCpu) {
  HelperRun run(ProgramType::Kprobe, {});
  const uint64_t events = add_map(run, kPerfEventArray, 4, 4, 4, "events");
  vm::PerfEventArray& perf = *run.context.map_by_handle(events)->perf_event_array();
  std::memcpy(run.host(0), "abcdefgh", 8);
  // No reader on any slot yet: -ENOENT, as a map nobody opened.
  EXPECT_EQ(run.call(25, {run.ctx, events, kCurrentCpu, run.stack(0), 4}), neg(2));
  perf.attach_readers();
  EXPECT_EQ(run.call(25, {run.ctx, events, kCurrentCpu, run.stack(0), 4}), 0u);  // CPU 0
  EXPECT_EQ(run.call(25, {run.ctx, events, 0, run.stack(0), 5}), 0u);            // slot 0 by index
  EXPECT_EQ(run.call(25, {run.ctx, events, 1, run.stack(0), 4}), neg(95));       // CPU 1's event: -EOPNOTSUPP
  EXPECT_EQ(run.call(25, {run.ctx, events, 4, run.stack(0), 4}), neg(7));        // past max_entries: -E2BIG
  EXPECT_EQ(run.call(25, {run.ctx, events, uint64_t{1} << 32, run.stack(0), 4}), neg(22));  // no packet to append
  auto records = perf.drain();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, 0u);
  EXPECT_EQ(records[0].second, (std::vector<uint8_t>{'a', 'b', 'c', 'd'}));
  // 5 bytes: padded as the raw sample is, to 8-byte alignment with its u32 size.
  EXPECT_EQ(records[1].second, (std::vector<uint8_t>{'a', 'b', 'c', 'd', 'e', 0, 0, 0, 0, 0, 0, 0}));
  // Not a perf event array: the helper's name and the argument in the error.
  auto wrong = run.try_call(25, {run.ctx, run.stack(0), 0, run.stack(0), 4});
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message.find("r2 is not a perf event array"), std::string::npos);
}

TEST(EventHelpers, PerfEventOutputAppendsPacketBytesForTcAndXdp) {
  for (ProgramType type : {ProgramType::Tc, ProgramType::Xdp}) {
    HelperRun run(type, frame(64));
    const uint64_t events = add_map(run, kPerfEventArray, 4, 4, 2);
    run.context.map_by_handle(events)->perf_event_array()->attach_readers();
    std::memcpy(run.host(0), "\x11\x22\x33\x44", 4);
    const uint64_t ctx_len = uint64_t{6} << 32;
    EXPECT_EQ(run.call(25, {run.ctx, events, ctx_len | kCurrentCpu, run.stack(0), 4}), 0u);
    EXPECT_EQ(run.call(25, {run.ctx, events, uint64_t{65} << 32 | kCurrentCpu, run.stack(0), 4}), neg(14));
    EXPECT_EQ(run.call(25, {run.ctx, events, uint64_t{1} << 52, run.stack(0), 4}), neg(22));  // past CTXLEN
    auto records = run.context.map_by_handle(events)->perf_event_array()->drain();
    ASSERT_EQ(records.size(), 1u);
    // 4 bytes of data, the frame's first 6 bytes, 2 of padding.
    EXPECT_EQ(records[0].second, (std::vector<uint8_t>{0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4, 5, 6, 0, 0}));
  }
}

TEST(EventHelpers, StackidAndGetStackWalkTheDescribedStacks) {
  HelperRun run(ProgramType::Kprobe, {});
  const uint64_t stacks = add_map(run, kStackTrace, 4, 8 * 4, 16);
  // Userspace has no stack: -EFAULT until one is described.
  EXPECT_EQ(run.call(27, {run.ctx, stacks, 0}), neg(14));
  EXPECT_EQ(run.call(67, {run.ctx, run.stack(0), 32, 0}), neg(14));
  vm::Task task;
  task.kernel_stack = {0xffffffff81000010, 0xffffffff81000020, 0xffffffff81000030};
  task.user_stack = {0x401000};
  run.context.set_task(task);
  const uint64_t id = run.call(27, {run.ctx, stacks, 0});
  EXPECT_LT(id, 16u);
  EXPECT_EQ(run.call(27, {run.ctx, stacks, 0}), id);              // the same stack, the same id
  EXPECT_EQ(run.call(27, {run.ctx, stacks, 3}), neg(14));         // nothing left past skip
  EXPECT_EQ(run.call(27, {run.ctx, stacks, 1u << 12}), neg(22));  // an unknown flag
  const uint32_t key = static_cast<uint32_t>(id);
  std::span<uint8_t> frames =
      run.context.map_by_handle(stacks)->lookup({reinterpret_cast<const uint8_t*>(&key), sizeof key});
  ASSERT_EQ(frames.size(), 32u);
  uint64_t second = 0;
  std::memcpy(&second, frames.data() + 8, 8);
  EXPECT_EQ(second, 0xffffffff81000020u);
  // get_stack: skip 1 of 3 frames into room for 4: 16 bytes, the rest zeroed.
  std::memset(run.host(0), 0xff, 32);
  EXPECT_EQ(run.call(67, {run.ctx, run.stack(0), 32, 1}), 16u);
  uint64_t first = 0, third = 1;
  std::memcpy(&first, run.host(0), 8);
  std::memcpy(&third, run.host(16), 8);
  EXPECT_EQ(first, 0xffffffff81000020u);
  EXPECT_EQ(third, 0u);
  EXPECT_EQ(run.call(67, {run.ctx, run.stack(0), 12, 0}), neg(22));         // not whole entries
  EXPECT_EQ(run.call(67, {run.ctx, run.stack(0), 32, 1u << 11}), neg(22));  // a kernel stack has no build id
  // The user stack with build ids: status BPF_STACK_BUILD_ID_IP and the address.
  EXPECT_EQ(run.call(67, {run.ctx, run.stack(0), 64, 1u << 8 | 1u << 11}), 32u);
  int32_t status = 0;
  uint64_t ip = 0;
  std::memcpy(&status, run.host(0), 4);
  std::memcpy(&ip, run.host(24), 8);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(ip, 0x401000u);
}

TEST(EventHelpers, CgroupTestsAnswerForTheTaskCgroups) {
  HelperRun run(ProgramType::Tc, frame(64));
  const uint64_t cgroups = add_map(run, kCgroupArray, 4, 4, 3, "cgroups");
  vm::Map& map = *run.context.map_by_handle(cgroups);
  const auto put = [&](uint32_t slot, uint32_t id) {
    ASSERT_TRUE(map.update({reinterpret_cast<const uint8_t*>(&slot), 4}, {reinterpret_cast<const uint8_t*>(&id), 4}));
  };
  put(0, 1);   // the root: every task is under it
  put(1, 42);  // a cgroup the task is not in, until said so
  EXPECT_EQ(run.call(37, {cgroups, 0}), 1u);
  EXPECT_EQ(run.call(37, {cgroups, 1}), 0u);
  EXPECT_EQ(run.call(37, {cgroups, 2}), neg(11));  // an empty slot: -EAGAIN
  EXPECT_EQ(run.call(37, {cgroups, 3}), neg(7));   // past max_entries: -E2BIG
  EXPECT_EQ(run.call(33, {run.ctx, cgroups, 1}), 0u);
  vm::Task task;
  task.cgroups.push_back(42);
  run.context.set_task(task);
  EXPECT_EQ(run.call(37, {cgroups, 1}), 1u);
  EXPECT_EQ(run.call(33, {run.ctx, cgroups, 1}), 1u);
  EXPECT_EQ(run.call(33, {run.ctx, cgroups, 3}), neg(7));
  // skb_under_cgroup needs an skb: a tracing run names the helper's need.
  HelperRun tracing(ProgramType::Kprobe, {});
  auto no_skb = tracing.try_call(33, {tracing.ctx, cgroups, 0});
  ASSERT_FALSE(no_skb.has_value());
  EXPECT_NE(no_skb.error().message.find("tc or socket filter"), std::string::npos);
}

}  // namespace
}  // namespace bpfkit
