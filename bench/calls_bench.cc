// CallTracker throughput: pre-parsed SIP messages of many concurrent calls
// (INVITE with SDP, 100, 180, 200 with SDP, ACK, BYE, 200; distinct
// Call-IDs; calls overlapping in capture time) fed through OnMessage and
// AdvanceTime, with a sink that discards the records. Parsing is not timed;
// the tracker's work is, including the emission of every record. Reports SIP
// messages per second (items) and heap allocations per message.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/alloc_counter.h"
#include "calls/calls.h"
#include "sip/sip.h"

namespace sipman {
namespace {

class DiscardingSink : public calls::RecordSink {
 public:
  void OnCall(const calls::CallRecord& r) override {
    ++calls;
    benchmark::DoNotOptimize(r.duration_ms);
  }
  void OnRegistration(const calls::RegistrationRecord& r) override {
    benchmark::DoNotOptimize(r.expires);
  }
  uint64_t calls = 0;
};

std::string SdpBody(const std::string& address, int port) {
  return "v=0\r\no=- 1 1 IN IP4 " + address + "\r\ns=-\r\nc=IN IP4 " + address +
         "\r\nt=0 0\r\nm=audio " + std::to_string(port) +
         " RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n";
}

std::string Message(const std::string& start_line, const std::string& via_host,
                    const std::string& branch, const std::string& call_id,
                    const std::string& to_tag, const std::string& cseq,
                    const std::string& extra, const std::string& sdp) {
  std::string s = start_line + "\r\n";
  s += "Via: SIP/2.0/UDP " + via_host + ";branch=" + branch + ";rport\r\n";
  s += "Max-Forwards: 70\r\n";
  s += "From: \"Alice Example\" <sip:+15550100@atlanta.example>;tag=a-" + call_id.substr(0, 8) +
       "\r\n";
  s += "To: <sip:+15550199@biloxi.example>" + (to_tag.empty() ? "" : ";tag=" + to_tag) + "\r\n";
  s += "Call-ID: " + call_id + "\r\n";
  s += "CSeq: " + cseq + "\r\n";
  s += extra;
  if (sdp.empty()) return s + "Content-Length: 0\r\n\r\n";
  return s + "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) +
         "\r\n\r\n" + sdp;
}

struct Workload {
  std::vector<std::string> texts;
  std::vector<std::unique_ptr<sip::SipMessage>> messages;
  std::vector<calls::SipEvent> events;  // in capture-time order
  TimestampNs end = 0;
};

// `call_count` calls, one starting every 2 ms, each lasting about 60 s, so
// tens of thousands are open at once.
std::unique_ptr<Workload> BuildWorkload(int call_count) {
  auto w = std::make_unique<Workload>();
  struct Pending {
    TimestampNs ts;
    bool from_caller;
    size_t text;
  };
  std::vector<Pending> pending;
  const TimestampNs base = 1700000000 * kNsPerSecond;
  for (int i = 0; i < call_count; ++i) {
    char id[64];
    std::snprintf(id, sizeof(id), "%08x-%04x-bench@10.1.%d.%d", 0x1000000u + i * 7919u, i & 0xffff,
                  (i >> 8) & 255, i & 255);
    const std::string call_id = id;
    const std::string tag = "b-" + std::to_string(i);
    const std::string ua = "User-Agent: BenchPhone/1.0\r\nContact: <sip:alice@10.0.0.1:5060>\r\n";
    const std::string server = "Server: BenchPBX/2.0\r\nContact: <sip:bob@10.0.0.2:5060>\r\n";
    const std::string inv_branch = "z9hG4bK-i" + std::to_string(i);
    const TimestampNs t0 = base + i * 2 * kNsPerMs;
    struct Step {
      TimestampNs at_ms;
      bool from_caller;
      std::string text;
    };
    const Step steps[] = {
        {0, true,
         Message("INVITE sip:+15550199@biloxi.example SIP/2.0", "10.0.0.1:5060", inv_branch,
                 call_id, "", "1 INVITE", ua, SdpBody("10.0.0.1", 10000 + (i % 20000) * 2))},
        {5, false,
         Message("SIP/2.0 100 Trying", "10.0.0.1:5060", inv_branch, call_id, "", "1 INVITE", "",
                 "")},
        {300, false,
         Message("SIP/2.0 180 Ringing", "10.0.0.1:5060", inv_branch, call_id, tag, "1 INVITE",
                 server, "")},
        {4000, false,
         Message("SIP/2.0 200 OK", "10.0.0.1:5060", inv_branch, call_id, tag, "1 INVITE", server,
                 SdpBody("10.0.0.2", 30000 + (i % 20000) * 2))},
        {4010, true,
         Message("ACK sip:bob@10.0.0.2:5060 SIP/2.0", "10.0.0.1:5060",
                 "z9hG4bK-a" + std::to_string(i), call_id, tag, "1 ACK", "", "")},
        {64010, true,
         Message("BYE sip:bob@10.0.0.2:5060 SIP/2.0", "10.0.0.1:5060",
                 "z9hG4bK-b" + std::to_string(i), call_id, tag, "2 BYE",
                 "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n", "")},
        {64030, false,
         Message("SIP/2.0 200 OK", "10.0.0.1:5060", "z9hG4bK-b" + std::to_string(i), call_id, tag,
                 "2 BYE", "", "")},
    };
    for (const Step& s : steps) {
      w->texts.push_back(s.text);
      pending.push_back({t0 + s.at_ms * kNsPerMs, s.from_caller, w->texts.size() - 1});
    }
  }
  std::stable_sort(pending.begin(), pending.end(),
                   [](const Pending& a, const Pending& b) { return a.ts < b.ts; });
  const uint8_t caller[4] = {10, 0, 0, 1}, callee[4] = {10, 0, 0, 2};
  for (const Pending& p : pending) {
    auto m = std::make_unique<sip::SipMessage>();
    const std::string& text = w->texts[p.text];
    if (sip::ParseSipMessage(text, sip::ParseOptions{}, m.get()) != sip::ParseStatus::kComplete) {
      continue;
    }
    calls::SipEvent ev;
    ev.ts = p.ts;
    ev.src_ip = IpAddress::V4(p.from_caller ? caller : callee);
    ev.dst_ip = IpAddress::V4(p.from_caller ? callee : caller);
    ev.src_port = ev.dst_port = 5060;
    ev.transport = "udp";
    ev.message = m.get();
    ev.raw = text;
    ev.frame_bytes = static_cast<uint32_t>(text.size() + 42);
    w->events.push_back(ev);
    w->messages.push_back(std::move(m));
    w->end = p.ts;
  }
  return w;
}

const Workload& GetWorkload(int call_count) {
  static std::unique_ptr<Workload> workload;
  static int built_for = 0;
  if (built_for != call_count) {
    workload = BuildWorkload(call_count);
    built_for = call_count;
  }
  return *workload;
}

// One pass over the workload: every message, a timer check per message, and
// Finish, which emits the calls still lingering.
void RunPass(const Workload& w, calls::CallTracker* tracker) {
  for (const calls::SipEvent& ev : w.events) {
    tracker->OnMessage(ev);
    tracker->AdvanceTime(ev.ts);
  }
  tracker->Finish(w.end + 3600 * kNsPerSecond);
}

void Report(benchmark::State& state, const DiscardingSink& sink, int call_count,
            uint64_t messages, uint64_t allocations) {
  if (sink.calls != static_cast<uint64_t>(call_count) * state.iterations()) {
    state.SkipWithError("not every call was emitted");
  }
  state.SetItemsProcessed(static_cast<int64_t>(messages));
  state.counters["allocs_per_msg"] =
      messages == 0 ? 0.0 : static_cast<double>(allocations) / static_cast<double>(messages);
  state.counters["calls"] = call_count;
}

// A fresh tracker per pass: includes growing its tables and first touching
// its memory (the cost of a start-up burst).
void BM_CallTrackerCold(benchmark::State& state) {
  const int call_count = static_cast<int>(state.range(0));
  const Workload& w = GetWorkload(call_count);
  DiscardingSink sink;
  uint64_t allocations = 0, messages = 0;
  for (auto _ : state) {
    calls::CallTracker tracker(calls::CallTrackerOptions{}, &sink);
    const uint64_t before = bench::AllocationCount();
    RunPass(w, &tracker);
    allocations += bench::AllocationCount() - before;
    messages += w.events.size();
  }
  Report(state, sink, call_count, messages, allocations);
}
BENCHMARK(BM_CallTrackerCold)->Arg(10000)->Unit(benchmark::kMillisecond);

// One tracker for all passes (each pass ends empty): the steady state, where
// slots, arenas, map nodes and timer storage of finished calls are reused.
void BM_CallTrackerSteady(benchmark::State& state) {
  const int call_count = static_cast<int>(state.range(0));
  const Workload& w = GetWorkload(call_count);
  DiscardingSink sink;
  calls::CallTracker tracker(calls::CallTrackerOptions{}, &sink);
  RunPass(w, &tracker);  // warm-up
  sink.calls = 0;
  uint64_t allocations = 0, messages = 0;
  for (auto _ : state) {
    const uint64_t before = bench::AllocationCount();
    RunPass(w, &tracker);
    allocations += bench::AllocationCount() - before;
    messages += w.events.size();
  }
  Report(state, sink, call_count, messages, allocations);
}
BENCHMARK(BM_CallTrackerSteady)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sipman
