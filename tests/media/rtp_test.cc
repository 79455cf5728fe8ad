// media: RTP headers (RFC 3550 5.1), RTCP on the RTP port (RFC 5761) and
// telephone events (RFC 4733), on packets built byte by byte.
#include <gtest/gtest.h>

#include <string>

#include "media/media.h"

namespace sipman::media {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// V=2, PT 0 (PCMU), seq 0x1234, ts 0x01020304, SSRC 0xdeadbeef, 4 payload bytes.
const std::string kPlain = Bytes({0x80, 0x00, 0x12, 0x34, 0x01, 0x02, 0x03, 0x04, 0xde, 0xad,
                                  0xbe, 0xef, 0xa1, 0xa2, 0xa3, 0xa4});

TEST(Rtp, FixedHeaderAndPayload) {
  RtpPacket p;
  ASSERT_EQ(ParseRtp(kPlain, &p), RtpError::kNone);
  EXPECT_EQ(p.payload_type, 0);
  EXPECT_FALSE(p.marker);
  EXPECT_EQ(p.sequence, 0x1234);
  EXPECT_EQ(p.timestamp, 0x01020304u);
  EXPECT_EQ(p.ssrc, 0xdeadbeefu);
  EXPECT_EQ(p.csrc_count, 0);
  EXPECT_FALSE(p.has_extension);
  EXPECT_EQ(p.payload, Bytes({0xa1, 0xa2, 0xa3, 0xa4}));
  EXPECT_EQ(p.padding, 0);
}

TEST(Rtp, CsrcsExtensionMarkerAndPadding) {
  // V=2 P=1 X=1 CC=2; M=1 PT=101; two CSRCs; a one-word extension (0xBEDE);
  // 2 payload bytes, then 2 bytes of padding (the last counts them).
  const std::string packet =
      Bytes({0xb2, 0xe5, 0x00, 0x07, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x2a,  //
             0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22,                          // CSRCs
             0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00,                          // extension
             0x05, 0x06, 0x00, 0x02});
  RtpPacket p;
  ASSERT_EQ(ParseRtp(packet, &p), RtpError::kNone);
  EXPECT_TRUE(p.marker);
  EXPECT_EQ(p.payload_type, 101);
  EXPECT_EQ(p.sequence, 7);
  EXPECT_EQ(p.ssrc, 42u);
  ASSERT_EQ(p.csrc_count, 2);
  EXPECT_EQ(CsrcAt(p, 0), 0x11111111u);
  EXPECT_EQ(CsrcAt(p, 1), 0x22222222u);
  EXPECT_TRUE(p.has_extension);
  EXPECT_EQ(p.extension_profile, 0xbede);
  EXPECT_EQ(p.extension, Bytes({0x10, 0xff, 0x00, 0x00}));
  EXPECT_EQ(p.payload, Bytes({0x05, 0x06}));
  EXPECT_EQ(p.padding, 2);
}

TEST(Rtp, MalformedPacketsSayWhy) {
  RtpPacket p;
  EXPECT_EQ(ParseRtp(kPlain.substr(0, 11), &p), RtpError::kTooShort);
  std::string v1 = kPlain;
  v1[0] = 0x40;
  EXPECT_EQ(ParseRtp(v1, &p), RtpError::kNotVersion2);
  std::string csrcs = kPlain;
  csrcs[0] = static_cast<char>(0x82);  // two CSRCs, but only 4 bytes follow
  EXPECT_EQ(ParseRtp(csrcs, &p), RtpError::kCsrcTruncated);
  std::string ext = kPlain;
  ext[0] = static_cast<char>(0x90);  // an extension of 0xa3a4 words
  EXPECT_EQ(ParseRtp(ext, &p), RtpError::kExtensionTruncated);
  std::string pad = kPlain;
  pad[0] = static_cast<char>(0xa0);
  pad.back() = 5;  // 5 bytes of padding, 4 after the header
  EXPECT_EQ(ParseRtp(pad, &p), RtpError::kBadPadding);
  pad.back() = 0;
  EXPECT_EQ(ParseRtp(pad, &p), RtpError::kBadPadding);
  pad.back() = 4;  // all of the payload is padding
  ASSERT_EQ(ParseRtp(pad, &p), RtpError::kNone);
  EXPECT_TRUE(p.payload.empty());
  EXPECT_EQ(RtpErrorName(RtpError::kBadPadding), "bad_padding");
}

TEST(Rtp, RtcpOnTheRtpPortIsToldApartByItsType) {
  EXPECT_FALSE(LooksLikeRtcp(kPlain));
  // An RR (201) and an SR (200); RTP PT 72 with the marker set is 200 too,
  // which RFC 5761 section 4 tells senders to avoid.
  EXPECT_TRUE(LooksLikeRtcp(Bytes({0x80, 201, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01})));
  EXPECT_TRUE(LooksLikeRtcp(Bytes({0x80, 200, 0x00, 0x06, 0, 0, 0, 1})));
  EXPECT_FALSE(LooksLikeRtcp(Bytes({0x80, 224, 0x00, 0x01, 0, 0, 0, 1})));
  EXPECT_FALSE(LooksLikeRtcp(Bytes({0x80, 201, 0x00, 0x01})));  // too short
}

TEST(TelephoneEvents, DigitEndVolumeDuration) {
  TelephoneEvent e;
  // Event 11 ('#'), E=1, volume 10, duration 800 (100 ms at 8 kHz).
  ASSERT_TRUE(ParseTelephoneEvent(Bytes({11, 0x8a, 0x03, 0x20}), &e));
  EXPECT_EQ(e.event, 11);
  EXPECT_TRUE(e.end);
  EXPECT_EQ(e.volume, 10);
  EXPECT_EQ(e.duration, 800);
  EXPECT_EQ(DtmfDigit(e.event), '#');
  ASSERT_TRUE(ParseTelephoneEvent(Bytes({5, 0x0a, 0x00, 0xa0}), &e));
  EXPECT_FALSE(e.end);
  EXPECT_EQ(DtmfDigit(e.event), '5');
  EXPECT_EQ(DtmfDigit(10), '*');
  EXPECT_EQ(DtmfDigit(15), 'D');
  EXPECT_EQ(DtmfDigit(16), 0);  // a tone, not a DTMF digit
  EXPECT_FALSE(ParseTelephoneEvent(Bytes({11, 0x8a, 0x03}), &e));
}

}  // namespace
}  // namespace sipman::media
