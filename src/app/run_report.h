// Private to app/: the summary `sipman run` prints when it stops.
#ifndef SIPMAN_APP_RUN_REPORT_H_
#define SIPMAN_APP_RUN_REPORT_H_

#include <optional>
#include <string>

#include "app/correlator.h"
#include "app/packet_queue.h"
#include "app/pipeline.h"
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
};

// Prints the summary to standard output.
void PrintRunReport(const RunReport& r);

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_REPORT_H_
