#include "net/sip_framing.h"

#include <gtest/gtest.h>

#include "net/net.h"

namespace sipman::net {
namespace {

TEST(LooksLikeSip, RequestAndStatusLines) {
  EXPECT_TRUE(LooksLikeSip("INVITE sip:bob@example.com SIP/2.0\r\nVia: x\r\n"));
  EXPECT_TRUE(LooksLikeSip("OPTIONS sip:x SIP/2.0\n"));
  EXPECT_TRUE(LooksLikeSip("SIP/2.0 200 OK\r\n"));
  EXPECT_TRUE(LooksLikeSip("sip/2.0 180 Ringing\r\n"));
  EXPECT_TRUE(LooksLikeSip("FOO-BAR sip:x SIP/2.0\r\n"));  // extension method
}

TEST(LooksLikeSip, RejectsOtherProtocolsAndPartialLines) {
  EXPECT_FALSE(LooksLikeSip(""));
  EXPECT_FALSE(LooksLikeSip("\r\n\r\n"));
  EXPECT_FALSE(LooksLikeSip("GET / HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_FALSE(LooksLikeSip("HTTP/1.1 200 OK\r\n"));
  EXPECT_FALSE(LooksLikeSip("INVITE sip:bob@example.com SIP/2.0"));  // no line end yet
  EXPECT_FALSE(LooksLikeSip("INVITE  SIP/2.0\r\n"));                  // empty Request-URI
  EXPECT_FALSE(LooksLikeSip("SIP/2.0 2x0 OK\r\n"));
  EXPECT_FALSE(LooksLikeSip(std::string_view("\0\0\0\0\0\0\0\0\0\0\0\0\0", 13)));
  EXPECT_FALSE(LooksLikeSip("INVITE sip:x SIP/3.0\r\n"));
}

TEST(FrameMessage, ContentLengthFramesTheBody) {
  const std::string m = "MESSAGE sip:a SIP/2.0\r\nContent-Length: 5\r\n\r\nhelloNEXT";
  size_t len = 0;
  ASSERT_EQ(FrameMessage(m, 1 << 20, &len), FrameResult::kComplete);
  EXPECT_EQ(m.substr(0, len), "MESSAGE sip:a SIP/2.0\r\nContent-Length: 5\r\n\r\nhello");
}

TEST(FrameMessage, CompactFormAndCaseInsensitiveName) {
  size_t len = 0;
  const std::string compact = "MESSAGE sip:a SIP/2.0\r\nl : 3\r\n\r\nabcdef";
  ASSERT_EQ(FrameMessage(compact, 1 << 20, &len), FrameResult::kComplete);
  EXPECT_EQ(len, compact.size() - 3);
  const std::string upper = "MESSAGE sip:a SIP/2.0\r\nCONTENT-length:2\r\n\r\nabcdef";
  ASSERT_EQ(FrameMessage(upper, 1 << 20, &len), FrameResult::kComplete);
  EXPECT_EQ(len, upper.size() - 4);
}

TEST(FrameMessage, MissingContentLengthMeansNoBody) {
  const std::string m = "BYE sip:a SIP/2.0\r\nCall-ID: x\r\n\r\nSIP/2.0 200 OK\r\n";
  size_t len = 0;
  ASSERT_EQ(FrameMessage(m, 1 << 20, &len), FrameResult::kComplete);
  EXPECT_EQ(len, m.find("SIP/2.0 200"));
}

TEST(FrameMessage, BareLineFeeds) {
  const std::string m = "BYE sip:a SIP/2.0\nl: 2\n\nokrest";
  size_t len = 0;
  ASSERT_EQ(FrameMessage(m, 1 << 20, &len), FrameResult::kComplete);
  EXPECT_EQ(m.substr(0, len), "BYE sip:a SIP/2.0\nl: 2\n\nok");
}

TEST(FrameMessage, NeedMoreReportsTheTotalOnceTheHeaderIsComplete) {
  size_t len = 0;
  EXPECT_EQ(FrameMessage("BYE sip:a SIP/2.0\r\nl: 2", 1 << 20, &len), FrameResult::kNeedMore);
  EXPECT_EQ(len, 0u);
  const std::string m = "BYE sip:a SIP/2.0\r\nl: 10\r\n\r\nabc";
  EXPECT_EQ(FrameMessage(m, 1 << 20, &len), FrameResult::kNeedMore);
  EXPECT_EQ(len, m.size() - 3 + 10);
}

TEST(FrameMessage, InvalidWhenMalformedOrTooLarge) {
  size_t len = 0;
  EXPECT_EQ(FrameMessage("BYE sip:a SIP/2.0\r\nl: x\r\n\r\n", 1 << 20, &len),
            FrameResult::kInvalid);
  EXPECT_EQ(FrameMessage("BYE sip:a SIP/2.0\r\nl: 99999999999\r\n\r\n", 1 << 20, &len),
            FrameResult::kInvalid);
  EXPECT_EQ(FrameMessage("BYE sip:a SIP/2.0\r\nl: 100\r\n\r\n", 64, &len), FrameResult::kInvalid);
  EXPECT_EQ(FrameMessage(std::string(100, 'A'), 64, &len), FrameResult::kInvalid);
}

TEST(SkipKeepAlive, SkipsCrLfAndBlanks) {
  EXPECT_EQ(SkipKeepAlive("\r\n\r\nINVITE"), 4u);
  EXPECT_EQ(SkipKeepAlive(" \t\nX"), 3u);
  EXPECT_EQ(SkipKeepAlive("X"), 0u);
}

TEST(CouldStartMessage, PartialStartLines) {
  EXPECT_TRUE(CouldStartMessage("INV"));
  EXPECT_TRUE(CouldStartMessage("SIP/2"));
  EXPECT_TRUE(CouldStartMessage("INVITE sip:bob@exa"));
  EXPECT_FALSE(CouldStartMessage("\x16\x03\x01"));
  EXPECT_FALSE(CouldStartMessage("abc: def"));
}

TEST(HeaderHasToken, CaseInsensitiveNameAndValue) {
  const std::string head = "GET / HTTP/1.1\r\nUPGRADE: WebSocket\r\nConnection: Upgrade\r\n\r\n";
  EXPECT_TRUE(HeaderHasToken(head, "upgrade", "websocket"));
  EXPECT_FALSE(HeaderHasToken(head, "connection", "websocket"));
}

}  // namespace
}  // namespace sipman::net
