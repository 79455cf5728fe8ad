// The store's alerts (table alerts): one row per time a rule fired for a
// key, updated when it resolves and when its action has run. The columns are
// declared here once, for both backends' schema, writers and readers, and
// for the web API's and `sipman alerts --json`'s JSON.
#ifndef SIPMAN_STORE_ALERTS_TABLE_H_
#define SIPMAN_STORE_ALERTS_TABLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alerts.h"
#include "base/status.h"

namespace sipman::store {

// Text columns: kind is the metric; grouped_by the key kind; state
// "firing" or "resolved"; evidence a JSON array of strings; action_result
// what the action did ("" before it ran or without one).
#define SIPMAN_ALERT_TEXT_COLUMNS(X)                                                  \
  X(rule) X(kind) X(category) X(grouped_by) X(key) X(severity) X(state) X(evidence)  \
  X(sensor) X(action) X(action_result)
// fired_at and resolved_at in ns since the epoch (resolved_at 0 while firing).
#define SIPMAN_ALERT_INT_COLUMNS(X) X(fired_at) X(resolved_at)
// value and threshold when it fired; resolved_value and resolve_threshold
// when it resolved.
#define SIPMAN_ALERT_REAL_COLUMNS(X) X(value) X(threshold) X(resolved_value) X(resolve_threshold)

struct AlertRow {
  int64_t id = 0;  // read back only
#define SIPMAN_DECLARE_TEXT(field) std::string field;
  SIPMAN_ALERT_TEXT_COLUMNS(SIPMAN_DECLARE_TEXT)
#undef SIPMAN_DECLARE_TEXT
#define SIPMAN_DECLARE_INT(field) int64_t field = 0;
  SIPMAN_ALERT_INT_COLUMNS(SIPMAN_DECLARE_INT)
#undef SIPMAN_DECLARE_INT
#define SIPMAN_DECLARE_REAL(field) double field = 0;
  SIPMAN_ALERT_REAL_COLUMNS(SIPMAN_DECLARE_REAL)
#undef SIPMAN_DECLARE_REAL
};

#define SIPMAN_ALERT_COLUMN_NAME(field) #field ", "
inline constexpr const char kAlertColumns[] =
    SIPMAN_ALERT_TEXT_COLUMNS(SIPMAN_ALERT_COLUMN_NAME)
        SIPMAN_ALERT_INT_COLUMNS(SIPMAN_ALERT_COLUMN_NAME)
            SIPMAN_ALERT_REAL_COLUMNS(SIPMAN_ALERT_COLUMN_NAME) "id";
#undef SIPMAN_ALERT_COLUMN_NAME
#define SIPMAN_ALERT_COUNT_ONE(field) +1
inline constexpr int kAlertColumnCount = SIPMAN_ALERT_TEXT_COLUMNS(SIPMAN_ALERT_COUNT_ONE)
    SIPMAN_ALERT_INT_COLUMNS(SIPMAN_ALERT_COUNT_ONE) SIPMAN_ALERT_REAL_COLUMNS(SIPMAN_ALERT_COUNT_ONE);
#undef SIPMAN_ALERT_COUNT_ONE

// Calls text(name, std::string&), integer(name, int64_t&) and real(name,
// double&) on each written column of `row` in kAlertColumns order (id is
// not visited).
template <typename Row, typename Text, typename Integer, typename Real>
void VisitNamedAlertColumns(Row& row, Text text, Integer integer, Real real) {
#define SIPMAN_VISIT_TEXT(field) text(#field, row.field);
  SIPMAN_ALERT_TEXT_COLUMNS(SIPMAN_VISIT_TEXT)
#undef SIPMAN_VISIT_TEXT
#define SIPMAN_VISIT_INT(field) integer(#field, row.field);
  SIPMAN_ALERT_INT_COLUMNS(SIPMAN_VISIT_INT)
#undef SIPMAN_VISIT_INT
#define SIPMAN_VISIT_REAL(field) real(#field, row.field);
  SIPMAN_ALERT_REAL_COLUMNS(SIPMAN_VISIT_REAL)
#undef SIPMAN_VISIT_REAL
}

template <typename Row, typename Text, typename Integer, typename Real>
void VisitAlertColumns(Row& row, Text text, Integer integer, Real real) {
  VisitNamedAlertColumns(
      row, [&](const char*, auto& v) { text(v); }, [&](const char*, auto& v) { integer(v); },
      [&](const char*, auto& v) { real(v); });
}

// The row of an alert change; `sensor` when the alert names none.
AlertRow AlertRowOf(const alerts::Alert& alert, std::string_view sensor);

// An alert's row and a later change of it (same rule, key, fired_at and
// sensor): the resolution and an action's result are taken over.
void MergeAlertRow(const AlertRow& later, AlertRow* row);

// The migration that creates alerts and its indexes. Natural key (rule, key,
// fired_at, sensor): analysing a capture twice adds nothing.
std::string CreateAlertsTableSql(bool postgres);

// INSERT of one row that, on the natural key, takes over a resolution and
// an action's result (never a resolved alert back to firing): "?N"
// placeholders for SQLite, "$N" for PostgreSQL; `from` is "VALUES (...)"
// or a SELECT.
std::string UpsertAlertSql(bool postgres, std::string_view from);

// What `sipman alerts` and GET /api/v1/alerts filter on.
struct AlertQuery {
  std::string state;     // "firing", "resolved" or "" (both)
  std::string rule;
  std::string severity;
  std::string key;       // a substring of the key
  int64_t from_ts = 0;   // fired_at at least (0: no bound)
  int64_t to_ts = 0;     // fired_at before (0: no bound)
  int64_t limit = 1000;
};
// The SELECT for a query, newest first, "$N" placeholders (SQLite reads
// them in order); *params gets their values as text (integers formatted).
std::string AlertQuerySql(const AlertQuery& query, std::vector<std::string>* params);

// The evidence column (a JSON array of strings) as its strings.
std::vector<std::string> ParseEvidence(std::string_view json);

}  // namespace sipman::store

#endif  // SIPMAN_STORE_ALERTS_TABLE_H_
