#include "web/auth.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "base/time.h"

namespace sipman::web {
namespace {

// A token's use is written at most this often, so that API calls by token
// do not each take the database's write lock.
constexpr int64_t kLastUsedResolutionNs = 60 * kNsPerSecond;
constexpr int64_t kNsPerDay = 86400 * kNsPerSecond;

constexpr size_t kMaxSessions = 10000;

}  // namespace

int64_t LoginRateLimiter::RetryAfter(const std::string& key, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  if (now_s - it->second.last_failure_s >= kForgetSeconds) {
    entries_.erase(it);
    return 0;
  }
  return std::max<int64_t>(0, it->second.locked_until_s - now_s);
}

void LoginRateLimiter::Failure(const std::string& key, int64_t now_s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= kMaxKeys && entries_.find(key) == entries_.end()) {
    // Forget the old and the unlocked first; a flood of keys must not grow memory.
    for (auto it = entries_.begin(); it != entries_.end();) {
      bool stale = now_s - it->second.last_failure_s >= kForgetSeconds ||
                   it->second.locked_until_s <= now_s;
      it = stale ? entries_.erase(it) : std::next(it);
    }
    if (entries_.size() >= kMaxKeys) entries_.clear();
  }
  Entry& e = entries_[key];
  if (e.failures > 0 && now_s - e.last_failure_s >= kForgetSeconds) e = Entry{};
  ++e.failures;
  e.last_failure_s = now_s;
  if (e.failures >= kFreeFailures) {
    int shift = std::min(e.failures - kFreeFailures, 16);
    int64_t lock = std::min<int64_t>(kBaseLockSeconds << shift, kMaxLockSeconds);
    e.locked_until_s = now_s + lock;
  }
}

void LoginRateLimiter::Success(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(key);
}

std::string RandomToken() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof(bytes));
  char text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof(text), bytes, sizeof(bytes),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

std::string TokenHash(std::string_view token) {
  unsigned char hash[32];
  crypto_generichash(hash, sizeof(hash), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  char hex[65];
  sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
  return hex;
}

Result<std::unique_ptr<Auth>> Auth::Open(const Options& options) {
  if (sodium_init() < 0) return Status::Error("cannot initialise libsodium");
  // PostgreSQL holds the calls, not the web users: those stay in a local
  // SQLite file (docs/API.md). Tokens from before tokens expired live
  // kDefaultTokenDays from this upgrade.
  auto users = store::UserDb::Open(options.db_path, WallClockNs() + kDefaultTokenDays * kNsPerDay);
  if (!users.ok()) return users.status();
  std::unique_ptr<Auth> auth(new Auth(std::move(*users), options));
  Status s = auth->Init();
  if (!s.ok()) return s;
  return auth;
}

Auth::~Auth() = default;

Result<std::string> Auth::HashPassword(std::string_view password) {
  char hash[crypto_pwhash_STRBYTES];
  unsigned long long ops = options_.opslimit ? options_.opslimit
                                             : crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t mem = options_.memlimit ? options_.memlimit : crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (crypto_pwhash_str(hash, password.data(), password.size(), ops, mem) != 0) {
    return Status::Error("cannot hash a password (out of memory?)");
  }
  return std::string(hash);
}

Status Auth::Init() {
  Result<std::string> dummy = HashPassword("sipman-dummy-password");
  if (!dummy.ok()) return dummy.status();
  dummy_hash_ = *dummy;
  Result<int64_t> users = users_->CountUsers();
  if (!users.ok()) return users.status();
  if (*users > 0) return Status::Ok();
  std::string password = options_.admin_password;
  bool generated = password.empty();
  if (generated) password = RandomToken().substr(0, 20);
  Status s = SetPassword("admin", password, 0);
  if (!s.ok()) return s;
  if (generated && options_.announce != nullptr) {
    std::fprintf(options_.announce,
                 "sipman: created web user 'admin' with password %s\n"
                 "sipman: it is shown only this once; keep it, or set SIPMAN_ADMIN_PASSWORD "
                 "before the first start\n",
                 password.c_str());
    std::fflush(options_.announce);
  }
  return Status::Ok();
}

Status Auth::SetPassword(const std::string& username, std::string_view password,
                         int64_t now_ns) {
  if (username.empty() || password.empty()) {
    return Status::Error("a user needs a name and a non-empty password");
  }
  Result<std::string> hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  return users_->PutUser(username, *hash, now_ns);
}

bool Auth::CheckPassword(const std::string& username, std::string_view password) {
  Result<std::optional<std::string>> stored = users_->PasswordHash(username);
  const bool known = stored.ok() && stored->has_value();
  // An unknown user costs the same hashing time as a known one.
  const std::string& hash = known ? **stored : dummy_hash_;
  bool match = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return known && match;
}

Auth::LoginOutcome Auth::VerifyPassword(std::string_view username, std::string_view password,
                                        const std::string& client_ip, int64_t now_s) {
  LoginOutcome out;
  std::string user(username);
  // Failures count per address (whatever the user) and per address and user
  // together, never per user alone: anyone could otherwise keep a user
  // locked out for ever with one wrong guess per lock period. The pair
  // bounds the guesses at one user from one address even when a success
  // there for another user resets the address.
  std::string ip_key = "ip:" + client_ip;
  std::string pair_key = "pair:" + client_ip + "\n" + user;
  int64_t wait = std::max(limiter_.RetryAfter(ip_key, now_s), limiter_.RetryAfter(pair_key, now_s));
  if (wait > 0) {
    out.result = LoginResult::kRateLimited;
    out.retry_after_s = wait;
    return out;
  }
  if (!CheckPassword(user, password)) {
    limiter_.Failure(ip_key, now_s);
    limiter_.Failure(pair_key, now_s);
    out.result = LoginResult::kWrongCredentials;
    return out;
  }
  limiter_.Success(ip_key);
  limiter_.Success(pair_key);
  out.result = LoginResult::kOk;
  return out;
}

Auth::LoginOutcome Auth::Login(std::string_view username, std::string_view password,
                               const std::string& client_ip, int64_t now_s) {
  // Taken before the (slow) password check: a password changed while it
  // ran must end the session it opens.
  const int64_t started_ns = WallClockNs();
  LoginOutcome out = VerifyPassword(username, password, client_ip, now_s);
  if (out.result == LoginResult::kOk) {
    out.session = NewSession(std::string(username), now_s, started_ns);
  }
  return out;
}

std::string Auth::NewSession(const std::string& username, int64_t now_s) {
  return NewSession(username, now_s, WallClockNs());
}

std::string Auth::NewSession(const std::string& username, int64_t now_s, int64_t created_ns) {
  std::string session = RandomToken();
  std::lock_guard<std::mutex> lock(sessions_mu_);
  if (sessions_.size() >= kMaxSessions) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = it->second.expires_s <= now_s ? sessions_.erase(it) : std::next(it);
    }
    if (sessions_.size() >= kMaxSessions) sessions_.erase(sessions_.begin());
  }
  sessions_[TokenHash(session)] = Session{username, now_s + options_.session_ttl_s, created_ns};
  return session;
}

std::optional<std::string> Auth::SessionUser(std::string_view session, int64_t now_s) {
  if (session.empty() || session.size() > 128) return std::nullopt;
  std::string key = TokenHash(session);
  Session found;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    auto it = sessions_.find(key);
    if (it == sessions_.end()) return std::nullopt;
    if (it->second.expires_s <= now_s) {
      sessions_.erase(it);
      return std::nullopt;
    }
    found = it->second;
  }
  // Read each time rather than trusted from memory: another process serving
  // the same file (sipman serve beside sipman run) may have changed it. A
  // database that cannot be read now ends no session (a change made here
  // has ended them in memory already).
  Result<std::optional<int64_t>> changed = users_->PasswordChangedNs(found.user);
  if (changed.ok() && (!changed->has_value() || **changed > found.created_ns)) {
    Logout(session);
    return std::nullopt;
  }
  return found.user;
}

void Auth::Logout(std::string_view session) {
  std::string key = TokenHash(session);
  std::lock_guard<std::mutex> lock(sessions_mu_);
  sessions_.erase(key);
}

Result<std::pair<std::string, Auth::TokenInfo>> Auth::CreateToken(const std::string& username,
                                                                  const std::string& name,
                                                                  int64_t expires_ns,
                                                                  int64_t now_ns) {
  std::string token = RandomToken();
  Result<int64_t> id = users_->AddToken(username, name, TokenHash(token), now_ns, expires_ns);
  if (!id.ok()) return id.status();
  TokenInfo info;
  info.id = *id;
  info.name = name;
  info.created_ns = now_ns;
  info.expires_ns = expires_ns;
  return std::make_pair(std::move(token), std::move(info));
}

Result<std::vector<Auth::TokenInfo>> Auth::ListTokens(const std::string& username,
                                                      int64_t now_ns) {
  return users_->Tokens(username, now_ns);
}

Result<bool> Auth::RevokeToken(const std::string& username, int64_t id) {
  return users_->DeleteToken(username, id);
}

std::optional<std::string> Auth::TokenUser(std::string_view token, int64_t now_ns) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  auto user = users_->TokenUser(TokenHash(token), now_ns, kLastUsedResolutionNs);
  if (!user.ok()) return std::nullopt;
  return *user;
}

Result<Auth::PasswordChange> Auth::ChangePassword(const std::string& username,
                                                  std::string_view password, int64_t now_ns) {
  if (password.empty()) return Status::Error("a password must not be empty");
  Result<std::string> hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  PasswordChange change;
  // The time of the change is its commit's: a login whose check began
  // during the slow hash above must not outlive it.
  Result<uint64_t> revoked =
      users_->ChangePassword(username, *hash, std::max(now_ns, WallClockNs()));
  if (!revoked.ok()) return revoked.status();
  change.tokens_revoked = *revoked;
  std::lock_guard<std::mutex> lock(sessions_mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.user == username) {
      it = sessions_.erase(it);
      ++change.sessions_ended;
    } else {
      ++it;
    }
  }
  return change;
}

}  // namespace sipman::web
