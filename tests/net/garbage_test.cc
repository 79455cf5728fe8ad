// Truncated and random frames at every layer: never a crash, always counted.
#include <gtest/gtest.h>

#include <random>

#include "frame_builder.h"
#include "net/net.h"

namespace sipman::net {
namespace {

using namespace testing;  // NOLINT: test helpers

uint64_t SkipCounters(const DecoderCounters& c) { return c.unsupported_link + c.truncated; }

struct Case {
  LinkType link;
  Bytes frame;
};

std::vector<Case> ValidFrames() {
  const std::string sip = SipRequest("g", 20);
  const Bytes udp4 = Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), 17, Udp(5060, 5060, sip));
  const Bytes tcp4 = Ipv4(V4(1, 1, 1, 1), V4(2, 2, 2, 2), 6, Tcp(5060, 5060, 1, kAck, sip));
  const Bytes udp6 = Ipv6(V6(1), V6(2), 0, Ipv6Options(44, 0, Ipv6Fragment(17, 0, false, 1,
                                                                         Udp(1, 2, sip))));
  return {
      {LinkType::kEthernet, Ethernet(0x0800, udp4, {{0x88a8, 1}, {0x8100, 2}})},
      {LinkType::kEthernet, Ethernet(0x0800, tcp4)},
      {LinkType::kEthernet, Ethernet(0x86dd, udp6)},
      {LinkType::kLinuxSll, Sll(0x0800, udp4)},
      {LinkType::kLinuxSll2, Sll2(0x86dd, udp6)},
      {LinkType::kRaw, udp4},
      {LinkType::kIpv6, udp6},
      {LinkType::kNull, BsdNull(2, udp4)},
      {LinkType::kLoop, BsdLoop(28, udp6)},
  };
}

TEST(Garbage, EveryTruncationOfAValidFrameIsCountedNotEmitted) {
  for (const Case& c : ValidFrames()) {
    DecoderOptions options;
    CollectingSink sink;
    Decoder decoder(options, &sink);
    for (size_t len = 0; len < c.frame.size(); ++len) {
      Bytes cut(c.frame.begin(), c.frame.begin() + static_cast<long>(len));
      decoder.DecodeFrame(1, c.link, Span(cut), static_cast<uint32_t>(c.frame.size()));
    }
    const DecoderCounters& k = decoder.counters();
    EXPECT_EQ(k.frames, c.frame.size());
    EXPECT_LE(SkipCounters(k), k.frames);
    // A cut UDP datagram is truncated; a cut TCP segment may still carry a
    // partial message, which is never emitted before its end.
    EXPECT_TRUE(sink.got.empty()) << "link " << static_cast<int>(c.link);
    decoder.DecodeFrame(2, c.link, Span(c.frame), static_cast<uint32_t>(c.frame.size()));
    decoder.Finish();
  }
}

TEST(Garbage, TruncatedUdpIsCounted) {
  DecoderOptions options;
  CollectingSink sink;
  Decoder decoder(options, &sink);
  Bytes frame = EthIpv4Udp(V4(1, 1, 1, 1), 5060, V4(2, 2, 2, 2), 5060, SipRequest("t"));
  frame[14 + 20 + 4] = 0xff;  // UDP length beyond the datagram
  decoder.DecodeFrame(1, LinkType::kEthernet, Span(frame), 0);
  EXPECT_EQ(decoder.counters().truncated, 1u);
  EXPECT_TRUE(sink.got.empty());
}

TEST(Garbage, RandomBytesOnEveryLinkType) {
  std::mt19937 rng(12345);
  const LinkType links[] = {LinkType::kEthernet, LinkType::kLinuxSll, LinkType::kLinuxSll2,
                            LinkType::kRaw,      LinkType::kIpv4,     LinkType::kIpv6,
                            LinkType::kNull,     LinkType::kLoop};
  DecoderOptions options;
  options.max_tcp_stream_bytes = 4096;
  CollectingSink sink;
  Decoder decoder(options, &sink);
  const std::vector<Case> valid = ValidFrames();
  uint64_t frames = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes frame;
    if (i % 2 == 0) {
      frame.resize(rng() % 200);
      for (auto& b : frame) b = static_cast<uint8_t>(rng());
    } else {
      frame = valid[rng() % valid.size()].frame;  // flip a few bytes of a valid frame
      for (int k = 0; k < 3; ++k) frame[rng() % frame.size()] = static_cast<uint8_t>(rng());
    }
    decoder.DecodeFrame(i, links[rng() % 8], Span(frame), static_cast<uint32_t>(frame.size()));
    ++frames;
  }
  decoder.Finish();
  EXPECT_EQ(decoder.counters().frames, frames);
  EXPECT_LE(SkipCounters(decoder.counters()), frames);
  for (const auto& p : sink.got) EXPECT_TRUE(LooksLikeSip(p.data));
}

}  // namespace
}  // namespace sipman::net
