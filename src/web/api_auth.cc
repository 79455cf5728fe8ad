// Who is calling: login and logout (the session cookie), the logged-in
// user, API tokens and the password change. The checks on every request
// (cookie or token) are in api.cc; users, sessions and tokens in auth.cc.
#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "web/api_handlers.h"
#include "web/api_util.h"

namespace sipman::web {
namespace {

// Over HTTPS the browser must never send the session cookie in the clear.
const char* CookieSecure(const WebServerOptions& options) {
  return options.tls_cert_file.empty() ? "" : "; Secure";
}

// The fields of an API token (docs/API.md, "GET /api/v1/tokens"); never its
// hash.
void WriteToken(const Auth::TokenInfo& t, JsonWriter* w) {
  w->Field("id", t.id).Field("name", t.name);
  WriteTime(*w, "created_ts", t.created_ns);
  WriteTime(*w, "expires_ts", t.expires_ns);
  WriteTime(*w, "last_used_ts", t.last_used_ns);
}

void WriteOk(ApiContext& c) {
  JsonWriter w;
  w.BeginObject().Field("ok", true).EndObject();
  c.Json(w);
}

}  // namespace

void Login(ApiContext& c) {
  // Content-Type: application/json was checked in api.cc, as for every
  // cookie-authenticated POST.
  std::optional<std::map<std::string, std::string>> body = ParseFlatJsonObject(c.req.body);
  if (!body || !body->count("username") || !body->count("password")) {
    return c.Bad("the body must be a JSON object {\"username\": ..., \"password\": ...}");
  }
  Auth::LoginOutcome out =
      c.auth->Login((*body)["username"], (*body)["password"], c.client.ip, NowS());
  if (out.result == Auth::LoginResult::kRateLimited) {
    c.resp->AddHeader("Retry-After", std::to_string(out.retry_after_s));
    JsonWriter w;
    w.BeginObject().Field("error", "too many failed logins; try again later");
    w.Field("retry_after_s", out.retry_after_s).EndObject();
    return c.Json(w, 429);
  }
  if (out.result != Auth::LoginResult::kOk) return c.Fail(401, "wrong user name or password");
  c.resp->AddHeader("Set-Cookie", std::string(kSessionCookie) + "=" + out.session +
                                      "; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200" +
                                      CookieSecure(c.options));
  JsonWriter w;
  w.BeginObject().Field("user", (*body)["username"]).EndObject();
  c.Json(w);
}

void Logout(ApiContext& c) {
  if (c.by_session) c.auth->Logout(CookieValue(c.req.Header("Cookie"), kSessionCookie));
  c.resp->AddHeader("Set-Cookie", std::string(kSessionCookie) +
                                      "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" +
                                      CookieSecure(c.options));
  WriteOk(c);
}

void Me(ApiContext& c) {
  JsonWriter w;
  w.BeginObject().Field("user", c.user).Field("auth", c.by_session ? "session" : "token");
  w.EndObject();
  c.Json(w);
}

void CreateToken(ApiContext& c) {
  std::optional<std::map<std::string, std::string>> body = ParseFlatJsonObject(c.req.body);
  if (!body || !body->count("password")) {
    return c.Bad("the body must be a JSON object {\"name\": ..., \"password\": ..., "
                 "\"expires_days\": ...} (the password of the logged-in user)");
  }
  std::string name = body->count("name") ? (*body)["name"] : "";
  if (name.size() > 100) return c.Bad("name: at most 100 bytes");
  int64_t days = Auth::kDefaultTokenDays;
  if (body->count("expires_days")) {
    std::optional<int64_t> d = ParseInt((*body)["expires_days"]);
    if (!d || *d < 1 || *d > Auth::kMaxTokenDays) {
      return c.Bad("expires_days: a whole number of days from 1 to " +
                   std::to_string(Auth::kMaxTokenDays));
    }
    days = *d;
  }
  // A token outlives the session that makes it: making one needs the
  // password again, as changing the password does.
  if (!c.PasswordChecked((*body)["password"], "password")) return;
  const int64_t now = NowNs();
  auto token = c.auth->CreateToken(c.user, name, now + days * 86400 * kNsPerSecond, now);
  if (!token.ok()) return c.DbError(token.status());
  JsonWriter w;
  w.BeginObject().Field("token", token->first).Field("user", c.user);
  WriteToken(token->second, &w);
  w.EndObject();
  c.Json(w, 201);
}

void ListTokens(ApiContext& c) {
  auto tokens = c.auth->ListTokens(c.user, NowNs());
  if (!tokens.ok()) return c.DbError(tokens.status());
  JsonWriter w;
  w.BeginObject().Key("tokens").BeginArray();
  for (const Auth::TokenInfo& t : *tokens) {
    w.BeginObject();
    WriteToken(t, &w);
    w.EndObject();
  }
  w.EndArray().EndObject();
  c.Json(w);
}

void RevokeToken(ApiContext& c) {
  std::optional<int64_t> id = ParseInt(c.path_params[0]);
  if (!id || *id <= 0) return c.Bad("id: not a token id (the \"id\" in GET /api/v1/tokens)");
  Result<bool> revoked = c.auth->RevokeToken(c.user, *id);
  if (!revoked.ok()) return c.DbError(revoked.status());
  if (!*revoked) return c.Fail(404, "you have no token with id " + c.path_params[0]);
  WriteOk(c);
}

void ChangePassword(ApiContext& c) {
  std::optional<std::map<std::string, std::string>> body = ParseFlatJsonObject(c.req.body);
  if (!body || !body->count("current_password") || !body->count("new_password")) {
    return c.Bad("the body must be {\"current_password\": ..., \"new_password\": ...}");
  }
  const std::string& fresh = (*body)["new_password"];
  // Characters, as the GUI counts them: UTF-8 continuation bytes aside.
  const auto characters = std::count_if(fresh.begin(), fresh.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  });
  if (characters < 8 || characters > 256) return c.Bad("new_password: 8 to 256 characters");
  if (!c.PasswordChecked((*body)["current_password"], "current_password")) return;
  Result<Auth::PasswordChange> change = c.auth->ChangePassword(c.user, fresh, NowNs());
  if (!change.ok()) return c.DbError(change.status());
  // Every session of the user ended with the old password; the browser
  // that changed it goes on with a new one.
  if (c.by_session) {
    c.resp->AddHeader("Set-Cookie", std::string(kSessionCookie) + "=" +
                                        c.auth->NewSession(c.user, NowS()) +
                                        "; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200" +
                                        CookieSecure(c.options));
  }
  JsonWriter w;
  w.BeginObject().Field("ok", true).Field("sessions_ended", change->sessions_ended);
  w.Field("tokens_revoked", change->tokens_revoked).EndObject();
  c.Json(w);
}

}  // namespace sipman::web
