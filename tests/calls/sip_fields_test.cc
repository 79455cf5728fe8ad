// The calls module's private header-value readers.
#include "calls/sip_fields.h"

#include <gtest/gtest.h>

#include <string>

namespace sipman::calls {
namespace {

TEST(SipFields, ReasonPrefersQ850InAList) {
  ReasonValue r;
  ASSERT_TRUE(ParseReason("SIP;cause=200;text=\"Call completed elsewhere\", Q.850;cause=31", &r));
  EXPECT_EQ(r.protocol, "Q.850");
  EXPECT_EQ(r.cause, 31);
  EXPECT_EQ(r.text, "");
}

TEST(SipFields, ReasonWithQuotedCommaIsOneValue) {
  ReasonValue r;
  ASSERT_TRUE(ParseReason("SIP ;cause=480 ;text=\"Away, back soon\"", &r));
  EXPECT_EQ(r.protocol, "SIP");
  EXPECT_EQ(r.cause, 480);
  EXPECT_EQ(r.text, "Away, back soon");
}

TEST(SipFields, ReasonWithoutProtocolIsRejected) {
  ReasonValue r;
  EXPECT_FALSE(ParseReason("", &r));
  EXPECT_FALSE(ParseReason(" , ", &r));
}

TEST(SipFields, ContactUriIsTakenFromNameAddrOrAddrSpec) {
  EXPECT_EQ(ContactUriText("\"A\" <sip:a@h:5060;transport=tcp>;expires=60"),
            "sip:a@h:5060;transport=tcp");
  EXPECT_EQ(ContactUriText("sip:a@h;expires=60"), "sip:a@h");
  EXPECT_EQ(ContactUriText("*"), "*");
  EXPECT_EQ(ContactUriText("<sip:a@h"), "sip:a@h");
  EXPECT_EQ(ContactUriText(""), "");
}

TEST(SipFields, ContactExpiresReadsTheHeaderParameter) {
  EXPECT_EQ(ContactExpires("<sip:a@h>;expires=3600"), 3600);
  EXPECT_EQ(ContactExpires("<sip:a@h;expires=5>"), -1) << "a URI parameter is not it";
  EXPECT_EQ(ContactExpires("<sip:a@h>;expires=x"), -1);
  EXPECT_EQ(ContactExpires("<sip:a@h>"), -1);
}

TEST(SipFields, NameAddrUserTakesTheFirstListEntry) {
  EXPECT_EQ(NameAddrUser("<sip:+15550001@h;user=phone>, <tel:+15550002>"), "+15550001");
  EXPECT_EQ(NameAddrUser("\"X\" <sip:carol@h>;reason=unconditional"), "carol");
  EXPECT_EQ(NameAddrUser("garbage"), "");
}

TEST(SipFields, CodecsAreNamedByRtpmapThenStaticTable) {
  sip::SdpSession sdp;
  ASSERT_TRUE(sip::ParseSdp("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
                            "m=audio 4000 RTP/AVP 8 0 18 101 99\r\n"
                            "a=rtpmap:101 telephone-event/8000\r\n"
                            "a=rtpmap:99 opus/48000/2\r\n",
                            &sdp));
  ASSERT_EQ(sdp.media_count, 1u);
  char buffer[256];
  EXPECT_EQ(FormatCodecs(sdp.media[0], buffer, sizeof(buffer)),
            "PCMA/8000,PCMU/8000,G729/8000,telephone-event/8000,opus/48000/2");
}

TEST(SipFields, CodecsThatDoNotFitAreLeftOutWhole) {
  sip::SdpSession sdp;
  ASSERT_TRUE(sip::ParseSdp("v=0\r\nm=audio 4000 RTP/AVP 0 8\r\n", &sdp));
  char buffer[12];
  EXPECT_EQ(FormatCodecs(sdp.media[0], buffer, sizeof(buffer)), "PCMU/8000");
}

TEST(SipFields, NonRtpFormatsAreKeptAsWritten) {
  sip::SdpSession sdp;
  ASSERT_TRUE(sip::ParseSdp("v=0\r\nm=image 4000 udptl t38\r\n", &sdp));
  char buffer[64];
  EXPECT_EQ(FormatCodecs(sdp.media[0], buffer, sizeof(buffer)), "t38");
}

TEST(SipFields, AorIsUserAtHost) {
  sip::SipUri uri;
  ASSERT_TRUE(sip::ParseUri("sip:alice@atlanta.example:5060;transport=udp", &uri));
  char buffer[64];
  EXPECT_EQ(FormatAor(uri, buffer, sizeof(buffer)), "alice@atlanta.example");
  ASSERT_TRUE(sip::ParseUri("sip:atlanta.example", &uri));
  EXPECT_EQ(FormatAor(uri, buffer, sizeof(buffer)), "atlanta.example");
}

TEST(SipFields, IntegersAreStrict) {
  int64_t v = 0;
  EXPECT_TRUE(ParseInt(" 42 ", &v));
  EXPECT_EQ(v, 42);
  EXPECT_TRUE(ParseInt("-1", &v));
  EXPECT_EQ(v, -1);
  EXPECT_FALSE(ParseInt("4x", &v));
  EXPECT_FALSE(ParseInt("", &v));
  EXPECT_FALSE(ParseInt("-", &v));
  EXPECT_FALSE(ParseInt("99999999999999999999", &v));
}

TEST(SipFields, DigestNonceIsReadFromChallengesAndCredentials) {
  EXPECT_EQ(DigestNonce("Digest realm=\"sip.cybercity.dk\","
                        "nonce=\"1701b4767d49c41117c7b73a255a353\","
                        "opaque=\"1701a1351f70795\",stale=false,algorithm=MD5"),
            "1701b4767d49c41117c7b73a255a353");
  EXPECT_EQ(DigestNonce("Digest username=\"alice\", realm=\"a, b\", cnonce=\"c1\",\r\n"
                        " NONCE = \"n-2\" , nc=00000001"),
            "n-2")
      << "cnonce is not the nonce; a quoted comma does not split; names are case-insensitive";
  EXPECT_EQ(DigestNonce("Digest realm=\"a\", cnonce=\"c1\""), "");
  EXPECT_EQ(DigestNonce(""), "");
}

}  // namespace
}  // namespace sipman::calls
