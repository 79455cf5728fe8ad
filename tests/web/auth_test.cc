#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "base/time.h"
#include "web/auth.h"

namespace sipman::web {
namespace {

TEST(LoginRateLimiter, LocksAfterFiveFailuresAndBacksOff) {
  LoginRateLimiter limiter;
  int64_t now = 1000;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(limiter.RetryAfter("ip:a", now), 0);
    limiter.Failure("ip:a", now);
  }
  EXPECT_EQ(limiter.RetryAfter("ip:a", now), 0);
  limiter.Failure("ip:a", now);  // fifth
  EXPECT_EQ(limiter.RetryAfter("ip:a", now), LoginRateLimiter::kBaseLockSeconds);
  EXPECT_EQ(limiter.RetryAfter("ip:b", now), 0) << "other keys are not affected";
  now += LoginRateLimiter::kBaseLockSeconds;
  EXPECT_EQ(limiter.RetryAfter("ip:a", now), 0);
  limiter.Failure("ip:a", now);  // sixth: twice as long
  EXPECT_EQ(limiter.RetryAfter("ip:a", now), 2 * LoginRateLimiter::kBaseLockSeconds);
  for (int i = 0; i < 20; ++i) limiter.Failure("ip:a", now);
  EXPECT_EQ(limiter.RetryAfter("ip:a", now), LoginRateLimiter::kMaxLockSeconds);
  limiter.Success("ip:a");
  EXPECT_EQ(limiter.RetryAfter("ip:a", now), 0);
  limiter.Failure("ip:c", now);
  EXPECT_EQ(limiter.RetryAfter("ip:c", now + LoginRateLimiter::kForgetSeconds), 0);
}

TEST(Tokens, AreRandomUrlSafeAndHashed) {
  ASSERT_GE(sodium_init(), 0);
  std::string a = RandomToken(), b = RandomToken();
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  EXPECT_EQ(TokenHash(a).size(), 64u);
  EXPECT_EQ(TokenHash(a), TokenHash(a));
  EXPECT_NE(TokenHash(a), TokenHash(b));
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sipman-auth-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    options_.db_path = dir_ + "/web.db";
    options_.announce = nullptr;
    options_.opslimit = 1;       // crypto_pwhash_OPSLIMIT_MIN
    options_.memlimit = 8192;    // crypto_pwhash_MEMLIMIT_MIN
  }
  void TearDown() override {
    std::remove(options_.db_path.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
  Auth::Options options_;
};

TEST_F(AuthTest, FirstStartCreatesAdminWithTheGivenPassword) {
  options_.admin_password = "s3cret-pass";
  auto auth = Auth::Open(options_);
  ASSERT_TRUE(auth.ok()) << auth.status().message();
  EXPECT_TRUE((*auth)->CheckPassword("admin", "s3cret-pass"));
  EXPECT_FALSE((*auth)->CheckPassword("admin", "wrong"));
  EXPECT_FALSE((*auth)->CheckPassword("nobody", "s3cret-pass"));
}

TEST_F(AuthTest, GeneratedPasswordIsPrintedOnceAndWorks) {
  std::FILE* out = std::tmpfile();
  options_.announce = out;
  {
    auto auth = Auth::Open(options_);
    ASSERT_TRUE(auth.ok()) << auth.status().message();
  }
  std::rewind(out);
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof(line), out), nullptr);
  std::string text = line;
  size_t at = text.find("password ");
  ASSERT_NE(at, std::string::npos) << text;
  std::string password = text.substr(at + 9);
  while (!password.empty() && password.back() == '\n') password.pop_back();
  EXPECT_EQ(password.size(), 20u);
  long size_after_first = std::ftell(out);
  std::fseek(out, 0, SEEK_END);
  size_after_first = std::ftell(out);
  auto again = Auth::Open(options_);  // second start: nothing printed
  ASSERT_TRUE(again.ok());
  std::fseek(out, 0, SEEK_END);
  EXPECT_EQ(std::ftell(out), size_after_first);
  EXPECT_TRUE((*again)->CheckPassword("admin", password));
  std::fclose(out);
}

TEST_F(AuthTest, SessionsTokensAndRateLimitedLogins) {
  options_.admin_password = "s3cret-pass";
  auto opened = Auth::Open(options_);
  ASSERT_TRUE(opened.ok());
  Auth& auth = **opened;
  Auth::LoginOutcome ok = auth.Login("admin", "s3cret-pass", "10.0.0.1", 100);
  ASSERT_EQ(ok.result, Auth::LoginResult::kOk);
  EXPECT_EQ(auth.SessionUser(ok.session, 101), "admin");
  EXPECT_FALSE(auth.SessionUser(ok.session, 100 + 13 * 3600)) << "sessions expire";
  Auth::LoginOutcome second = auth.Login("admin", "s3cret-pass", "10.0.0.1", 200);
  auth.Logout(second.session);
  EXPECT_FALSE(auth.SessionUser(second.session, 201));
  EXPECT_FALSE(auth.SessionUser("forged", 201));

  auto token = auth.CreateToken("admin", "script", 1000, 0);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(auth.TokenUser(token->first, 1), "admin");
  EXPECT_FALSE(auth.TokenUser(token->first + "x", 1));

  for (int i = 0; i < LoginRateLimiter::kFreeFailures; ++i) {
    EXPECT_EQ(auth.Login("admin", "bad", "10.0.0.2", 300).result,
              Auth::LoginResult::kWrongCredentials);
  }
  Auth::LoginOutcome limited = auth.Login("admin", "s3cret-pass", "10.0.0.2", 300);
  EXPECT_EQ(limited.result, Auth::LoginResult::kRateLimited) << "that address, that user";
  EXPECT_GT(limited.retry_after_s, 0);
  limited = auth.Login("other", "x", "10.0.0.2", 300);
  EXPECT_EQ(limited.result, Auth::LoginResult::kRateLimited) << "per address, for any user";
  // Someone else's failures do not lock the user out elsewhere.
  EXPECT_EQ(auth.Login("admin", "s3cret-pass", "10.0.0.3", 300).result,
            Auth::LoginResult::kOk);
  EXPECT_EQ(auth.Login("admin", "s3cret-pass", "10.0.0.3", 300).result,
            Auth::LoginResult::kOk);

  // A success for another user resets the address, not the pair: one
  // address still gets kFreeFailures guesses at admin, however many
  // successes it mixes in.
  ASSERT_TRUE(auth.SetPassword("mallory", "mallory-pass", 0).ok());
  int guesses = 0;
  for (int i = 0; i < 20; ++i) {
    if (i % 2 == 0) {
      ASSERT_EQ(auth.Login("mallory", "mallory-pass", "10.0.0.4", 400).result,
                Auth::LoginResult::kOk);
    }
    if (auth.Login("admin", "guess", "10.0.0.4", 400).result ==
        Auth::LoginResult::kWrongCredentials) {
      ++guesses;
    }
  }
  EXPECT_EQ(guesses, LoginRateLimiter::kFreeFailures);
}

// Tokens expire, are listed without their secret, and are revoked by their
// owner only.
TEST_F(AuthTest, TokensExpireAreListedAndRevokedByTheirOwner) {
  options_.admin_password = "s3cret-pass";
  auto opened = Auth::Open(options_);
  ASSERT_TRUE(opened.ok());
  Auth& auth = **opened;
  ASSERT_TRUE(auth.SetPassword("bob", "bob-password", 0).ok());
  auto soon = auth.CreateToken("admin", "soon", 2000, 1000);
  auto later = auth.CreateToken("admin", "later", 9000, 1500);
  auto bobs = auth.CreateToken("bob", "bob's", 9000, 1000);
  ASSERT_TRUE(soon.ok() && later.ok() && bobs.ok());
  EXPECT_EQ(auth.TokenUser(soon->first, 1999), "admin");
  EXPECT_FALSE(auth.TokenUser(soon->first, 2000)) << "expired";
  auto listed = auth.ListTokens("admin", 1999);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "later") << "newest first";
  EXPECT_EQ((*listed)[0].id, later->second.id);
  EXPECT_EQ((*listed)[0].expires_ns, 9000);
  EXPECT_EQ((*listed)[0].last_used_ns, 0) << "never used";
  EXPECT_EQ((*listed)[1].last_used_ns, 1999) << "used at 1999";
  listed = auth.ListTokens("admin", 2000);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u) << "expired tokens are not listed";
  EXPECT_FALSE(*auth.RevokeToken("admin", bobs->second.id)) << "not admin's";
  EXPECT_EQ(auth.TokenUser(bobs->first, 1001), "bob");
  EXPECT_TRUE(*auth.RevokeToken("admin", later->second.id));
  EXPECT_FALSE(auth.TokenUser(later->first, 1600));
  EXPECT_FALSE(*auth.RevokeToken("admin", later->second.id)) << "already gone";
}

// A changed password ends every session begun before it, in this process
// and in any other serving the same file, and deletes the user's tokens;
// other users keep theirs.
TEST_F(AuthTest, PasswordChangeEndsSessionsAndTokens) {
  options_.admin_password = "s3cret-pass";
  auto opened = Auth::Open(options_);
  auto other_process = Auth::Open(options_);
  ASSERT_TRUE(opened.ok() && other_process.ok());
  Auth& auth = **opened;
  ASSERT_TRUE(auth.SetPassword("bob", "bob-password", 0).ok());
  const int64_t now_s = 1000;
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  Auth::LoginOutcome a = auth.Login("admin", "s3cret-pass", "10.0.0.1", now_s);
  Auth::LoginOutcome b = auth.Login("admin", "s3cret-pass", "10.0.0.2", now_s);
  Auth::LoginOutcome elsewhere =
      (*other_process)->Login("admin", "s3cret-pass", "10.0.0.3", now_s);
  Auth::LoginOutcome bob = auth.Login("bob", "bob-password", "10.0.0.4", now_s);
  auto token = auth.CreateToken("admin", "t", now_ns + kNsPerSecond * 3600, now_ns);
  auto bob_token = auth.CreateToken("bob", "t", now_ns + kNsPerSecond * 3600, now_ns);
  ASSERT_EQ(elsewhere.result, Auth::LoginResult::kOk);
  ASSERT_EQ((*other_process)->SessionUser(elsewhere.session, now_s), "admin");

  const int64_t change_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
  auto change = auth.ChangePassword("admin", "new-secret-pass", change_ns);
  ASSERT_TRUE(change.ok()) << change.status().message();
  EXPECT_EQ(change->sessions_ended, 2u);
  EXPECT_EQ(change->tokens_revoked, 1u);
  EXPECT_FALSE(auth.SessionUser(a.session, now_s));
  EXPECT_FALSE(auth.SessionUser(b.session, now_s));
  EXPECT_FALSE((*other_process)->SessionUser(elsewhere.session, now_s))
      << "the other process reads the change from the file";
  EXPECT_FALSE(auth.TokenUser(token->first, now_ns + 2));
  EXPECT_EQ(auth.SessionUser(bob.session, now_s), "bob");
  EXPECT_EQ(auth.TokenUser(bob_token->first, now_ns + 2), "bob");
  EXPECT_FALSE(auth.CheckPassword("admin", "s3cret-pass"));
  Auth::LoginOutcome again = auth.Login("admin", "new-secret-pass", "10.0.0.1", now_s);
  ASSERT_EQ(again.result, Auth::LoginResult::kOk);
  EXPECT_EQ(auth.SessionUser(again.session, now_s), "admin");
  EXPECT_EQ(auth.SessionUser(auth.NewSession("admin", now_s), now_s), "admin");
  EXPECT_FALSE(auth.ChangePassword("nobody", "x-password", now_ns).ok());
}

// Tables from before expiry: the columns are added, and old tokens expire
// kDefaultTokenDays after the upgrade instead of never.
TEST_F(AuthTest, TokensFromBeforeExpiryGetTheDefaultLifeFromTheUpgrade) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options_.db_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE web_users (id INTEGER PRIMARY KEY, username TEXT NOT NULL "
                         "UNIQUE, password_hash TEXT NOT NULL, created_ns INTEGER NOT NULL);"
                         "CREATE TABLE web_tokens (id INTEGER PRIMARY KEY, username TEXT NOT "
                         "NULL, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_ns "
                         "INTEGER NOT NULL);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  ASSERT_GE(sodium_init(), 0);
  std::string old_token = RandomToken();
  std::string insert = "INSERT INTO web_tokens (username, name, token_hash, created_ns) VALUES "
                       "('admin', 'old', '" + TokenHash(old_token) + "', 1)";
  ASSERT_EQ(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  options_.admin_password = "s3cret-pass";
  auto opened = Auth::Open(options_);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t day = 86400 * kNsPerSecond;
  EXPECT_EQ((*opened)->TokenUser(old_token, now_ns), "admin");
  EXPECT_EQ((*opened)->TokenUser(old_token, now_ns + (Auth::kDefaultTokenDays - 1) * day),
            "admin");
  EXPECT_FALSE((*opened)->TokenUser(old_token, now_ns + (Auth::kDefaultTokenDays + 1) * day));
}

}  // namespace
}  // namespace sipman::web
