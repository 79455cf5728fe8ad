// Private to app/: what `sipman run` reports: the status line while it
// runs and the summary it prints when it stops.
#ifndef SIPMAN_APP_RUN_REPORT_H_
#define SIPMAN_APP_RUN_REPORT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "app/correlator.h"
#include "app/logger.h"
#include "app/packet_queue.h"
#include "app/pipeline.h"
#include "app/run_metrics.h"
#include "capture/capture.h"
#include "hep/hep.h"
#include "store/store.h"

namespace sipman::app {

// What the summary reports, gathered by the daemon after its threads ended.
struct RunReport {
  std::string description;  // the sources
  double elapsed_s = 0;
  capture::SourceStats source;
  PacketQueueCounters queue;
  store::StoreCounters store;
  const PipelineTotals* totals = nullptr;
  const Correlator* correlator = nullptr;
  std::optional<hep::HepListenerCounters> hep_received;  // with --hep-listen
  uint64_t hep_not_sip = 0;
  std::optional<hep::HepSenderCounters> hep_sent;  // with --hep-send
  std::string hep_send;
  std::string db, sensor;
  const Alerting* alerting = nullptr;  // null or no rules: no alerts line
  size_t alert_rules = 0;
};

// Prints the summary to standard output.
void PrintRunReport(const RunReport& r);

// The status line, every --stats-interval seconds. Main thread.
class StatusLine {
 public:
  using Clock = std::chrono::steady_clock;

  // The rates of the first line count from `started`.
  void Start(Clock::time_point started) { last_ = started; }

  // Logs packets and messages per second since the last line, open calls,
  // calls stored, the queue and the drops; then, while they last, a failing
  // database write and a store spilled while the database is unreachable.
  void Log(Logger* log, Clock::time_point now, const capture::SourceStats& source,
           const RunGauges& gauges, const PacketQueueCounters& queue,
           const store::StoreCounters& store);

 private:
  Clock::time_point last_;
  uint64_t packets_ = 0, messages_ = 0;  // at the last line
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_REPORT_H_
