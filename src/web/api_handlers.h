// Private to web/: what the API's handlers share. Each handler serves one
// row of the route table in api.cc and is given an ApiContext: the request,
// who sent it, the server's parts, and the checks and answers every handler
// needs. The handlers live in files named after what they serve:
// api_auth.cc, api_calls.cc, api_registrations.cc, api_stats.cc, api_ops.cc
// and live.cc.
#ifndef SIPMAN_WEB_API_HANDLERS_H_
#define SIPMAN_WEB_API_HANDLERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/call_search.h"
#include "web/api.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/json.h"
#include "web/live.h"
#include "web/resources.h"
#include "web/web.h"

namespace sipman::web {

inline constexpr char kSessionCookie[] = "sipman_session";

// Wall-clock time, in seconds (sessions) and nanoseconds (tokens).
int64_t NowS();
int64_t NowNs();

// One request to a route of the table, its query already checked against
// the route's parameters and its sender authenticated when the route needs
// it. Every JSON answer and every error goes through Json() and Fail(),
// so they have one shape (api.cc); the few answers that are not JSON (the
// text of /healthz and /metrics, a pcap, the live stream) fill `resp`
// themselves.
struct ApiContext {
  const HttpRequest& req;
  const ClientInfo& client;
  WorkerContext* worker;  // this thread's database connections
  HttpResponse* resp;
  QueryParams query;
  std::vector<std::string> path_params;  // "{id}" and the like, in order (not decoded)
  std::string user;                      // empty on the routes that need no login
  bool by_session = false;               // logged in by cookie rather than API token

  const WebServerOptions& options;
  store::Store* store;  // may be null
  Auth* auth;
  LiveHub* live;

  // The query parameter's value, or nullopt when absent or empty.
  std::optional<std::string> Param(std::string_view name) const;

  // `w`'s object as the answer, never cached.
  void Json(JsonWriter& w, int status = 200);
  // {"error": message} with `status`.
  void Fail(int status, std::string_view message);
  void Bad(std::string_view message) { Fail(400, message); }
  // A database read failed: 500 with the database's message.
  void DbError(const Status& status) { Fail(500, status.message()); }
  // Whether this worker's database connections are open; else answers 503.
  bool NeedDb();

  // Parameter readers: an absent parameter leaves *out as it is; a bad one
  // is answered 400 naming it, and they return false.
  bool TimeParam(std::string_view name, TimestampNs* out);
  bool IntParam(std::string_view name, int64_t min, int64_t max, std::optional<int64_t>* out);
  // "ip": an IPv4 or IPv6 address, or empty.
  bool IpParam(std::string* out);
  // "cursor": a next_cursor of the listing `kind`; `refusal` is the 400's
  // message for any other.
  bool CursorParam(std::string_view kind, std::string_view refusal,
                   std::optional<store::SearchCursor>* after);

  // Checks the logged-in user's password from body field `field`, under the
  // login rate limit; answers 403 or 429 itself when it is not right.
  bool PasswordChecked(const std::string& password, std::string_view field);
};

// "next_cursor": the cursor of the page after `next`, or null on the last page.
void WriteNextCursor(JsonWriter& w, std::string_view kind,
                     const std::optional<store::SearchCursor>& next);

// Answers with one page of a search: {"<name>": [row...], "next_cursor"},
// each row written by write_row(w, row); a database error as such.
template <typename Page, typename WriteRow>
void AnswerPage(ApiContext& c, std::string_view name, std::string_view cursor_kind,
                const Result<Page>& page, WriteRow&& write_row) {
  if (!page.ok()) return c.DbError(page.status());
  JsonWriter w;
  w.BeginObject().Key(name).BeginArray();
  for (const auto& row : page->rows) write_row(w, row);
  w.EndArray();
  WriteNextCursor(w, cursor_kind, page->next);
  w.EndObject();
  c.Json(w);
}

// The handlers, one per route (api.cc's table says which).
using ApiHandler = void (*)(ApiContext& c);

// api_ops.cc
void Healthz(ApiContext& c);
void Metrics(ApiContext& c);
// api_auth.cc
void Login(ApiContext& c);
void Logout(ApiContext& c);
void Me(ApiContext& c);
void CreateToken(ApiContext& c);
void ListTokens(ApiContext& c);
void RevokeToken(ApiContext& c);
void ChangePassword(ApiContext& c);
// api_calls.cc
void ListCalls(ApiContext& c);
void GetCall(ApiContext& c);
void GetCallPcap(ApiContext& c);
// api_registrations.cc
void ListRegistrations(ApiContext& c);
void CurrentRegistrations(ApiContext& c);
// api_stats.cc
void StatsSummary(ApiContext& c);
void StatsPeriods(ApiContext& c);
void StatsTop(ApiContext& c);
void StatsQuality(ApiContext& c);

// api_alerts.cc
void ListAlerts(ApiContext& c);
void AlertRules(ApiContext& c);
void StatsTraffic(ApiContext& c);
// live.cc
void LiveStream(ApiContext& c);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_API_HANDLERS_H_
