// SQLite writes that fail for real: a file that cannot grow (RLIMIT_FSIZE,
// as a full disk), a lock held by another process, a row the schema refuses.
// Rows of a write that may succeed later are kept and written once it does;
// only an error that retrying cannot fix loses rows, and says so.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using namespace std::chrono_literals;
using testing::FullCall;
using testing::Ip4;
using testing::TempDir;

constexpr TimestampNs kT0 = 1700000000 * kNsPerSecond;

int64_t Count(Store* store, const char* table) {
  Result<int64_t> n = store->CountRows(table);
  EXPECT_TRUE(n.ok()) << n.status().message();
  return n.ok() ? n.value() : -1;
}

// Collects on_write_event lines.
class Events {
 public:
  std::function<void(const std::string&)> Callback() {
    return [this](const std::string& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    };
  }
  std::string All() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string all;
    for (const std::string& e : events_) all += e + "\n";
    return all;
  }
  size_t CountContaining(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const std::string& e : events_) n += e.find(text) != std::string::npos;
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

template <typename F>
bool WaitFor(F done, std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

StoreOptions FastRetries(const std::string& path, Events* events) {
  StoreOptions options;
  options.url = path;
  options.write_retry_first_ms = 20;
  options.write_retry_max_ms = 100;
  options.on_write_event = events->Callback();
  return options;
}

// Lowers the soft limit on the size of any file this process writes, as a
// full disk would stop the database from growing; restores it when it ends.
// Writes past the limit fail with EFBIG (SIGXFSZ is ignored meanwhile).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old_);
    struct rlimit lowered = old_;
    lowered.rlim_cur = std::min<rlim_t>(bytes, old_.rlim_max);
    ok_ = setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  ~FileSizeLimit() { Lift(); }
  void Lift() {
    if (lifted_) return;
    lifted_ = true;
    setrlimit(RLIMIT_FSIZE, &old_);
    signal(SIGXFSZ, old_handler_);
  }
  bool ok() const { return ok_; }

 private:
  struct rlimit old_;
  sighandler_t old_handler_;
  bool ok_ = false;
  bool lifted_ = false;
};

uintmax_t SizeOr0(const std::string& path) {
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

TEST(SqliteWriteFailure, FileThatCannotGrowKeepsTheRowsUntilItCan) {
  TempDir dir;
  const std::string path = dir.File("full.db");
  Events events;
  auto opened = Store::Open(FastRetries(path, &events));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store* store = opened.value().get();
  ASSERT_TRUE(store->Flush().ok());

  // 2 KiB of noise per message (zstd cannot shrink it): 4 MiB in all, far
  // past what the files may grow by.
  constexpr int kMessages = 2000;
  constexpr int kCalls = 100;
  std::mt19937 random(7);
  std::vector<std::string> raws(kMessages);
  for (std::string& raw : raws) {
    raw.resize(2048);
    for (char& c : raw) c = static_cast<char>(random());
  }
  std::vector<std::string> call_ids;
  for (int i = 0; i < kCalls; ++i) call_ids.push_back(std::string("full-").append(std::to_string(i)));

  FileSizeLimit limit(std::max(SizeOr0(path), SizeOr0(path + "-wal")) + 256 * 1024);
  ASSERT_TRUE(limit.ok()) << "setrlimit(RLIMIT_FSIZE) failed";
  for (int i = 0; i < kCalls; ++i) store->AddCall(FullCall(call_ids[i], kT0 + i));
  for (int i = 0; i < kMessages; ++i) {
    StoredMessage m;
    m.call_id = call_ids[i % kCalls];
    m.ts = kT0 + i;
    m.src_ip = Ip4(10, 0, 0, 1);
    m.dst_ip = Ip4(10, 0, 0, 2);
    m.src_port = 5060;
    m.dst_port = 5060;
    m.transport = "udp";
    m.method = "INFO";
    m.cseq = static_cast<uint32_t>(i);
    m.raw = raws[i];
    store->AddMessage(m);
  }
  ASSERT_TRUE(WaitFor([&] { return store->counters().write_failing == 1; }))
      << "writes past the limit must fail; events:\n" << events.All();
  StoreCounters failing = store->counters();
  EXPECT_NE(failing.last_write_error.find(path), std::string::npos) << failing.last_write_error;
  EXPECT_GT(failing.rows_pending, 0u);
  EXPECT_EQ(failing.write_errors, 0u) << "nothing is given up: " << failing.last_write_error;
  EXPECT_EQ(failing.rows_failed, 0u);
  EXPECT_EQ(events.CountContaining("writing failed: "), 1u) << events.All();
  EXPECT_EQ(events.CountContaining(path), 1u) << events.All();
  // It keeps failing, told once.
  ASSERT_TRUE(WaitFor([&] { return store->counters().write_retries >= 3; }));
  EXPECT_EQ(store->counters().write_failing, 1u);
  EXPECT_EQ(events.CountContaining("writing failed: "), 1u) << events.All();

  limit.Lift();  // room again
  Status flushed = store->Flush();
  EXPECT_TRUE(flushed.ok()) << flushed.message();
  StoreCounters after = store->counters();
  EXPECT_EQ(after.write_failing, 0u);
  EXPECT_EQ(after.rows_pending, 0u);
  EXPECT_EQ(after.write_errors, 0u);
  EXPECT_EQ(after.messages_written, static_cast<uint64_t>(kMessages));
  EXPECT_EQ(after.calls_written, static_cast<uint64_t>(kCalls));
  EXPECT_EQ(Count(store, "messages"), kMessages);
  EXPECT_EQ(Count(store, "calls"), kCalls);
  EXPECT_EQ(events.CountContaining("takes writes again"), 1u) << events.All();
  Result<std::vector<StoredMessageRow>> rows = store->MessagesOfCall(call_ids[7]);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), static_cast<size_t>(kMessages / kCalls));
  for (const StoredMessageRow& row : *rows) {
    EXPECT_EQ(row.raw, raws[row.cseq]) << "message " << row.cseq << " read back differs";
  }
  EXPECT_TRUE(store->Close().ok());
}

TEST(SqliteWriteFailure, LockHeldElsewhereKeepsTheBatchUntilItIsReleased) {
  TempDir dir;
  const std::string path = dir.File("locked.db");
  Events events;
  StoreOptions options = FastRetries(path, &events);
  options.busy_timeout_ms = 50;
  auto opened = Store::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store* store = opened.value().get();

  // Another process holds the write lock longer than the busy timeout.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  store->AddCall(FullCall("kept", kT0));
  ASSERT_TRUE(WaitFor([&] { return store->counters().write_failing == 1; })) << events.All();
  EXPECT_NE(store->counters().last_write_error.find("locked"), std::string::npos)
      << store->counters().last_write_error;
  EXPECT_EQ(store->counters().rows_pending, 1u);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);

  EXPECT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store, "calls"), 1);
  EXPECT_EQ(store->counters().write_errors, 0u);
  EXPECT_EQ(store->counters().write_failing, 0u);
  EXPECT_EQ(events.CountContaining("takes writes again"), 1u) << events.All();
}

TEST(SqliteWriteFailure, RowTheSchemaRefusesIsReportedOnceAndAtOnce) {
  TempDir dir;
  const std::string path = dir.File("refused.db");
  Events events;
  auto opened = Store::Open(FastRetries(path, &events));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store* store = opened.value().get();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other,
                         "CREATE TRIGGER refuse BEFORE INSERT ON calls WHEN NEW.call_id = "
                         "'refused' BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);

  store->AddCall(FullCall("refused", kT0));
  Status flushed = store->Flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find("1 row (1 call) is not stored in database " + path),
            std::string::npos)
      << flushed.message();
  EXPECT_NE(flushed.message().find("refused by a test trigger"), std::string::npos)
      << flushed.message();
  EXPECT_EQ(store->counters().write_errors, 1u);
  EXPECT_EQ(store->counters().rows_failed, 1u);
  EXPECT_EQ(store->counters().write_retries, 0u) << "retrying would not help";
  EXPECT_EQ(events.CountContaining("refused by a test trigger"), 1u) << events.All();

  ASSERT_EQ(sqlite3_exec(other, "DROP TRIGGER refuse", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  store->AddCall(FullCall("kept", kT0));
  EXPECT_TRUE(store->Flush().ok()) << "an error is reported once";
  EXPECT_EQ(Count(store, "calls"), 1);
}

}  // namespace
}  // namespace sipman::store
