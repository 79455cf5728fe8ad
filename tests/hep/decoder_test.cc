#include <zlib.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hep/hep.h"
#include "hep_builder.h"

namespace sipman::hep {
namespace {

using testing::BuildHep12;
using testing::Hep3Builder;

constexpr std::string_view kInvite =
    "INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: abc@host\r\nCSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n";

std::span<const uint8_t> Span(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

HepError Decode(const std::vector<uint8_t>& bytes, HepPacket* p = nullptr) {
  HepPacket scratch;
  std::string inflate;
  return DecodeHepPacket(Span(bytes), p ? p : &scratch, &inflate);
}

TEST(HepDecoder, Hep3Ipv4EveryGenericChunk) {
  const auto bytes = Hep3Builder()
                         .Ipv4Basics()
                         .U16(0x0d, 30)
                         .Chunk(0x0e, "secret")
                         .Chunk(0x11, "corr-1")
                         .U16(0x12, 42)
                         .Chunk(0x13, "edge-7")
                         .Chunk(0x0f, kInvite)
                         .Build();
  HepPacket p;
  ASSERT_EQ(Decode(bytes, &p), HepError::kOk);
  EXPECT_EQ(p.version, 3);
  EXPECT_EQ(p.src_ip.ToString(), "10.0.0.1");
  EXPECT_EQ(p.dst_ip.ToString(), "10.0.0.2");
  EXPECT_EQ(p.src_port, 5060);
  EXPECT_EQ(p.dst_port, 5070);
  EXPECT_EQ(p.ts, 1700000000LL * kNsPerSecond + 123456LL * kNsPerUs);
  EXPECT_EQ(p.ip_protocol, kIpProtocolUdp);
  EXPECT_EQ(p.payload_type, kPayloadTypeSip);
  EXPECT_EQ(p.capture_id, 2001u);
  EXPECT_EQ(p.keep_alive_s, 30);
  EXPECT_EQ(p.auth_key, "secret");
  EXPECT_EQ(p.correlation_id, "corr-1");
  EXPECT_EQ(p.vlan, 42);
  EXPECT_EQ(p.node_name, "edge-7");
  EXPECT_EQ(p.payload, kInvite);
  EXPECT_FALSE(p.compressed);
  // Views point into the input.
  EXPECT_GE(reinterpret_cast<const uint8_t*>(p.payload.data()), bytes.data());
  EXPECT_LE(reinterpret_cast<const uint8_t*>(p.payload.data() + p.payload.size()),
            bytes.data() + bytes.size());
}

TEST(HepDecoder, Hep3Ipv6Tcp) {
  const std::string src("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
  const std::string dst("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
  const auto bytes = Hep3Builder()
                         .U8(0x01, 10)
                         .U8(0x02, 6)
                         .Chunk(0x05, src)
                         .Chunk(0x06, dst)
                         .U16(0x07, 5061)
                         .U16(0x08, 5062)
                         .U32(0x09, 1)
                         .U32(0x0a, 2)
                         .Chunk(0x0f, kInvite)
                         .Build();
  HepPacket p;
  ASSERT_EQ(Decode(bytes, &p), HepError::kOk);
  EXPECT_EQ(p.src_ip.ToString(), "2001:db8::1");
  EXPECT_EQ(p.dst_ip.ToString(), "2001:db8::2");
  EXPECT_EQ(p.ip_protocol, kIpProtocolTcp);
  EXPECT_EQ(p.ts, kNsPerSecond + 2 * kNsPerUs);
  EXPECT_EQ(p.capture_id, 0u);
}

TEST(HepDecoder, UnknownAndVendorChunksAreSkipped) {
  const auto bytes = Hep3Builder()
                         .Chunk(0x0063, "unknown generic")
                         .Ipv4Basics()
                         // A vendor chunk reusing the payload's type id must not be taken.
                         .Chunk(0x000f, "vendor payload", 0x0008)
                         .Chunk(0x0003, "xx", 0x0008)  // wrong size, but vendor: skipped
                         .Chunk(0x0f, kInvite)
                         .Chunk(0x7fff, "")
                         .Build();
  HepPacket p;
  ASSERT_EQ(Decode(bytes, &p), HepError::kOk);
  EXPECT_EQ(p.payload, kInvite);
  EXPECT_EQ(p.src_ip.ToString(), "10.0.0.1");
}

TEST(HepDecoder, CaptureIdOf16Bits) {
  const auto bytes = Hep3Builder()
                         .Chunk(0x03, std::string("\x01\x02\x03\x04", 4))
                         .Chunk(0x04, std::string("\x01\x02\x03\x05", 4))
                         .U16(0x0c, 77)
                         .Chunk(0x0f, "x")
                         .Build();
  HepPacket p;
  ASSERT_EQ(Decode(bytes, &p), HepError::kOk);
  EXPECT_EQ(p.capture_id, 77u);
  EXPECT_EQ(p.ts, 0);
  EXPECT_EQ(p.ip_protocol, kIpProtocolUdp);  // default when absent
}

std::string Compress(std::string_view data, int window_bits) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(HepDecoder, CompressedPayloadGzipZlibAndRawDeflate) {
  for (int bits : {15 + 16, 15, -15}) {
    const auto bytes = Hep3Builder().Ipv4Basics().Chunk(0x10, Compress(kInvite, bits)).Build();
    HepPacket p;
    std::string inflate;
    ASSERT_EQ(DecodeHepPacket(Span(bytes), &p, &inflate), HepError::kOk) << "window bits " << bits;
    EXPECT_TRUE(p.compressed);
    EXPECT_EQ(p.payload, kInvite);
    // Without an inflate buffer a compressed payload is refused.
    EXPECT_EQ(DecodeHepPacket(Span(bytes), &p, nullptr), HepError::kBadCompression);
  }
}

TEST(HepDecoder, CompressionBombAndGarbageAreRejected) {
  const std::string big(kMaxInflatedBytes + 1, 'a');
  HepPacket p;
  std::string inflate;
  auto bytes = Hep3Builder().Ipv4Basics().Chunk(0x10, Compress(big, 15)).Build();
  EXPECT_EQ(DecodeHepPacket(Span(bytes), &p, &inflate), HepError::kBadCompression);
  bytes = Hep3Builder().Ipv4Basics().Chunk(0x10, "not compressed at all").Build();
  EXPECT_EQ(DecodeHepPacket(Span(bytes), &p, &inflate), HepError::kBadCompression);
  // Truncated stream.
  std::string cut = Compress(kInvite, 15);
  cut.resize(cut.size() / 2);
  bytes = Hep3Builder().Ipv4Basics().Chunk(0x10, cut).Build();
  EXPECT_EQ(DecodeHepPacket(Span(bytes), &p, &inflate), HepError::kBadCompression);
}

TEST(HepDecoder, Hep2Ipv4AndIpv6) {
  HepPacket p;
  auto bytes = BuildHep12(2, false, 17, 5060, 5080, 1700000001, 999999, 0x1234, kInvite);
  ASSERT_EQ(Decode(bytes, &p), HepError::kOk);
  EXPECT_EQ(p.version, 2);
  EXPECT_EQ(p.src_ip.ToString(), "10.10.10.1");
  EXPECT_EQ(p.dst_ip.ToString(), "10.10.10.2");
  EXPECT_EQ(p.src_port, 5060);
  EXPECT_EQ(p.dst_port, 5080);
  EXPECT_EQ(p.ts, 1700000001LL * kNsPerSecond + 999999LL * kNsPerUs);
  EXPECT_EQ(p.capture_id, 0x1234u);
  EXPECT_EQ(p.payload, kInvite);

  bytes = BuildHep12(2, true, 6, 1, 2, 3, 4, 5, kInvite);
  ASSERT_EQ(Decode(bytes, &p), HepError::kOk);
  EXPECT_EQ(p.src_ip.ToString(), "2001::1");
  EXPECT_EQ(p.dst_ip.ToString(), "2001::2");
  EXPECT_EQ(p.ip_protocol, 6);
  EXPECT_EQ(p.ts, 3 * kNsPerSecond + 4 * kNsPerUs);
  EXPECT_EQ(p.payload, kInvite);
}

TEST(HepDecoder, Hep1HasNoTime) {
  HepPacket p;
  const auto bytes = BuildHep12(1, false, 17, 5060, 5060, 0, 0, 0, kInvite);
  ASSERT_EQ(Decode(bytes, &p), HepError::kOk);
  EXPECT_EQ(p.version, 1);
  EXPECT_EQ(p.ts, 0);
  EXPECT_EQ(p.payload, kInvite);
}

TEST(HepDecoder, Hep12Malformed) {
  auto bytes = BuildHep12(2, false, 17, 1, 2, 3, 4, 5, kInvite);
  // Cut inside the time header.
  EXPECT_EQ(Decode(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 20)), HepError::kTooShort);
  EXPECT_EQ(Decode(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 5)), HepError::kTooShort);
  auto bad_family = bytes;
  bad_family[2] = 7;
  EXPECT_EQ(Decode(bad_family), HepError::kBadChunkValue);
  auto bad_len = bytes;
  bad_len[1] = 99;
  EXPECT_EQ(Decode(bad_len), HepError::kBadLength);
}

TEST(HepDecoder, MalformedHep3) {
  const auto good = Hep3Builder().Ipv4Basics().Chunk(0x0f, kInvite).Build();
  ASSERT_EQ(Decode(good), HepError::kOk);

  auto magic = good;
  magic[3] = '4';
  EXPECT_EQ(Decode(magic), HepError::kBadMagic);
  EXPECT_EQ(Decode({'X'}), HepError::kBadMagic);
  EXPECT_EQ(Decode({'H', 'E', 'P'}), HepError::kTooShort);
  EXPECT_EQ(Decode({}), HepError::kTooShort);

  // Length larger and smaller than the datagram.
  auto longer = Hep3Builder().Ipv4Basics().Chunk(0x0f, kInvite).Build(static_cast<int>(good.size()) + 1);
  EXPECT_EQ(Decode(longer), HepError::kBadLength);
  auto shorter = Hep3Builder().Ipv4Basics().Chunk(0x0f, kInvite).Build(static_cast<int>(good.size()) - 1);
  EXPECT_EQ(Decode(shorter), HepError::kBadLength);
  // The datagram cut short (length field still says the full size).
  EXPECT_EQ(Decode(std::vector<uint8_t>(good.begin(), good.end() - 3)), HepError::kBadLength);

  // Chunk length below its header.
  auto tiny = Hep3Builder().Ipv4Basics().Raw(std::string("\0\0\0\x0f\0\x05", 6)).Build();
  EXPECT_EQ(Decode(tiny), HepError::kBadChunk);
  // Chunk running over the end.
  auto over = Hep3Builder().Ipv4Basics().Raw(std::string("\0\0\0\x0f\0\x40xyz", 9)).Build();
  EXPECT_EQ(Decode(over), HepError::kBadChunk);
  // Trailing bytes that cannot hold a chunk header.
  auto trailing = Hep3Builder().Ipv4Basics().Chunk(0x0f, kInvite).Raw("abc").Build();
  EXPECT_EQ(Decode(trailing), HepError::kBadChunk);

  // Fixed-size chunks of the wrong size, and a bad family.
  EXPECT_EQ(Decode(Hep3Builder().Ipv4Basics().Chunk(0x03, "abc").Chunk(0x0f, "x").Build()),
            HepError::kBadChunkValue);
  EXPECT_EQ(Decode(Hep3Builder().Ipv4Basics().Chunk(0x07, "a").Chunk(0x0f, "x").Build()),
            HepError::kBadChunkValue);
  EXPECT_EQ(Decode(Hep3Builder().Ipv4Basics().U8(0x01, 99).Chunk(0x0f, "x").Build()),
            HepError::kBadChunkValue);

  // Missing payload, missing addresses, family without its addresses.
  EXPECT_EQ(Decode(Hep3Builder().Ipv4Basics().Build()), HepError::kMissingPayload);
  EXPECT_EQ(Decode(Hep3Builder().U16(0x07, 1).Chunk(0x0f, "x").Build()),
            HepError::kMissingAddress);
  EXPECT_EQ(Decode(Hep3Builder().Ipv4Basics().U8(0x01, 10).Chunk(0x0f, "x").Build()),
            HepError::kMissingAddress);
  EXPECT_EQ(Decode(Hep3Builder().Chunk(0x03, std::string(4, '\1')).Chunk(0x0f, "x").Build()),
            HepError::kMissingAddress);
}

TEST(HepDecoder, StatusMessagesNameTheProblem) {
  HepPacket p;
  const auto over = Hep3Builder().Ipv4Basics().Raw(std::string("\0\0\0\x0f\0\x40xyz", 9)).Build();
  Status s = DecodeHep(Span(over), &p, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("chunk 0x000f"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("overruns"), std::string::npos) << s.message();
  const std::vector<uint8_t> magic = {'G', 'E', 'T', ' ', '/', ' ', 'H'};
  s = DecodeHep(Span(magic), &p, nullptr);
  EXPECT_NE(s.message().find("HEP3"), std::string::npos) << s.message();
  const auto good = Hep3Builder().Ipv4Basics().Chunk(0x0f, kInvite).Build();
  EXPECT_TRUE(DecodeHep(Span(good), &p, nullptr).ok());
  EXPECT_EQ(HepErrorName(HepError::kAuthFailed), "auth_failed");
}

TEST(HepDecoder, EveryPrefixIsRejectedWithoutOverrun) {
  // Each truncation of a valid packet is an error (never a crash); run under
  // ASan this proves no read past the datagram.
  const auto good = Hep3Builder().Ipv4Basics().Chunk(0x13, "n").Chunk(0x0f, kInvite).Build();
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<ptrdiff_t>(n));
    cut.shrink_to_fit();
    EXPECT_NE(Decode(cut), HepError::kOk) << "prefix " << n;
  }
}

TEST(HepEncoder, RoundTripIpv4AndIpv6) {
  for (bool v6 : {false, true}) {
    HepPacket in;
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10};
    in.src_ip = v6 ? IpAddress::V6(a) : IpAddress::V4(a);
    in.dst_ip = v6 ? IpAddress::V6(b) : IpAddress::V4(b);
    in.src_port = 5060;
    in.dst_port = 15060;
    in.ts = 1700000000LL * kNsPerSecond + 654321LL * kNsPerUs + 999;  // ns are cut
    in.ip_protocol = kIpProtocolTcp;
    in.capture_id = 4242;
    in.keep_alive_s = 5;
    in.vlan = 100;
    in.auth_key = "key";
    in.correlation_id = "corr";
    in.node_name = "node";
    in.payload = kInvite;
    std::string wire;
    ASSERT_TRUE(EncodeHep3(in, &wire).ok());
    HepPacket out;
    std::vector<uint8_t> bytes(wire.begin(), wire.end());
    ASSERT_EQ(Decode(bytes, &out), HepError::kOk);
    EXPECT_EQ(out.src_ip, in.src_ip);
    EXPECT_EQ(out.dst_ip, in.dst_ip);
    EXPECT_EQ(out.src_port, in.src_port);
    EXPECT_EQ(out.dst_port, in.dst_port);
    EXPECT_EQ(out.ts, in.ts - 999);
    EXPECT_EQ(out.ip_protocol, in.ip_protocol);
    EXPECT_EQ(out.capture_id, in.capture_id);
    EXPECT_EQ(out.keep_alive_s, in.keep_alive_s);
    EXPECT_EQ(out.vlan, in.vlan);
    EXPECT_EQ(out.auth_key, in.auth_key);
    EXPECT_EQ(out.correlation_id, in.correlation_id);
    EXPECT_EQ(out.node_name, in.node_name);
    EXPECT_EQ(out.payload, in.payload);
  }
}

TEST(HepEncoder, ReusesItsBufferAndRefusesOversize) {
  HepPacket in;
  uint8_t a[4] = {127, 0, 0, 1};
  in.src_ip = in.dst_ip = IpAddress::V4(a);
  in.payload = kInvite;
  std::string wire;
  wire.reserve(4096);
  const char* before = wire.data();
  ASSERT_TRUE(EncodeHep3(in, &wire).ok());
  EXPECT_EQ(wire.data(), before);
  const std::string huge(70000, 'x');
  in.payload = huge;
  Status s = EncodeHep3(in, &wire);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("65535"), std::string::npos) << s.message();
  HepPacket none;
  EXPECT_FALSE(EncodeHep3(none, &wire).ok());
}

TEST(HepFraming, SplitsAStream) {
  const auto one = Hep3Builder().Ipv4Basics().Chunk(0x0f, kInvite).Build();
  std::vector<uint8_t> stream = one;
  stream.insert(stream.end(), one.begin(), one.end());
  size_t len = 0;
  EXPECT_EQ(NextHepFrame(Span(stream), &len), FrameStatus::kFrame);
  EXPECT_EQ(len, one.size());
  for (size_t n = 0; n < one.size(); ++n) {
    EXPECT_EQ(NextHepFrame({one.data(), n}, &len), FrameStatus::kNeedMore) << n;
  }
  const std::vector<uint8_t> bad = {'H', 'E', 'X'};
  EXPECT_EQ(NextHepFrame(Span(bad), &len), FrameStatus::kError);
  const std::vector<uint8_t> short_len = {'H', 'E', 'P', '3', 0, 5, 0};
  EXPECT_EQ(NextHepFrame(Span(short_len), &len), FrameStatus::kError);
}

TEST(HepAddress, ParseHostPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseHostPort("9061", 9060, &host, &port).ok());
  EXPECT_EQ(host, "");
  EXPECT_EQ(port, 9061);
  ASSERT_TRUE(ParseHostPort("127.0.0.1:9062", 9060, &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9062);
  ASSERT_TRUE(ParseHostPort("[::1]:9063", 9060, &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9063);
  ASSERT_TRUE(ParseHostPort("::1", 9060, &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9060);
  ASSERT_TRUE(ParseHostPort("homer.example.com", 9060, &host, &port).ok());
  EXPECT_EQ(host, "homer.example.com");
  EXPECT_FALSE(ParseHostPort("", 9060, &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("host:99999", 9060, &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("host:", 9060, &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("[::1", 9060, &host, &port).ok());
  EXPECT_FALSE(ParseHostPort(":9060", 9060, &host, &port).ok());
}

}  // namespace
}  // namespace sipman::hep
