// The write queue's policy when a batch fails (through a BatchSink that fails
// on demand): a retryable failure keeps the batch and every row behind it
// until they are written, says so at once, and shows in the counters; Close
// gives up only after close_timeout and says exactly what it gave up.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/write_queue.h"

namespace sipman::store::internal {
namespace {

using namespace std::chrono_literals;

// Writes by appending the batch's call ids (and counting its other rows);
// fails while `failing` is set, as told by `retry`.
class FakeSink : public BatchSink {
 public:
  Status WriteBatch(const RowBatch& batch, BatchResult* result) override {
    ++attempts;
    if (failing.load()) {
      result->retry = retry.load();
      return Status::Error("cannot insert into calls of database /fake/x.db: database or disk "
                           "is full");
    }
    std::lock_guard<std::mutex> lock(mu);
    for (const EncodedCall& row : batch.calls) written.push_back(row.record.call_id);
    result->calls_inserted = batch.calls.size();
    result->registrations_inserted = batch.registrations.size();
    result->messages_inserted = batch.messages.size();
    return Status::Ok();
  }
  std::vector<std::string> Written() {
    std::lock_guard<std::mutex> lock(mu);
    return written;
  }

  std::atomic<bool> failing{false};
  std::atomic<bool> retry{true};
  std::atomic<int> attempts{0};
  std::mutex mu;
  std::vector<std::string> written;
};

// Collects the queue's events.
class Events {
 public:
  std::function<void(const std::string&)> Callback() {
    return [this](const std::string& e) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
    };
  }
  std::vector<std::string> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::string All() {
    std::string all;
    for (const std::string& e : Get()) all += e + "\n";
    return all;
  }
  size_t CountContaining(const std::string& text) {
    size_t n = 0;
    for (const std::string& e : Get()) n += e.find(text) != std::string::npos;
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

// prefix + n (spelled out: g++ 12 -O3 warns falsely on "literal" + std::to_string).
std::string Id(std::string_view prefix, int n) {
  std::string id(prefix);
  id += std::to_string(n);
  return id;
}

EncodedCall Call(const std::string& id) {
  EncodedCall row;
  row.record.call_id = id;
  return row;
}

WriteQueueOptions Options(Events* events) {
  WriteQueueOptions o;
  o.max_queued_rows = 8;
  o.batch_rows = 4;
  o.what = "database /fake/x.db";
  o.first_retry = 10ms;
  o.max_retry = 40ms;
  o.close_timeout = 300ms;
  o.on_event = events->Callback();
  return o;
}

// Polls `done` for up to 10 s.
template <typename F>
bool WaitFor(F done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

TEST(WriteQueue, RetryableFailureKeepsEveryRowUntilWritesWorkAgain) {
  FakeSink sink;
  Events events;
  WriteQueue queue(Options(&events), &sink);
  queue.Start();
  sink.failing = true;

  // Far more rows than the queue holds: the producer waits (backpressure),
  // nothing is dropped.
  constexpr int kRows = 50;
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < kRows; ++i) {
      EXPECT_TRUE(queue.Push(Call(Id("c", i))));
      ++pushed;
    }
  });
  ASSERT_TRUE(WaitFor([&] {
    StoreCounters c;
    queue.GetCounters(&c);
    return c.write_failing == 1 && c.producer_waits > 0 && sink.attempts.load() >= 4;
  })) << events.All();
  StoreCounters c;
  queue.GetCounters(&c);
  EXPECT_LT(pushed.load(), kRows) << "the producer must wait while the queue is full";
  EXPECT_GE(c.write_retries, 3u);
  EXPECT_EQ(c.write_errors, 0u) << "nothing is given up while retrying";
  EXPECT_EQ(c.rows_failed, 0u);
  EXPECT_EQ(c.rows_pending, static_cast<uint64_t>(pushed.load()));
  EXPECT_NE(c.last_write_error.find("database or disk is full"), std::string::npos)
      << c.last_write_error;
  // Told once, at once, however often it is retried.
  EXPECT_EQ(events.CountContaining("writing failed: cannot insert into calls of database "
                                   "/fake/x.db: database or disk is full"),
            1u)
      << events.All();
  EXPECT_EQ(events.Get().size(), 1u) << events.All();

  sink.failing = false;
  producer.join();
  EXPECT_TRUE(queue.Flush().ok());
  std::vector<std::string> want;
  for (int i = 0; i < kRows; ++i) want.push_back(Id("c", i));
  EXPECT_EQ(sink.Written(), want) << "every row, once, in order";
  queue.GetCounters(&c);
  EXPECT_EQ(c.write_failing, 0u);
  EXPECT_EQ(c.write_failing_ms, 0u);
  EXPECT_EQ(c.rows_pending, 0u);
  EXPECT_EQ(c.calls_written, static_cast<uint64_t>(kRows));
  EXPECT_EQ(c.write_errors, 0u);
  EXPECT_EQ(events.CountContaining("database /fake/x.db takes writes again"), 1u)
      << events.All();
  EXPECT_TRUE(queue.Close().ok());
}

TEST(WriteQueue, CloseGivesUpAfterItsTimeoutAndSaysExactlyWhat) {
  FakeSink sink;
  Events events;
  WriteQueueOptions options = Options(&events);
  options.max_queued_rows = 100;
  options.batch_rows = 100;
  WriteQueue queue(options, &sink);
  queue.Start();
  sink.failing = true;
  for (int i = 0; i < 3; ++i) queue.Push(Call(Id("lost", i)));
  for (int i = 0; i < 2; ++i) {
    calls::RegistrationRecord r;
    r.call_id = Id("reg", i);
    queue.Push(std::move(r));
  }
  StoredMessage message;
  message.call_id = "lost0";
  message.raw = "INVITE sip:b@x SIP/2.0\r\n\r\n";
  EncodedMessage encoded;
  encoded.message = &message;
  for (int i = 0; i < 4; ++i) queue.Push(encoded);
  ASSERT_TRUE(WaitFor([&] {
    StoreCounters c;
    queue.GetCounters(&c);
    return c.write_failing == 1;
  }));

  auto started = std::chrono::steady_clock::now();
  Status closed = queue.Close();
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_GE(took, 250ms) << "Close retries for close_timeout";
  EXPECT_LT(took, 5s);
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.message().find("9 rows (3 calls, 2 registrations, 4 messages) are not stored "
                                  "in database /fake/x.db; last error: cannot insert into calls "
                                  "of database /fake/x.db: database or disk is full"),
            std::string::npos)
      << closed.message();
  EXPECT_EQ(events.CountContaining("9 rows (3 calls, 2 registrations, 4 messages) are not stored "
                                   "in database /fake/x.db"),
            1u)
      << events.All();
  StoreCounters c;
  queue.GetCounters(&c);
  EXPECT_EQ(c.write_errors, 1u);
  EXPECT_EQ(c.rows_failed, 9u);
  EXPECT_EQ(c.rows_pending, 0u);
  EXPECT_EQ(c.write_failing, 0u);
  EXPECT_TRUE(sink.Written().empty());
}

TEST(WriteQueue, CloseWritesWhatWorksAgainWithinItsTimeout) {
  FakeSink sink;
  Events events;
  WriteQueueOptions options = Options(&events);
  options.close_timeout = 10s;
  WriteQueue queue(options, &sink);
  queue.Start();
  sink.failing = true;
  queue.Push(Call("late"));
  ASSERT_TRUE(WaitFor([&] { return sink.attempts.load() >= 2; }));
  std::thread fix([&] {
    std::this_thread::sleep_for(200ms);
    sink.failing = false;
  });
  EXPECT_TRUE(queue.Close().ok());
  fix.join();
  EXPECT_EQ(sink.Written(), std::vector<std::string>{"late"});
}

TEST(WriteQueue, ErrorThatRetryingCannotFixIsGivenUpAtOnceAndReported) {
  FakeSink sink;
  Events events;
  WriteQueue queue(Options(&events), &sink);
  queue.Start();
  sink.failing = true;
  sink.retry = false;
  queue.Push(Call("refused"));
  Status flushed = queue.Flush();
  ASSERT_FALSE(flushed.ok());
  EXPECT_NE(flushed.message().find("1 write batch failed: 1 row (1 call) is not stored in "
                                   "database /fake/x.db"),
            std::string::npos)
      << flushed.message();
  EXPECT_EQ(sink.attempts.load(), 1);
  EXPECT_EQ(events.CountContaining("1 row (1 call) is not stored in database /fake/x.db"), 1u)
      << events.All();
  StoreCounters c;
  queue.GetCounters(&c);
  EXPECT_EQ(c.write_failing, 0u);
  EXPECT_EQ(c.rows_failed, 1u);

  sink.failing = false;
  queue.Push(Call("next"));
  EXPECT_TRUE(queue.Flush().ok()) << "an error is reported once";
  EXPECT_EQ(sink.Written(), std::vector<std::string>{"next"});
}

}  // namespace
}  // namespace sipman::store::internal
