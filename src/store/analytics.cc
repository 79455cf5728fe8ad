#include "store/analytics.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string_view>

#include "store/sqlite_schema.h"
#include "store/sqlite_util.h"

namespace sipman::store {
namespace {

using internal::SqliteError;
using internal::Statement;

// The range and sensor filter over `ts_column`, with its parameters bound by
// Bind(): always parameters, never values pasted into the SQL.
struct RangeFilter {
  RangeFilter(const AnalyticsQuery& q, const char* ts_column) : query(q) {
    sql = std::string(" WHERE ") + ts_column + " >= ? AND " + ts_column + " < ?";
    if (!q.sensor.empty()) sql += " AND sensor = ?";
  }
  // Binds from parameter `first` on; returns the next free index.
  int Bind(Statement* st, int first = 1) const {
    st->BindInt(first, query.from_ts);
    st->BindInt(first + 1,
                query.to_ts == 0 ? std::numeric_limits<int64_t>::max() : query.to_ts);
    if (query.sensor.empty()) return first + 2;
    st->BindText(first + 2, query.sensor);
    return first + 3;
  }
  const AnalyticsQuery& query;
  std::string sql;
};

std::optional<double> Percent(int64_t numerator, int64_t denominator) {
  if (denominator <= 0) return std::nullopt;
  return 100.0 * static_cast<double>(numerator) / static_cast<double>(denominator);
}

std::optional<double> ColumnOptionalDouble(Statement& st, int column) {
  if (sqlite3_column_type(st.get(), column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(st.get(), column);
}

// Nearest rank over (value, count) pairs in ascending value order.
std::optional<int64_t> NearestRank(const std::vector<std::pair<int64_t, int64_t>>& values,
                                   int64_t n, int percentile) {
  if (n <= 0) return std::nullopt;
  // ceil(p * n / 100) in integers; at least rank 1.
  int64_t rank = std::max<int64_t>(1, (static_cast<int64_t>(percentile) * n + 99) / 100);
  int64_t seen = 0;
  for (const auto& [value, count] : values) {
    seen += count;
    if (seen >= rank) return value;
  }
  return values.empty() ? std::nullopt : std::optional<int64_t>(values.back().first);
}

void SortByCount(std::vector<KeyCount>* rows) {
  std::sort(rows->begin(), rows->end(), [](const KeyCount& a, const KeyCount& b) {
    return a.calls != b.calls ? a.calls > b.calls : a.key < b.key;
  });
}

}  // namespace

const std::vector<int64_t>& DurationBucketBoundsMs() {
  static const std::vector<int64_t> bounds = {0,         5000,      15000,      30000,
                                              60000,     120000,    300000,     600000,
                                              1800000,   3600000};
  return bounds;
}

Result<std::unique_ptr<CallAnalytics>> CallAnalytics::Open(const std::string& url) {
  std::string path = url;
  if (std::string_view(path).starts_with("sqlite:")) path = path.substr(7);
  if (std::string_view(url).starts_with("postgresql:")) {
    return Status::Error("reports from PostgreSQL are not built yet; use a SQLite database");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database " + path + ": " +
                          (db ? sqlite3_errmsg(db) : "out of memory") +
                          " (does it exist? 'sipman analyze --db " + path + " FILE' creates it)";
    sqlite3_close(db);
    return Status::Error(message);
  }
  sqlite3_busy_timeout(db, 5000);
  Result<int> migrated = internal::MigrateSqlite(db, path);
  if (!migrated.ok()) {
    sqlite3_close(db);
    return migrated.status();
  }
  Status s = internal::Exec(db, "PRAGMA query_only = ON; PRAGMA cache_size = -262144;");
  if (!s.ok()) {
    sqlite3_close(db);
    return s;
  }
  return std::unique_ptr<CallAnalytics>(new CallAnalytics(db, path));
}

CallAnalytics::~CallAnalytics() { sqlite3_close(db_); }

Result<CallSummary> CallAnalytics::Summary(const AnalyticsQuery& query) {
  CallSummary out;
  RangeFilter calls_range(query, "invite_ts");
  {
    // One pass over the range for every count and mean.
    std::string sql =
        "SELECT COUNT(*),"
        " TOTAL(final_status = 200),"
        " TOTAL(final_status BETWEEN 200 AND 299),"
        " TOTAL(final_status BETWEEN 300 AND 399),"
        " TOTAL(final_status IN (200, 480, 486, 600, 603)),"
        " TOTAL(final_status IN (408, 500, 503, 504)),"
        " TOTAL(state = 'answered'),"
        " TOTAL(final_status BETWEEN 200 AND 299 OR final_status IN (480, 486, 487, 600, 603)),"
        // SRD of successful setups: INVITE to the first 18x before the 2xx, else to the 2xx.
        " COUNT(CASE WHEN final_status BETWEEN 200 AND 299 AND answer_ts > 0 THEN 1 END),"
        " AVG(CASE WHEN final_status BETWEEN 200 AND 299 AND answer_ts > 0 THEN"
        "   ((CASE WHEN first_18x_ts > 0 AND first_18x_ts < answer_ts THEN first_18x_ts"
        "     ELSE answer_ts END) - invite_ts) / 1e6 END),"
        // SRD of failed setups: INVITE to the final 4xx-6xx.
        " COUNT(CASE WHEN final_status BETWEEN 400 AND 699 AND final_ts > 0 THEN 1 END),"
        " AVG(CASE WHEN final_status BETWEEN 400 AND 699 AND final_ts > 0 THEN"
        "   (final_ts - invite_ts) / 1e6 END),"
        " COUNT(CASE WHEN disconnect_delay_ms >= 0 THEN 1 END),"
        " AVG(CASE WHEN disconnect_delay_ms >= 0 THEN disconnect_delay_ms END),"
        " AVG(CASE WHEN state = 'answered' THEN connect_ms END),"
        " AVG(CASE WHEN state = 'answered' THEN duration_ms END),"
        " COUNT(CASE WHEN post_dial_delay_ms >= 0 THEN 1 END),"
        " AVG(CASE WHEN post_dial_delay_ms >= 0 THEN post_dial_delay_ms END)"
        " FROM calls" +
        calls_range.sql;
    Statement st;
    Status s = st.Prepare(db_, sql);
    if (!s.ok()) return s;
    calls_range.Bind(&st);
    if (st.Step() != SQLITE_ROW) return SqliteError(db_, "cannot summarise calls in " + path_);
    auto count = [&](int c) { return static_cast<int64_t>(sqlite3_column_double(st.get(), c)); };
    out.calls = st.ColumnInt(0);
    out.invites_200 = count(1);
    out.invites_2xx = count(2);
    out.invites_3xx = count(3);
    out.invites_effective = count(4);
    out.invites_ineffective = count(5);
    out.completed = count(6);
    out.network_effective = count(7);
    out.srd_successful.count = st.ColumnInt(8);
    out.srd_successful.mean_ms = ColumnOptionalDouble(st, 9);
    out.srd_failed.count = st.ColumnInt(10);
    out.srd_failed.mean_ms = ColumnOptionalDouble(st, 11);
    out.sdd.count = st.ColumnInt(12);
    out.sdd.mean_ms = ColumnOptionalDouble(st, 13);
    out.sdt.count = out.completed;
    out.sdt.mean_ms = ColumnOptionalDouble(st, 14);
    out.acd_ms = ColumnOptionalDouble(st, 15);
    out.post_dial_delay.count = st.ColumnInt(16);
    out.post_dial_delay.mean_ms = ColumnOptionalDouble(st, 17);
  }
  out.ser = Percent(out.invites_200, out.calls - out.invites_3xx);
  out.seer = Percent(out.invites_effective, out.calls - out.invites_3xx);
  out.isa = Percent(out.invites_ineffective, out.calls);
  out.scr = Percent(out.completed, out.calls);
  out.asr = Percent(out.invites_2xx, out.calls);
  out.ner = Percent(out.network_effective, out.calls);

  auto group = [&](const std::string& sql, auto&& row) -> Status {
    Statement st;
    Status s = st.Prepare(db_, sql);
    if (!s.ok()) return s;
    calls_range.Bind(&st);
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) row(st);
    if (rc != SQLITE_DONE) return SqliteError(db_, "cannot summarise calls in " + path_);
    return Status::Ok();
  };
  // States and statuses in one pass over the covering index.
  std::map<std::string, int64_t> states;
  std::map<int64_t, std::pair<int64_t, int64_t>> statuses;  // calls, answered
  Status s = group("SELECT state, final_status, COUNT(*) FROM calls" + calls_range.sql +
                       " GROUP BY final_status, +state",
                   [&](Statement& st) {
                     std::string state(st.ColumnText(0));
                     int64_t n = st.ColumnInt(2);
                     states[state] += n;
                     auto& status = statuses[st.ColumnInt(1)];
                     status.first += n;
                     if (state == "answered") status.second += n;
                   });
  if (!s.ok()) return s;
  for (const auto& [state, n] : states) {
    out.by_state.push_back({state, n, state == "answered" ? n : 0});
  }
  for (const auto& [status, n] : statuses) {
    out.by_status.push_back({std::to_string(status), n.first, n.second});
  }
  SortByCount(&out.by_state);
  SortByCount(&out.by_status);

  // Exact distributions: (value, count) in value order, walked once.
  std::vector<std::pair<int64_t, int64_t>> values;
  auto distribution = [&](const char* column, const char* condition, Distribution* d) -> Status {
    values.clear();
    Status st = group(std::string("SELECT ") + column + ", COUNT(*) FROM calls" + calls_range.sql +
                          " AND " + condition + " GROUP BY " + column + " ORDER BY " + column,
                      [&](Statement& row) { values.emplace_back(row.ColumnInt(0), row.ColumnInt(1)); });
    if (!st.ok()) return st;
    int64_t n = 0;
    double sum = 0;
    for (const auto& [v, c] : values) {
      n += c;
      sum += static_cast<double>(v) * static_cast<double>(c);
    }
    d->count = n;
    d->mean_ms = n > 0 ? std::optional<double>(sum / static_cast<double>(n)) : std::nullopt;
    d->p50_ms = NearestRank(values, n, 50);
    d->p90_ms = NearestRank(values, n, 90);
    d->p95_ms = NearestRank(values, n, 95);
    d->p99_ms = NearestRank(values, n, 99);
    return Status::Ok();
  };
  s = distribution("post_dial_delay_ms", "post_dial_delay_ms >= 0", &out.post_dial_delay);
  if (!s.ok()) return s;
  // "+state": the unary plus keeps SQLite on the covering calls_report index
  // rather than calls_state, which would read every table row for duration_ms.
  s = distribution("duration_ms", "+state = 'answered'", &out.duration);
  if (!s.ok()) return s;
  const std::vector<int64_t>& bounds = DurationBucketBoundsMs();
  for (size_t i = 0; i < bounds.size(); ++i) {
    out.duration_histogram.push_back(
        {bounds[i], i + 1 < bounds.size() ? bounds[i + 1] : -1, 0});
  }
  for (const auto& [v, c] : values) {  // still the durations
    size_t i = static_cast<size_t>(std::upper_bound(bounds.begin(), bounds.end(), v) -
                                   bounds.begin());
    out.duration_histogram[i == 0 ? 0 : i - 1].calls += c;
  }

  RangeFilter reg_range(query, "first_seen");
  Statement st;
  s = st.Prepare(db_,
                 "SELECT COUNT(*), TOTAL(result IN ('failed', 'expired')),"
                 " COUNT(CASE WHEN status_code BETWEEN 200 AND 299 AND request_delay_ms >= 0"
                 "   THEN 1 END),"
                 " AVG(CASE WHEN status_code BETWEEN 200 AND 299 AND request_delay_ms >= 0"
                 "   THEN request_delay_ms END)"
                 " FROM registrations" +
                     reg_range.sql);
  if (!s.ok()) return s;
  reg_range.Bind(&st);
  if (st.Step() != SQLITE_ROW) return SqliteError(db_, "cannot summarise registrations");
  out.registrations = st.ColumnInt(0);
  out.registrations_ineffective = static_cast<int64_t>(sqlite3_column_double(st.get(), 1));
  out.rrd.count = st.ColumnInt(2);
  out.rrd.mean_ms = ColumnOptionalDouble(st, 3);
  out.ira = Percent(out.registrations_ineffective, out.registrations);
  return out;
}

Result<std::vector<PeriodCount>> CallAnalytics::ByPeriod(const AnalyticsQuery& query,
                                                         Period period) {
  // Period start in ns; weeks are offset to start on Monday (1970-01-05).
  const char* start_sql = nullptr;
  switch (period) {
    case Period::kHour:
      start_sql = "(invite_ts / 3600000000000) * 3600000000000";
      break;
    case Period::kDay:
      start_sql = "(invite_ts / 86400000000000) * 86400000000000";
      break;
    case Period::kWeek:
      start_sql =
          "((invite_ts - 345600000000000) / 604800000000000) * 604800000000000 + 345600000000000";
      break;
  }
  RangeFilter range(query, "invite_ts");
  std::string sql = std::string("SELECT ") + start_sql +
                    " AS p, COUNT(*), TOTAL(state = 'answered'),"
                    " TOTAL(CASE WHEN state = 'answered' THEN duration_ms END) FROM calls" +
                    range.sql + " GROUP BY p ORDER BY p";
  Statement st;
  Status s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  range.Bind(&st);
  std::vector<PeriodCount> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    rows.push_back({st.ColumnInt(0), st.ColumnInt(1),
                    static_cast<int64_t>(sqlite3_column_double(st.get(), 2)),
                    static_cast<int64_t>(sqlite3_column_double(st.get(), 3))});
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "cannot count calls per period in " + path_);
  return rows;
}

Result<std::vector<KeyCount>> CallAnalytics::TopBy(const AnalyticsQuery& query,
                                                   const char* column_sql) {
  RangeFilter range(query, "invite_ts");
  std::string sql = std::string("SELECT ") + column_sql +
                    " AS k, COUNT(*) AS n, TOTAL(state = 'answered') FROM calls" + range.sql +
                    " GROUP BY k ORDER BY n DESC, k LIMIT ?";
  Statement st;
  Status s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  int next = range.Bind(&st);
  st.BindInt(next, static_cast<int64_t>(query.top_n));
  std::vector<KeyCount> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    rows.push_back({std::string(st.ColumnText(0)), st.ColumnInt(1),
                    static_cast<int64_t>(sqlite3_column_double(st.get(), 2))});
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "cannot group calls in " + path_);
  return rows;
}

Result<std::vector<KeyCount>> CallAnalytics::TopUsers(const AnalyticsQuery& query,
                                                      UserSide side) {
  if (side == UserSide::kCaller) return TopBy(query, "caller_user");
  if (side == UserSide::kCallee) return TopBy(query, "callee_user");
  // Either side: a call counts for its caller and, when another user, for its callee.
  RangeFilter range(query, "invite_ts");
  std::string sql =
      "SELECT k, COUNT(*) AS n, TOTAL(a) FROM ("
      " SELECT caller_user AS k, state = 'answered' AS a FROM calls" + range.sql +
      " UNION ALL SELECT callee_user, state = 'answered' FROM calls" + range.sql +
      " AND callee_user <> caller_user)"
      " GROUP BY k ORDER BY n DESC, k LIMIT ?";
  Statement st;
  Status s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  int next = range.Bind(&st);
  next = range.Bind(&st, next);
  st.BindInt(next, static_cast<int64_t>(query.top_n));
  std::vector<KeyCount> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    rows.push_back({std::string(st.ColumnText(0)), st.ColumnInt(1),
                    static_cast<int64_t>(sqlite3_column_double(st.get(), 2))});
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "cannot count calls per user in " + path_);
  return rows;
}

Result<std::vector<KeyCount>> CallAnalytics::TopSourceIps(const AnalyticsQuery& query) {
  return TopBy(query, "src_ip");
}

Result<std::vector<KeyCount>> CallAnalytics::TopUserAgents(const AnalyticsQuery& query) {
  return TopBy(query, "caller_user_agent");
}

}  // namespace sipman::store
