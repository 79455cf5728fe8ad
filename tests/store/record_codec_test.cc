#include "store/record_codec.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace sipman::store::internal {
namespace {

TEST(MediaJson, RoundTripsStreamsWithAwkwardText) {
  std::vector<calls::MediaStream> media = {
      {"audio", "10.0.0.1", 4000, "PCMU/8000,telephone-event/8000"},
      {"video", "2001:db8::1", 65535, "H264/90000"},
      {"application \"x\"", "back\\slash", 0, "ctl\x01\x1f\ttab\nnl"},
      {"", "", 0, ""},
  };
  std::string json;
  AppendMediaJson(media, &json);
  std::vector<calls::MediaStream> back;
  ASSERT_TRUE(ParseMediaJson(json, &back)) << json;
  ASSERT_EQ(back.size(), media.size());
  for (size_t i = 0; i < media.size(); ++i) {
    EXPECT_EQ(back[i].type, media[i].type);
    EXPECT_EQ(back[i].address, media[i].address);
    EXPECT_EQ(back[i].port, media[i].port);
    EXPECT_EQ(back[i].codecs, media[i].codecs);
  }
  json.clear();
  AppendMediaJson({}, &json);
  EXPECT_EQ(json, "[]");
}

TEST(MediaJson, ReadsAnyWhitespaceKeyOrderAndEscapes) {
  std::vector<calls::MediaStream> media;
  ASSERT_TRUE(ParseMediaJson(
      " [ { \"port\" : 7078 , \"extra\": 5, \"note\": \"x\", \"codecs\":\"opus\\/48000\","
      "\"type\":\"audio\\u00e9\\ud83d\\ude00\" } ] ",
      &media));
  ASSERT_EQ(media.size(), 1u);
  EXPECT_EQ(media[0].port, 7078);
  EXPECT_EQ(media[0].codecs, "opus/48000");
  EXPECT_EQ(media[0].type, "audio\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(ParseMediaJson("", &media));
  EXPECT_TRUE(media.empty());
  EXPECT_TRUE(ParseMediaJson("[{}]", &media));
  EXPECT_EQ(media.size(), 1u);
}

TEST(MediaJson, RejectsMalformedTextWithoutReadingPastIt) {
  std::string good = R"([{"type":"audio","address":"1.2.3.4","port":4000,"codecs":"PCMU"}])";
  std::vector<calls::MediaStream> media;
  for (size_t n = 1; n < good.size(); ++n) {
    // Every truncation fails (string_view: nothing past n may be read).
    EXPECT_FALSE(ParseMediaJson(std::string_view(good.data(), n), &media)) << good.substr(0, n);
  }
  for (const char* bad : {"{", "[1]", "[{\"port\":70000}]", "[{\"port\":-1}]", "[{\"a\":\"\\x\"}]",
                          "[{\"a\":\"\\ud800\"}]", "[{}] x", "[{},]", "[{\"port\":99999999999999999999}]"}) {
    EXPECT_FALSE(ParseMediaJson(bad, &media)) << bad;
  }
}

TEST(IpText, RoundTripsBothFamiliesAndTheAbsentAddress) {
  for (const char* text : {"10.0.0.1", "255.255.255.255", "2001:db8::1", "::1", "fe80::1:2"}) {
    IpAddress ip;
    ASSERT_TRUE(ParseIp(text, &ip)) << text;
    char buffer[46];
    EXPECT_EQ(std::string(buffer, FormatIp(ip, buffer)), text);
  }
  IpAddress ip;
  ASSERT_TRUE(ParseIp("", &ip));
  EXPECT_EQ(ip.family, IpAddress::Family::kNone);
  char buffer[46];
  EXPECT_EQ(FormatIp(ip, buffer), 0u);
  for (const char* bad : {"10.0.0", "1.2.3.4.5", "x", "2001:db8:::1", "1.2.3.4 ",
                          "0123456789012345678901234567890123456789012345678901234567890123456789"}) {
    EXPECT_FALSE(ParseIp(bad, &ip)) << bad;
  }
}

TEST(CallStateText, EveryStateNameParsesBack) {
  for (calls::CallState s :
       {calls::CallState::kAnswered, calls::CallState::kBusy, calls::CallState::kCancelled,
        calls::CallState::kNoAnswer, calls::CallState::kFailed, calls::CallState::kInProgress,
        calls::CallState::kTimedOut}) {
    // The stores read states back through calls::ParseCallState.
    const std::optional<calls::CallState> back = calls::ParseCallState(calls::CallStateName(s));
    ASSERT_TRUE(back.has_value()) << calls::CallStateName(s);
    EXPECT_EQ(*back, s);
  }
  EXPECT_FALSE(calls::ParseCallState("ringing").has_value());
  EXPECT_FALSE(calls::ParseCallState("").has_value());
}

std::string SipLikeText(size_t size) {
  std::string text;
  while (text.size() < size) text += "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n";
  text.resize(size);
  return text;
}

TEST(MessageCompressor, KeepsZstdOnlyWhenItSavesTwentyPercent) {
  MessageCompressor compressor(1, 0.2);
  std::string repetitive = SipLikeText(800);
  std::string_view stored;
  EXPECT_EQ(compressor.Compress(repetitive, &stored), kCompressionZstd);
  EXPECT_LE(stored.size(), repetitive.size() * 8 / 10);
  std::string raw;
  ASSERT_TRUE(DecompressMessage(kCompressionZstd, stored, repetitive.size(), &raw).ok());
  EXPECT_EQ(raw, repetitive);

  std::string incompressible;
  uint32_t x = 12345;
  for (int i = 0; i < 600; ++i) {
    x = x * 1103515245 + 12345;
    incompressible.push_back(static_cast<char>(x >> 24));
  }
  EXPECT_EQ(compressor.Compress(incompressible, &stored), kCompressionNone);
  EXPECT_EQ(stored, incompressible);
  EXPECT_EQ(compressor.Compress("", &stored), kCompressionNone);

  MessageCompressor disabled(0, 0.2);
  EXPECT_EQ(disabled.Compress(repetitive, &stored), kCompressionNone);
  EXPECT_EQ(stored, repetitive);
}

TEST(MessageCompressor, CorruptOrMismatchedDataIsAnErrorNotACrash) {
  MessageCompressor compressor(3, 0.2);
  std::string text = SipLikeText(1000);
  std::string_view stored;
  ASSERT_EQ(compressor.Compress(text, &stored), kCompressionZstd);
  std::string frame(stored);
  std::string raw;
  EXPECT_FALSE(DecompressMessage(kCompressionZstd, frame, text.size() - 1, &raw).ok());
  EXPECT_FALSE(DecompressMessage(kCompressionZstd, frame, text.size() + 1, &raw).ok());
  EXPECT_FALSE(DecompressMessage(kCompressionZstd, frame.substr(0, frame.size() / 2), text.size(),
                                 &raw).ok());
  std::string flipped = frame;
  flipped[0] ^= 0x55;
  EXPECT_FALSE(DecompressMessage(kCompressionZstd, flipped, text.size(), &raw).ok());
  EXPECT_FALSE(DecompressMessage(7, frame, text.size(), &raw).ok());
  EXPECT_FALSE(DecompressMessage(kCompressionNone, "abc", 4, &raw).ok());
  ASSERT_TRUE(DecompressMessage(kCompressionNone, "abcd", 4, &raw).ok());
  EXPECT_EQ(raw, "abcd");
}

}  // namespace
}  // namespace sipman::store::internal
