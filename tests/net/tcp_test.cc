#include <gtest/gtest.h>

#include "frame_builder.h"
#include "net/net.h"

namespace sipman::net {
namespace {

using namespace testing;  // NOLINT: test helpers

// A client 10.0.0.1:40000 talking to a server 10.0.0.2:5060.
class TcpTest : public ::testing::Test {
 protected:
  void Client(uint32_t seq, uint8_t flags, std::string_view data, TimestampNs ts = 1000) {
    Send(EthIpv4Tcp(V4(10, 0, 0, 1), 40000, V4(10, 0, 0, 2), 5060, seq, flags, data), ts);
  }
  void Server(uint32_t seq, uint8_t flags, std::string_view data, TimestampNs ts = 1000) {
    Send(EthIpv4Tcp(V4(10, 0, 0, 2), 5060, V4(10, 0, 0, 1), 40000, seq, flags, data), ts);
  }
  void Send(const Bytes& frame, TimestampNs ts) {
    last_frame_ = frame;
    decoder_->DecodeFrame(ts, LinkType::kEthernet, Span(last_frame_),
                          static_cast<uint32_t>(last_frame_.size()));
  }
  // Client SYN with ISN `isn`: data starts at isn + 1.
  void Open(uint32_t isn) { Client(isn, kSyn, ""); }
  const DecoderCounters& counters() const { return decoder_->counters(); }
  void Reset() { decoder_ = std::make_unique<Decoder>(options_, &sink_); }

  DecoderOptions options_;
  CollectingSink sink_;
  std::unique_ptr<Decoder> decoder_ = std::make_unique<Decoder>(options_, &sink_);
  Bytes last_frame_;
  const std::string a_ = SipRequest("a", 10);
  const std::string b_ = SipRequest("b", 0);
  const std::string c_ = SipRequest("c", 33);
};

TEST_F(TcpTest, SeveralMessagesInOneSegment) {
  Open(100);
  Client(101, kAck | kPsh, a_ + b_ + c_);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_, c_}));
  EXPECT_EQ(sink_.got[0].meta.transport, Transport::kTcp);
  EXPECT_EQ(sink_.got[0].meta.src_port, 40000);
  EXPECT_EQ(sink_.got[0].meta.dst_port, 5060);
  EXPECT_EQ(sink_.got[0].meta.src_ip, V4(10, 0, 0, 1));
}

class PointerSink : public PayloadSink {
 public:
  void OnPayload(const Payload& p) override { pointers.push_back(p.data.data()); }
  std::vector<const char*> pointers;
};

TEST_F(TcpTest, CompleteMessageInTheSegmentIsAViewIntoThePacket) {
  PointerSink sink;
  Decoder decoder(options_, &sink);
  const Bytes syn = EthIpv4Tcp(V4(1, 1, 1, 1), 1, V4(2, 2, 2, 2), 2, 0, kSyn, "");
  decoder.DecodeFrame(1, LinkType::kEthernet, Span(syn), 0);
  const Bytes data = EthIpv4Tcp(V4(1, 1, 1, 1), 1, V4(2, 2, 2, 2), 2, 1, kAck, a_ + b_);
  decoder.DecodeFrame(2, LinkType::kEthernet, Span(data), 0);
  ASSERT_EQ(sink.pointers.size(), 2u);
  const char* begin = reinterpret_cast<const char*>(data.data());
  EXPECT_EQ(sink.pointers[0], begin + data.size() - a_.size() - b_.size());
  EXPECT_EQ(sink.pointers[1], begin + data.size() - b_.size());
}

TEST_F(TcpTest, OneMessageOverThreeSegments) {
  Open(100);
  Client(101, kAck, a_.substr(0, 20), 1);
  Client(121, kAck, a_.substr(20, 50), 2);
  EXPECT_TRUE(sink_.got.empty());
  Client(171, kAck, a_.substr(70), 3);
  ASSERT_EQ(sink_.Data(), std::vector<std::string>{a_});
  EXPECT_EQ(sink_.got[0].meta.ts, 3) << "time of the segment that completed it";
}

TEST_F(TcpTest, OutOfOrderSegmentsAreHeldUntilTheGapFills) {
  Open(0);
  const std::string all = a_ + b_;
  Client(1 + 60, kAck, all.substr(60, 60));
  Client(1 + 120, kAck, all.substr(120));
  EXPECT_TRUE(sink_.got.empty());
  Client(1, kAck, all.substr(0, 60));
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  EXPECT_EQ(counters().tcp_gaps, 0u);
}

TEST_F(TcpTest, RetransmissionIsDroppedAndCounted) {
  Open(0);
  Client(1, kAck, a_);
  Client(1, kAck, a_);
  Client(1 + static_cast<uint32_t>(a_.size()), kAck, b_);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  EXPECT_EQ(counters().tcp_retransmitted_bytes, a_.size());
}

TEST_F(TcpTest, OverlappingSegmentIsTrimmed) {
  Open(0);
  const std::string all = a_ + b_;
  Client(1, kAck, all.substr(0, 50));
  Client(1 + 40, kAck, all.substr(40));  // 10 bytes seen already
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  EXPECT_EQ(counters().tcp_retransmitted_bytes, 10u);
}

TEST_F(TcpTest, OutOfOrderOverlapIsTrimmedWhenDrained) {
  Open(0);
  const std::string all = a_ + b_;
  Client(1 + 50, kAck, all.substr(50));
  Client(1, kAck, all.substr(0, 70));  // overlaps the held segment by 20 bytes
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  EXPECT_EQ(counters().tcp_retransmitted_bytes, 20u);
}

TEST_F(TcpTest, GapThatNeverFillsIsSkippedAtFin) {
  Open(0);
  const uint32_t a_len = static_cast<uint32_t>(a_.size());
  Client(1, kAck, a_.substr(0, 30));
  // a_[30..] never arrives; b_ and c_ come after the hole.
  Client(1 + a_len, kAck, b_ + c_);
  EXPECT_TRUE(sink_.got.empty());
  Client(1 + a_len + static_cast<uint32_t>(b_.size() + c_.size()), kAck | kFin, "");
  for (int i = 0; i < 3; ++i) Server(1, kAck, "");
  EXPECT_TRUE(sink_.got.empty()) << "the hole still has a chance";
  Server(1, kAck | kFin, "");
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{b_, c_}));
  EXPECT_EQ(counters().tcp_gaps, 1u);
}

TEST_F(TcpTest, FinReorderedBeforeTheLastSegmentLosesNothing) {
  Open(0);
  Client(1, kAck, a_);
  const uint32_t b_seq = 1 + static_cast<uint32_t>(a_.size());
  Client(b_seq + static_cast<uint32_t>(b_.size()), kAck | kFin, "");
  Server(1, kAck, "");
  Client(b_seq, kAck, b_);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  EXPECT_EQ(counters().tcp_gaps, 0u);
}

TEST_F(TcpTest, GapIsSkippedWhenTheHoldBufferOverflows) {
  options_.max_tcp_stream_bytes = 400;
  Reset();
  Open(0);
  uint32_t seq = 1 + 1000;  // 1000 bytes lost
  const std::string msgs[] = {a_, b_, c_};
  for (const auto& m : msgs) {
    Client(seq, kAck, m);
    seq += static_cast<uint32_t>(m.size());
  }
  // Holding c_ would pass the bound: the hole is skipped, all three are in order.
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_, c_}));
  EXPECT_EQ(counters().tcp_gaps, 1u);
}

TEST_F(TcpTest, StreamStartingMidMessageResynchronises) {
  // No SYN: the capture starts inside an SDP body, mid-line.
  const std::string tail = "N IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n";
  Client(5000, kAck, tail + b_);
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{b_});
  Client(5000 + static_cast<uint32_t>(tail.size() + b_.size()), kAck, c_);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{b_, c_}));
}

TEST_F(TcpTest, ResyncNeedsAKnownMethodAfterAGap) {
  // A body without a final CRLF glues its end to the next start line.
  Client(5000, kAck, "xxxxINVITE sip:a SIP/2.0\r\n\r\n" + b_);
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{b_});
}

TEST_F(TcpTest, ResyncWaitsForAStartLineSplitAcrossSegments) {
  const std::string junk = "xxxx\r\nfoo: bar\r\n";
  const std::string first = junk + b_.substr(0, 10);
  Client(77, kAck, first);
  Client(77 + static_cast<uint32_t>(first.size()), kAck, b_.substr(10));
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{b_});
}

TEST_F(TcpTest, KeepAlivesBetweenMessagesAreSkipped) {
  Open(0);
  const std::string stream = "\r\n\r\n" + a_ + "\r\n" + b_ + "\r\n\r\n";
  Client(1, kAck, stream.substr(0, 4));
  Client(5, kAck, stream.substr(4));
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  EXPECT_EQ(counters().tcp_gaps, 0u);
}

TEST_F(TcpTest, SequenceNumbersWrapAround) {
  Open(0xffffffe0u);
  const std::string all = a_ + b_;
  Client(0xffffffe1u, kAck, all.substr(0, 100));          // crosses 2^32
  Client(0xffffffe1u + 160u, kAck, all.substr(160));      // out of order, after wrap
  Client(0xffffffe1u + 100u, kAck, all.substr(100, 60));  // fills the hole
  Client(0xffffffe1u + 10u, kAck, all.substr(10, 10));    // old retransmission
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  EXPECT_EQ(counters().tcp_retransmitted_bytes, 10u);
}

TEST_F(TcpTest, CompactContentLengthFramesTheBody) {
  const std::string m = SipRequest("compact", 25, "l");
  Open(0);
  Client(1, kAck, m.substr(0, m.size() - 5));
  EXPECT_TRUE(sink_.got.empty());
  Client(1 + static_cast<uint32_t>(m.size() - 5), kAck, m.substr(m.size() - 5) + b_);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{m, b_}));
}

TEST_F(TcpTest, BodyThatLooksLikeSipIsNotSplit) {
  std::string body = "SIP/2.0 200 OK\r\nVia: x\r\n\r\n";
  std::string m = "MESSAGE sip:a SIP/2.0\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\n\r\n" + body;
  Open(0);
  Client(1, kAck, m);
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{m});
}

TEST_F(TcpTest, DirectionsAreIndependent) {
  Open(0);
  Server(500, kSyn | kAck, "");
  const std::string ok = "SIP/2.0 200 OK\r\nCall-ID: a\r\nContent-Length: 0\r\n\r\n";
  Client(1, kAck, a_.substr(0, 40));
  Server(501, kAck, ok);
  Client(41, kAck, a_.substr(40));
  ASSERT_EQ(sink_.Data(), (std::vector<std::string>{ok, a_}));
  EXPECT_EQ(sink_.got[0].meta.src_port, 5060);
  EXPECT_EQ(sink_.got[1].meta.src_port, 40000);
}

TEST_F(TcpTest, RstEndsTheStreamAndDropsTheIncompleteMessage) {
  Open(0);
  Client(1, kAck, a_ + b_.substr(0, 10));
  Client(1 + static_cast<uint32_t>(a_.size() + 10), kRst, "");
  Client(1 + static_cast<uint32_t>(a_.size() + 10), kAck, b_.substr(10));  // after RST: ignored
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{a_});
}

TEST_F(TcpTest, RetransmittedSynKeepsTheStream) {
  Open(0);
  Client(1, kAck, a_.substr(0, 40));
  Open(0);
  Client(41, kAck, a_.substr(40));
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{a_});
}

TEST_F(TcpTest, SynReopensAClosedFlow) {
  Open(0);
  Client(1, kAck | kFin, a_);
  Open(9000);
  Client(9001, kAck, b_);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
}

TEST_F(TcpTest, IdleStreamsAreEvicted) {
  Open(0);
  Client(1, kAck, a_.substr(0, 10), 0);
  Server(7, kAck, "", options_.tcp_idle_timeout_ns / 2);
  EXPECT_EQ(counters().tcp_streams_evicted, 0u);
  Send(EthIpv4Tcp(V4(9, 9, 9, 9), 1, V4(8, 8, 8, 8), 2, 0, kSyn, ""),
       options_.tcp_idle_timeout_ns * 2);
  EXPECT_EQ(counters().tcp_streams_evicted, 1u);
}

TEST_F(TcpTest, MaxStreamsEvictsTheOldest) {
  options_.max_tcp_streams = 2;
  Reset();
  for (uint16_t port = 1; port <= 3; ++port) {
    Send(EthIpv4Tcp(V4(1, 1, 1, 1), port, V4(2, 2, 2, 2), 5060, 0, kSyn, ""), port);
  }
  EXPECT_EQ(counters().tcp_streams_evicted, 1u);
}

TEST_F(TcpTest, NonSipStreamIsCountedAndNeverEmits) {
  Open(0);
  std::string binary = "\x9c\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  binary.append(300, '\x9c');
  Client(1, kAck, binary);
  Client(1 + static_cast<uint32_t>(binary.size()), kAck, binary);
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_GE(counters().non_sip, 1u);
  EXPECT_EQ(counters().tls_connections, 0u);
}

TEST_F(TcpTest, TlsStreamIsCountedOnceWithItsBytesAndNeverParsed) {
  Open(0);
  // A ClientHello record header, then an application-data record that
  // happens to hold SIP-looking text: TLS is counted, never read.
  std::string hello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  hello.append(300, '\x9c');
  const std::string data = "\x17\x03\x03\x00\x30" + a_;
  Client(1, kAck, hello);
  Client(1 + static_cast<uint32_t>(hello.size()), kAck, data);
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(counters().tls_connections, 1u);
  EXPECT_EQ(counters().tls_bytes, hello.size() + data.size());
}

TEST_F(TcpTest, TotalBudgetDropsTheOldestStreamsPartialMessages) {
  // 40 connections each leave an unfinished 50 KB message; the budget holds
  // 12 of them. The least recently active ones lose their partial
  // data, the newest keep theirs and complete.
  options_.max_tcp_total_bytes = 600 * 1024;
  Reset();
  const std::string big = SipRequest("big", 60000);
  auto send = [&](uint16_t port, uint32_t seq, std::string_view data) {
    Send(EthIpv4Tcp(V4(10, 0, 0, 1), port, V4(10, 0, 0, 2), 5060, seq, kAck, data), 1000);
  };
  for (uint16_t i = 0; i < 40; ++i) {
    send(static_cast<uint16_t>(41000 + i), 0, "");  // first segment: stream starts at 0
    send(static_cast<uint16_t>(41000 + i), 0, big.substr(0, 50000));
  }
  // 12 × 50,000 bytes fit in 614,400: each later connection drops one.
  EXPECT_EQ(counters().tcp_budget_drops, 40u - 12u);
  EXPECT_TRUE(sink_.got.empty());
  // The newest connection still holds its first 50,000 bytes.
  send(41039, 50000, big.substr(50000));
  ASSERT_EQ(sink_.Data(), std::vector<std::string>{big});
  // The oldest lost them: its rest alone is not a message.
  send(41000, 50000, big.substr(50000));
  EXPECT_EQ(sink_.got.size(), 1u);
}

TEST_F(TcpTest, ContentLengthOverTheBoundIsResynchronised) {
  options_.max_tcp_stream_bytes = 1000;
  Reset();
  Open(0);
  const std::string huge = "MESSAGE sip:a SIP/2.0\r\nContent-Length: 5000\r\n\r\n";
  Client(1, kAck, huge + b_);
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{b_});
}

TEST_F(TcpTest, TransportPayloadWithoutSequenceNumbersIsAppendedInOrder) {
  const IpAddress src = V4(1, 2, 3, 4), dst = V4(5, 6, 7, 8);
  auto feed = [&](std::string_view s) {
    decoder_->DecodeTransportPayload(5, Transport::kTcp, src, 5060, dst, 5061,
                                     {reinterpret_cast<const uint8_t*>(s.data()), s.size()}, 0);
  };
  feed(a_.substr(0, 33));
  feed(a_.substr(33) + b_);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{a_, b_}));
  const std::string udp = "OPTIONS sip:x SIP/2.0\r\n\r\n";
  decoder_->DecodeTransportPayload(6, Transport::kUdp, src, 1, dst, 2,
                                   {reinterpret_cast<const uint8_t*>(udp.data()), udp.size()},
                                   0);
  ASSERT_EQ(sink_.got.size(), 3u);
  EXPECT_EQ(sink_.got[2].meta.transport, Transport::kUdp);
  EXPECT_EQ(sink_.got[2].meta.src_ip, src);
}

TEST_F(TcpTest, FinishDeliversWhatIsCompleteAfterAGap) {
  Open(0);
  Client(1 + 50, kAck, b_);  // the first 50 bytes never arrive
  EXPECT_TRUE(sink_.got.empty());
  decoder_->Finish();
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{b_});
  EXPECT_EQ(counters().tcp_gaps, 1u);
}

TEST_F(TcpTest, UdpKeepAliveIsNotSip) {
  Send(EthIpv4Udp(V4(1, 1, 1, 1), 5060, V4(2, 2, 2, 2), 5060, "\r\n\r\n"), 1);
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(counters().non_sip, 1u);
}

TEST_F(TcpTest, SipIsRecognisedOnAnyPort) {
  Send(EthIpv4Udp(V4(1, 1, 1, 1), 12345, V4(2, 2, 2, 2), 33333, b_), 1);
  Send(EthIpv4Tcp(V4(1, 1, 1, 1), 2222, V4(2, 2, 2, 2), 4444, 7, kAck, a_), 1);
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{b_, a_}));
}

}  // namespace
}  // namespace sipman::net
