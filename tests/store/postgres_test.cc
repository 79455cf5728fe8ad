// PostgreSQL-only behaviour of the store: outages, day partitions and their
// retention, text PostgreSQL would refuse, active calls. The behaviour both
// backends share is tested over both in store_test.cc and traffic_test.cc.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres_store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using testing::Backend;
using testing::CountStates;
using testing::FullCall;
using testing::SearchCalls;
using testing::SearchRegistrations;

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
// Spilling is off: this is the fallback when the spill directory is full.
TEST_P(PostgresTest, OutageLosesNothingAndDuplicatesNothing) {
  StoreOptions options;
  options.max_spill_bytes = 0;
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
  CallSearchQuery all;
  all.limit = kMaxSearchLimit;
  std::vector<calls::CallRecord> found = SearchCalls(Url("outage"), all);
  EXPECT_EQ(found.size(), static_cast<size_t>(kCalls));
  std::set<std::string> ids;
  for (const calls::CallRecord& r : found) ids.insert(r.call_id);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCalls));
  StoreCounters c = store->counters();
  EXPECT_EQ(c.write_errors, 0u);
  EXPECT_GT(during, 0) << "the producer should have kept adding during the outage";
  EXPECT_GT(c.producer_waits, 0u) << "the bounded queue should have filled during the outage";
}

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

std::string RawOf(int n) {
  std::string raw = "INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: ";
  raw += Id(n);
  raw += "\r\nCSeq: 1 INVITE\r\n\r\n";
  return raw;
}

// The spill segments below `dir` (any subdirectory), oldest first.
std::vector<std::string> Segments(const std::string& dir, const std::string& suffix = ".pgspill") {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.path().string().ends_with(suffix)) found.push_back(e.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// The ROWS of the calls section (the segment's second line).
int CallRowsOf(const std::string& segment) {
  std::ifstream in(segment);
  std::string magic, section;
  int rows = -1;
  std::getline(in, magic);
  in >> section >> rows;
  return section == "calls" ? rows : -1;
}

// The test: the server is down for 30 s while a producer keeps
// adding calls, registrations, messages and traffic seconds, far more rows
// than the queue holds. The writer spills instead of waiting, so the producer
// adds every row before the server returns; then every row is stored once.
TEST_P(PostgresTest, ThirtySecondOutageSpillsToDiskWithoutBlocking) {
  StoreOptions options;
  options.max_queued_rows = 1000;
  options.batch_rows = 200;
  options.reconnect_max_backoff_ms = 500;
  options.sensor = "spill";
  options.spill_dir = dir_.File("spill");
  auto store = Open("spill30", options);
  ASSERT_NE(store, nullptr);
  // Written while the server is up, so the writer finds the outage by a
  // failing batch on a connection it believed in.
  store->AddCall(FullCall("before", kT0));
  ASSERT_TRUE(store->Flush().ok());

  ASSERT_TRUE(postgres_->Stop()) << "cannot stop the test server";
  const auto stopped = std::chrono::steady_clock::now();
  constexpr int kCalls = 12000;  // 36000 rows and 1200 traffic seconds, over about 12 s
  auto ts_of = [](int i) { return kT0 + int64_t{i} * kNsPerSecond / 10; };
  const int64_t first_second = kT0 / kNsPerSecond;
  int64_t slowest_add_ns = 0;
  std::thread producer([&] {
    for (int i = 0; i < kCalls; ++i) {
      const auto before = std::chrono::steady_clock::now();
      store->AddCall(FullCall(Id(i), ts_of(i)));
      store->AddRegistration(testing::FullRegistration(Id(i), ts_of(i)));
      StoredMessage m;
      std::string id = Id(i), raw = RawOf(i);
      m.call_id = id;
      m.ts = ts_of(i);
      m.transport = "udp";
      m.method = "INVITE";
      m.cseq = 1;
      m.raw = raw;
      store->AddMessage(m);
      if (i % 10 == 0) store->AddTrafficSecond(Second(first_second + i / 10));
      slowest_add_ns = std::max<int64_t>(
          slowest_add_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::steady_clock::now() - before).count());
      if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  producer.join();
  const double producing_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
  const StoreCounters during = store->counters();
  std::this_thread::sleep_until(stopped + std::chrono::seconds(30));
  ASSERT_TRUE(postgres_->Start()) << "cannot restart the test server";

  EXPECT_LT(producing_s, 30.0) << "Add* blocked: the producer did not finish during the outage";
  EXPECT_LT(slowest_add_ns, int64_t{2} * 1000000000) << "one Add* call waited for the database";
  EXPECT_EQ(during.calls_written, 1u) << "nothing but the first call reached the database";
  EXPECT_GT(during.spilled_rows, static_cast<uint64_t>(kCalls));
  EXPECT_GT(during.spill_segments, 0u);
  EXPECT_GT(during.spill_bytes, 0u);

  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "calls"), kCalls + 1);
  EXPECT_EQ(Count(store.get(), "registrations"), kCalls);
  EXPECT_EQ(Count(store.get(), "messages"), kCalls);
  auto search = CallSearch::Open(Url("spill30"));
  ASSERT_TRUE(search.ok()) << search.status().message();
  for (int i : {0, 1, 4321, kCalls - 1}) {
    CallSearchQuery q;
    q.call_id = Id(i);
    std::vector<calls::CallRecord> calls = SearchCalls(**search, q);
    ASSERT_EQ(calls.size(), 1u) << Id(i);
    testing::ExpectSameCall(calls[0], FullCall(Id(i), ts_of(i)));
    // The registration search has no Call-ID filter: each registration has
    // a first_seen of its own.
    RegistrationSearchQuery rq;
    rq.from_ts = ts_of(i);
    rq.to_ts = ts_of(i) + 1;
    std::vector<calls::RegistrationRecord> regs = SearchRegistrations(**search, rq);
    ASSERT_EQ(regs.size(), 1u) << Id(i);
    calls::RegistrationRecord want = testing::FullRegistration(Id(i), ts_of(i));
    const calls::RegistrationRecord& got = regs[0];
    EXPECT_EQ(got.call_id, want.call_id);
    EXPECT_EQ(got.aor, want.aor);
    EXPECT_EQ(got.contact, want.contact);
    EXPECT_EQ(got.src_ip, want.src_ip);
    EXPECT_EQ(got.first_seen, want.first_seen);
    EXPECT_EQ(got.last_seen, want.last_seen);
    EXPECT_EQ(got.request_delay_ms, want.request_delay_ms);
    auto messages = store->MessagesOfCall(Id(i));
    ASSERT_TRUE(messages.ok()) << messages.status().message();
    ASSERT_EQ(messages->size(), 1u) << Id(i);
    EXPECT_EQ((*messages)[0].raw, RawOf(i));
    EXPECT_EQ((*messages)[0].sensor, "spill");
    EXPECT_EQ((*messages)[0].ts, ts_of(i));
  }
  TrafficQuery tq;
  tq.sensor = "spill";
  auto seconds = store->TrafficRows(tq);
  ASSERT_TRUE(seconds.ok()) << seconds.status().message();
  ASSERT_EQ(seconds->size(), static_cast<size_t>(kCalls / 10));
  for (size_t k = 0; k < seconds->size(); ++k) {
    EXPECT_TRUE((*seconds)[k] == Second(first_second + static_cast<int64_t>(k))) << "second " << k;
  }
  StoreCounters after = store->counters();
  EXPECT_EQ(after.calls_written, static_cast<uint64_t>(kCalls) + 1);
  EXPECT_EQ(after.registrations_written, static_cast<uint64_t>(kCalls));
  EXPECT_EQ(after.messages_written, static_cast<uint64_t>(kCalls));
  EXPECT_EQ(after.traffic_seconds_written, static_cast<uint64_t>(kCalls / 10));
  EXPECT_EQ(after.spill_segments, 0u);
  EXPECT_EQ(after.spill_bytes, 0u);
  EXPECT_EQ(after.spill_bad_segments, 0u);
  EXPECT_EQ(after.write_errors, 0u);
  EXPECT_TRUE(Segments(options.spill_dir).empty()) << "replayed segments are deleted";
}

// A store closed while the server is down keeps its spilled rows on disk;
// the next Open writes them. A segment written again (a crash after its
// commit, before its deletion) stores nothing twice.
TEST_P(PostgresTest, LeftoverSpillSegmentsAreWrittenByTheNextOpen) {
  StoreOptions options;
  options.batch_rows = 100;
  options.sensor = "left";
  options.spill_dir = dir_.File("spill");
  auto store = Open("leftover", options);
  ASSERT_NE(store, nullptr);
  store->AddCall(FullCall("before", kT0));
  ASSERT_TRUE(store->Flush().ok());
  ASSERT_TRUE(postgres_->Stop()) << "cannot stop the test server";
  constexpr int kCalls = 500;
  for (int i = 0; i < kCalls; ++i) store->AddCall(FullCall(Id(i), kT0 + i * kNsPerSecond));
  for (int k = 0; k < 5; ++k) store->AddTrafficSecond(Second(kT0 / kNsPerSecond + k));
  store->ReplaceActiveCalls("", {FullCall("up-1", kT0), FullCall("up-2", kT0)});
  store->ReplaceActiveCalls("", {FullCall("up-1", kT0), FullCall("up-2", kT0),
                                 FullCall("up-3", kT0)});
  Status closed = store->Close();
  EXPECT_FALSE(closed.ok()) << "Close should say that rows wait on disk";
  EXPECT_NE(closed.message().find(options.spill_dir), std::string::npos) << closed.message();
  StoreCounters c = store->counters();
  EXPECT_EQ(c.spilled_rows, static_cast<uint64_t>(kCalls + 5 + 2));
  EXPECT_GT(c.spill_segments, 0u);
  store.reset();
  std::vector<std::string> segments = Segments(options.spill_dir);
  ASSERT_EQ(segments.size(), c.spill_segments);
  const std::string copy = dir_.File("first-segment");
  std::filesystem::copy_file(segments[0], copy);

  ASSERT_TRUE(postgres_->Start()) << "cannot restart the test server";
  auto again = Open("leftover", options);
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->Flush().ok());
  EXPECT_EQ(Count(again.get(), "calls"), kCalls + 1);
  EXPECT_EQ(Count(again.get(), "active_calls"), 3) << "the newest snapshot wins";
  CallSearchQuery q;
  q.call_id = Id(123);
  std::vector<calls::CallRecord> found = SearchCalls(Url("leftover"), q);
  ASSERT_EQ(found.size(), 1u);
  testing::ExpectSameCall(found[0], FullCall(Id(123), kT0 + 123 * kNsPerSecond));
  TrafficQuery tq;
  tq.sensor = "left";
  auto seconds = again->TrafficRows(tq);
  ASSERT_TRUE(seconds.ok()) << seconds.status().message();
  EXPECT_EQ(seconds->size(), 5u);
  c = again->counters();
  EXPECT_EQ(c.calls_written, static_cast<uint64_t>(kCalls));
  EXPECT_EQ(c.spill_segments, 0u);
  EXPECT_TRUE(Segments(options.spill_dir).empty());
  ASSERT_TRUE(again->Close().ok());
  again.reset();

  EXPECT_FALSE(std::filesystem::exists(options.spill_dir)) << "removed by Close when empty";
  // As if the process died after the first segment's commit, before unlink.
  std::filesystem::create_directories(std::filesystem::path(segments[0]).parent_path());
  std::filesystem::copy_file(copy, segments[0]);
  auto third = Open("leftover", options);
  ASSERT_NE(third, nullptr);
  ASSERT_TRUE(third->Flush().ok());
  EXPECT_EQ(Count(third.get(), "calls"), kCalls + 1);
  c = third->counters();
  EXPECT_EQ(c.calls_written, 0u);
  EXPECT_EQ(c.duplicates_ignored, static_cast<uint64_t>(CallRowsOf(copy)));
  EXPECT_TRUE(Segments(options.spill_dir).empty());
}

// A damaged segment is not replayed, not deleted and not silently skipped:
// it is renamed "*.bad", counted, and Flush reports it; the others are written.
TEST_P(PostgresTest, DamagedSpillSegmentIsSetAsideAndReported) {
  StoreOptions options;
  options.batch_rows = 100;
  options.sensor = "bad";
  options.spill_dir = dir_.File("spill");
  auto store = Open("damaged", options);
  ASSERT_NE(store, nullptr);
  store->AddCall(FullCall("before", kT0));
  ASSERT_TRUE(store->Flush().ok());
  ASSERT_TRUE(postgres_->Stop()) << "cannot stop the test server";
  constexpr int kCalls = 300;
  for (int i = 0; i < kCalls; ++i) store->AddCall(FullCall(Id(i), kT0 + i * kNsPerSecond));
  EXPECT_FALSE(store->Close().ok());
  store.reset();
  std::vector<std::string> segments = Segments(options.spill_dir);
  ASSERT_GE(segments.size(), 2u);
  // A half-written temporary file, as a crash during a spill leaves: ignored.
  { std::ofstream(segments[0] + ".tmp") << "sipman-pg-spill 1\ncalls 5 9"; }
  const int lost = CallRowsOf(segments[1]);
  ASSERT_GT(lost, 0);
  std::filesystem::resize_file(segments[1], std::filesystem::file_size(segments[1]) / 2);

  ASSERT_TRUE(postgres_->Start()) << "cannot restart the test server";
  auto again = Open("damaged", options);
  ASSERT_NE(again, nullptr);
  Status flushed = again->Flush();
  EXPECT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find(segments[1] + ".bad"), std::string::npos) << flushed.message();
  EXPECT_NE(flushed.message().find("truncated"), std::string::npos) << flushed.message();
  EXPECT_EQ(Count(again.get(), "calls"), kCalls + 1 - lost);
  StoreCounters c = again->counters();
  EXPECT_EQ(c.spill_bad_segments, 1u);
  EXPECT_EQ(c.spill_segments, 0u);
  EXPECT_TRUE(std::filesystem::exists(segments[1] + ".bad"));
  EXPECT_TRUE(Segments(options.spill_dir).empty());
  EXPECT_TRUE(Segments(options.spill_dir, ".tmp").empty());
  EXPECT_TRUE(again->Flush().ok()) << "reported once";
}

// Two live stores of one database and sensor on one spill directory: only
// one spills (the other waits for the server, as without spilling), so they
// never number segments over each other; every row is stored either way.
TEST_P(PostgresTest, OnlyOneLiveStoreSpillsIntoOneDirectory) {
  StoreOptions options;
  options.batch_rows = 50;
  options.reconnect_max_backoff_ms = 200;
  options.sensor = "twin";
  options.spill_dir = dir_.File("spill");
  auto a = Open("twins", options);
  auto b = Open("twins", options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->AddCall(FullCall("a-before", kT0));
  b->AddCall(FullCall("b-before", kT0));
  ASSERT_TRUE(a->Flush().ok());
  ASSERT_TRUE(b->Flush().ok());
  ASSERT_TRUE(postgres_->Stop()) << "cannot stop the test server";
  for (int i = 0; i < 200; ++i) {
    a->AddCall(FullCall("a-" + Id(i), kT0 + i * kNsPerSecond));
    b->AddCall(FullCall("b-" + Id(i), kT0 + i * kNsPerSecond));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const uint64_t spilled_a = a->counters().spilled_rows, spilled_b = b->counters().spilled_rows;
  ASSERT_TRUE(postgres_->Start()) << "cannot restart the test server";
  ASSERT_TRUE(a->Flush().ok());
  ASSERT_TRUE(b->Flush().ok());
  EXPECT_TRUE((spilled_a > 0) != (spilled_b > 0))
      << "exactly one store spills: " << spilled_a << " and " << spilled_b;
  EXPECT_EQ(Count(a.get(), "calls"), 402);
}

// The segment format round-trips a batch, and every truncation or damaged
// byte is refused (no server needed).
TEST(SpillSegment, RoundTripsAndRefusesTruncationAndDamage) {
  using internal::CopyBatch;
  CopyBatch batch;
  batch.calls = "edge-1\t10.0.0.1\tx\\ty\n";
  batch.call_rows = 1;
  batch.days[0] = {19675, 19676};
  batch.registrations = "r\n";
  batch.registration_rows = 1;
  batch.days[1] = {19675};
  batch.messages = "m\\\\x0a\n";
  batch.message_rows = 1;
  batch.days[2] = {19677};
  batch.traffic_sensor = "sensor with space";
  batch.traffic_seconds = {Second(1700000000), Second(1700000001)};
  batch.snapshots.push_back({"s1", "row\n", 1});
  batch.snapshots.push_back({"", "", 0});
  batch.streams = "s\tcall\t{\"start_ts\":1}\n";
  batch.stream_rows = 1;
  batch.source_rows = 8;
  std::string encoded;
  internal::EncodeSpillSegment(batch, &encoded);
  CopyBatch decoded;
  Status s = internal::DecodeSpillSegment(encoded, &decoded);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(decoded.calls, batch.calls);
  EXPECT_EQ(decoded.call_rows, 1u);
  EXPECT_EQ(decoded.days[0], batch.days[0]);
  EXPECT_EQ(decoded.registrations, batch.registrations);
  EXPECT_EQ(decoded.days[1], batch.days[1]);
  EXPECT_EQ(decoded.messages, batch.messages);
  EXPECT_EQ(decoded.days[2], batch.days[2]);
  EXPECT_EQ(decoded.traffic_sensor, batch.traffic_sensor);
  EXPECT_EQ(decoded.streams, batch.streams);
  EXPECT_EQ(decoded.stream_rows, 1u);
  ASSERT_EQ(decoded.traffic_seconds.size(), 2u);
  EXPECT_TRUE(decoded.traffic_seconds[0] == batch.traffic_seconds[0]);
  EXPECT_TRUE(decoded.traffic_seconds[1] == batch.traffic_seconds[1]);
  ASSERT_EQ(decoded.snapshots.size(), 2u);
  EXPECT_EQ(decoded.snapshots[0].sensor, "s1");
  EXPECT_EQ(decoded.snapshots[0].copy, "row\n");
  EXPECT_EQ(decoded.snapshots[0].rows, 1u);
  EXPECT_EQ(decoded.source_rows, 8u);
  for (size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(internal::DecodeSpillSegment(encoded.substr(0, n), &decoded).ok()) << n;
  }
  for (size_t i = 0; i < encoded.size(); i += 7) {
    std::string damaged = encoded;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x20);
    EXPECT_FALSE(internal::DecodeSpillSegment(damaged, &decoded).ok()) << i;
  }
  EXPECT_NE(internal::SpillSubdirectory("postgresql://u:secret@h:5432/db", "a"),
            internal::SpillSubdirectory("postgresql://u@h:5432/db", "b"));
  EXPECT_EQ(internal::SpillSubdirectory("postgresql://u:secret@h:5432/db?sslmode=require", "a"),
            internal::SpillSubdirectory("postgresql://u@h:5432/db", "a"))
      << "the password and connection options do not name another database";
  EXPECT_EQ(internal::SpillSubdirectory("postgresql://u@h:5432/db", "a").find("secret"),
            std::string::npos);
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
  std::vector<calls::CallRecord> found = SearchCalls(Url("latin1"));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].caller_display, "M\xEF\xBF\xBDller\xEF\xBF\xBDx");
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

// Before version 6 the natural key held end_ts: a stopped replay and its
// re-run left two rows of one call. The migration keeps the most complete.
TEST_P(PostgresTest, Version6KeepsTheMostCompleteRowOfACall) {
  calls::CallRecord partial = FullCall("twice", kT0);
  partial.state = calls::CallState::kInProgress;
  partial.message_count = 5;
  {
    auto store = Open("v5");
    ASSERT_NE(store, nullptr);
    store->AddCall(partial);
    ASSERT_TRUE(store->Close().ok());
  }
  internal::PgConnection conn;
  ASSERT_TRUE(conn.Connect(Url("v5")).ok());
  ASSERT_TRUE(conn.Exec("DROP INDEX calls_natural_key;"
                        "CREATE UNIQUE INDEX calls_natural_key ON calls(invite_ts, call_id,"
                        " sensor, end_ts);"
                        "INSERT INTO calls(sensor, call_id, invite_ts, state, message_count,"
                        " end_ts) SELECT sensor, call_id, invite_ts, 'answered', 7, end_ts + 5"
                        " FROM calls;"
                        "INSERT INTO calls(sensor, call_id, invite_ts, state, message_count,"
                        " end_ts) SELECT sensor, call_id, invite_ts, state, 5, end_ts + 9"
                        " FROM calls WHERE state = 'in_progress';" +
                        testing::UndoMediaMigrationsSql(true) +
                        "DELETE FROM schema_migrations WHERE version >= 6")
                  .ok());
  auto store = Open("v5");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Count(store.get(), "calls"), 1);
  auto rows = conn.Query("SELECT state, message_count FROM calls");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->rows(), 1);
  EXPECT_EQ(rows->Text(0, 0), "answered");
  // And the re-run's sighting now replaces the stored one in place.
  calls::CallRecord longer = FullCall("twice", kT0);
  longer.message_count = 9;
  store->AddCall(longer);
  store->AddCall(partial);
  ASSERT_TRUE(store->Close().ok());
  rows = conn.Query("SELECT message_count FROM calls");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows(), 1);
  EXPECT_EQ(rows->Text(0, 0), "9");
}

// Two stores (two sensors) write into one database at once; each sees the
// same 2,000 calls: one row per call, naming both sensors.
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
  auto search = CallSearch::Open(Url("shared"));
  ASSERT_TRUE(search.ok()) << search.status().message();
  for (const char* sensor : {"a", "b"}) {
    CallSearchQuery q;
    q.sensor = sensor;
    q.limit = kMaxSearchLimit;
    std::map<std::string, int64_t> counts = CountStates(SearchCalls(**search, q));
    EXPECT_EQ(counts["answered"], 2000) << "sensor " << sensor << " saw every call";
  }
  EXPECT_EQ(Count(a.get(), "calls"), 2000) << "a call seen by two sensors is one call";
  CallSearchQuery all;
  all.limit = kMaxSearchLimit;
  std::vector<calls::CallRecord> rows = SearchCalls(**search, all);
  EXPECT_EQ(rows.size(), 2000u);
  for (const calls::CallRecord& r : rows) {
    std::set<std::string> seen = {r.sensor, r.also_seen_by};
    ASSERT_EQ(seen, (std::set<std::string>{"a", "b"})) << r.call_id;
  }
}

// The same call from several sensors in one batch, and again later: one
// row, the earliest INVITE's sensor keeping it, the others named once; the
// same Call-ID a minute later is another call.
TEST_P(PostgresTest, OneCallSeenBySeveralSensorsIsOneRow) {
  auto store = Open("merge");
  ASSERT_NE(store, nullptr);
  auto seen_by = [](const char* sensor, TimestampNs t) {
    calls::CallRecord r = FullCall("merge-1", t);
    r.sensor = sensor;
    return r;
  };
  store->AddCall(seen_by("proxy-2", kT0 + 5 * kNsPerMs));
  store->AddCall(seen_by("proxy-1", kT0));  // earliest INVITE: keeps the call
  store->AddCall(seen_by("span", kT0 + 2 * kNsPerMs));
  store->AddCall(seen_by("span", kT0 + 60 * kNsPerSecond));  // a new call, one minute on
  {
    Status flushed = store->Flush();
    ASSERT_TRUE(flushed.ok()) << flushed.message();
  }
  // Later batches: a sensor already named, one more sensor, and a retry.
  store->AddCall(seen_by("span", kT0 + 2 * kNsPerMs));
  store->AddCall(seen_by("hep-9", kT0 + 40 * kNsPerMs));
  store->AddCall(seen_by("proxy-1", kT0));
  {
    Status flushed = store->Flush();
    ASSERT_TRUE(flushed.ok()) << flushed.message();
  }

  auto search = CallSearch::Open(Url("merge"));
  ASSERT_TRUE(search.ok()) << search.status().message();
  CallSearchQuery q;
  q.call_id = "merge-1";
  std::vector<calls::CallRecord> rows = SearchCalls(**search, q);
  ASSERT_EQ(rows.size(), 2u) << "one call seen four times, and the later call";
  EXPECT_EQ(rows[0].sensor, "proxy-1");
  EXPECT_EQ(rows[0].invite_ts, kT0);
  EXPECT_EQ(rows[0].also_seen_by, "hep-9,proxy-2,span");
  EXPECT_EQ(rows[1].sensor, "span");
  EXPECT_EQ(rows[1].also_seen_by, "");
  for (const char* sensor : {"proxy-1", "proxy-2", "hep-9"}) {
    q.sensor = sensor;
    EXPECT_EQ(SearchCalls(**search, q).size(), 1u) << sensor;
  }
  q.sensor = "span";
  EXPECT_EQ(SearchCalls(**search, q).size(), 2u) << "span saw both calls";
  q.sensor = "pro";
  EXPECT_EQ(SearchCalls(**search, q).size(), 0u) << "a sensor name matches whole names only";
}

}  // namespace
}  // namespace sipman::store
