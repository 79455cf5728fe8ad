// CallSearch and CallAnalytics give the same answers over PostgreSQL as over
// SQLite: both stores are filled with the same generated calls and
// registrations (several sensors, every state, many statuses, users and
// durations, over three weeks), then every search (each filter, each sort,
// every page through cursors) and every analytics figure is compared, row
// for row and bit for bit. SQLite's figures are taken both with and without
// its rollups.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "store/analytics.h"
#include "store/call_search.h"
#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using calls::CallState;
using testing::Ip4;
using testing::Ip6Doc;

constexpr TimestampNs kT0 = 1795600800LL * kNsPerSecond;  // 2026-11-25T10:00:00Z, a Wednesday
constexpr TimestampNs kMin = 60 * kNsPerSecond;
constexpr TimestampNs kHour = 3600 * kNsPerSecond;
constexpr TimestampNs kDay = 24 * kHour;
constexpr int kCalls = 1200;
constexpr int kRegistrations = 300;

// A small deterministic generator, so both stores get the same rows.
class Lcg {
 public:
  uint64_t Next(uint64_t n) {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return (state_ >> 33) % n;
  }

 private:
  uint64_t state_ = 42;
};

const char* const kSensors[] = {"A", "B", "edge-3"};
// Byte order differs from any locale's: capitals, accents, a digit first.
const char* const kUsers[] = {"u1",    "u12",   "u123", "u2",   "alice", "Bob",
                              "bob",   "élodie", "Émile", "9000", "u1x",  "carol"};
const char* const kAgents[] = {"PhoneA", "phoneA", "Phöne", "SIPp/3.7", "Z", ""};
const CallState kStates[] = {CallState::kAnswered,  CallState::kBusy,   CallState::kCancelled,
                             CallState::kNoAnswer,  CallState::kFailed, CallState::kInProgress,
                             CallState::kTimedOut};
const int kStatuses[] = {0, 200, 202, 302, 408, 480, 486, 487, 500, 503, 504, 600, 603, 404};
const int64_t kDurations[] = {0, 1, 4999, 5000, 14999, 15000, 29999, 61000, 120000,
                              299999, 600000, 1799999, 3600000, 7200000, 42};

IpAddress SourceIp(uint64_t n) {
  return n % 5 == 4 ? Ip6Doc(static_cast<uint8_t>(n % 3 + 1))
                    : Ip4(10, 0, static_cast<uint8_t>(n % 3), static_cast<uint8_t>(n % 4 + 1));
}

std::vector<calls::CallRecord> MakeCalls() {
  Lcg rng;
  std::vector<calls::CallRecord> out;
  TimestampNs ts = kT0 - 2 * kDay - 17 * kMin;
  for (int i = 0; i < kCalls; ++i) {
    calls::CallRecord r;
    r.call_id = "call-" + std::to_string(i);
    r.sensor = kSensors[rng.Next(3)];
    r.caller_user = kUsers[rng.Next(std::size(kUsers))];
    // Every seventh call to itself: counted once by the "either" side.
    r.callee_user = i % 7 == 0 ? r.caller_user : kUsers[rng.Next(std::size(kUsers))];
    r.src_ip = SourceIp(rng.Next(20));
    r.dst_ip = SourceIp(rng.Next(20));
    r.caller_user_agent = kAgents[rng.Next(std::size(kAgents))];
    // Often the same invite_ts as the previous call: ties broken by id.
    if (rng.Next(4) != 0) ts += static_cast<TimestampNs>(rng.Next(40 * 60)) * kNsPerSecond + 7;
    r.invite_ts = ts;
    r.state = kStates[rng.Next(std::size(kStates))];
    r.final_status = kStatuses[rng.Next(std::size(kStatuses))];
    r.duration_ms = r.state == CallState::kAnswered || rng.Next(5) == 0
                        ? kDurations[rng.Next(std::size(kDurations))]
                        : 0;
    r.connect_ms = r.duration_ms + static_cast<int64_t>(rng.Next(100));
    r.post_dial_delay_ms = rng.Next(4) == 0 ? -1 : static_cast<int64_t>(rng.Next(3000));
    r.disconnect_delay_ms = rng.Next(3) == 0 ? -1 : static_cast<int64_t>(rng.Next(200));
    r.first_18x_ts = rng.Next(2) ? ts + static_cast<TimestampNs>(rng.Next(900)) * kNsPerMs : 0;
    r.answer_ts = rng.Next(2) ? ts + static_cast<TimestampNs>(rng.Next(3000)) * kNsPerMs : 0;
    r.final_ts = rng.Next(4) ? ts + static_cast<TimestampNs>(rng.Next(5000)) * kNsPerMs : 0;
    r.end_ts = r.final_ts + r.duration_ms * kNsPerMs;
    r.transport = "udp";
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<calls::RegistrationRecord> MakeRegistrations() {
  Lcg rng;
  const char* const kAors[] = {"alice@example.com", "alice2@example.com", "bob@example.com",
                               "élodie@example.com", "Bob@example.com"};
  const char* const kResults[] = {"success", "success", "unregistered", "failed", "expired"};
  std::vector<calls::RegistrationRecord> out;
  TimestampNs ts = kT0 - kDay;
  for (int i = 0; i < kRegistrations; ++i) {
    calls::RegistrationRecord r;
    r.call_id = "reg-" + std::to_string(i);
    r.sensor = kSensors[rng.Next(3)];
    r.aor = kAors[rng.Next(std::size(kAors))];
    r.contact = "sip:c" + std::to_string(rng.Next(3)) + "@10.1.0.1";
    r.src_ip = SourceIp(rng.Next(20));
    r.src_port = 5060;
    r.user_agent = kAgents[rng.Next(std::size(kAgents))];
    r.expires = rng.Next(5) == 0 ? 0 : static_cast<int64_t>(60 + rng.Next(7200));
    r.result = kResults[rng.Next(std::size(kResults))];
    r.status_code = r.result == std::string("success") ? 200 : rng.Next(2) ? 403 : 0;
    r.request_delay_ms = rng.Next(3) == 0 ? -1 : static_cast<int64_t>(rng.Next(500));
    if (rng.Next(3) != 0) ts += static_cast<TimestampNs>(rng.Next(3600)) * kNsPerSecond;
    r.first_seen = ts;
    r.last_seen = ts + static_cast<TimestampNs>(rng.Next(30)) * kNsPerSecond;
    out.push_back(std::move(r));
  }
  return out;
}

// RTP streams over the same three weeks: codecs with and without E-model
// figures, a few addresses each way, loss, jitter and MOS of every kind.
std::vector<StreamRow> MakeStreams() {
  const char* const codecs[] = {"PCMU", "PCMA", "G729", "opus", ""};
  const char* const ips[] = {"10.0.0.1", "10.0.0.2", "192.0.2.7", "2001:db8::5"};
  Lcg rng;
  std::vector<StreamRow> out;
  for (int i = 0; i < 700; ++i) {
    StreamRow r;
    r.sensor = kSensors[rng.Next(3)];
    r.call_id = "stream-call-" + std::to_string(i / 2);
    r.sender = i % 2 == 0 ? "caller" : "callee";
    r.src_ip = ips[rng.Next(4)];
    r.dst_ip = ips[rng.Next(4)];
    r.src_port = 10000 + i;
    r.dst_port = 20000 + i;
    r.ssrc = static_cast<int64_t>(rng.Next(1ull << 32));
    r.codec = codecs[rng.Next(5)];
    r.first_ts = kT0 - 3 * kDay + static_cast<int64_t>(rng.Next(21 * 24 * 60)) * kMin + i;
    r.packets = static_cast<int64_t>(rng.Next(30000)) + 1;
    r.expected_rfc3550 = r.packets + static_cast<int64_t>(rng.Next(300));
    r.lost_rfc3550 = r.expected_rfc3550 - r.packets;
    r.mean_jitter_ms = static_cast<double>(rng.Next(4000)) / 97.0;
    r.max_jitter_ms = r.mean_jitter_ms * 3.25;
    const bool emodel = r.codec != "opus" && !r.codec.empty();
    r.mos_fixed50 = emodel ? 1.0 + static_cast<double>(rng.Next(3500)) / 1000.0 : -1;
    out.push_back(std::move(r));
  }
  return out;
}

void Fill(const std::string& url) {
  StoreOptions options;
  options.url = url;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  for (const calls::CallRecord& r : MakeCalls()) (*store)->AddCall(r);
  for (const calls::RegistrationRecord& r : MakeRegistrations()) (*store)->AddRegistration(r);
  for (StreamRow& r : MakeStreams()) (*store)->AddStream(std::move(r));
  Status s = (*store)->Close();
  ASSERT_TRUE(s.ok()) << s.message();
}

std::string Describe(const CallSearchQuery& q) {
  std::ostringstream o;
  o << "from=" << q.from_ts << " to=" << q.to_ts << " caller=" << q.caller
    << " caller_contains=" << q.caller_contains << " callee=" << q.callee
    << " callee_contains=" << q.callee_contains << " call_id=" << q.call_id << " ip=" << q.ip
    << " states=" << q.states.size() << " statuses=" << q.statuses.size()
    << " min=" << q.min_duration_ms.value_or(-1) << " max=" << q.max_duration_ms.value_or(-1)
    << " sensor=" << q.sensor << " sort=" << static_cast<int>(q.sort) << " limit=" << q.limit;
  return o.str();
}

std::string Describe(const AnalyticsQuery& q) {
  std::ostringstream o;
  o << "from=" << q.from_ts << " to=" << q.to_ts << " sensor=" << q.sensor
    << " top_n=" << q.top_n << " rollups=" << q.use_rollups;
  return o.str();
}

void ExpectSameDistribution(const Distribution& a, const Distribution& b, const char* name) {
  EXPECT_EQ(a.count, b.count) << name;
  EXPECT_EQ(a.mean_ms, b.mean_ms) << name;
  EXPECT_EQ(a.p50_ms, b.p50_ms) << name;
  EXPECT_EQ(a.p90_ms, b.p90_ms) << name;
  EXPECT_EQ(a.p95_ms, b.p95_ms) << name;
  EXPECT_EQ(a.p99_ms, b.p99_ms) << name;
}

void ExpectSameKeys(const std::vector<KeyCount>& a, const std::vector<KeyCount>& b,
                    const char* name) {
  ASSERT_EQ(a.size(), b.size()) << name;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key) << name << " row " << i;
    EXPECT_EQ(a[i].calls, b[i].calls) << name << " row " << i << " " << a[i].key;
    EXPECT_EQ(a[i].answered, b[i].answered) << name << " row " << i << " " << a[i].key;
  }
}

void ExpectSameSummary(const CallSummary& a, const CallSummary& b) {
#define SIPMAN_SAME(f) EXPECT_EQ(a.f, b.f) << #f;
  SIPMAN_SAME(calls) SIPMAN_SAME(invites_200) SIPMAN_SAME(invites_2xx) SIPMAN_SAME(invites_3xx)
  SIPMAN_SAME(invites_effective) SIPMAN_SAME(invites_ineffective) SIPMAN_SAME(completed)
  SIPMAN_SAME(network_effective) SIPMAN_SAME(ser) SIPMAN_SAME(seer) SIPMAN_SAME(isa)
  SIPMAN_SAME(scr) SIPMAN_SAME(asr) SIPMAN_SAME(ner) SIPMAN_SAME(acd_ms)
  SIPMAN_SAME(registrations) SIPMAN_SAME(registrations_ineffective) SIPMAN_SAME(ira)
#undef SIPMAN_SAME
  ExpectSameKeys(a.by_state, b.by_state, "by_state");
  ExpectSameKeys(a.by_status, b.by_status, "by_status");
  ExpectSameDistribution(a.srd_successful, b.srd_successful, "srd_successful");
  ExpectSameDistribution(a.srd_failed, b.srd_failed, "srd_failed");
  ExpectSameDistribution(a.sdd, b.sdd, "sdd");
  ExpectSameDistribution(a.sdt, b.sdt, "sdt");
  ExpectSameDistribution(a.post_dial_delay, b.post_dial_delay, "post_dial_delay");
  ExpectSameDistribution(a.duration, b.duration, "duration");
  ExpectSameDistribution(a.rrd, b.rrd, "rrd");
  ASSERT_EQ(a.duration_histogram.size(), b.duration_histogram.size());
  for (size_t i = 0; i < a.duration_histogram.size(); ++i) {
    EXPECT_EQ(a.duration_histogram[i].lower_ms, b.duration_histogram[i].lower_ms) << i;
    EXPECT_EQ(a.duration_histogram[i].upper_ms, b.duration_histogram[i].upper_ms) << i;
    EXPECT_EQ(a.duration_histogram[i].calls, b.duration_histogram[i].calls) << i;
  }
}

class BackendParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    postgres_ = testing::PostgresServer::Shared(&why);
    if (postgres_ == nullptr) {
      skip_reason_ = new std::string("PostgreSQL tests skipped: " + why);
      return;
    }
    dir_ = new testing::TempDir();
    sqlite_url_ = new std::string(dir_->File("parity.db"));
    pg_url_ = new std::string(postgres_->Url("backend_parity"));
    Fill(*sqlite_url_);
    Fill(*pg_url_);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete sqlite_url_;
    delete pg_url_;
    delete skip_reason_;
    dir_ = nullptr;
    sqlite_url_ = pg_url_ = skip_reason_ = nullptr;
  }
  void SetUp() override {
    if (skip_reason_ != nullptr) GTEST_SKIP() << *skip_reason_;
    auto a = CallSearch::Open(*sqlite_url_);
    ASSERT_TRUE(a.ok()) << a.status().message();
    auto b = CallSearch::Open(*pg_url_);
    ASSERT_TRUE(b.ok()) << b.status().message();
    sqlite_search_ = std::move(*a);
    pg_search_ = std::move(*b);
    auto c = CallAnalytics::Open(*sqlite_url_);
    ASSERT_TRUE(c.ok()) << c.status().message();
    auto d = CallAnalytics::Open(*pg_url_);
    ASSERT_TRUE(d.ok()) << d.status().message();
    sqlite_analytics_ = std::move(*c);
    pg_analytics_ = std::move(*d);
  }

  // Pages through `q` on both backends, each with its own cursors. Ids are
  // each backend's own (PostgreSQL numbers a batch in its staging table's
  // order), so calls with equal sort keys may come in another order; all
  // else must be equal: the page sizes, the cursors' keys, the sequence of
  // sort keys, the calls of each key (every field), and in each backend the
  // (key, id) order with the cursor on the page's last row. Returns how many
  // rows there were.
  size_t ComparePages(CallSearchQuery q) {
    const std::string what = Describe(q);
    const bool by_duration = q.sort == CallSort::kDurationAsc || q.sort == CallSort::kDurationDesc;
    const bool descending = q.sort == CallSort::kInviteDesc || q.sort == CallSort::kDurationDesc;
    auto key_of = [&](const CallRow& r) {
      return by_duration ? r.record.duration_ms : r.record.invite_ts;
    };
    std::vector<CallRow> all_a, all_b;
    std::optional<SearchCursor> qa_after = q.after, qb_after = q.after;
    for (int page = 0; page < 10000; ++page) {
      CallSearchQuery qa = q, qb = q;
      qa.after = qa_after;
      qb.after = qb_after;
      Result<CallPage> a = sqlite_search_->FindCalls(qa);
      Result<CallPage> b = pg_search_->FindCalls(qb);
      EXPECT_TRUE(a.ok()) << what << ": " << a.status().message();
      EXPECT_TRUE(b.ok()) << what << ": " << b.status().message();
      if (!a.ok() || !b.ok()) return 0;
      EXPECT_EQ(a->rows.size(), b->rows.size()) << what << " page " << page;
      EXPECT_EQ(a->next.has_value(), b->next.has_value()) << what << " page " << page;
      if (a->next && b->next) {
        EXPECT_EQ(a->next->key, b->next->key) << what << " page " << page;
        EXPECT_EQ(b->next->key, key_of(b->rows.back())) << what << " page " << page;
        EXPECT_EQ(b->next->id, b->rows.back().id) << what << " page " << page;
      }
      for (CallRow& r : a->rows) all_a.push_back(std::move(r));
      for (CallRow& r : b->rows) all_b.push_back(std::move(r));
      if (::testing::Test::HasFailure()) return 0;
      if (!a->next) break;
      qa_after = a->next;
      qb_after = b->next;
      if (page == 9999) ADD_FAILURE() << what << ": more than 10000 pages";
    }
    EXPECT_EQ(all_a.size(), all_b.size()) << what;
    if (all_a.size() != all_b.size()) return 0;
    for (size_t i = 0; i < all_b.size(); ++i) {
      EXPECT_EQ(key_of(all_a[i]), key_of(all_b[i])) << what << " row " << i;
      if (i > 0) {
        const CallRow& prev = all_b[i - 1];
        const bool in_order = key_of(prev) != key_of(all_b[i])
                                  ? (key_of(prev) < key_of(all_b[i])) != descending
                                  : (prev.id < all_b[i].id) != descending;
        EXPECT_TRUE(in_order) << what << ": PostgreSQL row " << i << " out of (key, id) order";
      }
    }
    // The calls of each run of equal keys, by Call-ID.
    for (size_t begin = 0; begin < all_a.size();) {
      size_t end = begin;
      while (end < all_a.size() && key_of(all_a[end]) == key_of(all_a[begin])) ++end;
      std::map<std::string, const CallRow*> in_a, in_b;
      for (size_t i = begin; i < end; ++i) {
        in_a[all_a[i].record.call_id] = &all_a[i];
        in_b[all_b[i].record.call_id] = &all_b[i];
      }
      EXPECT_EQ(in_a.size(), end - begin) << what << ": a Call-ID twice";
      for (const auto& [call_id, row] : in_a) {
        auto it = in_b.find(call_id);
        if (it == in_b.end()) {
          ADD_FAILURE() << what << ": " << call_id << " missing on PostgreSQL";
          return 0;
        }
        testing::ExpectSameCall(row->record, it->second->record);
      }
      if (::testing::Test::HasFailure()) return 0;
      begin = end;
    }
    return all_a.size();
  }

  // Every sort and two page sizes.
  void CompareSearch(CallSearchQuery q, bool expect_rows = true) {
    for (CallSort sort : {CallSort::kInviteAsc, CallSort::kInviteDesc, CallSort::kDurationAsc,
                          CallSort::kDurationDesc}) {
      for (size_t limit : {size_t{7}, size_t{500}}) {
        q.sort = sort;
        q.limit = limit;
        size_t rows = ComparePages(q);
        if (expect_rows) {
          EXPECT_GT(rows, 0u) << Describe(q) << ": the query should match calls";
        }
        if (::testing::Test::HasFailure()) return;
      }
    }
  }

  void CompareAnalytics(AnalyticsQuery q) {
    for (bool rollups : {false, true}) {
      AnalyticsQuery qs = q;
      qs.use_rollups = rollups;
      const std::string what = Describe(qs);
      SCOPED_TRACE(what);
      Result<CallSummary> a = sqlite_analytics_->Summary(qs);
      Result<CallSummary> b = pg_analytics_->Summary(q);
      ASSERT_TRUE(a.ok()) << a.status().message();
      ASSERT_TRUE(b.ok()) << b.status().message();
      {
        SCOPED_TRACE("Summary");
        ExpectSameSummary(*a, *b);
      }
      for (Period period : {Period::kHour, Period::kDay, Period::kWeek}) {
        SCOPED_TRACE("ByPeriod " + std::to_string(static_cast<int>(period)));
        auto pa = sqlite_analytics_->ByPeriod(qs, period);
        auto pb = pg_analytics_->ByPeriod(q, period);
        ASSERT_TRUE(pa.ok()) << pa.status().message();
        ASSERT_TRUE(pb.ok()) << pb.status().message();
        ASSERT_EQ(pa->size(), pb->size());
        for (size_t i = 0; i < pa->size(); ++i) {
          EXPECT_EQ((*pa)[i].start_ts, (*pb)[i].start_ts) << i;
          EXPECT_EQ((*pa)[i].calls, (*pb)[i].calls) << i;
          EXPECT_EQ((*pa)[i].answered, (*pb)[i].answered) << i;
          EXPECT_EQ((*pa)[i].duration_ms_sum, (*pb)[i].duration_ms_sum) << i;
        }
      }
      auto top = [&](const char* name, auto fa, auto fb) {
        SCOPED_TRACE(name);
        Result<std::vector<KeyCount>> ta = fa();
        Result<std::vector<KeyCount>> tb = fb();
        ASSERT_TRUE(ta.ok()) << ta.status().message();
        ASSERT_TRUE(tb.ok()) << tb.status().message();
        ExpectSameKeys(*ta, *tb, name);
      };
      for (UserSide side : {UserSide::kCaller, UserSide::kCallee, UserSide::kEither}) {
        top(
            side == UserSide::kCaller   ? "TopUsers caller"
            : side == UserSide::kCallee ? "TopUsers callee"
                                        : "TopUsers either",
            [&] { return sqlite_analytics_->TopUsers(qs, side); },
            [&] { return pg_analytics_->TopUsers(q, side); });
      }
      top(
          "TopSourceIps", [&] { return sqlite_analytics_->TopSourceIps(qs); },
          [&] { return pg_analytics_->TopSourceIps(q); });
      top(
          "TopUserAgents", [&] { return sqlite_analytics_->TopUserAgents(qs); },
          [&] { return pg_analytics_->TopUserAgents(q); });
    }
  }

  static testing::PostgresServer* postgres_;
  static testing::TempDir* dir_;
  static std::string* sqlite_url_;
  static std::string* pg_url_;
  static std::string* skip_reason_;
  std::unique_ptr<CallSearch> sqlite_search_, pg_search_;
  std::unique_ptr<CallAnalytics> sqlite_analytics_, pg_analytics_;
};

testing::PostgresServer* BackendParityTest::postgres_ = nullptr;
testing::TempDir* BackendParityTest::dir_ = nullptr;
std::string* BackendParityTest::sqlite_url_ = nullptr;
std::string* BackendParityTest::pg_url_ = nullptr;
std::string* BackendParityTest::skip_reason_ = nullptr;

TEST_F(BackendParityTest, GetCallReadsWhatTheSearchFound) {
  // Ids are each backend's own (PostgreSQL's sequence may skip numbers), so
  // a call is looked up by the id its own search gave.
  for (const char* call_id : {"call-0", "call-1", "call-499", "call-1199"}) {
    CallSearchQuery q;
    q.call_id = call_id;
    auto a = sqlite_search_->FindCalls(q);
    auto b = pg_search_->FindCalls(q);
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(b.ok()) << b.status().message();
    ASSERT_EQ(a->rows.size(), 1u) << call_id;
    ASSERT_EQ(b->rows.size(), 1u) << call_id;
    auto ga = sqlite_search_->GetCall(a->rows[0].id);
    auto gb = pg_search_->GetCall(b->rows[0].id);
    ASSERT_TRUE(ga.ok()) << ga.status().message();
    ASSERT_TRUE(gb.ok()) << gb.status().message();
    ASSERT_TRUE(ga->has_value()) << call_id;
    ASSERT_TRUE(gb->has_value()) << call_id;
    EXPECT_EQ((*gb)->id, b->rows[0].id);
    testing::ExpectSameCall((*ga)->record, (*gb)->record);
    testing::ExpectSameCall(b->rows[0].record, (*gb)->record);
  }
  auto none = pg_search_->GetCall(1000000);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(pg_search_->last_plan(), "postgresql");
}

TEST_F(BackendParityTest, EveryCallSearchFilterSortAndPage) {
  const std::vector<std::pair<const char*, std::function<void(CallSearchQuery*)>>> cases = {
      {"everything", [](CallSearchQuery*) {}},
      {"range", [](CallSearchQuery* q) {
         q->from_ts = kT0 + 3 * kHour + 17;
         q->to_ts = kT0 + 6 * kDay + 5 * kMin;
       }},
      {"caller prefix", [](CallSearchQuery* q) { q->caller = "u1"; }},
      {"caller prefix, exact user", [](CallSearchQuery* q) { q->caller = "u123"; }},
      {"caller prefix, accented", [](CallSearchQuery* q) { q->caller = "é"; }},
      {"caller substring", [](CallSearchQuery* q) { q->caller_contains = "2"; }},
      {"callee prefix", [](CallSearchQuery* q) { q->callee = "bo"; }},
      {"callee substring", [](CallSearchQuery* q) { q->callee_contains = "li"; }},
      {"call_id", [](CallSearchQuery* q) { q->call_id = "call-77"; }},
      {"IPv4", [](CallSearchQuery* q) { q->ip = "10.0.1.2"; }},
      {"IPv6, not normalised", [](CallSearchQuery* q) { q->ip = "2001:DB8:0:0::2"; }},
      {"one state", [](CallSearchQuery* q) { q->states = {"busy"}; }},
      {"states", [](CallSearchQuery* q) { q->states = {"answered", "timed_out"}; }},
      {"statuses", [](CallSearchQuery* q) { q->statuses = {486, 600, 0}; }},
      {"duration range", [](CallSearchQuery* q) {
         q->min_duration_ms = 5000;
         q->max_duration_ms = 600000;
       }},
      {"sensor A", [](CallSearchQuery* q) { q->sensor = "A"; }},
      {"sensor B", [](CallSearchQuery* q) { q->sensor = "B"; }},
      {"sensor, state, range", [](CallSearchQuery* q) {
         q->sensor = "edge-3";
         q->states = {"answered"};
         q->from_ts = kT0;
       }},
      {"caller, callee, IP", [](CallSearchQuery* q) {
         q->caller = "u";
         q->callee_contains = "o";
         q->ip = "10.0.0.1";
       }},
  };
  for (const auto& [name, set] : cases) {
    SCOPED_TRACE(name);
    CallSearchQuery q;
    set(&q);
    CompareSearch(q);
    if (HasFailure()) return;
  }
  SCOPED_TRACE("no match");
  CallSearchQuery q;
  q.caller = "nobody";
  CompareSearch(q, false);
}

TEST_F(BackendParityTest, BadFiltersFailOnBoth) {
  for (auto set : std::vector<std::function<void(CallSearchQuery*)>>{
           [](CallSearchQuery* q) { q->ip = "not-an-ip"; },
           [](CallSearchQuery* q) { q->states = {"ringing"}; },
           [](CallSearchQuery* q) { q->limit = 0; },
           [](CallSearchQuery* q) { q->limit = kMaxSearchLimit + 1; }}) {
    CallSearchQuery q;
    set(&q);
    auto a = sqlite_search_->FindCalls(q);
    auto b = pg_search_->FindCalls(q);
    ASSERT_FALSE(a.ok());
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(a.status().message(), b.status().message());
  }
}

TEST_F(BackendParityTest, RegistrationSearchesAndCurrentBindings) {
  const std::vector<std::function<void(RegistrationSearchQuery*)>> cases = {
      [](RegistrationSearchQuery*) {},
      [](RegistrationSearchQuery* q) { q->user = "alice"; },
      [](RegistrationSearchQuery* q) { q->user = "é"; },
      [](RegistrationSearchQuery* q) { q->ip = "10.0.2.3"; },
      [](RegistrationSearchQuery* q) { q->result = "failed"; },
      [](RegistrationSearchQuery* q) { q->sensor = "B"; },
      [](RegistrationSearchQuery* q) {
        q->from_ts = kT0 + 2 * kHour;
        q->to_ts = kT0 + 5 * kDay;
        q->sensor = "A";
      },
  };
  int n = 0;
  for (const auto& set : cases) {
    for (size_t limit : {size_t{5}, size_t{500}}) {
      RegistrationSearchQuery qa;
      set(&qa);
      qa.limit = limit;
      RegistrationSearchQuery qb = qa;
      size_t rows = 0;
      for (int page = 0; page < 1000; ++page) {
        auto a = sqlite_search_->FindRegistrations(qa);
        auto b = pg_search_->FindRegistrations(qb);
        ASSERT_TRUE(a.ok()) << a.status().message();
        ASSERT_TRUE(b.ok()) << b.status().message();
        ASSERT_EQ(a->rows.size(), b->rows.size()) << "case " << n << " page " << page;
        for (size_t i = 0; i < a->rows.size(); ++i) {
          testing::ExpectSameRegistration(a->rows[i].record, b->rows[i].record);
        }
        ASSERT_EQ(a->next.has_value(), b->next.has_value()) << "case " << n;
        rows += a->rows.size();
        if (!a->next) break;
        EXPECT_EQ(a->next->key, b->next->key);
        EXPECT_EQ(b->next->id, b->rows.back().id);
        qa.after = a->next;
        qb.after = b->next;
      }
      EXPECT_GT(rows, 0u) << "case " << n;
    }
    ++n;
  }
  for (TimestampNs now : {TimestampNs{0}, kT0 + 2 * kDay, kT0 + 9 * kDay}) {
    for (size_t limit : {size_t{3}, size_t{500}}) {
      auto a = sqlite_search_->CurrentRegistrations(now, limit);
      auto b = pg_search_->CurrentRegistrations(now, limit);
      ASSERT_TRUE(a.ok()) << a.status().message();
      ASSERT_TRUE(b.ok()) << b.status().message();
      ASSERT_EQ(a->size(), b->size()) << "now " << now;
      if (now != kT0 + 9 * kDay) {
        EXPECT_GT(a->size(), 0u) << "now " << now;
      }
      for (size_t i = 0; i < a->size(); ++i) {
        testing::ExpectSameRegistration((*a)[i].record, (*b)[i].record);
      }
    }
  }
}

TEST_F(BackendParityTest, EveryAnalyticsFigure) {
  std::vector<AnalyticsQuery> queries;
  AnalyticsQuery all;
  all.top_n = 100;
  queries.push_back(all);
  for (const char* sensor : {"A", "B", "edge-3"}) {
    AnalyticsQuery q = all;
    q.sensor = sensor;
    queries.push_back(q);
  }
  AnalyticsQuery unaligned;
  unaligned.from_ts = kT0 + 37 * kMin + 123;
  unaligned.to_ts = kT0 + 9 * kDay + 5 * kHour + 17 * kNsPerSecond;
  unaligned.top_n = 5;
  queries.push_back(unaligned);
  unaligned.sensor = "B";
  queries.push_back(unaligned);
  AnalyticsQuery weeks;  // whole weeks, and days around them
  weeks.from_ts = kT0 - 2 * kDay - 10 * kHour;
  weeks.to_ts = kT0 + 12 * kDay;
  weeks.top_n = 3;
  queries.push_back(weeks);
  AnalyticsQuery empty;  // from after to
  empty.from_ts = kT0 + kDay;
  empty.to_ts = kT0;
  queries.push_back(empty);
  AnalyticsQuery future;
  future.from_ts = kT0 + 1000 * kDay;
  queries.push_back(future);
  AnalyticsQuery negative;
  negative.from_ts = -5;
  negative.to_ts = kT0 + kHour;
  negative.sensor = "A";
  queries.push_back(negative);
  for (const AnalyticsQuery& q : queries) {
    CompareAnalytics(q);
    if (HasFailure()) return;
  }
  // The data is not trivial: the figures compared above are filled.
  auto s = pg_analytics_->Summary(all);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->calls, kCalls);
  EXPECT_GT(s->duration.count, 10);
  EXPECT_TRUE(s->post_dial_delay.p99_ms.has_value());
  EXPECT_GT(s->registrations, 0);
}

// The media quality report: every grouping over the same queries, equal on
// both backends, SQLite with and without its hourly rollup (sums of doubles
// to 1e-9, since each adds in its own order), and against sums taken here
// from the generated rows.
TEST_F(BackendParityTest, EveryMediaQualityFigure) {
  AnalyticsQuery all;
  all.top_n = 100;
  AnalyticsQuery b_only = all;
  b_only.sensor = "B";
  AnalyticsQuery unaligned;
  unaligned.from_ts = kT0 + 37 * kMin + 123;
  unaligned.to_ts = kT0 + 9 * kDay + 5 * kHour;
  unaligned.top_n = 2;
  AnalyticsQuery empty;
  empty.from_ts = kT0 + 1000 * kDay;
  AnalyticsQuery hours;  // whole hours only, and an hour's inside
  hours.from_ts = kT0 - kDay;
  hours.to_ts = kT0 + 4 * kDay;
  AnalyticsQuery inside = hours;
  inside.from_ts = kT0 + 5 * kMin;
  inside.to_ts = kT0 + 50 * kMin;
  std::vector<AnalyticsQuery> queries;
  for (const AnalyticsQuery& q : {all, b_only, unaligned, empty, hours, inside}) {
    queries.push_back(q);
    AnalyticsQuery raw = q;
    raw.use_rollups = false;
    queries.push_back(raw);
  }
  for (const AnalyticsQuery& q : queries) {
    for (const auto& [name, group] : kQualityGroups) {
      const std::string what = Describe(q) + " by " + std::string(name);
      auto a = sqlite_analytics_->Quality(q, group);
      auto b = pg_analytics_->Quality(q, group);
      ASSERT_TRUE(a.ok()) << what << ": " << a.status().message();
      ASSERT_TRUE(b.ok()) << what << ": " << b.status().message();
      ASSERT_EQ(a->size(), b->size()) << what;
      for (size_t i = 0; i < a->size(); ++i) {
        const QualityRow& x = (*a)[i];
        const QualityRow& y = (*b)[i];
        EXPECT_EQ(x.key, y.key) << what << " row " << i;
        EXPECT_EQ(x.start_ts, y.start_ts) << what << " row " << i;
        EXPECT_EQ(x.streams, y.streams) << what << " row " << i;
        EXPECT_EQ(x.packets, y.packets) << what << " row " << i;
        EXPECT_EQ(x.expected, y.expected) << what << " row " << i;
        EXPECT_EQ(x.lost, y.lost) << what << " row " << i;
        EXPECT_EQ(x.mos_streams, y.mos_streams) << what << " row " << i;
        EXPECT_EQ(x.poor_streams, y.poor_streams) << what << " row " << i;
        EXPECT_EQ(x.max_jitter_ms, y.max_jitter_ms) << what << " row " << i;
        EXPECT_EQ(x.mos_min, y.mos_min) << what << " row " << i;
        for (auto [p, r] : {std::pair(x.loss_pct, y.loss_pct),
                            std::pair(x.mean_jitter_ms, y.mean_jitter_ms),
                            std::pair(x.mos_avg, y.mos_avg)}) {
          ASSERT_EQ(p.has_value(), r.has_value()) << what << " row " << i;
          if (p) {
            EXPECT_NEAR(*p, *r, 1e-9 * std::max(1.0, std::abs(*p))) << what << " row " << i;
          }
        }
      }
    }
  }
  // By codec over everything, against the generated rows themselves.
  std::map<std::string, QualityRow> want;
  std::map<std::string, double> mos_weighted;
  std::map<std::string, int64_t> mos_packets;
  for (const StreamRow& r : MakeStreams()) {
    QualityRow& w = want[r.codec];
    ++w.streams;
    w.packets += r.packets;
    w.lost += r.lost_rfc3550;
    if (r.mos_fixed50 >= 0) {
      ++w.mos_streams;
      w.poor_streams += r.mos_fixed50 < kPoorMos ? 1 : 0;
      w.mos_min = w.mos_min ? std::min(*w.mos_min, r.mos_fixed50) : r.mos_fixed50;
      mos_weighted[r.codec] += r.mos_fixed50 * static_cast<double>(r.packets);
      mos_packets[r.codec] += r.packets;
    }
  }
  auto got = pg_analytics_->Quality(all, QualityGroup::kCodec);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), want.size());
  for (const QualityRow& g : *got) {
    const QualityRow& w = want[g.key];
    EXPECT_EQ(g.streams, w.streams) << g.key;
    EXPECT_EQ(g.packets, w.packets) << g.key;
    EXPECT_EQ(g.lost, w.lost) << g.key;
    EXPECT_EQ(g.mos_streams, w.mos_streams) << g.key;
    EXPECT_EQ(g.poor_streams, w.poor_streams) << g.key;
    EXPECT_EQ(g.mos_min, w.mos_min) << g.key;
    if (w.mos_streams > 0) {
      ASSERT_TRUE(g.mos_avg.has_value()) << g.key;
      EXPECT_NEAR(*g.mos_avg, mos_weighted[g.key] / static_cast<double>(mos_packets[g.key]), 1e-9)
          << g.key;
    } else {
      EXPECT_FALSE(g.mos_avg.has_value()) << g.key;
    }
  }
}

}  // namespace
}  // namespace sipman::store
