// Private to app: what `sipman run` renders on /metrics besides the web
// server's own figures. The worker copies its counters into a
// MetricsSnapshot about once a second, so the web server's threads never
// read the worker's state; the store's counters are read live.
#ifndef SIPMAN_APP_RUN_METRICS_H_
#define SIPMAN_APP_RUN_METRICS_H_

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

#include "app/correlator.h"
#include "net/net.h"
#include "stats/stats.h"
#include "store/store.h"

namespace sipman::app {

class MetricsSnapshot {
 public:
  // Worker thread: copies the figures /metrics shows.
  void Set(const stats::TrafficCounters& traffic, const Correlator& correlator,
           uint64_t calls_up, const net::DecoderCounters& decoder);
  // Any thread: appends the Prometheus text of the last snapshot to *out.
  void Render(std::string* out);

 private:
  std::mutex mu_;
  stats::TrafficCounters traffic_;                   // guarded by mu_
  net::DecoderCounters decoder_;                     // guarded by mu_
  std::array<uint64_t, kCallStates.size()> calls_{};  // guarded by mu_
  uint64_t open_calls_ = 0;                          // guarded by mu_
  uint64_t calls_up_ = 0;                            // guarded by mu_
};

// Appends the store writer's health and progress to a /metrics body
// (docs/METRICS.md): read live, so a writer that keeps failing shows while
// the worker waits for it.
void RenderStoreMetrics(const store::StoreCounters& c, std::string* out);

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_METRICS_H_
