// Private to store/: the bounded row queue and its single writer thread,
// shared by every backend. A backend implements BatchSink; the queue hands it
// batches of rows from the writer thread, one transaction each.
#ifndef SIPMAN_STORE_WRITE_QUEUE_H_
#define SIPMAN_STORE_WRITE_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "calls/calls.h"
#include "store/store.h"

namespace sipman::store::internal {

// A StoredMessage whose texts were copied into its batch's message_bytes
// (one growing buffer per batch instead of five strings per message).
struct MessageRow {
  TimestampNs ts = 0;
  IpAddress src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  int status = 0;
  uint32_t cseq = 0;
  // sensor, call_id, transport, method and raw lie back to back from
  // `offset` in RowBatch::message_bytes.
  size_t offset = 0;
  uint32_t sensor_size = 0, call_id_size = 0, transport_size = 0, method_size = 0;
  uint32_t raw_size = 0;
};

// Rows for one transaction. Order across the three tables does not matter
// inside a transaction; batches are committed in the order they were filled.
struct RowBatch {
  std::vector<calls::CallRecord> calls;
  std::vector<calls::RegistrationRecord> registrations;
  std::vector<MessageRow> messages;
  std::string message_bytes;

  size_t size() const { return calls.size() + registrations.size() + messages.size(); }
  void clear() {
    calls.clear();
    registrations.clear();
    messages.clear();
    message_bytes.clear();
  }
  void AddMessage(const StoredMessage& m);

  // Views of a message's texts. LIFETIME: until the batch changes.
  struct MessageTexts {
    std::string_view sensor, call_id, transport, method, raw;
  };
  MessageTexts TextsOf(const MessageRow& row) const;
};

// What a backend reports for one batch.
struct BatchResult {
  uint64_t calls_inserted = 0;
  uint64_t registrations_inserted = 0;
  uint64_t messages_inserted = 0;
  uint64_t duplicates = 0;
  uint64_t message_raw_bytes = 0;
  uint64_t message_stored_bytes = 0;
  uint64_t messages_compressed = 0;
};

class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Writes `batch` in one transaction, from the writer thread only. On error
  // nothing of the batch is committed.
  virtual Status WriteBatch(const RowBatch& batch, BatchResult* result) = 0;
};

class WriteQueue {
 public:
  // The writer commits a partial batch after this long without a full one.
  static constexpr std::chrono::milliseconds kMaxLatency{100};

  // `sink` must outlive the queue.
  WriteQueue(size_t max_queued_rows, size_t batch_rows, BatchSink* sink);
  ~WriteQueue();  // Close()s
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  void Start();

  // Queue one row; wait while the queue is full. False (and counted as
  // rejected) after Close.
  bool Push(calls::CallRecord&& row);
  bool Push(calls::RegistrationRecord&& row);
  bool Push(const StoredMessage& message);  // copied into the batch

  Status Flush();
  Status Close();

  // Fills the queue's share of the counters.
  void GetCounters(StoreCounters* counters) const;

 private:
  // Locks, waits for room, and returns the batch to append one row to.
  // REQUIRES: mu_ held through `lock`; the caller appends exactly one row and
  // then calls RowAdded().
  // Returns nullptr (and counts a rejection) after Close. Sets *waited when
  // it had to wait; RowAdded must then be told so.
  RowBatch* ReserveRow(std::unique_lock<std::mutex>& lock, bool* waited);
  void RowAdded(bool waited);
  void Run();
  Status TakeErrorLocked();

  const size_t max_queued_rows_;
  const size_t batch_rows_;  // rows per batch: min(batch_rows, max_queued_rows), at least 1
  BatchSink* const sink_;

  std::mutex close_mu_;  // serialises Close
  mutable std::mutex mu_;
  std::condition_variable writer_cv_;  // work for the writer
  std::condition_variable space_cv_;   // room for producers
  std::condition_variable done_cv_;    // batches committed
  std::deque<RowBatch> batches_;       // front is the oldest
  std::vector<RowBatch> spare_;        // emptied batches, reused for their capacity
  size_t queued_rows_ = 0;
  uint64_t enqueued_total_ = 0;        // rows ever queued
  uint64_t finished_total_ = 0;        // rows committed or failed
  int flush_waiters_ = 0;
  int producers_waiting_ = 0;
  bool closing_ = false;
  bool started_ = false;
  bool writer_done_ = false;
  uint64_t errors_seen_by_flush_ = 0;
  std::string last_error_;
  StoreCounters counters_;
  std::thread writer_;
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_WRITE_QUEUE_H_
