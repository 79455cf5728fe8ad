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
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "calls/calls.h"
#include "stats/stats.h"
#include "store/record_codec.h"
#include "store/store.h"

namespace sipman::store::internal {

// A message as the producer encoded it for the database: every text in its
// stored form (IP text, compressed raw), so the writer thread only binds.
// LIFETIME: every view need only be valid during WriteQueue::Push.
struct EncodedMessage {
  const StoredMessage* message = nullptr;  // numbers, call_id, transport, method
  std::string_view sensor;                 // the row's sensor (store default applied)
  std::string_view src_ip, dst_ip;         // textual form
  std::string_view stored;                 // raw, compressed unless compression is 0
  int compression = 0;
  int64_t key_hash = 0;  // MessageKeyHash of the natural key
};

// An EncodedMessage whose texts were copied into its batch's message_bytes
// (one growing buffer per batch instead of seven strings per message).
struct MessageRow {
  TimestampNs ts = 0;
  int64_t key_hash = 0;
  uint16_t src_port = 0, dst_port = 0;
  int status = 0;
  uint32_t cseq = 0;
  int compression = 0;
  uint32_t raw_size = 0;  // the size column: raw bytes before compression
  // sensor, call_id, transport, method, src_ip, dst_ip and the stored bytes
  // lie back to back from `offset` in RowBatch::message_bytes.
  size_t offset = 0;
  uint32_t sensor_size = 0, call_id_size = 0, transport_size = 0, method_size = 0;
  uint8_t src_ip_size = 0, dst_ip_size = 0;
  uint32_t stored_size = 0;
};

// A call record with the columns the producer converted: IP texts and the
// media JSON, back to back in `texts`.
struct EncodedCall {
  calls::CallRecord record;
  std::string texts;
  uint32_t src_ip_size = 0, dst_ip_size = 0, caller_media_size = 0, callee_media_size = 0;

  // LIFETIME: views into `texts`, valid until the row changes.
  std::string_view src_ip() const { return std::string_view(texts).substr(0, src_ip_size); }
  std::string_view dst_ip() const {
    return std::string_view(texts).substr(src_ip_size, dst_ip_size);
  }
  std::string_view caller_media() const {
    return std::string_view(texts).substr(src_ip_size + dst_ip_size, caller_media_size);
  }
  std::string_view callee_media() const {
    return std::string_view(texts).substr(src_ip_size + dst_ip_size + caller_media_size,
                                          callee_media_size);
  }
};

// A whole snapshot of one sensor's calls still up; it counts as one row of
// its batch.
struct ActiveSnapshot {
  std::string sensor;
  std::vector<EncodedCall> rows;
};

// The producer half both backends share. It runs on the producers'
// threads (compression included), so the writer thread only binds rows.
//
// A call as the queue holds it: addresses and media as text; an empty
// sensor becomes `default_sensor`.
EncodedCall EncodeCall(const calls::CallRecord& record, std::string_view default_sensor);
// A snapshot of the calls still up, for `sensor` (empty: `default_sensor`).
ActiveSnapshot EncodeActiveSnapshot(std::string_view sensor, std::string_view default_sensor,
                                    std::vector<calls::CallRecord> records);
// The zstd compressor of the calling thread, remade when a store with other
// settings uses the thread.
MessageCompressor* ThreadCompressor(const StoreOptions& options);
// Encodes `message` (addresses as text, raw compressed, the key hash when
// `with_key_hash`) and calls push(encoded) while its views are valid.
template <typename Push>
void EncodeMessage(const StoredMessage& message, const StoreOptions& options, bool with_key_hash,
                   Push push) {
  EncodedMessage encoded;
  encoded.message = &message;
  encoded.sensor = message.sensor.empty() ? std::string_view(options.sensor) : message.sensor;
  char src_ip[46], dst_ip[46];
  encoded.src_ip = std::string_view(src_ip, FormatIp(message.src_ip, src_ip));
  encoded.dst_ip = std::string_view(dst_ip, FormatIp(message.dst_ip, dst_ip));
  encoded.compression = ThreadCompressor(options)->Compress(message.raw, &encoded.stored);
  if (with_key_hash) {
    encoded.key_hash =
        MessageKeyHash(encoded.sensor, message.call_id, encoded.src_ip, message.src_port,
                       encoded.dst_ip, message.dst_port, static_cast<int64_t>(message.raw.size()));
  }
  push(encoded);
}

// Rows for one transaction. Order across the three tables does not matter
// inside a transaction; batches are committed in the order they were filled.
struct RowBatch {
  std::vector<EncodedCall> calls;
  std::vector<calls::RegistrationRecord> registrations;
  std::vector<MessageRow> messages;
  std::string message_bytes;
  std::vector<stats::TrafficCounters> traffic_seconds;  // sensor: the store's
  // Applied after the rows above, in the order they were queued.
  std::vector<ActiveSnapshot> active_snapshots;
  std::vector<StreamRow> streams;
  // Alert changes; one row per alert (MergeAlertRow), so that a backend's
  // upsert never meets the same alert twice in one statement.
  std::vector<AlertRow> alerts;

  size_t size() const {
    return calls.size() + registrations.size() + messages.size() + traffic_seconds.size() +
           active_snapshots.size() + streams.size() + alerts.size();
  }
  // A call row is about 1.3 KB, a stream row 1-6 KB, a message row 300 B: a
  // batch takes at most kMaxLargeRows calls and streams, so that a burst of
  // ended calls (a cap or a timer closing 200,000 at once) holds 10-50 MB
  // per batch, not 85 MB or more.
  static constexpr size_t kMaxLargeRows = 8192;
  bool Full(size_t batch_rows) const {
    return size() >= batch_rows || calls.size() + streams.size() >= kMaxLargeRows;
  }
  void clear() {
    calls.clear();
    registrations.clear();
    messages.clear();
    message_bytes.clear();
    traffic_seconds.clear();
    active_snapshots.clear();
    streams.clear();
    alerts.clear();
  }
  void AddMessage(const EncodedMessage& m);

  // Views of a message's texts. LIFETIME: until the batch changes.
  struct MessageTexts {
    std::string_view sensor, call_id, transport, method, src_ip, dst_ip, stored;
  };
  MessageTexts TextsOf(const MessageRow& row) const;
};

// What a backend reports for one batch.
// What a committed batch wrote, each count with the StoreCounters field it
// adds to: declared once, for the queue's counters and for the batches the
// PostgreSQL store replays from its spill.
#define SIPMAN_BATCH_WRITTEN_COUNTS(X)                  \
  X(calls_inserted, calls_written)                      \
  X(registrations_inserted, registrations_written)      \
  X(messages_inserted, messages_written)                \
  X(streams_inserted, streams_written)                  \
  X(alerts_inserted, alerts_written)                    \
  X(duplicates, duplicates_ignored)                     \
  X(message_raw_bytes, message_raw_bytes)               \
  X(message_stored_bytes, message_stored_bytes)         \
  X(messages_compressed, messages_compressed)           \
  X(traffic_seconds_written, traffic_seconds_written)

struct BatchResult {
#define SIPMAN_BATCH_FIELD(result_field, counter_field) uint64_t result_field = 0;
  SIPMAN_BATCH_WRITTEN_COUNTS(SIPMAN_BATCH_FIELD)
#undef SIPMAN_BATCH_FIELD
  uint64_t active_calls_inserted = 0;
  // The batch was set aside (spilled to disk) rather than committed; the
  // backend counts its rows when it writes them later.
  bool spilled = false;
  // On error: the same batch may well succeed later (disk full, I/O error,
  // a lock held by another process), so the queue keeps it and tries again.
  // False: writing it again would fail the same way (a corrupt database, a
  // row the schema refuses); its rows are reported as not stored.
  bool retry = false;
};

// Adds what a committed batch wrote to *counters.
inline void CountWritten(const BatchResult& result, StoreCounters* counters) {
#define SIPMAN_BATCH_COUNT(result_field, counter_field) \
  counters->counter_field += result.result_field;
  SIPMAN_BATCH_WRITTEN_COUNTS(SIPMAN_BATCH_COUNT)
#undef SIPMAN_BATCH_COUNT
}

class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Writes `batch` in one transaction, from the writer thread only. On error
  // nothing of the batch is committed, and result->retry says whether to
  // try the same batch again. Called again with the same batch after a
  // retryable error.
  virtual Status WriteBatch(const RowBatch& batch, BatchResult* result) = 0;
  // Called from the writer thread about every kMaxLatency while no batch
  // waits: a backend can do deferred work here (PostgreSQL replays spilled
  // batches).
  virtual void Idle() {}
};

struct WriteQueueOptions {
  size_t max_queued_rows = 200000;
  size_t batch_rows = 50000;
  // Names the database in messages: "database /var/lib/sipman/sipman.db".
  std::string what = "the database";
  // After a retryable error the batch is tried again after first_retry,
  // the wait doubling up to max_retry while it keeps failing.
  std::chrono::milliseconds first_retry{1000};
  std::chrono::milliseconds max_retry{30000};
  // How long Close keeps retrying a failing batch before it gives up on it
  // and on every row queued behind it, and reports them.
  std::chrono::milliseconds close_timeout{30000};
  // Told at once, from the writer thread (or Close's), when writing starts
  // failing, when the reason changes, when it works again, and when rows are
  // given up. Must be thread-safe; null: only the counters and Flush/Close
  // tell.
  std::function<void(const std::string&)> on_event;
};

// Backpressure while writes fail: the failing batch stays out of the queue's
// row count, so producers keep queueing up to max_queued_rows behind it and
// then wait in Push, as for a slow disk. Nothing is dropped until Close gives
// up after close_timeout; memory stays bounded by max_queued_rows plus one
// batch.
class WriteQueue {
 public:
  // The writer commits a partial batch after this long without a full one.
  static constexpr std::chrono::milliseconds kMaxLatency{100};

  // `sink` must outlive the queue.
  WriteQueue(const WriteQueueOptions& options, BatchSink* sink);
  // The queue options of a store: sizes, retries and close_timeout from
  // `store`, messages naming `what` ("database /var/lib/sipman.db").
  static WriteQueueOptions OptionsFor(const StoreOptions& store, std::string what);
  ~WriteQueue();  // Close()s
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  void Start();

  // Queue one row; wait while the queue is full. False (and counted as
  // rejected) after Close.
  bool Push(EncodedCall&& row);
  bool Push(calls::RegistrationRecord&& row);
  bool Push(const EncodedMessage& message);  // copied into the batch
  bool Push(const stats::TrafficCounters& second);
  bool Push(ActiveSnapshot&& snapshot);
  bool Push(StreamRow&& row);
  bool Push(AlertRow&& row);

  // Waits until every row queued before this call is written or given up
  // (while writes fail, that is until they work again or Close gives up).
  // Returns the error of any batch given up since the previous Flush.
  Status Flush();
  // Stops taking rows, writes what is queued (retrying a failing batch for
  // close_timeout at most) and stops the writer. Returns what could not be
  // written, row kinds counted.
  Status Close();

  // Fills the queue's share of the counters.
  void GetCounters(StoreCounters* counters) const;

 private:
  // Rows of a batch by kind.
  struct RowKinds {
    uint64_t calls = 0, registrations = 0, messages = 0, traffic_seconds = 0, snapshots = 0;
    uint64_t streams = 0;
    uint64_t alerts = 0;
  };
  // "52000 rows (1200 calls, 50800 messages)".
  static std::string DescribeRows(const RowKinds& kinds, uint64_t rows);

  // Locks, waits for room, and returns the batch to append one row to.
  // REQUIRES: mu_ held through `lock`; the caller appends exactly one row and
  // then calls RowAdded().
  // Returns nullptr (and counts a rejection) after Close. Sets *waited when
  // it had to wait; RowAdded must then be told so.
  RowBatch* ReserveRow(std::unique_lock<std::mutex>& lock, bool* waited);
  void RowAdded(bool waited);
  void Run();
  // Writes `batch` through the sink, trying again after retryable errors
  // until it is written, fails for good, or Close's time is up. Writer
  // thread; mu_ not held.
  Status WriteKept(const RowBatch& batch, BatchResult* result);
  void Report(const std::string& event) const;
  Status TakeErrorLocked();

  const WriteQueueOptions options_;
  const size_t max_queued_rows_;
  const size_t batch_rows_;  // rows per batch: min(batch_rows, max_queued_rows), at least 1
  BatchSink* const sink_;

  std::mutex close_mu_;  // serialises Close
  mutable std::mutex mu_;
  std::condition_variable writer_cv_;  // work for the writer
  std::condition_variable space_cv_;   // room for producers
  std::condition_variable done_cv_;    // batches committed
  std::deque<RowBatch> batches_;       // front is the oldest
  // Emptied batches, reused for their capacity: fresh memory costs a page
  // fault per 4 KiB on first touch, which showed in the producer's profile.
  std::vector<RowBatch> spare_;
  const size_t max_spare_;
  size_t queued_rows_ = 0;
  uint64_t enqueued_total_ = 0;        // rows ever queued
  uint64_t finished_total_ = 0;        // rows committed or failed
  int flush_waiters_ = 0;
  int producers_waiting_ = 0;
  bool closing_ = false;
  bool started_ = false;
  bool writer_done_ = false;
  std::chrono::steady_clock::time_point close_deadline_;  // set when closing_ is
  // While a batch fails with retryable errors: since when, and how often.
  bool failing_ = false;
  std::chrono::steady_clock::time_point failing_since_;
  uint64_t failed_attempts_ = 0;   // of the current failure
  uint64_t errors_seen_by_flush_ = 0;
  std::string last_error_;  // of the last failed attempt
  RowKinds lost_;  // rows given up since the last Flush/Close report
  std::string last_lost_error_;
  StoreCounters counters_;
  std::thread writer_;
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_WRITE_QUEUE_H_
