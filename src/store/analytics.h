// Call analytics over the stored call detail records: counts per user,
// period, state, status, source IP and user agent, the distribution of call
// durations, and the RFC 6076 metrics with ASR, ACD, NER and post-dial
// delay. Formulas, word for word with the SQL, are in docs/METRICS.md.
//
// Every figure covers the calls whose invite_ts lies in [from_ts, to_ts)
// (registrations: first_seen), optionally of one sensor. An empty range, a
// database without calls or a range in the future gives zero counts, empty
// lists and null (std::nullopt) ratios and averages, never an error.
//
// Thread safety: one CallAnalytics per thread (it owns one connection).
#ifndef SIPMAN_STORE_ANALYTICS_H_
#define SIPMAN_STORE_ANALYTICS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace sipman::store {

struct AnalyticsQuery {
  TimestampNs from_ts = 0;  // invite_ts >= from_ts
  TimestampNs to_ts = 0;    // invite_ts < to_ts; 0: no upper bound
  std::string sensor;       // exact; empty: every sensor
  size_t top_n = 10;        // rows of the top-N lists
  // Read the whole hours and days of the range from the rollups (schema
  // version 6) and only its edges from the calls. false reads every call:
  // the same answers, slower; tests compare the two. PostgreSQL has no
  // rollups and always reads the calls.
  bool use_rollups = true;
};

// Periods start at UTC boundaries; weeks start on Monday 00:00 UTC (ISO 8601).
enum class Period { kHour, kDay, kWeek };

// Who a per-user count groups by: From user, To user, or either (a call
// counts once for its caller and once for its callee when they differ).
enum class UserSide { kCaller, kCallee, kEither };

struct KeyCount {
  std::string key;
  int64_t calls = 0;
  int64_t answered = 0;  // of which state answered
};

struct PeriodCount {
  TimestampNs start_ts = 0;  // first nanosecond of the period
  int64_t calls = 0;
  int64_t answered = 0;
  int64_t duration_ms_sum = 0;  // of the answered calls
};

// One bucket of the duration histogram: lower_ms <= duration_ms < upper_ms
// (upper_ms -1: no upper bound).
struct DurationBucket {
  int64_t lower_ms = 0;
  int64_t upper_ms = -1;
  int64_t calls = 0;
};

// Mean and nearest-rank percentiles of a set of delays or durations.
// Nearest rank: for n sorted values v[1..n], the p-th percentile is
// v[ceil(p / 100 * n)]. All null when count is 0.
struct Distribution {
  int64_t count = 0;
  std::optional<double> mean_ms;
  std::optional<int64_t> p50_ms, p90_ms, p95_ms, p99_ms;
};

struct CallSummary {
  int64_t calls = 0;  // session requests: one per stored call (INVITE dialog)
  std::vector<KeyCount> by_state;   // every state present, by count descending
  std::vector<KeyCount> by_status;  // final_status as text ("0": none), by count descending
  // Numerators and denominators of the ratios (docs/METRICS.md).
  int64_t invites_200 = 0;        // final_status 200
  int64_t invites_2xx = 0;        // final_status 200-299
  int64_t invites_3xx = 0;        // final_status 300-399
  int64_t invites_effective = 0;  // final_status 200, 480, 486, 600, 603
  int64_t invites_ineffective = 0;  // final_status 408, 500, 503, 504
  int64_t completed = 0;          // state answered (2xx, then BYE)
  int64_t network_effective = 0;  // final 2xx, 480, 486, 487, 600, 603
  // RFC 6076 ratios, percent; null when the denominator is 0.
  std::optional<double> ser, seer, isa, scr;
  // ITU-T E.411-style ratios, percent.
  std::optional<double> asr, ner;
  // RFC 6076 delays, ms.
  Distribution srd_successful, srd_failed, sdd, sdt;
  // ACD: mean duration_ms of answered calls (null without any).
  std::optional<double> acd_ms;
  Distribution post_dial_delay;
  Distribution duration;  // duration_ms of answered calls
  std::vector<DurationBucket> duration_histogram;
  // Registrations (RFC 6076 RRD, IRA).
  int64_t registrations = 0;
  int64_t registrations_ineffective = 0;  // result failed or expired
  std::optional<double> ira;
  Distribution rrd;
};

// Media quality (rtp_streams) grouped by the streams' codec, source or
// destination IP, or the period their first packet fell in.
enum class QualityGroup { kCodec, kSourceIp, kDestinationIp, kHour, kDay, kWeek };
// Their names in `sipman report --quality --by` and the API's ?by=.
inline constexpr std::pair<std::string_view, QualityGroup> kQualityGroups[] = {
    {"codec", QualityGroup::kCodec}, {"src_ip", QualityGroup::kSourceIp},
    {"dst_ip", QualityGroup::kDestinationIp}, {"hour", QualityGroup::kHour},
    {"day", QualityGroup::kDay}, {"week", QualityGroup::kWeek}};
inline constexpr std::string_view kQualityGroupList = "codec, src_ip, dst_ip, hour, day or week";
inline std::optional<QualityGroup> QualityGroupByName(std::string_view name) {
  for (const auto& [n, g] : kQualityGroups) {
    if (n == name) return g;
  }
  return std::nullopt;
}

// The RTP streams of one group whose first packet lies in the range.
// Formulas: docs/METRICS.md, "Media quality report".
struct QualityRow {
  std::string key;           // codec or IP; "" for periods
  TimestampNs start_ts = 0;  // periods: the period's first nanosecond
  int64_t streams = 0;
  int64_t packets = 0;
  int64_t expected = 0, lost = 0;  // RFC 3550, summed over the streams
  std::optional<double> loss_pct;  // 100 * lost / expected
  std::optional<double> mean_jitter_ms;  // the streams' mean jitter, weighted by packets
  double max_jitter_ms = 0;              // the highest of any stream
  int64_t mos_streams = 0;               // streams with a MOS (E-model codecs)
  std::optional<double> mos_avg;         // their MOS (50 ms buffer), weighted by packets
  std::optional<double> mos_min;         // the lowest
  int64_t poor_streams = 0;              // of them, MOS below kPoorMos
};
// G.107's "many users dissatisfied" begins at R 60, MOS 3.1; "some users
// dissatisfied" at R 70, MOS 3.6: below it a stream counts as poor.
constexpr double kPoorMos = 3.6;

// Over SQLite (analytics.cc: rollups plus the range's edges) or PostgreSQL
// (postgres_analytics.cc: aggregates over the calls table); the same figures
// from either.
class CallAnalytics {
 public:
  // Opens the database at `url`: "postgresql://..." or "postgres://..." (a
  // libpq URI), else a SQLite file (a file name or "sqlite:PATH"), which must
  // exist; the schema is brought up to date first (on SQLite the report
  // indexes of schema version 4 are created on first use).
  static Result<std::unique_ptr<CallAnalytics>> Open(const std::string& url);
  virtual ~CallAnalytics() = default;
  CallAnalytics(const CallAnalytics&) = delete;
  CallAnalytics& operator=(const CallAnalytics&) = delete;

  virtual Result<CallSummary> Summary(const AnalyticsQuery& query) = 0;
  // Calls per period, in time order; periods without calls are left out.
  virtual Result<std::vector<PeriodCount>> ByPeriod(const AnalyticsQuery& query,
                                                    Period period) = 0;
  // The top_n users by calls (ties by name, in byte order).
  virtual Result<std::vector<KeyCount>> TopUsers(const AnalyticsQuery& query,
                                                 UserSide side) = 0;
  // The top_n signalling source IPs, and caller user agents, by calls.
  virtual Result<std::vector<KeyCount>> TopSourceIps(const AnalyticsQuery& query) = 0;
  virtual Result<std::vector<KeyCount>> TopUserAgents(const AnalyticsQuery& query) = 0;
  // Media quality per group: periods in time order; codecs and IPs by
  // streams (the top_n), ties by key. Read from rtp_streams (first_ts),
  // on both backends with the same SQL.
  virtual Result<std::vector<QualityRow>> Quality(const AnalyticsQuery& query,
                                                  QualityGroup by) = 0;

 protected:
  CallAnalytics() = default;
};

// The buckets of CallSummary::duration_histogram, in ms: 0, 5 s, 15 s,
// 30 s, 1 min, 2 min, 5 min, 10 min, 30 min, 1 h (the last is open).
const std::vector<int64_t>& DurationBucketBoundsMs();

}  // namespace sipman::store

#endif  // SIPMAN_STORE_ANALYTICS_H_
