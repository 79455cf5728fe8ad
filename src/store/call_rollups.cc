#include "store/call_rollups.h"

#include <string_view>
#include <vector>

namespace sipman::store::internal {
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
      std::string condition =
          i == 0 ? "" : "$.duration_ms >= " + std::to_string(kDurationBoundsMs[i]);
      if (i + 1 < kDurationBoundsMs.size()) {
        if (!condition.empty()) condition += " AND ";
        condition += "$.duration_ms < " + std::to_string(kDurationBoundsMs[i + 1]);
      }
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

// The statements of one trigger: `row` is NEW (sign +1) or OLD (sign -1).
std::string TriggerBody(std::string_view row, int sign) {
  const std::string s = sign > 0 ? "" : "-";
  const std::string r(row);
  std::string sql = "  INSERT INTO calls_hourly VALUES(" + r + ".invite_ts / " +
                    std::to_string(kNsPerHour) + ", " + r + ".sensor, " + r + ".state, " + r +
                    ".final_status";
  for (const SumColumn& c : HourlyColumns()) sql += ", " + s + ForRow(c.expression, row);
  sql += ")\n    ON CONFLICT DO UPDATE SET ";
  bool first = true;
  for (const SumColumn& c : HourlyColumns()) {
    if (!first) sql += ", ";
    first = false;
    sql += std::string(c.name) + " = " + c.name + " + excluded." + c.name;
  }
  sql += ";\n";
  auto value = [&](ValueKind kind, const std::string& column, const std::string& condition) {
    sql += "  INSERT INTO calls_values SELECT " + std::to_string(static_cast<int>(kind)) + ", " +
           r + ".invite_ts / " + std::to_string(kNsPerHour) + ", " + r + ".sensor, " +
           ValueBucketSql(r + "." + column) + ", " + s + "1 WHERE " + ForRow(condition, row) +
           "\n    ON CONFLICT DO UPDATE SET calls = calls + excluded.calls;\n";
  };
  value(ValueKind::kDuration, "duration_ms", "$.state = 'answered'");
  value(ValueKind::kPostDialDelay, "post_dial_delay_ms", "$.post_dial_delay_ms >= 0");
  auto key = [&](KeyKind kind, const std::string& column, const std::string& condition) {
    sql += "  INSERT INTO calls_daily_keys SELECT " + std::to_string(static_cast<int>(kind)) +
           ", " + r + ".invite_ts / " + std::to_string(kNsPerDay) + ", " + r + ".sensor, " + r +
           "." + column + ", " + s + "1, " + s + "(" + r + ".state = 'answered') WHERE " +
           ForRow(condition, row) +
           "\n    ON CONFLICT DO UPDATE SET calls = calls + excluded.calls,"
           " answered = answered + excluded.answered;\n";
  };
  key(KeyKind::kCaller, "caller_user", "true");
  key(KeyKind::kCallee, "callee_user", "true");
  key(KeyKind::kSelf, "caller_user", "$.caller_user = $.callee_user");
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
CREATE INDEX calls_post_dial_delay ON calls(post_dial_delay_ms, invite_ts, sensor)
  WHERE post_dial_delay_ms >= 0;
)sql";
  // The rows already stored, aggregated once.
  sql += "INSERT INTO calls_hourly SELECT r.invite_ts / " + std::to_string(kNsPerHour) +
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
  auto keys = [&](KeyKind kind, const char* column, const char* condition) {
    sql += "INSERT INTO calls_daily_keys SELECT " + std::to_string(static_cast<int>(kind)) +
           ", r.invite_ts / " + std::to_string(kNsPerDay) + ", r.sensor, r." + column +
           ", COUNT(*), SUM(r.state = 'answered') FROM calls AS r WHERE " + condition +
           " GROUP BY 1, 2, 3, 4;\n";
  };
  keys(KeyKind::kCaller, "caller_user", "true");
  keys(KeyKind::kCallee, "callee_user", "true");
  keys(KeyKind::kSelf, "caller_user", "r.caller_user = r.callee_user");
  keys(KeyKind::kSourceIp, "src_ip", "true");
  keys(KeyKind::kUserAgent, "caller_user_agent", "true");
  sql += "CREATE TRIGGER calls_rollups_insert AFTER INSERT ON calls BEGIN\n" +
         TriggerBody("NEW", +1) + "END;\n";
  sql += "CREATE TRIGGER calls_rollups_delete AFTER DELETE ON calls BEGIN\n" +
         TriggerBody("OLD", -1) + "END;\n";
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

const char* CallRollupsMigrationSql() {
  static const std::string sql = BuildMigrationSql();
  return sql.c_str();
}

}  // namespace sipman::store::internal
