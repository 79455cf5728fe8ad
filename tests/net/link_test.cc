#include <gtest/gtest.h>

#include "net/net.h"
#include "frame_builder.h"

namespace sipman::net {
namespace {

using namespace testing;  // NOLINT: test helpers

const std::string kInvite = SipRequest("link");

class LinkTest : public ::testing::Test {
 protected:
  void Decode(LinkType link, const Bytes& frame) {
    decoder_.DecodeFrame(1000, link, Span(frame), static_cast<uint32_t>(frame.size()));
  }
  Bytes V4UdpPacket() const {
    return Ipv4(V4(10, 0, 0, 1), V4(10, 0, 0, 2), 17, Udp(5060, 5080, kInvite));
  }
  Bytes V6UdpPacket() const { return Ipv6(V6(1), V6(2), 17, Udp(5060, 5080, kInvite)); }
  void ExpectOneInvite() {
    ASSERT_EQ(sink_.got.size(), 1u) << "counters: unsupported=" << decoder_.counters().unsupported_link
                                    << " truncated=" << decoder_.counters().truncated;
    EXPECT_EQ(sink_.got[0].data, kInvite);
    EXPECT_EQ(sink_.got[0].meta.src_port, 5060);
    EXPECT_EQ(sink_.got[0].meta.dst_port, 5080);
    EXPECT_EQ(sink_.got[0].meta.transport, Transport::kUdp);
    EXPECT_EQ(sink_.got[0].meta.ts, 1000);
  }

  DecoderOptions options_;
  CollectingSink sink_;
  Decoder decoder_{options_, &sink_};
};

TEST_F(LinkTest, EthernetIpv4UdpEmitsThePayloadWithAddresses) {
  const Bytes frame = Ethernet(0x0800, V4UdpPacket());
  Decode(LinkType::kEthernet, frame);
  ExpectOneInvite();
  EXPECT_EQ(sink_.got[0].meta.src_ip, V4(10, 0, 0, 1));
  EXPECT_EQ(sink_.got[0].meta.dst_ip, V4(10, 0, 0, 2));
  EXPECT_EQ(sink_.got[0].meta.frame_bytes, frame.size());
  EXPECT_EQ(decoder_.counters().frames, 1u);
  EXPECT_EQ(decoder_.counters().udp_datagrams, 1u);
  EXPECT_EQ(decoder_.counters().sip_payloads, 1u);
}

TEST_F(LinkTest, EthernetIpv6Udp) {
  Decode(LinkType::kEthernet, Ethernet(0x86dd, V6UdpPacket()));
  ExpectOneInvite();
  EXPECT_EQ(sink_.got[0].meta.src_ip, V6(1));
  EXPECT_EQ(sink_.got[0].meta.dst_ip, V6(2));
}

TEST_F(LinkTest, SingleVlanTag) {
  Decode(LinkType::kEthernet, Ethernet(0x0800, V4UdpPacket(), {{0x8100, 100}}));
  ExpectOneInvite();
}

TEST_F(LinkTest, QinQWithEveryTpid) {
  Decode(LinkType::kEthernet,
         Ethernet(0x86dd, V6UdpPacket(), {{0x88a8, 10}, {0x9100, 20}, {0x8100, 30}}));
  ExpectOneInvite();
}

TEST_F(LinkTest, TooManyVlanTagsAreUnsupported) {
  Decode(LinkType::kEthernet,
         Ethernet(0x0800, V4UdpPacket(),
                  {{0x8100, 1}, {0x8100, 2}, {0x8100, 3}, {0x8100, 4}, {0x8100, 5}, {0x8100, 6},
                   {0x8100, 7}, {0x8100, 8}, {0x8100, 9}}));
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(decoder_.counters().unsupported_link, 1u);
}

TEST_F(LinkTest, Ieee8023LengthFrameIsSkipped) {
  Bytes llc = {0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00};
  Append(&llc, V4UdpPacket());
  Decode(LinkType::kEthernet, Ethernet(static_cast<uint16_t>(llc.size()), llc));
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(decoder_.counters().unsupported_link, 1u);
}

TEST_F(LinkTest, ArpIsUnsupported) {
  Decode(LinkType::kEthernet, Ethernet(0x0806, Bytes(28, 0)));
  EXPECT_EQ(decoder_.counters().unsupported_link, 1u);
}

TEST_F(LinkTest, LinuxCookedV1) {
  Decode(LinkType::kLinuxSll, Sll(0x0800, V4UdpPacket()));
  ExpectOneInvite();
}

TEST_F(LinkTest, LinuxCookedV2) {
  Decode(LinkType::kLinuxSll2, Sll2(0x86dd, V6UdpPacket()));
  ExpectOneInvite();
}

TEST_F(LinkTest, RawIpChoosesTheVersionByNibble) {
  Decode(LinkType::kRaw, V4UdpPacket());
  Decode(LinkType::kRaw, V6UdpPacket());
  EXPECT_EQ(sink_.got.size(), 2u);
  EXPECT_EQ(sink_.got[1].meta.src_ip, V6(1));
}

TEST_F(LinkTest, LinktypeIpv4AndIpv6) {
  Decode(LinkType::kIpv4, V4UdpPacket());
  Decode(LinkType::kIpv6, V6UdpPacket());
  EXPECT_EQ(sink_.got.size(), 2u);
}

TEST_F(LinkTest, BsdNullInEitherByteOrder) {
  Decode(LinkType::kNull, BsdNull(2, V4UdpPacket()));
  Decode(LinkType::kNull, BsdLoop(2, V4UdpPacket()));  // captured on a big-endian host
  for (uint32_t family : {24u, 28u, 30u}) Decode(LinkType::kNull, BsdNull(family, V6UdpPacket()));
  EXPECT_EQ(sink_.got.size(), 5u);
  Decode(LinkType::kNull, BsdNull(7, V4UdpPacket()));
  EXPECT_EQ(decoder_.counters().unsupported_link, 1u);
}

TEST_F(LinkTest, DltLoopIsNetworkOrder) {
  Decode(LinkType::kLoop, BsdLoop(2, V4UdpPacket()));
  Decode(LinkType::kLoop, BsdLoop(30, V6UdpPacket()));
  EXPECT_EQ(sink_.got.size(), 2u);
}

TEST_F(LinkTest, UnknownLinkTypeIsCounted) {
  Decode(static_cast<LinkType>(9999), V4UdpPacket());
  EXPECT_EQ(decoder_.counters().unsupported_link, 1u);
  EXPECT_EQ(decoder_.counters().frames, 1u);
}

TEST_F(LinkTest, MplsLabelStack) {
  Bytes mpls;
  Put32(&mpls, (100u << 12) | (0 << 8) | 64);  // not bottom of stack
  Put32(&mpls, (200u << 12) | (1 << 8) | 64);  // bottom of stack
  Append(&mpls, V4UdpPacket());
  Decode(LinkType::kEthernet, Ethernet(0x8847, mpls));
  ExpectOneInvite();
}

TEST(LinkTypeFromDlt, MapsKnownDltsIncludingRawAliases) {
  LinkType t;
  ASSERT_TRUE(LinkTypeFromDlt(1, &t));
  EXPECT_EQ(t, LinkType::kEthernet);
  for (int raw : {12, 14, 101}) {
    ASSERT_TRUE(LinkTypeFromDlt(raw, &t)) << raw;
    EXPECT_EQ(t, LinkType::kRaw);
  }
  ASSERT_TRUE(LinkTypeFromDlt(0, &t));
  EXPECT_EQ(t, LinkType::kNull);
  ASSERT_TRUE(LinkTypeFromDlt(108, &t));
  EXPECT_EQ(t, LinkType::kLoop);
  ASSERT_TRUE(LinkTypeFromDlt(113, &t));
  EXPECT_EQ(t, LinkType::kLinuxSll);
  ASSERT_TRUE(LinkTypeFromDlt(276, &t));
  EXPECT_EQ(t, LinkType::kLinuxSll2);
  ASSERT_TRUE(LinkTypeFromDlt(228, &t));
  EXPECT_EQ(t, LinkType::kIpv4);
  ASSERT_TRUE(LinkTypeFromDlt(229, &t));
  EXPECT_EQ(t, LinkType::kIpv6);
  EXPECT_FALSE(LinkTypeFromDlt(105, &t));  // 802.11
}

TEST(TransportName, ShortNames) {
  EXPECT_EQ(TransportName(Transport::kUdp), "udp");
  EXPECT_EQ(TransportName(Transport::kTcp), "tcp");
  EXPECT_EQ(TransportName(Transport::kWebSocket), "ws");
}

}  // namespace
}  // namespace sipman::net
