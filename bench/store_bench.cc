// Store throughput, end to end: synthetic call detail records, each with the
// seven SIP messages of a basic call (INVITE with SDP, 100, 180, 200 with
// SDP, ACK, BYE, 200), handed to a SQLite Store and timed until Close()
// returns, i.e. until every row is committed. Reports calls and messages
// stored per second, the zstd ratio on the messages, and the database size.
//
//   build-store/bench/sipman_bench --benchmark_filter=Store
//
// Goal (issue 3): at least 50,000 calls per second stored on the 2-core
// build machine.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "calls/calls.h"
#include "store/store.h"

namespace sipman {
namespace {

std::string Sdp(const std::string& address, int port) {
  return "v=0\r\no=- 3912 3912 IN IP4 " + address + "\r\ns=-\r\nc=IN IP4 " + address +
         "\r\nt=0 0\r\nm=audio " + std::to_string(port) +
         " RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
         "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n";
}

// One message of the basic call, split around its Call-ID so that each call
// gets its own text cheaply.
struct MessageTemplate {
  std::string head;  // up to "Call-ID: "
  std::string tail;  // from the CRLF after the Call-ID
  std::string method;
  int status;
  bool from_caller;
};

MessageTemplate MakeTemplate(const std::string& start_line, bool from_caller, bool to_tag,
                             const std::string& cseq, const std::string& extra,
                             const std::string& sdp, const std::string& method, int status) {
  MessageTemplate t{"", "", method, status, from_caller};
  t.head = start_line + "\r\n";
  t.head += "Via: SIP/2.0/UDP 10.20.0.1:5060;branch=z9hG4bK-3912-1-0;received=10.20.0.1\r\n";
  t.head += "From: \"Alice Example\" <sip:+4930123456@a.example.net>;tag=3912SIPpTag001\r\n";
  t.head += std::string("To: <sip:+4940987654@b.example.net>") +
            (to_tag ? ";tag=8842SIPpTag011" : "") + "\r\n";
  t.head += "Call-ID: ";
  t.tail = "\r\nCSeq: " + cseq + "\r\n";
  t.tail += "Contact: <sip:" + std::string(from_caller ? "alice@10.20.0.1" : "bob@10.30.0.2") +
            ":5060;transport=UDP>\r\n";
  t.tail += extra;
  if (sdp.empty()) {
    t.tail += "Content-Length: 0\r\n\r\n";
  } else {
    t.tail += "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) +
              "\r\n\r\n" + sdp;
  }
  return t;
}

std::vector<MessageTemplate> BasicCall() {
  const std::string ua = "User-Agent: SIPp/3.7.1 (PCAP,SCTP,TLS)\r\nMax-Forwards: 70\r\n";
  const std::string server = "Server: Kamailio (5.6.4 (x86_64/linux))\r\n";
  return {
      MakeTemplate("INVITE sip:+4940987654@b.example.net:5060 SIP/2.0", true, false, "1 INVITE",
                   ua + "Subject: Performance Test\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n",
                   Sdp("10.20.0.1", 16000), "INVITE", 0),
      MakeTemplate("SIP/2.0 100 Trying", false, false, "1 INVITE", server, "", "INVITE", 100),
      MakeTemplate("SIP/2.0 180 Ringing", false, true, "1 INVITE", server, "", "INVITE", 180),
      MakeTemplate("SIP/2.0 200 OK", false, true, "1 INVITE",
                   server + "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n",
                   Sdp("10.30.0.2", 26000), "INVITE", 200),
      MakeTemplate("ACK sip:bob@10.30.0.2:5060 SIP/2.0", true, true, "1 ACK", ua, "", "ACK", 0),
      MakeTemplate("BYE sip:bob@10.30.0.2:5060 SIP/2.0", true, true, "2 BYE",
                   ua + "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n", "", "BYE",
                   0),
      MakeTemplate("SIP/2.0 200 OK", false, true, "2 BYE", server, "", "BYE", 200),
  };
}

IpAddress Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}

calls::CallRecord TemplateCall() {
  calls::CallRecord r;
  r.caller_display = "Alice Example";
  r.caller_domain = "a.example.net";
  r.caller_tag = "3912SIPpTag001";
  r.callee_domain = "b.example.net";
  r.callee_tag = "8842SIPpTag011";
  r.src_ip = Ip4(10, 20, 0, 1);
  r.dst_ip = Ip4(10, 30, 0, 2);
  r.src_port = 5060;
  r.dst_port = 5060;
  r.transport = "udp";
  r.final_status = 200;
  r.final_reason = "OK";
  r.state = calls::CallState::kAnswered;
  r.hangup_by = "caller";
  r.reason_protocol = "Q.850";
  r.reason_cause = 16;
  r.reason_text = "Normal call clearing";
  r.caller_media_types = "audio";
  r.caller_media = {{"audio", "10.20.0.1", 16000, "PCMU/8000,PCMA/8000,telephone-event/8000"}};
  r.callee_media_types = "audio";
  r.callee_media = {{"audio", "10.30.0.2", 26000, "PCMU/8000,PCMA/8000,telephone-event/8000"}};
  r.caller_user_agent = "SIPp/3.7.1 (PCAP,SCTP,TLS)";
  r.callee_user_agent = "Kamailio (5.6.4 (x86_64/linux))";
  r.message_count = 7;
  r.byte_count = 4200;
  return r;
}

// Args: number of calls, messages per call (0 or 7), zstd level (0: off).
void BM_StoreCallsEndToEnd(benchmark::State& state) {
  const int64_t call_count = state.range(0);
  const bool with_messages = state.range(1) != 0;
  const int zstd_level = static_cast<int>(state.range(2));
  const std::vector<MessageTemplate> templates = BasicCall();
  std::string dir_pattern = std::filesystem::temp_directory_path().string() + "/sipman_bench_XXXXXX";
  if (mkdtemp(dir_pattern.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  const std::string dir = dir_pattern;
  double seconds = 0;
  store::StoreCounters counters;
  uintmax_t db_bytes = 0;

  for (auto _ : state) {
    std::string path = dir + "/bench.db";
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
    store::StoreOptions options;
    options.url = path;
    options.sensor = "bench";
    options.zstd_level = zstd_level;
    auto opened = store::Store::Open(options);
    if (!opened.ok()) {
      state.SkipWithError(opened.status().message().c_str());
      return;
    }
    store::Store* store = opened.value().get();
    calls::CallRecord call = TemplateCall();
    std::string raw;
    const TimestampNs t0 = 1700000000 * kNsPerSecond;

    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < call_count; ++i) {
      // Calls start 2 ms apart (500 calls/s of capture time) and last 60 s.
      TimestampNs invite = t0 + i * 2 * kNsPerMs;
      std::string number = std::to_string(4930000000 + i);
      call.call_id = number + "-3912@10.20.0.1";
      call.caller_user = "+" + number;
      call.callee_user = "+4940" + std::to_string(1000000 + (i * 7919) % 9000000);
      call.ruri_user = call.callee_user;
      call.src_port = static_cast<uint16_t>(5060 + i % 100);
      call.invite_ts = invite;
      call.first_provisional_ts = invite + 2 * kNsPerMs;
      call.first_18x_ts = invite + 50 * kNsPerMs;
      call.answer_ts = invite + 3 * kNsPerSecond;
      call.ack_ts = call.answer_ts + kNsPerMs;
      call.final_ts = call.answer_ts;
      call.bye_ts = call.ack_ts + 60 * kNsPerSecond;
      call.end_ts = call.bye_ts;
      call.duration_ms = (call.bye_ts - call.ack_ts) / kNsPerMs;
      call.connect_ms = (call.bye_ts - call.answer_ts) / kNsPerMs;
      call.post_dial_delay_ms = 50;
      call.disconnect_delay_ms = 1;
      store->AddCall(call);
      if (!with_messages) continue;
      const TimestampNs offsets[] = {0,
                                     2 * kNsPerMs,
                                     50 * kNsPerMs,
                                     3 * kNsPerSecond,
                                     3 * kNsPerSecond + kNsPerMs,
                                     63 * kNsPerSecond + kNsPerMs,
                                     63 * kNsPerSecond + 2 * kNsPerMs};
      for (size_t m = 0; m < templates.size(); ++m) {
        const MessageTemplate& t = templates[m];
        raw.assign(t.head).append(call.call_id).append(t.tail);
        store::StoredMessage message;
        message.call_id = call.call_id;
        message.ts = invite + offsets[m];
        message.src_ip = t.from_caller ? call.src_ip : call.dst_ip;
        message.dst_ip = t.from_caller ? call.dst_ip : call.src_ip;
        message.src_port = t.from_caller ? call.src_port : call.dst_port;
        message.dst_port = t.from_caller ? call.dst_port : call.src_port;
        message.transport = "udp";
        message.method = t.method;
        message.status = t.status;
        message.cseq = m < 5 ? 1 : 2;
        message.raw = raw;
        store->AddMessage(message);
      }
    }
    Status closed = store->Close();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!closed.ok()) {
      state.SkipWithError(closed.message().c_str());
      return;
    }
    counters = store->counters();
    db_bytes = std::filesystem::file_size(path);
  }
  std::filesystem::remove_all(dir);

  double iterations = static_cast<double>(state.iterations());
  state.counters["calls_per_s"] = static_cast<double>(call_count) * iterations / seconds;
  state.counters["msgs_per_s"] =
      static_cast<double>(counters.messages_written) * iterations / seconds;
  state.counters["calls_written"] = static_cast<double>(counters.calls_written);
  state.counters["msgs_written"] = static_cast<double>(counters.messages_written);
  if (counters.message_raw_bytes > 0) {
    state.counters["zstd_stored_share"] = static_cast<double>(counters.message_stored_bytes) /
                                          static_cast<double>(counters.message_raw_bytes);
    state.counters["msgs_compressed_share"] =
        static_cast<double>(counters.messages_compressed) /
        static_cast<double>(counters.messages_written);
  }
  state.counters["db_MB"] = static_cast<double>(db_bytes) / 1e6;
  state.counters["max_queue"] = static_cast<double>(counters.max_queue_depth);
  state.counters["producer_waits"] = static_cast<double>(counters.producer_waits);
}
BENCHMARK(BM_StoreCallsEndToEnd)
    ->ArgNames({"calls", "msgs_per_call", "zstd"})
    ->Args({200000, 7, 1})
    ->Args({200000, 7, 0})
    ->Args({200000, 0, 0})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace sipman
