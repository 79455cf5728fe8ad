// Private to app: what `sipman run` renders on /metrics besides the web
// server's own figures. The worker copies its counters into a
// MetricsSnapshot about once a second, so the web server's threads never
// read the worker's state; the store's counters are read live.
#ifndef SIPMAN_APP_RUN_METRICS_H_
#define SIPMAN_APP_RUN_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "app/correlator.h"
#include "net/net.h"
#include "stats/stats.h"
#include "store/store.h"

namespace sipman::app {

// The figures of a running `sipman run` that its worker publishes for the
// other threads (the status line, /metrics, the drain messages), declared
// once: X(field, Prometheus gauge name or "" when /metrics leaves it out,
// help). They make RunGauges, SharedRunGauges and their /metrics lines.
// concurrent_calls is counted about once a second, only while the web GUI
// runs.
#define SIPMAN_RUN_GAUGES(X)                                                          \
  X(packets, "", "Packets decoded.")                                                  \
  X(messages, "", "SIP messages decoded.")                                            \
  X(concurrent_calls, "sipman_concurrent_calls",                                      \
    "Calls up now: ringing, or answered and not hung up.")                            \
  X(open_calls, "sipman_open_calls",                                                  \
    "Calls the tracker holds: up, or ended and waiting for retransmissions before "   \
    "they are stored.")

struct RunGauges {
#define SIPMAN_DECLARE_GAUGE(field, metric, help) uint64_t field = 0;
  SIPMAN_RUN_GAUGES(SIPMAN_DECLARE_GAUGE)
#undef SIPMAN_DECLARE_GAUGE
};

// RunGauges between threads: the worker stores each field (relaxed: figures
// only), any thread loads them.
struct SharedRunGauges {
#define SIPMAN_DECLARE_GAUGE(field, metric, help) std::atomic<uint64_t> field{0};
  SIPMAN_RUN_GAUGES(SIPMAN_DECLARE_GAUGE)
#undef SIPMAN_DECLARE_GAUGE
  RunGauges Load() const;
};

class MetricsSnapshot {
 public:
  // Worker thread: copies the figures /metrics shows.
  void Set(const stats::TrafficCounters& traffic, const Correlator& correlator,
           const RunGauges& gauges, const net::DecoderCounters& decoder);
  // Any thread: appends the Prometheus text of the last snapshot to *out.
  void Render(std::string* out);

 private:
  std::mutex mu_;
  stats::TrafficCounters traffic_;                   // guarded by mu_
  net::DecoderCounters decoder_;                     // guarded by mu_
  std::array<uint64_t, kCallStates.size()> calls_{};  // guarded by mu_
  RunGauges gauges_;                                 // guarded by mu_
  QualityHistograms quality_;                        // guarded by mu_
  media::MediaCounters media_;                       // guarded by mu_
};

// Appends the store writer's health and progress to a /metrics body
// (docs/METRICS.md): read live, so a writer that keeps failing shows while
// the worker waits for it.
void RenderStoreMetrics(const store::StoreCounters& c, std::string* out);

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_METRICS_H_
