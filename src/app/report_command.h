// `sipman report`: call analytics and RFC 6076 metrics over a time range of
// a database, as text tables or JSON (store/analytics.h computes them).
#ifndef SIPMAN_APP_REPORT_COMMAND_H_
#define SIPMAN_APP_REPORT_COMMAND_H_

#include <cstddef>
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
  size_t top_n = 10;
  bool json = false;
};

// Parses a time argument: epoch seconds ("1764064800", fractions allowed) or
// ISO 8601 UTC ("2026-11-25T10:00:00Z", "2026-11-25T10:00Z", "2026-11-25").
std::optional<TimestampNs> ParseReportTime(std::string_view text);

// Prints the report; returns the process exit status (0, or 1 when the
// database cannot be read).
int RunReport(const ReportOptions& options);

}  // namespace sipman::app

#endif  // SIPMAN_APP_REPORT_COMMAND_H_
