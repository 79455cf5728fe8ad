// CallAnalytics over SQLite: rollups for the whole hours and days of a
// range, the calls' covering indexes for its edges.
#include "store/sqlite_reads.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string_view>

#include "store/analytics_internal.h"
#include "store/call_rollups.h"
#include "store/quality_rollups.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_util.h"

namespace sipman::store {
namespace {

using internal::HourlySums;
using internal::kNsPerDay;
using internal::kNsPerHour;
using internal::KeyKind;
using internal::Mean;
using internal::Percent;
using internal::SqliteError;
using internal::SortByCount;
using internal::Statement;
using internal::ValueKind;

constexpr int64_t kNoUpperBound = std::numeric_limits<int64_t>::max();

// A query range cut into whole units (hours or days), which the rollups
// answer, and at most two edge ranges, which are read from calls.
struct SplitRange {
  int64_t first_unit = 0, end_unit = 0;  // whole units [first_unit, end_unit)
  std::vector<std::pair<TimestampNs, TimestampNs>> edges;  // [from, to) each
  bool has_units() const { return first_unit < end_unit; }
};

SplitRange Split(const AnalyticsQuery& q, int64_t unit_ns) {
  // invite_ts is never negative, so a negative start means "from the beginning".
  const int64_t from = std::max<int64_t>(q.from_ts, 0);
  const int64_t to = q.to_ts == 0 ? kNoUpperBound : q.to_ts;
  SplitRange split;
  if (from >= to) return split;
  int64_t first = from / unit_ns + (from % unit_ns != 0 ? 1 : 0);
  int64_t end = to / unit_ns;
  if (!q.use_rollups || first >= end) {
    split.edges.emplace_back(from, to);
    return split;
  }
  split.first_unit = first;
  split.end_unit = end;
  if (from < first * unit_ns) split.edges.emplace_back(from, first * unit_ns);
  if (end * unit_ns < to) split.edges.emplace_back(end * unit_ns, to);
  return split;
}

// " AND sensor = ?" when the query names a sensor.
std::string SensorSql(const AnalyticsQuery& q, const char* column = "sensor") {
  return q.sensor.empty() ? std::string() : std::string(" AND ") + column + " = ?";
}

// Binds (a, b[, sensor]) from parameter `first` on; returns the next index.
int BindRange(Statement* st, int first, int64_t a, int64_t b, const AnalyticsQuery& q) {
  st->BindInt(first, a);
  st->BindInt(first + 1, b);
  if (q.sensor.empty()) return first + 2;
  st->BindText(first + 2, q.sensor);
  return first + 3;
}


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

std::optional<double> ColumnOptionalDouble(Statement& st, int column) {
  if (sqlite3_column_type(st.get(), column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(st.get(), column);
}

// The SQLite implementation: rollups for the whole hours and days of a
// range, the calls' covering indexes for its edges.
class SqliteCallAnalytics final : public CallAnalytics {
 public:
  SqliteCallAnalytics(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteCallAnalytics() override { sqlite3_close(db_); }

  Result<CallSummary> Summary(const AnalyticsQuery& query) override;
  Result<std::vector<PeriodCount>> ByPeriod(const AnalyticsQuery& query, Period period) override;
  Result<std::vector<KeyCount>> TopUsers(const AnalyticsQuery& query, UserSide side) override;
  Result<std::vector<KeyCount>> TopSourceIps(const AnalyticsQuery& query) override;
  Result<std::vector<KeyCount>> TopUserAgents(const AnalyticsQuery& query) override;
  Result<std::vector<QualityRow>> Quality(const AnalyticsQuery& query, QualityGroup by) override;

 private:
  // Top-N of one calls_daily_keys kind (see call_rollups.h).
  Result<std::vector<KeyCount>> TopBy(const AnalyticsQuery& query, int kind);

  sqlite3* db_;
  const std::string path_;
};

}  // namespace

Result<std::unique_ptr<CallAnalytics>> internal::OpenSqliteCallAnalytics(const std::string& url) {
  // A 256 MiB page cache: a report over a long range reads the rollups and
  // the edges' index slices, and re-reads them for each figure.
  std::string path;
  Result<sqlite3*> db = internal::OpenSqliteReader(url, " PRAGMA cache_size = -262144;", &path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<CallAnalytics>(new SqliteCallAnalytics(*db, path));
}


// Runs `sql` once per range, binding the range (and sensor) first, then
// `extra` binds; calls `row` for each result row.
template <typename Row>
static Status ForEachRow(sqlite3* db, const std::string& path, const std::string& sql,
                         const std::vector<std::pair<int64_t, int64_t>>& ranges,
                         const AnalyticsQuery& q, Row&& row) {
  if (ranges.empty()) return Status::Ok();
  Statement st;
  Status s = st.Prepare(db, sql);
  if (!s.ok()) return s;
  for (const auto& [a, b] : ranges) {
    st.Reset();
    BindRange(&st, 1, a, b, q);
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) row(st);
    if (rc != SQLITE_DONE) return SqliteError(db, "cannot read call analytics from " + path);
  }
  return Status::Ok();
}

static void ReadSums(Statement& st, int first, HourlySums* out) {
  int c = first;
  out->calls = st.ColumnInt(c++);
  out->srd_ok_n = st.ColumnInt(c++);
  out->srd_ok_ns = st.ColumnInt(c++);
  out->srd_fail_n = st.ColumnInt(c++);
  out->srd_fail_ns = st.ColumnInt(c++);
  out->sdd_n = st.ColumnInt(c++);
  out->sdd_ms = st.ColumnInt(c++);
  out->connect_ms = st.ColumnInt(c++);
  out->duration_ms = st.ColumnInt(c++);
  out->pdd_n = st.ColumnInt(c++);
  out->pdd_ms = st.ColumnInt(c++);
  for (int64_t& h : out->histogram) h = st.ColumnInt(c++);
}

// Exact nearest-rank percentiles of durations (answered calls) or post-dial
// delays. Without whole hours, every value of the range is read. Otherwise
// the counts per bucket (rollup plus edges) locate the bucket of each rank,
// and the value is read from that bucket's slice of a value-ordered index:
// an exact answer that visits at most the bucket's distinct values.
static Status ReadDistribution(sqlite3* db_, const std::string& path_,
                               const AnalyticsQuery& query, const SplitRange& hours, int kind,
                               Distribution* d) {
  const bool is_duration = kind == static_cast<int>(ValueKind::kDuration);
  const char* column = is_duration ? "duration_ms" : "post_dial_delay_ms";
  std::map<int64_t, int64_t> counts;  // value (no whole hours) or bucket -> calls
  const bool bucketed = hours.has_units();
  if (bucketed) {
    Status s = ForEachRow(db_, path_,
                          "SELECT bucket, SUM(calls) FROM calls_values WHERE hour >= ? AND"
                          " hour < ?" + SensorSql(query) + " AND kind = " +
                              std::to_string(kind) + " GROUP BY bucket",
                          {{hours.first_unit, hours.end_unit}}, query,
                          [&](Statement& st) { counts[st.ColumnInt(0)] += st.ColumnInt(1); });
    if (!s.ok()) return s;
  }
  // "+state": keeps SQLite on the covering calls_report index.
  const std::string edge_condition =
      is_duration ? "+state = 'answered'" : "post_dial_delay_ms >= 0";
  Status s = ForEachRow(db_, path_,
                        std::string("SELECT ") + column + ", COUNT(*) FROM calls WHERE" +
                            " invite_ts >= ? AND invite_ts < ?" + SensorSql(query) + " AND " +
                            edge_condition + " GROUP BY " + column,
                        hours.edges, query, [&](Statement& st) {
                          int64_t v = st.ColumnInt(0);
                          counts[bucketed ? internal::ValueBucket(v) : v] += st.ColumnInt(1);
                        });
  if (!s.ok()) return s;

  std::vector<std::pair<int64_t, int64_t>> sorted;
  int64_t n = 0;
  for (const auto& [v, c] : counts) {
    if (c <= 0) continue;  // buckets emptied by deleted calls
    sorted.emplace_back(v, c);
    n += c;
  }
  d->count = n;
  // Inside a bucket, walk its distinct values in order with two index seeks
  // each (the next value present; its calls in the range) until the rank is
  // reached. This touches at most one entry per distinct value plus the
  // entries in the range, never the bucket's entries outside the range,
  // which for a short range over a long history would be most of them.
  // (Not a partial index for the delays: with "post_dial_delay_ms >= 0" in
  // the query, SQLite would seek from 0 rather than from the bucket.)
  const std::string index =
      std::string(" FROM calls INDEXED BY ") +
      (is_duration ? "calls_answered_duration WHERE state = 'answered' AND "
                   : "calls_post_dial_delay WHERE ");
  Statement next_value, count_value;
  if (bucketed) {
    s = next_value.Prepare(db_, std::string("SELECT ") + column + index + column + " >= ? AND " +
                                    column + " < ? ORDER BY " + column + " LIMIT 1");
    if (!s.ok()) return s;
    s = count_value.Prepare(db_, "SELECT COUNT(*)" + index + column +
                                     " = ? AND invite_ts >= ? AND invite_ts < ?" +
                                     SensorSql(query));
    if (!s.ok()) return s;
  }
  const int64_t from = std::max<int64_t>(query.from_ts, 0);
  const int64_t to = query.to_ts == 0 ? kNoUpperBound : query.to_ts;
  Status lookup = Status::Ok();
  auto value_of_rank = [&](int64_t lo, int64_t end, int64_t remaining) -> std::optional<int64_t> {
    for (int64_t v = lo; v < end;) {
      next_value.Reset();
      next_value.BindInt(1, v);
      next_value.BindInt(2, end);
      if (next_value.Step() != SQLITE_ROW) break;
      v = next_value.ColumnInt(0);
      count_value.Reset();
      count_value.BindInt(1, v);
      BindRange(&count_value, 2, from, to, query);
      if (count_value.Step() != SQLITE_ROW) break;
      remaining -= count_value.ColumnInt(0);
      if (remaining <= 0) return v;
      ++v;
    }
    lookup = SqliteError(db_, "cannot read a percentile from " + path_ +
                                  " (calls and their rollups disagree; run"
                                  " 'sqlite3 DB \"PRAGMA integrity_check\"')");
    return std::nullopt;
  };
  auto percentile = [&](int p) -> std::optional<int64_t> {
    if (n <= 0) return std::nullopt;
    const int64_t rank = std::max<int64_t>(1, (static_cast<int64_t>(p) * n + 99) / 100);
    int64_t seen = 0;
    for (const auto& [v, c] : sorted) {
      if (seen + c < rank) {
        seen += c;
        continue;
      }
      const int64_t end = internal::ValueBucketEnd(v);
      if (!bucketed || end == v + 1) return v;
      return value_of_rank(v, end, rank - seen);
    }
    return sorted.empty() ? std::nullopt : std::optional<int64_t>(sorted.back().first);
  };
  d->p50_ms = percentile(50);
  d->p90_ms = percentile(90);
  d->p95_ms = percentile(95);
  d->p99_ms = percentile(99);
  return lookup;
}


Result<CallSummary> SqliteCallAnalytics::Summary(const AnalyticsQuery& query) {
  CallSummary out;
  const SplitRange hours = Split(query, kNsPerHour);

  // Every count, sum and histogram bucket per (state, final_status): whole
  // hours from calls_hourly, the edges from calls' covering index.
  internal::CallGroupSums groups;
  auto add_group = [&](Statement& st) {
    HourlySums sums;
    ReadSums(st, 2, &sums);
    if (sums.calls == 0) return;  // left by deleted calls
    groups[{std::string(st.ColumnText(0)), st.ColumnInt(1)}].Add(sums);
  };
  if (hours.has_units()) {
    std::string sql = "SELECT state, final_status";
    for (const char* c : {"calls", "srd_ok_n", "srd_ok_ns", "srd_fail_n", "srd_fail_ns", "sdd_n",
                          "sdd_ms", "connect_ms", "duration_ms", "pdd_n", "pdd_ms", "h0", "h1",
                          "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"}) {
      sql += std::string(", SUM(") + c + ")";
    }
    sql += " FROM calls_hourly WHERE hour >= ? AND hour < ?" + SensorSql(query) +
           " GROUP BY state, final_status";
    Status s = ForEachRow(db_, path_, sql, {{hours.first_unit, hours.end_unit}}, query, add_group);
    if (!s.ok()) return s;
  }
  Status s = ForEachRow(db_, path_,
                        "SELECT r.state, r.final_status, " + internal::HourlySumsSelectSql() +
                            " FROM calls AS r WHERE r.invite_ts >= ? AND r.invite_ts < ?" +
                            SensorSql(query, "r.sensor") +
                            // "+": stay on the covering calls_report index.
                            " GROUP BY r.final_status, +r.state",
                        hours.edges, query, add_group);
  if (!s.ok()) return s;

  internal::SummarizeCallGroups(groups, &out);

  s = ReadDistribution(db_, path_, query, hours, static_cast<int>(ValueKind::kPostDialDelay),
                       &out.post_dial_delay);
  if (!s.ok()) return s;
  s = ReadDistribution(db_, path_, query, hours, static_cast<int>(ValueKind::kDuration),
                       &out.duration);
  if (!s.ok()) return s;

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


Result<std::vector<PeriodCount>> SqliteCallAnalytics::ByPeriod(const AnalyticsQuery& query,
                                                               Period period) {
  const SplitRange hours = Split(query, kNsPerHour);
  std::map<int64_t, PeriodCount> periods;
  auto add = [&](int64_t ts, int64_t calls, int64_t answered, int64_t duration) {
    if (calls == 0) return;
    PeriodCount& p = periods[internal::PeriodStart(ts, period)];
    p.calls += calls;
    p.answered += answered;
    p.duration_ms_sum += duration;
  };
  if (hours.has_units()) {
    Status s = ForEachRow(
        db_, path_,
        "SELECT hour, SUM(calls), SUM(CASE WHEN state = 'answered' THEN calls ELSE 0 END),"
        " SUM(CASE WHEN state = 'answered' THEN duration_ms ELSE 0 END) FROM calls_hourly"
        " WHERE hour >= ? AND hour < ?" + SensorSql(query) + " GROUP BY hour",
        {{hours.first_unit, hours.end_unit}}, query, [&](Statement& st) {
          add(st.ColumnInt(0) * kNsPerHour, st.ColumnInt(1), st.ColumnInt(2), st.ColumnInt(3));
        });
    if (!s.ok()) return s;
  }
  // Edges: per hour too, which every period is a whole number of.
  Status s = ForEachRow(
      db_, path_,
      "SELECT invite_ts / " + std::to_string(kNsPerHour) +
          " AS h, COUNT(*), SUM(state = 'answered'),"
          " SUM(CASE WHEN state = 'answered' THEN duration_ms ELSE 0 END) FROM calls"
          " WHERE invite_ts >= ? AND invite_ts < ?" + SensorSql(query) + " GROUP BY h",
      hours.edges, query, [&](Statement& st) {
        add(st.ColumnInt(0) * kNsPerHour, st.ColumnInt(1), st.ColumnInt(2), st.ColumnInt(3));
      });
  if (!s.ok()) return s;
  std::vector<PeriodCount> rows;
  for (auto& [start, p] : periods) {
    p.start_ts = start;
    rows.push_back(p);
  }
  return rows;
}

// Calls and answered calls per key, by open addressing over one arena of
// key bytes: millions of rollup rows are added with no allocation per row
// (std::unordered_map spent more time here than SQLite did reading them).
class KeyCounter {
 public:
  KeyCounter() : slots_(size_t{1} << 14) {}

  void Add(std::string_view key, int64_t calls, int64_t answered) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    const uint64_t hash = std::hash<std::string_view>{}(key);
    Slot* slot = Find(hash, key);
    if (slot->length == kEmpty) {
      slot->hash = hash;
      slot->offset = arena_.size();
      slot->length = static_cast<uint32_t>(key.size());
      arena_.append(key);
      ++size_;
    }
    slot->calls += calls;
    slot->answered += answered;
  }

  // The n keys with the most calls (ties by key), leaving out keys whose
  // count is not positive (left by deleted calls).
  std::vector<KeyCount> Top(size_t n) const {
    std::vector<const Slot*> used;
    used.reserve(size_);
    for (const Slot& s : slots_) {
      if (s.length != kEmpty && s.calls > 0) used.push_back(&s);
    }
    auto before = [&](const Slot* a, const Slot* b) {
      return a->calls != b->calls ? a->calls > b->calls : KeyOf(*a) < KeyOf(*b);
    };
    n = std::min(n, used.size());
    std::partial_sort(used.begin(), used.begin() + static_cast<std::ptrdiff_t>(n), used.end(),
                      before);
    std::vector<KeyCount> rows;
    for (size_t i = 0; i < n; ++i) {
      rows.push_back({std::string(KeyOf(*used[i])), used[i]->calls, used[i]->answered});
    }
    return rows;
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t hash = 0;
    uint64_t offset = 0;
    uint32_t length = kEmpty;
    int64_t calls = 0, answered = 0;
  };

  std::string_view KeyOf(const Slot& s) const {
    return std::string_view(arena_).substr(s.offset, s.length);
  }
  Slot* Find(uint64_t hash, std::string_view key) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.length == kEmpty || (s.hash == hash && KeyOf(s) == key)) return &s;
    }
  }
  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.length == kEmpty) continue;
      size_t i = s.hash & mask;
      while (slots_[i].length != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
};

// Top-N of a key kind: whole weeks and days from calls_daily_keys (weeks
// where a whole ISO week fits), the partial days at the edges from calls'
// covering index.
Result<std::vector<KeyCount>> SqliteCallAnalytics::TopBy(const AnalyticsQuery& query,
                                                         int kind) {
  const SplitRange days = Split(query, kNsPerDay);
  KeyCounter keys;
  std::vector<std::pair<int64_t, int64_t>> day_ranges, week_ranges;
  if (days.has_units()) {
    const int64_t first = days.first_unit, end = days.end_unit;
    int64_t first_week = internal::WeekOfDay(first);
    if (first_week < first) first_week += 7;
    const int64_t end_week = internal::WeekOfDay(end);
    if (first_week < end_week) {
      week_ranges.emplace_back(first_week, end_week);
      if (first < first_week) day_ranges.emplace_back(first, first_week);
      if (end_week < end) day_ranges.emplace_back(end_week, end);
    } else {
      day_ranges.emplace_back(first, end);
    }
  }
  for (int weekly : {0, internal::kWeekly}) {
    Status s = ForEachRow(
        db_, path_,
        "SELECT key, calls, answered FROM calls_daily_keys WHERE day >= ? AND day < ?" +
            SensorSql(query) + " AND kind = " + std::to_string(kind + weekly),
        weekly ? week_ranges : day_ranges, query, [&](Statement& st) {
          keys.Add(st.ColumnText(0), st.ColumnInt(1), st.ColumnInt(2));
        });
    if (!s.ok()) return s;
  }
  const char* column = "caller_user";
  switch (static_cast<KeyKind>(kind)) {
    case KeyKind::kCaller:
    case KeyKind::kUser:
      break;
    case KeyKind::kCallee:
      column = "callee_user";
      break;
    case KeyKind::kSourceIp:
      column = "src_ip";
      break;
    case KeyKind::kUserAgent:
      column = "caller_user_agent";
      break;
  }
  const bool either = kind == static_cast<int>(KeyKind::kUser);
  Status s = ForEachRow(
      db_, path_,
      std::string("SELECT ") + column +
          ", state = 'answered', callee_user FROM calls INDEXED BY calls_report"
          " WHERE invite_ts >= ? AND invite_ts < ?" + SensorSql(query),
      days.edges, query, [&](Statement& st) {
        const int64_t answered = st.ColumnInt(1);
        keys.Add(st.ColumnText(0), 1, answered);
        if (either) {
          std::string_view callee = st.ColumnText(2);
          std::string callee_copy(callee);  // the next column read may move the text
          if (callee_copy != st.ColumnText(0)) keys.Add(callee_copy, 1, answered);
        }
      });
  if (!s.ok()) return s;
  return keys.Top(query.top_n);
}

Result<std::vector<KeyCount>> SqliteCallAnalytics::TopUsers(const AnalyticsQuery& query,
                                                            UserSide side) {
  if (side == UserSide::kCaller) return TopBy(query, static_cast<int>(KeyKind::kCaller));
  if (side == UserSide::kCallee) return TopBy(query, static_cast<int>(KeyKind::kCallee));
  return TopBy(query, static_cast<int>(KeyKind::kUser));
}

Result<std::vector<KeyCount>> SqliteCallAnalytics::TopSourceIps(
    const AnalyticsQuery& query) {
  return TopBy(query, static_cast<int>(KeyKind::kSourceIp));
}

Result<std::vector<KeyCount>> SqliteCallAnalytics::TopUserAgents(
    const AnalyticsQuery& query) {
  return TopBy(query, static_cast<int>(KeyKind::kUserAgent));
}

// The whole hours of the range from rtp_quality_hourly, its edges (and
// everything without use_rollups) from rtp_streams: the same sums either way.
Result<std::vector<QualityRow>> SqliteCallAnalytics::Quality(const AnalyticsQuery& query,
                                                             QualityGroup by) {
  const int64_t from = std::max<int64_t>(query.from_ts, 0);
  const int64_t to = query.to_ts == 0 ? std::numeric_limits<int64_t>::max() : query.to_ts;
  internal::QualityAccumulator groups(by);
  if (from >= to) return groups.Finish(query.top_n);
  const bool with_sensor = !query.sensor.empty();
  auto read = [&](const std::string& sql, int64_t a, int64_t b) -> Status {
    Statement st;
    Status s = st.Prepare(db_, sql);
    if (!s.ok()) return s;
    st.BindInt(1, a);
    st.BindInt(2, b);
    if (with_sensor) st.BindText(3, query.sensor);
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      groups.Add([&](int c) { return std::string(st.ColumnText(c)); },
                 [&](int c) { return st.ColumnInt(c); }, [&](int c) { return st.ColumnDouble(c); });
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "cannot read media quality from " + path_);
    return Status::Ok();
  };
  const std::string raw = internal::QualitySql(by, with_sensor, [](int i, bool) {
    std::string placeholder = "?";
    placeholder += std::to_string(i);
    return placeholder;
  });
  const int64_t first_hour = from / internal::kNsPerHour + (from % internal::kNsPerHour != 0 ? 1 : 0);
  const int64_t end_hour = to / internal::kNsPerHour;
  Status s;
  if (!query.use_rollups || first_hour >= end_hour) {
    s = read(raw, from, to);
  } else {
    s = read(internal::QualityRollupSql(by, with_sensor), first_hour, end_hour);
    if (s.ok() && from < first_hour * internal::kNsPerHour) {
      s = read(raw, from, first_hour * internal::kNsPerHour);
    }
    if (s.ok() && end_hour * internal::kNsPerHour < to) s = read(raw, end_hour * internal::kNsPerHour, to);
  }
  if (!s.ok()) return s;
  return groups.Finish(query.top_n);
}

}  // namespace sipman::store
