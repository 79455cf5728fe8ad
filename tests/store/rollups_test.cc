// The call rollups (schema version 6, store/call_rollups.h) must give the
// very answers that reading every call gives: every figure of the summary,
// every period, every top-N list, for ranges that are aligned, unaligned,
// open-ended, per sensor, after calls are deleted, and after a database
// stored without rollups is migrated.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "store/analytics.h"
#include "store/call_rollups.h"
#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using calls::CallState;
using testing::Ip4;
using testing::TempDir;

constexpr TimestampNs kT0 = 1795564800LL * kNsPerSecond;  // 2026-11-25T00:00:00Z
constexpr TimestampNs kHour = 3600 * kNsPerSecond;
constexpr int kCalls = 4000;
constexpr int kDays = 5;

// prefix + n (spelled out: g++ 12 warns wrongly on "text" + std::string&&).
std::string Name(const char* prefix, int64_t n) {
  std::string s = prefix;
  s += std::to_string(n);
  return s;
}

// Random but reproducible calls over kDays days: every state, statuses of
// every class, durations up to 2 h (all histogram buckets, wide value
// buckets), post-dial delays with and without, three sensors, 40 users.
std::vector<calls::CallRecord> RandomCalls() {
  std::mt19937_64 rng(20261125);
  auto pick = [&](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
  struct Outcome {
    CallState state;
    int status;
  };
  const Outcome outcomes[] = {{CallState::kAnswered, 200}, {CallState::kAnswered, 200},
                              {CallState::kAnswered, 202}, {CallState::kBusy, 486},
                              {CallState::kNoAnswer, 480}, {CallState::kNoAnswer, 408},
                              {CallState::kCancelled, 487}, {CallState::kFailed, 503},
                              {CallState::kFailed, 302}, {CallState::kFailed, 603},
                              {CallState::kFailed, 400}, {CallState::kFailed, 699},
                              {CallState::kInProgress, 0}};
  std::vector<calls::CallRecord> out;
  for (int i = 0; i < kCalls; ++i) {
    calls::CallRecord r;
    r.call_id = Name("call-", i);
    r.sensor = i % 3 == 0 ? "edge-1" : i % 3 == 1 ? "edge-2" : "core";
    r.caller_user = Name("u", pick(40));
    r.callee_user = pick(10) == 0 ? r.caller_user : Name("u", pick(40));
    r.src_ip = Ip4(10, 0, static_cast<uint8_t>(pick(3)), static_cast<uint8_t>(pick(20)));
    r.caller_user_agent = Name("UA-", pick(7));
    r.invite_ts = kT0 + pick(kDays * 24 * kHour);
    const Outcome& o = outcomes[pick(std::size(outcomes))];
    r.state = o.state;
    r.final_status = o.status;
    if (pick(2) == 0) r.first_18x_ts = r.invite_ts + pick(3000) * kNsPerMs;
    if (o.state == CallState::kAnswered) {
      r.answer_ts = r.invite_ts + (1 + pick(20000)) * kNsPerMs;
      r.duration_ms = pick(4) == 0 ? pick(64) : pick(2 * 3600 * 1000);
      r.connect_ms = r.duration_ms + pick(50);
      r.disconnect_delay_ms = pick(3) == 0 ? -1 : pick(900);
    }
    if (o.status != 0) r.final_ts = r.invite_ts + (1 + pick(30000)) * kNsPerMs;
    r.end_ts = r.final_ts;
    r.post_dial_delay_ms = pick(4) == 0 ? -1 : pick(8000);
    out.push_back(r);
  }
  return out;
}

std::string Describe(const Distribution& d) {
  std::ostringstream s;
  auto opt = [&](const auto& v) {
    if (v) {
      s << *v;
    } else {
      s << "null";
    }
    s << " ";
  };
  s << d.count << " ";
  opt(d.mean_ms);
  opt(d.p50_ms);
  opt(d.p90_ms);
  opt(d.p95_ms);
  opt(d.p99_ms);
  return s.str();
}

std::string Describe(const std::vector<KeyCount>& rows) {
  std::ostringstream s;
  for (const KeyCount& k : rows) s << k.key << "=" << k.calls << "/" << k.answered << " ";
  return s.str();
}

// Every figure of a summary, as text, so that two summaries compare in one
// EXPECT_EQ and a difference shows where it is.
std::string Describe(const CallSummary& c) {
  std::ostringstream s;
  auto opt = [&](const char* name, const std::optional<double>& v) {
    s << name << "=";
    if (v) {
      s << *v;
    } else {
      s << "null";
    }
    s << "\n";
  };
  s << "calls=" << c.calls << " 200=" << c.invites_200 << " 2xx=" << c.invites_2xx
    << " 3xx=" << c.invites_3xx << " eff=" << c.invites_effective
    << " ineff=" << c.invites_ineffective << " completed=" << c.completed
    << " net=" << c.network_effective << "\n";
  s << "states " << Describe(c.by_state) << "\nstatuses " << Describe(c.by_status) << "\n";
  opt("ser", c.ser);
  opt("seer", c.seer);
  opt("isa", c.isa);
  opt("scr", c.scr);
  opt("asr", c.asr);
  opt("ner", c.ner);
  opt("acd", c.acd_ms);
  s << "srd_ok " << Describe(c.srd_successful) << "\nsrd_fail " << Describe(c.srd_failed)
    << "\nsdd " << Describe(c.sdd) << "\nsdt " << Describe(c.sdt) << "\npdd "
    << Describe(c.post_dial_delay) << "\nduration " << Describe(c.duration) << "\nhistogram ";
  for (const DurationBucket& b : c.duration_histogram) s << b.lower_ms << ":" << b.calls << " ";
  return s.str();
}

std::string Describe(const std::vector<PeriodCount>& rows) {
  std::ostringstream s;
  for (const PeriodCount& p : rows) {
    s << p.start_ts << ":" << p.calls << "/" << p.answered << "/" << p.duration_ms_sum << " ";
  }
  return s.str();
}

// Empties the rollups, as in a database stored before them, and fills them
// again with migration 6's own SQL.
const std::string kRebuildRollups =
    "DELETE FROM calls_hourly; DELETE FROM calls_values; DELETE FROM calls_daily_keys;" +
    internal::CallRollupsBackfillSql();

class RollupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.url = path_ = dir_.File("r.db");
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    for (const calls::CallRecord& r : RandomCalls()) (*store)->AddCall(r);
    ASSERT_TRUE((*store)->Close().ok());
  }

  void Exec(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "") << " in " << sql;
    sqlite3_free(error);
    sqlite3_close(db);
  }

  // Every figure, through the rollups and from the calls alone, over many
  // ranges; returns how many ranges used the rollups.
  int ExpectRollupsEqualCalls() {
    auto opened = CallAnalytics::Open(path_);
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    if (!opened.ok()) return 0;
    CallAnalytics& a = **opened;
    std::vector<AnalyticsQuery> queries;
    queries.push_back({});  // everything
    for (TimestampNs from : {kT0, kT0 + kHour, kT0 + 90 * 60 * kNsPerSecond + 123,
                             kT0 + 26 * kHour - 1, kT0 + 50 * kHour + 7}) {
      for (TimestampNs length : {kHour - 1, 3 * kHour, 25 * kHour + 17, 48 * kHour, TimestampNs{0}}) {
        AnalyticsQuery q;
        q.from_ts = from;
        q.to_ts = length == 0 ? 0 : from + length;
        queries.push_back(q);
        q.sensor = "edge-2";
        queries.push_back(q);
      }
    }
    int bucketed = 0;
    for (AnalyticsQuery q : queries) {
      q.top_n = 15;
      AnalyticsQuery raw = q;
      raw.use_rollups = false;
      std::ostringstream where_text;
      where_text << "range [" << q.from_ts << ", " << q.to_ts << ") sensor '" << q.sensor << "'";
      const std::string where = where_text.str();
      if (q.to_ts == 0 || q.to_ts - q.from_ts >= 2 * kHour) ++bucketed;
      auto fast = a.Summary(q);
      auto slow = a.Summary(raw);
      EXPECT_TRUE(fast.ok() && slow.ok()) << where;
      if (fast.ok() && slow.ok()) {
        EXPECT_EQ(Describe(*fast), Describe(*slow)) << where;
      }
      for (Period p : {Period::kHour, Period::kDay, Period::kWeek}) {
        auto f = a.ByPeriod(q, p), s = a.ByPeriod(raw, p);
        EXPECT_TRUE(f.ok() && s.ok()) << where;
        if (f.ok() && s.ok()) {
        EXPECT_EQ(Describe(*f), Describe(*s)) << where;
      }
      }
      for (UserSide side : {UserSide::kCaller, UserSide::kCallee, UserSide::kEither}) {
        auto f = a.TopUsers(q, side), s = a.TopUsers(raw, side);
        EXPECT_TRUE(f.ok() && s.ok()) << where;
        if (f.ok() && s.ok()) {
        EXPECT_EQ(Describe(*f), Describe(*s)) << where;
      }
      }
      auto fi = a.TopSourceIps(q), si = a.TopSourceIps(raw);
      EXPECT_TRUE(fi.ok() && si.ok()) << where;
      if (fi.ok() && si.ok()) {
        EXPECT_EQ(Describe(*fi), Describe(*si)) << where;
      }
      auto fu = a.TopUserAgents(q), su = a.TopUserAgents(raw);
      EXPECT_TRUE(fu.ok() && su.ok()) << where;
      if (fu.ok() && su.ok()) {
        EXPECT_EQ(Describe(*fu), Describe(*su)) << where;
      }
    }
    return bucketed;
  }

  TempDir dir_;
  std::string path_;
};

TEST(ValueBuckets, ExactBelow64ThenAtMost1Of32Wide) {
  for (int64_t v = 0; v < 64; ++v) {
    EXPECT_EQ(internal::ValueBucket(v), v);
    EXPECT_EQ(internal::ValueBucketEnd(v), v + 1);
  }
  for (int64_t v : {64LL, 65LL, 127LL, 128LL, 5000LL, 299999LL, 3600000LL, 1LL << 40}) {
    int64_t b = internal::ValueBucket(v);
    EXPECT_LE(b, v);
    EXPECT_LT(v, internal::ValueBucketEnd(b));
    EXPECT_LE(internal::ValueBucketEnd(b) - b, b / 32) << v;
    EXPECT_EQ(internal::ValueBucket(b), b);
    EXPECT_EQ(internal::ValueBucket(internal::ValueBucketEnd(b)), internal::ValueBucketEnd(b));
  }
}

TEST_F(RollupsTest, EveryFigureEqualsReadingEveryCall) {
  EXPECT_GT(ExpectRollupsEqualCalls(), 20);
}

TEST_F(RollupsTest, DeletedCallsLeaveTheRollups) {
  Exec("DELETE FROM calls WHERE id % 7 = 0 OR sensor = 'core' AND state = 'answered'");
  ExpectRollupsEqualCalls();
}

TEST_F(RollupsTest, WriterRollupsEqualTheMigrationsSqlRowByRow) {
  // The writer aggregates in C++ (CallRollupWriter); migration 6 in SQL.
  // Keep what the writer made, rebuild by the migration, compare every row.
  Exec(
      "CREATE TABLE kept_hourly AS SELECT * FROM calls_hourly;"
      "CREATE TABLE kept_values AS SELECT * FROM calls_values;"
      "CREATE TABLE kept_keys AS SELECT * FROM calls_daily_keys;");
  Exec(kRebuildRollups);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  for (const char* pair : {"calls_hourly kept_hourly", "calls_values kept_values",
                           "calls_daily_keys kept_keys"}) {
    std::string a(pair, std::string_view(pair).find(' '));
    std::string b(std::string_view(pair).substr(a.size() + 1));
    for (const std::string& sql :
         {"SELECT COUNT(*) FROM (SELECT * FROM " + a + " EXCEPT SELECT * FROM " + b + ")",
          "SELECT COUNT(*) FROM (SELECT * FROM " + b + " EXCEPT SELECT * FROM " + a + ")",
          "SELECT COUNT(*) = 0 FROM " + a}) {
      sqlite3_stmt* st = nullptr;
      ASSERT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
      ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
      EXPECT_EQ(sqlite3_column_int64(st, 0), 0) << sql;
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(db);
}

// A stopped replay's in_progress rows, replaced by the complete calls of
// the re-run, leave the rollups as if only the complete calls were written.
TEST_F(RollupsTest, ReplacedSightingsLeaveTheRollups) {
  Exec("DELETE FROM calls");
  StoreOptions options;
  options.url = path_;
  for (bool complete : {false, true}) {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    for (calls::CallRecord r : RandomCalls()) {
      if (!complete) {
        r.state = CallState::kInProgress;
        r.final_status = 0;
        r.final_ts = r.end_ts = 0;
        r.duration_ms = r.connect_ms = 0;
        r.disconnect_delay_ms = -1;
      }
      (*store)->AddCall(r);
    }
    ASSERT_TRUE((*store)->Close().ok());
  }
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->CountRows("calls").value(), kCalls);
  ASSERT_TRUE((*store)->Close().ok());
  EXPECT_GT(ExpectRollupsEqualCalls(), 20);
}

TEST_F(RollupsTest, RollupsFilledByTheMigrationGiveTheSameAnswers) {
  Exec(kRebuildRollups);
  ExpectRollupsEqualCalls();
}

}  // namespace
}  // namespace sipman::store
