#include "web/auth.h"

#include <sodium.h>
#include <sqlite3.h>

#include "base/time.h"
#include "store/store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace sipman::web {
namespace {

constexpr const char kAuthSchema[] =
    "CREATE TABLE IF NOT EXISTS web_users (id INTEGER PRIMARY KEY, username TEXT NOT NULL "
    "UNIQUE, password_hash TEXT NOT NULL, created_ns INTEGER NOT NULL, "
    "password_changed_ns INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS web_tokens (id INTEGER PRIMARY KEY, username TEXT NOT NULL, "
    "name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL, "
    "expires_ns INTEGER NOT NULL DEFAULT 0, last_used_ns INTEGER NOT NULL DEFAULT 0);";

// Columns added after the first release, for tables created before them.
// Tokens made when tokens did not expire get kDefaultTokenDays from the
// upgrade: not for ever, and not expired at once under a running script.
struct AddedColumn {
  const char* table;
  const char* column;
  const char* sql;
};
constexpr AddedColumn kAddedColumns[] = {
    {"web_users", "password_changed_ns",
     "ALTER TABLE web_users ADD COLUMN password_changed_ns INTEGER NOT NULL DEFAULT 0"},
    {"web_tokens", "last_used_ns",
     "ALTER TABLE web_tokens ADD COLUMN last_used_ns INTEGER NOT NULL DEFAULT 0"},
    {"web_tokens", "expires_ns",
     "ALTER TABLE web_tokens ADD COLUMN expires_ns INTEGER NOT NULL DEFAULT 0"},
};

// A token's use is written at most this often, so that API calls by token
// do not each take the database's write lock.
constexpr int64_t kLastUsedResolutionNs = 60 * kNsPerSecond;

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
  void Reset() { sqlite3_reset(stmt_); }
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
  // PostgreSQL holds the calls, not the web users: those stay in a local
  // SQLite file (docs/API.md).
  const store::StoreUrl url = store::ParseStoreUrl(options.db_path);
  const std::string path = url.postgres ? std::string(kDefaultUsersDb) : url.sqlite_path;
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
  for (const AddedColumn& added : kAddedColumns) {
    std::lock_guard<std::mutex> lock(db_mu_);
    Stmt has(db_, "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?");
    if (!has.ok()) return DbError(db_, "cannot read the web user tables' columns");
    has.Text(1, added.table);
    has.Text(2, added.column);
    if (has.Step() != SQLITE_ROW) return DbError(db_, "cannot read the web user tables' columns");
    if (has.ColumnInt(0) > 0) continue;
    if (sqlite3_exec(db_, added.sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      // Another process starting on the same file may have added it first.
      has.Reset();
      if (has.Step() == SQLITE_ROW && has.ColumnInt(0) > 0) continue;
      return DbError(db_, std::string("cannot add ") + added.table + "." + added.column +
                              " (upgrading the web user tables)");
    }
    if (std::string_view(added.column) == "expires_ns") {
      Stmt st(db_, "UPDATE web_tokens SET expires_ns = ?");
      st.Int(1, WallNs() + kDefaultTokenDays * 86400 * kNsPerSecond);
      if (!st.ok() || st.Step() != SQLITE_DONE) return DbError(db_, "cannot date old API tokens");
    }
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
          "ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, "
          "password_changed_ns = excluded.created_ns");
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
  const int64_t started_ns = WallNs();
  LoginOutcome out = VerifyPassword(username, password, client_ip, now_s);
  if (out.result == LoginResult::kOk) {
    out.session = NewSession(std::string(username), now_s, started_ns);
  }
  return out;
}

std::string Auth::NewSession(const std::string& username, int64_t now_s) {
  return NewSession(username, now_s, WallNs());
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

Result<std::optional<int64_t>> Auth::PasswordChangedNs(const std::string& username) {
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_, "SELECT password_changed_ns FROM web_users WHERE username = ?");
  if (!st.ok()) return DbError(db_, "cannot read web user " + username);
  st.Text(1, username);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<int64_t>();
  if (rc != SQLITE_ROW) return DbError(db_, "cannot read web user " + username);
  return std::optional<int64_t>(st.ColumnInt(0));
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
  Result<std::optional<int64_t>> changed = PasswordChangedNs(found.user);
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
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_, "INSERT INTO web_tokens (username, name, token_hash, created_ns, expires_ns) "
               "VALUES (?, ?, ?, ?, ?)");
  if (!st.ok()) return DbError(db_, "cannot store API token");
  st.Text(1, username);
  st.Text(2, name);
  st.Text(3, TokenHash(token));
  st.Int(4, now_ns);
  st.Int(5, expires_ns);
  if (st.Step() != SQLITE_DONE) return DbError(db_, "cannot store API token");
  TokenInfo info;
  info.id = sqlite3_last_insert_rowid(db_);
  info.name = name;
  info.created_ns = now_ns;
  info.expires_ns = expires_ns;
  return std::make_pair(std::move(token), std::move(info));
}

Result<std::vector<Auth::TokenInfo>> Auth::ListTokens(const std::string& username,
                                                      int64_t now_ns) {
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_, "SELECT id, name, created_ns, expires_ns, last_used_ns FROM web_tokens "
               "WHERE username = ? AND expires_ns > ? ORDER BY created_ns DESC, id DESC");
  if (!st.ok()) return DbError(db_, "cannot list API tokens");
  st.Text(1, username);
  st.Int(2, now_ns);
  std::vector<TokenInfo> tokens;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    TokenInfo t;
    t.id = st.ColumnInt(0);
    t.name = st.ColumnText(1);
    t.created_ns = st.ColumnInt(2);
    t.expires_ns = st.ColumnInt(3);
    t.last_used_ns = st.ColumnInt(4);
    tokens.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return DbError(db_, "cannot list API tokens");
  return tokens;
}

Result<bool> Auth::RevokeToken(const std::string& username, int64_t id) {
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_, "DELETE FROM web_tokens WHERE id = ? AND username = ?");
  if (!st.ok()) return DbError(db_, "cannot revoke API token");
  st.Int(1, id);
  st.Text(2, username);
  if (st.Step() != SQLITE_DONE) return DbError(db_, "cannot revoke API token");
  return sqlite3_changes(db_) > 0;
}

std::optional<std::string> Auth::TokenUser(std::string_view token, int64_t now_ns) {
  if (token.empty() || token.size() > 128) return std::nullopt;
  std::lock_guard<std::mutex> lock(db_mu_);
  Stmt st(db_, "SELECT t.username, t.id, t.last_used_ns FROM web_tokens t JOIN web_users u "
               "ON u.username = t.username WHERE t.token_hash = ? AND t.expires_ns > ?");
  if (!st.ok()) return std::nullopt;
  st.Text(1, TokenHash(token));
  st.Int(2, now_ns);
  if (st.Step() != SQLITE_ROW) return std::nullopt;
  std::string user = st.ColumnText(0);
  const int64_t last_used = st.ColumnInt(2);
  if (last_used == 0 || now_ns - last_used >= kLastUsedResolutionNs) {
    Stmt used(db_, "UPDATE web_tokens SET last_used_ns = ? WHERE id = ?");
    used.Int(1, now_ns);
    used.Int(2, st.ColumnInt(1));
    if (used.ok()) used.Step();  // best effort: a busy database must not refuse the request
  }
  return user;
}

Result<Auth::PasswordChange> Auth::ChangePassword(const std::string& username,
                                                  std::string_view password, int64_t now_ns) {
  if (password.empty()) return Status::Error("a password must not be empty");
  Result<std::string> hash = HashPassword(password);
  if (!hash.ok()) return hash.status();
  PasswordChange change;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return DbError(db_, "cannot change the password of " + username);
    }
    Stmt update(db_, "UPDATE web_users SET password_hash = ?, password_changed_ns = ? "
                     "WHERE username = ?");
    // The time of the change is its commit's: a login whose check began
    // during the slow hash above must not outlive it.
    now_ns = std::max(now_ns, WallNs());
    Stmt revoke(db_, "DELETE FROM web_tokens WHERE username = ?");
    bool ok = update.ok() && revoke.ok();
    if (ok) {
      update.Text(1, *hash);
      update.Int(2, now_ns);
      update.Text(3, username);
      ok = update.Step() == SQLITE_DONE && sqlite3_changes(db_) == 1;
    }
    if (ok) {
      revoke.Text(1, username);
      ok = revoke.Step() == SQLITE_DONE;
      change.tokens_revoked = ok ? static_cast<uint64_t>(sqlite3_changes(db_)) : 0;
    }
    if (!ok || sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Status error = DbError(db_, "cannot change the password of " + username);
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return error;
    }
  }
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
