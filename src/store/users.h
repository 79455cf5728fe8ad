// The web GUI's users and API tokens (docs/API.md, "Storage"): two tables
// this code creates and upgrades in a SQLite file, the SIPMan database
// itself or, when the calls are in PostgreSQL, a local file of their own:
//   web_users(id, username UNIQUE, password_hash, created_ns,
//             password_changed_ns)
//   web_tokens(id, username, name, token_hash UNIQUE, created_ns,
//              expires_ns, last_used_ns)
// Hashing and sessions are the web server's (web/auth.h): this holds rows.
//
// Thread safety: every method may be called from any thread.
#ifndef SIPMAN_STORE_USERS_H_
#define SIPMAN_STORE_USERS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

struct sqlite3;

namespace sipman::store {

namespace internal {
class Statement;
}  // namespace internal

class UserDb {
 public:
  // Where the users go when the calls are in PostgreSQL and no other file is
  // named: in the working directory.
  static constexpr const char kDefaultFile[] = "sipman-web-users.db";

  // Opens (creating when missing) the users of the database `url` (a --db
  // value: a SQLite file, or a PostgreSQL URL meaning kDefaultFile), creating
  // or upgrading the tables. Tokens from before tokens expired get
  // `old_tokens_expire_ns`.
  static Result<std::unique_ptr<UserDb>> Open(const std::string& url,
                                              int64_t old_tokens_expire_ns);
  ~UserDb();
  UserDb(const UserDb&) = delete;
  UserDb& operator=(const UserDb&) = delete;

  Result<int64_t> CountUsers();
  // Adds a user, or replaces the password hash of an existing one (which
  // records `now_ns` as the time of its change).
  Status PutUser(const std::string& username, const std::string& password_hash, int64_t now_ns);
  // The user's password hash; nullopt when there is no such user.
  Result<std::optional<std::string>> PasswordHash(const std::string& username);
  // When the user's password last changed; nullopt when there is no such user.
  Result<std::optional<int64_t>> PasswordChangedNs(const std::string& username);
  // In one transaction: an existing user's new hash, changed at `changed_ns`,
  // and every one of its tokens deleted. Returns how many tokens went.
  Result<uint64_t> ChangePassword(const std::string& username, const std::string& password_hash,
                                  int64_t changed_ns);

  struct Token {
    int64_t id = 0;
    std::string name;
    int64_t created_ns = 0;
    int64_t expires_ns = 0;
    int64_t last_used_ns = 0;  // 0: never used
  };
  // Stores a token by its hash; returns its id.
  Result<int64_t> AddToken(const std::string& username, const std::string& name,
                           const std::string& token_hash, int64_t created_ns, int64_t expires_ns);
  // The user's tokens that have not expired at `now_ns`, newest first.
  Result<std::vector<Token>> Tokens(const std::string& username, int64_t now_ns);
  // Deletes token `id` of `username`; false when the user has no such token.
  Result<bool> DeleteToken(const std::string& username, int64_t id);
  // The user of the token with this hash, unexpired at `now_ns` and of a
  // user that exists. Notes the use when the last one noted is older than
  // `note_after_ns` (best effort: a busy database refuses nothing).
  Result<std::optional<std::string>> TokenUser(const std::string& token_hash, int64_t now_ns,
                                               int64_t note_after_ns);

 private:
  explicit UserDb(sqlite3* db);
  Status Init(int64_t old_tokens_expire_ns);

  std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
  // PasswordChangedNs runs on every request with a session cookie: its
  // statement is prepared once. Guarded by mu_.
  std::unique_ptr<internal::Statement> password_changed_;
};

}  // namespace sipman::store

#endif  // SIPMAN_STORE_USERS_H_
