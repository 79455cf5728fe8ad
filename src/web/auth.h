// Private to web/: users, sessions, API tokens and the failed-login limiter.
//
// Users and API tokens are rows of store::UserDb (store/users.h), in the
// SIPMan database itself or, with a PostgreSQL store, a local file.
// Passwords are stored as libsodium crypto_pwhash_str strings (Argon2id);
// tokens and session ids are 256 random bits, shown to the client once and
// stored only as their BLAKE2b hash. Sessions are kept in memory (a restart
// logs everyone out). A password change ends every session begun before it
// (in any process serving the file: a session is checked against
// password_changed_ns) and deletes the user's tokens.
//
// Thread safety: every method may be called from any thread.
#ifndef SIPMAN_WEB_AUTH_H_
#define SIPMAN_WEB_AUTH_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/users.h"

namespace sipman::web {

// Counts failed logins per key (client IP; client IP and user name). After kFreeFailures
// failures in a row, each further attempt is refused for a back-off that
// doubles with every failure, from kBaseLockSeconds up to kMaxLockSeconds.
// Failures are forgotten kForgetSeconds after the last one, or on success.
class LoginRateLimiter {
 public:
  static constexpr int kFreeFailures = 5;
  static constexpr int64_t kBaseLockSeconds = 30;
  static constexpr int64_t kMaxLockSeconds = 900;
  static constexpr int64_t kForgetSeconds = 3600;
  static constexpr size_t kMaxKeys = 100000;

  // Seconds until `key` may try again; 0 when it may now.
  int64_t RetryAfter(const std::string& key, int64_t now_s);
  void Failure(const std::string& key, int64_t now_s);
  void Success(const std::string& key);

 private:
  struct Entry {
    int failures = 0;
    int64_t last_failure_s = 0;
    int64_t locked_until_s = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// 32 random bytes as unpadded base64url (43 characters).
std::string RandomToken();
// Hex BLAKE2b-256 of a token: what is stored and looked up.
std::string TokenHash(std::string_view token);

class Auth {
 public:
  struct Options {
    // A SQLite file ("sqlite:PATH" accepted); a PostgreSQL URL means
    // store::UserDb::kDefaultFile.
    std::string db_path;
    // Password of the first user `admin`, used only when no user exists.
    // Empty: a random one is generated and written to `announce`.
    std::string admin_password;
    std::FILE* announce = stdout;
    int64_t session_ttl_s = 12 * 3600;
    // Argon2id cost; the defaults are libsodium's "interactive" limits.
    unsigned long long opslimit = 0;  // 0: crypto_pwhash_OPSLIMIT_INTERACTIVE
    size_t memlimit = 0;              // 0: crypto_pwhash_MEMLIMIT_INTERACTIVE
  };

  // Opens the database, creates the tables and the first user when needed.
  static Result<std::unique_ptr<Auth>> Open(const Options& options);
  ~Auth();
  Auth(const Auth&) = delete;
  Auth& operator=(const Auth&) = delete;

  enum class LoginResult { kOk, kWrongCredentials, kRateLimited, kError };
  struct LoginOutcome {
    LoginResult result = LoginResult::kError;
    int64_t retry_after_s = 0;  // kRateLimited
    std::string session;        // kOk: the new session id for the cookie
    std::string error;          // kError
  };
  LoginOutcome Login(std::string_view username, std::string_view password,
                     const std::string& client_ip, int64_t now_s);
  // Login's checks (rate limit, password) without a new session: for the
  // requests that need the password again. kOk leaves `session` empty.
  LoginOutcome VerifyPassword(std::string_view username, std::string_view password,
                              const std::string& client_ip, int64_t now_s);
  // Begins a session of `username` without a password check (Login's, and
  // the one that goes on after a password change). Returns its id.
  std::string NewSession(const std::string& username, int64_t now_s);
  // The user of a live session, or nullopt (also once the user's password
  // changed after the session began).
  std::optional<std::string> SessionUser(std::string_view session, int64_t now_s);
  void Logout(std::string_view session);

  // An API token of `username`, valid until `expires_ns`: the token in clear
  // (shown once) and its row.
  using TokenInfo = store::UserDb::Token;
  static constexpr int64_t kDefaultTokenDays = 90;
  static constexpr int64_t kMaxTokenDays = 366;
  Result<std::pair<std::string, TokenInfo>> CreateToken(const std::string& username,
                                                        const std::string& name,
                                                        int64_t expires_ns, int64_t now_ns);
  // The user's tokens that have not expired, newest first.
  Result<std::vector<TokenInfo>> ListTokens(const std::string& username, int64_t now_ns);
  // Deletes token `id` of `username`; false when the user has no such token.
  Result<bool> RevokeToken(const std::string& username, int64_t id);
  // The user of a token that has not expired, or nullopt. Notes the use (at
  // most once a minute per token).
  std::optional<std::string> TokenUser(std::string_view token, int64_t now_ns);

  // Adds a user, or replaces the password of an existing one.
  Status SetPassword(const std::string& username, std::string_view password, int64_t now_ns);
  // Replaces an existing user's password and ends everything its old one
  // opened: every session begun before now and every API token.
  struct PasswordChange {
    uint64_t sessions_ended = 0;
    uint64_t tokens_revoked = 0;
  };
  Result<PasswordChange> ChangePassword(const std::string& username, std::string_view password,
                                        int64_t now_ns);
  // Whether `password` is `username`'s (no rate limit: callers check).
  bool CheckPassword(const std::string& username, std::string_view password);

 private:
  Auth(std::unique_ptr<store::UserDb> users, const Options& options)
      : users_(std::move(users)), options_(options) {}
  Status Init();
  Result<std::string> HashPassword(std::string_view password);

  std::unique_ptr<store::UserDb> users_;
  Options options_;
  std::string dummy_hash_;  // verified against for unknown users (same timing)
  LoginRateLimiter limiter_;
  // NewSession for a session whose password check began at `created_ns`
  // (wall clock): a password changed meanwhile ends it.
  std::string NewSession(const std::string& username, int64_t now_s, int64_t created_ns);

  struct Session {
    std::string user;
    int64_t expires_s = 0;
    int64_t created_ns = 0;  // wall clock
  };
  std::mutex sessions_mu_;
  std::unordered_map<std::string, Session> sessions_;  // by TokenHash
};

}  // namespace sipman::web

#endif  // SIPMAN_WEB_AUTH_H_
