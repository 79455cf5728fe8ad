// Tunnels, SCTP and HEP inside captures: each decoder finds the SIP inside,
// reports the innermost addresses, counts itself, and counts and skips what
// is malformed. The byte-exact fixtures checked against tshark are in
// tests/fixtures/pcaps (scripts/make-test-pcaps); these are the unit cases.
#include <gtest/gtest.h>

#include <memory>

#include "frame_builder.h"
#include "net/net.h"

namespace sipman::net {
namespace {

using namespace testing;  // NOLINT: test helpers

const std::string kInvite = SipRequest("tunnel");
const IpAddress kOuterA = V4(203, 0, 113, 1), kOuterB = V4(203, 0, 113, 2);
const IpAddress kInnerA = V4(192, 0, 2, 10), kInnerB = V4(198, 51, 100, 20);

Bytes InnerIpv4() { return Ipv4(kInnerA, kInnerB, 17, Udp(5060, 5080, kInvite)); }
Bytes InnerIpv6() { return Ipv6(V6(1), V6(2), 17, Udp(5060, 5080, kInvite)); }

Bytes Gre(uint16_t flags, uint16_t protocol, const Bytes& payload) {
  Bytes b;
  Put16(&b, flags);
  Put16(&b, protocol);
  if (flags & 0x8000) Put32(&b, 0);           // checksum + reserved
  if (flags & 0x2000) {
    // Version 1 (PPTP): the key is the payload length and a call id.
    Put32(&b, (flags & 7) == 1 ? static_cast<uint32_t>(payload.size()) << 16 | 0x0304u
                               : 0x01020304u);
  }
  if (flags & 0x1000) Put32(&b, 7);           // sequence
  Append(&b, payload);
  return b;
}

Bytes OuterIpv4(uint8_t protocol, const Bytes& payload) {
  return Ethernet(0x0800, Ipv4(kOuterA, kOuterB, protocol, payload));
}

Bytes Sctp(uint16_t sport, uint16_t dport, const Bytes& chunks) {
  Bytes b;
  Put16(&b, sport);
  Put16(&b, dport);
  Put32(&b, 0x11223344);  // verification tag
  Put32(&b, 0);           // CRC32c: not checked
  Append(&b, chunks);
  return b;
}

Bytes DataChunk(uint8_t flags, uint32_t tsn, std::string_view data, uint16_t stream = 0) {
  Bytes b;
  Put8(&b, 0);
  Put8(&b, flags);
  Put16(&b, static_cast<uint16_t>(16 + data.size()));
  Put32(&b, tsn);
  Put16(&b, stream);
  Put16(&b, 0);  // stream sequence number
  Put32(&b, 0);  // payload protocol identifier: unspecified, as in practice
  Append(&b, data);
  while (b.size() % 4 != 0) b.push_back(0);
  return b;
}

// A HEPv3 packet carrying `payload` as IPv4 `ip_protocol` with its time.
std::string Hep3(std::string_view payload, uint8_t ip_protocol = 17) {
  Bytes chunks;
  auto chunk = [&](uint16_t type, const Bytes& value) {
    Put16(&chunks, 0);
    Put16(&chunks, type);
    Put16(&chunks, static_cast<uint16_t>(6 + value.size()));
    Append(&chunks, value);
  };
  chunk(1, {2});
  chunk(2, {ip_protocol});
  chunk(3, Bytes(kInnerA.bytes, kInnerA.bytes + 4));
  chunk(4, Bytes(kInnerB.bytes, kInnerB.bytes + 4));
  chunk(7, {0x13, 0xc4});  // 5060
  chunk(8, {0x13, 0xd8});  // 5080
  chunk(9, {0x65, 0x53, 0xf1, 0x00});  // 1700000000 s
  chunk(10, {0x00, 0x00, 0x00, 0x7b});  // 123 us
  chunk(11, {1});
  chunk(15, ToBytes(payload));
  Bytes b = ToBytes("HEP3");
  Put16(&b, static_cast<uint16_t>(6 + chunks.size()));
  Append(&b, chunks);
  return std::string(b.begin(), b.end());
}

class TunnelTest : public ::testing::Test {
 protected:
  void Decode(const Bytes& frame, TimestampNs ts = 1000) {
    decoder_.DecodeFrame(ts, LinkType::kEthernet, Span(frame),
                         static_cast<uint32_t>(frame.size()));
  }
  void ExpectInnerInvite(Transport transport = Transport::kUdp) {
    ASSERT_EQ(sink_.got.size(), 1u) << "tunnel_errors=" << counters().tunnel_errors
                                    << " truncated=" << counters().truncated;
    EXPECT_EQ(sink_.got[0].data, kInvite);
    EXPECT_EQ(sink_.got[0].meta.transport, transport);
    EXPECT_EQ(sink_.got[0].meta.src_port, 5060);
    EXPECT_EQ(sink_.got[0].meta.dst_port, 5080);
  }
  const DecoderCounters& counters() const { return decoder_.counters(); }

  DecoderOptions options_;
  CollectingSink sink_;
  Decoder decoder_{options_, &sink_};
};

TEST_F(TunnelTest, GreWithKeyAndSequenceCarryingIpv4GivesTheInnerAddresses) {
  Decode(OuterIpv4(47, Gre(0x3000, 0x0800, InnerIpv4())));
  ExpectInnerInvite();
  EXPECT_EQ(sink_.got[0].meta.src_ip, kInnerA);
  EXPECT_EQ(sink_.got[0].meta.dst_ip, kInnerB);
  EXPECT_EQ(counters().gre, 1u);
}

TEST_F(TunnelTest, GreCarriesIpv6EthernetAndPpp) {
  Decode(OuterIpv4(47, Gre(0, 0x86dd, InnerIpv6())));
  Decode(OuterIpv4(47, Gre(0x8000, 0x6558, Ethernet(0x0800, InnerIpv4()))));
  Bytes ppp = {0xff, 0x03, 0x00, 0x21};
  Append(&ppp, InnerIpv4());
  Decode(OuterIpv4(47, Gre(0x2001, 0x880b, ppp)));  // PPTP: version 1, key
  EXPECT_EQ(sink_.got.size(), 3u);
  Bytes long_ppp = Gre(0x2001, 0x880b, ppp);
  long_ppp[4] = 0x7f;  // payload length past the packet
  Decode(OuterIpv4(47, long_ppp));
  Decode(OuterIpv4(47, Gre(0x0300, 0x0800, InnerIpv4())));  // RFC 1701 recursion
  EXPECT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(counters().tunnel_errors, 2u);
  EXPECT_EQ(counters().gre, 3u);
  EXPECT_EQ(counters().ppp, 1u);
  EXPECT_EQ(sink_.got[0].meta.src_ip, V6(1));
}

TEST_F(TunnelTest, ErspanTypesOneTwoAndThree) {
  const Bytes inner = Ethernet(0x0800, InnerIpv4());
  Decode(OuterIpv4(47, Gre(0, 0x88be, inner)));  // type I: no sequence, no header
  Bytes two = {0x10, 0x01, 0x00, 0x05, 0, 0, 0, 0};
  Append(&two, inner);
  Decode(OuterIpv4(47, Gre(0x1000, 0x88be, two)));
  Bytes three(12, 0);
  three[0] = 0x20;
  three[11] = 0x01;  // O: an 8-byte platform subheader follows
  three.resize(20, 0);
  Append(&three, inner);
  Decode(OuterIpv4(47, Gre(0x1000, 0x22eb, three)));
  EXPECT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(counters().erspan, 3u);
}

TEST_F(TunnelTest, VxlanGeneveAndGtpuOverUdp) {
  Bytes vxlan = {0x08, 0, 0, 0, 0, 0, 0x64, 0};
  Append(&vxlan, Ethernet(0x0800, InnerIpv4()));
  Decode(OuterIpv4(17, Udp(40000, 4789, std::string(vxlan.begin(), vxlan.end()))));
  Bytes geneve = {0x01, 0, 0x65, 0x58, 0, 0, 0x64, 0, 0, 0, 0, 0};  // one option word
  Append(&geneve, Ethernet(0x0800, InnerIpv4()));
  Decode(OuterIpv4(17, Udp(40000, 6081, std::string(geneve.begin(), geneve.end()))));
  const Bytes ip = InnerIpv4();
  Bytes gtp = {0x32, 0xff};  // version 1, GTP, S flag; T-PDU
  Put16(&gtp, static_cast<uint16_t>(4 + ip.size()));
  Put32(&gtp, 0xabcdef01);
  Append(&gtp, Bytes{0, 1, 0, 0});  // sequence, N-PDU, no extension
  Append(&gtp, ip);
  Decode(OuterIpv4(17, Udp(2152, 2152, std::string(gtp.begin(), gtp.end()))));
  EXPECT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(counters().vxlan, 1u);
  EXPECT_EQ(counters().geneve, 1u);
  EXPECT_EQ(counters().gtpu, 1u);
  for (const CapturedPayload& p : sink_.got) EXPECT_EQ(p.meta.src_ip, kInnerA);
}

TEST_F(TunnelTest, SipOnATunnelPortThatIsNotATunnelIsStillSip) {
  Decode(OuterIpv4(17, Udp(5060, 4789, kInvite)));
  ASSERT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(sink_.got[0].meta.src_ip, kOuterA);
}

TEST_F(TunnelTest, IpInIpAllFourWays) {
  Decode(OuterIpv4(4, InnerIpv4()));
  Decode(OuterIpv4(41, InnerIpv6()));
  Decode(Ethernet(0x86dd, Ipv6(V6(9), V6(10), 4, InnerIpv4())));
  Decode(Ethernet(0x86dd, Ipv6(V6(9), V6(10), 41, InnerIpv6())));
  EXPECT_EQ(sink_.got.size(), 4u);
  EXPECT_EQ(counters().ip_in_ip, 4u);
}

TEST_F(TunnelTest, PppoeSessionAndMplsStack) {
  Bytes pppoe = {0x11, 0x00, 0x12, 0x34};
  Put16(&pppoe, static_cast<uint16_t>(2 + InnerIpv6().size()));
  Append(&pppoe, Bytes{0x00, 0x57});
  Append(&pppoe, InnerIpv6());
  Decode(Ethernet(0x8864, pppoe));
  Bytes mpls = {0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x00, 0x40, 0x00, 0x03, 0x01, 0x40};
  Append(&mpls, InnerIpv4());
  Decode(Ethernet(0x8847, mpls));
  EXPECT_EQ(sink_.got.size(), 2u);
  EXPECT_EQ(counters().pppoe, 1u);
  EXPECT_EQ(counters().mpls, 1u);
}

TEST_F(TunnelTest, NestedVlanGreIpv6) {
  Decode(Ethernet(0x0800, Ipv4(kOuterA, kOuterB, 47, Gre(0x2000, 0x86dd, InnerIpv6())),
                  {{0x8100, 10}}));
  ExpectInnerInvite();
  EXPECT_EQ(sink_.got[0].meta.src_ip, V6(1));
}

TEST_F(TunnelTest, MalformedTunnelsAreCountedAndSkipped) {
  Bytes bad_version = Gre(0x0002, 0x0800, InnerIpv4());
  Decode(OuterIpv4(47, bad_version));
  Decode(OuterIpv4(47, Gre(0x4000, 0x0800, InnerIpv4())));  // routing bit
  Decode(OuterIpv4(47, Bytes{0x30, 0x00, 0x08, 0x00, 0x00}));  // key and seq cut short
  Bytes no_bottom(4 * 17, 0);  // 17 labels, none at the bottom of the stack
  Decode(Ethernet(0x8847, no_bottom));
  Bytes short_pppoe = {0x11, 0x00, 0x12, 0x34, 0x40, 0x00, 0x00, 0x21};  // length past the end
  Decode(Ethernet(0x8864, short_pppoe));
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(counters().tunnel_errors, 5u);
  Decode(OuterIpv4(47, Gre(0, 0x0800, InnerIpv4())));
  EXPECT_EQ(sink_.got.size(), 1u);  // the decoder goes on
}

TEST_F(TunnelTest, NestingDeeperThanTheBoundIsDropped) {
  Bytes packet = InnerIpv4();
  for (int i = 0; i < kMaxEncapsulations; ++i) packet = Ipv4(kOuterA, kOuterB, 4, packet);
  Decode(Ethernet(0x0800, packet));
  EXPECT_EQ(sink_.got.size(), 1u);  // exactly at the bound
  packet = Ipv4(kOuterA, kOuterB, 47, Gre(0, 0x0800, packet));
  Decode(Ethernet(0x0800, packet));
  EXPECT_EQ(sink_.got.size(), 1u);
  EXPECT_EQ(counters().tunnel_too_deep, 1u);
}

TEST_F(TunnelTest, SctpSeveralChunksInAPacketAndAFragmentedMessage) {
  const std::string other = SipRequest("second");
  Bytes chunks = DataChunk(0x03, 1, kInvite);
  Append(&chunks, Bytes{3, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0});  // SACK
  Append(&chunks, DataChunk(0x03, 2, other, 1));
  Decode(OuterIpv4(132, Sctp(5060, 5080, chunks)));
  ASSERT_EQ(sink_.got.size(), 2u);
  EXPECT_EQ(sink_.got[0].data, kInvite);
  EXPECT_EQ(sink_.got[1].data, other);
  EXPECT_EQ(sink_.got[0].meta.transport, Transport::kSctp);
  EXPECT_EQ(TransportName(Transport::kSctp), "sctp");

  const std::string big = SipRequest("big", 3000);
  Decode(OuterIpv4(132, Sctp(5060, 5080, DataChunk(0x02, 10, big.substr(0, 1000)))));
  Decode(OuterIpv4(132, Sctp(5060, 5080, DataChunk(0x00, 11, big.substr(1000, 1000)))));
  Decode(OuterIpv4(132, Sctp(5060, 5080, DataChunk(0x00, 11, big.substr(1000, 1000)))));  // again
  EXPECT_EQ(sink_.got.size(), 2u);
  Decode(OuterIpv4(132, Sctp(5060, 5080, DataChunk(0x01, 12, big.substr(2000)))), 2000);
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(sink_.got[2].data, big);
  EXPECT_EQ(sink_.got[2].meta.ts, 2000);
  EXPECT_EQ(counters().sctp_reassembled, 1u);
}

// All partial messages together stay under max_sctp_total_bytes: the
// oldest go first, and a message begun again gives back its old buffer.
// A decoder whose SCTP partial messages may hold `budget` bytes in all.
struct SctpBudgetDecoder {
  explicit SctpBudgetDecoder(size_t budget) {
    options.max_sctp_total_bytes = budget;
    decoder = std::make_unique<Decoder>(options, &sink);
  }
  void Decode(const Bytes& chunks) {
    Bytes frame = OuterIpv4(132, Sctp(5060, 5080, chunks));
    decoder->DecodeFrame(1000, LinkType::kEthernet, Span(frame),
                         static_cast<uint32_t>(frame.size()));
  }
  DecoderOptions options;
  CollectingSink sink;
  std::unique_ptr<Decoder> decoder;
};

TEST(SctpBudget, OldestPartialMessagesGoFirstAndARestartFreesItsBuffer) {
  SctpBudgetDecoder d(64 * 1024);
  auto decode = [&](const Bytes& chunks) { d.Decode(chunks); };
  const Decoder& decoder = *d.decoder;
  const CollectingSink& sink = d.sink;
  const std::string piece(8000, 'x');
  // Stream 1 grows to 32 KB, then begins again with 100 bytes: its old
  // buffer is freed, so streams 2..4 (24 KB each would not fit beside 32 KB)
  // fit beside it without dropping it.
  for (uint32_t i = 0; i < 4; ++i) decode(DataChunk(i == 0 ? 0x02 : 0x00, i, piece, 1));
  decode(DataChunk(0x02, 10, std::string(100, 'y'), 1));
  EXPECT_EQ(decoder.counters().sctp_errors, 1u) << "the unfinished message begun again";
  for (uint16_t stream = 2; stream <= 4; ++stream) {
    for (uint32_t i = 0; i < 2; ++i) {
      decode(DataChunk(i == 0 ? 0x02 : 0x00, 100 * stream + i, piece, stream));
    }
  }
  EXPECT_EQ(decoder.counters().sctp_errors, 1u) << "48 KB of 64 KB: nothing dropped";
  // Stream 5 needs room: the oldest partial message (stream 1) goes first.
  for (uint32_t i = 0; i < 3; ++i) decode(DataChunk(i == 0 ? 0x02 : 0x00, 500 + i, piece, 5));
  EXPECT_GE(decoder.counters().sctp_errors, 2u);
  const std::string tail = "\r\n";
  decode(DataChunk(0x01, 11, tail, 1));  // stream 1 was dropped: its end alone is an error
  EXPECT_TRUE(sink.got.empty());
}

TEST(SctpBudget, AFragmentLargerThanTheWholeBudgetIsRefusedAlone) {
  SctpBudgetDecoder d(4096);
  auto decode = [&](const Bytes& chunks) { d.Decode(chunks); };
  const Decoder& decoder = *d.decoder;
  const CollectingSink& sink = d.sink;
  const std::string invite = SipRequest("budget", 3000);
  decode(DataChunk(0x02, 1, invite.substr(0, 1000), 1));
  decode(DataChunk(0x02, 50, std::string(5000, 'z'), 2));  // more than the budget
  EXPECT_EQ(decoder.counters().sctp_errors, 1u);
  decode(DataChunk(0x00, 2, invite.substr(1000, 1000), 1));
  decode(DataChunk(0x01, 3, invite.substr(2000), 1));
  ASSERT_EQ(sink.got.size(), 1u) << "the message under way was not dropped for it";
  EXPECT_EQ(sink.got[0].data, invite);
}

TEST_F(TunnelTest, TruncatedSctpChunksAreCounted) {
  Bytes over = DataChunk(0x03, 1, kInvite);
  over[2] = 0x7f;  // length past the packet
  Decode(OuterIpv4(132, Sctp(5060, 5080, over)));
  Decode(OuterIpv4(132, Sctp(5060, 5080, Bytes{0, 3, 0, 2})));  // length below 4
  Decode(OuterIpv4(132, Sctp(5060, 5080, DataChunk(0x01, 99, kInvite))));  // end, no start
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(counters().sctp_errors, 3u);
}

TEST_F(TunnelTest, HepInUdpIsUnwrappedWithItsAddressesAndTime) {
  Decode(OuterIpv4(17, Udp(40000, 9060, Hep3(kInvite))));
  ExpectInnerInvite();
  EXPECT_EQ(sink_.got[0].meta.src_ip, kInnerA);
  EXPECT_EQ(sink_.got[0].meta.ts, 1700000000LL * 1000000000 + 123000);
  EXPECT_EQ(counters().hep_packets, 1u);
  // HEP3 is recognised by its magic on any port; a damaged one is counted.
  std::string damaged = Hep3(kInvite);
  damaged[5] = static_cast<char>(damaged[5] + 1);
  Decode(OuterIpv4(17, Udp(40000, 19060, Hep3(kInvite))));
  Decode(OuterIpv4(17, Udp(40000, 9060, damaged)));
  EXPECT_EQ(sink_.got.size(), 2u);
  EXPECT_EQ(counters().hep_errors, 1u);
}

TEST(TunnelOptions, HepIsLeftWrappedWhenDecodeHepIsOff) {
  // A live sensor on a SIP server that sends HEP sees the SIP and its HEP
  // copy: with decode_hep off the copy is not a second message.
  DecoderOptions options;
  options.decode_hep = false;
  CollectingSink sink;
  Decoder decoder(options, &sink);
  const Bytes udp = OuterIpv4(17, Udp(5060, 9060, Hep3(kInvite)));
  decoder.DecodeFrame(1, LinkType::kEthernet, Span(udp), static_cast<uint32_t>(udp.size()));
  const Bytes tcp = OuterIpv4(6, Tcp(40000, 9060, 1, kAck, Hep3(kInvite, 6)));
  decoder.DecodeFrame(2, LinkType::kEthernet, Span(tcp), static_cast<uint32_t>(tcp.size()));
  EXPECT_TRUE(sink.got.empty());
  EXPECT_EQ(decoder.counters().hep_packets, 0u);
  EXPECT_EQ(decoder.counters().non_sip, 2u);
}

TEST_F(TunnelTest, HepInTcpFramesSplitAndJoinedAcrossSegments) {
  const std::string first = Hep3(kInvite, 6), second = Hep3(SipRequest("two"), 6);
  const std::string stream = first + second;
  uint32_t seq = 100;
  auto segment = [&](std::string_view data) {
    Decode(OuterIpv4(6, Tcp(40000, 9060, seq, kAck, data)));
    seq += static_cast<uint32_t>(data.size());
  };
  segment(stream.substr(0, 30));
  segment(stream.substr(30, first.size()));
  segment(stream.substr(30 + first.size()));
  ASSERT_EQ(sink_.got.size(), 2u) << "hep_errors=" << counters().hep_errors
                                  << " hep_packets=" << counters().hep_packets
                                  << " non_sip=" << counters().non_sip
                                  << " gaps=" << counters().tcp_gaps;
  EXPECT_EQ(sink_.got[0].data, kInvite);
  EXPECT_EQ(sink_.got[0].meta.transport, Transport::kTcp);
  EXPECT_EQ(sink_.got[0].meta.src_ip, kInnerA);
  EXPECT_EQ(counters().hep_packets, 2u);
}

}  // namespace
}  // namespace sipman::net
