// Private to app: `sipman analyze FILE...`.
#ifndef SIPMAN_APP_ANALYZE_COMMAND_H_
#define SIPMAN_APP_ANALYZE_COMMAND_H_

#include <string>
#include <vector>

#include "alerts/alerts.h"
#include "stats/stats.h"

namespace sipman::app {

struct AnalyzeOptions {
  std::vector<std::string> files;
  std::string db = "sipman.db";
  std::string sensor = "default";
  bool json = false;
  // B2BUA leg correlation: the header whose value links two legs (X-CID style).
  std::string correlation_header;
  // --local-net: the sensor's own networks, for the in/out traffic counters.
  stats::LocalNets local_nets;
  bool media = true;  // --no-media: RTP is not measured
  // The alert rules evaluated over the capture (--config FILE's [alerts]
  // and [[rule]] tables, the built-in rules by default; --no-alerts: none).
  // Alerts are stored; nothing is notified and no action runs.
  alerts::AlertsConfig alerts;
};

// `sipman alerts --db PATH [--json] ...`: the stored alerts.
int RunAlertsCommand(int argc, char** argv);

// Decodes the files, correlates calls and registrations, stores them with
// their messages and prints a summary. Returns the exit code.
int RunAnalyze(const AnalyzeOptions& options);

}  // namespace sipman::app

#endif  // SIPMAN_APP_ANALYZE_COMMAND_H_
