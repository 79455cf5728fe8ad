#include "web/auth.h"

#include <sodium.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace sipman::web {
namespace {

constexpr const char kAuthSchema[] =
    "CREATE TABLE IF NOT EXISTS web_users (id INTEGER PRIMARY KEY, username TEXT NOT NULL "
    "UNIQUE, password_hash TEXT NOT NULL, created_ns INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS web_tokens (id INTEGER PRIMARY KEY, username TEXT NOT NULL, "
    "name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL);";

constexpr size_t kMaxSessions = 10000;

// One prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void Text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  int64_t ColumnInt(int c) { return sqlite3_column_int64(stmt_, c); }
  std::string ColumnText(int c) {
    const unsigned char* p = sqlite3_column_text(stmt_, c);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, c)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

Status DbError(sqlite3* db, const std::string& what) {
  return Status::Error(what + ": " + sqlite3_errmsg(db));
}

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
  std::string path = options.db_path;
  // PostgreSQL holds the calls, not the web users: those stay in a local
  // SQLite file (docs/API.md).
  if (path.starts_with("postgresql://") || path.starts_with("postgres://")) {
    path = kDefaultUsersDb;
  }
  if (std::string_view(path).starts_with("sqlite:")) path = path.substr(7);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                  SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database " + path + " for web users: " +
                          (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return Status::Error(message);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Auth> auth(new Auth(db, options));
  Status s = auth->Init();
  if (!s.ok()) return s;
  return auth;
}

Auth::~Auth() { sqlite3_close(db_); }

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
  char* error = nullptr;
  if (sqlite3_exec(db_, kAuthSchema, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = std::string("cannot create the web user tables: ") +
                          (error ? error : "unknown error");
    sqlite3_free(error);
    return Status::Error(message);
  }
  Result<std::string> dummy = HashPassword("sipman-dummy-password");
  if (!dummy.ok()) return dummy.status();
  dummy_hash_ = *dummy;

  int64_t users = 0;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    Stmt st(db_, "SELECT COUNT(*) FROM web_users");
    if (!st.ok() || st.Step() != SQLITE_ROW) return DbError(db_, "cannot count web users");
    users = st.ColumnInt(0);
  }
  if (users > 0) return Status::Ok();
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
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_,
          "INSERT INTO web_users (username, password_hash, created_ns) VALUES (?, ?, ?) "
          "ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash");
  if (!st.ok()) return DbError(db_, "cannot store web user");
  st.Text(1, username);
  st.Text(2, *hash);
  st.Int(3, now_ns);
  if (st.Step() != SQLITE_DONE) return DbError(db_, "cannot store web user " + username);
  return Status::Ok();
}

bool Auth::CheckPassword(const std::string& username, std::string_view password) {
  std::string hash;
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    Stmt st(db_, "SELECT password_hash FROM web_users WHERE username = ?");
    if (st.ok()) {
      st.Text(1, username);
      if (st.Step() == SQLITE_ROW) {
        hash = st.ColumnText(0);
        known = true;
      }
    }
  }
  // An unknown user costs the same hashing time as a known one.
  if (!known) hash = dummy_hash_;
  bool match = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return known && match;
}

Auth::LoginOutcome Auth::Login(std::string_view username, std::string_view password,
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
  out.session = RandomToken();
  std::lock_guard<std::mutex> lock(sessions_mu_);
  if (sessions_.size() >= kMaxSessions) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = it->second.expires_s <= now_s ? sessions_.erase(it) : std::next(it);
    }
    if (sessions_.size() >= kMaxSessions) sessions_.erase(sessions_.begin());
  }
  sessions_[TokenHash(out.session)] = Session{user, now_s + options_.session_ttl_s};
  out.result = LoginResult::kOk;
  return out;
}

std::optional<std::string> Auth::SessionUser(std::string_view session, int64_t now_s) {
  if (session.empty() || session.size() > 128) return std::nullopt;
  std::string key = TokenHash(session);
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_s <= now_s) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second.user;
}

void Auth::Logout(std::string_view session) {
  std::string key = TokenHash(session);
  std::lock_guard<std::mutex> lock(sessions_mu_);
  sessions_.erase(key);
}

Result<std::string> Auth::CreateToken(const std::string& username, const std::string& name,
                                      int64_t now_ns) {
  std::string token = RandomToken();
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_, "INSERT INTO web_tokens (username, name, token_hash, created_ns) "
               "VALUES (?, ?, ?, ?)");
  if (!st.ok()) return DbError(db_, "cannot store API token");
  st.Text(1, username);
  st.Text(2, name);
  st.Text(3, TokenHash(token));
  st.Int(4, now_ns);
  if (st.Step() != SQLITE_DONE) return DbError(db_, "cannot store API token");
  return token;
}

std::optional<std::string> Auth::TokenUser(std::string_view token) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_, "SELECT t.username FROM web_tokens t JOIN web_users u ON u.username = "
               "t.username WHERE t.token_hash = ?");
  if (!st.ok()) return std::nullopt;
  st.Text(1, TokenHash(token));
  if (st.Step() != SQLITE_ROW) return std::nullopt;
  return st.ColumnText(0);
}

}  // namespace sipman::web
