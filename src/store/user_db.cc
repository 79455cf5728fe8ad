#include "store/users.h"

#include <sqlite3.h>

#include <string_view>

#include "store/sqlite_util.h"
#include "store/store.h"

namespace sipman::store {
namespace {

using internal::Statement;

constexpr const char kSchema[] =
    "CREATE TABLE IF NOT EXISTS web_users (id INTEGER PRIMARY KEY, username TEXT NOT NULL "
    "UNIQUE, password_hash TEXT NOT NULL, created_ns INTEGER NOT NULL, "
    "password_changed_ns INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS web_tokens (id INTEGER PRIMARY KEY, username TEXT NOT NULL, "
    "name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_ns INTEGER NOT NULL, "
    "expires_ns INTEGER NOT NULL DEFAULT 0, last_used_ns INTEGER NOT NULL DEFAULT 0);";

// Columns added after the first release, for tables created before them.
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

Status DbError(sqlite3* db, const std::string& what) {
  return Status::Error(what + ": " + sqlite3_errmsg(db));
}

// Prepares `sql`; on failure *error says what could not be done.
bool Prepare(sqlite3* db, Statement* st, std::string_view sql, const std::string& what,
             Status* error) {
  Status s = st->Prepare(db, sql);
  if (s.ok()) return true;
  *error = Status::Error(what + ": " + s.message());
  return false;
}

// Prepares `sql` and binds `args` to its parameters in order (integers and
// texts); on failure *error says `what` could not be done.
template <typename... Args>
bool Bound(sqlite3* db, Statement* st, std::string_view sql, const std::string& what,
           Status* error, const Args&... args) {
  if (!Prepare(db, st, sql, what, error)) return false;
  st->BindFrom(1, args...);
  return true;
}

// Runs `sql` with `args` to its end; an error names `what`.
template <typename... Args>
Status Exec(sqlite3* db, std::string_view sql, const std::string& what, const Args&... args) {
  Statement st;
  Status s;
  if (!Bound(db, &st, sql, what, &s, args...)) return s;
  if (st.Step() != SQLITE_DONE) return DbError(db, what);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<UserDb>> UserDb::Open(const std::string& url,
                                             int64_t old_tokens_expire_ns) {
  const StoreUrl parsed = ParseStoreUrl(url);
  const std::string path = parsed.postgres ? std::string(kDefaultFile) : parsed.sqlite_path;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database " + path + " for web users: " +
                          (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return Status::Error(message);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<UserDb> users(new UserDb(db));
  Status s = users->Init(old_tokens_expire_ns);
  if (!s.ok()) return s;
  return users;
}

UserDb::UserDb(sqlite3* db) : db_(db) {}

UserDb::~UserDb() {
  password_changed_.reset();  // finalized before its connection closes
  sqlite3_close(db_);
}

Status UserDb::Init(int64_t old_tokens_expire_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  char* error = nullptr;
  if (sqlite3_exec(db_, kSchema, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = std::string("cannot create the web user tables: ") +
                          (error ? error : "unknown error");
    sqlite3_free(error);
    return Status::Error(message);
  }
  for (const AddedColumn& added : kAddedColumns) {
    Statement has;
    Status s;
    const std::string what = "cannot read the web user tables' columns";
    if (!Prepare(db_, &has, "SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?", what, &s)) {
      return s;
    }
    has.BindText(1, added.table);
    has.BindText(2, added.column);
    if (has.Step() != SQLITE_ROW) return DbError(db_, what);
    if (has.ColumnInt(0) > 0) continue;
    if (sqlite3_exec(db_, added.sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      // Another process starting on the same file may have added it first.
      has.Reset();
      if (has.Step() == SQLITE_ROW && has.ColumnInt(0) > 0) continue;
      return DbError(db_, std::string("cannot add ") + added.table + "." + added.column +
                              " (upgrading the web user tables)");
    }
    if (std::string_view(added.column) == "expires_ns") {
      // Tokens made when tokens did not expire: not for ever, and not
      // expired at once under a running script.
      s = Exec(db_, "UPDATE web_tokens SET expires_ns = ?", "cannot date old API tokens",
               old_tokens_expire_ns);
      if (!s.ok()) return s;
    }
  }
  return Status::Ok();
}

Result<int64_t> UserDb::CountUsers() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st;
  Status s;
  if (!Prepare(db_, &st, "SELECT COUNT(*) FROM web_users", "cannot count web users", &s)) return s;
  if (st.Step() != SQLITE_ROW) return DbError(db_, "cannot count web users");
  return st.ColumnInt(0);
}

Status UserDb::PutUser(const std::string& username, const std::string& password_hash,
                       int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  return Exec(db_,
              "INSERT INTO web_users (username, password_hash, created_ns) VALUES (?, ?, ?) "
              "ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, "
              "password_changed_ns = excluded.created_ns",
              "cannot store web user " + username, username, password_hash, now_ns);
}

Result<std::optional<std::string>> UserDb::PasswordHash(const std::string& username) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st;
  Status s;
  const std::string what = "cannot read web user " + username;
  if (!Bound(db_, &st, "SELECT password_hash FROM web_users WHERE username = ?", what, &s,
             username)) {
    return s;
  }
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return DbError(db_, what);
  return std::optional<std::string>(std::string(st.ColumnText(0)));
}

Result<std::optional<int64_t>> UserDb::PasswordChangedNs(const std::string& username) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string what = "cannot read web user " + username;
  if (password_changed_ == nullptr) {
    auto st = std::make_unique<Statement>();
    Status s;
    if (!Prepare(db_, st.get(), "SELECT password_changed_ns FROM web_users WHERE username = ?",
                 what, &s)) {
      return s;
    }
    password_changed_ = std::move(st);
  }
  Statement& st = *password_changed_;
  st.BindFrom(1, username);
  const int rc = st.Step();
  std::optional<int64_t> changed;
  if (rc == SQLITE_ROW) changed = st.ColumnInt(0);
  st.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return DbError(db_, what);
  return changed;
}

Result<uint64_t> UserDb::ChangePassword(const std::string& username,
                                        const std::string& password_hash, int64_t changed_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string what = "cannot change the password of " + username;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return DbError(db_, what);
  }
  Statement update, revoke;
  Status s;
  bool ok = Prepare(db_, &update,
                    "UPDATE web_users SET password_hash = ?, password_changed_ns = ? "
                    "WHERE username = ?",
                    what, &s) &&
            Prepare(db_, &revoke, "DELETE FROM web_tokens WHERE username = ?", what, &s);
  uint64_t revoked = 0;
  if (ok) {
    update.BindText(1, password_hash);
    update.BindInt(2, changed_ns);
    update.BindText(3, username);
    ok = update.Step() == SQLITE_DONE && sqlite3_changes(db_) == 1;
  }
  if (ok) {
    revoke.BindText(1, username);
    ok = revoke.Step() == SQLITE_DONE;
    revoked = ok ? static_cast<uint64_t>(sqlite3_changes(db_)) : 0;
  }
  if (!ok || sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    Status error = s.ok() ? DbError(db_, what) : s;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return error;
  }
  return revoked;
}

Result<int64_t> UserDb::AddToken(const std::string& username, const std::string& name,
                                 const std::string& token_hash, int64_t created_ns,
                                 int64_t expires_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = Exec(db_,
                  "INSERT INTO web_tokens (username, name, token_hash, created_ns, expires_ns) "
                  "VALUES (?, ?, ?, ?, ?)",
                  "cannot store API token", username, name, token_hash, created_ns, expires_ns);
  if (!s.ok()) return s;
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::vector<UserDb::Token>> UserDb::Tokens(const std::string& username, int64_t now_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st;
  Status s;
  if (!Bound(db_, &st,
             "SELECT id, name, created_ns, expires_ns, last_used_ns FROM web_tokens "
             "WHERE username = ? AND expires_ns > ? ORDER BY created_ns DESC, id DESC",
             "cannot list API tokens", &s, username, now_ns)) {
    return s;
  }
  std::vector<Token> tokens;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    Token t;
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

Result<bool> UserDb::DeleteToken(const std::string& username, int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = Exec(db_, "DELETE FROM web_tokens WHERE id = ? AND username = ?",
                  "cannot revoke API token", id, username);
  if (!s.ok()) return s;
  return sqlite3_changes(db_) > 0;
}

Result<std::optional<std::string>> UserDb::TokenUser(const std::string& token_hash,
                                                     int64_t now_ns, int64_t note_after_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement st;
  Status s;
  if (!Bound(db_, &st,
             "SELECT t.username, t.id, t.last_used_ns FROM web_tokens t JOIN web_users u "
             "ON u.username = t.username WHERE t.token_hash = ? AND t.expires_ns > ?",
             "cannot read API tokens", &s, token_hash, now_ns)) {
    return s;
  }
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return DbError(db_, "cannot read API tokens");
  std::string user(st.ColumnText(0));
  const int64_t id = st.ColumnInt(1);
  const int64_t last_used = st.ColumnInt(2);
  st.Reset();
  if (last_used == 0 || now_ns - last_used >= note_after_ns) {
    Statement used;
    if (used.Prepare(db_, "UPDATE web_tokens SET last_used_ns = ? WHERE id = ?").ok()) {
      used.BindInt(1, now_ns);
      used.BindInt(2, id);
      used.Step();  // best effort: a busy database must not refuse the request
    }
  }
  return std::optional<std::string>(std::move(user));
}

}  // namespace sipman::store
