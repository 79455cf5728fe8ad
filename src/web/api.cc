// The API's front: the route table, then what every request goes through
// before its handler (path, query, origin, authentication) and the one
// place answers and errors are written. The handlers are in api_*.cc and
// live.cc (api_handlers.h).
#include "web/api.h"

#include <arpa/inet.h>

#include <chrono>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "web/api_handlers.h"
#include "web/api_util.h"
#include "web/assets.h"
#include "web/json.h"

namespace sipman::web {
namespace {

// Who may call a route, and where it runs.
enum RouteFlags : unsigned {
  kPublic = 0,          // no login: the health check, and the login itself
  kLogin = 1,           // a session cookie or an API token
  kHashesPassword = 2,  // runs on the password threads (Api::HashesPasswords)
};

// The query of a route with this is not checked at all (only /healthz).
constexpr const char* kAnyQuery = nullptr;
constexpr size_t kMaxParamValue = 256;

// One row per endpoint (docs/API.md describes each): method, path pattern
// ("{id}" is a path parameter), the query parameters it takes separated by
// spaces ("": none; any other, a repeated one or a value over
// kMaxParamValue bytes is a 400 before the handler runs), who may call it,
// and its handler.
struct ApiRoute {
  const char* method;
  const char* pattern;
  const char* query;
  unsigned flags;
  ApiHandler handler;
};

constexpr ApiRoute kRoutes[] = {
    {"GET", "/healthz", kAnyQuery, kPublic, Healthz},
    {"GET", "/metrics", "", kLogin, Metrics},
    {"POST", "/api/v1/login", "", kPublic | kHashesPassword, Login},
    {"POST", "/api/v1/logout", "", kLogin, Logout},
    {"GET", "/api/v1/me", "", kLogin, Me},
    {"POST", "/api/v1/tokens", "", kLogin | kHashesPassword, CreateToken},
    {"GET", "/api/v1/tokens", "", kLogin, ListTokens},
    {"DELETE", "/api/v1/tokens/{id}", "", kLogin, RevokeToken},
    {"POST", "/api/v1/password", "", kLogin | kHashesPassword, ChangePassword},
    {"GET", "/api/v1/calls",
     "from to caller caller_contains callee callee_contains call_id ip state status "
     "min_duration_ms max_duration_ms mos_below media_flag sensor sort limit cursor",
     kLogin, ListCalls},
    {"GET", "/api/v1/calls/{id}", "", kLogin, GetCall},
    {"GET", "/api/v1/calls/{id}/pcap", "", kLogin, GetCallPcap},
    {"GET", "/api/v1/registrations", "from to user ip state sensor limit cursor", kLogin,
     ListRegistrations},
    {"GET", "/api/v1/registrations/current", "at limit", kLogin, CurrentRegistrations},
    {"GET", "/api/v1/stats/summary", "from to sensor", kLogin, StatsSummary},
    {"GET", "/api/v1/stats/periods", "from to sensor by", kLogin, StatsPeriods},
    {"GET", "/api/v1/stats/top", "from to sensor by limit", kLogin, StatsTop},
    {"GET", "/api/v1/stats/traffic", "from to sensor step", kLogin, StatsTraffic},
    {"GET", "/api/v1/stats/quality", "from to sensor by limit", kLogin, StatsQuality},
    {"GET", "/api/v1/alerts", "state rule severity key from to limit", kLogin, ListAlerts},
    {"GET", "/api/v1/alerts/rules", "", kLogin, AlertRules},
    {"GET", "/api/v1/live", "", kLogin, LiveStream},
};

// The query checked against what the route takes (`allowed`, names
// separated by spaces): unknown or repeated names and over-long values are
// errors.
bool CheckQuery(const QueryParams& all, std::string_view allowed, std::string* error) {
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& name = all[i].first;
    bool known = false;
    for (std::string_view rest = allowed; !rest.empty() && !known;) {
      size_t space = rest.find(' ');
      known = rest.substr(0, space) == name;
      rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
    }
    if (!known) {
      *error = "unknown parameter '" + name.substr(0, 64) + "'";
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (all[j].first == name) {
        *error = "parameter '" + name + "' given twice";
        return false;
      }
    }
    if (all[i].second.size() > kMaxParamValue) {
      *error = name + ": value too long (at most " + std::to_string(kMaxParamValue) + " bytes)";
      return false;
    }
  }
  return true;
}

void SetJsonError(HttpResponse* r, int status, std::string_view message) {
  JsonWriter w;
  w.BeginObject().Field("error", message).EndObject();
  r->status = status;
  r->content_type = "application/json";
  r->body = w.Take() + "\n";
}

bool ValidIp(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

}  // namespace

int64_t NowS() { return WallClockNs() / kNsPerSecond; }
int64_t NowNs() { return WallClockNs(); }

void WriteNextCursor(JsonWriter& w, std::string_view kind,
                     const std::optional<store::SearchCursor>& next) {
  w.Key("next_cursor");
  if (next) {
    w.String(EncodeCursor(Cursor{std::string(kind), next->key, next->id}));
  } else {
    w.Null();
  }
}

std::optional<std::string> ApiContext::Param(std::string_view name) const {
  for (const auto& [n, v] : query) {
    if (n == name && !v.empty()) return v;
  }
  return std::nullopt;
}

void ApiContext::Json(JsonWriter& w, int status) {
  resp->status = status;
  resp->content_type = "application/json";
  resp->body = w.Take();
  resp->body += '\n';
  resp->AddHeader("Cache-Control", "no-store");
}

void ApiContext::Fail(int status, std::string_view message) {
  SetJsonError(resp, status, message);
}

bool ApiContext::NeedDb() {
  if (worker->search && worker->analytics) return true;
  Fail(503, "database unavailable: " + worker->open_error);
  return false;
}

bool ApiContext::TimeParam(std::string_view name, TimestampNs* out) {
  std::optional<std::string> v = Param(name);
  if (!v) return true;
  std::optional<TimestampNs> t = ParseApiTime(*v);
  if (!t) {
    Bad(std::string(name) + ": not a time between 1970 and 2262 (nanoseconds since the "
                            "epoch, or ISO 8601 such as 2026-11-25T10:00:00Z)");
    return false;
  }
  *out = *t;
  return true;
}

bool ApiContext::IntParam(std::string_view name, int64_t min, int64_t max,
                          std::optional<int64_t>* out) {
  std::optional<std::string> v = Param(name);
  if (!v) return true;
  std::optional<int64_t> n = ParseInt(*v);
  if (!n || *n < min || *n > max) {
    Bad(std::string(name) + ": must be an integer from " + std::to_string(min) + " to " +
        std::to_string(max));
    return false;
  }
  *out = n;
  return true;
}

bool ApiContext::IpParam(std::string* out) {
  *out = Param("ip").value_or("");
  if (!out->empty() && !ValidIp(*out)) {
    Bad("ip: not an IPv4 or IPv6 address");
    return false;
  }
  return true;
}

bool ApiContext::CursorParam(std::string_view kind, std::string_view refusal,
                             std::optional<store::SearchCursor>* after) {
  std::optional<std::string> text = Param("cursor");
  if (!text) return true;
  std::optional<Cursor> cursor = DecodeCursor(*text);
  if (!cursor || cursor->kind != kind) {
    Bad(refusal);
    return false;
  }
  *after = store::SearchCursor{cursor->key, cursor->id};
  return true;
}

bool ApiContext::PasswordChecked(const std::string& password, std::string_view field) {
  Auth::LoginOutcome check = auth->VerifyPassword(user, password, client.ip, NowS());
  if (check.result == Auth::LoginResult::kOk) return true;
  if (check.result == Auth::LoginResult::kRateLimited) {
    resp->AddHeader("Retry-After", std::to_string(check.retry_after_s));
    Fail(429, "too many failed attempts; try again later");
  } else {
    Fail(403, std::string(field) + " is wrong");
  }
  return false;
}

Api::Api(const WebServerOptions& options, store::Store* store, Auth* auth, LiveHub* live)
    : options_(options), store_(store), auth_(auth), live_(live) {
  for (size_t i = 0; i < std::size(kRoutes); ++i) {
    router_.Add(kRoutes[i].method, kRoutes[i].pattern, static_cast<int>(i));
  }
}

void Api::InitWorker(WorkerContext* context) const {
  Result<std::unique_ptr<store::CallSearch>> search = store::CallSearch::Open(options_.db_path);
  if (search.ok()) {
    context->search = std::move(*search);
  } else {
    context->open_error = search.status().message();
  }
  Result<std::unique_ptr<store::CallAnalytics>> analytics =
      store::CallAnalytics::Open(options_.db_path);
  if (analytics.ok()) {
    context->analytics = std::move(*analytics);
  } else {
    context->open_error = analytics.status().message();
  }
}

bool Api::HashesPasswords(const HttpRequest& req) const {
  std::string path;
  if (req.method != "POST" || !PercentDecode(req.path, false, &path)) return false;
  int id = router_.Find(req.method, path).id;  // as Handle() routes it
  return id >= 0 && (kRoutes[id].flags & kHashesPassword) != 0;
}

void Api::Handle(const HttpRequest& req, const ClientInfo& client, WorkerContext* ctx,
                 HttpResponse* resp) {
  std::string path;
  if (!PercentDecode(req.path, false, &path)) {
    SetJsonError(resp, 400, "malformed %-escape in the path");
    return;
  }
  Router::Match match = router_.Find(req.method, path);
  if (match.id < 0) {
    if (match.path_known) {
      resp->AddHeader("Allow", match.allow);
      SetJsonError(resp, 405, "method " + std::string(req.method) + " not allowed here; use " +
                                  match.allow);
      return;
    }
    if (path.starts_with("/api/")) {
      SetJsonError(resp, 404, "no such endpoint: " + path.substr(0, 200));
      return;
    }
    if (req.method != "GET" && req.method != "HEAD") {
      resp->AddHeader("Allow", "GET, HEAD");
      SetJsonError(resp, 405, "only GET and HEAD are served here");
      return;
    }
    if (!ServeUiFile(path, resp)) SetJsonError(resp, 404, "not found");
    return;
  }
  const ApiRoute& route = kRoutes[match.id];

  ApiContext c{req, client, ctx, resp, {}, std::move(match.params), {}, false,
               options_, store_, auth_, live_};
  std::string error;
  if (!ParseQuery(req.query, &c.query, &error)) {
    SetJsonError(resp, 400, error);
    return;
  }
  // A browser names the page that sent a request in Origin. A request that
  // changes something must come from this server's own pages: a page
  // elsewhere could otherwise log the browser in as the attacker (login
  // CSRF) or act with its session. Scripts send no Origin.
  if (req.method != "GET" && req.method != "HEAD") {
    std::string_view origin = req.Header("Origin");
    if (!origin.empty() && !SameOrigin(origin, req.Header("Host"), !options_.tls_cert_file.empty())) {
      SetJsonError(resp, 403, "cross-origin request refused: Origin " +
                                  std::string(origin.substr(0, 200)) +
                                  " is not the origin of this server (Host " +
                                  std::string(req.Header("Host").substr(0, 200)) + ")");
      return;
    }
  }
  if (route.flags & kLogin) {
    std::string_view authorization = req.Header("Authorization");
    if (!authorization.empty()) {
      std::optional<std::string> user;
      if (authorization.size() > 7 && (authorization.starts_with("Bearer ") ||
                                       authorization.starts_with("bearer "))) {
        user = auth_->TokenUser(authorization.substr(7), NowNs());
      }
      if (!user) {
        resp->AddHeader("WWW-Authenticate", "Bearer realm=\"sipman\"");
        SetJsonError(resp, 401, "invalid API token");
        return;
      }
      c.user = *user;
    } else {
      std::string_view session = CookieValue(req.Header("Cookie"), kSessionCookie);
      std::optional<std::string> user = auth_->SessionUser(session, NowS());
      if (!user) {
        resp->AddHeader("WWW-Authenticate", "Bearer realm=\"sipman\"");
        SetJsonError(resp, 401, "authentication required: log in (POST /api/v1/login) or send "
                                "an API token (Authorization: Bearer ...)");
        return;
      }
      c.user = *user;
      c.by_session = true;
    }
  }
  // A POST that a session cookie authenticates, or the login that sets the
  // cookie, must be JSON: a cross-site form cannot send this content type
  // without a CORS preflight, which this server never grants (SameSite=Strict
  // aside).
  if (req.method == "POST" && (c.by_session || !(route.flags & kLogin)) &&
      !MediaTypeIs(req.Header("Content-Type"), "application/json")) {
    SetJsonError(resp, 415, "POST requests need Content-Type: application/json");
    return;
  }
  if (route.query != kAnyQuery && !CheckQuery(c.query, route.query, &error)) {
    SetJsonError(resp, 400, error);
    return;
  }
  route.handler(c);
}

}  // namespace sipman::web
