#include <gtest/gtest.h>

#include <vector>

#include "store_test_util.h"

namespace sipman::store {
namespace {


// Deterministic, varied counters for second `ts`.
stats::TrafficCounters Second(int64_t ts) {
  stats::TrafficCounters c;
  c.ts = ts;
  uint64_t k = static_cast<uint64_t>(ts % 7) + 1;
  c.packets = k;
  c.frame_bytes = 500 * k + static_cast<uint64_t>(ts % 13);
  c.sip_bytes = 400 * k;
  c.messages = k + 1;
  c.requests = 1;
  c.responses = k;
  c.methods[stats::MethodIndex(ts % 2 == 0 ? "INVITE" : "BYE")] = 1;
  c.classes[1] = k;
  c.codes.Add(ts % 3 == 0 ? 200 : 486, k);
  c.kernel_drops = static_cast<uint64_t>(ts % 5 == 0);
  c.in_messages = k;
  c.out_messages = static_cast<uint64_t>(ts % 2);
  c.in_sip_bytes = 300 * k;
  c.out_sip_bytes = 100 * static_cast<uint64_t>(ts % 2) + static_cast<uint64_t>(ts % 11);
  return c;
}

std::unique_ptr<Store> Open(const std::string& path, const std::string& sensor = "s1") {
  StoreOptions options;
  options.url = path;
  options.sensor = sensor;
  auto store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(store.value()) : nullptr;
}

stats::TrafficCounters Sum(const std::vector<stats::TrafficCounters>& rows, int64_t ts) {
  stats::TrafficCounters sum;
  for (const stats::TrafficCounters& r : rows) sum.AddAll(r);
  sum.ts = ts;
  return sum;
}

constexpr int64_t kHour = 1700000000 / 3600 * 3600;  // an hour boundary

// Each minute row equals the sum of the second rows within it.
void ExpectMinutesSumTheirSeconds(const std::vector<stats::TrafficCounters>& minutes,
                                  const std::vector<stats::TrafficCounters>& seconds) {
  for (const stats::TrafficCounters& m : minutes) {
    std::vector<stats::TrafficCounters> in_minute;
    for (const auto& s : seconds) {
      if (s.ts >= m.ts && s.ts < m.ts + 60) in_minute.push_back(s);
    }
    EXPECT_EQ(m, Sum(in_minute, m.ts)) << "minute " << m.ts;
  }
}

// Traffic tests over both backends (see BackendTest).
class Traffic : public testing::BackendTest {};
SIPMAN_INSTANTIATE_BACKENDS(Traffic);

TEST_P(Traffic, SecondsSumToMinutesSumToHours) {
  auto store = Open(Url("t.db"));
  ASSERT_NE(store, nullptr);
  for (int64_t s = kHour + 50; s < kHour + 200; ++s) store->AddTrafficSecond(Second(s));
  ASSERT_TRUE(store->Flush().ok());

  TrafficQuery q;
  auto seconds = store->TrafficRows(q);
  ASSERT_TRUE(seconds.ok()) << seconds.status().message();
  ASSERT_EQ(seconds->size(), 150u);
  EXPECT_EQ((*seconds)[0], Second(kHour + 50));

  q.resolution = TrafficResolution::kMinute;
  auto minutes = store->TrafficRows(q);
  ASSERT_TRUE(minutes.ok());
  ASSERT_EQ(minutes->size(), 4u);  // minutes 0, 1, 2, 3 of the hour
  ExpectMinutesSumTheirSeconds(*minutes, *seconds);
  q.resolution = TrafficResolution::kHour;
  auto hours = store->TrafficRows(q);
  ASSERT_TRUE(hours.ok());
  ASSERT_EQ(hours->size(), 1u);
  EXPECT_EQ((*hours)[0], Sum(*seconds, kHour));
  EXPECT_EQ((*hours)[0], Sum(*minutes, kHour));
}

TEST_P(Traffic, WritingTheSameSecondsAgainDoesNotDoubleCount) {
  for (int run = 0; run < 2; ++run) {
    auto store = Open(Url("t.db"));
    ASSERT_NE(store, nullptr);
    for (int64_t s = kHour + 3590; s < kHour + 3610; ++s) store->AddTrafficSecond(Second(s));
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = Open(Url("t.db"));
  TrafficQuery q;
  auto seconds = store->TrafficRows(q);
  ASSERT_TRUE(seconds.ok());
  ASSERT_EQ(seconds->size(), 20u);
  q.resolution = TrafficResolution::kHour;
  auto hours = store->TrafficRows(q);
  ASSERT_TRUE(hours.ok());
  ASSERT_EQ(hours->size(), 2u);
  stats::TrafficCounters both = (*hours)[0];
  both.AddAll((*hours)[1]);
  EXPECT_EQ(both, Sum(*seconds, (*hours)[0].ts));
}

// A stopped replay stored the seconds it had counted, the last ones in
// part; the re-run of the same capture sends them all again. Each counter
// keeps the larger value: the complete second, never a sum of both runs,
// in whichever order the runs came.
TEST_P(Traffic, ASecondSeenAgainKeepsTheLargerCountOfEach) {
  auto part_of = [](int64_t ts) {
    stats::TrafficCounters c = Second(ts);
    c.packets -= 1;
    c.messages -= 1;
    c.codes.Clear();
    c.codes.Add(ts % 3 == 0 ? 200 : 486, 1);
    return c;
  };
  for (bool partial_first : {true, false}) {
    const std::string path = Url(partial_first ? "partial-first.db" : "complete-first.db");
    for (int run = 0; run < 2; ++run) {
      auto store = Open(path);
      ASSERT_NE(store, nullptr);
      const bool partial = (run == 0) == partial_first;
      // The stopped run saw only the first 50 seconds, the last 10 in part.
      const int64_t end = partial ? kHour + 110 : kHour + 200;
      for (int64_t s = kHour + 50; s < end; ++s) {
        store->AddTrafficSecond(partial && s >= kHour + 100 ? part_of(s) : Second(s));
      }
      ASSERT_TRUE(store->Close().ok());
    }
    auto store = Open(path);
    TrafficQuery q;
    auto seconds = store->TrafficRows(q);
    ASSERT_TRUE(seconds.ok()) << seconds.status().message();
    ASSERT_EQ(seconds->size(), 150u);
    for (const stats::TrafficCounters& c : *seconds) EXPECT_EQ(c, Second(c.ts)) << c.ts;
    q.resolution = TrafficResolution::kMinute;
    auto minutes = store->TrafficRows(q);
    ASSERT_TRUE(minutes.ok());
    ExpectMinutesSumTheirSeconds(*minutes, *seconds);
    q.resolution = TrafficResolution::kHour;
    auto hours = store->TrafficRows(q);
    ASSERT_TRUE(hours.ok());
    ASSERT_EQ(hours->size(), 1u);
    EXPECT_EQ((*hours)[0], Sum(*seconds, kHour));
  }
}

TEST_P(Traffic, SensorsAreKeptApartAndSummedWhenUnnamed) {
  const std::string sensors[] = {"a", "b"};
  for (const std::string& sensor : sensors) {
    auto store = Open(Url("t.db"), sensor);
    store->AddTrafficSecond(Second(kHour + 1));
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = Open(Url("t.db"));
  TrafficQuery q;
  auto all = store->TrafficRows(q);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].packets, 2 * Second(kHour + 1).packets);
  q.sensor = sensors[0];
  auto a = store->TrafficRows(q);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0], Second(kHour + 1));
}

TEST_P(Traffic, SummaryAveragesPeaksCallsAndConcurrency) {
  auto store = Open(Url("t.db"));
  // Seconds 0..9 of the hour: traffic in 0, 2 and 9 only.
  for (int64_t s : {0, 2, 9}) store->AddTrafficSecond(Second(kHour + s));
  const TimestampNs base = kHour * kNsPerSecond;
  // Three calls: A answered 1s..5s, B answered 3s..4s, C not answered.
  auto call = [&](const char* id, int64_t invite_s, int64_t answer_s, int64_t end_s) {
    calls::CallRecord r = testing::FullCall(id, base + invite_s * kNsPerSecond);
    r.answer_ts = answer_s < 0 ? 0 : base + answer_s * kNsPerSecond;
    r.end_ts = base + end_s * kNsPerSecond;
    store->AddCall(r);
  };
  call("A", 1, 1, 5);
  call("B", 1, 3, 4);
  call("C", 2, -1, 3);
  ASSERT_TRUE(store->Flush().ok());

  TrafficQuery q;
  auto s = store->SummarizeTraffic(q);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->first_second, kHour);
  EXPECT_EQ(s->last_second, kHour + 9);
  EXPECT_EQ(s->span_seconds, 10);
  uint64_t bytes = Second(kHour).frame_bytes + Second(kHour + 2).frame_bytes +
                   Second(kHour + 9).frame_bytes;
  EXPECT_DOUBLE_EQ(s->frame_bytes.average, static_cast<double>(bytes) / 10);
  uint64_t peak = 0;
  int64_t peak_second = 0;
  for (int64_t t : {0, 2, 9}) {
    if (Second(kHour + t).frame_bytes > peak) {
      peak = Second(kHour + t).frame_bytes;
      peak_second = kHour + t;
    }
  }
  EXPECT_EQ(s->frame_bytes.peak, peak);
  EXPECT_EQ(s->frame_bytes.peak_second, peak_second);
  EXPECT_EQ(s->calls, 3u);
  EXPECT_EQ(s->calls_per_second.peak, 2u);
  EXPECT_EQ(s->calls_per_second.peak_second, kHour + 1);
  EXPECT_DOUBLE_EQ(s->calls_per_second.average, 0.3);
  EXPECT_EQ(s->concurrent_calls.peak, 2u);
  EXPECT_EQ(s->concurrent_calls.peak_ts, base + 3 * kNsPerSecond);
  EXPECT_DOUBLE_EQ(s->concurrent_calls.average, (4.0 + 1.0) / 10);
}

TEST_P(Traffic, EmptyAndFutureRangesGiveZeros) {
  auto store = Open(Url("t.db"));
  TrafficQuery q;
  auto empty = store->SummarizeTraffic(q);
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_EQ(empty->span_seconds, 0);
  EXPECT_EQ(empty->frame_bytes.average, 0);
  EXPECT_EQ(empty->calls, 0u);
  store->AddTrafficSecond(Second(kHour));
  ASSERT_TRUE(store->Flush().ok());
  q.from_ts = (kHour + 100000) * kNsPerSecond;  // the future of the data
  q.to_ts = q.from_ts + kNsPerSecond;
  auto future = store->SummarizeTraffic(q);
  ASSERT_TRUE(future.ok());
  EXPECT_EQ(future->span_seconds, 0);
  EXPECT_EQ(future->messages.peak, 0u);
  EXPECT_EQ(future->concurrent_calls.average, 0);
  for (auto r : {TrafficResolution::kSecond, TrafficResolution::kMinute,
                 TrafficResolution::kHour}) {
    q.resolution = r;
    auto rows = store->TrafficRows(q);
    ASSERT_TRUE(rows.ok());
    EXPECT_TRUE(rows->empty());
  }
  q.from_ts = 5;  // inverted range
  q.to_ts = 1;
  auto inverted = store->SummarizeTraffic(q);
  ASSERT_TRUE(inverted.ok());
  EXPECT_EQ(inverted->span_seconds, 0);
}

TEST_P(Traffic, DirectionCountersRoundTripAndRollUp) {
  auto store = Open(Url("t.db"));
  ASSERT_NE(store, nullptr);
  stats::TrafficCounters a = Second(kHour + 10), b = Second(kHour + 70);
  a.in_messages = 7;
  a.out_messages = 11;
  a.in_sip_bytes = 7000;
  a.out_sip_bytes = (uint64_t{1} << 40) + 3;  // beyond 32 bits
  b.in_messages = 0;
  b.out_messages = 5;
  b.in_sip_bytes = 0;
  b.out_sip_bytes = 2500;
  store->AddTrafficSecond(a);
  store->AddTrafficSecond(b);
  ASSERT_TRUE(store->Flush().ok());
  auto seconds = store->TrafficRows(TrafficQuery{});
  ASSERT_TRUE(seconds.ok()) << seconds.status().message();
  ASSERT_EQ(seconds->size(), 2u);
  EXPECT_EQ((*seconds)[0].in_messages, 7u);
  EXPECT_EQ((*seconds)[0].out_messages, 11u);
  EXPECT_EQ((*seconds)[0].in_sip_bytes, 7000u);
  EXPECT_EQ((*seconds)[0].out_sip_bytes, (uint64_t{1} << 40) + 3);
  EXPECT_EQ((*seconds)[1], b);
  TrafficQuery q;
  q.resolution = TrafficResolution::kHour;
  auto hours = store->TrafficRows(q);
  ASSERT_TRUE(hours.ok());
  ASSERT_EQ(hours->size(), 1u);
  EXPECT_EQ((*hours)[0].in_messages, 7u);
  EXPECT_EQ((*hours)[0].out_messages, 16u);
  EXPECT_EQ((*hours)[0].out_sip_bytes, (uint64_t{1} << 40) + 2503);
  auto summary = store->SummarizeTraffic(TrafficQuery{});
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->totals.in_sip_bytes, 7000u);
  EXPECT_EQ(summary->totals.out_messages, 16u);
}

TEST_P(Traffic, OldSecondsAreDeletedAfterTheRetention) {
  StoreOptions options;
  options.url = Url("t.db");
  options.stats_second_retention_s = 600;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  (*store)->AddTrafficSecond(Second(kHour));
  (*store)->AddTrafficSecond(Second(kHour + 601));
  ASSERT_TRUE((*store)->Flush().ok());
  auto seconds = (*store)->TrafficRows(TrafficQuery{});
  ASSERT_TRUE(seconds.ok());
  ASSERT_EQ(seconds->size(), 1u);
  EXPECT_EQ((*seconds)[0].ts, kHour + 601);
  TrafficQuery q;
  q.resolution = TrafficResolution::kHour;
  auto hours = (*store)->TrafficRows(q);
  ASSERT_TRUE(hours.ok());
  ASSERT_EQ(hours->size(), 1u);
  EXPECT_EQ((*hours)[0].packets, Second(kHour).packets + Second(kHour + 601).packets);
}

}  // namespace
}  // namespace sipman::store
