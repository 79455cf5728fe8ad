#include "store/alerts_table.h"

#include <charconv>

#include "base/json_escape.h"

namespace sipman::store {

AlertRow AlertRowOf(const alerts::Alert& a, std::string_view sensor) {
  AlertRow r;
  r.rule = a.rule;
  r.kind.assign(alerts::MetricName(a.metric));
  r.category.assign(alerts::InfoOf(a.metric).category);
  r.grouped_by.assign(alerts::KeyName(a.by));
  r.key = a.key;
  r.severity = a.severity;
  r.state = a.firing ? "firing" : "resolved";
  r.evidence.assign(1, '[');
  for (const std::string& item : a.evidence) {
    if (r.evidence.size() > 1) r.evidence.push_back(',');
    AppendJsonString(item, JsonEscapeStyle{JsonEscapeStyle::InvalidUtf8::kLatin1, false},
                     [&](std::string_view part) { r.evidence.append(part); });
  }
  r.evidence.push_back(']');
  r.sensor = a.sensor.empty() ? std::string(sensor) : a.sensor;
  r.action = a.action;
  r.fired_at = a.fired_at;
  r.value = a.value;
  r.threshold = a.threshold;
  r.resolve_threshold = a.resolve_threshold;
  if (!a.firing) {
    r.resolved_at = a.resolved_at;
    r.resolved_value = a.resolved_value;
  }
  return r;
}

void MergeAlertRow(const AlertRow& later, AlertRow* row) {
  if (later.state == "resolved") {
    row->state = later.state;
    row->resolved_at = later.resolved_at;
    row->resolved_value = later.resolved_value;
    row->resolve_threshold = later.resolve_threshold;
  }
  if (!later.action_result.empty()) row->action_result = later.action_result;
}

std::string CreateAlertsTableSql(bool postgres) {
  const char* integer = postgres ? "BIGINT" : "INTEGER";
  const char* real = postgres ? "DOUBLE PRECISION" : "REAL";
  std::string sql = postgres ? "CREATE TABLE alerts (id BIGSERIAL PRIMARY KEY"
                             : "CREATE TABLE alerts (id INTEGER PRIMARY KEY";
  auto column = [&](const char* name, const char* type, const char* default_sql) {
    sql += std::string(",\n  ") + name + " " + type + " NOT NULL DEFAULT " + default_sql;
  };
#define SIPMAN_TEXT_COLUMN(field) column(#field, "TEXT", "''");
  SIPMAN_ALERT_TEXT_COLUMNS(SIPMAN_TEXT_COLUMN)
#undef SIPMAN_TEXT_COLUMN
#define SIPMAN_INT_COLUMN(field) column(#field, integer, "0");
  SIPMAN_ALERT_INT_COLUMNS(SIPMAN_INT_COLUMN)
#undef SIPMAN_INT_COLUMN
#define SIPMAN_REAL_COLUMN(field) column(#field, real, "0");
  SIPMAN_ALERT_REAL_COLUMNS(SIPMAN_REAL_COLUMN)
#undef SIPMAN_REAL_COLUMN
  sql +=
      ");\n"
      "CREATE UNIQUE INDEX alerts_natural_key ON alerts(rule, key, fired_at, sensor);\n"
      "CREATE INDEX alerts_fired_at ON alerts(fired_at);\n"
      "CREATE INDEX alerts_firing ON alerts(state) WHERE state = 'firing';\n";
  return sql;
}

std::string UpsertAlertSql(bool postgres, std::string_view from) {
  std::string columns(kAlertColumns);
  columns.resize(columns.size() - 4);  // without ", id"
  std::string sql = "INSERT INTO alerts(" + columns + ") ";
  sql += from;
  // A resolution is taken over, never undone; an action's result replaces
  // an empty one. The WHERE makes a firing row analysed twice a duplicate.
  sql += postgres ? " ON CONFLICT (rule, key, fired_at, sensor) DO UPDATE SET "
                  : " ON CONFLICT(rule, key, fired_at, sensor) DO UPDATE SET ";
  sql +=
      "state = CASE WHEN excluded.state = 'resolved' THEN 'resolved' ELSE alerts.state END, "
      "resolved_at = CASE WHEN excluded.state = 'resolved' THEN excluded.resolved_at ELSE alerts.resolved_at END, "
      "resolved_value = CASE WHEN excluded.state = 'resolved' THEN excluded.resolved_value ELSE alerts.resolved_value END, "
      "resolve_threshold = CASE WHEN excluded.state = 'resolved' THEN excluded.resolve_threshold ELSE alerts.resolve_threshold END, "
      "action_result = CASE WHEN excluded.action_result <> '' THEN excluded.action_result ELSE alerts.action_result END "
      "WHERE (excluded.state = 'resolved' AND alerts.state <> 'resolved') OR "
      "(excluded.action_result <> '' AND excluded.action_result <> alerts.action_result)";
  return sql;
}

std::string AlertQuerySql(const AlertQuery& q, std::vector<std::string>* params) {
  params->clear();
  std::string sql = std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE 1 = 1";
  auto param = [&](std::string value) {
    params->push_back(std::move(value));
    std::string placeholder = "$";
    placeholder += std::to_string(params->size());
    return placeholder;
  };
  if (!q.state.empty()) sql += " AND state = " + param(q.state);
  if (!q.rule.empty()) sql += " AND rule = " + param(q.rule);
  if (!q.severity.empty()) sql += " AND severity = " + param(q.severity);
  if (!q.key.empty()) {
    // A plain substring: LIKE's wildcards in the text are escaped.
    std::string pattern = "%";
    for (char c : q.key) {
      if (c == '%' || c == '_' || c == '\\') pattern.push_back('\\');
      pattern.push_back(c);
    }
    pattern.push_back('%');
    // Case-insensitive on both backends (SQLite's LIKE is, PostgreSQL's is not).
    sql += " AND LOWER(key) LIKE LOWER(" + param(pattern) + ") ESCAPE '\\'";
  }
  if (q.from_ts > 0) sql += " AND fired_at >= " + param(std::to_string(q.from_ts));
  if (q.to_ts > 0) sql += " AND fired_at < " + param(std::to_string(q.to_ts));
  sql += " ORDER BY fired_at DESC, id DESC LIMIT " + std::to_string(q.limit > 0 ? q.limit : 1000);
  return sql;
}

std::vector<std::string> ParseEvidence(std::string_view json) {
  // The column is written by AlertRowOf: an array of JSON strings.
  std::vector<std::string> out;
  size_t i = json.find('[');
  if (i == std::string_view::npos) return out;
  ++i;
  while (i < json.size()) {
    while (i < json.size() && (json[i] == ' ' || json[i] == ',')) ++i;
    if (i >= json.size() || json[i] != '"') break;
    std::string item;
    for (++i; i < json.size() && json[i] != '"'; ++i) {
      char c = json[i];
      if (c == '\\' && i + 1 < json.size()) {
        c = json[++i];
        if (c == 'u' && i + 4 < json.size()) {
          unsigned v = 0;
          std::from_chars(json.data() + i + 1, json.data() + i + 5, v, 16);
          i += 4;
          if (v < 0x80) {
            item.push_back(static_cast<char>(v));
          } else if (v < 0x800) {
            item.push_back(static_cast<char>(0xc0 | (v >> 6)));
            item.push_back(static_cast<char>(0x80 | (v & 0x3f)));
          } else {
            item.push_back(static_cast<char>(0xe0 | (v >> 12)));
            item.push_back(static_cast<char>(0x80 | ((v >> 6) & 0x3f)));
            item.push_back(static_cast<char>(0x80 | (v & 0x3f)));
          }
          continue;
        }
        c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
      }
      item.push_back(c);
    }
    ++i;
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace sipman::store
