#include "store/call_rollups.h"

#include <algorithm>
#include <string_view>
#include <vector>

namespace sipman::store::internal {

std::string DurationBucketCondition(size_t i, std::string_view duration) {
  std::string condition;
  if (i > 0) condition = std::string(duration) + " >= " + std::to_string(kDurationBoundsMs[i]);
  if (i + 1 < kDurationBoundsMs.size()) {
    if (!condition.empty()) condition += " AND ";
    condition += std::string(duration) + " < " + std::to_string(kDurationBoundsMs[i + 1]);
  }
  return condition;
}
namespace {

// Values from here on are each their own bucket (2^50 ms: 35,000 years).
constexpr int64_t kLargestBucketed = int64_t{1} << 50;

struct SumColumn {
  const char* name;
  // One call's contribution; "$" stands for the row (r, NEW or OLD).
  std::string expression;
};

// The one list behind calls_hourly's columns, its triggers, its backfill and
// the raw aggregation at range edges. Frozen with migration 6: a change is a
// new migration.
const std::vector<SumColumn>& HourlyColumns() {
  static const std::vector<SumColumn> columns = [] {
    std::vector<SumColumn> c = {
        {"calls", "1"},
        // RFC 6076 SRD of a successful setup: INVITE to the first 18x before
        // the 2xx, else to the 2xx.
        {"srd_ok_n", "($.final_status BETWEEN 200 AND 299 AND $.answer_ts > 0)"},
        {"srd_ok_ns",
         "(CASE WHEN $.final_status BETWEEN 200 AND 299 AND $.answer_ts > 0 THEN"
         " (CASE WHEN $.first_18x_ts > 0 AND $.first_18x_ts < $.answer_ts THEN $.first_18x_ts"
         " ELSE $.answer_ts END) - $.invite_ts ELSE 0 END)"},
        // SRD of a failed setup: INVITE to the final 4xx-6xx.
        {"srd_fail_n", "($.final_status BETWEEN 400 AND 699 AND $.final_ts > 0)"},
        {"srd_fail_ns",
         "(CASE WHEN $.final_status BETWEEN 400 AND 699 AND $.final_ts > 0 THEN"
         " $.final_ts - $.invite_ts ELSE 0 END)"},
        {"sdd_n", "($.disconnect_delay_ms >= 0)"},
        {"sdd_ms", "MAX($.disconnect_delay_ms, 0)"},
        {"connect_ms", "$.connect_ms"},
        {"duration_ms", "$.duration_ms"},
        {"pdd_n", "($.post_dial_delay_ms >= 0)"},
        {"pdd_ms", "MAX($.post_dial_delay_ms, 0)"},
    };
    for (size_t i = 0; i < kDurationBoundsMs.size(); ++i) {
      std::string condition = DurationBucketCondition(i, "$.duration_ms");
      static const char* const kNames[] = {"h0", "h1", "h2", "h3", "h4",
                                           "h5", "h6", "h7", "h8", "h9"};
      c.push_back({kNames[i], "(" + condition + ")"});
    }
    return c;
  }();
  return columns;
}

std::string ForRow(std::string_view expression, std::string_view row) {
  std::string out;
  for (char ch : expression) {
    if (ch == '$') {
      out += row;
    } else {
      out += ch;
    }
  }
  return out;
}

// WeekOfDay over an SQL expression of the day number.
std::string WeekOfDaySql(const std::string& day) { return "((" + day + ") - 4) / 7 * 7 + 4"; }

// "ON CONFLICT DO UPDATE SET c = c + excluded.c, ..." over calls_hourly.
std::string HourlyUpsertSql() {
  std::string sql = " ON CONFLICT DO UPDATE SET ";
  bool first = true;
  for (const SumColumn& c : HourlyColumns()) {
    if (!first) sql += ", ";
    first = false;
    sql += std::string(c.name) + " = " + c.name + " + excluded." + c.name;
  }
  return sql;
}

// The statements of one trigger: `row` is NEW (sign +1) or OLD (sign -1).
std::string TriggerBody(std::string_view row, int sign) {
  const std::string s = sign > 0 ? "" : "-";
  const std::string r(row);
  std::string sql = "  INSERT INTO calls_hourly VALUES(" + r + ".invite_ts / " +
                    std::to_string(kNsPerHour) + ", " + r + ".sensor, " + r + ".state, " + r +
                    ".final_status";
  for (const SumColumn& c : HourlyColumns()) sql += ", " + s + ForRow(c.expression, row);
  sql += ")\n   " + HourlyUpsertSql() + ";\n";
  auto value = [&](ValueKind kind, const std::string& column, const std::string& condition) {
    sql += "  INSERT INTO calls_values SELECT " + std::to_string(static_cast<int>(kind)) + ", " +
           r + ".invite_ts / " + std::to_string(kNsPerHour) + ", " + r + ".sensor, " +
           ValueBucketSql(r + "." + column) + ", " + s + "1 WHERE " + ForRow(condition, row) +
           "\n    ON CONFLICT DO UPDATE SET calls = calls + excluded.calls;\n";
  };
  value(ValueKind::kDuration, "duration_ms", "$.state = 'answered'");
  value(ValueKind::kPostDialDelay, "post_dial_delay_ms", "$.post_dial_delay_ms >= 0");
  auto key = [&](KeyKind kind, const std::string& column, const std::string& condition) {
    for (int weekly : {0, kWeekly}) {
      const std::string day = r + ".invite_ts / " + std::to_string(kNsPerDay);
      sql += "  INSERT INTO calls_daily_keys SELECT " +
             std::to_string(static_cast<int>(kind) + weekly) + ", " +
             (weekly ? WeekOfDaySql(day) : day) + ", " + r + ".sensor, " + r + "." + column +
             ", " + s + "1, " + s + "(" + r + ".state = 'answered') WHERE " +
             ForRow(condition, row) +
             "\n    ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,"
             " answered = answered + excluded.answered;\n";
    }
  };
  key(KeyKind::kCaller, "caller_user", "true");
  key(KeyKind::kCallee, "callee_user", "true");
  key(KeyKind::kUser, "caller_user", "true");
  key(KeyKind::kUser, "callee_user", "$.callee_user <> $.caller_user");
  key(KeyKind::kSourceIp, "src_ip", "true");
  key(KeyKind::kUserAgent, "caller_user_agent", "true");
  return sql;
}

std::string BuildMigrationSql() {
  std::string sql = "CREATE TABLE calls_hourly (\n  hour INTEGER NOT NULL, sensor TEXT NOT NULL,"
                    " state TEXT NOT NULL, final_status INTEGER NOT NULL";
  for (const SumColumn& c : HourlyColumns()) sql += ",\n  " + std::string(c.name) + " INTEGER NOT NULL";
  sql += ",\n  PRIMARY KEY (hour, sensor, state, final_status)\n) WITHOUT ROWID;\n";
  sql += R"sql(CREATE TABLE calls_values (
  kind INTEGER NOT NULL, hour INTEGER NOT NULL, sensor TEXT NOT NULL, bucket INTEGER NOT NULL,
  calls INTEGER NOT NULL,
  PRIMARY KEY (kind, hour, sensor, bucket)
) WITHOUT ROWID;
CREATE TABLE calls_daily_keys (
  kind INTEGER NOT NULL, day INTEGER NOT NULL, sensor TEXT NOT NULL, key TEXT NOT NULL,
  calls INTEGER NOT NULL, answered INTEGER NOT NULL,
  PRIMARY KEY (kind, day, sensor, key)
) WITHOUT ROWID;
DROP INDEX calls_report;
CREATE INDEX calls_report ON calls(invite_ts, state, final_status, duration_ms, connect_ms,
  post_dial_delay_ms, disconnect_delay_ms, first_18x_ts, answer_ts, final_ts, sensor,
  caller_user, callee_user, src_ip, caller_user_agent);
CREATE INDEX calls_answered_duration ON calls(duration_ms, invite_ts, sensor)
  WHERE state = 'answered';
CREATE INDEX calls_post_dial_delay ON calls(post_dial_delay_ms, invite_ts, sensor);
)sql";
  sql += CallRollupsBackfillSql();
  sql += "CREATE TRIGGER calls_rollups_delete AFTER DELETE ON calls BEGIN\n" +
         TriggerBody("OLD", -1) + "END;\n";
  return sql;
}

// The rollups of every row of calls, aggregated in SQL.
std::string BuildBackfillSql() {
  std::string sql = "INSERT INTO calls_hourly SELECT r.invite_ts / " + std::to_string(kNsPerHour) +
         ", r.sensor, r.state, r.final_status, " + HourlySumsSelectSql() +
         " FROM calls AS r GROUP BY 1, 2, 3, 4;\n";
  auto values = [&](ValueKind kind, const char* column, const char* condition) {
    sql += "INSERT INTO calls_values SELECT " + std::to_string(static_cast<int>(kind)) +
           ", r.invite_ts / " + std::to_string(kNsPerHour) + ", r.sensor, " +
           ValueBucketSql(std::string("r.") + column) + ", COUNT(*) FROM calls AS r WHERE " +
           condition + " GROUP BY 1, 2, 3, 4;\n";
  };
  values(ValueKind::kDuration, "duration_ms", "r.state = 'answered'");
  values(ValueKind::kPostDialDelay, "post_dial_delay_ms", "r.post_dial_delay_ms >= 0");
  // Per day and per week; kUser adds both sides before grouping.
  const std::string day = "r.invite_ts / " + std::to_string(kNsPerDay);
  auto keys = [&](KeyKind kind, const std::string& select) {
    for (int weekly : {0, kWeekly}) {
      sql += "INSERT INTO calls_daily_keys SELECT " +
             std::to_string(static_cast<int>(kind) + weekly) + ", " +
             (weekly ? WeekOfDaySql("d") : std::string("d")) +
             ", sensor, k, COUNT(*), SUM(a) FROM (" + select + ") GROUP BY 1, 2, 3, 4;\n";
    }
  };
  auto side = [&](const char* column, const char* condition) {
    return "SELECT " + day + " AS d, r.sensor AS sensor, r." + column +
           " AS k, r.state = 'answered' AS a FROM calls AS r WHERE " + condition;
  };
  keys(KeyKind::kCaller, side("caller_user", "true"));
  keys(KeyKind::kCallee, side("callee_user", "true"));
  keys(KeyKind::kUser, side("caller_user", "true") + " UNION ALL " +
                           side("callee_user", "r.callee_user <> r.caller_user"));
  keys(KeyKind::kSourceIp, side("src_ip", "true"));
  keys(KeyKind::kUserAgent, side("caller_user_agent", "true"));
  return sql;
}

}  // namespace

void HourlySums::Add(const HourlySums& o) {
  calls += o.calls;
  srd_ok_n += o.srd_ok_n;
  srd_ok_ns += o.srd_ok_ns;
  srd_fail_n += o.srd_fail_n;
  srd_fail_ns += o.srd_fail_ns;
  sdd_n += o.sdd_n;
  sdd_ms += o.sdd_ms;
  connect_ms += o.connect_ms;
  duration_ms += o.duration_ms;
  pdd_n += o.pdd_n;
  pdd_ms += o.pdd_ms;
  for (size_t i = 0; i < histogram.size(); ++i) histogram[i] += o.histogram[i];
}

const std::string& HourlySumsSelectSql() {
  static const std::string sql = [] {
    std::string s;
    for (const SumColumn& c : HourlyColumns()) {
      if (!s.empty()) s += ", ";
      s += "SUM(" + ForRow(c.expression, "r") + ") AS " + c.name;
    }
    return s;
  }();
  return sql;
}

int64_t ValueBucket(int64_t value) {
  if (value < 64 || value >= kLargestBucketed) return value;
  int top = 63 - __builtin_clzll(static_cast<uint64_t>(value));  // 2^top <= value
  int64_t width = int64_t{1} << (top - 5);
  return value & -width;
}

int64_t ValueBucketEnd(int64_t bucket) {
  if (bucket < 64 || bucket >= kLargestBucketed) return bucket + 1;
  int top = 63 - __builtin_clzll(static_cast<uint64_t>(bucket));
  return bucket + (int64_t{1} << (top - 5));
}

std::string ValueBucketSql(const std::string& column) {
  std::string sql = "(CASE WHEN " + column + " < 64 THEN " + column;
  for (int top = 6; (int64_t{1} << top) < kLargestBucketed; ++top) {
    sql += " WHEN " + column + " < " + std::to_string(int64_t{1} << (top + 1)) + " THEN " +
           column + " & " + std::to_string(-(int64_t{1} << (top - 5)));
  }
  return sql + " ELSE " + column + " END)";
}

Status CallRollupWriter::Prepare(sqlite3* db) {
  std::string hourly = "INSERT INTO calls_hourly VALUES(?, ?, ?, ?";
  for (size_t i = 0; i < HourlyColumns().size(); ++i) hourly += ", ?";
  hourly += ')';
  hourly += HourlyUpsertSql();
  Status s = upsert_hourly_.Prepare(db, hourly, true);
  if (s.ok()) {
    s = upsert_value_.Prepare(db,
                              "INSERT INTO calls_values VALUES(?, ?, ?, ?, ?)"
                              " ON CONFLICT DO UPDATE SET calls = calls + excluded.calls",
                              true);
  }
  if (s.ok()) {
    s = upsert_key_.Prepare(db,
                            "INSERT INTO calls_daily_keys VALUES(?, ?, ?, ?, ?, ?)"
                            " ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,"
                            " answered = answered + excluded.answered",
                            true);
  }
  return s;
}

void CallRollupWriter::Finalize() {
  upsert_hourly_ = Statement();
  upsert_value_ = Statement();
  upsert_key_ = Statement();
}

void CallRollupWriter::Add(const calls::CallRecord& r, std::string_view sensor,
                           std::string_view src_ip) {
  const std::string_view state = calls::CallStateName(r.state);
  const bool answered = r.state == calls::CallState::kAnswered;
  const int64_t status = r.final_status;
  const int64_t hour = r.invite_ts / kNsPerHour;
  HourlySums one;
  one.calls = 1;
  if (status >= 200 && status <= 299 && r.answer_ts > 0) {
    one.srd_ok_n = 1;
    one.srd_ok_ns = (r.first_18x_ts > 0 && r.first_18x_ts < r.answer_ts ? r.first_18x_ts
                                                                        : r.answer_ts) -
                    r.invite_ts;
  }
  if (status >= 400 && status <= 699 && r.final_ts > 0) {
    one.srd_fail_n = 1;
    one.srd_fail_ns = r.final_ts - r.invite_ts;
  }
  one.sdd_n = r.disconnect_delay_ms >= 0;
  one.sdd_ms = std::max<int64_t>(r.disconnect_delay_ms, 0);
  one.connect_ms = r.connect_ms;
  one.duration_ms = r.duration_ms;
  one.pdd_n = r.post_dial_delay_ms >= 0;
  one.pdd_ms = std::max<int64_t>(r.post_dial_delay_ms, 0);
  size_t bucket = 0;
  while (bucket + 1 < kDurationBoundsMs.size() && r.duration_ms >= kDurationBoundsMs[bucket + 1]) {
    ++bucket;
  }
  one.histogram[bucket] = 1;
  hourly_[HourlyKey(hour, sensor, state, status)].Add(one);

  if (answered) {
    ++values_[ValueKey(static_cast<int>(ValueKind::kDuration), hour, sensor,
                       ValueBucket(r.duration_ms))];
  }
  if (r.post_dial_delay_ms >= 0) {
    ++values_[ValueKey(static_cast<int>(ValueKind::kPostDialDelay), hour, sensor,
                       ValueBucket(r.post_dial_delay_ms))];
  }
  const int64_t day = r.invite_ts / kNsPerDay;
  const int64_t week = WeekOfDay(day);
  auto key = [&](KeyKind kind, std::string_view k) {
    for (auto [code, when] : {std::pair{static_cast<int>(kind), day},
                              std::pair{static_cast<int>(kind) + kWeekly, week}}) {
      auto& c = keys_[KeyKey(code, when, sensor, k)];
      c.first += 1;
      c.second += answered;
    }
  };
  key(KeyKind::kCaller, r.caller_user);
  key(KeyKind::kCallee, r.callee_user);
  key(KeyKind::kUser, r.caller_user);
  if (r.callee_user != r.caller_user) key(KeyKind::kUser, r.callee_user);
  key(KeyKind::kSourceIp, src_ip);
  key(KeyKind::kUserAgent, r.caller_user_agent);
}

Status CallRollupWriter::Flush(sqlite3* db, const std::string& where) {
  auto step = [&](Statement& st, const char* table) -> Status {
    int rc = st.Step();
    st.Reset();
    if (rc != SQLITE_DONE) return SqliteError(db, std::string("cannot update ") + table + " of " + where);
    return Status::Ok();
  };
  Status s;
  for (const auto& [k, sums] : hourly_) {
    const auto& [hour, sensor, state, status] = k;
    int i = 1;
    upsert_hourly_.BindInt(i++, hour);
    upsert_hourly_.BindText(i++, sensor);
    upsert_hourly_.BindText(i++, state);
    upsert_hourly_.BindInt(i++, status);
    for (int64_t v : {sums.calls, sums.srd_ok_n, sums.srd_ok_ns, sums.srd_fail_n, sums.srd_fail_ns,
                      sums.sdd_n, sums.sdd_ms, sums.connect_ms, sums.duration_ms, sums.pdd_n,
                      sums.pdd_ms}) {
      upsert_hourly_.BindInt(i++, v);
    }
    for (int64_t v : sums.histogram) upsert_hourly_.BindInt(i++, v);
    if (!(s = step(upsert_hourly_, "calls_hourly")).ok()) break;
  }
  for (const auto& [k, n] : values_) {
    if (!s.ok()) break;
    const auto& [kind, hour, sensor, bucket] = k;
    upsert_value_.BindInt(1, kind);
    upsert_value_.BindInt(2, hour);
    upsert_value_.BindText(3, sensor);
    upsert_value_.BindInt(4, bucket);
    upsert_value_.BindInt(5, n);
    s = step(upsert_value_, "calls_values");
  }
  for (const auto& [k, c] : keys_) {
    if (!s.ok()) break;
    const auto& [kind, day, sensor, key] = k;
    upsert_key_.BindInt(1, kind);
    upsert_key_.BindInt(2, day);
    upsert_key_.BindText(3, sensor);
    upsert_key_.BindText(4, key);
    upsert_key_.BindInt(5, c.first);
    upsert_key_.BindInt(6, c.second);
    s = step(upsert_key_, "calls_daily_keys");
  }
  Discard();
  return s;
}

void CallRollupWriter::Discard() {
  hourly_.clear();
  values_.clear();
  keys_.clear();
}

const std::string& CallRollupsBackfillSql() {
  static const std::string sql = BuildBackfillSql();
  return sql;
}

const char* CallRollupsMigrationSql() {
  static const std::string sql = BuildMigrationSql();
  return sql.c_str();
}

}  // namespace sipman::store::internal
