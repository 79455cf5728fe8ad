// Private to store/: the parts of CallAnalytics that SQLite's implementation
// (sqlite_analytics.cc) and PostgreSQL's (postgres_analytics.cc) share, so that
// both turn the same sums into the same figures.
#ifndef SIPMAN_STORE_ANALYTICS_INTERNAL_H_
#define SIPMAN_STORE_ANALYTICS_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/analytics.h"
#include "store/call_rollups.h"

namespace sipman::store::internal {

// HourlySums of the calls of a range per (state, final_status).
using CallGroupSums = std::map<std::pair<std::string, int64_t>, HourlySums>;

// Fills every call figure of *out that the sums give (docs/METRICS.md):
// counts, ratios, means (post_dial_delay and duration included), by_state,
// by_status and the duration histogram. Not the distributions' counts and
// percentiles, nor the registrations.
void SummarizeCallGroups(const CallGroupSums& groups, CallSummary* out);

// sum / scale / n, and 100 * numerator / denominator; nullopt when the
// divisor is not positive (no such calls: no figure rather than 0).
std::optional<double> Mean(int64_t sum, int64_t n, double scale = 1.0);
std::optional<double> Percent(int64_t numerator, int64_t denominator);
// By count, most first, then by key.
void SortByCount(std::vector<KeyCount>* rows);

// The first nanosecond of the period holding `ts` (UTC; weeks from Monday).
int64_t PeriodStart(int64_t ts, Period period);

// The media quality query, the same for both backends: `param(i, integer)`
// writes parameter i's placeholder (?1 for SQLite, $1::bigint for
// PostgreSQL). Parameters: $1 from, $2 to, $3 sensor (when given). Each
// result row: key, then the sums QualityFromRow reads.
std::string QualitySql(QualityGroup by, bool with_sensor,
                       const std::function<std::string(int, bool)>& param);
// Folds QualitySql's rows (periods: hours into days and weeks) into
// QualityRows; every figure is a sum, a max or a min, so folding is exact.
class QualityAccumulator {
 public:
  explicit QualityAccumulator(QualityGroup by) : by_(by) {}
  // One result row, read through text(i), integer(i) and real(i).
  void Add(const std::function<std::string(int)>& text, const std::function<int64_t(int)>& integer,
           const std::function<double(int)>& real);
  // The rows, sorted and cut to top_n as CallAnalytics::Quality says.
  std::vector<QualityRow> Finish(size_t top_n);

 private:
  struct Sums {
    QualityRow row;
    double jitter_weighted = 0, mos_weighted = 0;
    int64_t mos_packets = 0;
  };
  QualityGroup by_;
  std::map<std::pair<int64_t, std::string>, Sums> groups_;
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_ANALYTICS_INTERNAL_H_
