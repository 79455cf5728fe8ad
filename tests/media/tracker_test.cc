// media: the SDP-to-stream map, stream figures, each call's media, and the
// bounds: streams joined to calls by SDP, sides, hold, rtcp-mux, streams
// found without SDP, a flood that creates nothing, and the E-model.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "media/media.h"
#include "sip/sip.h"

namespace sipman::media {
namespace {

IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}

std::string Rtp(uint16_t seq, uint32_t timestamp, uint32_t ssrc, uint8_t pt = 0,
                bool marker = false) {
  std::string p(12 + 160, '\x55');
  p[0] = '\x80';
  p[1] = static_cast<char>(pt | (marker ? 0x80 : 0));
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq);
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<char>(timestamp >> (24 - 8 * i));
    p[8 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
  }
  return p;
}

std::string Sdp(const std::string& ip, int port, const std::string& extra = "") {
  return "v=0\r\no=- 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\nm=audio " +
         std::to_string(port) + " RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n" + extra;
}

class Collector : public StreamSink {
 public:
  void OnStream(const StreamFigures& s) override { streams.push_back(s); }
  std::vector<StreamFigures> streams;
};

// A tracker with one call: caller 10.0.0.1:4000, callee 10.0.0.2:5000.
class TrackerTest : public ::testing::Test {
 protected:
  TrackerTest() : tracker_(options_, &sink_) {}

  void Announce(bool from_caller, const std::string& sdp_text, int64_t ts = 1) {
    sip::SipMessage message;
    message.call_id = "call-1";
    // The caller's INVITE has From tag a; the callee answers in a response
    // (From still a).
    message.from.tag = "a";
    message.is_request = from_caller;
    sip::SdpSession sdp;
    ASSERT_TRUE(sip::ParseSdp(sdp_text, &sdp));
    tracker_.OnSdp(ts, message, sdp);
  }
  void AnnounceBoth() {
    Announce(true, Sdp("10.0.0.1", 4000));
    Announce(false, Sdp("10.0.0.2", 5000));
  }
  // 20 ms packets from caller to callee (forward) or back.
  void Send(bool forward, int count, uint16_t first_seq = 100, uint32_t ssrc = 0x1111,
            int64_t start_ns = 1'000'000'000) {
    for (int i = 0; i < count; ++i) {
      const uint16_t seq = static_cast<uint16_t>(first_seq + i);
      const std::string p = Rtp(seq, 160u * seq, ssrc);
      const int64_t ts = start_ns + i * 20'000'000LL;
      if (forward) {
        tracker_.OnDatagram(ts, V4(10, 0, 0, 1), 4000, V4(10, 0, 0, 2), 5000, p);
      } else {
        tracker_.OnDatagram(ts, V4(10, 0, 0, 2), 5000, V4(10, 0, 0, 1), 4000, p);
      }
    }
  }
  const StreamFigures& Only() {
    tracker_.Finish();
    EXPECT_EQ(sink_.streams.size(), 1u);
    return sink_.streams.at(0);
  }

  MediaTrackerOptions options_;
  Collector sink_;
  MediaTracker tracker_;
};

TEST_F(TrackerTest, StreamsJoinTheirCallWithTheirSender) {
  AnnounceBoth();
  Send(true, 50);
  Send(false, 40, 7, 0x2222);
  CallMedia media;
  ASSERT_TRUE(tracker_.TakeCallMedia("call-1", &media));
  EXPECT_EQ(media.from_caller.packets, 50u);
  EXPECT_EQ(media.from_callee.packets, 40u);
  EXPECT_EQ(media.from_caller.codec, "PCMU");
  EXPECT_EQ(media.from_caller.lost, 0);
  EXPECT_NEAR(media.from_caller.mos_min, 4.41, 0.01);
  EXPECT_FALSE(media.from_unexpected_source);
  EXPECT_FALSE(tracker_.TakeCallMedia("call-1", &media)) << "taken once";
  tracker_.Finish();
  ASSERT_EQ(sink_.streams.size(), 2u);
  EXPECT_EQ(sink_.streams[0].call_id, "call-1");
  EXPECT_EQ(sink_.streams[0].sender, Side::kCaller);
  EXPECT_EQ(sink_.streams[1].sender, Side::kCallee);
}

TEST_F(TrackerTest, LossWrapAndDuplicatesFollowRfc3550AndWireshark) {
  AnnounceBoth();
  // 65530..65535, 0..9 with 2 and 3 lost and 5 sent twice.
  int64_t ts = 1'000'000'000;
  uint32_t n = 0;
  auto send = [&](uint16_t seq) {
    tracker_.OnDatagram(ts, V4(10, 0, 0, 1), 4000, V4(10, 0, 0, 2), 5000,
                        Rtp(seq, 160u * static_cast<uint16_t>(seq - 65530), 0x1111));
    ts += 20'000'000;
    ++n;
  };
  for (int s = 65530; s <= 65535; ++s) send(static_cast<uint16_t>(s));
  for (int s = 0; s <= 9; ++s) {
    if (s == 2 || s == 3) continue;
    send(static_cast<uint16_t>(s));
    if (s == 5) send(5);
  }
  const StreamFigures& s = Only();
  EXPECT_EQ(s.packets, n);
  EXPECT_EQ(s.expected, 16);
  EXPECT_EQ(s.lost, 16 - static_cast<int64_t>(n));  // Wireshark: duplicates make it smaller
  EXPECT_EQ(s.expected_rfc3550, 16);
  EXPECT_EQ(s.lost_rfc3550, 2);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.discontinuities, 1u);
}

// One packet whose timestamp jumps 1,000 s ahead (a PBX restarting its
// clock, or a forged packet) must not make every later packet late.
TEST_F(TrackerTest, ATimestampJumpRestartsThePlayoutNotTheLoss) {
  AnnounceBoth();
  for (int i = 0; i < 100; ++i) {
    const uint32_t media = 160u * i + (i >= 50 ? 8'000'000u : 0u);
    tracker_.OnDatagram(1'000'000'000 + i * 20'000'000LL, V4(10, 0, 0, 1), 4000, V4(10, 0, 0, 2),
                        5000, Rtp(static_cast<uint16_t>(i), media, 0x1111));
  }
  const StreamFigures& s = Only();
  EXPECT_EQ(s.discarded_fixed50, 0u);
  EXPECT_NEAR(s.mos_fixed50, 4.41, 0.01);
}

// A late copy of a packet already played is a duplicate, not a discard.
TEST_F(TrackerTest, ALateDuplicateIsNotALoss) {
  AnnounceBoth();
  for (int i = 0; i < 50; ++i) {
    tracker_.OnDatagram(1'000'000'000 + i * 20'000'000LL, V4(10, 0, 0, 1), 4000, V4(10, 0, 0, 2),
                        5000, Rtp(static_cast<uint16_t>(i), 160u * i, 0x1111));
  }
  // Packet 10 again, 800 ms late.
  tracker_.OnDatagram(2'000'000'000, V4(10, 0, 0, 1), 4000, V4(10, 0, 0, 2), 5000,
                      Rtp(10, 1600, 0x1111));
  const StreamFigures& s = Only();
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.discarded_fixed50, 0u);
  EXPECT_EQ(s.lost_rfc3550, 0);
  EXPECT_NEAR(s.mos_fixed50, 4.41, 0.01);
}

// Datagrams with ever new SSRCs to a call's media port make at most
// kMaxStreamsPerCall streams; the rest are counted.
TEST_F(TrackerTest, ANewSsrcFloodOnACallsPortIsCapped) {
  AnnounceBoth();
  for (uint32_t i = 0; i < 1000; ++i) {
    tracker_.OnDatagram(1'000'000'000 + i, V4(10, 6, 6, 6), 6666, V4(10, 0, 0, 2), 5000,
                        Rtp(1, 160, 0x5000 + i));
  }
  EXPECT_EQ(tracker_.counters().streams, kMaxStreamsPerCall);
  EXPECT_EQ(tracker_.counters().streams_refused, 1000 - kMaxStreamsPerCall);
}

TEST_F(TrackerTest, HoldAddressIsNotAnEndpoint) {
  Announce(true, Sdp("0.0.0.0", 4000));
  EXPECT_EQ(tracker_.counters().sdp_endpoints, 0u);
  EXPECT_EQ(tracker_.counters().sdp_refused, 1u);
}

TEST_F(TrackerTest, RtcpMuxIsCountedNotMeasured) {
  Announce(true, Sdp("10.0.0.1", 4000, "a=rtcp-mux\r\n"));
  Announce(false, Sdp("10.0.0.2", 5000, "a=rtcp-mux\r\n"));
  Send(true, 10);
  // An SR without report blocks: header, SSRC and 20 bytes of sender info.
  std::string sr(28, '\0');
  sr[0] = '\x80';
  sr[1] = '\xc8';
  sr[3] = '\x06';
  tracker_.OnDatagram(2'000'000'000, V4(10, 0, 0, 1), 4000, V4(10, 0, 0, 2), 5000, sr);
  EXPECT_EQ(tracker_.counters().rtcp_packets, 1u);
  EXPECT_EQ(Only().packets, 10u);
}

void Be32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s->push_back(static_cast<char>(v >> (8 * i)));
}

// The receiver's report about the caller's stream, and the round trip from
// the caller's SR to the block answering it: seen 150 ms apart, 100 ms of
// which the receiver held it (DLSR), so 50 ms.
TEST_F(TrackerTest, ReceiverReportsAndRoundTripJoinTheirStream) {
  AnnounceBoth();
  Send(true, 10);  // SSRC 0x1111, from 1.0 s
  std::string sr = {'\x80', '\xc8', '\x00', '\x06'};
  Be32(&sr, 0x1111);
  Be32(&sr, 0x00012345);  // NTP seconds
  Be32(&sr, 0x67890000);  // NTP fraction: LSR = 0x23456789
  Be32(&sr, 1600);
  Be32(&sr, 10);
  Be32(&sr, 1600);
  tracker_.OnDatagram(2'000'000'000, V4(10, 0, 0, 1), 4001, V4(10, 0, 0, 2), 5001, sr);
  std::string rr = {'\x81', '\xc9', '\x00', '\x07'};
  Be32(&rr, 0x2222);
  Be32(&rr, 0x1111);                   // about the caller's stream
  Be32(&rr, (64u << 24) | 3);          // fraction 64/256 = 25 %, cumulative 3
  Be32(&rr, 109);                      // extended highest sequence
  Be32(&rr, 80);                       // jitter: 80 units = 10 ms at 8 kHz
  Be32(&rr, 0x23456789);               // LSR
  Be32(&rr, 65536 / 10);               // DLSR: 0.1 s
  tracker_.OnDatagram(2'150'000'000, V4(10, 0, 0, 2), 5001, V4(10, 0, 0, 1), 4001, rr);
  EXPECT_EQ(tracker_.counters().rtcp_packets, 2u);
  EXPECT_EQ(tracker_.counters().rtcp_errors, 0u);
  const StreamFigures& s = Only();
  EXPECT_EQ(s.rtcp_reports, 1u);
  EXPECT_DOUBLE_EQ(s.rtcp_fraction_lost_pct, 25.0);
  EXPECT_EQ(s.rtcp_cumulative_lost, 3);
  EXPECT_DOUBLE_EQ(s.rtcp_jitter_ms, 10.0);
  EXPECT_NEAR(s.rtcp_rtt_ms, 50.0, 0.02);  // DLSR is in 1/65536 s
  EXPECT_EQ(s.xr_mos_cq, -1);
}

// HEP's RTCP (payload type 5) as the JSON Asterisk, rtpengine and heplify
// send: with no RTP seen, each SSRC the reports name becomes a stream of
// its call from the reports alone (rtcp_only), each by its sender.
std::string JsonReport(uint32_t ssrc, uint32_t sent, uint32_t about, int lost, uint32_t jitter) {
  return "{\"type\":200,\"ssrc\":" + std::to_string(ssrc) +
         ",\"report_count\":1,\"sender_information\":{\"ntp_timestamp_sec\":\"3900000000\","
         "\"ntp_timestamp_usec\":\"250000\",\"rtp_timestamp\":160,\"packets\":" +
         std::to_string(sent) + ",\"octets\":" + std::to_string(sent * 160) +
         "},\"report_blocks\":[{\"source_ssrc\":" + std::to_string(about) +
         ",\"fraction_lost\":5,\"packets_lost\":" + std::to_string(lost) +
         ",\"highest_seq_no\":1500,\"ia_jitter\":" + std::to_string(jitter) +
         ",\"lsr\":\"0\",\"dlsr\":0}]}";
}

TEST_F(TrackerTest, HepRtcpJsonAloneGivesRtcpOnlyStreamsPerDirection) {
  AnnounceBoth();
  // The callee reports from its RTCP port (RTP + 1): it sent 1500 and lost
  // 30 of the caller's; the caller sent 1470 and lost none of the callee's.
  tracker_.OnHepRtcp(5'000'000'000, "call-1", V4(10, 0, 0, 2), 5001, V4(10, 0, 0, 1), 4001,
                     JsonReport(0x2222, 1500, 0x1111, 30, 160));
  tracker_.OnHepRtcp(5'100'000'000, "call-1", V4(10, 0, 0, 1), 4001, V4(10, 0, 0, 2), 5001,
                     JsonReport(0x1111, 1470, 0x2222, 0, 8));
  EXPECT_EQ(tracker_.counters().hep_rtcp_reports, 2u);
  EXPECT_EQ(tracker_.counters().rtcp_errors, 0u);
  CallMedia media;
  ASSERT_TRUE(tracker_.TakeCallMedia("call-1", &media));
  EXPECT_EQ(tracker_.counters().rtcp_only_streams, 2u);
  EXPECT_EQ(media.from_caller.streams, 1u);
  EXPECT_EQ(media.from_caller.packets, 1470u);
  EXPECT_EQ(media.from_caller.lost, 30);
  EXPECT_EQ(media.from_caller.expected, 1500);
  EXPECT_DOUBLE_EQ(media.from_caller.max_jitter_ms, 20.0);  // 160 units at 8 kHz
  EXPECT_EQ(media.from_callee.packets, 1500u);
  EXPECT_EQ(media.from_callee.lost, 0);
  ASSERT_EQ(sink_.streams.size(), 2u);
  for (const StreamFigures& f : sink_.streams) {
    EXPECT_TRUE(f.rtcp_only);
    EXPECT_EQ(f.call_id, "call-1");
    EXPECT_EQ(f.codec, "PCMU");  // the receiver's SDP: first format
  }
  const StreamFigures& from_caller = sink_.streams[0].ssrc == 0x1111 ? sink_.streams[0] : sink_.streams[1];
  EXPECT_EQ(from_caller.sender, Side::kCaller);
  EXPECT_EQ(from_caller.src_port, 4001);
  EXPECT_EQ(from_caller.dst_port, 5001);
  // 2 % random loss on G.711 (Bpl 25.1, Ie 0): R = 93.2 - 2.6 (70 ms) - 95 * 2 / 27.1.
  EXPECT_NEAR(from_caller.mos_fixed50, MosFromR(EModelR(0, 25.1, 2.0, 1, 70)), 1e-9);
  EXPECT_LT(from_caller.mos_fixed50, 4.3);
  EXPECT_GT(from_caller.mos_fixed50, 3.9);
  // Taken once: a second take finds nothing.
  CallMedia again;
  EXPECT_FALSE(tracker_.TakeCallMedia("call-1", &again));
}

// With the RTP seen too, the reports join the RTP stream; only the SSRC
// whose RTP was not seen comes from RTCP alone. Raw RTCP in HEP works as
// the JSON does, and the SDP names the call when HEP gives no correlation.
TEST_F(TrackerTest, HepRtcpJoinsMeasuredRtpAndRawRtcpNeedsNoCorrelationId) {
  AnnounceBoth();
  Send(true, 10);  // the caller's RTP, SSRC 0x1111
  std::string rr = {'\x81', '\xc8', '\x00', '\x0c'};
  Be32(&rr, 0x2222);      // the callee's SR
  Be32(&rr, 0x00012345);
  Be32(&rr, 0x67890000);
  Be32(&rr, 1600);
  Be32(&rr, 700);          // packets it sent
  Be32(&rr, 700 * 160);
  Be32(&rr, 0x1111);       // about the caller's stream
  Be32(&rr, (0u << 24) | 2);
  Be32(&rr, 109);
  Be32(&rr, 16);
  Be32(&rr, 0);
  Be32(&rr, 0);
  tracker_.OnHepRtcp(2'000'000'000, "", V4(10, 0, 0, 2), 5001, V4(10, 0, 0, 1), 4001, rr);
  EXPECT_EQ(tracker_.counters().rtcp_errors, 0u);
  CallMedia media;
  ASSERT_TRUE(tracker_.TakeCallMedia("call-1", &media));
  EXPECT_EQ(tracker_.counters().rtcp_only_streams, 1u);  // the callee's, 0x2222
  EXPECT_EQ(media.from_caller.packets, 10u);              // measured RTP, not the report
  EXPECT_EQ(media.from_callee.packets, 700u);
  tracker_.Finish();
  ASSERT_EQ(sink_.streams.size(), 2u);
  const StreamFigures& rtp = sink_.streams[0].ssrc == 0x1111 ? sink_.streams[0] : sink_.streams[1];
  EXPECT_FALSE(rtp.rtcp_only);
  EXPECT_EQ(rtp.rtcp_reports, 1u);
  EXPECT_EQ(rtp.rtcp_cumulative_lost, 2);
}

TEST_F(TrackerTest, HepRtcpThatIsNotAReportIsCounted) {
  AnnounceBoth();
  for (const char* bad : {"{", "{\"ssrc\":1,\"report_blocks\":[{\"source_ssrc\":}]}", "[1,2]",
                          "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "", "\x80"}) {
    tracker_.OnHepRtcp(1, "call-1", V4(10, 0, 0, 2), 5001, V4(10, 0, 0, 1), 4001, bad);
  }
  EXPECT_EQ(tracker_.counters().rtcp_errors, 6u);
  CallMedia media;
  EXPECT_TRUE(tracker_.TakeCallMedia("call-1", &media));  // the SDP's call, without streams
  EXPECT_EQ(media.from_caller.streams + media.from_callee.streams, 0u);
}

TEST_F(TrackerTest, RtcpOnThePortAfterIsNotRtp) {
  AnnounceBoth();
  const std::string rr("\x80\xc9\x00\x01\x00\x00\x11\x11", 8);
  tracker_.OnDatagram(1, V4(10, 0, 0, 1), 4001, V4(10, 0, 0, 2), 5001, rr);
  EXPECT_EQ(tracker_.counters().rtcp_packets, 1u);
  EXPECT_EQ(tracker_.counters().rtp_packets, 0u);
}

TEST_F(TrackerTest, StreamWithoutSdpIsFoundAfterFourPackets) {
  for (int i = 0; i < 10; ++i) {
    tracker_.OnDatagram(1'000'000'000 + i * 20'000'000LL, V4(10, 9, 0, 1), 7000, V4(10, 9, 0, 2),
                        7002, Rtp(static_cast<uint16_t>(i), 160u * i, 0x77));
  }
  const StreamFigures& s = Only();
  EXPECT_EQ(s.call_id, "");
  EXPECT_EQ(s.packets, 7u);  // measured from the fourth
  EXPECT_EQ(tracker_.counters().unassociated_streams, 1u);
  EXPECT_EQ(tracker_.counters().unassociated_packets, 10u);
}

TEST_F(TrackerTest, AFloodOfRandomDatagramsCreatesNoStream) {
  uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1103515245 + 12345;
    std::string p = Rtp(static_cast<uint16_t>(x), x, x >> 3);
    tracker_.OnDatagram(i, V4(10, 8, (x >> 8) & 255, x & 255), static_cast<uint16_t>(x >> 16),
                        V4(10, 7, 0, 1), static_cast<uint16_t>(x >> 5), p);
  }
  tracker_.Finish();
  EXPECT_EQ(sink_.streams.size(), 0u);
  EXPECT_EQ(tracker_.counters().streams, 0u);
}

TEST(TrackerBounds, StreamsAndEndpointsStayWithinTheirCaps) {
  MediaTrackerOptions options;
  options.max_streams = 4;
  options.max_endpoints = 6;
  Collector sink;
  MediaTracker tracker(options, &sink);
  for (int call = 0; call < 20; ++call) {
    sip::SipMessage message;
    // (Built with += : GCC 12 warns wrongly of "c" + std::to_string().)
    std::string call_id = "c";
    call_id += std::to_string(call);
    message.call_id = call_id;
    message.from.tag = "a";
    message.is_request = true;
    sip::SdpSession sdp;
    std::string address = "10.0.1.";
    address += std::to_string(call);
    const std::string body = Sdp(address, 4000);
    ASSERT_TRUE(sip::ParseSdp(body, &sdp));
    tracker.OnSdp(call, message, sdp);
    tracker.OnDatagram(call, V4(10, 0, 2, 1), 6000, V4(10, 0, 1, static_cast<uint8_t>(call)), 4000,
                       Rtp(1, 160, 0x10 + call));
  }
  EXPECT_EQ(tracker.counters().streams, 20u);
  EXPECT_EQ(tracker.counters().streams_evicted, 16u);
  EXPECT_GE(tracker.counters().endpoints_evicted, 34u);  // 40 endpoints (RTP and RTCP), 6 kept
  tracker.Finish();
  EXPECT_EQ(sink.streams.size(), 20u);  // every stream emitted once, early or at the end
}

TEST(EModel, DefaultsAndLoss) {
  EXPECT_NEAR(MosFromR(EModelR(0, 25.1, 0, 1, 70)), 4.41, 0.005);
  // G.711 with PLC, 5 % random loss: Ie,eff = 95 * 5 / 30.1 = 15.78.
  EXPECT_NEAR(EModelR(0, 25.1, 5, 1, 70), 93.2 - 95.0 * 5 / 30.1, 1e-9);
  // Bursty loss hurts more.
  EXPECT_LT(EModelR(0, 25.1, 5, 3, 70), EModelR(0, 25.1, 5, 1, 70));
  // Delay over 100 ms costs.
  EXPECT_LT(EModelR(0, 25.1, 0, 1, 300), EModelR(0, 25.1, 0, 1, 70));
  EXPECT_EQ(MosFromR(-5), 1);
  EXPECT_EQ(MosFromR(120), 4.5);
  EXPECT_TRUE(StaticCodec(8).has_emodel);
  EXPECT_EQ(StaticCodec(8).name, "PCMA");
  EXPECT_FALSE(CodecByName("opus", 48000).has_emodel);
}

}  // namespace
}  // namespace sipman::media
