// The test packets of the program-type runs (issue 14's list): IPv4 and
// IPv6 with TCP and UDP, ICMPv6, ARP, VLAN-tagged, IP-in-IP, a truncated
// frame, a full 1500-byte one, and one shorter than an Ethernet header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bpfkit::test {

struct TestPacket {
  std::string name;
  std::vector<uint8_t> bytes;
};

inline std::vector<uint8_t> ethernet(uint16_t proto, bool to_host = false) {
  std::vector<uint8_t> frame = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
  if (to_host) std::fill(frame.begin(), frame.begin() + 6, 0);
  frame.push_back(static_cast<uint8_t>(proto >> 8));
  frame.push_back(static_cast<uint8_t>(proto));
  return frame;
}

inline void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& bytes) {
  to.insert(to.end(), bytes.begin(), bytes.end());
}

inline std::vector<uint8_t> ipv4(uint8_t protocol, uint16_t total) {
  return {0x45,
          0,
          static_cast<uint8_t>(total >> 8),
          static_cast<uint8_t>(total),
          0,
          1,
          0x40,
          0,
          64,
          protocol,
          0,
          0,
          10,
          0,
          0,
          1,
          10,
          0,
          0,
          2};
}

inline std::vector<uint8_t> ipv6(uint8_t next, uint16_t payload) {
  std::vector<uint8_t> header = {0x60, 0, 0, 0, static_cast<uint8_t>(payload >> 8), static_cast<uint8_t>(payload),
                                 next, 64};
  for (int i = 0; i < 32; ++i) header.push_back(static_cast<uint8_t>(i == 15 || i == 31 ? i : 0xfd * (i % 16 == 0)));
  return header;
}

inline std::vector<uint8_t> ports(uint16_t source, uint16_t dest) {
  return {static_cast<uint8_t>(source >> 8),
          static_cast<uint8_t>(source),
          static_cast<uint8_t>(dest >> 8),
          static_cast<uint8_t>(dest),
          0,
          0,
          0,
          0};
}

inline std::vector<uint8_t> padded(std::vector<uint8_t> frame, size_t size) {
  if (frame.size() < size) frame.resize(size, 0xa5);
  return frame;
}

inline std::vector<TestPacket> test_packets() {
  std::vector<TestPacket> packets;
  auto add = [&](std::string name, std::vector<uint8_t> bytes) { packets.push_back({std::move(name), bytes}); };
  {
    auto frame = ethernet(0x0800);
    append(frame, ipv4(6, 40));
    append(frame, ports(40000, 80));
    add("ipv4_tcp_80", padded(frame, 60));
  }
  {
    auto frame = ethernet(0x0800, true);
    append(frame, ipv4(17, 28));
    append(frame, ports(53, 5353));
    add("ipv4_udp_to_host", padded(frame, 60));
  }
  {
    auto frame = ethernet(0x86dd);
    append(frame, ipv6(6, 20));
    append(frame, ports(1234, 443));
    add("ipv6_tcp", padded(frame, 74));
  }
  {
    auto frame = ethernet(0x86dd);
    append(frame, ipv6(17, 8));
    append(frame, ports(1234, 53));
    add("ipv6_udp", frame);
  }
  {
    auto frame = ethernet(0x86dd);
    append(frame, ipv6(58, 8));
    append(frame, {128, 0, 0, 0, 0, 1, 0, 1});  // echo request
    add("icmpv6", frame);
  }
  {
    auto frame = ethernet(0x0806);
    frame[0] = 0xff;  // to ff:ff:ff:ff:ff:ff
    std::fill(frame.begin(), frame.begin() + 6, 0xff);
    append(frame, {0, 1, 8, 0, 6, 4, 0, 1});
    add("arp_broadcast", padded(frame, 42));
  }
  {
    auto frame = ethernet(0x8100);
    append(frame, {0, 10, 0x08, 0x00});
    append(frame, ipv4(6, 40));
    append(frame, ports(40000, 80));
    add("vlan_ipv4_tcp", padded(frame, 64));
  }
  {
    auto frame = ethernet(0x8100);
    append(frame, {0, 10, 0x81, 0x00, 0, 20, 0x86, 0xdd});
    append(frame, ipv6(17, 8));
    append(frame, ports(1, 2));
    add("qinq_ipv6_udp", frame);
  }
  {
    auto frame = ethernet(0x0800);
    append(frame, ipv4(4, 60));
    append(frame, ipv4(17, 40));
    append(frame, ports(9, 9));
    add("ipip_udp", padded(frame, 74));
  }
  {
    auto frame = ethernet(0x0800);
    append(frame, {0x45, 0, 0, 40, 0, 1});  // the IPv4 header cut short
    add("truncated_ipv4", frame);
  }
  {
    auto frame = ethernet(0x0800);
    append(frame, ipv4(6, 1486));
    append(frame, ports(40000, 8080));
    add("full_1500", padded(frame, 1500));
  }
  add("runt_13", std::vector<uint8_t>(13, 0));
  return packets;
}

}  // namespace bpfkit::test
