// The correlator publishes to a LiveFeed (`sipman run`'s web GUI): a call
// start when the tracker creates a call, each emitted call record, and each
// closed traffic second; nothing when no feed is set.
#include "app/correlator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sip/sip.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {
namespace {

constexpr TimestampNs kT0 = 1795600800LL * kNsPerSecond;  // 2026-11-25T10:00:00Z

// Records what is published (the correlator's thread only).
class FakeLiveFeed : public web::LiveFeed {
 public:
  void PublishTraffic(const stats::TrafficCounters& second) override { traffic.push_back(second); }
  void PublishOpenTraffic(const stats::TrafficCounters& second) override {
    open_traffic.push_back(second);
  }
  void PublishCallStart(const calls::CallRecord& call) override { starts.push_back(call); }
  void PublishCallEnd(const calls::CallRecord& call) override { ends.push_back(call); }
  void PublishConcurrent(uint64_t calls) override { concurrent.push_back(calls); }

  std::vector<stats::TrafficCounters> traffic, open_traffic;
  std::vector<calls::CallRecord> starts, ends;
  std::vector<uint64_t> concurrent;
};

IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}

// Alice (10.0.0.1:5060) calls bob (10.0.0.2:5070).
std::string Message(const std::string& start_line, const std::string& call_id, uint32_t cseq,
                    const std::string& method, bool to_tag) {
  return start_line + "\r\n"
         "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-" + call_id + "-" + method + "\r\n"
         "From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"
         "To: <sip:bob@example.com>" + (to_tag ? ";tag=b1" : "") + "\r\n"
         "Call-ID: " + call_id + "\r\n"
         "CSeq: " + std::to_string(cseq) + " " + method + "\r\n"
         "Content-Length: 0\r\n\r\n";
}

class CorrelatorLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sipman-correlator-live-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    store::StoreOptions options;
    options.url = dir_ + "/test.db";
    options.sensor = "test";
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store.value());
    correlator_ = std::make_unique<Correlator>(calls::CallTrackerOptions{}, store_.get());
  }

  void TearDown() override {
    correlator_.reset();
    if (store_) {
      EXPECT_TRUE(store_->Close().ok());
    }
    std::filesystem::remove_all(dir_);
  }

  // Parses `text` and hands it to the correlator as captured at `ts`, from
  // the caller (or, `from_callee`, from the callee).
  void Feed(const std::string& text, TimestampNs ts, bool from_callee = false) {
    sip::SipMessage message;
    ASSERT_EQ(sip::ParseSipMessage(text, sip::ParseOptions{}, &message),
              sip::ParseStatus::kComplete) << text;
    net::Payload payload;
    payload.ts = ts;
    payload.src_ip = from_callee ? V4(10, 0, 0, 2) : V4(10, 0, 0, 1);
    payload.dst_ip = from_callee ? V4(10, 0, 0, 1) : V4(10, 0, 0, 2);
    payload.src_port = from_callee ? 5070 : 5060;
    payload.dst_port = from_callee ? 5060 : 5070;
    payload.frame_bytes = static_cast<uint32_t>(text.size() + 42);
    payload.data = text;
    correlator_->OnSipMessage(payload, message);
    correlator_->OnPacketDone(ts);
  }

  // An answered call: INVITE (sent twice), 180, 200, ACK, BYE, 200.
  void AnsweredCall(const std::string& call_id, TimestampNs t) {
    const std::string invite = Message("INVITE sip:bob@10.0.0.2:5070 SIP/2.0", call_id, 1,
                                       "INVITE", false);
    Feed(invite, t);
    Feed(invite, t + 100 * kNsPerMs);  // a retransmission starts nothing
    Feed(Message("SIP/2.0 180 Ringing", call_id, 1, "INVITE", true), t + 200 * kNsPerMs, true);
    Feed(Message("SIP/2.0 200 OK", call_id, 1, "INVITE", true), t + 1 * kNsPerSecond, true);
    Feed(Message("ACK sip:bob@10.0.0.2:5070 SIP/2.0", call_id, 1, "ACK", true),
         t + 1100 * kNsPerMs);
    Feed(Message("BYE sip:bob@10.0.0.2:5070 SIP/2.0", call_id, 2, "BYE", true),
         t + 5 * kNsPerSecond);
    Feed(Message("SIP/2.0 200 OK", call_id, 2, "BYE", true), t + 5100 * kNsPerMs, true);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Correlator> correlator_;
};

TEST_F(CorrelatorLiveTest, PublishesCallStartEndAndTrafficSeconds) {
  FakeLiveFeed feed;
  correlator_->set_live(&feed);
  AnsweredCall("call-1@test", kT0);

  ASSERT_EQ(feed.starts.size(), 1u) << "one start for one INVITE and its retransmission";
  const calls::CallRecord& start = feed.starts[0];
  EXPECT_EQ(start.call_id, "call-1@test");
  EXPECT_EQ(start.caller_user, "alice");
  EXPECT_EQ(start.caller_display, "Alice");
  EXPECT_EQ(start.caller_domain, "example.com");
  EXPECT_EQ(start.callee_user, "bob");
  EXPECT_EQ(start.ruri_user, "bob");
  EXPECT_EQ(start.invite_ts, kT0);
  EXPECT_EQ(start.src_ip, V4(10, 0, 0, 1));
  EXPECT_EQ(start.dst_ip, V4(10, 0, 0, 2));
  EXPECT_EQ(start.src_port, 5060);
  EXPECT_EQ(start.dst_port, 5070);
  EXPECT_EQ(start.state, calls::CallState::kInProgress);
  EXPECT_TRUE(feed.ends.empty()) << "the call lingers for retransmissions before it is emitted";
  EXPECT_EQ(correlator_->tracker_counters().open_calls, 1u);
  EXPECT_EQ(correlator_->CountOpenCalls(kT0 + 6 * kNsPerSecond), 0u) << "hung up: not up";

  // Seconds close kOpenSeconds after the newest one: 6 s of traffic so far.
  correlator_->AdvanceTime(kT0 + 20 * kNsPerSecond);
  ASSERT_FALSE(feed.traffic.empty());
  uint64_t messages = 0, invites = 0;
  for (const stats::TrafficCounters& s : feed.traffic) {
    messages += s.messages;
    invites += s.methods[stats::MethodIndex("INVITE")];
  }
  EXPECT_EQ(messages, 7u);
  EXPECT_EQ(invites, 2u);
  EXPECT_EQ(feed.traffic.front().ts, kT0 / kNsPerSecond);

  correlator_->Finish(kT0 + 60 * kNsPerSecond);
  ASSERT_EQ(feed.ends.size(), 1u);
  EXPECT_EQ(feed.ends[0].call_id, "call-1@test");
  EXPECT_EQ(feed.ends[0].state, calls::CallState::kAnswered);
  EXPECT_EQ(feed.ends[0].final_status, 200);
  EXPECT_EQ(feed.ends[0].caller_user, "alice");
  EXPECT_EQ(feed.starts.size(), 1u);
  EXPECT_TRUE(feed.concurrent.empty()) << "concurrent calls are the daemon's, not the correlator's";
}

// A dashboard must not wait kOpenSeconds for a second: the seconds that
// have ended by `now` are published as they stand, the current one is not,
// and each is published again, final, when it closes.
TEST_F(CorrelatorLiveTest, PublishesOpenSecondsBeforeTheCurrentOne) {
  FakeLiveFeed feed;
  correlator_->set_live(&feed);
  AnsweredCall("call-5@test", kT0);  // messages in seconds 0, 1 and 5

  correlator_->PublishOpenSeconds(kT0 + 5 * kNsPerSecond + 500 * kNsPerMs);
  ASSERT_EQ(feed.open_traffic.size(), 2u) << "seconds 0 and 1; second 5 is still running";
  EXPECT_TRUE(feed.traffic.empty()) << "nothing closed yet";
  EXPECT_EQ(feed.open_traffic[0].ts, kT0 / kNsPerSecond);
  EXPECT_EQ(feed.open_traffic[0].messages, 3u) << "INVITE twice, 180";
  EXPECT_EQ(feed.open_traffic[1].ts, kT0 / kNsPerSecond + 1);
  EXPECT_EQ(feed.open_traffic[1].messages, 2u) << "200, ACK";

  feed.open_traffic.clear();
  correlator_->PublishOpenSeconds(kT0 + 6 * kNsPerSecond);
  ASSERT_EQ(feed.open_traffic.size(), 3u);
  EXPECT_EQ(feed.open_traffic[2].ts, kT0 / kNsPerSecond + 5);
  EXPECT_EQ(feed.open_traffic[2].messages, 2u) << "BYE, 200";

  correlator_->AdvanceTime(kT0 + 20 * kNsPerSecond);
  ASSERT_EQ(feed.traffic.size(), 3u) << "each second again, final";
  EXPECT_EQ(feed.traffic[0].messages, 3u);
  feed.open_traffic.clear();
  correlator_->PublishOpenSeconds(kT0 + 21 * kNsPerSecond);
  EXPECT_TRUE(feed.open_traffic.empty()) << "closed seconds are not open";
}

TEST_F(CorrelatorLiveTest, OpenCallSnapshotsAreNotPublishedAsEnds) {
  FakeLiveFeed feed;
  correlator_->set_live(&feed);
  Feed(Message("INVITE sip:bob@10.0.0.2:5070 SIP/2.0", "call-2@test", 1, "INVITE", false), kT0);
  EXPECT_EQ(correlator_->OpenCalls(kT0 + kNsPerSecond).size(), 1u);
  EXPECT_EQ(correlator_->CountOpenCalls(kT0 + kNsPerSecond), 1u);
  EXPECT_EQ(feed.starts.size(), 1u);
  EXPECT_TRUE(feed.ends.empty());
  correlator_->Finish(kT0 + 2 * kNsPerSecond);
  ASSERT_EQ(feed.ends.size(), 1u);
  EXPECT_EQ(feed.ends[0].state, calls::CallState::kInProgress);
}

TEST_F(CorrelatorLiveTest, CallFirstSeenFromAResponseStartsWithCallerAsSource) {
  FakeLiveFeed feed;
  correlator_->set_live(&feed);
  Feed(Message("SIP/2.0 180 Ringing", "call-3@test", 1, "INVITE", true), kT0, true);
  if (feed.starts.empty()) GTEST_SKIP() << "the tracker makes no call from a lone response";
  ASSERT_EQ(feed.starts.size(), 1u);
  EXPECT_EQ(feed.starts[0].src_ip, V4(10, 0, 0, 1));
  EXPECT_EQ(feed.starts[0].dst_port, 5070);
  EXPECT_EQ(feed.starts[0].caller_user, "alice");
}

TEST_F(CorrelatorLiveTest, WithoutAFeedNothingIsPublishedAndCallsAreStored) {
  AnsweredCall("call-4@test", kT0);
  correlator_->Finish(kT0 + 60 * kNsPerSecond);
  EXPECT_EQ(correlator_->total_calls(), 1u);
  EXPECT_EQ(correlator_->calls(calls::CallState::kAnswered), 1u);
}

}  // namespace
}  // namespace sipman::app
