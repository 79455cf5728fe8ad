// GET /api/v1/alerts and /api/v1/alerts/rules.
#include "store/store.h"
#include "web/api_handlers.h"

namespace sipman::web {

void ListAlerts(ApiContext& c) {
  store::AlertQuery q;
  q.state = c.Param("state").value_or("");
  if (!q.state.empty() && q.state != "firing" && q.state != "resolved") {
    return c.Bad("state: \"firing\" or \"resolved\"");
  }
  q.severity = c.Param("severity").value_or("");
  if (!q.severity.empty() && q.severity != "info" && q.severity != "warning" &&
      q.severity != "critical") {
    return c.Bad("severity: \"info\", \"warning\" or \"critical\"");
  }
  q.rule = c.Param("rule").value_or("");
  q.key = c.Param("key").value_or("");
  TimestampNs from = 0, to = 0;
  if (!c.TimeParam("from", &from) || !c.TimeParam("to", &to)) return;
  q.from_ts = from;
  q.to_ts = to;
  std::optional<int64_t> limit;
  if (!c.IntParam("limit", 1, 10000, &limit)) return;
  q.limit = limit.value_or(500);
  if (c.store == nullptr) return c.Fail(503, "no database is open");
  Result<std::vector<store::AlertRow>> rows = c.store->Alerts(q);
  if (!rows.ok()) return c.DbError(rows.status());
  store::AlertQuery firing_query;
  firing_query.state = "firing";
  firing_query.limit = 100000;
  Result<std::vector<store::AlertRow>> firing = c.store->Alerts(firing_query);
  if (!firing.ok()) return c.DbError(firing.status());
  JsonWriter w;
  w.BeginObject().Key("alerts").BeginArray();
  for (const store::AlertRow& row : *rows) WriteAlert(w, row);
  w.EndArray().Field("firing", static_cast<uint64_t>(firing->size())).EndObject();
  c.Json(w);
}

void AlertRules(ApiContext& c) {
  if (!c.options.alert_rules) {
    JsonWriter w;
    w.BeginObject().Field("live", false).Key("rules").BeginArray().EndArray().EndObject();
    return c.Json(w);
  }
  JsonWriter w;
  w.Raw(c.options.alert_rules());
  c.Json(w);
}

}  // namespace sipman::web
