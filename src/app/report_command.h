// `sipman report`: call analytics and RFC 6076 metrics over a time range of
// a database (store/analytics.h computes them), and the traffic figures over
// the same range (store::Store::SummarizeTraffic, as the web API's
// /api/v1/stats/traffic), as text tables or JSON.
#ifndef SIPMAN_APP_REPORT_COMMAND_H_
#define SIPMAN_APP_REPORT_COMMAND_H_

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"

namespace sipman::app {

struct ReportOptions {
  std::string db = "sipman.db";
  TimestampNs from_ts = 0;  // inclusive
  TimestampNs to_ts = 0;    // exclusive; 0: no upper bound
  std::string sensor;       // empty: every sensor
  // "" (summary only), "hour", "day", "week", "user", "caller", "callee",
  // "ip" or "agent".
  std::string by;
  // Media quality (rtp_streams) instead of calls: `by` is then one of
  // store::kQualityGroups ("" means codec).
  bool quality = false;
  size_t top_n = 10;
  bool json = false;
  // The traffic section (without `by` only). Its calls per second and
  // concurrent calls read every call of the range: about a second per
  // million calls, where the call summary reads rollups.
  bool traffic = true;
};

// Parses a time argument: epoch seconds ("1764064800", fractions allowed) or
// ISO 8601 UTC ("2026-11-25T10:00:00Z", "2026-11-25T10:00Z", "2026-11-25").
std::optional<TimestampNs> ParseReportTime(std::string_view text);
// "2026-11-25T10:00:00Z": a time in the reports' text, to the second (UTC).
std::string IsoTime(TimestampNs ns);

// Prints the report to `out` (errors go to stderr); returns the process exit
// status (0, or 1 when the database cannot be read). Without `by` (and with
// `traffic`) the report ends with the traffic over the range: in JSON its
// "traffic" object is the web API's traffic summary (web::TrafficSummaryJson).
int RunReport(const ReportOptions& options, std::FILE* out = stdout);

}  // namespace sipman::app

#endif  // SIPMAN_APP_REPORT_COMMAND_H_
