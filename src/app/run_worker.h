// Private to app: the worker thread of `sipman run` (run_command.h draws
// the threads). It reads the capture queue and the HEP queue, decodes and
// tracks calls, runs the tracker's timers on capture time when no packet
// comes, adds capture drops to the traffic counters, snapshots the calls
// still up into active_calls, and publishes its figures: RunGauges for the
// main thread, and with the web GUI /metrics and the live stream.
#ifndef SIPMAN_APP_RUN_WORKER_H_
#define SIPMAN_APP_RUN_WORKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>

#include "app/correlator.h"
#include "app/hep_input.h"
#include "app/packet_queue.h"
#include "app/pipeline.h"
#include "app/run_config.h"
#include "app/run_metrics.h"
#include "capture/capture.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {

// How long the capture thread, the worker and the main thread wait for
// input before they do their housekeeping (spill hand-over, idle timers,
// stop checks).
inline constexpr int kRunPollMs = 100;

// What the daemon wires together for the worker; it owns all of it.
struct RunWorkerParts {
  const RunOptions* options = nullptr;
  store::Store* store = nullptr;
  Correlator* correlator = nullptr;
  MessageHandler* handler = nullptr;        // the correlator, or a forwarder in front of it
  capture::PacketSource* source = nullptr;  // for its drop counters; null: HEP only
  PacketQueue* queue = nullptr;             // captured packets; null without a source
  PacketQueue* hep_queue = nullptr;         // received HEP; null without --hep-listen
  web::WebServer* web = nullptr;            // null with --no-web
  MetricsSnapshot* metrics = nullptr;       // what /metrics shows, with the web GUI
};

class RunWorker {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RunWorker(const RunWorkerParts& parts);

  // The thread: returns once both queues have ended, every call is stored
  // (queued for the store) and done() is true.
  void Run();

  // Any thread.
  bool done() const { return done_.load(std::memory_order_acquire); }
  const SharedRunGauges& gauges() const { return gauges_; }
  // Once Run has returned.
  const PipelineTotals& totals() const { return totals_; }

 private:
  TimestampNs VirtualNow(Clock::time_point now) const;
  void Publish();
  void AfterPacket(TimestampNs ts);
  void MaybeSnapshotMetrics(Clock::time_point now, bool force);
  void MaybeSnapshotActive(Clock::time_point now);
  void SampleDrops(Clock::time_point now, bool force);

  const RunOptions& options_;
  store::Store* store_;
  Correlator* correlator_;
  MessageHandler* handler_;
  capture::PacketSource* source_;
  PacketQueue* queue_;
  PacketQueue* hep_queue_;
  web::WebServer* web_;
  MetricsSnapshot* metrics_;
  HepUnwrapper hep_;

  PipelineTotals totals_;
  const PacketPipeline* pipeline_ = nullptr;  // while Run runs
  TimestampNs last_ts_ = 0;
  Clock::time_point last_packet_wall_;
  Clock::time_point last_drop_sample_;
  Clock::time_point last_active_;   // last active_calls snapshot
  Clock::time_point last_metrics_;  // last MetricsSnapshot::Set
  uint64_t kernel_drops_seen_ = 0, interface_drops_seen_ = 0;
  uint64_t spilled_seen_ = 0;  // store rows spilled, as last told to the alert rules

  SharedRunGauges gauges_;
  std::atomic<bool> done_{false};
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_WORKER_H_
