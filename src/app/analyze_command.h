// Private to app: `sipman analyze FILE...`.
#ifndef SIPMAN_APP_ANALYZE_COMMAND_H_
#define SIPMAN_APP_ANALYZE_COMMAND_H_

#include <string>
#include <vector>

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
};

// Decodes the files, correlates calls and registrations, stores them with
// their messages and prints a summary. Returns the exit code.
int RunAnalyze(const AnalyzeOptions& options);

}  // namespace sipman::app

#endif  // SIPMAN_APP_ANALYZE_COMMAND_H_
