// Private to store/: the PostgreSQL backend of Store (libpq).
//
// Writes go through the same WriteQueue as SQLite's. The writer thread turns
// each batch into one transaction: the rows of each table are sent with COPY
// into a temporary staging table, then moved with INSERT ... SELECT ... ON
// CONFLICT DO NOTHING, so COPY's speed and the natural-key dedupe combine.
// calls, registrations and messages are partitioned by day on invite_ts,
// first_seen and ts; the writer creates the partitions a batch needs before
// writing it, and drops partitions older than the retention.
//
// Outages: when a batch fails because the connection is lost (not for a data
// error), the writer writes the batch's COPY text to a spill segment on local
// disk (StoreOptions::spill_dir) and takes the next batch, so the queue keeps
// draining and Add* does not wait. While segments wait, later batches are
// spilled behind them, so the database sees batches in the order they were
// queued. When the server answers again (or at the next Open), the writer
// replays the segments oldest first, each in one transaction, and deletes
// each only after its commit. When the segments reach max_spill_bytes (or
// the directory cannot be written) the writer retries its batch with
// exponential backoff instead, and Add* waits once the queue is full.
// A batch or segment written again after a commit whose answer was lost (or
// before its segment was deleted) is deduplicated by the natural keys, so
// every row is stored once.
//
// Spill segment format (one file per batch, "seg-<20-digit number>.pgspill",
// written to a ".tmp" name, fsynced, then renamed, so a crash never leaves a
// half segment under the final name):
//   sipman-pg-spill 1\n
//   calls ROWS BYTES DAY...\n          BYTES of COPY text for stage_calls
//   registrations ROWS BYTES DAY...\n  BYTES of COPY text for stage_registrations
//   messages ROWS BYTES DAY...\n       BYTES of COPY text for stage_messages
//   traffic ROWS BYTES SENSOR_BYTES\n  the sensor, then one line per second
//   active ROWS BYTES SENSOR_BYTES\n   (0 or more) the sensor, then COPY text
//   rows N\n                           rows of the queue batch it came from
//   end FNV1A64-HEX\n                  checksum of every byte before "end"
// DAY is a day partition the table's rows need (DayOf). A traffic line is
// ts, the counters in TrafficColumns order and the codes JSON, tab-separated.
// The segments live in a subdirectory per database and sensor
// (SpillSubdirectory), locked (flock) by the one live store that uses it; a
// second store of the same database and sensor does not spill.
#ifndef SIPMAN_STORE_POSTGRES_STORE_H_
#define SIPMAN_STORE_POSTGRES_STORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/pg_connection.h"
#include "store/pg_copy_format.h"
#include "store/queued_store.h"
#include "store/record_codec.h"
#include "store/store.h"
#include "store/write_queue.h"

namespace sipman::store::internal {

// Reads a call from result row `row`: kCallColumns (sqlite_rows.h) from
// column `first` on, then also_seen_by. `name` names the row in errors
// ("calls row 12 in PostgreSQL database postgresql://...").
Status ReadPgCall(const PgResult& res, int row, int first, const std::string& name,
                  calls::CallRecord* out);
// Reads a registration: kRegistrationColumns from column `first` on.
Status ReadPgRegistration(const PgResult& res, int row, int first, const std::string& name,
                          calls::RegistrationRecord* out);

// The condition that a calls row belongs to the sensor whose name is the
// parameter `placeholder` ("$3"): the sensor that stored it, or one of the
// others that saw the same call (also_seen_by, comma-separated; see
// PostgresStore's merge of a call seen by several sensors).
inline std::string CallOfSensorSql(const std::string& placeholder) {
  return "(sensor = " + placeholder + " OR (also_seen_by <> '' AND position(',' || " +
         placeholder + " || ',' IN ',' || also_seen_by || ',') > 0))";
}

// Adds one stats_* row (columns: ts, then TrafficColumns()) to *c; false
// when its codes column cannot be read (postgres_read.cc).
bool AddTrafficRow(const PgResult& res, int row, stats::TrafficCounters* c);

inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Schema (postgres_schema.cc).
int LatestPostgresSchemaVersion();
// Brings the database up to date under an advisory lock, so several sensors
// starting at once migrate one after the other. Returns how many migrations
// it applied. Fails on a database of a newer sipman.
Result<int> MigratePostgres(PgConnection* conn, std::string_view where);
// Partitioned tables and the timestamp column they are partitioned on.
struct PartitionedTable {
  const char* table;
  const char* column;
};
extern const PartitionedTable kPartitionedTables[3];
// The day number (days since 1970-01-01 UTC) of a nanosecond timestamp.
int64_t DayOf(TimestampNs ts);
// "calls_p20231114" for day 19675 of table "calls".
std::string PartitionName(std::string_view table, int64_t day);
// Creates the missing day partitions of `table` among `days`, in a
// transaction of its own under the advisory lock.
Status CreatePartitions(PgConnection* conn, const PartitionedTable& table,
                        const std::set<int64_t>& days);
// Drops the day partitions of every partitioned table older than
// `oldest_kept_day`. Returns how many it dropped.
Result<int> DropPartitionsBefore(PgConnection* conn, int64_t oldest_kept_day);

class PostgresStore final : public QueuedStore {
 public:
  // `url` is a libpq connection URI (postgresql://user@host:port/db?...).
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, std::string url);

  ~PostgresStore() override;

  // Flush also waits for spilled rows; counters add the spill's.
  Status Flush() override;
  Status Close() override;
  StoreCounters counters() const override;

  Result<std::vector<StoredMessageRow>> MessagesOfCall(std::string_view call_id) override;
  Result<std::vector<stats::TrafficCounters>> TrafficRows(const TrafficQuery& query) override;
  Result<int64_t> CountRows(std::string_view table) override;
  Result<std::vector<StreamRow>> StreamsOfCall(std::string_view call_id) override;
  Result<std::vector<AlertRow>> Alerts(const AlertQuery& query) override;

 private:
  PostgresStore(const StoreOptions& options, std::string url);
  // Connects, migrates the schema, finds the spill directory's backlog.
  Status Init() override;
  // Connects the writer and prepares its session (staging tables).
  Status ConnectWriter();
  Status WriteBatch(const RowBatch& batch, BatchResult* result) override;
  void Idle() override;
  // Connects the writer unless connected or a failed attempt was too recent
  // (backoff). False, with the reason in *why, when not connected.
  bool EnsureConnected(Status* why);
  // One attempt at `batch` in one transaction (once more when a partition
  // this writer believed in was dropped by another process). On failure,
  // *outage says whether the connection was lost (worth retrying) rather
  // than the data refused.
  Status LoadBatch(const CopyBatch& batch, BatchResult* result, bool* outage);
  Status TryLoadBatch(const CopyBatch& batch, BatchResult* result);
  Status EnsurePartitions(const std::set<int64_t> (&wanted)[3]);
  // COPY `copy` into the staging table of `table` and move the new rows on;
  // *inserted: how many were new.
  Status LoadStaged(const char* table, const char* columns, const std::string& copy,
                    uint64_t* inserted);
  Status LoadMessages(const CopyBatch& batch, BatchResult* result);
  Status LoadStreams(const CopyBatch& batch, BatchResult* result);
  Status LoadAlerts(const CopyBatch& batch, BatchResult* result);
  Status WriteTraffic(const std::string& sensor,
                      const std::vector<stats::TrafficCounters>& seconds, BatchResult* result);
  Status UpsertTraffic(const std::string& sensor, int table_index, const stats::TrafficCounters& c);
  // Adds the sensor's rows of `table_index` whose ts lies in [from, to) to
  // *sum.
  Status SumRows(const std::string& sensor, int table_index, int64_t from, int64_t to,
                 stats::TrafficCounters* sum);
  Status ReplaceSnapshot(const CopyBatch::Snapshot& snapshot, BatchResult* result);

  // Spilling (writer thread; Close's thread once the writer stopped).
  // Finds the segments a previous run left (deleting half-written ".tmp" ones).
  Status OpenSpillDirectory();
  // Writes `batch` as the newest segment. False (and why in
  // last_spill_error_) when spilling is off, full or failing.
  bool Spill(const CopyBatch& batch);
  // Takes the spill directory's lock (flock) for this store's life. False
  // when another live store holds it: spilling is then off for this one.
  bool LockSpillDirectory();
  // Writes segments to the database, oldest first, until none is left, the
  // connection is lost, or the steady clock passes `deadline_ns` (checked
  // after each segment).
  void ReplayBacklog(int64_t deadline_ns);
  // Renames the oldest segment to "*.bad" and reports `why` through Flush;
  // `rows` (when known) count as failed.
  void SetAsideSegment(const std::string& why, uint64_t rows);
  // Error of the segments set aside since the last call, or Ok.
  Status TakeSpillError();
  // Sleeps up to `ms`, less when Close gives up waiting for the database.
  void Backoff(int64_t ms);
  // The traffic summary's reads of the calls table (IntPairReader).
  Status ReadIntPairs(const std::string& sql, int64_t p1, int64_t p2, std::string_view sensor,
                      const Row& row) override;
  // Runs a read query, reconnecting the read connection once when it was lost.
  Result<PgResult> Read(const std::string& sql, const std::vector<std::string>& params);
  // Whether Close has waited for an unreachable database long enough.
  bool GiveUp() const;

  const std::string url_;
  const std::string where_;  // the URL without its password, for messages

  // The writer thread's own.
  PgConnection write_conn_;
  std::set<int64_t> known_partitions_[3];  // days known to exist, per partitioned table
  int64_t newest_day_ = INT64_MIN;         // newest day written (retention)
  CopyBatch batch_copy_;   // the queue batch being written
  CopyBatch replay_copy_;  // the segment being replayed
  std::string segment_buffer_;
  // Writer reconnection backoff, shared by writes and replays.
  int64_t next_connect_ns_ = 0;  // steady clock
  int64_t connect_backoff_ms_ = 100;

  struct SpillSegment {
    std::string path;
    uint64_t bytes = 0;
  };
  std::string spill_path_;  // this database's and sensor's directory; empty: no spilling
  int spill_lock_fd_ = -1;  // the directory, locked once it exists
  std::deque<SpillSegment> backlog_;  // segments on disk, oldest first
  uint64_t next_segment_ = 1;
  std::string last_spill_error_;  // why the last Spill returned false

  // Shared with counters(), Flush and Close.
  mutable std::mutex spill_mu_;
  std::condition_variable spill_cv_;  // the backlog shrank, or Close began
  StoreCounters spill_counters_;      // spill fields, plus replayed rows' results; guarded
  uint64_t replayed_batches_ = 0;     // guarded by spill_mu_
  uint64_t spill_errors_ = 0;         // segments set aside; guarded by spill_mu_
  uint64_t spill_errors_reported_ = 0;  // guarded by spill_mu_
  std::string spill_error_;           // the last one; guarded by spill_mu_
  bool stop_flush_waits_ = false;     // guarded by spill_mu_

  std::mutex read_mu_;
  PgConnection read_conn_;  // guarded by read_mu_
  bool read_closed_ = false;  // guarded by read_mu_

  // Set by Close: the writer then retries an unreachable database only until
  // close_deadline_ns_ (steady clock) before it gives the batch up.
  std::atomic<bool> closing_{false};
  std::atomic<int64_t> close_deadline_ns_{0};

  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_POSTGRES_STORE_H_
