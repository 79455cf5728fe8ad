// TrafficStats::OnMessage per SIP message: the cost counting adds to every
// message of `sipman analyze` and `sipman run`, and its heap allocations per
// message (must be 0). Messages cycle through requests and responses with
// a spread of codes; one frame per message, a new second every 1000.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/alloc_counter.h"
#include "stats/stats.h"

namespace sipman {
namespace {

class NullSink : public stats::SecondSink {
 public:
  void OnSecond(const stats::TrafficCounters& s) override { benchmark::DoNotOptimize(s.packets); }
};

std::vector<sip::SipMessage> Messages() {
  static const char* const kTexts[] = {
      "INVITE sip:b@x SIP/2.0\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
      "SIP/2.0 100 Trying\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
      "SIP/2.0 180 Ringing\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
      "SIP/2.0 200 OK\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
      "ACK sip:b@x SIP/2.0\r\nCall-ID: 1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
      "BYE sip:b@x SIP/2.0\r\nCall-ID: 1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
      "SIP/2.0 486 Busy\r\nCall-ID: 1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
      "REGISTER sip:x SIP/2.0\r\nCall-ID: 2\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
      "SIP/2.0 401 Unauthorized\r\nCall-ID: 2\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
      "OPTIONS sip:x SIP/2.0\r\nCall-ID: 3\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
  };
  std::vector<sip::SipMessage> messages;
  for (const char* t : kTexts) {
    messages.emplace_back();
    sip::ParseSipMessage(t, sip::ParseOptions{}, &messages.back());
  }
  return messages;
}

void BM_TrafficStatsOnMessage(benchmark::State& state) {
  std::vector<sip::SipMessage> messages = Messages();
  NullSink sink;
  stats::TrafficStats stats(&sink);
  TimestampNs ts = 1700000000 * kNsPerSecond;
  size_t i = 0;
  const uint64_t before = AllocationCount();
  for (auto _ : state) {
    stats.OnMessage(ts, 600, messages[i]);
    stats.OnFrameDone();
    if (++i == messages.size()) i = 0;
    ts += kNsPerSecond / 1000;
  }
  state.counters["allocs_per_msg"] = static_cast<double>(AllocationCount() - before) /
                                     static_cast<double>(state.iterations());
  benchmark::DoNotOptimize(stats.totals().messages);
}
BENCHMARK(BM_TrafficStatsOnMessage);

}  // namespace
}  // namespace sipman
