#include <gtest/gtest.h>

#include "frame_builder.h"
#include "net/net.h"

namespace sipman::net {
namespace {

using namespace testing;  // NOLINT: test helpers

const uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};

// A SIP-over-WebSocket client 10.0.0.1:50000 and server 10.0.0.2:443.
class WebSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Client(kSyn, "");
    Server(kSyn | kAck, "");
    Client(kAck,
           "GET /sip HTTP/1.1\r\nHost: example.com\r\nupgrade: WebSocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n");
    Server(kAck,
           "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
           "Sec-WebSocket-Protocol: sip\r\n\r\n");
  }
  void Client(uint8_t flags, std::string_view data) {
    Send(EthIpv4Tcp(V4(10, 0, 0, 1), 50000, V4(10, 0, 0, 2), 443, client_seq_, flags, data));
    client_seq_ += static_cast<uint32_t>(data.size()) + ((flags & kSyn) ? 1 : 0);
  }
  void Server(uint8_t flags, std::string_view data) {
    Send(EthIpv4Tcp(V4(10, 0, 0, 2), 443, V4(10, 0, 0, 1), 50000, server_seq_, flags, data));
    server_seq_ += static_cast<uint32_t>(data.size()) + ((flags & kSyn) ? 1 : 0);
  }
  void Send(const Bytes& frame) {
    decoder_.DecodeFrame(1, LinkType::kEthernet, Span(frame), static_cast<uint32_t>(frame.size()));
  }

  uint32_t client_seq_ = 1000;
  uint32_t server_seq_ = 9000;
  DecoderOptions options_;
  CollectingSink sink_;
  Decoder decoder_{options_, &sink_};
  const std::string invite_ = SipRequest("ws", 120);
  const std::string ok_ = "SIP/2.0 200 OK\r\nCall-ID: ws\r\nContent-Length: 0\r\n\r\n";
};

TEST_F(WebSocketTest, HandshakeIsNotEmitted) {
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_EQ(decoder_.counters().websocket_frames, 0u);
}

TEST_F(WebSocketTest, MaskedClientFrameIsUnmasked) {
  Client(kAck, WsFrame(1, true, invite_, kMask));
  ASSERT_EQ(sink_.Data(), std::vector<std::string>{invite_});
  EXPECT_EQ(sink_.got[0].meta.transport, Transport::kWebSocket);
  EXPECT_EQ(sink_.got[0].meta.src_port, 50000);
  EXPECT_EQ(decoder_.counters().websocket_frames, 1u);
}

TEST_F(WebSocketTest, UnmaskedServerFrame) {
  Server(kAck, WsFrame(1, true, ok_));
  ASSERT_EQ(sink_.Data(), std::vector<std::string>{ok_});
  EXPECT_EQ(sink_.got[0].meta.src_port, 443);
}

TEST_F(WebSocketTest, FragmentedMessageWithContinuationFramesAndAPing) {
  const std::string frames = WsFrame(1, false, invite_.substr(0, 50), kMask) +
                             WsFrame(9, true, "ping", kMask) +
                             WsFrame(0, false, invite_.substr(50, 50), kMask) +
                             WsFrame(0, true, invite_.substr(100), kMask);
  Client(kAck, frames);
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{invite_});
  EXPECT_EQ(decoder_.counters().websocket_frames, 4u);
}

TEST_F(WebSocketTest, FrameSplitOverSegments) {
  const std::string frame = WsFrame(1, true, invite_, kMask);
  Client(kAck, frame.substr(0, 1));
  Client(kAck, frame.substr(1, 5));
  Client(kAck, frame.substr(6, 100));
  EXPECT_TRUE(sink_.got.empty());
  Client(kAck, frame.substr(106));
  EXPECT_EQ(sink_.Data(), std::vector<std::string>{invite_});
}

TEST_F(WebSocketTest, SeveralFramesInOneSegment) {
  Server(kAck, WsFrame(1, true, ok_) + WsFrame(2, true, ok_) +
                   WsFrame(1, true, "not sip at all"));
  EXPECT_EQ(sink_.Data(), (std::vector<std::string>{ok_, ok_}));
  EXPECT_EQ(decoder_.counters().non_sip, 1u);
}

TEST_F(WebSocketTest, SixteenAndSixtyFourBitLengths) {
  const std::string big = SipRequest("big", 70000);
  Client(kAck, WsFrame(1, true, SipRequest("mid", 300), kMask));
  const std::string frame = WsFrame(1, true, big, kMask);
  for (size_t off = 0; off < frame.size(); off += 1400) Client(kAck, frame.substr(off, 1400));
  ASSERT_EQ(sink_.got.size(), 2u);
  EXPECT_EQ(sink_.got[1].data, big);
}

TEST_F(WebSocketTest, ReservedOpcodeStopsTheStream) {
  Client(kAck, WsFrame(3, true, invite_, kMask) + WsFrame(1, true, invite_, kMask));
  EXPECT_TRUE(sink_.got.empty());
  EXPECT_GE(decoder_.counters().non_sip, 1u);
}

TEST(WebSocketUpgrade, PlainHttpIsNotWebSocket) {
  DecoderOptions options;
  CollectingSink sink;
  Decoder decoder(options, &sink);
  const Bytes syn = EthIpv4Tcp(V4(1, 1, 1, 1), 1, V4(2, 2, 2, 2), 80, 0, kSyn, "");
  decoder.DecodeFrame(1, LinkType::kEthernet, Span(syn), 0);
  const std::string get = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const Bytes req = EthIpv4Tcp(V4(1, 1, 1, 1), 1, V4(2, 2, 2, 2), 80, 1, kAck,
                               get + WsFrame(1, true, SipRequest("x")));
  decoder.DecodeFrame(2, LinkType::kEthernet, Span(req), 0);
  EXPECT_TRUE(sink.got.empty());
  EXPECT_EQ(decoder.counters().websocket_frames, 0u);
}

}  // namespace
}  // namespace sipman::net
