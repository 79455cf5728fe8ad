// The SSE live stream under load: a WebServer on port 0 over a temporary
// database, one or more clients reading GET /api/v1/live over raw sockets,
// and call events published into its LiveFeed at a fixed rate (as the
// pipeline does for calls starting and ending). Reports how many events each
// client received of those published, the rate delivered, and the latency
// from Publish to the client reading the event (docs/PERFORMANCE.md, "Web
// API").
//
// Arguments: events per second (0: as fast as the publisher can), clients.
// Each run publishes for kSeconds; a client that falls a whole buffer
// (256 KiB) behind is disconnected by the server, which shows as received <
// published and "disconnected" > 0.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "web/web.h"

namespace sipman {
namespace {

constexpr int kSeconds = 3;
constexpr char kPassword[] = "bench-password";

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Sends `request` and reads until `until` appears or the peer closes.
std::string Exchange(uint16_t port, const std::string& request, const std::string& until) {
  int fd = Connect(port);
  if (fd < 0) return "";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) {
    out.append(buffer, static_cast<size_t>(n));
    if (out.find(until) != std::string::npos) break;
  }
  close(fd);
  return out;
}

std::string Login(uint16_t port) {
  std::string body = std::string("{\"username\":\"admin\",\"password\":\"") + kPassword + "\"}";
  std::string reply = Exchange(
      port,
      "POST /api/v1/login HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
      "\r\n\r\n{");
  size_t at = reply.find("sipman_session=");
  if (at == std::string::npos) return "";
  return reply.substr(at, reply.find(';', at) - at);
}

// One SSE client: counts "call" events and records, per event, the time
// from its invite_ts (set to the wall clock at Publish) to its arrival.
struct Reader {
  int fd = -1;
  int64_t expected = 0;
  int64_t received = 0;
  bool disconnected = false;
  std::vector<int64_t> latencies_ns;
  int64_t last_ns = 0;

  void Run() {
    std::string pending;
    char buffer[65536];
    constexpr std::string_view kEvent = "event: call\ndata: ";
    constexpr std::string_view kTs = "\"invite_ts\":";
    while (received < expected) {
      ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        disconnected = n == 0;
        break;
      }
      int64_t now = WallNs();
      pending.append(buffer, static_cast<size_t>(n));
      size_t start = 0;
      size_t end;
      while ((end = pending.find("\n\n", start)) != std::string::npos) {
        std::string_view event(pending.data() + start, end - start);
        if (event.starts_with(kEvent)) {
          size_t ts = event.find(kTs);
          if (ts != std::string_view::npos) {
            int64_t sent = std::strtoll(event.data() + ts + kTs.size(), nullptr, 10);
            latencies_ns.push_back(now - sent);
          }
          ++received;
        }
        start = end + 2;
      }
      pending.erase(0, start);
      last_ns = now;
    }
  }
};

void BM_LiveCallEvents(benchmark::State& state) {
  const int64_t rate = state.range(0);
  const int clients = static_cast<int>(state.range(1));
  char dir[] = "/tmp/sipman-live-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return state.SkipWithError("mkdtemp failed");
  const std::string db = std::string(dir) + "/live.db";
  store::StoreOptions so;
  so.url = db;
  auto store = store::Store::Open(so);
  if (!store.ok()) return state.SkipWithError(store.status().message().c_str());
  web::WebServerOptions options;
  options.listen = "127.0.0.1:0";
  options.db_path = db;
  options.admin_password = kPassword;
  options.announce = nullptr;
  options.pwhash_opslimit = 1;
  options.pwhash_memlimit = 8192;
  auto server = web::WebServer::Create(options, store->get());
  if (!server.ok()) return state.SkipWithError(server.status().message().c_str());
  if (Status s = (*server)->Start(); !s.ok()) return state.SkipWithError(s.message().c_str());
  const uint16_t port = (*server)->port();
  const std::string cookie = Login(port);
  if (cookie.empty()) return state.SkipWithError("login failed");

  for (auto _ : state) {
    const int64_t total = (rate > 0 ? rate : 200000) * kSeconds;
    std::vector<Reader> readers(static_cast<size_t>(clients));
    for (Reader& r : readers) {
      r.fd = Connect(port);
      r.expected = total;
      std::string request = "GET /api/v1/live HTTP/1.1\r\nCookie: " + cookie + "\r\n\r\n";
      send(r.fd, request.data(), request.size(), MSG_NOSIGNAL);
      // The stream's first bytes ("retry:") mean the client is registered.
      std::string head;
      char buffer[4096];
      while (head.find("retry:") == std::string::npos) {
        ssize_t n = recv(r.fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        head.append(buffer, static_cast<size_t>(n));
      }
    }
    std::vector<std::thread> threads;
    for (Reader& r : readers) threads.emplace_back([&r] { r.Run(); });

    calls::CallRecord call;
    call.caller_user = "alice";
    call.callee_user = "bob";
    call.sensor = "bench";
    call.state = calls::CallState::kAnswered;
    call.final_status = 200;
    web::LiveFeed* feed = (*server)->live();
    const auto started = std::chrono::steady_clock::now();
    const int64_t started_ns = WallNs();
    int64_t publish_ns = 0;
    for (int64_t i = 0; i < total; ++i) {
      if (rate > 0 && i % 10 == 0) {
        // Paced in steps of 10 events: event i is due at i / rate seconds.
        std::this_thread::sleep_until(started + std::chrono::nanoseconds(i * 1000000000 / rate));
      }
      call.call_id = "bench-" + std::to_string(i);
      int64_t t = WallNs();
      call.invite_ts = t;
      if (i % 2 == 0) {
        feed->PublishCallStart(call);
      } else {
        feed->PublishCallEnd(call);
      }
      publish_ns += WallNs() - t;
    }
    const int64_t published_ns = WallNs();
    // A reader still waiting after this missed events: the shutdown unblocks it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (size_t i = 0; i < readers.size(); ++i) {
      while (readers[i].received < total && !readers[i].disconnected &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      shutdown(readers[i].fd, SHUT_RDWR);
    }
    for (std::thread& t : threads) t.join();
    int64_t received_min = total, disconnected = 0, last_ns = started_ns;
    std::vector<int64_t> latencies;
    for (Reader& r : readers) {
      received_min = std::min(received_min, r.received);
      disconnected += r.disconnected || r.received < total;
      last_ns = std::max(last_ns, r.last_ns);
      latencies.insert(latencies.end(), r.latencies_ns.begin(), r.latencies_ns.end());
      close(r.fd);
    }
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
      if (latencies.empty()) return 0.0;
      size_t at = std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()));
      return latencies[at] / 1e6;
    };
    state.counters["published"] = static_cast<double>(total);
    state.counters["publish_per_s"] = total / ((published_ns - started_ns) / 1e9);
    state.counters["publish_ns_each"] = static_cast<double>(publish_ns) / total;
    state.counters["received_min"] = static_cast<double>(received_min);
    state.counters["delivered_per_s"] =
        received_min / (std::max<int64_t>(1, last_ns - started_ns) / 1e9);
    state.counters["disconnected"] = static_cast<double>(disconnected);
    state.counters["lat_p50_ms"] = pct(0.5);
    state.counters["lat_p99_ms"] = pct(0.99);
    state.counters["lat_max_ms"] = latencies.empty() ? 0.0 : latencies.back() / 1e6;
  }
  (*server)->Stop();
  server->reset();
  (*store)->Close();
  std::string cmd = std::string("rm -rf ") + dir;
  if (system(cmd.c_str()) != 0) state.SkipWithError("cannot remove the temporary directory");
}
BENCHMARK(BM_LiveCallEvents)
    ->Args({10000, 1})
    ->Args({10000, 10})
    ->Args({50000, 1})
    ->Args({0, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace sipman
