// What CallAnalytics' two backends share: Open, and turning sums into
// figures (analytics_internal.h).
#include "store/analytics.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "store/analytics_internal.h"
#include "store/call_rollups.h"
#include "store/postgres_reads.h"
#include "store/sqlite_reads.h"
#include "store/store.h"

namespace sipman::store {

Result<std::unique_ptr<CallAnalytics>> CallAnalytics::Open(const std::string& url) {
  if (ParseStoreUrl(url).postgres) return internal::OpenPostgresCallAnalytics(url);
  return internal::OpenSqliteCallAnalytics(url);
}

const std::vector<int64_t>& DurationBucketBoundsMs() {
  static const std::vector<int64_t> bounds(internal::kDurationBoundsMs.begin(),
                                           internal::kDurationBoundsMs.end());
  return bounds;
}

namespace internal {

std::optional<double> Mean(int64_t sum, int64_t n, double scale) {
  if (n <= 0) return std::nullopt;
  return static_cast<double>(sum) / scale / static_cast<double>(n);
}

std::optional<double> Percent(int64_t numerator, int64_t denominator) {
  if (denominator <= 0) return std::nullopt;
  return 100.0 * static_cast<double>(numerator) / static_cast<double>(denominator);
}

void SortByCount(std::vector<KeyCount>* rows) {
  std::sort(rows->begin(), rows->end(), [](const KeyCount& a, const KeyCount& b) {
    return a.calls != b.calls ? a.calls > b.calls : a.key < b.key;
  });
}

}  // namespace internal

void internal::SummarizeCallGroups(const CallGroupSums& groups, CallSummary* out) {
  HourlySums all, answered;
  std::map<std::string, int64_t> states;
  std::map<int64_t, std::pair<int64_t, int64_t>> statuses;  // calls, answered
  for (const auto& [key, sums] : groups) {
    const auto& [state, status] = key;
    const int64_t n = sums.calls;
    const bool is_answered = state == calls::CallStateName(calls::CallState::kAnswered);
    all.Add(sums);
    if (is_answered) answered.Add(sums);
    states[state] += n;
    statuses[status].first += n;
    if (is_answered) statuses[status].second += n;
    if (status == 200) out->invites_200 += n;
    if (status >= 200 && status <= 299) out->invites_2xx += n;
    if (status >= 300 && status <= 399) out->invites_3xx += n;
    if (status == 200 || status == 480 || status == 486 || status == 600 || status == 603) {
      out->invites_effective += n;
    }
    if (status == 408 || status == 500 || status == 503 || status == 504) {
      out->invites_ineffective += n;
    }
    if ((status >= 200 && status <= 299) || status == 480 || status == 486 || status == 487 ||
        status == 600 || status == 603) {
      out->network_effective += n;
    }
  }
  out->calls = all.calls;
  out->completed = answered.calls;
  out->srd_successful.count = all.srd_ok_n;
  out->srd_successful.mean_ms = Mean(all.srd_ok_ns, all.srd_ok_n, 1e6);
  out->srd_failed.count = all.srd_fail_n;
  out->srd_failed.mean_ms = Mean(all.srd_fail_ns, all.srd_fail_n, 1e6);
  out->sdd.count = all.sdd_n;
  out->sdd.mean_ms = Mean(all.sdd_ms, all.sdd_n);
  out->sdt.count = answered.calls;
  out->sdt.mean_ms = Mean(answered.connect_ms, answered.calls);
  out->acd_ms = Mean(answered.duration_ms, answered.calls);
  out->ser = Percent(out->invites_200, out->calls - out->invites_3xx);
  out->seer = Percent(out->invites_effective, out->calls - out->invites_3xx);
  out->isa = Percent(out->invites_ineffective, out->calls);
  out->scr = Percent(out->completed, out->calls);
  out->asr = Percent(out->invites_2xx, out->calls);
  out->ner = Percent(out->network_effective, out->calls);
  for (const auto& [state, n] : states) {
    out->by_state.push_back(
        {state, n, state == calls::CallStateName(calls::CallState::kAnswered) ? n : 0});
  }
  for (const auto& [status, n] : statuses) {
    out->by_status.push_back({std::to_string(status), n.first, n.second});
  }
  SortByCount(&out->by_state);
  SortByCount(&out->by_status);
  const std::vector<int64_t>& bounds = DurationBucketBoundsMs();
  for (size_t i = 0; i < bounds.size(); ++i) {
    out->duration_histogram.push_back(
        {bounds[i], i + 1 < bounds.size() ? bounds[i + 1] : -1, answered.histogram[i]});
  }
  out->post_dial_delay.mean_ms = Mean(all.pdd_ms, all.pdd_n);
  out->duration.mean_ms = Mean(answered.duration_ms, answered.calls);
}

int64_t internal::PeriodStart(int64_t ts, Period period) {
  switch (period) {
    case Period::kHour:
      return ts / kNsPerHour * kNsPerHour;
    case Period::kDay:
      return ts / kNsPerDay * kNsPerDay;
    case Period::kWeek: {
      // Weeks start on Monday; 1970-01-05 was one.
      constexpr int64_t kMonday = 4 * kNsPerDay, kWeek = 7 * kNsPerDay;
      return (ts - kMonday) / kWeek * kWeek + kMonday;
    }
  }
  return ts;
}

}  // namespace sipman::store
