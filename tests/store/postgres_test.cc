// PostgreSQL-only behaviour of the store: outages, day partitions and their
// retention, text PostgreSQL would refuse, active calls. The behaviour both
// backends share is tested over both in store_test.cc and traffic_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store_test_util.h"

namespace sipman::store {
namespace {

using testing::Backend;
using testing::FullCall;

constexpr TimestampNs kDay = 86400 * kNsPerSecond;
constexpr TimestampNs kT0 = 1700000000 * kNsPerSecond;  // 2023-11-14

class PostgresTest : public testing::BackendTest {
 protected:
  std::unique_ptr<Store> Open(const std::string& name, StoreOptions options = {}) {
    options.url = Url(name);
    auto store = Store::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(store.value()) : nullptr;
  }
  int64_t Count(Store* store, const char* table) {
    auto n = store->CountRows(table);
    EXPECT_TRUE(n.ok()) << n.status().message();
    return n.ok() ? *n : -1;
  }
};
INSTANTIATE_TEST_SUITE_P(Only, PostgresTest, ::testing::Values(Backend::kPostgres),
                         testing::BackendName);

std::string Id(int n) {
  std::string id = "outage-";
  id += std::to_string(n);
  return id;
}

// The server is stopped for a few seconds while a producer keeps adding
// calls and messages, then started again: every row is stored exactly once.
TEST_P(PostgresTest, OutageLosesNothingAndDuplicatesNothing) {
  StoreOptions options;
  // Room for about 2.5 s of the producer's rows: the outage fills it.
  options.max_queued_rows = 5000;
  options.batch_rows = 200;
  options.reconnect_max_backoff_ms = 500;
  auto store = Open("outage", options);
  ASSERT_NE(store, nullptr);
  constexpr int kCalls = 6000;
  std::atomic<int> added{0};
  std::thread producer([&] {
    for (int i = 0; i < kCalls; ++i) {
      store->AddCall(FullCall(Id(i), kT0 + i * kNsPerSecond / 10));
      StoredMessage m;
      std::string id = Id(i);
      m.call_id = id;
      m.ts = kT0 + i * kNsPerSecond / 10;
      m.transport = "udp";
      m.method = "INVITE";
      m.raw = "INVITE sip:x SIP/2.0\r\n\r\n";
      store->AddMessage(m);
      added = i + 1;
      if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  while (added < kCalls / 4) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(postgres_->Stop()) << "cannot stop the test server";
  const int at_stop = added;
  std::this_thread::sleep_for(std::chrono::seconds(4));
  const int during = added - at_stop;
  ASSERT_TRUE(postgres_->Start()) << "cannot restart the test server";
  producer.join();
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "calls"), kCalls);
  EXPECT_EQ(Count(store.get(), "messages"), kCalls);
  CallQuery all;
  all.limit = kCalls + 1;
  auto found = store->FindCalls(all);
  ASSERT_TRUE(found.ok()) << found.status().message();
  std::set<std::string> ids;
  for (const calls::CallRecord& r : *found) ids.insert(r.call_id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCalls));
  StoreCounters c = store->counters();
  EXPECT_EQ(c.write_errors, 0u);
  EXPECT_GT(during, 0) << "the producer should have kept adding during the outage";
  EXPECT_GT(c.producer_waits, 0u) << "the bounded queue should have filled during the outage";
}

// Rows land in day partitions; with a retention of 2 days, writing a day
// far ahead drops the partitions (and rows) of the old days.
TEST_P(PostgresTest, RetentionDropsOldDayPartitions) {
  StoreOptions options;
  options.partition_retention_days = 2;
  auto store = Open("retention", options);
  ASSERT_NE(store, nullptr);
  for (int day = 0; day < 3; ++day) {
    store->AddCall(FullCall(Id(day), kT0 + day * kDay));
    calls::RegistrationRecord reg = testing::FullRegistration(Id(day), kT0 + day * kDay);
    store->AddRegistration(reg);
    ASSERT_TRUE(store->Flush().ok());
  }
  EXPECT_EQ(Count(store.get(), "calls"), 3) << "days 0..2 are within 2 days of day 2";
  EXPECT_EQ(Count(store.get(), "registrations"), 3);
  store->AddCall(FullCall(Id(10), kT0 + 10 * kDay));
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "calls"), 1) << "days 0..2 dropped when day 10 arrived";
  EXPECT_EQ(Count(store.get(), "registrations"), 0);
  store->AddCall(FullCall(Id(11), kT0 + 11 * kDay));
  store->AddCall(FullCall(Id(10), kT0 + 10 * kDay));  // again: still deduplicated
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "calls"), 2);
}

// Bytes that are not UTF-8, and NUL, which PostgreSQL text refuses, are
// stored as U+FFFD instead of failing the batch; raw messages keep them.
TEST_P(PostgresTest, TextThatIsNotUtf8IsStoredNotRefused) {
  auto store = Open("latin1");
  ASSERT_NE(store, nullptr);
  calls::CallRecord r = FullCall("latin1", kT0);
  r.caller_display = std::string("M\xfcller\0x", 8);
  store->AddCall(r);
  StoredMessage m;
  m.call_id = "latin1";
  m.ts = kT0;
  std::string raw("INVITE sip:m\xfcller SIP/2.0\r\n\0\r\n", 31);
  m.raw = raw;
  store->AddMessage(m);
  ASSERT_TRUE(store->Flush().ok());
  auto found = store->FindCalls(CallQuery{});
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].caller_display, "M\xEF\xBF\xBDller\xEF\xBF\xBDx");
  auto messages = store->MessagesOfCall("latin1");
  ASSERT_TRUE(messages.ok()) << messages.status().message();
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].raw, raw);
}

TEST_P(PostgresTest, ActiveCallSnapshotsReplaceTheSensorsRowsOnly) {
  auto store = Open("active");
  ASSERT_NE(store, nullptr);
  store->ReplaceActiveCalls("s1", {FullCall("a", kT0), FullCall("b", kT0)});
  store->ReplaceActiveCalls("s2", {FullCall("c", kT0)});
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "active_calls"), 3);
  store->ReplaceActiveCalls("s1", {});
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "active_calls"), 1);
}

// Two stores (two sensors) write into one database at once.
TEST_P(PostgresTest, TwoSensorsShareOneDatabase) {
  StoreOptions a_options, b_options;
  a_options.sensor = "a";
  b_options.sensor = "b";
  auto a = Open("shared", a_options);
  auto b = Open("shared", b_options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::thread ta([&] {
    for (int i = 0; i < 2000; ++i) {
      calls::CallRecord r = FullCall(Id(i), kT0 + i * kNsPerSecond * 60);  // over 2 days
      r.sensor.clear();
      a->AddCall(r);
    }
  });
  for (int i = 0; i < 2000; ++i) {
    calls::CallRecord r = FullCall(Id(i), kT0 + i * kNsPerSecond * 60);
    r.sensor.clear();
    b->AddCall(r);
  }
  ta.join();
  ASSERT_TRUE(a->Flush().ok());
  ASSERT_TRUE(b->Flush().ok());
  CallQuery q;
  q.sensor = "a";
  auto counts = a->CountCallsByState(q);
  ASSERT_TRUE(counts.ok()) << counts.status().message();
  EXPECT_EQ((*counts)["answered"], 2000);
  EXPECT_EQ(Count(a.get(), "calls"), 4000) << "the same call seen by two sensors: one row each";
}

}  // namespace
}  // namespace sipman::store
