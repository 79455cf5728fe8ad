// WebServer in-process on a temporary database: authentication, a call with
// its messages and pcap, the live feed, timeouts and pipelining over raw
// sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "web/auth.h"
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
    StartServer();
  }
  // Starts the server on the test database; `tweak` changes its options.
  void StartServer(const std::function<void(WebServerOptions*)>& tweak = {}) {
    if (server_) server_->Stop();
    server_.reset();
    WebServerOptions options;
    options.listen = "127.0.0.1:0";
    options.db_path = dir_ + "/t.db";
    options.admin_password = kPassword;
    options.announce = nullptr;
    options.request_timeout_ms = 300;
    options.pwhash_opslimit = 1;
    options.pwhash_memlimit = 8192;
    options.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_.push_back(line);
    };
    if (tweak) tweak(&options);
    auto server = WebServer::Create(options, store_.get());
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  std::vector<std::string> LogLines() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  // A connection to the server, from the loopback address `from` when given
  // (any of 127.0.0.0/8: a client at another address).
  int Connect(const char* from = nullptr) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (from != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      inet_pton(AF_INET, from, &local.sin_addr);
      EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0) << from;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  // Sends `request`, reads until the peer closes (or `until` appears), 5 s
  // at most.
  std::string Exchange(const std::string& request, const std::string& until = "",
                       const char* from = nullptr) {
    int fd = Connect(from);
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string out;
    char buffer[65536];
    ssize_t n;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline &&
           (n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
      out.append(buffer, static_cast<size_t>(n));
      if (!until.empty() && out.find(until) != std::string::npos) break;
    }
    close(fd);
    return out;
  }
  // POST /api/v1/login with `extra_headers` (each ending in CRLF); the reply.
  std::string LoginReply(const std::string& extra_headers, const std::string& user = "admin",
                         const std::string& password = kPassword, const char* from = nullptr) {
    std::string body = "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}";
    return Exchange("POST /api/v1/login HTTP/1.1\r\nConnection: close\r\n" + extra_headers +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
                    "", from);
  }
  std::string Login(const std::string& user = "admin", const std::string& password = kPassword) {
    std::string reply = LoginReply("Content-Type: application/json\r\n", user, password);
    size_t at = reply.find("sipman_session=");
    if (at == std::string::npos) return "";
    return reply.substr(at, reply.find(';', at) - at);
  }
  // Sends GET /api/v1/live on a new connection and reads the response head
  // (and for a stream its "retry:" line). The socket stays open in *fd.
  std::string OpenLive(const std::string& cookie, int* fd) {
    *fd = Connect();
    std::string request = "GET /api/v1/live HTTP/1.1\r\nCookie: " + cookie + "\r\n\r\n";
    EXPECT_GT(send(*fd, request.data(), request.size(), MSG_NOSIGNAL), 0);
    std::string got;
    char buffer[4096];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      size_t head = got.find("\r\n\r\n");
      if (got.find("retry:") != std::string::npos) break;
      if (head != std::string::npos && got.find("\"}") != std::string::npos) break;  // JSON error
      ssize_t n = recv(*fd, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      got.append(buffer, static_cast<size_t>(n));
    }
    return got;
  }
  // The value of sipman_web_live_clients in /metrics.
  std::string LiveClientsMetric(const std::string& cookie) {
    std::string metrics = Exchange("GET /metrics HTTP/1.0\r\nCookie: " + cookie + "\r\n\r\n");
    size_t at = metrics.find("\nsipman_web_live_clients ");
    if (at == std::string::npos) return "missing";
    at += 25;
    return metrics.substr(at, metrics.find('\n', at) - at);
  }

  std::string dir_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
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

// A user cannot open live streams without end: past the per-user and the
// total limit GET /api/v1/live is 503 JSON with Retry-After, the streams
// count toward the connection cap, and a closed stream frees its place.
TEST_F(ServerTest, LiveStreamsAreCappedPerUserAndInTotal) {
  StartServer([](WebServerOptions* o) {
    o->max_live_clients_per_user = 2;
    o->max_live_clients = 3;
    o->max_connections = 5;
  });
  {
    Auth::Options ao;
    ao.db_path = dir_ + "/t.db";
    ao.opslimit = 1;
    ao.memlimit = 8192;
    auto auth = Auth::Open(ao);
    ASSERT_TRUE(auth.ok()) << auth.status().message();
    ASSERT_TRUE((*auth)->SetPassword("bob", "bob-password", 0).ok());
  }
  std::string admin = Login();
  std::string bob = Login("bob", "bob-password");
  ASSERT_FALSE(admin.empty());
  ASSERT_FALSE(bob.empty());

  int a1, a2, a3, b1, b2;
  EXPECT_TRUE(OpenLive(admin, &a1).starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(OpenLive(admin, &a2).starts_with("HTTP/1.1 200"));
  std::string refused = OpenLive(admin, &a3);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503")) << refused;
  EXPECT_NE(refused.find("Content-Type: application/json"), std::string::npos) << refused;
  EXPECT_NE(refused.find("Retry-After: 10\r\n"), std::string::npos) << refused;
  EXPECT_NE(refused.find("too many live streams for user admin (at most 2)"), std::string::npos)
      << refused;
  EXPECT_TRUE(OpenLive(bob, &b1).starts_with("HTTP/1.1 200"));
  refused = OpenLive(bob, &b2);
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503")) << refused;
  EXPECT_NE(refused.find("too many live streams on this server (at most 3)"), std::string::npos)
      << refused;
  close(a3);
  close(b2);
  EXPECT_EQ(LiveClientsMetric(admin), "3");

  // 3 streams + 2 idle connections = max_connections: the next is refused.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a3, b2 closed by the server
  int idle1 = Connect(), idle2 = Connect();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string busy = Exchange("GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(busy.starts_with("HTTP/1.1 503")) << "streams must count toward the cap: " << busy;
  close(idle1);
  close(idle2);

  // A closed stream frees its place (the hub notices within its poll).
  close(a1);
  std::string again;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int a4 = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    again = OpenLive(admin, &a4);
    if (again.starts_with("HTTP/1.1 200")) break;
    close(a4);
    a4 = -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(again.starts_with("HTTP/1.1 200")) << again;
  for (int fd : {a2, b1, a4}) {
    if (fd >= 0) close(fd);
  }
}

// HEAD of the live stream is its head only: no "retry:", no stream left
// open in the hub, and the connection goes on with the next request.
TEST_F(ServerTest, HeadOfTheLiveStreamSendsNoBody) {
  std::string cookie = Login();
  std::string reply =
      Exchange("HEAD /api/v1/live HTTP/1.1\r\nCookie: " + cookie + "\r\n\r\n"
               "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  EXPECT_NE(reply.find("Content-Type: text/event-stream"), std::string::npos) << reply;
  size_t head_end = reply.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << reply;
  EXPECT_EQ(reply.substr(0, head_end).find("Content-Length"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("retry:"), std::string::npos) << reply;
  EXPECT_TRUE(reply.substr(head_end + 4).starts_with("HTTP/1.1 200")) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\nok\n")) << reply;
  EXPECT_EQ(LiveClientsMetric(cookie), "0");
}

// Login CSRF: the login wants a JSON body (media types compared without
// case) and, when the browser names an Origin, this server's own.
TEST_F(ServerTest, LoginNeedsJsonFromThisServersOrigin) {
  std::string host = "127.0.0.1:" + std::to_string(server_->port());
  std::string reply = LoginReply("Content-Type: text/plain\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 415")) << reply;
  reply = LoginReply("");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 415")) << reply;
  reply = LoginReply("Content-Type: application/jsonp\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 415")) << reply;
  reply = LoginReply("Content-Type: APPLICATION/JSON ; charset=UTF-8\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;

  const std::string json = "Content-Type: application/json\r\n";
  for (const std::string& origin :
       {std::string("http://evil.example"), "http://evil.example:" + std::to_string(server_->port()),
        "https://" + host, std::string("http://127.0.0.1"), std::string("null"),
        "http://" + host + "/x"}) {
    reply = LoginReply(json + "Host: " + host + "\r\nOrigin: " + origin + "\r\n");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 403")) << origin << ": " << reply;
    EXPECT_NE(reply.find("cross-origin request refused"), std::string::npos) << reply;
  }
  reply = LoginReply(json + "Origin: http://" + host + "\r\n");  // no Host to match
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 403")) << reply;
  reply = LoginReply(json + "Host: " + host + "\r\nOrigin: HTTP://127.0.0.1:" +
                     std::to_string(server_->port()) + "\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
  reply = LoginReply(json + "Host: " + host + "\r\n");  // scripts send no Origin
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;

  // The same rules for a POST with the session cookie.
  std::string cookie = Login();
  std::string body = std::string("{\"name\":\"t\",\"password\":\"") + kPassword + "\"}";
  auto post_token = [&](const std::string& headers) {
    return Exchange("POST /api/v1/tokens HTTP/1.1\r\nConnection: close\r\nCookie: " + cookie +
                    "\r\n" + headers + "Content-Length: " + std::to_string(body.size()) +
                    "\r\n\r\n" + body);
  };
  reply = post_token("Content-Type: Application/Json\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 201")) << reply;
  reply = post_token("Content-Type: application/json-patch+json\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 415")) << reply;
  reply = post_token(json + "Host: " + host + "\r\nOrigin: http://evil.example\r\n");
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 403")) << reply;
}

// docs/API.md promises 505 for any version but HTTP/1.0 and HTTP/1.1.
TEST_F(ServerTest, HttpVersionsBeyond11AreRefused) {
  for (const char* version : {"HTTP/1.9", "HTTP/1.2", "HTTP/2.0", "HTTP/0.9"}) {
    std::string reply = Exchange(std::string("GET /healthz ") + version + "\r\n\r\n");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 505")) << version << ": " << reply;
  }
  EXPECT_TRUE(Exchange("GET /healthz HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200"));
  // Plain HTTP: no HSTS (web_tls_test.sh checks it is sent under HTTPS).
  EXPECT_EQ(Exchange("GET /healthz HTTP/1.0\r\n\r\n").find("Strict-Transport-Security"),
            std::string::npos);
}

// At the file-descriptor limit accept() fails with EMFILE while the
// connection stays queued: the server must not poll the listening socket in
// a loop (it used to spin at 100% CPU), must say so once, and must take the
// waiting client once descriptors are free.
// UndefinedBehaviorSanitizer's vptr check opens a pipe to see whether memory
// is readable; at the descriptor limit that fails and it reports a valid
// object as having an invalid vptr. The test runs in the normal build.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SIPMAN_SANITIZED_BUILD 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SIPMAN_SANITIZED_BUILD 1
#endif

TEST_F(ServerTest, OutOfDescriptorsTheServerWaitsAndServesAgain) {
#ifdef SIPMAN_SANITIZED_BUILD
  GTEST_SKIP() << "the sanitizers' own checks need descriptors (a false vptr report at EMFILE)";
#endif
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(client, 0);
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  rlimit low = old_limit;
  low.rlim_cur = 256;
  if (old_limit.rlim_cur < low.rlim_cur || dup(0) >= 200) GTEST_SKIP() << "too few descriptors";
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (;;) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    filler.push_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  std::string request = "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(send(client, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));

  auto cpu_ms = [] {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 +
           (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server meets EMFILE
  long before = cpu_ms();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long used = cpu_ms() - before;
  EXPECT_LT(used, 300) << "CPU ms used in 2 s while out of descriptors (a spinning loop uses ~2000)";

  for (int fd : filler) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old_limit), 0);
  timeval tv{3, 0};  // the longest back-off is 1 s
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(client, buffer, sizeof(buffer), 0)) > 0) reply.append(buffer, size_t(n));
  close(client);
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200") && reply.ends_with("ok\n")) << reply;

  std::vector<std::string> log = LogLines();
  ASSERT_EQ(log.size(), 2u) << "one line out of descriptors, one back: " << ::testing::PrintToString(log);
  EXPECT_NE(log[0].find("Too many open files"), std::string::npos) << log[0];
  EXPECT_EQ(log[1], "accepting connections again");
}

// One client address cannot hold every connection: past
// max_connections_per_address its new connections are refused, while
// other addresses are served, and a closed connection frees its place.
TEST_F(ServerTest, OneAddressCannotHoldEveryConnection) {
  StartServer([](WebServerOptions* o) { o->max_connections_per_address = 3; });
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Connect("127.0.0.2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // accepted, never a byte sent
  std::string refused = Exchange("GET /healthz HTTP/1.0\r\n\r\n", "", "127.0.0.2");
  EXPECT_TRUE(refused.starts_with("HTTP/1.1 503")) << refused;
  EXPECT_TRUE(refused.ends_with("too many connections from your address")) << refused;
  std::string other = Exchange("GET /healthz HTTP/1.0\r\n\r\n", "", "127.0.0.3");
  EXPECT_TRUE(other.ends_with("\r\n\r\nok\n")) << "another address is served: " << other;
  close(idle.back());
  idle.pop_back();
  std::string again;
  for (int i = 0; i < 20 && !again.ends_with("ok\n"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    again = Exchange("GET /healthz HTTP/1.0\r\n\r\n", "", "127.0.0.2");
  }
  EXPECT_TRUE(again.ends_with("\r\n\r\nok\n")) << "a closed connection frees its place: " << again;
  for (int fd : idle) close(fd);
}

// Logins for unknown names from ever new addresses (no rate limit applies)
// keep Argon2id busy; /healthz and the UI's files must not wait behind
// them (they did: both workers were hashing).
TEST_F(ServerTest, LoginFloodLeavesHealthzAndFilesAnswered) {
  StartServer([](WebServerOptions* o) {
    o->pwhash_opslimit = 2;  // libsodium's interactive cost, 64 MiB
    o->pwhash_memlimit = 64 << 20;
    o->max_queued_password_requests = 64;
  });
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  t)
        .count();
  };
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(LoginReply("Content-Type: application/json\r\n", "nobody", "x", "127.0.1.1")
                  .starts_with("HTTP/1.1 401"));
  long hash_ms = std::max<long>(ms_since(start), 1);
  // Enough logins to keep two workers hashing for about 3 s.
  int logins = static_cast<int>(std::clamp<long>(6000 / hash_ms, 6, 60));
  std::vector<int> flood;
  for (int i = 0; i < logins; ++i) {
    // A new name and a new address each time: no rate limit applies.
    std::string body = "{\"username\":\"nobody" + std::to_string(100 + i) +
                       "\",\"password\":\"guess\"}";
    std::string request = "POST /api/v1/login HTTP/1.1\r\nConnection: close\r\n"
                          "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
    std::string from = "127.0.2." + std::to_string(i + 1);
    int fd = Connect(from.c_str());
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    flood.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the hashing has begun
  start = std::chrono::steady_clock::now();
  std::string health = Exchange("GET /healthz HTTP/1.0\r\n\r\n");
  long health_ms = ms_since(start);
  start = std::chrono::steady_clock::now();
  std::string page = Exchange("GET / HTTP/1.0\r\n\r\n");
  long page_ms = ms_since(start);
  EXPECT_TRUE(health.ends_with("ok\n")) << health;
  EXPECT_TRUE(page.starts_with("HTTP/1.1 200")) << page.substr(0, 200);
  EXPECT_LT(health_ms, 300) << logins << " logins of " << hash_ms << " ms each queued";
  EXPECT_LT(page_ms, 300) << logins << " logins of " << hash_ms << " ms each queued";
  for (int fd : flood) close(fd);
}

// The password queue is bounded: past it a login is answered 503 at once
// with Retry-After instead of waiting.
TEST_F(ServerTest, LoginsPastThePasswordQueueAreRefusedAtOnce) {
  StartServer([](WebServerOptions* o) {
    o->pwhash_opslimit = 2;
    o->pwhash_memlimit = 64 << 20;
    o->max_queued_password_requests = 1;
  });
  std::vector<int> flood;
  for (int i = 0; i < 6; ++i) {
    std::string body = "{\"username\":\"nobody" + std::to_string(100 + i) +
                       "\",\"password\":\"guess\"}";
    std::string request = "POST /api/v1/login HTTP/1.1\r\nConnection: close\r\n"
                          "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
    std::string from = "127.0.3." + std::to_string(i + 1);
    int fd = Connect(from.c_str());
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    flood.push_back(fd);
  }
  int busy = 0;
  for (int fd : flood) {
    std::string reply;
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) reply.append(buffer, size_t(n));
    close(fd);
    if (reply.starts_with("HTTP/1.1 503")) {
      ++busy;
      EXPECT_NE(reply.find("Retry-After: 1\r\n"), std::string::npos) << reply;
      EXPECT_NE(reply.find("too many logins waiting"), std::string::npos) << reply;
    } else {
      EXPECT_TRUE(reply.starts_with("HTTP/1.1 401")) << reply;
    }
  }
  EXPECT_GE(busy, 1) << "6 logins at once, room for 1 waiting and 1 hashing";
}

// Failed logins lock an address, or an address and user, never the user
// everywhere: wrong guesses from one address do not keep admin out at
// another.
TEST_F(ServerTest, AnotherAddressFailuresDoNotLockAUserOut) {
  const std::string json = "Content-Type: application/json\r\n";
  for (int i = 0; i < 5; ++i) {
    std::string reply = LoginReply(json, "admin", "wrong", "127.0.4.1");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 401")) << reply;
  }
  std::string locked = LoginReply(json, "admin", kPassword, "127.0.4.1");
  EXPECT_TRUE(locked.starts_with("HTTP/1.1 429")) << "the guessing address waits: " << locked;
  EXPECT_NE(locked.find("Retry-After: "), std::string::npos) << locked;
  std::string fresh = LoginReply(json, "admin", kPassword, "127.0.4.2");
  EXPECT_TRUE(fresh.starts_with("HTTP/1.1 200")) << "the right password from elsewhere: " << fresh;
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
