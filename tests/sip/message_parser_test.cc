#include <gtest/gtest.h>

#include <string>

#include "sip/sip.h"

namespace sipman::sip {
namespace {

constexpr ParseOptions kStream{.datagram = false};
constexpr ParseOptions kDatagram{.datagram = true};

// Joins lines with CRLF and ends the header block.
std::string Msg(std::initializer_list<std::string_view> lines, std::string_view body = "") {
  std::string s;
  for (std::string_view l : lines) {
    s += l;
    s += "\r\n";
  }
  s += "\r\n";
  s += body;
  return s;
}

const std::string kOptions = Msg({
    "OPTIONS sip:bob@example.com SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1",
    "From: <sip:alice@example.com>;tag=a",
    "To: <sip:bob@example.com>",
    "Call-ID: c1",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
});

TEST(SipParser, CompactHeadersAreExpanded) {
  EXPECT_EQ(ExpandCompactName('i'), "Call-ID");
  EXPECT_EQ(ExpandCompactName('I'), "Call-ID");
  EXPECT_EQ(ExpandCompactName('f'), "From");
  EXPECT_EQ(ExpandCompactName('t'), "To");
  EXPECT_EQ(ExpandCompactName('v'), "Via");
  EXPECT_EQ(ExpandCompactName('m'), "Contact");
  EXPECT_EQ(ExpandCompactName('l'), "Content-Length");
  EXPECT_EQ(ExpandCompactName('c'), "Content-Type");
  EXPECT_EQ(ExpandCompactName('k'), "Supported");
  EXPECT_EQ(ExpandCompactName('s'), "Subject");
  EXPECT_EQ(ExpandCompactName('e'), "Content-Encoding");
  EXPECT_EQ(ExpandCompactName('o'), "Event");
  EXPECT_EQ(ExpandCompactName('r'), "Refer-To");
  EXPECT_EQ(ExpandCompactName('u'), "Allow-Events");
  EXPECT_EQ(ExpandCompactName('a'), "Accept-Contact");
  EXPECT_EQ(ExpandCompactName('b'), "Referred-By");
  EXPECT_EQ(ExpandCompactName('d'), "Request-Disposition");
  EXPECT_EQ(ExpandCompactName('j'), "Reject-Contact");
  EXPECT_EQ(ExpandCompactName('x'), "Session-Expires");
  EXPECT_EQ(ExpandCompactName('y'), "Identity");
  EXPECT_EQ(ExpandCompactName('n'), "Identity-Info");
  EXPECT_EQ(ExpandCompactName('z'), "");
  EXPECT_EQ(ExpandCompactName('\0'), "");

  const std::string data =
      Msg({"BYE sip:b@h SIP/2.0", "v: SIP/2.0/TCP h;branch=z9hG4bKx", "f: <sip:a@h>;tag=1",
           "t: <sip:b@h>;tag=2", "i: cid", "CSeq: 2 BYE", "l: 0"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.call_id, "cid");
  EXPECT_EQ(m.from.tag, "1");
  EXPECT_EQ(m.to.tag, "2");
  EXPECT_EQ(m.via_transport, "TCP");
  EXPECT_EQ(m.content_length, 0);
  ASSERT_NE(m.Find("Call-ID"), nullptr);
  EXPECT_EQ(m.Find("Call-ID")->name, "i");
  EXPECT_EQ(m.Find("call-id")->value, "cid");
  EXPECT_EQ(m.Find("I")->value, "cid");
  EXPECT_EQ(m.Find(HeaderId::kCallId)->value, "cid");
  EXPECT_EQ(m.malformed, kMalformedNone);
}

TEST(SipParser, HeaderNamesAreCaseInsensitive) {
  const std::string data =
      Msg({"INVITE sip:b@h SIP/2.0", "VIA: SIP/2.0/UDP h;branch=z9hG4bKv", "fRoM: <sip:a@h>;tag=1",
           "tO: <sip:b@h>", "CALL-id: x", "cSeQ: 1 INVITE", "X-Custom: yes", "content-LENGTH: 0"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.call_id, "x");
  EXPECT_EQ(m.cseq_number, 1u);
  EXPECT_EQ(m.via_branch, "z9hG4bKv");
  ASSERT_NE(m.Find("x-custom"), nullptr);
  EXPECT_EQ(m.Find("X-CUSTOM")->value, "yes");
  EXPECT_EQ(m.Find("X-Missing"), nullptr);
  // OR-ing 0x20 folds case but would also turn CR into '-': not a match.
  const std::string cr = Msg({"MESSAGE sip:b@h SIP/2.0", "Content\rLength: 5", "Call\rID: y"});
  ASSERT_EQ(ParseSipMessage(cr, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.content_length, -1);
  EXPECT_EQ(m.Find(HeaderId::kCallId), nullptr);
  EXPECT_EQ(m.header_count, 2u);
  EXPECT_EQ(m.Find(""), nullptr);
}

TEST(SipParser, FoldedValuesKeepTheirLineBreaksAndUnfoldToOneSpace) {
  const std::string data = Msg({"MESSAGE sip:b@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
                                "From: <sip:a@h>", " ;tag=folded", "To: <sip:b@h>", "Call-ID: c",
                                "CSeq: 1", "\tMESSAGE", "Subject: one", "\ttwo", "  three"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.from.tag, "folded");
  EXPECT_EQ(m.cseq_method, "MESSAGE");
  const Header* subject = m.Find(HeaderId::kSubject);
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->value, "one\r\n\ttwo\r\n  three");
  char buffer[64];
  EXPECT_EQ(UnfoldHeaderValue(subject->value, buffer, sizeof(buffer)), "one two three");
  EXPECT_EQ(UnfoldHeaderValue(subject->value, buffer, 5), "one t");
  EXPECT_EQ(UnfoldHeaderValue(subject->value, nullptr, 0), "");
  EXPECT_EQ(m.malformed, kMalformedNone);
}

TEST(SipParser, RepeatedAndCommaSeparatedHeadersAreAllKept) {
  const std::string data = Msg(
      {"SIP/2.0 180 Ringing", "Via: SIP/2.0/UDP p1;branch=z9hG4bKtop, SIP/2.0/TCP p2;branch=b2",
       "Via: SIP/2.0/UDP p3;branch=b3", "From: <sip:a@h>;tag=1", "To: <sip:b@h>;tag=2",
       "Call-ID: c", "CSeq: 1 INVITE", "Record-Route: <sip:p1;lr>", "Record-Route: <sip:p2;lr>"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_FALSE(m.is_request);
  EXPECT_EQ(m.status_code, 180);
  EXPECT_EQ(m.reason_phrase, "Ringing");
  EXPECT_EQ(m.via_branch, "z9hG4bKtop");
  EXPECT_EQ(m.via_transport, "UDP");
  int record_routes = 0;
  for (size_t i = 0; i < m.header_count; ++i) {
    if (m.headers[i].id == HeaderId::kRecordRoute) ++record_routes;
  }
  EXPECT_EQ(record_routes, 2);
  EXPECT_EQ(m.malformed, kMalformedNone);
}

TEST(SipParser, LeadingKeepAlivesAreSkippedAndCountedIntoSize) {
  const std::string data = "\r\n\r\n\n" + kOptions;
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kStream, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.size, data.size());
  EXPECT_EQ(m.method, "OPTIONS");
}

TEST(SipParser, OnlyKeepAlivesAreIncomplete) {
  SipMessage m;
  EXPECT_EQ(ParseSipMessage("\r\n\r\n", kStream, &m), ParseStatus::kIncomplete);
  EXPECT_EQ(m.size, 4u);
  EXPECT_EQ(ParseSipMessage("", kDatagram, &m), ParseStatus::kIncomplete);
}

TEST(SipParser, NonSipStartLinesAreErrors) {
  SipMessage m;
  EXPECT_EQ(ParseSipMessage("GET / HTTP/1.1\r\nHost: x\r\n\r\n", kDatagram, &m),
            ParseStatus::kError);
  EXPECT_EQ(ParseSipMessage("HTTP/1.1 200 OK\r\n\r\n", kDatagram, &m), ParseStatus::kError);
  EXPECT_EQ(ParseSipMessage("INVITE sip:a@b\r\n\r\n", kDatagram, &m), ParseStatus::kError);
  EXPECT_EQ(ParseSipMessage("SIP/2.0 20 OK\r\n\r\n", kDatagram, &m), ParseStatus::kError);
  EXPECT_EQ(ParseSipMessage("SIP/2.0 2000 OK\r\n\r\n", kDatagram, &m), ParseStatus::kError);
  EXPECT_EQ(ParseSipMessage(std::string_view("\x16\x03\x01\x02\x00\x01", 6), kStream, &m),
            ParseStatus::kError);
  EXPECT_EQ(ParseSipMessage("<xml>\r\n", kDatagram, &m), ParseStatus::kError);
  EXPECT_EQ(m.size, 0u);
}

TEST(SipParser, StreamModeWaitsForTheHeaderBlockAndTheBody) {
  const std::string data =
      Msg({"MESSAGE sip:b@h SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
           "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 MESSAGE", "Content-Length: 5"},
          "hello");
  SipMessage m;
  EXPECT_EQ(ParseSipMessage(std::string_view(data).substr(0, 10), kStream, &m),
            ParseStatus::kIncomplete);
  EXPECT_EQ(ParseSipMessage(std::string_view(data).substr(0, data.size() - 6), kStream, &m),
            ParseStatus::kIncomplete);
  EXPECT_EQ(ParseSipMessage(std::string_view(data).substr(0, data.size() - 1), kStream, &m),
            ParseStatus::kIncomplete);
  ASSERT_EQ(ParseSipMessage(data, kStream, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.body, "hello");
  EXPECT_EQ(m.size, data.size());
}

TEST(SipParser, StreamModeFramesBackToBackMessages) {
  const std::string first =
      Msg({"MESSAGE sip:b@h SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
           "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 MESSAGE", "l: 3"},
          "abc");
  const std::string stream = first + kOptions + "INVITE sip:partial";
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(stream, kStream, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.size, first.size());
  EXPECT_EQ(m.body, "abc");
  std::string_view rest = std::string_view(stream).substr(m.size);
  ASSERT_EQ(ParseSipMessage(rest, kStream, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.method, "OPTIONS");
  rest = rest.substr(m.size);
  EXPECT_EQ(ParseSipMessage(rest, kStream, &m), ParseStatus::kIncomplete);
}

TEST(SipParser, StreamModeWithoutContentLengthHasNoBody) {
  const std::string data =
      Msg({"ACK sip:b@h SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
           "To: <sip:b@h>;tag=2", "Call-ID: c", "CSeq: 1 ACK"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data + "NEXT", kStream, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.content_length, -1);
  EXPECT_TRUE(m.body.empty());
  EXPECT_EQ(m.size, data.size());
}

TEST(SipParser, DatagramBodyIsTruncatedToContentLength) {
  const std::string data =
      Msg({"MESSAGE sip:b@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
           "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 MESSAGE", "Content-Length: 4"},
          "bodyEXTRA");
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.body, "body");
  EXPECT_EQ(m.size, data.size() - 5);
  EXPECT_EQ(m.malformed, kMalformedNone);
}

TEST(SipParser, DatagramContentLengthLargerThanDataIsFlagged) {
  const std::string data =
      Msg({"MESSAGE sip:b@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
           "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 MESSAGE", "Content-Length: 400"},
          "short");
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.body, "short");
  EXPECT_EQ(m.size, data.size());
  EXPECT_EQ(m.malformed, kMalformedContentLength);
}

TEST(SipParser, DatagramWithoutHeaderEndKeepsWhatWasRead) {
  const std::string data = "OPTIONS sip:b@h SIP/2.0\r\nCall-ID: cut\r\nCSeq: 4 OPT";
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.call_id, "cut");
  EXPECT_EQ(m.cseq_number, 4u);
  EXPECT_EQ(m.cseq_method, "OPT");
  EXPECT_EQ(m.size, data.size());
  EXPECT_EQ(ParseSipMessage(data, kStream, &m), ParseStatus::kIncomplete);
}

TEST(SipParser, BareLfLineEndingsAreAccepted) {
  const std::string data =
      "INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKlf\nFrom: A <sip:a@h>;tag=1\n"
      "To: <sip:b@h>\nCall-ID: lf\nCSeq: 3 INVITE\nContent-Length: 2\n\nhi";
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kStream, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.body, "hi");
  EXPECT_EQ(m.from.display_name, "A");
  EXPECT_EQ(m.via_branch, "z9hG4bKlf");
  EXPECT_EQ(m.malformed, kMalformedNone);
}

TEST(SipParser, TooManyHeadersAreFlaggedButKeyHeadersAreStillExtracted) {
  std::string data = "INVITE sip:b@h SIP/2.0\r\n";
  for (size_t i = 0; i < SipMessage::kMaxHeaders + 10; ++i) {
    data += "X-Filler-" + std::to_string(i) + ": v\r\n";
  }
  data +=
      "Via: SIP/2.0/UDP h;branch=z9hG4bKlate\r\nFrom: <sip:a@h>;tag=late\r\nTo: <sip:b@h>\r\n"
      "Call-ID: late-call\r\nCSeq: 77 INVITE\r\nUser-Agent: ua\r\nContent-Length: 1\r\n\r\nX";
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kStream, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.header_count, SipMessage::kMaxHeaders);
  EXPECT_EQ(m.malformed, kMalformedTooManyHeaders);
  EXPECT_EQ(m.call_id, "late-call");
  EXPECT_EQ(m.cseq_number, 77u);
  EXPECT_EQ(m.from.tag, "late");
  EXPECT_EQ(m.to.uri.user, "b");
  EXPECT_EQ(m.via_branch, "z9hG4bKlate");
  EXPECT_EQ(m.user_agent, "ua");
  EXPECT_EQ(m.body, "X");
}

TEST(SipParser, HeaderLinesWithoutColonAreFlaggedAndSkipped) {
  const std::string data =
      Msg({"OPTIONS sip:b@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "Foobar roobar",
           "From: <sip:a@h>;tag=1", "To: <sip:b@h>", ": no name", "Call-ID: c", "CSeq: 1 OPTIONS"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.malformed, kMalformedHeaderLine);
  EXPECT_EQ(m.header_count, 5u);
  EXPECT_EQ(m.call_id, "c");
}

TEST(SipParser, ReusedMessageKeepsNothingFromThePreviousParse) {
  const std::string invite =
      Msg({"INVITE sip:b@h SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
           "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 INVITE", "User-Agent: phone", "Expires: 60",
           "Max-Forwards: 70", "Content-Length: 0"});
  const std::string ok =
      Msg({"SIP/2.0 200 OK", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
           "To: <sip:b@h>;tag=2", "Call-ID: c", "CSeq: 1 INVITE"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(invite, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.expires, 60);
  ASSERT_EQ(ParseSipMessage(ok, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_FALSE(m.is_request);
  EXPECT_TRUE(m.method.empty());
  EXPECT_TRUE(m.request_uri.host.empty());
  EXPECT_TRUE(m.user_agent.empty());
  EXPECT_EQ(m.expires, -1);
  EXPECT_EQ(m.max_forwards, -1);
  EXPECT_EQ(m.content_length, -1);
  EXPECT_EQ(m.header_count, 5u);
}

TEST(SipParser, ViaWithoutBranchOrWithPortIsRead) {
  const std::string data =
      Msg({"OPTIONS sip:b@h SIP/2.0", "Via: SIP/2.0/WSS [2001:db8::1]:443;received=192.0.2.7",
           "From: <sip:a@h>;tag=1", "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 OPTIONS"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.via_transport, "WSS");
  EXPECT_EQ(m.via_branch, "");
  EXPECT_EQ(m.malformed, kMalformedNone);
}

TEST(SipParser, UnreadableViaIsFlagged) {
  const std::string data = Msg({"OPTIONS sip:b@h SIP/2.0", "Via: garbage", "From: <sip:a@h>;tag=1",
                                "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 OPTIONS"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_EQ(m.malformed, kMalformedVia);
}

TEST(SipParser, RequestUriIsParsed) {
  const std::string data = Msg({"INVITE sips:+1555;npdi@gw.example.com:5061;user=phone?X=1 SIP/2.0",
                                "Via: SIP/2.0/TLS h;branch=z9hG4bK1", "From: <sip:a@h>;tag=1",
                                "To: <sip:b@h>", "Call-ID: c", "CSeq: 1 INVITE"});
  SipMessage m;
  ASSERT_EQ(ParseSipMessage(data, kDatagram, &m), ParseStatus::kComplete);
  EXPECT_TRUE(m.is_request);
  EXPECT_EQ(m.request_uri.scheme, "sips");
  EXPECT_EQ(m.request_uri.user, "+1555;npdi");
  EXPECT_EQ(m.request_uri.host, "gw.example.com");
  EXPECT_EQ(m.request_uri.port, 5061);
  EXPECT_EQ(m.request_uri.params, "user=phone");
  EXPECT_EQ(m.request_uri.headers, "X=1");
  EXPECT_EQ(m.version, "SIP/2.0");
}

}  // namespace
}  // namespace sipman::sip
