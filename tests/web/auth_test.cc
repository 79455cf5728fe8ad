#include <gtest/gtest.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <string>

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

  auto token = auth.CreateToken("admin", "script", 0);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(auth.TokenUser(*token), "admin");
  EXPECT_FALSE(auth.TokenUser(*token + "x"));

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

}  // namespace
}  // namespace sipman::web
