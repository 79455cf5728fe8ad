#include <gtest/gtest.h>

#include <string>

#include "sip/sip.h"

namespace sipman::sip {
namespace {

std::string Crlf(std::string_view lf_text) {
  std::string s;
  for (char c : lf_text) {
    if (c == '\n') s += '\r';
    s += c;
  }
  return s;
}

TEST(Sdp, AudioAndVideoMediaAreRead) {
  const std::string sdp = Crlf(
      "v=0\n"
      "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\n"
      "s=SDP Seminar\n"
      "c=IN IP4 224.2.17.12/127\n"
      "t=2873397496 2873404696\n"
      "m=audio 49170 RTP/AVP 0 8 101\n"
      "a=rtpmap:0 PCMU/8000\n"
      "a=rtpmap:8 PCMA/8000\n"
      "a=rtpmap:101 telephone-event/8000\n"
      "m=video 51372/2 RTP/AVP 99\n"
      "a=rtpmap:99 h263-1998/90000\n");
  SdpSession s;
  ASSERT_TRUE(ParseSdp(sdp, &s));
  EXPECT_EQ(s.origin_username, "jdoe");
  EXPECT_EQ(s.origin_session_id, "2890844526");
  EXPECT_EQ(s.origin_session_version, "2890842807");
  EXPECT_EQ(s.origin_address, "10.47.16.5");
  EXPECT_EQ(s.session_name, "SDP Seminar");
  EXPECT_EQ(s.connection_address, "224.2.17.12");  // without the /ttl
  ASSERT_EQ(s.media_count, 2u);
  const SdpMedia& audio = s.media[0];
  EXPECT_EQ(audio.type, "audio");
  EXPECT_EQ(audio.port, 49170);
  EXPECT_EQ(audio.port_count, 1);
  EXPECT_EQ(audio.protocol, "RTP/AVP");
  EXPECT_EQ(audio.formats, "0 8 101");
  EXPECT_EQ(audio.connection_address, "224.2.17.12");
  ASSERT_EQ(audio.rtpmap_count, 3u);
  EXPECT_EQ(audio.rtpmaps[2].payload_type, 101);
  EXPECT_EQ(audio.rtpmaps[2].encoding, "telephone-event");
  EXPECT_EQ(audio.rtpmaps[2].clock_rate, 8000u);
  const SdpMedia& video = s.media[1];
  EXPECT_EQ(video.type, "video");
  EXPECT_EQ(video.port, 51372);
  EXPECT_EQ(video.port_count, 2);
  ASSERT_EQ(video.rtpmap_count, 1u);
  EXPECT_EQ(video.rtpmaps[0].encoding, "h263-1998");
  EXPECT_EQ(video.rtpmaps[0].clock_rate, 90000u);
  EXPECT_EQ(s.malformed_lines, 0u);
}

TEST(Sdp, MediaConnectionOverridesSessionConnection) {
  SdpSession s;
  // The session's views point into `text`, which must outlive it.
  const std::string text = Crlf(
      "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n"
      "m=audio 4000 RTP/AVP 0\nc=IN IP4 192.0.2.99\n"
      "m=audio 4002 RTP/AVP 0\n");
  ASSERT_TRUE(ParseSdp(text, &s));
  ASSERT_EQ(s.media_count, 2u);
  EXPECT_EQ(s.media[0].connection_address, "192.0.2.99");
  EXPECT_EQ(s.media[1].connection_address, "192.0.2.1");
  EXPECT_EQ(s.connection_address, "192.0.2.1");
}

TEST(Sdp, Ipv6ConnectionAddresses) {
  SdpSession s;
  const std::string text = Crlf(
      "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::2\nt=0 0\n"
      "m=audio 5004 RTP/SAVPF 111\nc=IN IP6 ff15::101/3\n"
      "a=rtpmap:111 opus/48000/2\n");
  ASSERT_TRUE(ParseSdp(text, &s));
  EXPECT_EQ(s.origin_address, "2001:db8::1");
  EXPECT_EQ(s.connection_address, "2001:db8::2");
  ASSERT_EQ(s.media_count, 1u);
  EXPECT_EQ(s.media[0].connection_address, "ff15::101");
  ASSERT_EQ(s.media[0].rtpmap_count, 1u);
  EXPECT_EQ(s.media[0].rtpmaps[0].encoding, "opus");
  EXPECT_EQ(s.media[0].rtpmaps[0].clock_rate, 48000u);
  EXPECT_EQ(s.media[0].rtpmaps[0].encoding_params, "2");
}

TEST(Sdp, MediaInheritsSessionDirectionUnlessItHasItsOwn) {
  SdpSession s;
  const std::string text = Crlf(
      "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n"
      "a=sendonly\n"
      "m=audio 4000 RTP/AVP 0\n"
      "m=video 4002 RTP/AVP 96\na=inactive\n"
      "m=audio 4004 RTP/AVP 0\na=recvonly\n"
      "m=audio 4006 RTP/AVP 0\na=sendrecv\n");
  ASSERT_TRUE(ParseSdp(text, &s));
  EXPECT_EQ(s.direction, MediaDirection::kSendOnly);
  ASSERT_EQ(s.media_count, 4u);
  EXPECT_EQ(s.media[0].direction, MediaDirection::kSendOnly);
  EXPECT_EQ(s.media[1].direction, MediaDirection::kInactive);
  EXPECT_EQ(s.media[2].direction, MediaDirection::kRecvOnly);
  EXPECT_EQ(s.media[3].direction, MediaDirection::kSendRecv);
  EXPECT_EQ(MediaDirectionName(MediaDirection::kRecvOnly), "recvonly");
  EXPECT_EQ(MediaDirectionName(MediaDirection::kSendOnly), "sendonly");
  EXPECT_EQ(MediaDirectionName(MediaDirection::kInactive), "inactive");
  EXPECT_EQ(MediaDirectionName(MediaDirection::kSendRecv), "sendrecv");
}

TEST(Sdp, MalformedLinesAreCountedAndTheRestIsKept) {
  SdpSession s;
  ASSERT_TRUE(
      ParseSdp("v=0\n"
               "o=short\n"       // too few fields
               "garbage line\n"  // no type=
               "m =video 3227 RTP/AVP 31\n"
               "c=IN IP4\n"                 // no address
               "m=audio 70000 RTP/AVP 0\n"  // port out of range
               "a=rtpmap:0 PCMU\n"          // no clock rate: kept, counted
               "a=rtpmap:x PCMU/8000\n"
               "m=audio 4000 RTP/AVP 8\n"
               "a=rtpmap:8 PCMA/8000\n",
               &s));
  EXPECT_EQ(s.malformed_lines, 7u);
  ASSERT_EQ(s.media_count, 2u);
  ASSERT_EQ(s.media[0].rtpmap_count, 1u);
  EXPECT_EQ(s.media[0].rtpmaps[0].encoding, "PCMU");
  EXPECT_EQ(s.media[0].rtpmaps[0].clock_rate, 0u);
  EXPECT_EQ(s.media[1].port, 4000);
  EXPECT_EQ(s.media[1].rtpmaps[0].encoding, "PCMA");
}

TEST(Sdp, TooManyMediaAreCountedNotStored) {
  std::string sdp = "v=0\r\ns=-\r\n";
  for (size_t i = 0; i < SdpSession::kMaxMedia + 3; ++i) {
    sdp += "m=audio " + std::to_string(1000 + i) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
  }
  SdpSession s;
  ASSERT_TRUE(ParseSdp(sdp, &s));
  EXPECT_EQ(s.media_count, SdpSession::kMaxMedia);
  EXPECT_EQ(s.malformed_lines, 3u);
  EXPECT_EQ(s.media[SdpSession::kMaxMedia - 1].rtpmap_count, 1u);
}

TEST(Sdp, TextWithoutVersionLineIsNotSdp) {
  SdpSession s;
  EXPECT_FALSE(ParseSdp("", &s));
  EXPECT_FALSE(ParseSdp("o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", &s));
  EXPECT_FALSE(ParseSdp("v", &s));
  EXPECT_TRUE(ParseSdp("\r\nv=0", &s));
}

TEST(Sdp, SdpIsFoundInsideMultipartBodies) {
  const std::string sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n";
  const std::string mixed =
      "--b1\r\nContent-Type: application/isup\r\n\r\n\x01\x02\r\n"
      "--b1\r\nContent-Type: application/sdp\r\n\r\n" +
      sdp + "\r\n--b1--\r\n";
  EXPECT_EQ(FindSdpBody("multipart/mixed;boundary=b1", mixed), sdp);
  EXPECT_EQ(FindSdpBody("Multipart/Mixed ; BOUNDARY=\"b1\"", mixed), sdp);
  EXPECT_EQ(FindSdpBody("multipart/mixed;boundary=other", mixed), "");
  EXPECT_EQ(FindSdpBody("multipart/mixed", mixed), "");

  const std::string alternative =
      "preamble\r\n--alt\r\nc: text/plain\r\n\r\nhello\r\n"
      "--alt\r\ncontent-type: APPLICATION/SDP\r\n\r\n" +
      sdp + "\r\n--alt--\r\nepilogue";
  EXPECT_EQ(FindSdpBody("multipart/alternative; boundary=\"alt\"", alternative), sdp);

  const std::string nested = "--outer\r\nContent-Type: multipart/alternative;boundary=alt\r\n\r\n" +
                             alternative + "\r\n--outer--\r\n";
  EXPECT_EQ(FindSdpBody("multipart/mixed;boundary=outer", nested), sdp);

  // A body cut before its closing delimiter still yields the part.
  const std::string cut = "--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp;
  EXPECT_EQ(FindSdpBody("multipart/mixed;boundary=b1", cut), sdp);

  EXPECT_EQ(FindSdpBody("application/sdp", sdp), sdp);
  EXPECT_EQ(FindSdpBody("Application/SDP ; charset=x", sdp), sdp);
  EXPECT_EQ(FindSdpBody("text/plain", sdp), "");
  EXPECT_EQ(FindSdpBody("application/sdp", ""), "");
}

}  // namespace
}  // namespace sipman::sip
