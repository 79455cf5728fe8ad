// CallTracker: REGISTER transactions into registration records.
#include <gtest/gtest.h>

#include <string>

#include "calls/calls.h"
#include "call_script.h"

namespace sipman::calls {
namespace {

using test::AtMs;
using test::From;
using test::TrackerHarness;

constexpr TimestampNs kLinger = 32 * kNsPerSecond;

// A REGISTER for alice from 10.0.0.1:5060. `contact_params` follow the
// Contact URI (";expires=0"); `extra` are more header lines.
std::string Register(const std::string& call_id, uint32_t cseq, const std::string& branch,
                     const std::string& contact_params = "", const std::string& extra = "") {
  return "REGISTER sip:atlanta.example SIP/2.0\r\n"
         "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=" + branch + "\r\n"
         "Max-Forwards: 70\r\n"
         "From: <sip:alice@atlanta.example>;tag=reg-tag\r\n"
         "To: <sip:alice@atlanta.example>\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: " + std::to_string(cseq) + " REGISTER\r\n"
         "Contact: <sip:alice@10.0.0.1:5060;transport=udp>" + contact_params + "\r\n"
         "User-Agent: AliceUA/1.0\r\n" + extra +
         "Content-Length: 0\r\n\r\n";
}

std::string RegisterResponse(const std::string& call_id, uint32_t cseq, const std::string& branch,
                             int status, const std::string& reason,
                             const std::string& extra = "") {
  return "SIP/2.0 " + std::to_string(status) + " " + reason + "\r\n"
         "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=" + branch + "\r\n"
         "From: <sip:alice@atlanta.example>;tag=reg-tag\r\n"
         "To: <sip:alice@atlanta.example>;tag=registrar-tag\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: " + std::to_string(cseq) + " REGISTER\r\n" + extra +
         "Content-Length: 0\r\n\r\n";
}

TEST(Registration, ChallengeAndRetryAreOneSuccessfulAttempt) {
  TrackerHarness h;
  h.Feed(Register("reg-1", 1, "z9hG4bK-r1", ";expires=3600"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("reg-1", 1, "z9hG4bK-r1", 401, "Unauthorized",
                          "WWW-Authenticate: Digest realm=\"atlanta.example\", nonce=\"abc\"\r\n"),
         AtMs(15), From::kCallee);
  h.Feed(Register("reg-1", 2, "z9hG4bK-r2", ";expires=3600",
                  "Authorization: Digest username=\"alice\", nonce=\"abc\"\r\n"),
         AtMs(30), From::kCaller);
  EXPECT_TRUE(h.sink.registrations.empty());
  h.Feed(RegisterResponse("reg-1", 2, "z9hG4bK-r2", 200, "OK",
                          "Contact: <sip:alice@10.0.0.1:5060;transport=udp>;expires=1800\r\n"),
         AtMs(45), From::kCallee);
  ASSERT_EQ(h.sink.registrations.size(), 1u) << "emitted when the attempt completes";
  const RegistrationRecord& r = h.sink.registrations[0];
  EXPECT_EQ(r.call_id, "reg-1");
  EXPECT_EQ(r.aor, "alice@atlanta.example");
  EXPECT_EQ(r.contact, "sip:alice@10.0.0.1:5060;transport=udp");
  EXPECT_EQ(r.src_ip.ToString(), "10.0.0.1");
  EXPECT_EQ(r.src_port, 5060);
  EXPECT_EQ(r.user_agent, "AliceUA/1.0");
  EXPECT_EQ(r.expires, 3600);
  EXPECT_EQ(r.result, "success");
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.challenges, 1u);
  EXPECT_EQ(r.request_delay_ms, 45);
  EXPECT_EQ(r.first_seen, AtMs(0));
  EXPECT_EQ(r.last_seen, AtMs(45));
  EXPECT_EQ(h.counters().calls_created, 0u);
}

TEST(Registration, ExpiresFromTheRegistrarWhenTheRequestGivesNone) {
  TrackerHarness h;
  h.Feed(Register("reg-2", 1, "z9hG4bK-r1"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("reg-2", 1, "z9hG4bK-r1", 200, "OK",
                          "Contact: <sip:alice@10.9.9.9:5060>;expires=600\r\n"
                          "Contact: <sip:alice@10.0.0.1:5060;transport=udp>;expires=300\r\n"),
         AtMs(10), From::kCallee);
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.sink.registrations[0].expires, 300);
}

TEST(Registration, ExpiresZeroIsAnUnregister) {
  TrackerHarness h;
  h.Feed(Register("unreg", 5, "z9hG4bK-u1", ";expires=0"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("unreg", 5, "z9hG4bK-u1", 200, "OK"), AtMs(12), From::kCallee);
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.sink.registrations[0].result, "unregistered");
  EXPECT_EQ(h.sink.registrations[0].expires, 0);
}

TEST(Registration, ExpiresHeaderZeroIsAnUnregister) {
  TrackerHarness h;
  h.Feed(Register("unreg-h", 1, "z9hG4bK-u1", "", "Expires: 0\r\n"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("unreg-h", 1, "z9hG4bK-u1", 200, "OK"), AtMs(12), From::kCallee);
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.sink.registrations[0].result, "unregistered");
}

TEST(Registration, ForbiddenIsFailedWithItsStatus) {
  TrackerHarness h;
  h.Feed(Register("reg-403", 1, "z9hG4bK-f1"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("reg-403", 1, "z9hG4bK-f1", 401, "Unauthorized"), AtMs(10),
         From::kCallee);
  h.Feed(Register("reg-403", 2, "z9hG4bK-f2"), AtMs(20), From::kCaller);
  h.Feed(RegisterResponse("reg-403", 2, "z9hG4bK-f2", 403, "Forbidden"), AtMs(30), From::kCallee);
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  const RegistrationRecord& r = h.sink.registrations[0];
  EXPECT_EQ(r.result, "failed");
  EXPECT_EQ(r.status_code, 403);
  EXPECT_EQ(r.challenges, 1u);
  EXPECT_EQ(r.request_delay_ms, -1);
}

TEST(Registration, ChallengeWithoutRetryFailsAfterTheTimeout) {
  TrackerHarness h;
  h.Feed(Register("reg-nocred", 1, "z9hG4bK-n1"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("reg-nocred", 1, "z9hG4bK-n1", 407, "Proxy Authentication Required"),
         AtMs(10), From::kCallee);
  h.tracker().AdvanceTime(AtMs(31999));
  EXPECT_TRUE(h.sink.registrations.empty());
  h.tracker().AdvanceTime(AtMs(32000));
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.sink.registrations[0].result, "failed");
  EXPECT_EQ(h.sink.registrations[0].status_code, 407);
}

TEST(Registration, NoFinalResponseExpires) {
  TrackerHarness h;
  h.Feed(Register("reg-lost", 1, "z9hG4bK-l1"), AtMs(0), From::kCaller);
  h.Feed(Register("reg-lost", 1, "z9hG4bK-l1"), AtMs(500), From::kCaller);
  h.tracker().AdvanceTime(AtMs(500) + 32 * kNsPerSecond);
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.sink.registrations[0].result, "expired");
  EXPECT_EQ(h.sink.registrations[0].status_code, 0);
  EXPECT_EQ(h.counters().retransmissions, 1u);
}

TEST(Registration, LateRetransmissionsOfACompletedAttemptAreAbsorbed) {
  TrackerHarness h;
  h.Feed(Register("reg-r", 1, "z9hG4bK-r1"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("reg-r", 1, "z9hG4bK-r1", 200, "OK"), AtMs(10), From::kCallee);
  h.Feed(Register("reg-r", 1, "z9hG4bK-r1"), AtMs(500), From::kCaller);
  h.Feed(RegisterResponse("reg-r", 1, "z9hG4bK-r1", 200, "OK"), AtMs(510), From::kCallee);
  h.tracker().Finish(AtMs(100000));
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.counters().retransmissions, 2u);
  EXPECT_EQ(h.counters().orphan_responses, 0u);
}

TEST(Registration, RefreshWithTheSameCallIdIsANewAttempt) {
  TrackerHarness h;
  h.Feed(Register("reg-refresh", 1, "z9hG4bK-r1"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("reg-refresh", 1, "z9hG4bK-r1", 200, "OK"), AtMs(10), From::kCallee);
  h.Feed(Register("reg-refresh", 2, "z9hG4bK-r2", ";expires=0"), AtMs(1000), From::kCaller);
  h.Feed(RegisterResponse("reg-refresh", 2, "z9hG4bK-r2", 200, "OK"), AtMs(1020), From::kCallee);
  ASSERT_EQ(h.sink.registrations.size(), 2u);
  EXPECT_EQ(h.sink.registrations[0].result, "success");
  EXPECT_EQ(h.sink.registrations[1].result, "unregistered");
  EXPECT_EQ(h.sink.registrations[1].request_delay_ms, 20);
  EXPECT_EQ(h.sink.registrations[1].first_seen, AtMs(1000));
}

TEST(Registration, ResponseBeforeItsRegisterIsMatched) {
  TrackerHarness h;
  h.Feed(RegisterResponse("reg-reorder", 1, "z9hG4bK-r1", 200, "OK"), AtMs(10), From::kCallee);
  EXPECT_TRUE(h.sink.registrations.empty());
  h.Feed(Register("reg-reorder", 1, "z9hG4bK-r1", ";expires=60"), AtMs(0), From::kCaller);
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.sink.registrations[0].result, "success");
  EXPECT_EQ(h.sink.registrations[0].request_delay_ms, 10);
  EXPECT_EQ(h.sink.registrations[0].first_seen, AtMs(0));
}

TEST(Registration, ResponseWithoutRegisterIsAnOrphan) {
  TrackerHarness h;
  h.Feed(RegisterResponse("reg-none", 1, "z9hG4bK-r1", 200, "OK"), AtMs(10), From::kCallee);
  h.tracker().Finish(AtMs(100000));
  EXPECT_TRUE(h.sink.registrations.empty());
  EXPECT_EQ(h.counters().orphan_responses, 1u);
}

TEST(Registration, OpenRegistrationCapExpiresTheOldest) {
  CallTrackerOptions options;
  options.max_open_registrations = 1;
  TrackerHarness h(options);
  h.Feed(Register("reg-a", 1, "z9hG4bK-a"), AtMs(0), From::kCaller);
  h.Feed(Register("reg-b", 1, "z9hG4bK-b"), AtMs(1), From::kCaller);
  ASSERT_EQ(h.sink.registrations.size(), 1u);
  EXPECT_EQ(h.sink.registrations[0].call_id, "reg-a");
  EXPECT_EQ(h.sink.registrations[0].result, "expired");
  EXPECT_EQ(h.counters().open_registrations, 1u);
}

TEST(Registration, CompletedAttemptIsForgottenAfterLinger) {
  TrackerHarness h;
  h.Feed(Register("reg-gone", 1, "z9hG4bK-r1"), AtMs(0), From::kCaller);
  h.Feed(RegisterResponse("reg-gone", 1, "z9hG4bK-r1", 200, "OK"), AtMs(10), From::kCallee);
  EXPECT_EQ(h.counters().open_registrations, 1u);
  h.tracker().AdvanceTime(AtMs(10) + kLinger);
  EXPECT_EQ(h.counters().open_registrations, 0u);
  EXPECT_EQ(h.sink.registrations.size(), 1u);
}

}  // namespace
}  // namespace sipman::calls
