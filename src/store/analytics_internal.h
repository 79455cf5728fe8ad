// Private to store/: the parts of CallAnalytics that SQLite's implementation
// (sqlite_analytics.cc) and PostgreSQL's (postgres_analytics.cc) share, so that
// both turn the same sums into the same figures.
#ifndef SIPMAN_STORE_ANALYTICS_INTERNAL_H_
#define SIPMAN_STORE_ANALYTICS_INTERNAL_H_

#include <cstdint>
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

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_ANALYTICS_INTERNAL_H_
