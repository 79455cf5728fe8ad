// CallTracker: INVITE dialogs into call records, one transition per test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "calls/calls.h"
#include "call_script.h"

namespace sipman::calls {
namespace {

using test::AtMs;
using test::CallScript;
using test::From;
using test::kBase;
using test::Sdp;
using test::TrackerHarness;

constexpr TimestampNs kLinger = 32 * kNsPerSecond;
constexpr TimestampNs kTimerB = 32 * kNsPerSecond;
constexpr TimestampNs kTimerC = 180 * kNsPerSecond;

TEST(CallVocabulary, StateNamesParseBackAndResultsAreKnown) {
  for (CallState state : kCallStates) {
    EXPECT_EQ(ParseCallState(CallStateName(state)), state) << CallStateName(state);
  }
  EXPECT_EQ(ParseCallState("Answered"), std::nullopt);
  EXPECT_EQ(ParseCallState("unknown"), std::nullopt);
  EXPECT_EQ(CallStateNames(),
            "answered, busy, cancelled, no_answer, failed, in_progress, timed_out");
  for (std::string_view result : {"success", "unregistered", "failed", "expired"}) {
    EXPECT_TRUE(IsRegistrationResult(result)) << result;
  }
  EXPECT_FALSE(IsRegistrationResult("ok"));
  EXPECT_FALSE(IsRegistrationResult(""));
}

// INVITE (SDP) / 100 / 180 / 200 (SDP) / ACK, then BYE by `bye_from` at
// 12010 ms and its 200 at 12030 ms.
void FeedAnsweredCall(TrackerHarness& h, const CallScript& s, From bye_from) {
  h.Feed(s.Invite(1, "z9hG4bK-inv1", Sdp("10.0.0.1", 4000)), AtMs(0), From::kCaller);
  h.Feed(s.Response(100, "Trying", ""), AtMs(10), From::kCallee);
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(100), From::kCallee);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "INVITE", "z9hG4bK-inv1", Sdp("10.0.0.2", 6000)),
         AtMs(2000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(2010), From::kCaller);
  if (bye_from == From::kCaller) {
    h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(12010), From::kCaller);
    h.Feed(s.Response(200, "OK", "bob-tag", 2, "BYE", "z9hG4bK-bye1"), AtMs(12030), From::kCallee);
  } else {
    h.Feed(s.Bye(From::kCallee, "bob-tag", 1, "z9hG4bK-bye2"), AtMs(12010), From::kCallee);
    h.Feed(s.ResponseToCallee(200, "OK", "bob-tag", 1, "BYE", "z9hG4bK-bye2"), AtMs(12030),
           From::kCaller);
  }
}

// INVITE then a final failure `status` and the ACK for it.
void FeedFailedCall(TrackerHarness& h, const CallScript& s, int status, const std::string& reason) {
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(100, "Trying", ""), AtMs(5), From::kCallee);
  h.Feed(s.Response(status, reason, "bob-tag"), AtMs(300), From::kCallee);
  h.Feed(s.InDialog("ACK", From::kCaller, "bob-tag", 1, "z9hG4bK-inv1"), AtMs(305), From::kCaller);
}

TEST(CallTracker, AnsweredCallHungUpByCallerHasExactTimesAndDurations) {
  TrackerHarness h;
  CallScript s("answered-1@atlanta");
  FeedAnsweredCall(h, s, From::kCaller);
  EXPECT_TRUE(h.sink.calls.empty()) << "emitted before the linger time";
  h.tracker().AdvanceTime(AtMs(12010) + kLinger);

  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.call_id, "answered-1@atlanta");
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(CallStateName(r.state), "answered");
  EXPECT_EQ(r.hangup_by, "caller");
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.first_provisional_ts, AtMs(10));
  EXPECT_EQ(r.first_18x_ts, AtMs(100));
  EXPECT_EQ(r.answer_ts, AtMs(2000));
  EXPECT_EQ(r.final_ts, AtMs(2000));
  EXPECT_EQ(r.ack_ts, AtMs(2010));
  EXPECT_EQ(r.bye_ts, AtMs(12010));
  EXPECT_EQ(r.end_ts, AtMs(12010));
  EXPECT_EQ(r.cancel_ts, 0);
  EXPECT_EQ(r.duration_ms, 10000);
  EXPECT_EQ(r.connect_ms, 10010);
  EXPECT_EQ(r.post_dial_delay_ms, 100);
  EXPECT_EQ(r.disconnect_delay_ms, 20);
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.final_reason, "OK");
  EXPECT_EQ(r.message_count, 7u);
  EXPECT_EQ(r.retransmissions, 0u);
  EXPECT_EQ(r.byte_count, h.bytes_fed);
  EXPECT_EQ(h.counters().calls_created, 1u);
  EXPECT_EQ(h.counters().open_calls, 0u);
}

TEST(CallTracker, AnsweredCallHungUpByCalleeIsAttributedToCallee) {
  TrackerHarness h;
  CallScript s("answered-2@atlanta");
  FeedAnsweredCall(h, s, From::kCallee);
  h.tracker().Finish(AtMs(12010) + kLinger);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.hangup_by, "callee");
  EXPECT_EQ(r.duration_ms, 10000);
  EXPECT_EQ(r.disconnect_delay_ms, 20);
}

TEST(CallTracker, CallerAndCalleeFieldsComeFromTheInviteAndTheAnsweringSide) {
  TrackerHarness h;
  CallScript s("fields@atlanta");
  h.Feed(s.Invite(1, "z9hG4bK-inv1", Sdp("10.0.0.1", 4000, 4002),
                  "P-Asserted-Identity: <sip:+15550001@atlanta.example>\r\n"
                  "Diversion: <sip:carol@chicago.example>;reason=no-answer\r\n"),
         AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "INVITE", "z9hG4bK-inv1", Sdp("10.0.0.2", 6000)),
         AtMs(1000), From::kCallee);
  h.tracker().Finish(AtMs(5000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.caller_user, "alice");
  EXPECT_EQ(r.caller_display, "Alice");
  EXPECT_EQ(r.caller_domain, "atlanta.example");
  EXPECT_EQ(r.caller_tag, "alice-tag");
  EXPECT_EQ(r.pai_user, "+15550001");
  EXPECT_EQ(r.callee_user, "bob");
  EXPECT_EQ(r.ruri_user, "bob");
  EXPECT_EQ(r.callee_domain, "biloxi.example");
  EXPECT_EQ(r.callee_tag, "bob-tag");
  EXPECT_EQ(r.diversion_user, "carol");
  EXPECT_EQ(r.src_ip.ToString(), "10.0.0.1");
  EXPECT_EQ(r.src_port, 5060);
  EXPECT_EQ(r.dst_ip.ToString(), "10.0.0.2");
  EXPECT_EQ(r.dst_port, 5070);
  EXPECT_EQ(r.transport, "udp");
  EXPECT_EQ(r.caller_user_agent, "AliceUA/1.0");
  EXPECT_EQ(r.callee_user_agent, "BobPhone/2.0");
  EXPECT_EQ(r.caller_media_types, "audio,video");
  ASSERT_EQ(r.caller_media.size(), 2u);
  EXPECT_EQ(r.caller_media[0].type, "audio");
  EXPECT_EQ(r.caller_media[0].address, "10.0.0.1");
  EXPECT_EQ(r.caller_media[0].port, 4000);
  EXPECT_EQ(r.caller_media[0].codecs, "PCMU/8000,telephone-event/8000");
  EXPECT_EQ(r.caller_media[1].codecs, "H264/90000");
  EXPECT_EQ(r.callee_media_types, "audio");
  ASSERT_EQ(r.callee_media.size(), 1u);
  EXPECT_EQ(r.callee_media[0].address, "10.0.0.2");
  EXPECT_EQ(r.callee_media[0].port, 6000);
}

TEST(CallTracker, AnsweredCallStillUpAtFinishIsInProgress) {
  TrackerHarness h;
  CallScript s("up@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(1010), From::kCaller);
  h.tracker().Finish(AtMs(60000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kInProgress);
  EXPECT_EQ(r.end_ts, 0);
  EXPECT_EQ(r.duration_ms, 0);
  EXPECT_EQ(r.hangup_by, "");
}

TEST(CallTracker, RingingCallAtFinishIsInProgress) {
  TrackerHarness h;
  CallScript s("ringing@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(100), From::kCallee);
  h.tracker().Finish(AtMs(5000));
  EXPECT_EQ(h.OnlyCall().state, CallState::kInProgress);
}

struct FinalCase {
  int status;
  const char* reason;
  CallState state;
};

class FinalResponseTest : public ::testing::TestWithParam<FinalCase> {};

TEST_P(FinalResponseTest, FinalFailureGivesItsState) {
  const FinalCase& c = GetParam();
  TrackerHarness h;
  CallScript s("final@atlanta");
  FeedFailedCall(h, s, c.status, c.reason);
  h.tracker().AdvanceTime(AtMs(300) + kLinger);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, c.state) << c.status << " gave " << CallStateName(r.state);
  EXPECT_EQ(r.final_status, c.status);
  EXPECT_EQ(r.final_reason, c.reason);
  EXPECT_EQ(r.final_ts, AtMs(300));
  EXPECT_EQ(r.end_ts, AtMs(300));
  EXPECT_EQ(r.answer_ts, 0);
  EXPECT_EQ(r.post_dial_delay_ms, 300);  // no 18x: INVITE to the final response
  EXPECT_EQ(r.duration_ms, 0);
  EXPECT_EQ(r.callee_tag, "bob-tag");
}

INSTANTIATE_TEST_SUITE_P(
    CallTracker, FinalResponseTest,
    ::testing::Values(FinalCase{486, "Busy Here", CallState::kBusy},
                      FinalCase{600, "Busy Everywhere", CallState::kBusy},
                      FinalCase{404, "Not Found", CallState::kFailed},
                      FinalCase{503, "Service Unavailable", CallState::kFailed},
                      FinalCase{408, "Request Timeout", CallState::kNoAnswer},
                      FinalCase{480, "Temporarily Unavailable", CallState::kNoAnswer},
                      FinalCase{302, "Moved Temporarily", CallState::kFailed},
                      FinalCase{487, "Request Terminated", CallState::kCancelled}),
    [](const ::testing::TestParamInfo<FinalCase>& info) {
      return "Status" + std::to_string(info.param.status);
    });

TEST(CallTracker, CancelBeforeAnswerWith487IsCancelled) {
  TrackerHarness h;
  CallScript s("cancel@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(100), From::kCallee);
  h.Feed(s.Cancel(1, "z9hG4bK-inv1", "Reason: SIP;cause=487;text=\"Originator cancelled\"\r\n"),
         AtMs(4000), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "CANCEL"), AtMs(4010), From::kCallee);
  h.Feed(s.Response(487, "Request Terminated", "bob-tag"), AtMs(4020), From::kCallee);
  h.Feed(s.InDialog("ACK", From::kCaller, "bob-tag", 1, "z9hG4bK-inv1"), AtMs(4030),
         From::kCaller);
  h.tracker().AdvanceTime(AtMs(4020) + kLinger);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kCancelled);
  EXPECT_EQ(r.cancel_ts, AtMs(4000));
  EXPECT_EQ(r.final_status, 487);
  EXPECT_EQ(r.end_ts, AtMs(4020));
  EXPECT_EQ(r.reason_protocol, "SIP");
  EXPECT_EQ(r.reason_cause, 487);
  EXPECT_EQ(r.reason_text, "Originator cancelled");
  EXPECT_EQ(r.message_count, 6u);
}

TEST(CallTracker, CancelWithoutAnyFinalResponseIsCancelledAfterLinger) {
  TrackerHarness h;
  CallScript s("cancel-lost@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Cancel(), AtMs(3000), From::kCaller);
  h.tracker().AdvanceTime(AtMs(3000) + kLinger - 1);
  EXPECT_TRUE(h.sink.calls.empty());
  h.tracker().AdvanceTime(AtMs(3000) + kLinger);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kCancelled);
  EXPECT_EQ(r.end_ts, AtMs(3000));
}

TEST(CallTracker, AnswerRacingACancelWins) {
  TrackerHarness h;
  CallScript s("race@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Cancel(), AtMs(3000), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(3001), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(3010), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(3020), From::kCaller);
  h.tracker().Finish(AtMs(100000));
  EXPECT_EQ(h.OnlyCall().state, CallState::kAnswered);
}

TEST(CallTracker, AuthChallengeAndRetryAreOneCallWithOneChallenge) {
  TrackerHarness h;
  CallScript s("auth@atlanta");
  h.Feed(s.Invite(1, "z9hG4bK-a1"), AtMs(0), From::kCaller);
  h.Feed(s.Response(407, "Proxy Authentication Required", "proxy-tag", 1, "INVITE", "z9hG4bK-a1"),
         AtMs(20), From::kCallee);
  h.Feed(s.InDialog("ACK", From::kCaller, "proxy-tag", 1, "z9hG4bK-a1"), AtMs(25), From::kCaller);
  h.Feed(s.Invite(2, "z9hG4bK-a2", "", "Proxy-Authorization: Digest username=\"alice\"\r\n"),
         AtMs(40), From::kCaller);
  h.Feed(s.Response(180, "Ringing", "bob-tag", 2, "INVITE", "z9hG4bK-a2"), AtMs(140),
         From::kCallee);
  h.Feed(s.Response(200, "OK", "bob-tag", 2, "INVITE", "z9hG4bK-a2"), AtMs(1040), From::kCallee);
  h.Feed(s.Ack("bob-tag", 2, "z9hG4bK-ack2"), AtMs(1050), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 3), AtMs(6050), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 3, "BYE", "z9hG4bK-bye1"), AtMs(6060), From::kCallee);
  h.tracker().AdvanceTime(AtMs(6050) + kLinger);

  EXPECT_EQ(h.counters().calls_created, 1u);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.auth_challenges, 1u);
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.ack_ts, AtMs(1050)) << "the ACK of the 407 must not start the call";
  EXPECT_EQ(r.duration_ms, 5000);
  EXPECT_EQ(r.post_dial_delay_ms, 140);
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.callee_tag, "bob-tag");
}

TEST(CallTracker, ChallengeWithoutRetryEndsAsFailed) {
  TrackerHarness h;
  CallScript s("auth-given-up@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(401, "Unauthorized", "reg-tag"), AtMs(20), From::kCallee);
  h.tracker().AdvanceTime(AtMs(20) + kAuthRetryWindow);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kFailed);
  EXPECT_EQ(r.final_status, 401);
  EXPECT_EQ(r.auth_challenges, 1u);
}

// The challenge of sngrep's aaa.pcap (Call-ID 85216695-42dcdb1d@192.168.1.2):
// INVITE CSeq 1 (retransmitted), 407 with a Proxy-Authenticate nonce, ACK.
void FeedProxyChallenge(TrackerHarness& h, const CallScript& s) {
  h.FeedAfterTimers(s.Invite(1, "z9hG4bK-a1", Sdp("10.0.0.1", 4000)), AtMs(0), From::kCaller);
  h.FeedAfterTimers(s.Invite(1, "z9hG4bK-a1", Sdp("10.0.0.1", 4000)), AtMs(500), From::kCaller);
  h.FeedAfterTimers(s.Response(407, "authentication required", "proxy-tag", 1, "INVITE",
                               "z9hG4bK-a1", "",
                               "Proxy-Authenticate: Digest realm=\"atlanta.example\","
                               "nonce=\"1701b4767d49c4\",opaque=\"1701a1\",stale=false,"
                               "algorithm=MD5\r\n"),
                    AtMs(1650), From::kCallee);
  h.FeedAfterTimers(s.InDialog("ACK", From::kCaller, "proxy-tag", 1, "z9hG4bK-a1"), AtMs(1720),
                    From::kCaller);
}

// Credentials answering the challenge of FeedProxyChallenge (or, with
// another `nonce`, some other challenge).
std::string ProxyCredentials(const std::string& nonce = "1701b4767d49c4") {
  return "Proxy-Authorization: Digest username=\"alice\",realm=\"atlanta.example\","
         "uri=\"sip:bob@biloxi.example\",nonce=\"" + nonce + "\",opaque=\"1701a1\","
         "nc=\"00000001\",response=\"8258d3744c08b75f7af46cd0f1762510\"\r\n";
}

TEST(CallTracker, AuthRetryLaterThanTheLingerTimeIsTheSameCall) {
  // RFC 3261 sections 22.2 and 8.1.3.5: the retry keeps Call-ID and From tag,
  // takes the next CSeq and carries the credentials; nothing bounds how late
  // it comes. Here 32.5 s after the 407, as in aaa.pcap, then a 403.
  TrackerHarness h;
  CallScript s("auth-late@atlanta");
  FeedProxyChallenge(h, s);
  const TimestampNs retry = AtMs(1650) + kLinger + 500 * kNsPerMs;
  h.FeedAfterTimers(s.Invite(2, "z9hG4bK-a2", Sdp("10.0.0.1", 4000), ProxyCredentials()), retry,
                    From::kCaller);
  h.FeedAfterTimers(s.Response(403, "Wrong password or domain", "proxy-tag2", 2, "INVITE",
                               "z9hG4bK-a2"),
                    retry + 200 * kNsPerMs, From::kCallee);
  h.FeedAfterTimers(s.InDialog("ACK", From::kCaller, "proxy-tag2", 2, "z9hG4bK-a2"),
                    retry + 260 * kNsPerMs, From::kCaller);
  EXPECT_TRUE(h.sink.calls.empty()) << "the challenged call was emitted before its retry came";
  h.tracker().Finish(retry + 260 * kNsPerMs + kLinger);

  EXPECT_EQ(h.counters().calls_created, 1u);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.call_id, "auth-late@atlanta");
  EXPECT_EQ(r.state, CallState::kFailed);
  EXPECT_EQ(r.final_status, 403);
  EXPECT_EQ(r.auth_challenges, 1u);
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.final_ts, retry + 200 * kNsPerMs);
  EXPECT_EQ(r.end_ts, retry + 200 * kNsPerMs);
  EXPECT_EQ(r.message_count, 7u);
  EXPECT_EQ(r.retransmissions, 1u);
}

TEST(CallTracker, AuthRetryMinutesLaterIsAnsweredInTheSameCall) {
  TrackerHarness h;
  CallScript s("auth-minutes@atlanta");
  FeedProxyChallenge(h, s);
  const TimestampNs retry = AtMs(1650) + 9 * 60 * kNsPerSecond;  // the user typed a password
  auto at = [retry](int64_t ms) { return retry + ms * kNsPerMs; };
  h.FeedAfterTimers(s.Invite(2, "z9hG4bK-a2", "", ProxyCredentials()), at(0), From::kCaller);
  h.FeedAfterTimers(s.Response(180, "Ringing", "bob-tag", 2, "INVITE", "z9hG4bK-a2"), at(100),
                    From::kCallee);
  h.FeedAfterTimers(s.Response(200, "OK", "bob-tag", 2, "INVITE", "z9hG4bK-a2"), at(3000),
                    From::kCallee);
  h.FeedAfterTimers(s.Ack("bob-tag", 2, "z9hG4bK-ack2"), at(3010), From::kCaller);
  h.FeedAfterTimers(s.Bye(From::kCaller, "bob-tag", 3), at(63010), From::kCaller);
  h.tracker().AdvanceTime(at(63010) + kLinger);

  EXPECT_EQ(h.counters().calls_created, 1u);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.auth_challenges, 1u);
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.answer_ts, at(3000));
  EXPECT_EQ(r.ack_ts, at(3010));
  EXPECT_EQ(r.duration_ms, 60000);
  EXPECT_EQ(r.callee_tag, "bob-tag");
}

TEST(CallTracker, ChallengedCallWaitsForItsRetryUntilTheAuthRetryWindowEnds) {
  TrackerHarness h;
  CallScript s("auth-abandoned@atlanta");
  FeedProxyChallenge(h, s);
  h.tracker().AdvanceTime(AtMs(1720) + kLinger);
  EXPECT_TRUE(h.sink.calls.empty()) << "emitted before its retry could come";
  h.tracker().AdvanceTime(AtMs(1650) + kAuthRetryWindow - 1);
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.tracker().CountOpenCalls(AtMs(1650) + kAuthRetryWindow - 1), 0u)
      << "a challenged call waiting for its retry is not a call that is up";
  h.tracker().AdvanceTime(AtMs(1650) + kAuthRetryWindow);
  {
    const CallRecord& r = h.OnlyCall();
    EXPECT_EQ(r.state, CallState::kFailed);
    EXPECT_EQ(r.final_status, 407);
    EXPECT_EQ(r.end_ts, AtMs(1650));
  }
  // A retry later than the window is a call of its own.
  h.FeedAfterTimers(s.Invite(2, "z9hG4bK-a2", "", ProxyCredentials()),
                    AtMs(1650) + kAuthRetryWindow + kNsPerSecond, From::kCaller);
  h.tracker().Finish(AtMs(1650) + kAuthRetryWindow + 2 * kNsPerSecond);
  EXPECT_EQ(h.counters().calls_created, 2u);
  ASSERT_EQ(h.sink.calls.size(), 2u);
  EXPECT_EQ(h.sink.calls[1].invite_ts, AtMs(1650) + kAuthRetryWindow + kNsPerSecond);
}

TEST(CallTracker, InviteWithoutCredentialsAfterTheLingerTimeIsANewCall) {
  TrackerHarness h;
  CallScript s("auth-reused@atlanta");
  FeedProxyChallenge(h, s);
  const TimestampNs later = AtMs(1650) + kLinger + kNsPerSecond;
  h.FeedAfterTimers(s.Invite(2, "z9hG4bK-b2"), later, From::kCaller);
  ASSERT_EQ(h.sink.calls.size(), 1u) << "the challenged call ends when a new one takes its Call-ID";
  EXPECT_EQ(h.sink.calls[0].final_status, 407);
  EXPECT_EQ(h.sink.calls[0].state, CallState::kFailed);
  h.tracker().Finish(later + kNsPerSecond);
  EXPECT_EQ(h.counters().calls_created, 2u);
  ASSERT_EQ(h.sink.calls.size(), 2u);
  EXPECT_EQ(h.sink.calls[1].invite_ts, later);
  EXPECT_EQ(h.sink.calls[1].auth_challenges, 0u);
}

TEST(CallTracker, CredentialsForAnotherNonceAfterTheLingerTimeAreANewCall) {
  TrackerHarness h;
  CallScript s("auth-other-nonce@atlanta");
  FeedProxyChallenge(h, s);
  const TimestampNs later = AtMs(1650) + kLinger + kNsPerSecond;
  h.FeedAfterTimers(s.Invite(2, "z9hG4bK-c2", "", ProxyCredentials("99aa00")), later,
                    From::kCaller);
  h.tracker().Finish(later + kNsPerSecond);
  EXPECT_EQ(h.counters().calls_created, 2u);
  ASSERT_EQ(h.sink.calls.size(), 2u);
  EXPECT_EQ(h.sink.calls[0].final_status, 407);
}

TEST(CallTracker, AuthRetryWithinTheLingerTimeNeedsNoNonceMatch) {
  // Within the linger time any later INVITE of the caller continues the call
  // (a retry after a redirect carries no credentials at all).
  TrackerHarness h;
  CallScript s("auth-quick@atlanta");
  FeedProxyChallenge(h, s);
  h.FeedAfterTimers(s.Invite(2, "z9hG4bK-d2", "", ProxyCredentials("stale-nonce")), AtMs(2000),
                    From::kCaller);
  h.FeedAfterTimers(s.Response(200, "OK", "bob-tag", 2, "INVITE", "z9hG4bK-d2"), AtMs(3000),
                    From::kCallee);
  h.tracker().Finish(AtMs(4000));
  EXPECT_EQ(h.counters().calls_created, 1u);
  EXPECT_EQ(h.OnlyCall().final_status, 200);
}

TEST(CallTracker, ForkedCallKeepsTheAnsweredBranchTag) {
  TrackerHarness h;
  CallScript s("fork@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(180, "Ringing", "branch-a"), AtMs(100), From::kCallee);
  h.Feed(s.Response(180, "Ringing", "branch-b"), AtMs(120), From::kCallee);
  h.Feed(s.Response(183, "Session Progress", "branch-a", 1, "INVITE", "z9hG4bK-inv1",
                    Sdp("10.0.0.3", 7000)),
         AtMs(150), From::kCallee);
  h.Feed(s.Response(200, "OK", "branch-b", 1, "INVITE", "z9hG4bK-inv1", Sdp("10.0.0.4", 8000)),
         AtMs(3000), From::kCallee);
  h.Feed(s.Response(487, "Request Terminated", "branch-a"), AtMs(3010), From::kCallee);
  h.Feed(s.Ack("branch-b"), AtMs(3020), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "branch-b", 2), AtMs(9020), From::kCaller);
  h.tracker().Finish(AtMs(100000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.callee_tag, "branch-b");
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.first_18x_ts, AtMs(100));
  EXPECT_EQ(r.duration_ms, 6000);
  ASSERT_EQ(r.callee_media.size(), 1u);
  EXPECT_EQ(r.callee_media[0].address, "10.0.0.4");
}

TEST(CallTracker, EarlyMediaIsKeptWhenTheAnswerHasNoSdp) {
  TrackerHarness h;
  CallScript s("early@atlanta");
  h.Feed(s.Invite(1, "z9hG4bK-inv1", Sdp("10.0.0.1", 4000)), AtMs(0), From::kCaller);
  h.Feed(s.Response(183, "Session Progress", "bob-tag", 1, "INVITE", "z9hG4bK-inv1",
                    Sdp("10.0.0.9", 9000)),
         AtMs(100), From::kCallee);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(2000), From::kCallee);
  h.tracker().Finish(AtMs(3000));
  const CallRecord& r = h.OnlyCall();
  ASSERT_EQ(r.callee_media.size(), 1u);
  EXPECT_EQ(r.callee_media[0].address, "10.0.0.9");
  EXPECT_EQ(r.callee_media[0].port, 9000);
}

TEST(CallTracker, ReInviteAndUpdateChangeMediaWithoutANewCall) {
  TrackerHarness h;
  CallScript s("reinvite@atlanta");
  h.Feed(s.Invite(1, "z9hG4bK-inv1", Sdp("10.0.0.1", 4000)), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "INVITE", "z9hG4bK-inv1", Sdp("10.0.0.2", 6000)),
         AtMs(1000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(1010), From::kCaller);
  // The caller moves its media and adds video.
  h.Feed(s.Invite(2, "z9hG4bK-re2", Sdp("10.0.0.11", 4100, 4102), "", "bob-tag"), AtMs(5000),
         From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 2, "INVITE", "z9hG4bK-re2", Sdp("10.0.0.2", 6000, 6002)),
         AtMs(5010), From::kCallee);
  h.Feed(s.Ack("bob-tag", 2, "z9hG4bK-ack2"), AtMs(5020), From::kCaller);
  // The callee moves its media with UPDATE.
  h.Feed(s.InDialog("UPDATE", From::kCallee, "bob-tag", 1, "z9hG4bK-up1", Sdp("10.0.0.22", 6100)),
         AtMs(7000), From::kCallee);
  h.Feed(s.ResponseToCallee(200, "OK", "bob-tag", 1, "UPDATE", "z9hG4bK-up1",
                            Sdp("10.0.0.11", 4100)),
         AtMs(7010), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 3), AtMs(11010), From::kCaller);
  h.tracker().Finish(AtMs(100000));

  EXPECT_EQ(h.counters().calls_created, 1u);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.answer_ts, AtMs(1000)) << "the re-INVITE's 200 is not the answer";
  EXPECT_EQ(r.ack_ts, AtMs(1010));
  EXPECT_EQ(r.duration_ms, 10000);
  EXPECT_EQ(r.caller_media_types, "audio");  // the UPDATE's answer was audio only
  ASSERT_EQ(r.caller_media.size(), 1u);
  EXPECT_EQ(r.caller_media[0].address, "10.0.0.11");
  EXPECT_EQ(r.caller_media[0].port, 4100);
  ASSERT_EQ(r.callee_media.size(), 1u);
  EXPECT_EQ(r.callee_media[0].address, "10.0.0.22");
  EXPECT_EQ(r.callee_media[0].port, 6100);
  EXPECT_EQ(r.message_count, 9u);
}

TEST(CallTracker, CalleeReInviteWithTheSameCSeqNumberIsNotTheAnswer) {
  TrackerHarness h;
  CallScript s("callee-reinvite@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(1010), From::kCaller);
  h.Feed(s.InDialog("INVITE", From::kCallee, "bob-tag", 1, "z9hG4bK-bre1", Sdp("10.0.0.2", 6200)),
         AtMs(4000), From::kCallee);
  h.Feed(s.ResponseToCallee(491, "Request Pending", "bob-tag", 1, "INVITE", "z9hG4bK-bre1"),
         AtMs(4010), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(5010), From::kCaller);
  h.tracker().Finish(AtMs(100000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.duration_ms, 4000);
  ASSERT_EQ(r.callee_media.size(), 1u);
  EXPECT_EQ(r.callee_media[0].port, 6200);
}

TEST(CallTracker, AnswerWithAChangedFromTagMatchesItsInviteByViaBranch) {
  // snort3_demo digium.pcap: Zoiper answers Asterisk's INVITE with its own
  // From tag (breaking RFC 3261 section 8.2.6.2). Transaction matching uses
  // the top Via branch and the CSeq method (section 17.1.3), not the From tag.
  TrackerHarness h;
  CallScript s("from-tag-changed@atlanta");
  CallScript callee(s.call_id(), "as5d701719");  // the callee's responses carry this From tag
  h.Feed(s.Invite(102, "z9hG4bK259f991c", Sdp("10.0.0.1", 4000)), AtMs(0), From::kCaller);
  h.Feed(callee.Response(180, "Ringing", "1a44dd19", 102, "INVITE", "z9hG4bK259f991c"), AtMs(5),
         From::kCallee);
  h.Feed(callee.Response(200, "OK", "1a44dd19", 102, "INVITE", "z9hG4bK259f991c",
                         Sdp("10.0.0.2", 6000)),
         AtMs(7), From::kCallee);
  h.Feed(s.Ack("1a44dd19", 102, "z9hG4bK52cd700e"), AtMs(8), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "1a44dd19", 103), AtMs(20008), From::kCaller);
  h.Feed(callee.Response(200, "OK", "1a44dd19", 103, "BYE", "z9hG4bK-bye1"), AtMs(20010),
         From::kCallee);
  h.tracker().AdvanceTime(AtMs(20008) + kLinger);

  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered) << CallStateName(r.state);
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.final_reason, "OK");
  EXPECT_EQ(r.first_18x_ts, AtMs(5));
  EXPECT_EQ(r.answer_ts, AtMs(7));
  EXPECT_EQ(r.ack_ts, AtMs(8));
  EXPECT_EQ(r.duration_ms, 20000);
  EXPECT_EQ(r.post_dial_delay_ms, 5);
  EXPECT_EQ(r.hangup_by, "caller");
  EXPECT_EQ(r.caller_tag, "alice-tag");
  EXPECT_EQ(r.callee_tag, "1a44dd19");
  ASSERT_EQ(r.callee_media.size(), 1u);
  EXPECT_EQ(r.callee_media[0].port, 6000);
}

TEST(CallTracker, AnswerWithAChangedFromTagGivesTheFinalStatusWithoutAnAck) {
  // The capture itself: INVITE, 100, 180 and 200 with a changed From tag,
  // then only the caller's re-INVITE on its own branch.
  TrackerHarness h;
  CallScript s("from-tag-changed-2@atlanta");
  CallScript callee(s.call_id(), "as5d701719");
  h.Feed(s.Invite(102, "z9hG4bK259f991c"), AtMs(0), From::kCaller);
  h.Feed(callee.Response(200, "OK", "1a44dd19", 102, "INVITE", "z9hG4bK259f991c"), AtMs(7),
         From::kCallee);
  h.Feed(s.Invite(103, "z9hG4bK25c438a7", Sdp("10.0.0.1", 4010), "", "1a44dd19"), AtMs(12),
         From::kCaller);
  h.Feed(callee.Response(200, "OK", "1a44dd19", 103, "INVITE", "z9hG4bK25c438a7"), AtMs(14),
         From::kCallee);
  h.tracker().Finish(AtMs(100));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kInProgress);
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.answer_ts, AtMs(7)) << "the 200 of the re-INVITE is not the answer";
  EXPECT_EQ(r.final_ts, AtMs(7));
}

TEST(CallTracker, RetransmittedInviteIsCountedAndDoesNotResetTimes) {
  TrackerHarness h;
  CallScript s("retrans-invite@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Invite(), AtMs(500), From::kCaller);
  h.Feed(s.Invite(), AtMs(1500), From::kCaller);
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(1600), From::kCallee);
  h.Feed(s.Response(486, "Busy Here", "bob-tag"), AtMs(1700), From::kCallee);
  h.tracker().Finish(AtMs(100000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(h.counters().calls_created, 1u);
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.post_dial_delay_ms, 1600);
  EXPECT_EQ(r.retransmissions, 2u);
  EXPECT_EQ(r.message_count, 5u);
  EXPECT_EQ(h.counters().retransmissions, 2u);
  EXPECT_EQ(r.state, CallState::kBusy);
}

TEST(CallTracker, Retransmitted200AndByeAreCountedNotDoubleCounted) {
  TrackerHarness h;
  CallScript s("retrans-200@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1500), From::kCallee);  // ACK was lost
  h.Feed(s.Ack("bob-tag"), AtMs(1510), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(8000), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(8500), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 2, "BYE", "z9hG4bK-bye1"), AtMs(8510), From::kCallee);
  h.Feed(s.Response(200, "OK", "bob-tag", 2, "BYE", "z9hG4bK-bye1"), AtMs(9000), From::kCallee);
  h.tracker().AdvanceTime(AtMs(8000) + kLinger);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.retransmissions, 3u);
  EXPECT_EQ(r.answer_ts, AtMs(1000));
  EXPECT_EQ(r.bye_ts, AtMs(8000));
  EXPECT_EQ(r.duration_ms, 6490);
  EXPECT_EQ(r.disconnect_delay_ms, 510);
  EXPECT_EQ(h.counters().retransmissions, 3u);
}

TEST(CallTracker, LateRetransmissionsDuringLingerAreAbsorbed) {
  TrackerHarness h;
  CallScript s("linger@atlanta");
  FeedAnsweredCall(h, s, From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 2, "BYE", "z9hG4bK-bye1"), AtMs(14000), From::kCallee);
  h.tracker().AdvanceTime(AtMs(12010) + kLinger);
  EXPECT_EQ(h.OnlyCall().retransmissions, 1u);
  EXPECT_EQ(h.counters().orphan_responses, 0u);
}

TEST(CallTracker, ByeOnAnEarlyDialogWithoutAnswerIsCancelled) {
  TrackerHarness h;
  CallScript s("early-bye@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(183, "Session Progress", "bob-tag"), AtMs(100), From::kCallee);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(5000), From::kCaller);
  h.tracker().AdvanceTime(AtMs(5000) + kLinger);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kCancelled);
  EXPECT_EQ(r.end_ts, AtMs(5000));
  EXPECT_EQ(r.duration_ms, 0);
}

TEST(CallTracker, RedirectFollowedByANewInviteIsOneCall) {
  TrackerHarness h;
  CallScript s("redirect@atlanta");
  h.Feed(s.Invite(1, "z9hG4bK-r1"), AtMs(0), From::kCaller);
  h.Feed(s.Response(302, "Moved Temporarily", "redir-tag", 1, "INVITE", "z9hG4bK-r1",  "",
                    "Contact: <sip:bob@10.0.0.3>\r\n"),
         AtMs(50), From::kCallee);
  h.Feed(s.InDialog("ACK", From::kCaller, "redir-tag", 1, "z9hG4bK-r1"), AtMs(55), From::kCaller);
  h.Feed(s.Invite(2, "z9hG4bK-r2"), AtMs(60), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 2, "INVITE", "z9hG4bK-r2"), AtMs(2060), From::kCallee);
  h.Feed(s.Ack("bob-tag", 2), AtMs(2070), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 3), AtMs(4070), From::kCaller);
  h.tracker().Finish(AtMs(100000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(h.counters().calls_created, 1u);
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.final_status, 200);
  EXPECT_EQ(r.duration_ms, 2000);
  EXPECT_EQ(r.auth_challenges, 0u);
}

TEST(CallTracker, RetransmissionCapturedWithAnEarlierTimeKeepsTheEarliest) {
  TrackerHarness h;
  CallScript s("early-copy@atlanta");
  h.Feed(s.Invite(), AtMs(500), From::kCaller);
  h.Feed(s.Invite(), AtMs(0), From::kCaller);  // delivered out of capture order
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(600), From::kCallee);
  h.tracker().Finish(AtMs(1000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.retransmissions, 1u);
  EXPECT_EQ(r.post_dial_delay_ms, 600);
}

TEST(CallTracker, DelayedOfferTakesTheCallerMediaFromTheAck) {
  TrackerHarness h;
  CallScript s("late-offer@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "INVITE", "z9hG4bK-inv1", Sdp("10.0.0.2", 6000)),
         AtMs(1000), From::kCallee);
  h.Feed(s.Ack("bob-tag", 1, "z9hG4bK-ack1", Sdp("10.0.0.1", 4000)), AtMs(1010), From::kCaller);
  h.tracker().Finish(AtMs(2000));
  const CallRecord& r = h.OnlyCall();
  ASSERT_EQ(r.caller_media.size(), 1u);
  EXPECT_EQ(r.caller_media[0].port, 4000);
  ASSERT_EQ(r.callee_media.size(), 1u);
  EXPECT_EQ(r.callee_media[0].port, 6000);
}

TEST(CallTracker, ResponseBeforeItsInviteLandsInTheSameCall) {
  TrackerHarness h;
  CallScript s("reordered@atlanta");
  // The capture delivered the 200 first; its timestamp is still the later one.
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "INVITE", "z9hG4bK-inv1", Sdp("10.0.0.2", 6000)),
         AtMs(2000), From::kCallee);
  h.Feed(s.Invite(1, "z9hG4bK-inv1", Sdp("10.0.0.1", 4000)), AtMs(0), From::kCaller);
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(100), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(2010), From::kCaller);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(7010), From::kCaller);
  h.tracker().Finish(AtMs(100000));
  EXPECT_EQ(h.counters().calls_created, 1u);
  EXPECT_EQ(h.counters().calls_without_invite, 0u);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.answer_ts, AtMs(2000));
  EXPECT_EQ(r.post_dial_delay_ms, 100);
  EXPECT_EQ(r.duration_ms, 5000);
  EXPECT_EQ(r.src_ip.ToString(), "10.0.0.1");
  EXPECT_EQ(r.caller_user_agent, "AliceUA/1.0");
  EXPECT_EQ(r.callee_tag, "bob-tag");
  ASSERT_EQ(r.caller_media.size(), 1u);
  ASSERT_EQ(r.callee_media.size(), 1u);
}

TEST(CallTracker, ByeBeforeAckStillMeasuresFromTheAck) {
  TrackerHarness h;
  CallScript s("bye-first@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(4010), From::kCaller);
  h.Feed(s.Ack("bob-tag"), AtMs(1010), From::kCaller);
  h.tracker().Finish(AtMs(100000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.ack_ts, AtMs(1010));
  EXPECT_EQ(r.duration_ms, 3000);
}

TEST(CallTracker, CallSeenOnlyFromItsResponsesIsStillRecorded) {
  TrackerHarness h;
  CallScript s("midway@atlanta");
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(1010), From::kCaller);
  h.Feed(s.Bye(From::kCallee, "bob-tag", 1, "z9hG4bK-bye2"), AtMs(3010), From::kCallee);
  h.tracker().Finish(AtMs(100000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(h.counters().calls_without_invite, 1u);
  EXPECT_EQ(r.invite_ts, 0);
  EXPECT_EQ(r.state, CallState::kAnswered);
  EXPECT_EQ(r.hangup_by, "callee");
  EXPECT_EQ(r.src_ip.ToString(), "10.0.0.1") << "derived from the response, reversed";
  EXPECT_EQ(r.caller_user, "alice");
  EXPECT_EQ(r.post_dial_delay_ms, -1);
}

TEST(CallTracker, ByeWithoutCallIsAnOrphanRequest) {
  TrackerHarness h;
  CallScript s("no-such-call@atlanta");
  h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(0), From::kCaller);
  h.Feed(s.Ack("bob-tag"), AtMs(1), From::kCaller);
  h.Feed(s.Cancel(), AtMs(2), From::kCaller);
  h.tracker().Finish(AtMs(100000));
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.counters().orphan_requests, 3u);
  EXPECT_EQ(h.counters().calls_created, 0u);
}

TEST(CallTracker, ResponseWithoutRequestIsAnOrphanResponse) {
  TrackerHarness h;
  CallScript s("no-such-call@atlanta");
  h.Feed(s.Response(200, "OK", "bob-tag", 2, "BYE", "z9hG4bK-bye1"), AtMs(0), From::kCallee);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "CANCEL"), AtMs(1), From::kCallee);
  h.tracker().Finish(AtMs(100000));
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.counters().orphan_responses, 2u);
}

TEST(CallTracker, OutOfDialogNonInviteTransactionsMakeNoCall) {
  TrackerHarness h;
  CallScript s("options@atlanta");
  h.Feed(s.InDialog("OPTIONS", From::kCaller, "", 1, "z9hG4bK-o1"), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "OPTIONS", "z9hG4bK-o1"), AtMs(1), From::kCallee);
  h.Feed(s.InDialog("MESSAGE", From::kCaller, "", 2, "z9hG4bK-m1"), AtMs(2), From::kCaller);
  h.Feed(s.InDialog("SUBSCRIBE", From::kCaller, "", 3, "z9hG4bK-s1"), AtMs(3), From::kCaller);
  h.Feed(s.InDialog("NOTIFY", From::kCallee, "x", 1, "z9hG4bK-n1"), AtMs(4), From::kCallee);
  h.tracker().Finish(AtMs(100000));
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.counters().calls_created, 0u);
  EXPECT_EQ(h.counters().non_call_messages, 5u);
  EXPECT_EQ(h.counters().messages, 5u);
}

TEST(CallTracker, InDialogInfoIsCountedInTheCall) {
  TrackerHarness h;
  CallScript s("info@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.InDialog("INFO", From::kCaller, "bob-tag", 2, "z9hG4bK-i1"), AtMs(2000),
         From::kCaller);
  h.tracker().Finish(AtMs(3000));
  EXPECT_EQ(h.OnlyCall().message_count, 3u);
  EXPECT_EQ(h.counters().non_call_messages, 0u);
}

TEST(CallTracker, UnansweredCallExpiresAsNoAnswerAfterInviteTimeout) {
  CallTrackerOptions options;
  options.invite_timeout = 60 * kNsPerSecond;
  TrackerHarness h(options);
  CallScript s("never-answered@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(100), From::kCallee);
  h.tracker().AdvanceTime(AtMs(59999));
  EXPECT_TRUE(h.sink.calls.empty());
  h.tracker().AdvanceTime(AtMs(60000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kNoAnswer);
  EXPECT_EQ(r.final_status, 0);
  EXPECT_EQ(r.end_ts, AtMs(100));
  EXPECT_EQ(h.counters().open_calls, 0u);
}

TEST(CallTracker, InviteWithoutAnyResponseEndsAsNoAnswerAfterTimerB) {
  // RFC 3261 section 17.1.1.2: without any response, the client transaction
  // gives up when Timer B (64*T1 = 32 s) fires; UDP retransmits meanwhile
  // (Timer A: 0.5 s, doubling).
  TrackerHarness h;
  CallScript s("no-response@atlanta");
  for (int64_t ms : {0, 500, 1500, 3500, 7500, 15500, 31500}) {
    h.FeedAfterTimers(s.Invite(), AtMs(ms), From::kCaller);
  }
  h.tracker().AdvanceTime(AtMs(0) + kTimerB - 1);
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.tracker().CountOpenCalls(AtMs(0) + kTimerB - 1), 1u);
  EXPECT_EQ(h.tracker().CountOpenCalls(AtMs(0) + kTimerB), 0u);
  h.tracker().AdvanceTime(AtMs(0) + kTimerB);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kNoAnswer) << CallStateName(r.state);
  EXPECT_EQ(r.final_status, 0);
  EXPECT_EQ(r.invite_ts, AtMs(0));
  EXPECT_EQ(r.end_ts, AtMs(31500)) << "the last message seen";
  EXPECT_EQ(r.duration_ms, 0);
  EXPECT_EQ(r.connect_ms, 0);
  EXPECT_EQ(r.post_dial_delay_ms, -1);
  EXPECT_EQ(r.retransmissions, 6u);
}

TEST(CallTracker, InviteWithoutAnyResponseIsInProgressWhenTheCaptureEndsFirst) {
  // Timers run on capture time: a capture that ends 20 s after the INVITE
  // has not seen Timer B fire.
  TrackerHarness h;
  CallScript s("no-response-yet@atlanta");
  h.FeedAfterTimers(s.Invite(), AtMs(0), From::kCaller);
  h.tracker().Finish(AtMs(20000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kInProgress);
  EXPECT_EQ(r.end_ts, 0);
}

TEST(CallTracker, ProvisionalResponseKeepsTheCallUpUntilTimerC) {
  // A 100 Trying moves the transaction to Proceeding, where Timer B no
  // longer applies; a proxy's Timer C (> 3 min) bounds the wait instead.
  TrackerHarness h;
  CallScript s("trying-only@atlanta");
  h.FeedAfterTimers(s.Invite(), AtMs(0), From::kCaller);
  h.FeedAfterTimers(s.Response(100, "Trying", ""), AtMs(40), From::kCallee);
  h.tracker().AdvanceTime(AtMs(0) + kTimerB);
  EXPECT_TRUE(h.sink.calls.empty());
  h.tracker().AdvanceTime(AtMs(0) + kTimerC - 1);
  EXPECT_TRUE(h.sink.calls.empty());
  h.tracker().AdvanceTime(AtMs(0) + kTimerC);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kNoAnswer);
  EXPECT_EQ(r.final_status, 0);
  EXPECT_EQ(r.end_ts, AtMs(40));
}

TEST(CallTracker, AuthRetryWithoutAnyResponseEndsByTimerBOfTheRetry) {
  // Each attempt is its own client transaction: Timer B runs from the
  // retry, and the provisional response of the first attempt does not count.
  TrackerHarness h;
  CallScript s("auth-retry-unanswered@atlanta");
  h.FeedAfterTimers(s.Invite(1, "z9hG4bK-a1"), AtMs(0), From::kCaller);
  h.FeedAfterTimers(s.Response(100, "Trying", "", 1, "INVITE", "z9hG4bK-a1"), AtMs(10),
                    From::kCallee);
  h.FeedAfterTimers(s.Response(401, "Unauthorized", "srv-tag", 1, "INVITE", "z9hG4bK-a1", "",
                               "WWW-Authenticate: Digest realm=\"atlanta.example\", "
                               "nonce=\"abc123\"\r\n"),
                    AtMs(20), From::kCallee);
  const TimestampNs retry = AtMs(20) + 5 * 60 * kNsPerSecond;
  h.FeedAfterTimers(s.Invite(2, "z9hG4bK-a2", "",
                             "Authorization: Digest username=\"alice\", realm=\"atlanta.example\", "
                             "nonce=\"abc123\", uri=\"sip:bob@biloxi.example\", "
                             "response=\"00\"\r\n"),
                    retry, From::kCaller);
  h.tracker().AdvanceTime(retry + kTimerB - 1);
  EXPECT_TRUE(h.sink.calls.empty());
  h.tracker().AdvanceTime(retry + kTimerB);
  EXPECT_EQ(h.counters().calls_created, 1u);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kNoAnswer) << CallStateName(r.state);
  EXPECT_EQ(r.final_status, 0);
  EXPECT_EQ(r.auth_challenges, 1u);
  EXPECT_EQ(r.end_ts, retry);
}

TEST(CallTracker, AnsweredCallWithoutByeTimesOutAfterMaxDuration) {
  CallTrackerOptions options;
  options.call_max_duration = 3600 * kNsPerSecond;
  options.idle_timeout = 0;
  TrackerHarness h(options);
  CallScript s("endless@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(1010), From::kCaller);
  h.tracker().AdvanceTime(AtMs(1000) + 3600 * kNsPerSecond - 1);
  EXPECT_TRUE(h.sink.calls.empty());
  h.tracker().AdvanceTime(AtMs(1000) + 3600 * kNsPerSecond);
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.state, CallState::kTimedOut);
  EXPECT_EQ(r.end_ts, AtMs(1010));
  EXPECT_EQ(r.duration_ms, 0);
}

TEST(CallTracker, AnsweredCallWithoutMessagesTimesOutAfterIdleTimeout) {
  CallTrackerOptions options;
  options.idle_timeout = 600 * kNsPerSecond;
  TrackerHarness h(options);
  CallScript s("idle@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(1010), From::kCaller);
  // A session refresh keeps it alive.
  h.Feed(s.Invite(2, "z9hG4bK-re2", "", "", "bob-tag"), AtMs(500000), From::kCaller);
  h.tracker().AdvanceTime(AtMs(1010) + 600 * kNsPerSecond);
  EXPECT_TRUE(h.sink.calls.empty());
  h.tracker().AdvanceTime(AtMs(500000) + 600 * kNsPerSecond);
  EXPECT_EQ(h.OnlyCall().state, CallState::kTimedOut);
}

// At the cap the call cheapest to lose goes first: an INVITE with no
// response (a next hop's 100 Trying does not count), then a challenged call
// held for its retry, then an ended call lingering, then a ringing call, and
// an answered call last. Each is stored with the state its timer would give.
TEST(CallTracker, OpenCallCapEvictsTheCheapestClassFirst) {
  CallTrackerOptions options;
  options.max_open_calls = 5;
  TrackerHarness h(options);
  CallScript est("established@atlanta"), ring("ringing@atlanta"), ended("ended@atlanta");
  CallScript chal("challenged@atlanta"), trying("trying@atlanta");
  h.Feed(est.Invite(), AtMs(0), From::kCaller);
  h.Feed(est.Response(200, "OK", "bob-tag"), AtMs(100), From::kCallee);
  h.Feed(est.Ack("bob-tag"), AtMs(110), From::kCaller);
  h.Feed(ring.Invite(), AtMs(200), From::kCaller);
  h.Feed(ring.Response(180, "Ringing", "bob-tag"), AtMs(300), From::kCallee);
  h.Feed(ended.Invite(), AtMs(400), From::kCaller);
  h.Feed(ended.Response(486, "Busy Here", "bob-tag"), AtMs(500), From::kCallee);
  h.Feed(chal.Invite(), AtMs(600), From::kCaller);
  h.Feed(chal.Response(407, "Proxy Authentication Required", "px-tag", 1, "INVITE",
                       "z9hG4bK-inv1", "",
                       "Proxy-Authenticate: Digest realm=\"atlanta\", nonce=\"n1\"\r\n"),
         AtMs(700), From::kCallee);
  h.Feed(trying.Invite(), AtMs(800), From::kCaller);
  h.Feed(trying.Response(100, "Trying", ""), AtMs(810), From::kCallee);
  ASSERT_TRUE(h.sink.calls.empty());

  // Each new call is answered at once, so it is never the cheapest itself.
  struct Want {
    const char* call_id;
    CallState state;
    int final_status;
    TimestampNs end_ts;
  };
  const Want want[] = {
      {"trying@atlanta", CallState::kNoAnswer, 0, AtMs(810)},
      {"challenged@atlanta", CallState::kFailed, 407, AtMs(700)},
      {"ended@atlanta", CallState::kBusy, 486, AtMs(500)},
      {"ringing@atlanta", CallState::kNoAnswer, 0, AtMs(300)},
      {"established@atlanta", CallState::kTimedOut, 200, AtMs(110)},
  };
  for (int i = 0; i < 5; ++i) {
    CallScript s("new-" + std::to_string(i) + "@atlanta");
    h.Feed(s.Invite(), AtMs(1000 + 100 * i), From::kCaller);
    h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1010 + 100 * i), From::kCallee);
    ASSERT_EQ(h.sink.calls.size(), static_cast<size_t>(i + 1));
    const CallRecord& r = h.sink.calls.back();
    EXPECT_EQ(r.call_id, want[i].call_id) << "eviction " << i;
    EXPECT_EQ(CallStateName(r.state), CallStateName(want[i].state)) << r.call_id;
    EXPECT_EQ(r.final_status, want[i].final_status) << r.call_id;
    EXPECT_EQ(r.end_ts, want[i].end_ts) << r.call_id;
    EXPECT_EQ(r.duration_ms, 0) << r.call_id;
    EXPECT_EQ(h.counters().open_calls, 5u);
  }
  const CallTrackerCounters& n = h.counters();
  EXPECT_EQ(n.calls_evicted, 5u);
  EXPECT_EQ(n.calls_evicted_no_response, 1u);
  EXPECT_EQ(n.calls_evicted_challenged, 1u);
  EXPECT_EQ(n.calls_evicted_ended, 1u);
  EXPECT_EQ(n.calls_evicted_ringing, 1u);
  EXPECT_EQ(n.calls_evicted_established, 1u);
}

// Within a class the least recently active call goes first, whenever it
// was created: a ringing call that just got another 18x stays.
TEST(CallTracker, OpenCallCapEvictsTheLeastRecentlyActiveOfAClass) {
  CallTrackerOptions options;
  options.max_open_calls = 2;
  TrackerHarness h(options);
  CallScript a("a@atlanta"), b("b@atlanta"), c("c@atlanta");
  h.Feed(a.Invite(), AtMs(0), From::kCaller);
  h.Feed(a.Response(180, "Ringing", "bob-tag"), AtMs(10), From::kCallee);
  h.Feed(b.Invite(), AtMs(20), From::kCaller);
  h.Feed(b.Response(180, "Ringing", "bob-tag"), AtMs(30), From::kCallee);
  h.Feed(a.Response(183, "Session Progress", "bob-tag"), AtMs(40), From::kCallee);
  h.Feed(c.Invite(), AtMs(50), From::kCaller);
  ASSERT_EQ(h.sink.calls.size(), 1u);
  EXPECT_EQ(h.sink.calls[0].call_id, "b@atlanta");
  EXPECT_EQ(h.sink.calls[0].state, CallState::kNoAnswer);
  EXPECT_EQ(h.sink.calls[0].end_ts, AtMs(30));
  EXPECT_EQ(h.counters().calls_evicted_ringing, 1u);
  // c (no response) goes before a (ringing), though a is older.
  CallScript d("d@atlanta");
  h.Feed(d.Invite(), AtMs(60), From::kCaller);
  ASSERT_EQ(h.sink.calls.size(), 2u);
  EXPECT_EQ(h.sink.calls[1].call_id, "c@atlanta");
  EXPECT_EQ(h.sink.calls[1].state, CallState::kNoAnswer);
  EXPECT_EQ(h.counters().calls_evicted_no_response, 1u);
  h.tracker().Finish(AtMs(70));
  ASSERT_EQ(h.sink.calls.size(), 4u);
  EXPECT_EQ(h.sink.calls[2].call_id, "a@atlanta");
  EXPECT_EQ(h.sink.calls[3].call_id, "d@atlanta");
}

// Counts the records of a long run instead of keeping them all; keeps the
// calls whose Call-ID does not start with "flood-".
class FloodSink : public RecordSink {
 public:
  void OnCall(const CallRecord& r) override {
    if (r.call_id.compare(0, 6, "flood-") != 0) {
      kept.push_back(r);
      return;
    }
    ++flood_calls;
    if (r.state == CallState::kNoAnswer && r.final_status == 0 && r.end_ts == r.invite_ts &&
        r.message_count == 1) {
      ++flood_no_answer;
    } else if (bad_example.empty()) {
      bad_example = r.call_id + " " + std::string(CallStateName(r.state));
    }
  }
  void OnRegistration(const RegistrationRecord&) override {}

  std::vector<CallRecord> kept;
  uint64_t flood_calls = 0, flood_no_answer = 0;
  std::string bad_example;
};

// An answered call in the middle of a flood of unanswered INVITEs (a scanner,
// distinct Call-IDs) that pushes the tracker to its cap a million times over:
// the flood evicts itself, the call is stored once with its true duration,
// and every INVITE of the flood as no_answer.
TEST(CallTracker, EstablishedCallSurvivesAFloodOfAMillionInvites) {
  constexpr size_t kCap = 100;
  constexpr uint64_t kFlood = 1000000;
  CallTrackerOptions options;
  options.max_open_calls = kCap;
  FloodSink records;
  TrackerHarness h(options, &records);
  CallScript s("established@atlanta");
  h.Feed(s.Invite(1, "z9hG4bK-inv1", Sdp("10.0.0.1", 4000)), AtMs(0), From::kCaller);
  h.Feed(s.Response(100, "Trying", ""), AtMs(10), From::kCallee);
  h.Feed(s.Response(180, "Ringing", "bob-tag"), AtMs(100), From::kCallee);
  h.Feed(s.Response(200, "OK", "bob-tag", 1, "INVITE", "z9hG4bK-inv1", Sdp("10.0.0.2", 6000)),
         AtMs(2000), From::kCallee);
  h.Feed(s.Ack("bob-tag"), AtMs(2010), From::kCaller);

  // One INVITE every 10 us of capture time from 3 s on (10 s in all, well
  // inside Timer B), each parsed into the same message with its number
  // written over the template's zeros.
  std::string text =
      "INVITE sip:100@10.0.0.2 SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-0000000\r\n"
      "Max-Forwards: 70\r\n"
      "From: \"sipvicious\" <sip:100@198.51.100.7>;tag=0000000\r\n"
      "To: \"sipvicious\" <sip:100@198.51.100.7>\r\n"
      "Call-ID: flood-0000000\r\n"
      "CSeq: 1 INVITE\r\n"
      "User-Agent: friendly-scanner\r\n"
      "Content-Length: 0\r\n\r\n";
  std::vector<size_t> digits;
  for (size_t at = text.find("0000000"); at != std::string::npos;
       at = text.find("0000000", at + 7)) {
    digits.push_back(at);
  }
  ASSERT_EQ(digits.size(), 3u);
  auto message = std::make_unique<sip::SipMessage>();
  SipEvent ev;
  ev.src_ip = test::V4(198, 51, 100, 7);
  ev.src_port = 5060;
  ev.dst_ip = test::V4(10, 0, 0, 2);
  ev.dst_port = 5070;
  ev.transport = "udp";
  ev.message = message.get();
  ev.raw = text;
  uint64_t peak_open = 0;
  TimestampNs last_invite = 0;
  for (uint64_t i = 0; i < kFlood; ++i) {
    char number[8];
    std::snprintf(number, sizeof number, "%07llu", static_cast<unsigned long long>(i));
    for (size_t at : digits) text.replace(at, 7, number, 7);
    ASSERT_EQ(sip::ParseSipMessage(text, sip::ParseOptions{}, message.get()),
              sip::ParseStatus::kComplete);
    ev.ts = last_invite = AtMs(3000) + static_cast<TimestampNs>(i) * 10 * kNsPerUs;
    h.tracker().AdvanceTime(ev.ts);  // as the app does, per packet
    h.tracker().OnMessage(ev);
    peak_open = std::max(peak_open, h.counters().open_calls);
  }
  EXPECT_EQ(peak_open, kCap) << "open calls past the cap";
  EXPECT_TRUE(records.kept.empty()) << "the established call was emitted during the flood as "
                                    << CallStateName(records.kept.front().state);

  h.FeedAfterTimers(s.Bye(From::kCaller, "bob-tag", 2), AtMs(20000), From::kCaller);
  h.FeedAfterTimers(s.Response(200, "OK", "bob-tag", 2, "BYE", "z9hG4bK-bye1"), AtMs(20020),
                    From::kCallee);
  h.tracker().AdvanceTime(last_invite + kTimerB);  // the rest of the flood: Timer B
  h.tracker().AdvanceTime(AtMs(20020) + kLinger);
  h.tracker().Finish(AtMs(20020) + kLinger);

  ASSERT_EQ(records.kept.size(), 1u);
  const CallRecord& r = records.kept[0];
  EXPECT_EQ(r.call_id, "established@atlanta");
  EXPECT_EQ(CallStateName(r.state), "answered");
  EXPECT_EQ(r.duration_ms, 20000 - 2010);
  EXPECT_EQ(r.connect_ms, 20000 - 2000);
  EXPECT_EQ(r.end_ts, AtMs(20000));
  EXPECT_EQ(r.disconnect_delay_ms, 20);
  EXPECT_EQ(r.hangup_by, "caller");
  EXPECT_EQ(r.message_count, 7u);

  EXPECT_EQ(records.flood_calls, kFlood);
  EXPECT_EQ(records.flood_no_answer, kFlood) << "e.g. " << records.bad_example;
  const CallTrackerCounters& n = h.counters();
  // Every call but the cap's worth open at the end of the flood was evicted:
  // the established call and the flood (kFlood + 1 calls) less kCap.
  const uint64_t evicted = kFlood + 1 - kCap;
  EXPECT_EQ(n.calls_created, kFlood + 1);
  EXPECT_EQ(n.calls_emitted, kFlood + 1);
  EXPECT_EQ(n.calls_evicted, evicted);
  EXPECT_EQ(n.calls_evicted_no_response, evicted);
  EXPECT_EQ(n.calls_evicted_challenged + n.calls_evicted_ended + n.calls_evicted_ringing +
                n.calls_evicted_established,
            0u);
  EXPECT_EQ(n.orphan_requests, 0u);
  EXPECT_EQ(n.orphan_responses, 0u);
  EXPECT_EQ(n.open_calls, 0u);
}

TEST(CallTracker, FinishedCallEvictedByTheCapKeepsItsState) {
  CallTrackerOptions options;
  options.max_open_calls = 1;
  TrackerHarness h(options);
  CallScript a("a@atlanta"), b("b@atlanta");
  FeedFailedCall(h, a, 486, "Busy Here");
  h.Feed(b.Invite(), AtMs(400), From::kCaller);
  ASSERT_EQ(h.sink.calls.size(), 1u);
  EXPECT_EQ(h.sink.calls[0].state, CallState::kBusy);
}

TEST(CallTracker, Q850ReasonIsPreferredOverSipReason) {
  TrackerHarness h;
  CallScript s("reason@atlanta");
  h.Feed(s.Invite(), AtMs(0), From::kCaller);
  h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(s.Bye(From::kCallee, "bob-tag", 1, "z9hG4bK-bye2",
               "Reason: SIP;cause=200;text=\"Call completed\"\r\n"
               "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\n"),
         AtMs(5000), From::kCallee);
  h.tracker().Finish(AtMs(100000));
  const CallRecord& r = h.OnlyCall();
  EXPECT_EQ(r.reason_protocol, "Q.850");
  EXPECT_EQ(r.reason_cause, 16);
  EXPECT_EQ(r.reason_text, "Normal call clearing");
  EXPECT_EQ(r.hangup_by, "callee");
}

TEST(CallTracker, B2buaLegsAreLinkedByTheCorrelationHeader) {
  CallTrackerOptions options;
  options.correlation_header = "X-CID";
  TrackerHarness h(options);
  CallScript a_leg("leg-a@atlanta"), b_leg("leg-b@b2bua");
  h.Feed(a_leg.Invite(), AtMs(0), From::kCaller);
  h.Feed(b_leg.Invite(1, "z9hG4bK-b1", "", "X-CID: leg-a@atlanta\r\n"), AtMs(5), From::kCaller);
  h.tracker().Finish(AtMs(1000));
  ASSERT_EQ(h.sink.calls.size(), 2u);
  EXPECT_EQ(h.sink.calls[0].call_id, "leg-a@atlanta");
  EXPECT_EQ(h.sink.calls[0].linked_call_id, "leg-b@b2bua");
  EXPECT_EQ(h.sink.calls[1].correlation_id, "leg-a@atlanta");
  EXPECT_EQ(h.sink.calls[1].linked_call_id, "leg-a@atlanta");
}

TEST(CallTracker, LegsCarryingTheSameCorrelationTokenAreLinked) {
  CallTrackerOptions options;
  options.correlation_header = "X-CID";
  TrackerHarness h(options);
  CallScript a_leg("leg-a@atlanta"), b_leg("leg-b@b2bua");
  h.Feed(a_leg.Invite(1, "z9hG4bK-a1", "", "x-cid: token-42\r\n"), AtMs(0), From::kCaller);
  h.Feed(b_leg.Invite(1, "z9hG4bK-b1", "", "X-CID: token-42\r\n"), AtMs(5), From::kCaller);
  h.tracker().Finish(AtMs(1000));
  ASSERT_EQ(h.sink.calls.size(), 2u);
  EXPECT_EQ(h.sink.calls[0].linked_call_id, "leg-b@b2bua");
  EXPECT_EQ(h.sink.calls[1].linked_call_id, "leg-a@atlanta");
  EXPECT_EQ(h.sink.calls[0].correlation_id, "token-42");
}

TEST(CallTracker, MessagesWithoutCallIdOrMessageAreSkippedAsMalformed) {
  TrackerHarness h;
  SipEvent ev;
  ev.ts = kBase;
  h.tracker().OnMessage(ev);  // no message at all
  const std::string text =
      "INVITE sip:bob@biloxi.example SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-x\r\n"
      "From: <sip:alice@atlanta.example>;tag=1\r\nTo: <sip:bob@biloxi.example>\r\n"
      "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  h.Feed(text, AtMs(0), From::kCaller);
  EXPECT_EQ(h.counters().malformed_skipped, 2u);
  EXPECT_EQ(h.counters().messages, 2u);
  EXPECT_EQ(h.counters().calls_created, 0u);
}

TEST(CallTracker, SlotsAreReusedAcrossManyCalls) {
  TrackerHarness h;
  for (int i = 0; i < 200; ++i) {
    CallScript s("many-" + std::to_string(i) + "@atlanta");
    const int64_t t = i * 100000;
    h.Feed(s.Invite(), AtMs(t), From::kCaller);
    h.Feed(s.Response(200, "OK", "bob-tag"), AtMs(t + 1000), From::kCallee);
    h.Feed(s.Ack("bob-tag"), AtMs(t + 1010), From::kCaller);
    h.Feed(s.Bye(From::kCaller, "bob-tag", 2), AtMs(t + 2010), From::kCaller);
    h.tracker().AdvanceTime(AtMs(t + 99000));
    EXPECT_EQ(h.counters().open_calls, 0u);
  }
  ASSERT_EQ(h.sink.calls.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(h.sink.calls[i].call_id, "many-" + std::to_string(i) + "@atlanta");
    EXPECT_EQ(h.sink.calls[i].duration_ms, 1000);
    EXPECT_EQ(h.sink.calls[i].state, CallState::kAnswered);
  }
}

TEST(CallTracker, CallStateNamesAreTheStoreValues) {
  EXPECT_EQ(CallStateName(CallState::kAnswered), "answered");
  EXPECT_EQ(CallStateName(CallState::kBusy), "busy");
  EXPECT_EQ(CallStateName(CallState::kCancelled), "cancelled");
  EXPECT_EQ(CallStateName(CallState::kNoAnswer), "no_answer");
  EXPECT_EQ(CallStateName(CallState::kFailed), "failed");
  EXPECT_EQ(CallStateName(CallState::kInProgress), "in_progress");
  EXPECT_EQ(CallStateName(CallState::kTimedOut), "timed_out");
}

}  // namespace
}  // namespace sipman::calls
