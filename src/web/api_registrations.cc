// Registrations: the search (GET /api/v1/registrations) and the bindings
// in force at a moment (GET /api/v1/registrations/current).
#include <optional>
#include <string>
#include <vector>

#include "web/api_handlers.h"

namespace sipman::web {
namespace {

void WriteRegistration(JsonWriter& w, const store::RegistrationRow& row) {
  const calls::RegistrationRecord& r = row.record;
  w.BeginObject();
  w.Field("id", row.id).Field("call_id", r.call_id).Field("sensor", r.sensor);
  w.Field("aor", r.aor).Field("contact", r.contact);
  w.Field("src_ip", r.src_ip.ToString()).Field("src_port", static_cast<int>(r.src_port));
  w.Field("user_agent", r.user_agent).Field("expires", r.expires);
  w.Field("result", r.result).Field("status_code", r.status_code);
  w.Field("challenges", r.challenges).Field("request_delay_ms", r.request_delay_ms);
  WriteTime(w, "first_seen", r.first_seen);
  WriteTime(w, "last_seen", r.last_seen);
  w.EndObject();
}

}  // namespace

void ListRegistrations(ApiContext& c) {
  store::RegistrationSearchQuery q;
  if (!c.TimeParam("from", &q.from_ts) || !c.TimeParam("to", &q.to_ts)) return;
  q.user = c.Param("user").value_or("");
  if (!c.IpParam(&q.ip)) return;
  q.result = c.Param("state").value_or("");
  if (!q.result.empty() && !calls::IsRegistrationResult(q.result)) {
    return c.Bad("state: one of success, unregistered, failed, expired");
  }
  q.sensor = c.Param("sensor").value_or("");
  std::optional<int64_t> limit;
  if (!c.IntParam("limit", 1, store::kMaxSearchLimit, &limit)) return;
  q.limit = limit ? static_cast<size_t>(*limit) : 50;
  if (!c.CursorParam("registrations",
                     "cursor: not a cursor of this listing (pass next_cursor back unchanged)",
                     &q.after) ||
      !c.NeedDb()) {
    return;
  }
  AnswerPage(c, "registrations", "registrations", c.worker->search->FindRegistrations(q),
             WriteRegistration);
}

void CurrentRegistrations(ApiContext& c) {
  TimestampNs at = 0;
  if (!c.TimeParam("at", &at)) return;
  std::optional<int64_t> limit;
  if (!c.IntParam("limit", 1, store::kMaxSearchLimit, &limit) || !c.NeedDb()) return;
  Result<std::vector<store::RegistrationRow>> rows =
      c.worker->search->CurrentRegistrations(at, limit ? static_cast<size_t>(*limit) : 500);
  if (!rows.ok()) return c.DbError(rows.status());
  JsonWriter w;
  w.BeginObject().Key("registrations").BeginArray();
  for (const store::RegistrationRow& row : *rows) WriteRegistration(w, row);
  w.EndArray().EndObject();
  c.Json(w);
}

}  // namespace sipman::web
