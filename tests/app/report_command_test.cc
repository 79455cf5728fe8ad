#include "app/report_command.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "stats/stats.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {
namespace {

constexpr TimestampNs kT = 1795600800LL * kNsPerSecond;  // 2026-11-25T10:00:00Z

TEST(ReportTime, EpochSecondsWithOrWithoutFraction) {
  EXPECT_EQ(ParseReportTime("1795600800"), kT);
  EXPECT_EQ(ParseReportTime("1795600800.5"), kT + 500 * kNsPerMs);
  EXPECT_EQ(ParseReportTime("1795600800.000000001"), kT + 1);
  EXPECT_EQ(ParseReportTime("0"), 0);
}

TEST(ReportTime, TimesPast2262AreRefused) {
  EXPECT_FALSE(ParseReportTime("99999999999"));  // 11 digits: would overflow
  EXPECT_FALSE(ParseReportTime("9223372037"));
  EXPECT_FALSE(ParseReportTime("2263-01-01"));
  EXPECT_EQ(ParseReportTime("9223372035"), int64_t{9223372035} * kNsPerSecond);
}

TEST(ReportTime, Iso8601Utc) {
  EXPECT_EQ(ParseReportTime("2026-11-25T10:00:00Z"), kT);
  EXPECT_EQ(ParseReportTime("2026-11-25T10:00Z"), kT);
  EXPECT_EQ(ParseReportTime("2026-11-25"), kT - 10 * 3600 * kNsPerSecond);
  EXPECT_EQ(ParseReportTime("2026-11-25T10:00:59Z"), kT + 59 * kNsPerSecond);
}

TEST(ReportTime, RejectsWhatItCannotRead) {
  for (const char* bad : {"", ".", "1.2.3", "-5", "2026-11-25T10:00:00", "2026-11-25T10:00:00+01:00",
                          "2026-13-01", "2026-11-25T25:00Z", "yesterday", "123456789012345"}) {
    EXPECT_FALSE(ParseReportTime(bad).has_value()) << bad;
  }
}

// ---- the traffic section ----

constexpr int64_t kT0 = 1700000000;  // 2023-11-14T22:13:20Z
constexpr char kPassword[] = "report-test-password";

// One second of hand-made traffic: each message its own packet of
// `bytes_each` bytes (SIP bytes 50 fewer); requests by method name,
// responses by status code.
stats::TrafficCounters Second(int64_t ts, std::initializer_list<const char*> requests,
                              std::initializer_list<int> responses, uint64_t bytes_each) {
  stats::TrafficCounters c;
  c.ts = ts;
  for (const char* method : requests) {
    ++c.methods[stats::MethodIndex(method)];
    ++c.requests;
  }
  for (int code : responses) {
    ++c.classes[static_cast<size_t>(code / 100 - 1)];
    c.codes.Add(code);
    ++c.responses;
  }
  c.messages = c.packets = c.requests + c.responses;
  c.frame_bytes = c.packets * bytes_each;
  c.sip_bytes = c.packets * (bytes_each - 50);
  return c;
}

// A database holding one answered call and a registration's traffic over
// ten seconds from kT0, and `sipman serve`'s web server over it:
//   kT0+0  INVITE, 100          2 x 500 bytes
//   kT0+1  180, 200             2 x 600
//   kT0+2  ACK                  1 x 400
//   kT0+5  BYE, 200             2 x 450, and 4 kernel and 1 interface drops
//   kT0+9  REGISTER, 401, REGISTER, 200    4 x 600 (the peak second)
// The call: INVITE at kT0+0.25 s, answered at kT0+1.5 s, ended at kT0+5.2 s.
class ReportTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sipman-report-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    db_ = dir_ + "/t.db";
    store::StoreOptions so;
    so.url = db_;
    so.sensor = "s1";
    auto store = store::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    store_->AddTrafficSecond(Second(kT0, {"INVITE"}, {100}, 500));
    store_->AddTrafficSecond(Second(kT0 + 1, {}, {180, 200}, 600));
    store_->AddTrafficSecond(Second(kT0 + 2, {"ACK"}, {}, 400));
    stats::TrafficCounters bye = Second(kT0 + 5, {"BYE"}, {200}, 450);
    bye.kernel_drops = 4;
    bye.interface_drops = 1;
    store_->AddTrafficSecond(bye);
    store_->AddTrafficSecond(Second(kT0 + 9, {"REGISTER", "REGISTER"}, {401, 200}, 600));
    calls::CallRecord call;
    call.call_id = "call-1@host";
    call.caller_user = "alice";
    call.callee_user = "bob";
    call.transport = "udp";
    call.invite_ts = kT0 * kNsPerSecond + 250 * kNsPerMs;
    call.first_provisional_ts = call.invite_ts + 10 * kNsPerMs;
    call.answer_ts = kT0 * kNsPerSecond + 1500 * kNsPerMs;
    call.final_ts = call.answer_ts;
    call.end_ts = kT0 * kNsPerSecond + 5200 * kNsPerMs;
    call.state = calls::CallState::kAnswered;
    call.final_status = 200;
    call.duration_ms = 3700;
    store_->AddCall(call);
    ASSERT_TRUE(store_->Flush().ok());

    web::WebServerOptions options;
    options.listen = "127.0.0.1:0";
    options.db_path = db_;
    options.admin_password = kPassword;
    options.announce = nullptr;
    options.pwhash_opslimit = 1;
    options.pwhash_memlimit = 8192;
    auto server = web::WebServer::Create(options, store_.get());
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

  // What `sipman report` prints with these options (db set here).
  std::string Report(ReportOptions options, int* status = nullptr) {
    options.db = db_;
    char* buffer = nullptr;
    size_t size = 0;
    std::FILE* out = open_memstream(&buffer, &size);
    int rc = RunReport(options, out);
    std::fclose(out);
    std::string text(buffer, size);
    std::free(buffer);
    if (status != nullptr) *status = rc;
    return text;
  }

  // One HTTP/1.1 exchange with the server (Connection: close): the whole
  // response.
  std::string Exchange(const std::string& request) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    EXPECT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string reply;
    char buffer[65536];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) reply.append(buffer, size_t(n));
    close(fd);
    return reply;
  }
  // The body of GET `path` as user admin.
  std::string ApiGet(const std::string& path) {
    std::string body = std::string("{\"username\":\"admin\",\"password\":\"") + kPassword + "\"}";
    std::string login = Exchange(
        "POST /api/v1/login HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
    size_t at = login.find("sipman_session=");
    EXPECT_NE(at, std::string::npos) << login;
    if (at == std::string::npos) return "";
    std::string cookie = login.substr(at, login.find(';', at) - at);
    std::string reply = Exchange(
        "GET " + path + " HTTP/1.1\r\nConnection: close\r\nCookie: " + cookie + "\r\n\r\n");
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 200")) << reply;
    size_t start = reply.find("\r\n\r\n");
    return start == std::string::npos ? "" : reply.substr(start + 4);
  }

  std::string dir_, db_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<web::WebServer> server_;
};

// The value of the last member of a JSON object (text after "name": up to
// the object's closing brace).
std::string LastMember(const std::string& json, const std::string& name) {
  size_t at = json.rfind("\"" + name + "\":");
  size_t end = json.rfind('}');
  if (at == std::string::npos || end == std::string::npos) return "(no " + name + ")";
  at += name.size() + 3;
  return json.substr(at, end - at);
}

std::string TextSection(const std::string& report) {
  size_t at = report.find("traffic:");
  return at == std::string::npos ? "(no traffic section)\n" + report : report.substr(at);
}

TEST_F(ReportTraffic, TextPrintsHandCountedFiguresOfTheWholeRange) {
  int status = -1;
  std::string text = Report({}, &status);
  EXPECT_EQ(status, 0);
  // 11 messages in 10 seconds (kT0 .. kT0+9); 5900 bytes; the peaks in kT0+9.
  EXPECT_EQ(TextSection(text),
            "traffic: 2023-11-14T22:13:20Z .. 2023-11-14T22:13:30Z  (10 s)\n"
            "  packets 11  bytes 5900  SIP bytes 5350\n"
            "  bytes/s            average 590.0        peak 2400 at 2023-11-14T22:13:29Z\n"
            "  messages/s         average 1.10         peak 4 at 2023-11-14T22:13:29Z\n"
            "  calls/s            average 0.100        peak 1 at 2023-11-14T22:13:20Z\n"
            "  concurrent calls   average 0.37         peak 1 at 2023-11-14T22:13:21Z\n"
            "  capture drops      kernel 4  interface 1\n"
            "messages: 11  (5 requests, 6 responses)\n"
            "requests per method\n"
            "  INVITE              1\n"
            "  ACK                 1\n"
            "  BYE                 1\n"
            "  REGISTER            2\n"
            "responses per class\n"
            "  1xx                 2  (100: 1, 180: 1)\n"
            "  2xx                 3  (200: 3)\n"
            "  3xx                 0\n"
            "  4xx                 1  (401: 1)\n"
            "  5xx                 0\n"
            "  6xx                 0\n");
}

TEST_F(ReportTraffic, RangeCutsSecondsCallsAndConcurrency) {
  ReportOptions options;
  options.from_ts = (kT0 + 1) * kNsPerSecond;
  options.to_ts = (kT0 + 6) * kNsPerSecond;
  // kT0+1, +2 and +5: the span is 5 s; the call's INVITE lies before the
  // range, but it is up from 1.5 s to 5.2 s, 3.7 s of the 5.
  EXPECT_EQ(TextSection(Report(options)),
            "traffic: 2023-11-14T22:13:21Z .. 2023-11-14T22:13:26Z  (5 s)\n"
            "  packets 5  bytes 2500  SIP bytes 2250\n"
            "  bytes/s            average 500.0        peak 1200 at 2023-11-14T22:13:21Z\n"
            "  messages/s         average 1.00         peak 2 at 2023-11-14T22:13:21Z\n"
            "  calls/s            average 0.000        peak 0 at -\n"
            "  concurrent calls   average 0.74         peak 1 at 2023-11-14T22:13:21Z\n"
            "  capture drops      kernel 4  interface 1\n"
            "messages: 5  (2 requests, 3 responses)\n"
            "requests per method\n"
            "  ACK                 1\n"
            "  BYE                 1\n"
            "responses per class\n"
            "  1xx                 1  (180: 1)\n"
            "  2xx                 2  (200: 2)\n"
            "  3xx                 0\n"
            "  4xx                 0\n"
            "  5xx                 0\n"
            "  6xx                 0\n");
  options.from_ts = (kT0 + 100) * kNsPerSecond;
  options.to_ts = 0;
  EXPECT_EQ(TextSection(Report(options)), "traffic: none in the range\n");
  options.from_ts = 0;
  options.sensor = "another";
  EXPECT_EQ(TextSection(Report(options)), "traffic: none in the range\n");
}

TEST_F(ReportTraffic, JsonTrafficIsTheWebApiTrafficSummaryByteForByte) {
  struct Range {
    TimestampNs from_ts, to_ts;
  };
  for (Range r : {Range{kT0 * kNsPerSecond, (kT0 + 10) * kNsPerSecond},
                  Range{(kT0 + 1) * kNsPerSecond, (kT0 + 6) * kNsPerSecond},
                  Range{kT0 * kNsPerSecond + 1, (kT0 + 9) * kNsPerSecond + 1},
                  Range{(kT0 + 100) * kNsPerSecond, (kT0 + 200) * kNsPerSecond}}) {
    ReportOptions options;
    options.from_ts = r.from_ts;
    options.to_ts = r.to_ts;
    options.json = true;
    std::string report = Report(options);
    std::string api = ApiGet("/api/v1/stats/traffic?step=second&from=" + std::to_string(r.from_ts) +
                             "&to=" + std::to_string(r.to_ts));
    std::string traffic = LastMember(report, "traffic");
    EXPECT_EQ(traffic, LastMember(api, "summary")) << "range " << r.from_ts << " .. " << r.to_ts;
    EXPECT_TRUE(traffic.starts_with("{\"first_ts\":")) << traffic;
  }
  ReportOptions options;
  options.json = true;
  std::string traffic = LastMember(Report(options), "traffic");
  // The figures of the text test, in the API's fields.
  for (const char* expected :
       {"\"span_seconds\":10,",
        "\"packets\":11,\"bytes\":5900,\"sip_bytes\":5350,\"messages\":11,"
        "\"requests\":5,\"responses\":6,",
        "\"methods\":{\"INVITE\":1,\"ACK\":1,\"BYE\":1,\"CANCEL\":0,\"REGISTER\":2,",
        "\"classes\":{\"1xx\":2,\"2xx\":3,\"3xx\":0,\"4xx\":1,\"5xx\":0,\"6xx\":0}",
        "\"codes\":{\"100\":1,\"180\":1,\"200\":3,\"401\":1}",
        "\"kernel_drops\":4,\"interface_drops\":1,\"tls_connections\":0,\"tls_bytes\":0}",
        "\"bytes_per_second\":{\"average\":590,\"peak\":2400,\"peak_ts\":1700000009000000000,"
        "\"peak_time\":\"2023-11-14T22:13:29.000Z\"}",
        "\"messages_per_second\":{\"average\":1.1,\"peak\":4,\"peak_ts\":1700000009000000000,",
        "\"calls\":1,\"calls_per_second\":{\"average\":0.1,\"peak\":1,",
        "\"concurrent_calls\":{\"average\":0.37,\"peak\":1,\"peak_ts\":1700000001500000000,"}) {
    EXPECT_NE(traffic.find(expected), std::string::npos) << expected << "\nnot in\n" << traffic;
  }
}

TEST_F(ReportTraffic, GroupedReportsAndNoTrafficLeaveTheSectionOut) {
  ReportOptions options;
  options.by = "caller";
  std::string text = Report(options);
  EXPECT_NE(text.find("top 10 by caller"), std::string::npos) << text;
  EXPECT_EQ(text.find("traffic"), std::string::npos) << text;
  options.json = true;
  EXPECT_EQ(Report(options).find("traffic"), std::string::npos);
  options = ReportOptions();
  options.traffic = false;
  text = Report(options);
  EXPECT_NE(text.find("duration histogram"), std::string::npos) << text;
  EXPECT_EQ(text.find("traffic"), std::string::npos) << text;
  options.json = true;
  text = Report(options);
  EXPECT_TRUE(text.starts_with("{\"range\":") && text.ends_with("]}\n")) << text;
  EXPECT_EQ(text.find("traffic"), std::string::npos) << text;
}

}  // namespace
}  // namespace sipman::app
