#include <gtest/gtest.h>

#include <algorithm>

#include "frame_builder.h"
#include "net/net.h"

namespace sipman::net {
namespace {

using namespace testing;  // NOLINT: test helpers

class IpTest : public ::testing::Test {
 protected:
  void Decode(const Bytes& frame, TimestampNs ts = 1000) {
    decoder_->DecodeFrame(ts, LinkType::kEthernet, Span(frame),
                          static_cast<uint32_t>(frame.size()));
  }

  // Splits the UDP datagram carrying `sip` into IPv4 fragments of
  // `chunk` payload bytes (a multiple of 8).
  std::vector<Bytes> V4Fragments(const std::string& sip, size_t chunk, uint16_t id = 7) {
    const Bytes udp = Udp(5060, 5060, sip);
    std::vector<Bytes> frames;
    for (size_t off = 0; off < udp.size(); off += chunk) {
      const size_t n = std::min(chunk, udp.size() - off);
      Bytes part(udp.begin() + static_cast<long>(off), udp.begin() + static_cast<long>(off + n));
      frames.push_back(Ethernet(0x0800, Ipv4(V4(10, 0, 0, 1), V4(10, 0, 0, 2), 17, part, id,
                                             static_cast<uint32_t>(off), off + n < udp.size())));
    }
    return frames;
  }

  std::vector<Bytes> V6Fragments(const std::string& sip, size_t chunk, uint32_t id = 9) {
    const Bytes udp = Udp(5060, 5060, sip);
    std::vector<Bytes> frames;
    for (size_t off = 0; off < udp.size(); off += chunk) {
      const size_t n = std::min(chunk, udp.size() - off);
      Bytes part(udp.begin() + static_cast<long>(off), udp.begin() + static_cast<long>(off + n));
      frames.push_back(Ethernet(
          0x86dd, Ipv6(V6(1), V6(2), 44,
                       Ipv6Fragment(17, static_cast<uint32_t>(off), off + n < udp.size(), id,
                                    part))));
    }
    return frames;
  }

  DecoderOptions options_;
  CollectingSink sink_;
  std::unique_ptr<Decoder> decoder_ = std::make_unique<Decoder>(options_, &sink_);
  const std::string sip_ = SipRequest("frag", 700);
};

TEST_F(IpTest, EthernetPaddingIsTrimmedByTotalLength) {
  const std::string options = "OPTIONS sip:a SIP/2.0\r\n\r\n";
  Bytes frame = EthIpv4Udp(V4(1, 1, 1, 1), 5060, V4(2, 2, 2, 2), 5060, options);
  frame.resize(frame.size() + 18, 0);  // padding after the datagram
  Decode(frame);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, options);
}

TEST_F(IpTest, Ipv4OptionsAreSkippedByHeaderLength) {
  Bytes ip = Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), 17, {});
  ip[0] = 0x46;  // 24-byte header
  const Bytes udp = Udp(5060, 5060, sip_);
  ip.insert(ip.begin() + 20, {1, 1, 1, 0});
  Append(&ip, udp);
  ip[2] = static_cast<uint8_t>(ip.size() >> 8);
  ip[3] = static_cast<uint8_t>(ip.size());
  Decode(Ethernet(0x0800, ip));
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, sip_);
}

TEST_F(IpTest, Ipv6ExtensionHeadersAreWalked) {
  const Bytes udp = Udp(5060, 5062, sip_);
  // hop-by-hop -> routing -> AH -> destination options -> UDP
  const Bytes chain = Ipv6Options(43, 0, Ipv6Options(51, 1, Ipv6Ah(60, 4, Ipv6Options(17, 2, udp))));
  Decode(Ethernet(0x86dd, Ipv6(V6(1), V6(2), 0, chain)));
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, sip_);
  EXPECT_EQ(sink_.got[0].meta.dst_port, 5062);
}

TEST_F(IpTest, Ipv6StopsAtEspAndNoNextHeader) {
  Decode(Ethernet(0x86dd, Ipv6(V6(1), V6(2), 50, Bytes(64, 0xab))));
  Decode(Ethernet(0x86dd, Ipv6(V6(1), V6(2), 59, Udp(5060, 5060, sip_))));
  EXPECT_TRUE(sink_.got.empty());
}

TEST_F(IpTest, Ipv6EndlessExtensionChainIsBounded) {
  Bytes chain = Udp(5060, 5060, sip_);
  for (int i = 0; i < 40; ++i) chain = Ipv6Options(60, 0, chain);
  Decode(Ethernet(0x86dd, Ipv6(V6(1), V6(2), 60, chain)));
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(decoder_->counters().truncated, 1u);
}

TEST_F(IpTest, Ipv4FragmentsInOrder) {
  const auto frags = V4Fragments(sip_, 256);
  ASSERT_EQ(frags.size(), 4u);
  for (size_t i = 0; i < frags.size(); ++i) Decode(frags[i], 1000 + static_cast<int64_t>(i));
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, sip_);
  EXPECT_EQ(sink_.got[0].meta.ts, 1003) << "timestamp of the last fragment";
  EXPECT_EQ(decoder_->counters().ip_fragments, 4u);
  EXPECT_EQ(decoder_->counters().ip_reassembled, 1u);
}

TEST_F(IpTest, Ipv4FragmentsReversed) {
  auto frags = V4Fragments(sip_, 128);
  std::reverse(frags.begin(), frags.end());
  for (const auto& f : frags) Decode(f);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, sip_);
}

TEST_F(IpTest, Ipv4DuplicatedFragmentsEmitOnce) {
  const auto frags = V4Fragments(sip_, 256);
  for (const auto& f : frags) {
    Decode(f);
    Decode(f);  // after the last one, a late duplicate starts a datagram that never completes
  }
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, sip_);
}

TEST_F(IpTest, Ipv4OverlappingFragmentsKeepTheFirstBytes) {
  const Bytes udp = Udp(5060, 5060, sip_);
  auto frag = [&](size_t off, size_t n, bool more, uint8_t fill) {
    Bytes part(udp.begin() + static_cast<long>(off), udp.begin() + static_cast<long>(off + n));
    if (fill != 0) std::fill(part.begin(), part.end(), fill);
    return Ethernet(0x0800, Ipv4(V4(10, 0, 0, 1), V4(10, 0, 0, 2), 17, part, 3,
                                 static_cast<uint32_t>(off), more));
  };
  Decode(frag(0, 320, true, 0));
  Decode(frag(256, 256, true, 0));
  Decode(frag(304, 64, true, 'Z'));  // fully overlapped: ignored
  Decode(frag(512, udp.size() - 512, false, 0));
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, sip_);
}

TEST_F(IpTest, IncompleteDatagramTimesOut) {
  const auto frags = V4Fragments(sip_, 256);
  Decode(frags[0], 0);
  Decode(frags[1], 1);
  Decode(frags[2], options_.fragment_timeout_ns + 10);  // too late: the rest was dropped
  Decode(frags[3], options_.fragment_timeout_ns + 11);
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(decoder_->counters().ip_fragments_dropped, 2u);
  decoder_->Finish();
  EXPECT_EQ(decoder_->counters().ip_fragments_dropped, 4u);
}

TEST_F(IpTest, DatagramCountBoundDropsTheOldest) {
  options_.max_fragment_datagrams = 2;
  decoder_ = std::make_unique<Decoder>(options_, &sink_);
  const auto a = V4Fragments(sip_, 256, 1);
  const auto b = V4Fragments(sip_, 256, 2);
  const auto c = V4Fragments(sip_, 256, 3);
  Decode(a[0]);
  Decode(b[0]);
  Decode(c[0]);  // evicts a
  for (size_t i = 1; i < a.size(); ++i) Decode(a[i]);
  for (size_t i = 1; i < c.size(); ++i) Decode(c[i]);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_GE(decoder_->counters().ip_fragments_dropped, 1u);
}

TEST_F(IpTest, ByteBoundIsRespected) {
  options_.max_fragment_bytes = 600;
  decoder_ = std::make_unique<Decoder>(options_, &sink_);
  const auto a = V4Fragments(sip_, 256, 1);
  Decode(a[2]);  // needs the whole datagram's size (> 600): dropped
  EXPECT_EQ(decoder_->counters().ip_fragments_dropped, 1u);
  const std::string small = SipRequest("s", 200);
  const auto s = V4Fragments(small, 128, 2);
  for (const auto& f : s) Decode(f);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, small);
}

TEST_F(IpTest, Ipv6FragmentsInAnyOrder) {
  auto frags = V6Fragments(sip_, 200);
  ASSERT_EQ(frags.size(), 5u);
  std::swap(frags[0], frags[2]);
  for (const auto& f : frags) Decode(f);
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, sip_);
  EXPECT_EQ(sink_.got[0].meta.src_ip, V6(1));
}

TEST_F(IpTest, Ipv6AtomicFragmentIsNotHeld) {
  Decode(Ethernet(0x86dd, Ipv6(V6(1), V6(2), 44, Ipv6Fragment(17, 0, false, 5, Udp(1, 2, sip_)))));
  ASSERT_EQ(sink_.got.size(), 1u);
}

TEST_F(IpTest, MisalignedMiddleFragmentIsDropped) {
  const Bytes part(100, 0);
  Decode(Ethernet(0x0800, Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), 17, Bytes(13, 0), 4, 0, true)));
  Decode(Ethernet(0x0800, Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), 17, part, 4, 65528, false)));
  EXPECT_EQ(decoder_->counters().ip_fragments_dropped, 2u);
}

TEST_F(IpTest, TcpOverFragmentedIpv4) {
  const std::string a = SipRequest("t", 500);
  const Bytes tcp = Tcp(5060, 5060, 100, kAck | kPsh, a);
  Decode(Ethernet(0x0800, Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), 6,
                               Bytes(tcp.begin(), tcp.begin() + 256), 9, 0, true)));
  Decode(Ethernet(0x0800, Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), 6,
                               Bytes(tcp.begin() + 256, tcp.end()), 9, 256, false)));
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].data, a);
  EXPECT_EQ(sink_.got[0].meta.transport, Transport::kTcp);
}

}  // namespace
}  // namespace sipman::net
