// PostgreSQL store throughput: synthetic call detail records (and, in the
// second benchmark, seven SIP messages per call) handed to a PostgreSQL
// Store and timed until Close() returns, i.e. until every row is committed
// through COPY + INSERT ... ON CONFLICT DO NOTHING into the day partitions.
//
//   build/bench/sipman_bench --benchmark_filter=Postgres
//
// The database is $SIPMAN_BENCH_PG_URL when set; otherwise a server is
// started on loopback as the store tests do (tests/store/postgres_server.h).
// Goal (issue 7): at least 30,000 calls per second on the 2-core machine.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>

#include "calls/calls.h"
#include "store/store.h"
#include "tests/store/postgres_server.h"

namespace sipman {
namespace {

constexpr TimestampNs kT0 = 1700000000LL * kNsPerSecond;

calls::CallRecord Call(int64_t n) {
  calls::CallRecord r;
  r.call_id = "bench-" + std::to_string(n) + "@10.20.0.1";
  r.sensor = "bench";
  r.caller_user = "+4930" + std::to_string(100000 + n % 50000);
  r.caller_display = "Alice Example";
  r.caller_domain = "a.example.net";
  r.caller_tag = "3912SIPpTag001";
  r.callee_user = "+4940" + std::to_string(200000 + n % 70000);
  r.ruri_user = r.callee_user;
  r.callee_domain = "b.example.net";
  r.callee_tag = "8842SIPpTag011";
  uint8_t a[4] = {10, 20, 0, static_cast<uint8_t>(1 + n % 200)};
  uint8_t b[4] = {10, 30, 0, 2};
  r.src_ip = IpAddress::V4(a);
  r.dst_ip = IpAddress::V4(b);
  r.src_port = 5060;
  r.dst_port = 5060;
  r.transport = "udp";
  r.invite_ts = kT0 + n * (kNsPerSecond / 1000);  // 1000 calls per second of capture
  r.first_provisional_ts = r.invite_ts + 1000000;
  r.first_18x_ts = r.invite_ts + 2000000;
  r.answer_ts = r.invite_ts + 3000000000LL;
  r.ack_ts = r.answer_ts + 1000000;
  r.bye_ts = r.answer_ts + 60 * kNsPerSecond;
  r.final_ts = r.answer_ts;
  r.end_ts = r.bye_ts + 1000000;
  r.duration_ms = 60000;
  r.connect_ms = 60001;
  r.post_dial_delay_ms = 2;
  r.disconnect_delay_ms = 1;
  r.final_status = 200;
  r.final_reason = "OK";
  r.state = calls::CallState::kAnswered;
  r.hangup_by = "caller";
  r.caller_media_types = "audio";
  r.caller_media = {{"audio", "10.20.0.1", 16000, "PCMU/8000,PCMA/8000,telephone-event/8000"}};
  r.callee_media_types = "audio";
  r.callee_media = {{"audio", "10.30.0.2", 26000, "PCMU/8000"}};
  r.caller_user_agent = "SIPp/3.7.1 (PCAP,SCTP,TLS)";
  r.callee_user_agent = "Kamailio (5.6.4 (x86_64/linux))";
  r.message_count = 7;
  r.byte_count = 3500;
  return r;
}

std::string Url(benchmark::State& state) {
  if (const char* env = std::getenv("SIPMAN_BENCH_PG_URL")) return env;
  std::string why;
  auto* server = store::testing::PostgresServer::Shared(&why);
  if (server == nullptr) {
    state.SkipWithError(("no PostgreSQL: " + why).c_str());
    return "";
  }
  static int run = 0;
  return server->Url("bench_" + std::to_string(run++));
}

void Run(benchmark::State& state, bool with_messages) {
  const int64_t calls_per_run = state.range(0);
  const std::string message_tail =
      " SIP/2.0\r\nVia: SIP/2.0/UDP 10.20.0.1:5060;branch=z9hG4bK-3912-1-0\r\n"
      "From: \"Alice Example\" <sip:+4930123456@a.example.net>;tag=3912SIPpTag001\r\n"
      "To: <sip:+4940987654@b.example.net>\r\nCSeq: 1 INVITE\r\n"
      "User-Agent: SIPp/3.7.1 (PCAP,SCTP,TLS)\r\nContent-Length: 0\r\n\r\n";
  int64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    store::StoreOptions options;
    options.url = Url(state);
    if (options.url.empty()) return;
    auto opened = store::Store::Open(options);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().message().c_str());
      return;
    }
    auto store = std::move(opened.value());
    state.ResumeTiming();
    for (int64_t i = 0; i < calls_per_run; ++i, ++next) {
      calls::CallRecord r = Call(next);
      if (with_messages) {
        for (int k = 0; k < 7; ++k) {
          std::string raw = "INVITE sip:" + r.call_id + message_tail;
          store::StoredMessage m;
          m.call_id = r.call_id;
          m.ts = r.invite_ts + k * 1000000;
          m.src_ip = r.src_ip;
          m.dst_ip = r.dst_ip;
          m.src_port = 5060;
          m.dst_port = 5060;
          m.transport = "udp";
          m.method = "INVITE";
          m.raw = raw;
          store->AddMessage(m);
        }
      }
      store->AddCall(r);
    }
    Status closed = store->Close();
    if (!closed.ok()) state.SkipWithError(closed.message().c_str());
  }
  state.counters["calls_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * calls_per_run), benchmark::Counter::kIsRate);
}

void BM_PostgresStoreCalls(benchmark::State& state) { Run(state, false); }
void BM_PostgresStoreCallsWithMessages(benchmark::State& state) { Run(state, true); }

BENCHMARK(BM_PostgresStoreCalls)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime()
    ->Iterations(2);
BENCHMARK(BM_PostgresStoreCallsWithMessages)->Arg(50000)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->Iterations(2);

}  // namespace
}  // namespace sipman
