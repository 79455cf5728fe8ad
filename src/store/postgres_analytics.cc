// CallAnalytics over PostgreSQL: SQL aggregates over the calls and
// registrations tables of the range (no rollups; the day partitions of the
// range are the only ones read). The figures are those of SQLite's
// use_rollups = false path, to the last bit:
// - the per-(state, final_status) sums use the expressions of
//   call_rollups.cc's HourlyColumns, written for PostgreSQL, and
//   SummarizeCallGroups turns them into figures as SQLite's code does;
// - means are integer sums divided in C++, as SQLite's AVG does;
// - nearest-rank percentiles: the rank is computed in C++, then the value
//   of that rank read with ROW_NUMBER over the ordered values (exact; no
//   percentile_disc, which works in float);
// - top-N ties are broken by key in byte order (COLLATE "C").
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "store/analytics_internal.h"
#include "store/call_rollups.h"
#include "store/postgres_reads.h"

namespace sipman::store::internal {
namespace {

// The range of a query over `ts_column` (calls: invite_ts; registrations:
// first_seen), and its sensor. A call counts for every sensor that saw it.
std::string RangeSql(const AnalyticsQuery& q, const char* ts_column, int64_t from, int64_t to,
                     PgParams* p) {
  std::string sql = std::string(" WHERE ") + ts_column + " >= " + p->Int(from) + " AND " +
                    ts_column + " < " + p->Int(to);
  if (!q.sensor.empty()) {
    const bool calls = std::string_view(ts_column) == "invite_ts";
    sql += " AND " + (calls ? CallOfSensorSql(p->Text(q.sensor)) : "sensor = " + p->Text(q.sensor));
  }
  return sql;
}

// SUM(CASE WHEN condition THEN 1 ELSE 0 END).
std::string CountIf(const std::string& condition) {
  return "SUM(CASE WHEN " + condition + " THEN 1 ELSE 0 END)";
}

// The HourlySums columns (call_rollups.cc, HourlyColumns) over calls, in
// HourlySums order, for PostgreSQL.
const std::string& HourlySumsSql() {
  static const std::string sql = [] {
    const std::string srd_ok = "final_status BETWEEN 200 AND 299 AND answer_ts > 0";
    const std::string srd_fail = "final_status BETWEEN 400 AND 699 AND final_ts > 0";
    std::string s = "COUNT(*), " + CountIf(srd_ok) + ", SUM(CASE WHEN " + srd_ok +
                    " THEN (CASE WHEN first_18x_ts > 0 AND first_18x_ts < answer_ts THEN"
                    " first_18x_ts ELSE answer_ts END) - invite_ts ELSE 0 END), " +
                    CountIf(srd_fail) + ", SUM(CASE WHEN " + srd_fail +
                    " THEN final_ts - invite_ts ELSE 0 END), " +
                    CountIf("disconnect_delay_ms >= 0") +
                    ", SUM(GREATEST(disconnect_delay_ms, 0)), SUM(connect_ms), SUM(duration_ms), " +
                    CountIf("post_dial_delay_ms >= 0") + ", SUM(GREATEST(post_dial_delay_ms, 0))";
    for (size_t i = 0; i < kDurationBoundsMs.size(); ++i) {
      std::string condition = DurationBucketCondition(i, "duration_ms");
      s += ", " + CountIf(condition);
    }
    return s;
  }();
  return sql;
}

void ReadSums(const PgResult& res, int row, int first, HourlySums* out) {
  int c = first;
  out->calls = res.Int(row, c++);
  out->srd_ok_n = res.Int(row, c++);
  out->srd_ok_ns = res.Int(row, c++);
  out->srd_fail_n = res.Int(row, c++);
  out->srd_fail_ns = res.Int(row, c++);
  out->sdd_n = res.Int(row, c++);
  out->sdd_ms = res.Int(row, c++);
  out->connect_ms = res.Int(row, c++);
  out->duration_ms = res.Int(row, c++);
  out->pdd_n = res.Int(row, c++);
  out->pdd_ms = res.Int(row, c++);
  for (int64_t& h : out->histogram) h = res.Int(row, c++);
}

class PostgresCallAnalytics final : public CallAnalytics {
 public:
  Status Open(const std::string& url) { return reader_.Open(url); }

  Result<CallSummary> Summary(const AnalyticsQuery& query) override;
  Result<std::vector<PeriodCount>> ByPeriod(const AnalyticsQuery& query, Period period) override;
  Result<std::vector<KeyCount>> TopUsers(const AnalyticsQuery& query, UserSide side) override;
  Result<std::vector<KeyCount>> TopSourceIps(const AnalyticsQuery& query) override {
    return TopBy(query, "src_ip", false);
  }
  Result<std::vector<KeyCount>> TopUserAgents(const AnalyticsQuery& query) override {
    return TopBy(query, "caller_user_agent", false);
  }
  Result<std::vector<QualityRow>> Quality(const AnalyticsQuery& query, QualityGroup by) override {
    const std::string sql = QualitySql(by, !query.sensor.empty(), [](int i, bool integer) {
      std::string placeholder = "$";
      placeholder += std::to_string(i);
      if (integer) placeholder += "::bigint";
      return placeholder;
    });
    std::vector<std::string> params = {
        std::to_string(query.from_ts),
        std::to_string(query.to_ts == 0 ? std::numeric_limits<int64_t>::max() : query.to_ts)};
    if (!query.sensor.empty()) params.push_back(query.sensor);
    Result<PgResult> res = reader_.Query("read media quality", sql, params);
    if (!res.ok()) return res.status();
    QualityAccumulator groups(by);
    for (int row = 0; row < res->rows(); ++row) {
      groups.Add([&](int c) { return std::string(res->Text(row, c)); },
                 [&](int c) { return res->Int(row, c); }, [&](int c) { return res->Double(row, c); });
    }
    return groups.Finish(query.top_n);
  }

 private:
  // The calls range [from, to) of a query, as SQLite's edges: false when
  // it is empty.
  static bool CallRange(const AnalyticsQuery& q, int64_t* from, int64_t* to) {
    // invite_ts is never negative, so a negative start means "from the beginning".
    *from = std::max<int64_t>(q.from_ts, 0);
    *to = q.to_ts == 0 ? std::numeric_limits<int64_t>::max() : q.to_ts;
    return *from < *to;
  }
  // The nearest-rank percentiles 50, 90, 95 and 99 of `column` over the
  // `count` calls of the range that satisfy `condition`.
  Status ReadPercentiles(const AnalyticsQuery& q, const char* column, const char* condition,
                         int64_t count, Distribution* d);
  // Top-N of `column` (with `either`: caller_user, and callee_user when it
  // differs).
  Result<std::vector<KeyCount>> TopBy(const AnalyticsQuery& query, const char* column,
                                      bool either);

  PgReader reader_;
};

Status PostgresCallAnalytics::ReadPercentiles(const AnalyticsQuery& q, const char* column,
                                              const char* condition, int64_t count,
                                              Distribution* d) {
  d->count = count;
  if (count <= 0) return Status::Ok();
  int64_t from, to;
  if (!CallRange(q, &from, &to)) return Status::Ok();
  const int kPercents[4] = {50, 90, 95, 99};
  std::optional<int64_t>* outs[4] = {&d->p50_ms, &d->p90_ms, &d->p95_ms, &d->p99_ms};
  int64_t ranks[4];
  PgParams p;
  std::string range = RangeSql(q, "invite_ts", from, to, &p);
  std::string wanted;
  for (int i = 0; i < 4; ++i) {
    ranks[i] = std::max<int64_t>(1, (static_cast<int64_t>(kPercents[i]) * count + 99) / 100);
    wanted += i == 0 ? "" : ", ";
    wanted += p.Int(ranks[i]);
  }
  // One sort of the range's values, four rows back.
  const std::string sql = std::string("SELECT rn, v FROM (SELECT ") + column +
                          " AS v, ROW_NUMBER() OVER (ORDER BY " + column + ") AS rn FROM calls" +
                          range + " AND " + condition + ") AS ranked WHERE rn IN (" + wanted +
                          ")";
  Result<PgResult> res = reader_.Query("read a percentile", sql, p.values());
  if (!res.ok()) return res.status();
  std::map<int64_t, int64_t> by_rank;
  for (int row = 0; row < res->rows(); ++row) by_rank[res->Int(row, 0)] = res->Int(row, 1);
  for (int i = 0; i < 4; ++i) {
    auto it = by_rank.find(ranks[i]);
    if (it == by_rank.end()) {
      return Status::Error("cannot read a percentile in " + reader_.where() +
                           ": fewer calls than counted (were calls deleted meanwhile? try again)");
    }
    *outs[i] = it->second;
  }
  return Status::Ok();
}

Result<CallSummary> PostgresCallAnalytics::Summary(const AnalyticsQuery& query) {
  CallSummary out;
  CallGroupSums groups;
  int64_t from, to;
  if (CallRange(query, &from, &to)) {
    PgParams p;
    const std::string sql = "SELECT state, final_status, " + HourlySumsSql() + " FROM calls" +
                            RangeSql(query, "invite_ts", from, to, &p) +
                            " GROUP BY state, final_status";
    Result<PgResult> res = reader_.Query("read call analytics", sql, p.values());
    if (!res.ok()) return res.status();
    for (int row = 0; row < res->rows(); ++row) {
      HourlySums sums;
      ReadSums(*res, row, 2, &sums);
      if (sums.calls == 0) continue;
      groups[{std::string(res->Text(row, 0)), res->Int(row, 1)}].Add(sums);
    }
  }
  SummarizeCallGroups(groups, &out);
  int64_t pdd_n = 0, answered = 0;
  for (const auto& [key, sums] : groups) {
    pdd_n += sums.pdd_n;
    if (key.first == calls::CallStateName(calls::CallState::kAnswered)) answered += sums.calls;
  }
  Status s = ReadPercentiles(query, "post_dial_delay_ms", "post_dial_delay_ms >= 0", pdd_n,
                             &out.post_dial_delay);
  if (!s.ok()) return s;
  s = ReadPercentiles(query, "duration_ms", "state = 'answered'", answered, &out.duration);
  if (!s.ok()) return s;

  // Registrations: the range as given (SQLite's RangeFilter).
  PgParams p;
  const std::string rrd = "status_code BETWEEN 200 AND 299 AND request_delay_ms >= 0";
  const std::string sql =
      "SELECT COUNT(*), " + CountIf("result IN ('failed', 'expired')") + ", " + CountIf(rrd) +
      ", SUM(CASE WHEN " + rrd + " THEN request_delay_ms ELSE 0 END) FROM registrations" +
      RangeSql(query, "first_seen", query.from_ts,
               query.to_ts == 0 ? std::numeric_limits<int64_t>::max() : query.to_ts, &p);
  Result<PgResult> res = reader_.Query("summarise registrations", sql, p.values());
  if (!res.ok()) return res.status();
  // SUM over no rows is NULL: Int reads it as 0.
  out.registrations = res->Int(0, 0);
  out.registrations_ineffective = res->Int(0, 1);
  out.rrd.count = res->Int(0, 2);
  out.rrd.mean_ms = Mean(res->Int(0, 3), out.rrd.count);
  out.ira = out.registrations > 0
                ? std::optional<double>(100.0 * static_cast<double>(out.registrations_ineffective) /
                                        static_cast<double>(out.registrations))
                : std::nullopt;
  return out;
}

Result<std::vector<PeriodCount>> PostgresCallAnalytics::ByPeriod(const AnalyticsQuery& query,
                                                                 Period period) {
  std::vector<PeriodCount> rows;
  int64_t from, to;
  if (!CallRange(query, &from, &to)) return rows;
  // Per hour, which every period is a whole number of; grouped in C++ as
  // SQLite's path does.
  PgParams p;
  const std::string sql = "SELECT invite_ts / " + std::to_string(kNsPerHour) + " AS h, COUNT(*), " +
                          CountIf("state = 'answered'") +
                          ", SUM(CASE WHEN state = 'answered' THEN duration_ms ELSE 0 END)"
                          " FROM calls" +
                          RangeSql(query, "invite_ts", from, to, &p) + " GROUP BY h";
  Result<PgResult> res = reader_.Query("read calls per period", sql, p.values());
  if (!res.ok()) return res.status();
  std::map<int64_t, PeriodCount> periods;
  for (int row = 0; row < res->rows(); ++row) {
    const int64_t calls = res->Int(row, 1);
    if (calls == 0) continue;
    PeriodCount& c = periods[PeriodStart(res->Int(row, 0) * kNsPerHour, period)];
    c.calls += calls;
    c.answered += res->Int(row, 2);
    c.duration_ms_sum += res->Int(row, 3);
  }
  for (auto& [start, c] : periods) {
    c.start_ts = start;
    rows.push_back(c);
  }
  return rows;
}

Result<std::vector<KeyCount>> PostgresCallAnalytics::TopUsers(const AnalyticsQuery& query,
                                                              UserSide side) {
  if (side == UserSide::kCaller) return TopBy(query, "caller_user", false);
  if (side == UserSide::kCallee) return TopBy(query, "callee_user", false);
  return TopBy(query, "caller_user", true);
}

Result<std::vector<KeyCount>> PostgresCallAnalytics::TopBy(const AnalyticsQuery& query,
                                                           const char* column, bool either) {
  std::vector<KeyCount> rows;
  int64_t from, to;
  if (!CallRange(query, &from, &to) || query.top_n == 0) return rows;
  PgParams p;
  const std::string range = RangeSql(query, "invite_ts", from, to, &p);
  const std::string answered = "CASE WHEN state = 'answered' THEN 1 ELSE 0 END";
  std::string keys = std::string("SELECT ") + column + " COLLATE \"C\" AS k, " + answered +
                     " AS a FROM calls" + range;
  if (either) {
    keys += " UNION ALL SELECT callee_user COLLATE \"C\", " + answered + " FROM calls" + range +
            " AND callee_user <> caller_user";
  }
  const std::string sql = "SELECT k, COUNT(*), SUM(a) FROM (" + keys +
                          ") AS keys GROUP BY k ORDER BY COUNT(*) DESC, k LIMIT " +
                          p.Int(static_cast<int64_t>(query.top_n));
  Result<PgResult> res = reader_.Query("read top calls", sql, p.values());
  if (!res.ok()) return res.status();
  for (int row = 0; row < res->rows(); ++row) {
    rows.push_back({std::string(res->Text(row, 0)), res->Int(row, 1), res->Int(row, 2)});
  }
  return rows;
}

}  // namespace

Result<std::unique_ptr<CallAnalytics>> OpenPostgresCallAnalytics(const std::string& url) {
  std::unique_ptr<PostgresCallAnalytics> analytics(new PostgresCallAnalytics());
  Status s = analytics->Open(url);
  if (!s.ok()) return s;
  return std::unique_ptr<CallAnalytics>(std::move(analytics));
}

}  // namespace sipman::store::internal
