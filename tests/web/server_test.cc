// WebServer in-process on a temporary database: authentication, a call with
// its messages and pcap, the live feed, timeouts and pipelining over raw
// sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "store/store.h"
#include "web/pcap.h"
#include "web/web.h"

namespace sipman::web {
namespace {

constexpr char kPassword[] = "unit-test-password";

IpAddress Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sipman-web-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    store::StoreOptions so;
    so.url = dir_ + "/t.db";
    auto store = store::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    calls::CallRecord call;
    call.call_id = "abc@host";
    call.caller_user = "alice";
    call.callee_user = "bob";
    call.src_ip = Ip4(10, 0, 0, 1);
    call.dst_ip = Ip4(10, 0, 0, 2);
    call.src_port = 5060;
    call.dst_port = 5060;
    call.transport = "udp";
    call.invite_ts = 1764064800 * kNsPerSecond;
    call.end_ts = call.invite_ts + 2 * kNsPerSecond;
    call.state = calls::CallState::kFailed;
    call.final_status = 486;
    store_->AddCall(call);
    const char* raws[] = {
        "INVITE sip:bob@h SIP/2.0\r\nCall-ID: abc@host\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        "SIP/2.0 486 Busy Here\r\nCall-ID: abc@host\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"};
    for (int i = 0; i < 2; ++i) {
      store::StoredMessage m;
      m.call_id = "abc@host";
      m.ts = call.invite_ts + i * kNsPerMs;
      m.src_ip = i == 0 ? call.src_ip : call.dst_ip;
      m.dst_ip = i == 0 ? call.dst_ip : call.src_ip;
      m.src_port = m.dst_port = 5060;
      m.transport = "udp";
      m.method = "INVITE";
      m.status = i == 0 ? 0 : 486;
      m.cseq = 1;
      m.raw = raws[i];
      store_->AddMessage(m);
    }
    ASSERT_TRUE(store_->Flush().ok());

    WebServerOptions options;
    options.listen = "127.0.0.1:0";
    options.db_path = so.url;
    options.admin_password = kPassword;
    options.announce = nullptr;
    options.request_timeout_ms = 300;
    options.pwhash_opslimit = 1;
    options.pwhash_memlimit = 8192;
    auto server = WebServer::Create(options, store_.get());
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  int Connect() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  // Sends `request`, reads until the peer closes (or `until` appears).
  std::string Exchange(const std::string& request, const std::string& until = "") {
    int fd = Connect();
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string out;
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
      out.append(buffer, static_cast<size_t>(n));
      if (!until.empty() && out.find(until) != std::string::npos) break;
    }
    close(fd);
    return out;
  }
  std::string Login() {
    std::string body = std::string("{\"username\":\"admin\",\"password\":\"") + kPassword + "\"}";
    std::string reply = Exchange(
        "POST /api/v1/login HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    size_t at = reply.find("sipman_session=");
    if (at == std::string::npos) return "";
    return reply.substr(at, reply.find(';', at) - at);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<WebServer> server_;
};

TEST_F(ServerTest, HealthzIsPublicAndTheApiIsNot) {
  EXPECT_TRUE(Exchange("GET /healthz HTTP/1.0\r\n\r\n").ends_with("\r\n\r\nok\n"));
  EXPECT_TRUE(Exchange("GET /api/v1/calls HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 401"));
}

TEST_F(ServerTest, LoggedInUserSeesTheCallItsMessagesAndPcap) {
  std::string cookie = Login();
  ASSERT_FALSE(cookie.empty());
  std::string list = Exchange("GET /api/v1/calls?caller=al HTTP/1.0\r\nCookie: " + cookie +
                              "\r\n\r\n");
  EXPECT_TRUE(list.starts_with("HTTP/1.1 200")) << list;
  EXPECT_NE(list.find("\"call_id\":\"abc@host\""), std::string::npos) << list;
  EXPECT_NE(list.find("\"next_cursor\":null"), std::string::npos);
  std::string none = Exchange("GET /api/v1/calls?caller=bo HTTP/1.0\r\nCookie: " + cookie +
                              "\r\n\r\n");
  EXPECT_NE(none.find("{\"calls\":[],"), std::string::npos) << none;
  std::string detail = Exchange("GET /api/v1/calls/1 HTTP/1.0\r\nCookie: " + cookie + "\r\n\r\n");
  EXPECT_NE(detail.find("\"first_line\":\"SIP/2.0 486 Busy Here\""), std::string::npos) << detail;
  std::string pcap = Exchange("GET /api/v1/calls/1/pcap HTTP/1.0\r\nCookie: " + cookie +
                              "\r\n\r\n");
  size_t body = pcap.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  std::string file = pcap.substr(body + 4);
  ASSERT_GE(file.size(), 24u);
  EXPECT_EQ(file.substr(0, 4), std::string("\x4d\x3c\xb2\xa1", 4));
  EXPECT_NE(file.find("INVITE sip:bob@h"), std::string::npos);
  EXPECT_TRUE(Exchange("GET /api/v1/calls/7 HTTP/1.0\r\nCookie: " + cookie + "\r\n\r\n")
                  .starts_with("HTTP/1.1 404"));
}

TEST_F(ServerTest, LiveClientsReceivePublishedEvents) {
  std::string cookie = Login();
  int fd = Connect();
  std::string request = "GET /api/v1/live HTTP/1.1\r\nCookie: " + cookie + "\r\n\r\n";
  ASSERT_GT(send(fd, request.data(), request.size(), MSG_NOSIGNAL), 0);
  std::string got;
  char buffer[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.find("retry:") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  server_->live()->PublishConcurrent(7);
  while (got.find("\"calls\":7") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  EXPECT_NE(got.find("text/event-stream"), std::string::npos) << got;
  EXPECT_NE(got.find("event: concurrent\ndata: {"), std::string::npos) << got;
  EXPECT_NE(got.find("\"calls\":7"), std::string::npos) << got;
}

TEST_F(ServerTest, SlowClientsTimeOutAndPipelinedRequestsAreAnswered) {
  std::string reply = Exchange("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finished
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 408")) << reply;
  reply = Exchange("GET /healthz HTTP/1.1\r\n\r\nGET /nothing/api HTTP/1.1\r\n\r\n"
                   "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  size_t count = 0;
  for (size_t at = 0; (at = reply.find("HTTP/1.1 200", at)) != std::string::npos; ++at) ++count;
  EXPECT_EQ(count, 3u) << reply;
}

TEST(CallPcap, TcpMessagesGetAHandshakeAndConsecutiveSequenceNumbers) {
  std::vector<store::StoredMessageRow> messages(2);
  uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  messages[0].src_ip = IpAddress::V6(v6a);
  messages[0].dst_ip = IpAddress::V6(v6b);
  messages[0].src_port = 40000;
  messages[0].dst_port = 5060;
  messages[0].transport = "tcp";
  messages[0].ts = 1000 * kNsPerSecond;
  messages[0].raw = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n";
  messages[1] = messages[0];
  messages[1].ts += kNsPerMs;
  std::string pcap = BuildCallPcap(messages);
  // Header, then 3 handshake frames (74 bytes: 14 + 40 + 20) and 2 data frames.
  size_t data_frame = 14 + 40 + 20 + messages[0].raw.size();
  EXPECT_EQ(pcap.size(), 24 + 3 * (16 + 74) + 2 * (16 + data_frame));
  // The second segment's sequence number follows the first's bytes.
  size_t first = 24 + 3 * (16 + 74) + 16 + 14 + 40;
  size_t second = first + data_frame + 16;
  auto seq = [&](size_t tcp) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(pcap.data()) + tcp + 4;
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  };
  EXPECT_EQ(seq(second) - seq(first), messages[0].raw.size());
}

}  // namespace
}  // namespace sipman::web
