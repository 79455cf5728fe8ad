// The store module's public face: Store keeps call detail records,
// registrations and the raw SIP messages of each call in a database, and
// reads back a call's messages, traffic counters and row counts. The
// operator's searches over calls and registrations are CallSearch's
// (call_search.h), on a connection of their own.
//
// Store is an interface with one backend per database (Envoy-style): SQLite
// and PostgreSQL. Open() picks the backend from the URL.
//
// Writing never blocks the pipeline on the disk: Add* encodes the row on the
// caller's thread (IP text, media JSON, zstd), copies it into a bounded
// in-memory queue, and one background writer thread drains it in batched
// transactions, doing nothing but SQLite's own work. So a producer thread and
// the writer share the encoding and storing work on two cores.
// Backpressure policy: when max_queued_rows rows are waiting, Add* waits
// until the writer has taken a batch, so nothing is ever dropped. The
// PostgreSQL backend's writer does not stall on an unreachable server: it
// spills each batch to a segment file on local disk (spill_dir) and writes
// the segments when the server is back, so the queue keeps draining.
//
// A SQLite batch that fails with an error that may pass (disk or file system
// full, I/O error, the database locked by another process for longer than
// busy_timeout_ms) is rolled back and kept: the writer tries it again after
// 1 s, doubling up to 30 s, until it is written, while Add* keeps queueing
// behind it and then waits as above. The failure is told at once through
// StoreOptions::on_write_event and shows in counters() (write_failing,
// last_write_error, rows_pending). Only Close gives rows up, after
// close_timeout_ms, and then reports exactly which.
//
// Rows are deduplicated by a natural key (see docs/SCHEMA.md), so feeding the
// same capture twice into one database stores every record once.
//
// Thread safety: every method may be called from any thread. Add* calls from
// one thread are committed in the order they were made.
#ifndef SIPMAN_STORE_STORE_H_
#define SIPMAN_STORE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/status.h"
#include "base/time.h"
#include "calls/calls.h"
#include "stats/stats.h"
#include "store/alerts_table.h"
#include "store/streams.h"

namespace sipman::store {

// What a --db value names: the one place that tells the backends apart.
// A PostgreSQL server is a libpq URI, "postgresql://user@host:port/db" or
// "postgres://..."; anything else is a SQLite file: "sipman.db", any path,
// or "sqlite:PATH".
struct StoreUrl {
  bool postgres = false;
  std::string sqlite_path;  // SQLite: the file, without "sqlite:"
  std::string shown;        // for messages and logs: without a password
};
StoreUrl ParseStoreUrl(std::string_view url);

struct StoreOptions {
  // "sipman.db", any file path, or "sqlite:PATH"; or a PostgreSQL URI,
  // "postgresql://user@host:port/db" (libpq's syntax, "postgres://" too).
  std::string url = "sipman.db";
  // Rows waiting for the writer at most; Add* waits beyond this (see above).
  size_t max_queued_rows = 200000;
  // Rows per write transaction at most. Large transactions write each
  // changed index page once per transaction: 5000 rows run at about half
  // the speed of 50000 (bench/store_bench.cc).
  size_t batch_rows = 50000;
  // Written into rows whose own sensor is empty.
  std::string sensor;
  // zstd level for raw messages (1-3 are sensible; 0 disables compression).
  int zstd_level = 1;
  // Compress with SIPMan's built-in SIP dictionary (compression 2: half the
  // bytes, 40% less CPU per message). false writes plain zstd frames
  // (compression 1) that any zstd decoder reads without the dictionary.
  bool zstd_dictionary = true;
  // A compressed message is kept only when it is at most this share of the
  // raw size (0.8: it must save at least 20%).
  double min_compression_gain = 0.2;
  // stats_second rows older than this (capture time, behind the newest
  // second written) are deleted; 0 keeps them. Minute and hour rows stay.
  int64_t stats_second_retention_s = 7 * 86400;
  // Page cache of the write connection, MiB.
  int cache_mb = 128;
  // How long a query or the writer waits for a lock held by another process.
  int busy_timeout_ms = 5000;

  // PostgreSQL only. Day partitions of calls, registrations and messages
  // whose day ended more than this many days before the newest day written
  // (capture time) are dropped; 0 keeps every partition.
  int partition_retention_days = 0;
  // PostgreSQL only. While the server is unreachable the writer retries its
  // batch after 100 ms, doubling up to this.
  int reconnect_max_backoff_ms = 5000;
  // SQLite: a batch that failed with an error that may pass is tried again
  // after write_retry_first_ms, the wait doubling up to write_retry_max_ms.
  int write_retry_first_ms = 1000;
  int write_retry_max_ms = 30000;
  // How long Close keeps retrying a failing write before it gives up on the
  // rows not yet written and reports them. SQLite: a batch that fails with
  // an error that may pass (disk full, I/O error, lock). PostgreSQL: an
  // unreachable server, when the rows cannot be spilled; and how long Close
  // spends writing spilled rows to a server that answers (the rest stay on
  // disk for the next Open).
  int close_timeout_ms = 30000;
  // Told at once, on the writer's thread (or Close's), when a write fails,
  // when a failing write's reason changes, when writes work again, and
  // when rows are given up; one line of text naming the database, the
  // reason and what to do. Must be thread-safe and quick (a log line).
  // Null: only counters(), Flush and Close tell.
  std::function<void(const std::string&)> on_write_event;
  // PostgreSQL only. While the server is unreachable, each batch is written
  // to a segment file below this directory (in a subdirectory per database
  // and sensor, created when first needed) instead of waiting, and the
  // segments are written to the database, oldest first, when it answers
  // again, also by the next Open after a restart. Relative to the working
  // directory. Empty disables spilling.
  std::string spill_dir = "sipman-pg-spill";
  // PostgreSQL only. Bytes of spill segments at most; beyond it the writer
  // waits for the server (and Add* for the queue) as without spilling.
  // 0 disables spilling.
  uint64_t max_spill_bytes = uint64_t{1} << 30;
};

// One SIP message of a call, as handed to AddMessage.
// LIFETIME: the views need only be valid during AddMessage; the store copies.
struct StoredMessage {
  std::string_view sensor;  // empty: StoreOptions::sensor
  std::string_view call_id;
  TimestampNs ts = 0;
  IpAddress src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  std::string_view transport;  // "udp", "tcp", ...
  // Requests: the method and status 0. Responses: the status code, and the
  // CSeq method as `method` when the caller has it.
  std::string_view method;
  int status = 0;
  uint32_t cseq = 0;    // CSeq number
  std::string_view raw; // the whole message, as captured
};

// A message read back from the store; `raw` is decompressed.
struct StoredMessageRow {
  int64_t id = 0;
  std::string sensor;
  std::string call_id;
  TimestampNs ts = 0;
  IpAddress src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  std::string transport;
  std::string method;
  int status = 0;
  uint32_t cseq = 0;
  int compression = 0;  // how it was stored: 0 none, 1 zstd, 2 zstd with the SIP dictionary
  size_t stored_bytes = 0;  // bytes in the database for `raw`
  std::string raw;
};

// A range of traffic counters: [from_ts, to_ts) in capture time. 0 leaves
// a bound open. An empty sensor means all sensors, summed.
enum class TrafficResolution { kSecond, kMinute, kHour };
struct TrafficQuery {
  TimestampNs from_ts = 0;
  TimestampNs to_ts = 0;
  std::string sensor;
  TrafficResolution resolution = TrafficResolution::kSecond;  // TrafficRows only
};

struct StoreCounters {
  // Rows inserted, per table.
  uint64_t calls_written = 0;
  uint64_t registrations_written = 0;
  uint64_t messages_written = 0;
  uint64_t streams_written = 0;  // rtp_streams
  uint64_t alerts_written = 0;   // alerts: new alerts, resolutions and action results
  // Rows already in the database (same natural key), ignored.
  uint64_t duplicates_ignored = 0;
  uint64_t batches = 0;        // committed write transactions
  // Batches given up: they failed with an error that trying again would not
  // fix, or were still failing when Close's close_timeout_ms ran out. Their
  // rows are not stored (Flush and Close say which).
  uint64_t write_errors = 0;
  uint64_t rows_failed = 0;    // rows in those batches
  // Failed write attempts whose batch was kept to try again (disk full,
  // I/O error, lock): nothing lost.
  uint64_t write_retries = 0;
  // Gauges: 1 while the writer keeps retrying a failed batch, and for how
  // long it has been failing (ms); 0 once it is written.
  uint64_t write_failing = 0;
  uint64_t write_failing_ms = 0;
  // Gauge: rows accepted and neither written nor given up yet: queued, plus
  // the batch being written (or retried).
  uint64_t rows_pending = 0;
  // The error of the last failed write attempt; empty if none failed.
  std::string last_write_error;
  uint64_t rows_rejected = 0;  // Add* after Close
  uint64_t queued_rows = 0;    // gauge: waiting for the writer now
  uint64_t max_queue_depth = 0;
  uint64_t producer_waits = 0; // Add* calls that waited for space
  // Raw message bytes handed in, and bytes stored for them after compression.
  uint64_t message_raw_bytes = 0;
  uint64_t message_stored_bytes = 0;
  uint64_t messages_compressed = 0;  // stored with compression 1 or 2
  uint64_t traffic_seconds_written = 0;  // stats_second rows written (replaced or new)
  // PostgreSQL only: rows spilled to disk while the server was unreachable
  // (each is counted as written above once its segment is replayed), the
  // segments and bytes waiting on disk now (gauges), and segments found
  // unreadable and set aside as "*.bad" (their rows are not stored).
  uint64_t spilled_rows = 0;
  uint64_t spill_segments = 0;
  uint64_t spill_bytes = 0;
  uint64_t spill_bad_segments = 0;
};

class Store {
 public:
  // Opens (creating when absent) the database named by options.url, brings
  // its schema up to date, and starts the writer thread.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);

  // Closes as Close() does.
  virtual ~Store() = default;

  // Queue one row for the writer. Never waits for the disk; waits only when
  // the queue is full (see the file comment).
  virtual void AddCall(const calls::CallRecord& record) = 0;
  virtual void AddRegistration(const calls::RegistrationRecord& record) = 0;
  virtual void AddMessage(const StoredMessage& message) = 0;
  // One RTP stream that ended (StreamRowOf); an empty sensor becomes
  // StoreOptions::sensor.
  virtual void AddStream(StreamRow row) = 0;
  // An alert that fired, or a change of one (it resolved, its action ran):
  // the row with its rule, key, fired_at and sensor is created or updated
  // (alerts_table.h). An empty sensor becomes StoreOptions::sensor.
  virtual void AddAlert(AlertRow row) = 0;
  // One second of traffic counters (sensor: StoreOptions::sensor). A row
  // already stored for that sensor and second is replaced, and the minute
  // and hour rows are recomputed from the rows below them, so writing the
  // same capture again changes nothing.
  virtual void AddTrafficSecond(const stats::TrafficCounters& second) = 0;
  // Replaces the rows of `sensor` (empty: StoreOptions::sensor) in
  // active_calls, the snapshot of the calls still up, with `records`; an
  // empty vector empties it. Queued like the rows above and applied in one
  // transaction, so a reader sees the old snapshot or the new one, never a
  // mix. Other sensors' rows stay.
  virtual void ReplaceActiveCalls(std::string_view sensor,
                                  std::vector<calls::CallRecord> records) = 0;

  // Waits until every row queued before this call is committed (or given
  // up). While a write fails with an error that may pass, that is until it
  // works again. Returns the error of any batch given up since the previous
  // Flush, saying how many calls, registrations, messages... it held.
  virtual Status Flush() = 0;
  // Flushes, stops the writer and closes the database. A write still failing
  // is retried for close_timeout_ms, then its rows and those behind it that
  // fail too are given up and reported here. Later Add* calls are counted as
  // rejected; later queries fail. Idempotent.
  virtual Status Close() = 0;

  virtual StoreCounters counters() const = 0;

  // Queries: synchronous, on a read connection of their own, so they run
  // while the writer writes. They see committed rows only (call Flush first
  // to see your own writes).

  // Every stored message with this Call-ID (all sensors), in time order.
  virtual Result<std::vector<StoredMessageRow>> MessagesOfCall(std::string_view call_id) = 0;
  // The messages of one stored call: its Call-ID's messages from its sensor,
  // less those more than kCallMessageMargin before its INVITE or after its
  // end, which belong to another call that reused the Call-ID.
  Result<std::vector<StoredMessageRow>> MessagesOfStoredCall(const calls::CallRecord& call);
  static constexpr TimestampNs kCallMessageMargin = 120 * kNsPerSecond;
  // Traffic counter rows of the query's resolution whose period starts in
  // the range, in time order (sensors summed when query.sensor is empty).
  virtual Result<std::vector<stats::TrafficCounters>> TrafficRows(const TrafficQuery& query) = 0;
  // Derived figures over the range (docs/METRICS.md): from stats_second,
  // calls.invite_ts and the calls' answer-to-end intervals. A range without
  // data gives a zero summary.
  virtual Result<stats::TrafficSummary> SummarizeTraffic(const TrafficQuery& query) = 0;
  // The RTP streams of a call: those whose call_id or other_call_id (a
  // B2BUA's other leg) is `call_id`, every sensor, by first_ts.
  virtual Result<std::vector<StreamRow>> StreamsOfCall(std::string_view call_id) = 0;
  // Stored alerts matching `query`, newest first (id set).
  virtual Result<std::vector<AlertRow>> Alerts(const AlertQuery& query) = 0;
  // Rows in "calls", "active_calls", "registrations", "messages", "rtp_streams" or "alerts"; other
  // names are refused.
  virtual Result<int64_t> CountRows(std::string_view table) = 0;
};

}  // namespace sipman::store

#endif  // SIPMAN_STORE_STORE_H_
