#include "web/api.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "sip/sip.h"
#include "store/store.h"
#include "web/api_util.h"
#include "web/assets.h"
#include "web/json.h"
#include "web/pcap.h"

namespace sipman::web {
namespace {

enum Route {
  kHealthz,
  kMetrics,
  kLogin,
  kLogout,
  kMe,
  kTokens,
  kTokenList,
  kTokenRevoke,
  kPassword,
  kCalls,
  kCallDetail,
  kCallPcap,
  kRegistrations,
  kRegistrationsCurrent,
  kStatsSummary,
  kStatsPeriods,
  kStatsTop,
  kStatsTraffic,
  kLive,
};

constexpr const char kSessionCookie[] = "sipman_session";

// Over HTTPS the browser must never send the session cookie in the clear.
const char* CookieSecure(const WebServerOptions& options) {
  return options.tls_cert_file.empty() ? "" : "; Secure";
}

constexpr size_t kMaxParamValue = 256;
// What a live stream refused for want of room tells the client to wait.
constexpr int kLiveRetryAfterS = 10;
// Messages of another call with the same Call-ID are left out of a call's
// messages when they lie this far outside its [invite_ts, end_ts].
constexpr TimestampNs kCallMessageMargin = 120 * kNsPerSecond;

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SetJsonError(HttpResponse* r, int status, std::string_view message) {
  JsonWriter w;
  w.BeginObject().Field("error", message).EndObject();
  r->status = status;
  r->content_type = "application/json";
  r->body = w.Take() + "\n";
}

void SetJson(HttpResponse* r, JsonWriter& w, int status = 200) {
  r->status = status;
  r->content_type = "application/json";
  r->body = w.Take();
  r->body += '\n';
  r->AddHeader("Cache-Control", "no-store");
}

bool ValidIp(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// The query parameters of one request, checked against what the endpoint
// knows: unknown or repeated names and over-long values are errors.
class Params {
 public:
  Params(const QueryParams& all) : all_(all) {}
  bool Check(std::initializer_list<std::string_view> allowed, std::string* error) {
    for (size_t i = 0; i < all_.size(); ++i) {
      const std::string& name = all_[i].first;
      bool known = false;
      for (std::string_view a : allowed) known = known || a == name;
      if (!known) {
        *error = "unknown parameter '" + name.substr(0, 64) + "'";
        return false;
      }
      for (size_t j = 0; j < i; ++j) {
        if (all_[j].first == name) {
          *error = "parameter '" + name + "' given twice";
          return false;
        }
      }
      if (all_[i].second.size() > kMaxParamValue) {
        *error = name + ": value too long (at most " + std::to_string(kMaxParamValue) +
                 " bytes)";
        return false;
      }
    }
    return true;
  }
  // The value, or nullopt when absent or empty.
  std::optional<std::string> Get(std::string_view name) const {
    for (const auto& [n, v] : all_) {
      if (n == name && !v.empty()) return v;
    }
    return std::nullopt;
  }

 private:
  const QueryParams& all_;
};

void WriteTime(JsonWriter& w, std::string_view ts_name, TimestampNs ts) {
  w.Field(ts_name, ts);
  std::string iso_name(ts_name);
  if (iso_name == "ts") {
    iso_name = "time";
  } else if (iso_name.ends_with("_ts")) {
    iso_name.replace(iso_name.size() - 3, 3, "_time");
  } else {
    iso_name += "_time";
  }
  w.Key(iso_name);
  if (ts > 0) {
    w.String(FormatIsoTime(ts));
  } else {
    w.Null();
  }
}

// The fields of an API token (docs/API.md, "GET /api/v1/tokens"); never its
// hash.
void WriteToken(const Auth::TokenInfo& t, JsonWriter* w) {
  w->Field("id", t.id).Field("name", t.name);
  WriteTime(*w, "created_ts", t.created_ns);
  WriteTime(*w, "expires_ts", t.expires_ns);
  WriteTime(*w, "last_used_ts", t.last_used_ns);
}

void WriteMedia(JsonWriter& w, const std::vector<calls::MediaStream>& media) {
  w.BeginArray();
  for (const calls::MediaStream& m : media) {
    w.BeginObject().Field("type", m.type).Field("address", m.address);
    w.Field("port", static_cast<int>(m.port)).Field("codecs", m.codecs).EndObject();
  }
  w.EndArray();
}

void WriteCall(JsonWriter& w, const store::CallRow& row) {
  const calls::CallRecord& r = row.record;
  w.BeginObject();
  w.Field("id", row.id).Field("call_id", r.call_id).Field("sensor", r.sensor);
  w.Field("also_seen_by", r.also_seen_by);
  w.Field("caller_user", r.caller_user).Field("caller_display", r.caller_display);
  w.Field("caller_domain", r.caller_domain).Field("caller_tag", r.caller_tag);
  w.Field("pai_user", r.pai_user).Field("callee_user", r.callee_user);
  w.Field("ruri_user", r.ruri_user).Field("callee_domain", r.callee_domain);
  w.Field("callee_tag", r.callee_tag).Field("diversion_user", r.diversion_user);
  w.Field("src_ip", r.src_ip.ToString()).Field("src_port", static_cast<int>(r.src_port));
  w.Field("dst_ip", r.dst_ip.ToString()).Field("dst_port", static_cast<int>(r.dst_port));
  w.Field("transport", r.transport);
  WriteTime(w, "invite_ts", r.invite_ts);
  WriteTime(w, "first_provisional_ts", r.first_provisional_ts);
  WriteTime(w, "first_18x_ts", r.first_18x_ts);
  WriteTime(w, "answer_ts", r.answer_ts);
  WriteTime(w, "ack_ts", r.ack_ts);
  WriteTime(w, "bye_ts", r.bye_ts);
  WriteTime(w, "cancel_ts", r.cancel_ts);
  WriteTime(w, "final_ts", r.final_ts);
  WriteTime(w, "end_ts", r.end_ts);
  w.Field("duration_ms", r.duration_ms).Field("connect_ms", r.connect_ms);
  w.Field("post_dial_delay_ms", r.post_dial_delay_ms);
  w.Field("disconnect_delay_ms", r.disconnect_delay_ms);
  w.Field("final_status", r.final_status).Field("final_reason", r.final_reason);
  w.Field("state", calls::CallStateName(r.state)).Field("hangup_by", r.hangup_by);
  w.Field("reason_protocol", r.reason_protocol).Field("reason_cause", r.reason_cause);
  w.Field("reason_text", r.reason_text);
  w.Field("caller_media_types", r.caller_media_types);
  w.Key("caller_media");
  WriteMedia(w, r.caller_media);
  w.Field("callee_media_types", r.callee_media_types);
  w.Key("callee_media");
  WriteMedia(w, r.callee_media);
  w.Field("caller_user_agent", r.caller_user_agent);
  w.Field("callee_user_agent", r.callee_user_agent);
  w.Field("message_count", r.message_count).Field("retransmissions", r.retransmissions);
  w.Field("byte_count", r.byte_count).Field("auth_challenges", r.auth_challenges);
  w.Field("correlation_id", r.correlation_id).Field("linked_call_id", r.linked_call_id);
  w.EndObject();
}

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

void WriteDistribution(JsonWriter& w, std::string_view name, const store::Distribution& d) {
  w.Key(name).BeginObject();
  w.Field("count", d.count);
  w.Key("mean_ms").OptionalDouble(d.mean_ms);
  auto opt = [&](std::string_view k, const std::optional<int64_t>& v) {
    w.Key(k);
    if (v) {
      w.Int(*v);
    } else {
      w.Null();
    }
  };
  opt("p50_ms", d.p50_ms);
  opt("p90_ms", d.p90_ms);
  opt("p95_ms", d.p95_ms);
  opt("p99_ms", d.p99_ms);
  w.EndObject();
}

void WriteKeyCounts(JsonWriter& w, const std::vector<store::KeyCount>& counts) {
  w.BeginArray();
  for (const store::KeyCount& k : counts) {
    w.BeginObject().Field("key", k.key).Field("calls", k.calls).Field("answered", k.answered);
    w.EndObject();
  }
  w.EndArray();
}

void WriteSummary(JsonWriter& w, const store::CallSummary& s) {
  w.BeginObject();
  w.Field("calls", s.calls);
  w.Key("by_state");
  WriteKeyCounts(w, s.by_state);
  w.Key("by_status");
  WriteKeyCounts(w, s.by_status);
  w.Field("invites_200", s.invites_200).Field("invites_2xx", s.invites_2xx);
  w.Field("invites_3xx", s.invites_3xx).Field("invites_effective", s.invites_effective);
  w.Field("invites_ineffective", s.invites_ineffective).Field("completed", s.completed);
  w.Field("network_effective", s.network_effective);
  w.Key("ser").OptionalDouble(s.ser);
  w.Key("seer").OptionalDouble(s.seer);
  w.Key("isa").OptionalDouble(s.isa);
  w.Key("scr").OptionalDouble(s.scr);
  w.Key("asr").OptionalDouble(s.asr);
  w.Key("ner").OptionalDouble(s.ner);
  WriteDistribution(w, "srd_successful", s.srd_successful);
  WriteDistribution(w, "srd_failed", s.srd_failed);
  WriteDistribution(w, "sdd", s.sdd);
  WriteDistribution(w, "sdt", s.sdt);
  w.Key("acd_ms").OptionalDouble(s.acd_ms);
  WriteDistribution(w, "post_dial_delay", s.post_dial_delay);
  WriteDistribution(w, "duration", s.duration);
  w.Key("duration_histogram").BeginArray();
  for (const store::DurationBucket& b : s.duration_histogram) {
    w.BeginObject().Field("lower_ms", b.lower_ms);
    w.Key("upper_ms");
    if (b.upper_ms < 0) {
      w.Null();
    } else {
      w.Int(b.upper_ms);
    }
    w.Field("calls", b.calls).EndObject();
  }
  w.EndArray();
  w.Field("registrations", s.registrations);
  w.Field("registrations_ineffective", s.registrations_ineffective);
  w.Key("ira").OptionalDouble(s.ira);
  WriteDistribution(w, "rrd", s.rrd);
  w.EndObject();
}

void WriteRatePeak(JsonWriter& w, std::string_view name, const stats::RatePeak& r) {
  w.Key(name).BeginObject();
  w.Field("average", r.average).Field("peak", r.peak);
  WriteTime(w, "peak_ts", r.peak_second * kNsPerSecond);
  w.EndObject();
}

void WriteTrafficRow(JsonWriter& w, const stats::TrafficCounters& c) {
  w.BeginObject();
  WriteTime(w, "ts", c.ts * kNsPerSecond);
  w.Field("packets", c.packets).Field("bytes", c.frame_bytes).Field("sip_bytes", c.sip_bytes);
  w.Field("messages", c.messages).Field("requests", c.requests).Field("responses", c.responses);
  w.Key("methods").BeginObject();
  for (size_t i = 0; i < stats::kMethodCount; ++i) w.Field(stats::kMethodNames[i], c.methods[i]);
  w.EndObject();
  w.Key("classes").BeginObject();
  for (size_t i = 0; i < stats::kClassCount; ++i) {
    w.Field(std::to_string(i + 1) + "xx", c.classes[i]);
  }
  w.EndObject();
  std::string codes;
  stats::AppendCodesJson(c.codes, &codes);
  w.Key("codes").Raw(codes);
  w.Field("kernel_drops", c.kernel_drops).Field("interface_drops", c.interface_drops);
  w.Field("tls_connections", c.tls_connections).Field("tls_bytes", c.tls_bytes);
  w.EndObject();
}

void WriteTrafficSummary(JsonWriter& w, const stats::TrafficSummary& s) {
  w.BeginObject();
  WriteTime(w, "first_ts", s.first_second * kNsPerSecond);
  WriteTime(w, "last_ts", s.last_second * kNsPerSecond);
  w.Field("span_seconds", s.span_seconds);
  w.Key("totals");
  WriteTrafficRow(w, s.totals);
  WriteRatePeak(w, "bytes_per_second", s.frame_bytes);
  WriteRatePeak(w, "messages_per_second", s.messages);
  w.Field("calls", s.calls);
  WriteRatePeak(w, "calls_per_second", s.calls_per_second);
  w.Key("concurrent_calls").BeginObject();
  w.Field("average", s.concurrent_calls.average).Field("peak", s.concurrent_calls.peak);
  WriteTime(w, "peak_ts", s.concurrent_calls.peak_ts);
  w.EndObject();
  w.EndObject();
}

void WriteSdp(JsonWriter& w, const store::StoredMessageRow& m, size_t index,
              const calls::CallRecord& call) {
  sip::SipMessage message;
  sip::ParseOptions options;
  options.datagram = true;
  if (sip::ParseSipMessage(m.raw, options, &message) != sip::ParseStatus::kComplete) return;
  std::string_view body = sip::FindSdpBody(message.content_type, message.body);
  if (body.empty()) return;
  sip::SdpSession sdp;
  if (!sip::ParseSdp(body, &sdp)) return;
  w.BeginObject();
  w.Field("message_index", static_cast<int64_t>(index)).Field("message_id", m.id);
  WriteTime(w, "ts", m.ts);
  w.Field("src_ip", m.src_ip.ToString()).Field("src_port", static_cast<int>(m.src_port));
  w.Field("dst_ip", m.dst_ip.ToString()).Field("dst_port", static_cast<int>(m.dst_port));
  bool from_caller = m.src_ip == call.src_ip && m.src_port == call.src_port;
  w.Field("side", from_caller ? "caller" : "callee");
  w.Field("origin_address", sdp.origin_address);
  w.Key("media").BeginArray();
  for (size_t i = 0; i < sdp.media_count; ++i) {
    const sip::SdpMedia& media = sdp.media[i];
    w.BeginObject().Field("type", media.type).Field("address", media.connection_address);
    w.Field("port", static_cast<int>(media.port)).Field("protocol", media.protocol);
    w.Field("direction", sip::MediaDirectionName(media.direction));
    w.Field("formats", media.formats);
    w.Key("codecs").BeginArray();
    for (size_t k = 0; k < media.rtpmap_count; ++k) {
      const sip::SdpRtpMap& map = media.rtpmaps[k];
      w.BeginObject().Field("payload_type", static_cast<int>(map.payload_type));
      w.Field("name", map.encoding).Field("clock_rate", map.clock_rate).EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

std::string_view FirstLine(std::string_view raw) {
  size_t end = raw.find_first_of("\r\n");
  return raw.substr(0, std::min<size_t>(end, 200));
}

}  // namespace

struct Api::Call {
  const HttpRequest& req;
  const ClientInfo& client;
  WorkerContext* ctx;
  HttpResponse* resp;
  QueryParams query;
  std::vector<std::string> path_params;
  std::string user;
  bool by_session = false;
};

Api::Api(const WebServerOptions& options, store::Store* store, Auth* auth, LiveHub* live)
    : options_(options), store_(store), auth_(auth), live_(live) {
  router_.Add("GET", "/healthz", kHealthz);
  router_.Add("GET", "/metrics", kMetrics);
  router_.Add("POST", "/api/v1/login", kLogin);
  router_.Add("POST", "/api/v1/logout", kLogout);
  router_.Add("GET", "/api/v1/me", kMe);
  router_.Add("POST", "/api/v1/tokens", kTokens);
  router_.Add("GET", "/api/v1/tokens", kTokenList);
  router_.Add("DELETE", "/api/v1/tokens/{id}", kTokenRevoke);
  router_.Add("POST", "/api/v1/password", kPassword);
  router_.Add("GET", "/api/v1/calls", kCalls);
  router_.Add("GET", "/api/v1/calls/{id}", kCallDetail);
  router_.Add("GET", "/api/v1/calls/{id}/pcap", kCallPcap);
  router_.Add("GET", "/api/v1/registrations", kRegistrations);
  router_.Add("GET", "/api/v1/registrations/current", kRegistrationsCurrent);
  router_.Add("GET", "/api/v1/stats/summary", kStatsSummary);
  router_.Add("GET", "/api/v1/stats/periods", kStatsPeriods);
  router_.Add("GET", "/api/v1/stats/top", kStatsTop);
  router_.Add("GET", "/api/v1/stats/traffic", kStatsTraffic);
  router_.Add("GET", "/api/v1/live", kLive);
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
  return id == kLogin || id == kPassword || id == kTokens;
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
    // The UI's files are public: they are the same in every installation
    // and hold no data; every data request goes through the API's checks.
    const EmbeddedAsset* asset = FindAsset(path);
    bool fallback = asset == nullptr;
    if (fallback) asset = FindAsset("/index.html");
    if (asset == nullptr) {
      SetJsonError(resp, 404, "not found");
      return;
    }
    resp->status = 200;
    resp->content_type = asset->content_type;
    resp->body.assign(asset->data, asset->size);
    resp->AddHeader("Cache-Control", !fallback && path.starts_with("/assets/")
                                         ? "public, max-age=31536000, immutable"
                                         : "no-cache");
    resp->AddHeader("Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                    "frame-ancestors 'none'");
    resp->AddHeader("X-Frame-Options", "DENY");
    resp->AddHeader("Referrer-Policy", "no-referrer");
    return;
  }

  Call c{req, client, ctx, resp, {}, std::move(match.params), {}, false};
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
  if (match.id != kHealthz && match.id != kLogin) {
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
      // A cross-site form cannot send this content type without a CORS
      // preflight, which this server never grants (SameSite=Strict aside).
      if (req.method == "POST" && !MediaTypeIs(req.Header("Content-Type"), "application/json")) {
        SetJsonError(resp, 415, "POST requests need Content-Type: application/json");
        return;
      }
    }
  }
  Dispatch(match.id, c);
}

void Api::Dispatch(int route, Call& c) {
  HttpResponse* resp = c.resp;
  Params params(c.query);
  std::string error;
  auto bad = [&](const std::string& message) { SetJsonError(resp, 400, message); };
  auto time_param = [&](std::string_view name, TimestampNs* out) -> bool {
    std::optional<std::string> v = params.Get(name);
    if (!v) return true;
    std::optional<TimestampNs> t = ParseApiTime(*v);
    if (!t) {
      bad(std::string(name) + ": not a time between 1970 and 2262 (nanoseconds since the "
                              "epoch, or ISO 8601 such as 2026-11-25T10:00:00Z)");
      return false;
    }
    *out = *t;
    return true;
  };
  auto int_param = [&](std::string_view name, int64_t min, int64_t max,
                       std::optional<int64_t>* out) -> bool {
    std::optional<std::string> v = params.Get(name);
    if (!v) return true;
    std::optional<int64_t> n = ParseInt(*v);
    if (!n || *n < min || *n > max) {
      bad(std::string(name) + ": must be an integer from " + std::to_string(min) + " to " +
          std::to_string(max));
      return false;
    }
    *out = n;
    return true;
  };
  auto need_db = [&]() -> bool {
    if (c.ctx->search && c.ctx->analytics) return true;
    SetJsonError(resp, 503, "database unavailable: " + c.ctx->open_error);
    return false;
  };
  auto db_error = [&](const Status& s) { SetJsonError(resp, 500, s.message()); };
  // Checks the logged-in user's password from body field `field`, under the
  // login rate limit; answers 403 or 429 itself when it is not right.
  auto password_checked = [&](const std::string& password, std::string_view field) -> bool {
    Auth::LoginOutcome check = auth_->VerifyPassword(c.user, password, c.client.ip, NowS());
    if (check.result == Auth::LoginResult::kOk) return true;
    if (check.result == Auth::LoginResult::kRateLimited) {
      resp->AddHeader("Retry-After", std::to_string(check.retry_after_s));
      SetJsonError(resp, 429, "too many failed attempts; try again later");
    } else {
      SetJsonError(resp, 403, std::string(field) + " is wrong");
    }
    return false;
  };

  switch (route) {
    case kHealthz: {
      // 200 either way: the server is up and a restart would not help (it
      // would lose the rows kept in memory). While the writer retries a
      // failed write, the body says "degraded" and why.
      resp->status = 200;
      resp->content_type = "text/plain; charset=utf-8";
      resp->body = "ok\n";
      if (store_ != nullptr) {
        const store::StoreCounters c = store_->counters();
        if (c.write_failing != 0) {
          resp->body = "degraded: database write failing for " +
                       std::to_string(c.write_failing_ms / 1000) + " s: " + c.last_write_error +
                       "; " + std::to_string(c.rows_pending) + " rows kept, retrying\n";
        }
      }
      return;
    }
    case kMetrics: {
      if (!params.Check({}, &error)) return bad(error);
      resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
      if (options_.metrics) {
        options_.metrics(&resp->body);
      } else if (store_ != nullptr) {
        store::TrafficQuery q;
        q.resolution = store::TrafficResolution::kHour;
        Result<std::vector<stats::TrafficCounters>> rows = store_->TrafficRows(q);
        if (!rows.ok()) return db_error(rows.status());
        stats::TrafficCounters totals;
        for (const stats::TrafficCounters& row : *rows) totals.AddAll(row);
        stats::RenderPrometheus(totals, &resp->body);
      }
      resp->body += "# HELP sipman_web_live_clients Clients connected to the live stream.\n"
                    "# TYPE sipman_web_live_clients gauge\nsipman_web_live_clients " +
                    std::to_string(live_->client_count()) + "\n";
      return;
    }
    case kLogin: {
      // Like every cookie-authenticated POST: a cross-site form cannot send
      // this type without a CORS preflight, which this server never grants.
      if (!MediaTypeIs(c.req.Header("Content-Type"), "application/json")) {
        return SetJsonError(resp, 415, "POST requests need Content-Type: application/json");
      }
      if (!params.Check({}, &error)) return bad(error);
      std::optional<std::map<std::string, std::string>> body = ParseFlatJsonObject(c.req.body);
      if (!body || !body->count("username") || !body->count("password")) {
        return bad("the body must be a JSON object {\"username\": ..., \"password\": ...}");
      }
      Auth::LoginOutcome out =
          auth_->Login((*body)["username"], (*body)["password"], c.client.ip, NowS());
      if (out.result == Auth::LoginResult::kRateLimited) {
        resp->AddHeader("Retry-After", std::to_string(out.retry_after_s));
        JsonWriter w;
        w.BeginObject().Field("error", "too many failed logins; try again later");
        w.Field("retry_after_s", out.retry_after_s).EndObject();
        return SetJson(resp, w, 429);
      }
      if (out.result != Auth::LoginResult::kOk) {
        return SetJsonError(resp, 401, "wrong user name or password");
      }
      resp->AddHeader("Set-Cookie", std::string(kSessionCookie) + "=" + out.session +
                                        "; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200" +
                                        CookieSecure(options_));
      JsonWriter w;
      w.BeginObject().Field("user", (*body)["username"]).EndObject();
      return SetJson(resp, w);
    }
    case kLogout: {
      if (!params.Check({}, &error)) return bad(error);
      if (c.by_session) auth_->Logout(CookieValue(c.req.Header("Cookie"), kSessionCookie));
      resp->AddHeader("Set-Cookie", std::string(kSessionCookie) +
                                        "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" +
                                        CookieSecure(options_));
      JsonWriter w;
      w.BeginObject().Field("ok", true).EndObject();
      return SetJson(resp, w);
    }
    case kMe: {
      if (!params.Check({}, &error)) return bad(error);
      JsonWriter w;
      w.BeginObject().Field("user", c.user).Field("auth", c.by_session ? "session" : "token");
      w.EndObject();
      return SetJson(resp, w);
    }
    case kTokens: {
      if (!params.Check({}, &error)) return bad(error);
      std::optional<std::map<std::string, std::string>> body = ParseFlatJsonObject(c.req.body);
      if (!body || !body->count("password")) {
        return bad("the body must be a JSON object {\"name\": ..., \"password\": ..., "
                   "\"expires_days\": ...} (the password of the logged-in user)");
      }
      std::string name = body->count("name") ? (*body)["name"] : "";
      if (name.size() > 100) return bad("name: at most 100 bytes");
      int64_t days = Auth::kDefaultTokenDays;
      if (body->count("expires_days")) {
        std::optional<int64_t> d = ParseInt((*body)["expires_days"]);
        if (!d || *d < 1 || *d > Auth::kMaxTokenDays) {
          return bad("expires_days: a whole number of days from 1 to " +
                     std::to_string(Auth::kMaxTokenDays));
        }
        days = *d;
      }
      // A token outlives the session that makes it: making one needs the
      // password again, as changing the password does.
      if (!password_checked((*body)["password"], "password")) return;
      const int64_t now = NowNs();
      auto token = auth_->CreateToken(c.user, name, now + days * 86400 * kNsPerSecond, now);
      if (!token.ok()) return db_error(token.status());
      JsonWriter w;
      w.BeginObject().Field("token", token->first).Field("user", c.user);
      WriteToken(token->second, &w);
      w.EndObject();
      return SetJson(resp, w, 201);
    }
    case kTokenList: {
      if (!params.Check({}, &error)) return bad(error);
      auto tokens = auth_->ListTokens(c.user, NowNs());
      if (!tokens.ok()) return db_error(tokens.status());
      JsonWriter w;
      w.BeginObject().Key("tokens").BeginArray();
      for (const Auth::TokenInfo& t : *tokens) {
        w.BeginObject();
        WriteToken(t, &w);
        w.EndObject();
      }
      w.EndArray().EndObject();
      return SetJson(resp, w);
    }
    case kTokenRevoke: {
      if (!params.Check({}, &error)) return bad(error);
      std::optional<int64_t> id = ParseInt(c.path_params[0]);
      if (!id || *id <= 0) return bad("id: not a token id (the \"id\" in GET /api/v1/tokens)");
      Result<bool> revoked = auth_->RevokeToken(c.user, *id);
      if (!revoked.ok()) return db_error(revoked.status());
      if (!*revoked) return SetJsonError(resp, 404, "you have no token with id " + c.path_params[0]);
      JsonWriter w;
      w.BeginObject().Field("ok", true).EndObject();
      return SetJson(resp, w);
    }
    case kPassword: {
      if (!params.Check({}, &error)) return bad(error);
      std::optional<std::map<std::string, std::string>> body = ParseFlatJsonObject(c.req.body);
      if (!body || !body->count("current_password") || !body->count("new_password")) {
        return bad("the body must be {\"current_password\": ..., \"new_password\": ...}");
      }
      const std::string& fresh = (*body)["new_password"];
      // Characters, as the GUI counts them: UTF-8 continuation bytes aside.
      const auto characters = std::count_if(fresh.begin(), fresh.end(), [](char ch) {
        return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
      });
      if (characters < 8 || characters > 256) {
        return bad("new_password: 8 to 256 characters");
      }
      if (!password_checked((*body)["current_password"], "current_password")) return;
      Result<Auth::PasswordChange> change = auth_->ChangePassword(c.user, fresh, NowNs());
      if (!change.ok()) return db_error(change.status());
      // Every session of the user ended with the old password; the browser
      // that changed it goes on with a new one.
      if (c.by_session) {
        resp->AddHeader("Set-Cookie", std::string(kSessionCookie) + "=" +
                                          auth_->NewSession(c.user, NowS()) +
                                          "; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200" +
                                          CookieSecure(options_));
      }
      JsonWriter w;
      w.BeginObject().Field("ok", true).Field("sessions_ended", change->sessions_ended);
      w.Field("tokens_revoked", change->tokens_revoked).EndObject();
      return SetJson(resp, w);
    }
    case kCalls: {
      if (!params.Check({"from", "to", "caller", "caller_contains", "callee", "callee_contains",
                         "call_id", "ip", "state", "status", "min_duration_ms",
                         "max_duration_ms", "sensor", "sort", "limit", "cursor"},
                        &error)) {
        return bad(error);
      }
      store::CallSearchQuery q;
      if (!time_param("from", &q.from_ts) || !time_param("to", &q.to_ts)) return;
      q.caller = params.Get("caller").value_or("");
      q.caller_contains = params.Get("caller_contains").value_or("");
      q.callee = params.Get("callee").value_or("");
      q.callee_contains = params.Get("callee_contains").value_or("");
      q.call_id = params.Get("call_id").value_or("");
      q.sensor = params.Get("sensor").value_or("");
      q.ip = params.Get("ip").value_or("");
      if (!q.ip.empty() && !ValidIp(q.ip)) return bad("ip: not an IPv4 or IPv6 address");
      if (std::optional<std::string> states = params.Get("state")) {
        std::string_view rest = *states;
        while (true) {
          size_t comma = rest.find(',');
          std::string state(rest.substr(0, comma));
          calls::CallState known[] = {calls::CallState::kAnswered, calls::CallState::kBusy,
                                      calls::CallState::kCancelled, calls::CallState::kNoAnswer,
                                      calls::CallState::kFailed, calls::CallState::kInProgress,
                                      calls::CallState::kTimedOut};
          bool ok = false;
          for (calls::CallState k : known) ok = ok || calls::CallStateName(k) == state;
          if (!ok) {
            return bad("state: unknown state '" + state.substr(0, 40) +
                       "' (answered, busy, cancelled, no_answer, failed, in_progress, "
                       "timed_out; several separated by commas)");
          }
          q.states.push_back(state);
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
      }
      if (std::optional<std::string> statuses = params.Get("status")) {
        std::string_view rest = *statuses;
        while (true) {
          size_t comma = rest.find(',');
          std::optional<int64_t> code = ParseInt(rest.substr(0, comma));
          if (!code || *code < 0 || *code > 699 || q.statuses.size() >= 20) {
            return bad("status: SIP status codes 0-699 separated by commas (0: none)");
          }
          q.statuses.push_back(static_cast<int>(*code));
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
      }
      std::optional<int64_t> min_d, max_d, limit;
      if (!int_param("min_duration_ms", 0, int64_t{1} << 50, &min_d) ||
          !int_param("max_duration_ms", 0, int64_t{1} << 50, &max_d) ||
          !int_param("limit", 1, store::kMaxSearchLimit, &limit)) {
        return;
      }
      q.min_duration_ms = min_d;
      q.max_duration_ms = max_d;
      q.limit = limit ? static_cast<size_t>(*limit) : 50;
      std::string sort = params.Get("sort").value_or("-invite_ts");
      if (sort == "invite_ts") {
        q.sort = store::CallSort::kInviteAsc;
      } else if (sort == "-invite_ts") {
        q.sort = store::CallSort::kInviteDesc;
      } else if (sort == "duration_ms") {
        q.sort = store::CallSort::kDurationAsc;
      } else if (sort == "-duration_ms") {
        q.sort = store::CallSort::kDurationDesc;
      } else {
        return bad("sort: one of invite_ts, -invite_ts, duration_ms, -duration_ms");
      }
      std::string kind = "calls" + sort;
      if (std::optional<std::string> text = params.Get("cursor")) {
        std::optional<Cursor> cursor = DecodeCursor(*text);
        if (!cursor || cursor->kind != kind) {
          return bad("cursor: not a cursor of this listing and sort order (pass next_cursor "
                     "back unchanged, with the same sort)");
        }
        q.after = store::SearchCursor{cursor->key, cursor->id};
      }
      if (!need_db()) return;
      Result<store::CallPage> page = c.ctx->search->FindCalls(q);
      if (!page.ok()) return db_error(page.status());
      JsonWriter w;
      w.BeginObject().Key("calls").BeginArray();
      for (const store::CallRow& row : page->rows) WriteCall(w, row);
      w.EndArray().Key("next_cursor");
      if (page->next) {
        w.String(EncodeCursor(Cursor{kind, page->next->key, page->next->id}));
      } else {
        w.Null();
      }
      w.EndObject();
      return SetJson(resp, w);
    }
    case kCallDetail:
    case kCallPcap: {
      if (!params.Check({}, &error)) return bad(error);
      std::optional<int64_t> id = ParseInt(c.path_params[0]);
      if (!id || *id <= 0) return bad("id: not a call id (the \"id\" of a call in /api/v1/calls)");
      if (!need_db()) return;
      Result<std::optional<store::CallRow>> call = c.ctx->search->GetCall(*id);
      if (!call.ok()) return db_error(call.status());
      if (!call->has_value()) return SetJsonError(resp, 404, "no call with id " + c.path_params[0]);
      const store::CallRow& row = **call;
      if (store_ == nullptr) return SetJsonError(resp, 503, "messages are not available");
      Result<std::vector<store::StoredMessageRow>> all = store_->MessagesOfCall(row.record.call_id);
      if (!all.ok()) return db_error(all.status());
      std::vector<store::StoredMessageRow> messages;
      for (store::StoredMessageRow& m : *all) {
        if (m.sensor != row.record.sensor) continue;
        if (row.record.invite_ts > 0 && m.ts < row.record.invite_ts - kCallMessageMargin) continue;
        if (row.record.end_ts > 0 && m.ts > row.record.end_ts + kCallMessageMargin) continue;
        messages.push_back(std::move(m));
      }
      if (route == kCallPcap) {
        resp->status = 200;
        resp->content_type = "application/vnd.tcpdump.pcap";
        resp->body = BuildCallPcap(messages);
        resp->AddHeader("Content-Disposition",
                        "attachment; filename=\"call-" + std::to_string(row.id) + ".pcap\"");
        resp->AddHeader("Cache-Control", "no-store");
        return;
      }
      JsonWriter w;
      w.BeginObject().Key("call");
      WriteCall(w, row);
      w.Key("messages").BeginArray();
      for (const store::StoredMessageRow& m : messages) {
        w.BeginObject().Field("id", m.id);
        WriteTime(w, "ts", m.ts);
        w.Field("src_ip", m.src_ip.ToString()).Field("src_port", static_cast<int>(m.src_port));
        w.Field("dst_ip", m.dst_ip.ToString()).Field("dst_port", static_cast<int>(m.dst_port));
        w.Field("transport", m.transport).Field("is_request", m.status == 0);
        w.Field("method", m.method).Field("status", m.status).Field("cseq", m.cseq);
        w.Field("first_line", FirstLine(m.raw));
        w.Field("size", static_cast<uint64_t>(m.raw.size())).Field("raw", m.raw);
        w.EndObject();
      }
      w.EndArray();
      w.Key("sdp").BeginArray();
      for (size_t i = 0; i < messages.size(); ++i) WriteSdp(w, messages[i], i, row.record);
      w.EndArray();
      w.EndObject();
      return SetJson(resp, w);
    }
    case kRegistrations: {
      if (!params.Check({"from", "to", "user", "ip", "state", "sensor", "limit", "cursor"},
                        &error)) {
        return bad(error);
      }
      store::RegistrationSearchQuery q;
      if (!time_param("from", &q.from_ts) || !time_param("to", &q.to_ts)) return;
      q.user = params.Get("user").value_or("");
      q.ip = params.Get("ip").value_or("");
      if (!q.ip.empty() && !ValidIp(q.ip)) return bad("ip: not an IPv4 or IPv6 address");
      q.result = params.Get("state").value_or("");
      if (!q.result.empty() && q.result != "success" && q.result != "unregistered" &&
          q.result != "failed" && q.result != "expired") {
        return bad("state: one of success, unregistered, failed, expired");
      }
      q.sensor = params.Get("sensor").value_or("");
      std::optional<int64_t> limit;
      if (!int_param("limit", 1, store::kMaxSearchLimit, &limit)) return;
      q.limit = limit ? static_cast<size_t>(*limit) : 50;
      if (std::optional<std::string> text = params.Get("cursor")) {
        std::optional<Cursor> cursor = DecodeCursor(*text);
        if (!cursor || cursor->kind != "registrations") {
          return bad("cursor: not a cursor of this listing (pass next_cursor back unchanged)");
        }
        q.after = store::SearchCursor{cursor->key, cursor->id};
      }
      if (!need_db()) return;
      Result<store::RegistrationPage> page = c.ctx->search->FindRegistrations(q);
      if (!page.ok()) return db_error(page.status());
      JsonWriter w;
      w.BeginObject().Key("registrations").BeginArray();
      for (const store::RegistrationRow& row : page->rows) WriteRegistration(w, row);
      w.EndArray().Key("next_cursor");
      if (page->next) {
        w.String(EncodeCursor(Cursor{"registrations", page->next->key, page->next->id}));
      } else {
        w.Null();
      }
      w.EndObject();
      return SetJson(resp, w);
    }
    case kRegistrationsCurrent: {
      if (!params.Check({"at", "limit"}, &error)) return bad(error);
      TimestampNs at = 0;
      if (!time_param("at", &at)) return;
      std::optional<int64_t> limit;
      if (!int_param("limit", 1, store::kMaxSearchLimit, &limit)) return;
      if (!need_db()) return;
      Result<std::vector<store::RegistrationRow>> rows =
          c.ctx->search->CurrentRegistrations(at, limit ? static_cast<size_t>(*limit) : 500);
      if (!rows.ok()) return db_error(rows.status());
      JsonWriter w;
      w.BeginObject().Key("registrations").BeginArray();
      for (const store::RegistrationRow& row : *rows) WriteRegistration(w, row);
      w.EndArray().EndObject();
      return SetJson(resp, w);
    }
    case kStatsSummary:
    case kStatsPeriods:
    case kStatsTop: {
      bool ok = route == kStatsSummary ? params.Check({"from", "to", "sensor"}, &error)
                : route == kStatsPeriods
                    ? params.Check({"from", "to", "sensor", "by"}, &error)
                    : params.Check({"from", "to", "sensor", "by", "limit"}, &error);
      if (!ok) return bad(error);
      store::AnalyticsQuery q;
      if (!time_param("from", &q.from_ts) || !time_param("to", &q.to_ts)) return;
      q.sensor = params.Get("sensor").value_or("");
      if (route == kStatsSummary) {
        if (!need_db()) return;
        Result<store::CallSummary> summary = c.ctx->analytics->Summary(q);
        if (!summary.ok()) return db_error(summary.status());
        JsonWriter w;
        WriteSummary(w, *summary);
        return SetJson(resp, w);
      }
      std::string by = params.Get("by").value_or(route == kStatsPeriods ? "hour" : "caller");
      if (route == kStatsPeriods) {
        store::Period period;
        if (by == "hour") {
          period = store::Period::kHour;
        } else if (by == "day") {
          period = store::Period::kDay;
        } else if (by == "week") {
          period = store::Period::kWeek;
        } else {
          return bad("by: one of hour, day, week");
        }
        if (!need_db()) return;
        Result<std::vector<store::PeriodCount>> rows = c.ctx->analytics->ByPeriod(q, period);
        if (!rows.ok()) return db_error(rows.status());
        JsonWriter w;
        w.BeginObject().Field("by", by).Key("periods").BeginArray();
        for (const store::PeriodCount& p : *rows) {
          w.BeginObject();
          WriteTime(w, "start_ts", p.start_ts);
          w.Field("calls", p.calls).Field("answered", p.answered);
          w.Field("duration_ms_sum", p.duration_ms_sum).EndObject();
        }
        w.EndArray().EndObject();
        return SetJson(resp, w);
      }
      std::optional<int64_t> limit;
      if (!int_param("limit", 1, 100, &limit)) return;
      q.top_n = limit ? static_cast<size_t>(*limit) : 10;
      if (by != "caller" && by != "callee" && by != "user" && by != "ip" && by != "agent") {
        return bad("by: one of caller, callee, user, ip, agent");
      }
      if (!need_db()) return;
      Result<std::vector<store::KeyCount>> rows =
          by == "caller"   ? c.ctx->analytics->TopUsers(q, store::UserSide::kCaller)
          : by == "callee" ? c.ctx->analytics->TopUsers(q, store::UserSide::kCallee)
          : by == "user"   ? c.ctx->analytics->TopUsers(q, store::UserSide::kEither)
          : by == "ip"     ? c.ctx->analytics->TopSourceIps(q)
                           : c.ctx->analytics->TopUserAgents(q);
      if (!rows.ok()) return db_error(rows.status());
      JsonWriter w;
      w.BeginObject().Field("by", by).Key("top");
      WriteKeyCounts(w, *rows);
      w.EndObject();
      return SetJson(resp, w);
    }
    case kStatsTraffic: {
      if (!params.Check({"from", "to", "sensor", "step"}, &error)) return bad(error);
      store::TrafficQuery q;
      if (!time_param("from", &q.from_ts) || !time_param("to", &q.to_ts)) return;
      q.sensor = params.Get("sensor").value_or("");
      bool bounded = q.from_ts > 0 && q.to_ts > q.from_ts;
      TimestampNs span = bounded ? q.to_ts - q.from_ts : 0;
      std::string step = params.Get("step").value_or(
          !bounded ? "hour" : span <= 2 * 3600 * kNsPerSecond ? "second"
                            : span <= 7 * 86400 * kNsPerSecond ? "minute" : "hour");
      if (step == "second") {
        if (!bounded || span > 2 * 86400 * kNsPerSecond) {
          return bad("step: second needs from and to at most 2 days apart; use minute or hour");
        }
        q.resolution = store::TrafficResolution::kSecond;
      } else if (step == "minute") {
        if (!bounded || span > 90 * 86400 * kNsPerSecond) {
          return bad("step: minute needs from and to at most 90 days apart; use hour");
        }
        q.resolution = store::TrafficResolution::kMinute;
      } else if (step == "hour") {
        q.resolution = store::TrafficResolution::kHour;
      } else {
        return bad("step: one of second, minute, hour");
      }
      if (store_ == nullptr) return SetJsonError(resp, 503, "traffic is not available");
      Result<std::vector<stats::TrafficCounters>> rows = store_->TrafficRows(q);
      if (!rows.ok()) return db_error(rows.status());
      Result<stats::TrafficSummary> summary = store_->SummarizeTraffic(q);
      if (!summary.ok()) return db_error(summary.status());
      JsonWriter w;
      w.BeginObject().Field("step", step).Key("rows").BeginArray();
      for (const stats::TrafficCounters& row : *rows) WriteTrafficRow(w, row);
      w.EndArray();
      w.Key("summary");
      WriteTrafficSummary(w, *summary);
      w.EndObject();
      return SetJson(resp, w);
    }
    case kLive: {
      if (!params.Check({}, &error)) return bad(error);
      if (c.req.method == "HEAD") {  // the stream's head, and no stream
        resp->status = 200;
        resp->content_type = "text/event-stream";
        resp->AddHeader("Cache-Control", "no-store");
        resp->unknown_length = true;
        return;
      }
      switch (live_->Reserve(c.user)) {
        case LiveHub::Admission::kOk:
          break;
        case LiveHub::Admission::kUserFull:
          resp->AddHeader("Retry-After", std::to_string(kLiveRetryAfterS));
          return SetJsonError(
              resp, 503,
              "too many live streams for user " + c.user + " (at most " +
                  std::to_string(live_->max_clients_per_user()) +
                  "): close one (another browser tab?) or poll GET /api/v1/stats/traffic");
        case LiveHub::Admission::kFull:
          resp->AddHeader("Retry-After", std::to_string(kLiveRetryAfterS));
          return SetJsonError(resp, 503,
                              "too many live streams on this server (at most " +
                                  std::to_string(live_->max_clients()) + "); try again later");
      }
      resp->event_stream = true;
      resp->stream_user = c.user;
      return;
    }
    default:
      return SetJsonError(resp, 404, "not found");
  }
}

std::string TrafficSummaryJson(const stats::TrafficSummary& summary) {
  JsonWriter w;
  WriteTrafficSummary(w, summary);
  return w.Take();
}

}  // namespace sipman::web
