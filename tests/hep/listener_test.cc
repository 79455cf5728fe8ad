// HepListener and HepSender over loopback (127.0.0.1 and ::1), ephemeral
// ports, bounded waits.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "hep/hep.h"
#include "hep_builder.h"

namespace sipman::hep {
namespace {

struct Received {
  std::string payload;
  std::string src, dst;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t capture_id = 0;
  std::string node_name;
  TimestampNs ts = 0;
  uint8_t ip_protocol = 0;
};

class CollectingSink : public HepSink {
 public:
  void OnHepPacket(const HepPacket& p, TimestampNs /*received_ns*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    packets_.push_back({std::string(p.payload), p.src_ip.ToString(), p.dst_ip.ToString(),
                        p.src_port, p.dst_port, p.capture_id, std::string(p.node_name), p.ts,
                        p.ip_protocol});
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return packets_.size();
  }
  std::vector<Received> packets() {
    std::lock_guard<std::mutex> lock(mu_);
    return packets_;
  }

 private:
  std::mutex mu_;
  std::vector<Received> packets_;
};

template <typename F>
bool WaitFor(F done, int timeout_ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

HepPacket MakePacket(bool v6, std::string_view payload, int i) {
  HepPacket p;
  uint8_t a[16] = {};
  uint8_t b[16] = {};
  if (v6) {
    a[0] = b[0] = 0xfd;
    a[15] = 1;
    b[15] = 2;
    p.src_ip = IpAddress::V6(a);
    p.dst_ip = IpAddress::V6(b);
  } else {
    a[0] = b[0] = 192;
    a[1] = b[1] = 168;
    a[3] = 1;
    b[3] = 2;
    p.src_ip = IpAddress::V4(a);
    p.dst_ip = IpAddress::V4(b);
  }
  p.src_port = static_cast<uint16_t>(5060 + i);
  p.dst_port = 5080;
  p.ts = (1700000000LL + i) * kNsPerSecond + 250 * kNsPerUs;
  p.payload = payload;
  return p;
}

void SendAndCheck(const std::string& address, bool tcp) {
  CollectingSink sink;
  HepListenerOptions lo;
  lo.address = address;
  lo.port = 0;
  HepListener listener(lo, &sink);
  ASSERT_TRUE(listener.Start().ok());
  ASSERT_NE(listener.udp_port(), 0);
  ASSERT_EQ(listener.udp_port(), listener.tcp_port());

  HepSenderOptions so;
  so.host = address;
  so.port = tcp ? listener.tcp_port() : listener.udp_port();
  so.tcp = tcp;
  so.capture_id = 77;
  so.node_name = "sensor-a";
  auto sender = HepSender::Open(so);
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  constexpr int kCount = 200;
  std::vector<std::string> payloads;
  for (int i = 0; i < kCount; ++i) {
    payloads.push_back("OPTIONS sip:x SIP/2.0\r\nCall-ID: " + std::to_string(i) + "\r\n\r\n");
  }
  for (int i = 0; i < kCount; ++i) {
    // UDP on loopback rarely drops; pace lightly so the test stays exact.
    if (!tcp && i % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_TRUE((*sender)->Send(MakePacket(address.find(':') != std::string::npos, payloads[i], i)));
    if (tcp && i == 0) {
      ASSERT_TRUE((*sender)->Flush(2000));
    }
  }
  ASSERT_TRUE((*sender)->Flush(2000));
  ASSERT_TRUE(WaitFor([&] { return sink.size() == kCount; }))
      << "received " << sink.size() << " of " << kCount;
  const auto got = sink.packets();
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(got[i].payload, payloads[i]);
    EXPECT_EQ(got[i].capture_id, 77u);
    EXPECT_EQ(got[i].node_name, "sensor-a");
    EXPECT_EQ(got[i].src_port, 5060 + i);
    EXPECT_EQ(got[i].ts, (1700000000LL + i) * kNsPerSecond + 250 * kNsPerUs);
  }
  const HepListenerCounters c = listener.counters();
  EXPECT_EQ(c.decoded, static_cast<uint64_t>(kCount));
  EXPECT_EQ(c.rejected, 0u);
  EXPECT_EQ((*sender)->counters().sent, static_cast<uint64_t>(kCount));
  EXPECT_EQ((*sender)->counters().dropped, 0u);
  if (tcp) {
    EXPECT_EQ(c.tcp_accepted, 1u);
  }
  listener.Stop();
  listener.Stop();  // twice is fine
}

TEST(HepListener, UdpIpv4) { SendAndCheck("127.0.0.1", false); }
TEST(HepListener, TcpIpv4) { SendAndCheck("127.0.0.1", true); }
TEST(HepListener, UdpIpv6) { SendAndCheck("::1", false); }
TEST(HepListener, TcpIpv6) { SendAndCheck("::1", true); }

int RawSocket(int type, uint16_t port) {
  const int fd = socket(AF_INET, type, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(HepListener, AuthKeyAndMalformedAreRejectedAndCounted) {
  CollectingSink sink;
  HepListenerOptions lo;
  lo.address = "127.0.0.1";
  lo.port = 0;
  lo.auth_key = "right";
  HepListener listener(lo, &sink);
  ASSERT_TRUE(listener.Start().ok());

  HepSenderOptions so;
  so.host = "127.0.0.1";
  so.port = listener.udp_port();
  for (const char* key : {"wrong", "", "right"}) {
    so.auth_key = key;
    auto sender = HepSender::Open(so);
    ASSERT_TRUE(sender.ok());
    EXPECT_TRUE((*sender)->Send(MakePacket(false, "MESSAGE sip:a SIP/2.0\r\n\r\n", 0)));
  }
  const int udp = RawSocket(SOCK_DGRAM, listener.udp_port());
  ASSERT_GE(udp, 0);
  const std::string garbage = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(send(udp, garbage.data(), garbage.size(), 0), static_cast<ssize_t>(garbage.size()));
  auto bad_len = testing::Hep3Builder().Ipv4Basics().Chunk(0x0f, "x").Build(200);
  ASSERT_GT(send(udp, bad_len.data(), bad_len.size(), 0), 0);
  auto no_payload = testing::Hep3Builder().Ipv4Basics().Chunk(0x0e, "right").Build();
  ASSERT_GT(send(udp, no_payload.data(), no_payload.size(), 0), 0);
  close(udp);

  // A TCP stream that is not HEP is cut, and counted.
  const int tcp = RawSocket(SOCK_STREAM, listener.tcp_port());
  ASSERT_GE(tcp, 0);
  ASSERT_GT(send(tcp, garbage.data(), garbage.size(), 0), 0);

  auto rejected = [&](HepError e) {
    return listener.counters().rejected_by_reason[static_cast<size_t>(e)];
  };
  ASSERT_TRUE(WaitFor([&] { return listener.counters().received == 7; }))
      << listener.counters().received;
  char buf[16];
  EXPECT_EQ(recv(tcp, buf, sizeof(buf), 0), 0);  // closed by the listener
  close(tcp);
  EXPECT_EQ(sink.size(), 1u);
  const HepListenerCounters c = listener.counters();
  EXPECT_EQ(c.decoded, 1u);
  EXPECT_EQ(c.rejected, 6u);
  EXPECT_EQ(rejected(HepError::kAuthFailed), 2u);
  EXPECT_EQ(rejected(HepError::kBadMagic), 2u);
  EXPECT_EQ(rejected(HepError::kBadLength), 1u);
  EXPECT_EQ(rejected(HepError::kMissingPayload), 1u);
  EXPECT_EQ(c.tcp_stream_errors, 1u);
}

TEST(HepListener, TcpFramesSplitAnywhereAndConnectionLimit) {
  CollectingSink sink;
  HepListenerOptions lo;
  lo.address = "127.0.0.1";
  lo.port = 0;
  lo.udp = false;
  lo.max_tcp_connections = 1;
  HepListener listener(lo, &sink);
  ASSERT_TRUE(listener.Start().ok());
  EXPECT_EQ(listener.udp_port(), 0);
  const auto one = testing::Hep3Builder().Ipv4Basics().Chunk(0x0f, "INFO sip:a SIP/2.0\r\n\r\n").Build();
  std::vector<uint8_t> stream;
  for (int i = 0; i < 5; ++i) stream.insert(stream.end(), one.begin(), one.end());
  const int fd = RawSocket(SOCK_STREAM, listener.tcp_port());
  ASSERT_GE(fd, 0);
  // Byte by byte for the first packet, then the rest at once.
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(send(fd, stream.data() + i, 1, 0), 1);
    if (i % 16 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(send(fd, stream.data() + one.size(), stream.size() - one.size(), 0), 0);
  ASSERT_TRUE(WaitFor([&] { return sink.size() == 5; })) << sink.size();

  // A second connection is over the limit: accepted and closed.
  const int fd2 = RawSocket(SOCK_STREAM, listener.tcp_port());
  ASSERT_GE(fd2, 0);
  ASSERT_TRUE(WaitFor([&] { return listener.counters().tcp_refused == 1; }));
  char buf[4];
  EXPECT_EQ(recv(fd2, buf, sizeof(buf), 0), 0);
  close(fd2);
  close(fd);
  listener.Stop();
  EXPECT_EQ(listener.counters().decoded, 5u);
}

TEST(HepListener, StartFailsOnBadAddress) {
  CollectingSink sink;
  HepListenerOptions lo;
  lo.address = "not-an-address";
  HepListener listener(lo, &sink);
  Status s = listener.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not-an-address"), std::string::npos) << s.message();
}

TEST(HepSender, UnresolvableHostFails) {
  HepSenderOptions so;
  so.host = "no-such-host.invalid";
  so.port = 9060;
  auto sender = HepSender::Open(so);
  ASSERT_FALSE(sender.ok());
  EXPECT_NE(sender.status().message().find("no-such-host.invalid"), std::string::npos);
}

TEST(HepSender, TcpWithoutPeerNeverBlocks) {
  // Find a closed port: bind, read the port, close.
  const int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  socklen_t len = sizeof(a);
  getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  close(probe);
  HepSenderOptions so;
  so.host = "127.0.0.1";
  so.port = ntohs(a.sin_port);
  so.tcp = true;
  auto sender = HepSender::Open(so);
  ASSERT_TRUE(sender.ok());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) (*sender)->Send(MakePacket(false, "x", i));
  (*sender)->Flush(50);  // nothing can be written: the connection was refused
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_GT((*sender)->counters().dropped + (*sender)->counters().errors, 0u);
}

}  // namespace
}  // namespace sipman::hep
