// Private to store/: the call rollups behind `sipman report` over large
// ranges (schema version 6).
//
// Three tables are kept in step with `calls` in the same transaction: the
// store's writer adds each call it inserts (CallRollupWriter, aggregated per
// batch), a trigger subtracts each call deleted, and migration 6 fills them
// from the calls already stored:
//   calls_hourly      (hour, sensor, state, final_status) -> the call count
//                     and every sum and count behind the summary's means,
//                     ratios and duration histogram;
//   calls_values      (kind, hour, sensor, bucket) -> calls, for the
//                     durations and post-dial delays in log-spaced buckets,
//                     which locate a percentile's bucket; the exact value is
//                     then read from a value-ordered partial index;
//   calls_daily_keys  (kind, day, sensor, key) -> calls, answered, per day
//                     and per week, for the top callers, callees, users,
//                     source IPs and user agents.
// A query over [from, to) reads the whole hours (days) inside it from the
// rollups and only the partial hours (days) at its edges from `calls`.
// Why and what it costs: docs/PERFORMANCE.md, "Reports".
#ifndef SIPMAN_STORE_CALL_ROLLUPS_H_
#define SIPMAN_STORE_CALL_ROLLUPS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>

#include "base/status.h"
#include "calls/calls.h"
#include "store/sqlite_util.h"

namespace sipman::store::internal {

constexpr int64_t kNsPerHour = 3600LL * 1000000000LL;
constexpr int64_t kNsPerDay = 24 * kNsPerHour;

// The duration histogram's lower bounds in ms (the last bucket is open).
constexpr std::array<int64_t, 10> kDurationBoundsMs = {
    0, 5000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000};
// The SQL condition for histogram bucket `i` of kDurationBoundsMs over the
// column `duration` ("duration_ms", "$.duration_ms"): empty for the first
// bucket's open lower bound and none for the last's upper.
std::string DurationBucketCondition(size_t i, std::string_view duration);

// The per-(state, final_status) sums of calls_hourly, in its column order
// after the key. The same expressions aggregate raw `calls` rows at the
// edges of a range, so both paths add up identically.
struct HourlySums {
  int64_t calls = 0;
  int64_t srd_ok_n = 0, srd_ok_ns = 0;      // successful session request delay
  int64_t srd_fail_n = 0, srd_fail_ns = 0;  // failed session request delay
  int64_t sdd_n = 0, sdd_ms = 0;            // session disconnect delay
  int64_t connect_ms = 0, duration_ms = 0;  // summed over every call of the row
  int64_t pdd_n = 0, pdd_ms = 0;            // post-dial delay
  std::array<int64_t, kDurationBoundsMs.size()> histogram{};  // by duration_ms

  void Add(const HourlySums& other);
};
constexpr int kHourlySumColumns = 11 + static_cast<int>(kDurationBoundsMs.size());

// "SUM(expr) AS name, ..." over `calls AS r`, in HourlySums order.
const std::string& HourlySumsSelectSql();

// calls_values kinds, and calls_daily_keys kinds.
enum class ValueKind : int { kDuration = 0, kPostDialDelay = 1 };
// calls_daily_keys kinds; kUser counts a call for its caller and, when
// another user, for its callee. Rows of kind + kWeekly hold whole ISO weeks
// (Monday to Sunday, UTC), with `day` the Monday's day number.
enum class KeyKind : int { kCaller = 0, kCallee = 1, kUser = 2, kSourceIp = 3, kUserAgent = 4 };
constexpr int kWeekly = 10;
// The day number of the Monday starting the week of day `day` (1970-01-05,
// day 4, was a Monday). Same expression in SQL: WeekOfDaySql.
constexpr int64_t WeekOfDay(int64_t day) { return (day - 4) / 7 * 7 + 4; }

// Log-spaced buckets: values below 64 have a bucket each; above, 32 buckets
// per power of two (at most 1/32 = 3.1% wide). A bucket is named by its
// lowest value.
int64_t ValueBucket(int64_t value);
int64_t ValueBucketEnd(int64_t bucket);  // one past the bucket's highest value
// ValueBucket as an SQL expression over `column`.
std::string ValueBucketSql(const std::string& column);

// The rollups of the calls one write batch inserts, upserted at the end of
// the batch: a batch adds one row per (hour, sensor, state, status), not
// one statement per call. (A trigger per inserted call did the same work
// at nearly twice the CPU of the whole `sipman analyze`: SQLite allocates
// and clears a frame for every trigger run.) Used by the writer thread only.
class CallRollupWriter {
 public:
  Status Prepare(sqlite3* db);
  void Finalize();
  // One call that was just inserted into calls, with its stored sensor and
  // source IP text. Mirrors the SQL expressions of the migration exactly.
  void Add(const calls::CallRecord& r, std::string_view sensor, std::string_view src_ip);
  // Upserts everything added since the last flush, inside the caller's
  // transaction, and forgets it.
  Status Flush(sqlite3* db, const std::string& where);
  // Forgets what was added: the batch's transaction was rolled back.
  void Discard();

 private:
  using HourlyKey = std::tuple<int64_t, std::string, std::string, int64_t>;
  using ValueKey = std::tuple<int, int64_t, std::string, int64_t>;
  using KeyKey = std::tuple<int, int64_t, std::string, std::string>;
  std::map<HourlyKey, HourlySums> hourly_;
  std::map<ValueKey, int64_t> values_;
  std::map<KeyKey, std::pair<int64_t, int64_t>> keys_;  // calls, answered
  Statement upsert_hourly_, upsert_value_, upsert_key_;
};

// The statements that fill empty rollup tables from every row of calls (part
// of migration 6; tests and repairs run them alone).
const std::string& CallRollupsBackfillSql();

// Migration 6: the rollup tables, the delete trigger, their partial indexes, a
// wider calls_report, and the rollups of the rows already stored.
const char* CallRollupsMigrationSql();

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_CALL_ROLLUPS_H_
