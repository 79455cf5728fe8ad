// CallAnalytics over a store filled with hand-made records whose every
// metric is worked out by hand in the comments below (docs/METRICS.md has
// the formulas).
#include "store/analytics.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using calls::CallState;
using testing::Ip4;
using testing::TempDir;

constexpr TimestampNs kT0 = 1795600800LL * kNsPerSecond;  // 2026-11-25T10:00:00Z, a Wednesday
constexpr TimestampNs kMs = kNsPerMs;
constexpr TimestampNs kMin = 60 * kNsPerSecond;
constexpr TimestampNs kHour = 3600 * kNsPerSecond;

struct CallSpec {
  const char* call_id;
  const char* caller;
  const char* callee;
  TimestampNs invite_ts;
  CallState state;
  int final_status;
  int64_t first_18x_ms;  // after the INVITE; -1: none
  int64_t answer_ms;     // -1: none
  int64_t final_ms;      // -1: none
  int64_t duration_ms, connect_ms, post_dial_delay_ms, disconnect_delay_ms;
  const char* sensor;
};

// calls  SER: 200s / (calls - 3xx) = 3 / (9 - 1)      = 37.5 %
//        SEER: {200,480,486,600,603} = 4 / 8          = 50 %
//        ISA: {408,500,503,504} = 2 / 9               = 22.2 %
//        SCR: answered 3 / 9, ASR 2xx 3 / 9, NER {2xx,480,486,487,600,603} 5 / 9
const CallSpec kCalls[] = {
    {"c1", "alice", "bob", kT0, CallState::kAnswered, 200, 100, 1000, 1000, 3000, 3010, 100, 20,
     "edge-1"},
    {"c2", "alice", "carol", kT0 + 10 * kMin, CallState::kAnswered, 200, 200, 2000, 2000, 20000,
     20005, 200, 40, "edge-1"},
    {"c3", "bob", "alice", kT0 + kHour + 5 * kMin, CallState::kAnswered, 200, -1, 500, 500,
     4000000, 4000001, 500, -1, "edge-1"},
    {"c4", "alice", "dave", kT0 + kHour + 10 * kMin, CallState::kBusy, 486, -1, -1, 300, 0, 0, 300,
     -1, "edge-1"},
    {"c5", "carol", "bob", kT0 + 25 * kHour, CallState::kFailed, 503, -1, -1, 700, 0, 0, 700, -1,
     "edge-1"},
    {"c6", "dave", "erin", kT0 + 25 * kHour + kMin, CallState::kFailed, 302, -1, -1, 50, 0, 0, 50,
     -1, "edge-1"},
    {"c7", "erin", "alice", kT0 + 26 * kHour, CallState::kCancelled, 487, 100, -1, 5000, 0, 0, 100,
     -1, "edge-1"},
    {"c8", "alice", "bob", kT0 + 26 * kHour + kMin, CallState::kNoAnswer, 408, -1, -1, 32000, 0, 0,
     32000, -1, "edge-1"},
    {"c9", "bob", "carol", kT0 + 27 * kHour, CallState::kInProgress, 0, -1, -1, -1, 0, 0, -1, -1,
     "edge-2"},
};

calls::CallRecord MakeCall(const CallSpec& s, int n) {
  calls::CallRecord r;
  r.call_id = s.call_id;
  r.sensor = s.sensor;
  r.caller_user = s.caller;
  r.callee_user = s.callee;
  r.src_ip = Ip4(10, 0, 0, static_cast<uint8_t>(n % 2 + 1));  // c1 c3 c5 c7 c9: 10.0.0.2
  r.caller_user_agent = n < 3 ? "PhoneA" : "PhoneB";
  r.invite_ts = s.invite_ts;
  auto at = [&](int64_t ms) { return ms < 0 ? 0 : s.invite_ts + ms * kMs; };
  r.first_18x_ts = at(s.first_18x_ms);
  r.answer_ts = at(s.answer_ms);
  r.final_ts = at(s.final_ms);
  r.end_ts = r.final_ts;
  r.duration_ms = s.duration_ms;
  r.connect_ms = s.connect_ms;
  r.post_dial_delay_ms = s.post_dial_delay_ms;
  r.disconnect_delay_ms = s.disconnect_delay_ms;
  r.final_status = s.final_status;
  r.state = s.state;
  return r;
}

calls::RegistrationRecord MakeRegistration(const char* call_id, TimestampNs first_seen,
                                           const char* result, int status, int64_t delay_ms) {
  calls::RegistrationRecord r;
  r.call_id = call_id;
  r.sensor = "edge-1";
  r.aor = "alice@example.com";
  r.result = result;
  r.status_code = status;
  r.request_delay_ms = delay_ms;
  r.first_seen = first_seen;
  r.last_seen = first_seen + 1;
  return r;
}

class AnalyticsTest : public ::testing::Test {
 protected:
  std::unique_ptr<CallAnalytics> OpenFilled(bool fill = true) {
    StoreOptions options;
    options.url = dir_.File("a.db");
    auto store = Store::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (fill) {
      int n = 0;
      for (const CallSpec& s : kCalls) (*store)->AddCall(MakeCall(s, n++));
      // IRA: failed + expired = 2 of 5 = 40 %; RRD over the 2xx: (40 + 60 + 100) / 3.
      (*store)->AddRegistration(MakeRegistration("r1", kT0 + 1 * kMin, "success", 200, 40));
      (*store)->AddRegistration(MakeRegistration("r2", kT0 + 2 * kMin, "success", 200, 60));
      (*store)->AddRegistration(MakeRegistration("r3", kT0 + 3 * kMin, "failed", 403, -1));
      (*store)->AddRegistration(MakeRegistration("r4", kT0 + 4 * kMin, "expired", 0, -1));
      (*store)->AddRegistration(MakeRegistration("r5", kT0 + 5 * kMin, "success", 200, 100));
    }
    EXPECT_TRUE((*store)->Close().ok());
    auto analytics = CallAnalytics::Open(options.url);
    EXPECT_TRUE(analytics.ok()) << analytics.status().message();
    return analytics.ok() ? std::move(*analytics) : nullptr;
  }
  TempDir dir_;
};

int64_t Count(const std::vector<KeyCount>& rows, const std::string& key) {
  for (const KeyCount& k : rows) {
    if (k.key == key) return k.calls;
  }
  return -1;
}

TEST_F(AnalyticsTest, Rfc6076RatiosAndDelays) {
  auto a = OpenFilled();
  ASSERT_NE(a, nullptr);
  Result<CallSummary> r = a->Summary({});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const CallSummary& m = *r;
  EXPECT_EQ(m.calls, 9);
  EXPECT_EQ(m.invites_200, 3);
  EXPECT_EQ(m.invites_3xx, 1);
  EXPECT_DOUBLE_EQ(*m.ser, 100.0 * 3 / 8);
  EXPECT_DOUBLE_EQ(*m.seer, 100.0 * 4 / 8);
  EXPECT_DOUBLE_EQ(*m.isa, 100.0 * 2 / 9);
  EXPECT_DOUBLE_EQ(*m.scr, 100.0 * 3 / 9);
  EXPECT_DOUBLE_EQ(*m.asr, 100.0 * 3 / 9);
  EXPECT_DOUBLE_EQ(*m.ner, 100.0 * 5 / 9);
  // SRD successful: INVITE to 18x (c1 100, c2 200), else to the 2xx (c3 500).
  EXPECT_EQ(m.srd_successful.count, 3);
  EXPECT_NEAR(*m.srd_successful.mean_ms, 800.0 / 3, 1e-9);
  // SRD failed: INVITE to the final 4xx-6xx: 300, 700, 5000, 32000.
  EXPECT_EQ(m.srd_failed.count, 4);
  EXPECT_DOUBLE_EQ(*m.srd_failed.mean_ms, 9500.0);
  EXPECT_EQ(m.sdd.count, 2);
  EXPECT_DOUBLE_EQ(*m.sdd.mean_ms, 30.0);
  EXPECT_EQ(m.sdt.count, 3);
  EXPECT_NEAR(*m.sdt.mean_ms, (3010.0 + 20005 + 4000001) / 3, 1e-6);
  EXPECT_NEAR(*m.acd_ms, (3000.0 + 20000 + 4000000) / 3, 1e-6);
  // Post-dial delay: 50 100 100 200 300 500 700 32000 (nearest rank).
  EXPECT_EQ(m.post_dial_delay.count, 8);
  EXPECT_DOUBLE_EQ(*m.post_dial_delay.mean_ms, 33950.0 / 8);
  EXPECT_EQ(*m.post_dial_delay.p50_ms, 200);
  EXPECT_EQ(*m.post_dial_delay.p90_ms, 32000);
  EXPECT_EQ(*m.post_dial_delay.p95_ms, 32000);
  // Registrations.
  EXPECT_EQ(m.registrations, 5);
  EXPECT_EQ(m.registrations_ineffective, 2);
  EXPECT_DOUBLE_EQ(*m.ira, 40.0);
  EXPECT_EQ(m.rrd.count, 3);
  EXPECT_NEAR(*m.rrd.mean_ms, 200.0 / 3, 1e-9);
}

TEST_F(AnalyticsTest, StatesStatusesAndDurations) {
  auto a = OpenFilled();
  ASSERT_NE(a, nullptr);
  Result<CallSummary> r = a->Summary({});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Count(r->by_state, "answered"), 3);
  EXPECT_EQ(Count(r->by_state, "busy"), 1);
  EXPECT_EQ(Count(r->by_state, "failed"), 2);
  EXPECT_EQ(Count(r->by_state, "in_progress"), 1);
  EXPECT_EQ(r->by_state.front().key, "answered");
  EXPECT_EQ(Count(r->by_status, "200"), 3);
  EXPECT_EQ(Count(r->by_status, "302"), 1);
  EXPECT_EQ(Count(r->by_status, "0"), 1);
  EXPECT_EQ(r->duration.count, 3);
  EXPECT_EQ(*r->duration.p50_ms, 20000);
  EXPECT_EQ(*r->duration.p90_ms, 4000000);
  EXPECT_EQ(*r->duration.p99_ms, 4000000);
  ASSERT_EQ(r->duration_histogram.size(), 10u);
  std::vector<int64_t> counts;
  for (const DurationBucket& b : r->duration_histogram) counts.push_back(b.calls);
  EXPECT_EQ(counts, (std::vector<int64_t>{1, 0, 1, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(r->duration_histogram[2].lower_ms, 15000);
  EXPECT_EQ(r->duration_histogram[2].upper_ms, 30000);
  EXPECT_EQ(r->duration_histogram.back().upper_ms, -1);
}

TEST_F(AnalyticsTest, CallsPerPeriodInUtc) {
  auto a = OpenFilled();
  ASSERT_NE(a, nullptr);
  auto hours = a->ByPeriod({}, Period::kHour);
  ASSERT_TRUE(hours.ok()) << hours.status().message();
  std::vector<std::pair<TimestampNs, int64_t>> got;
  for (const PeriodCount& p : *hours) got.emplace_back(p.start_ts, p.calls);
  EXPECT_EQ(got, (std::vector<std::pair<TimestampNs, int64_t>>{
                     {kT0, 2}, {kT0 + kHour, 2}, {kT0 + 25 * kHour, 2}, {kT0 + 26 * kHour, 2},
                     {kT0 + 27 * kHour, 1}}));
  EXPECT_EQ((*hours)[0].answered, 2);
  EXPECT_EQ((*hours)[0].duration_ms_sum, 23000);
  auto days = a->ByPeriod({}, Period::kDay);
  ASSERT_TRUE(days.ok());
  ASSERT_EQ(days->size(), 2u);
  EXPECT_EQ((*days)[0].start_ts, kT0 - 10 * kHour);  // 2026-11-25T00:00:00Z
  EXPECT_EQ((*days)[0].calls, 4);
  EXPECT_EQ((*days)[1].calls, 5);
  auto weeks = a->ByPeriod({}, Period::kWeek);
  ASSERT_TRUE(weeks.ok());
  ASSERT_EQ(weeks->size(), 1u);
  EXPECT_EQ((*weeks)[0].start_ts, kT0 - 2 * 24 * kHour - 10 * kHour);  // Monday 2026-11-23
  EXPECT_EQ((*weeks)[0].calls, 9);
}

TEST_F(AnalyticsTest, TopUsersIpsAndAgents) {
  auto a = OpenFilled();
  ASSERT_NE(a, nullptr);
  AnalyticsQuery q;
  auto callers = a->TopUsers(q, UserSide::kCaller);
  ASSERT_TRUE(callers.ok()) << callers.status().message();
  ASSERT_EQ(callers->size(), 5u);
  EXPECT_EQ((*callers)[0].key, "alice");
  EXPECT_EQ((*callers)[0].calls, 4);
  EXPECT_EQ((*callers)[0].answered, 2);
  EXPECT_EQ(Count(*callers, "bob"), 2);
  auto callees = a->TopUsers(q, UserSide::kCallee);
  ASSERT_TRUE(callees.ok());
  EXPECT_EQ((*callees)[0].key, "bob");
  EXPECT_EQ((*callees)[0].calls, 3);
  EXPECT_EQ(Count(*callees, "alice"), 2);
  EXPECT_EQ(Count(*callees, "carol"), 2);
  auto either = a->TopUsers(q, UserSide::kEither);
  ASSERT_TRUE(either.ok()) << either.status().message();
  EXPECT_EQ(Count(*either, "alice"), 6);
  EXPECT_EQ(Count(*either, "bob"), 5);
  EXPECT_EQ(Count(*either, "carol"), 3);
  EXPECT_EQ(Count(*either, "erin"), 2);
  q.top_n = 2;
  auto top2 = a->TopUsers(q, UserSide::kEither);
  ASSERT_TRUE(top2.ok());
  ASSERT_EQ(top2->size(), 2u);
  EXPECT_EQ((*top2)[1].key, "bob");
  q.top_n = 10;
  auto ips = a->TopSourceIps(q);
  ASSERT_TRUE(ips.ok());
  EXPECT_EQ(Count(*ips, "10.0.0.1"), 5);
  EXPECT_EQ(Count(*ips, "10.0.0.2"), 4);
  auto agents = a->TopUserAgents(q);
  ASSERT_TRUE(agents.ok());
  EXPECT_EQ(Count(*agents, "PhoneA"), 3);
  EXPECT_EQ(Count(*agents, "PhoneB"), 6);
}

TEST_F(AnalyticsTest, RangeAndSensorFilter) {
  auto a = OpenFilled();
  ASSERT_NE(a, nullptr);
  AnalyticsQuery q;
  q.from_ts = kT0;
  q.to_ts = kT0 + kHour;  // c1 and c2; r1..r5
  auto r = a->Summary(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->calls, 2);
  EXPECT_DOUBLE_EQ(*r->ser, 100.0);
  EXPECT_EQ(r->registrations, 5);
  q.from_ts = kT0 + 10 * kMin;  // the bound is inclusive: c2 only
  r = a->Summary(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->calls, 1);
  EXPECT_EQ(r->registrations, 0);
  AnalyticsQuery s;
  s.sensor = "edge-2";
  r = a->Summary(s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->calls, 1);
  EXPECT_DOUBLE_EQ(*r->ser, 0.0);
  EXPECT_FALSE(r->acd_ms.has_value());
}

void ExpectEmpty(CallAnalytics* a, const AnalyticsQuery& q) {
  auto r = a->Summary(q);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->calls, 0);
  EXPECT_TRUE(r->by_state.empty());
  EXPECT_FALSE(r->ser || r->seer || r->isa || r->scr || r->asr || r->ner || r->ira || r->acd_ms);
  EXPECT_FALSE(r->srd_successful.mean_ms || r->srd_failed.mean_ms || r->sdd.mean_ms ||
               r->sdt.mean_ms || r->rrd.mean_ms || r->post_dial_delay.mean_ms);
  EXPECT_FALSE(r->duration.p50_ms || r->post_dial_delay.p95_ms);
  EXPECT_EQ(r->duration_histogram.size(), 10u);
  for (const DurationBucket& b : r->duration_histogram) EXPECT_EQ(b.calls, 0);
  auto hours = a->ByPeriod(q, Period::kHour);
  ASSERT_TRUE(hours.ok());
  EXPECT_TRUE(hours->empty());
  for (UserSide side : {UserSide::kCaller, UserSide::kCallee, UserSide::kEither}) {
    auto users = a->TopUsers(q, side);
    ASSERT_TRUE(users.ok());
    EXPECT_TRUE(users->empty());
  }
  auto ips = a->TopSourceIps(q);
  ASSERT_TRUE(ips.ok());
  EXPECT_TRUE(ips->empty());
}

TEST_F(AnalyticsTest, EmptyAndFutureRangesGiveNullRatios) {
  auto a = OpenFilled();
  ASSERT_NE(a, nullptr);
  AnalyticsQuery future;
  future.from_ts = kT0 + 1000 * 24 * kHour;
  ExpectEmpty(a.get(), future);
  AnalyticsQuery empty;
  empty.from_ts = kT0 + 5;
  empty.to_ts = kT0 + 5;
  ExpectEmpty(a.get(), empty);
  AnalyticsQuery reversed;
  reversed.from_ts = kT0 + kHour;
  reversed.to_ts = kT0;
  ExpectEmpty(a.get(), reversed);
}

TEST_F(AnalyticsTest, DatabaseWithoutCalls) {
  auto a = OpenFilled(/*fill=*/false);
  ASSERT_NE(a, nullptr);
  ExpectEmpty(a.get(), {});
}

TEST_F(AnalyticsTest, MissingDatabaseIsAnErrorNamingIt) {
  auto a = CallAnalytics::Open(dir_.File("absent.db"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("absent.db"), std::string::npos) << a.status().message();
}

}  // namespace
}  // namespace sipman::store
