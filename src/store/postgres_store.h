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
// Outages: when the connection is lost, the writer keeps its batch and
// retries it with exponential backoff until the database answers again;
// meanwhile rows wait in the bounded queue and, when it is full, Add* waits
// (nothing is dropped; spilling to disk is not built yet). A batch retried
// after a commit whose answer was lost is deduplicated by the natural keys,
// so every row is stored once.
#ifndef SIPMAN_STORE_POSTGRES_STORE_H_
#define SIPMAN_STORE_POSTGRES_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/record_codec.h"
#include "store/store.h"
#include "store/write_queue.h"

struct pg_conn;
struct pg_result;

namespace sipman::store::internal {

// An owned libpq result; empty when the query could not be sent.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  pg_result* get() const { return result_; }
  int rows() const;
  // LIFETIME: the view lives as long as this result.
  std::string_view Text(int row, int column) const;
  int64_t Int(int row, int column) const;
  // Rows an INSERT, UPDATE or DELETE changed.
  int64_t affected_rows() const;

 private:
  pg_result* result_ = nullptr;
};

// One connection to the server, with the few operations the store needs.
// Not thread-safe: each user (the writer, the readers) has its own.
class PgConnection {
 public:
  PgConnection() = default;
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects (closing any previous connection) with UTF-8 as client encoding.
  Status Connect(const std::string& url);
  void Disconnect();
  bool connected() const;

  // Runs `sql` (several statements allowed when there are no parameters).
  Status Exec(std::string_view sql);
  // Runs `sql` with text parameters $1..$n and returns its result rows.
  // REQUIRES: no parameter holds a NUL byte (SanitizeText removes them).
  Result<PgResult> Query(const std::string& sql, const std::vector<std::string>& params = {});
  // COPY `copy_sql` (... FROM STDIN) with `data` in COPY's text format.
  Status Copy(const std::string& copy_sql, std::string_view data);

  // Whether the last error lost the connection or came from a server that
  // is shutting down or starting up: such work is worth retrying.
  bool last_error_retryable() const { return last_error_retryable_; }
  // SQLSTATE of the last error ("" when none or unknown).
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  Status Error(std::string_view what, pg_result* result);

  pg_conn* conn_ = nullptr;
  bool last_error_retryable_ = false;
  std::string last_sqlstate_;
};

// Makes `text` acceptable as a PostgreSQL text value: each byte that is not
// part of valid UTF-8, and each NUL byte, becomes U+FFFD. SQLite keeps such
// bytes as they are; PostgreSQL rejects them, and one captured header with a
// Latin-1 byte must not fail a whole batch.
void AppendSanitized(std::string_view text, std::string* out);
std::string SanitizeText(std::string_view text);

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

class PostgresStore final : public Store, private BatchSink {
 public:
  // `url` is a libpq connection URI (postgresql://user@host:port/db?...).
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, std::string url);

  ~PostgresStore() override;

  void AddCall(const calls::CallRecord& record) override;
  void AddRegistration(const calls::RegistrationRecord& record) override;
  void AddMessage(const StoredMessage& message) override;
  void AddTrafficSecond(const stats::TrafficCounters& second) override;
  void ReplaceActiveCalls(std::string_view sensor,
                          std::vector<calls::CallRecord> records) override;
  Status Flush() override;
  Status Close() override;
  StoreCounters counters() const override;

  Result<std::map<std::string, int64_t>> CountCallsByState(const CallQuery& query) override;
  Result<std::vector<calls::CallRecord>> FindCalls(const CallQuery& query) override;
  Result<std::vector<calls::RegistrationRecord>> FindRegistrations(
      const RegistrationQuery& query) override;
  Result<std::vector<StoredMessageRow>> MessagesOfCall(std::string_view call_id) override;
  Result<std::vector<stats::TrafficCounters>> TrafficRows(const TrafficQuery& query) override;
  Result<stats::TrafficSummary> SummarizeTraffic(const TrafficQuery& query) override;
  Result<int64_t> CountRows(std::string_view table) override;

 private:
  PostgresStore(const StoreOptions& options, std::string url);
  Status Init();
  // Connects the writer and prepares its session (staging tables).
  Status ConnectWriter();
  Status WriteBatch(const RowBatch& batch, BatchResult* result) override;
  // One attempt at the whole batch in one transaction.
  Status TryWriteBatch(const RowBatch& batch, BatchResult* result);
  Status EnsurePartitions(const RowBatch& batch);
  Status WriteCalls(const RowBatch& batch, BatchResult* result);
  Status WriteRegistrations(const RowBatch& batch, BatchResult* result);
  Status WriteMessages(const RowBatch& batch, BatchResult* result);
  Status WriteTraffic(const RowBatch& batch, BatchResult* result);
  Status UpsertTraffic(int table_index, const stats::TrafficCounters& c);
  Status RollUp(int table_index, int64_t ts);
  Status ReplaceSnapshot(const ActiveSnapshot& snapshot, BatchResult* result);
  CallRow EncodeCall(const calls::CallRecord& record) const;
  // Sleeps up to `ms`, less when Close gives up waiting for the database.
  void Backoff(int64_t ms);
  // Runs a read query, reconnecting the read connection once when it was lost.
  Result<PgResult> Read(const std::string& sql, const std::vector<std::string>& params);
  // Whether Close has waited for an unreachable database long enough.
  bool GiveUp() const;

  const StoreOptions options_;
  const std::string url_;
  const std::string where_;  // the URL without its password, for messages

  // The writer thread's own.
  PgConnection write_conn_;
  std::set<int64_t> known_partitions_[3];  // days known to exist, per partitioned table
  int64_t newest_day_ = INT64_MIN;         // newest day written (retention)
  std::string copy_buffer_;

  std::mutex read_mu_;
  PgConnection read_conn_;  // guarded by read_mu_
  bool read_closed_ = false;  // guarded by read_mu_

  // Set by Close: the writer then retries an unreachable database only until
  // close_deadline_ns_ (steady clock) before it gives the batch up.
  std::atomic<bool> closing_{false};
  std::atomic<int64_t> close_deadline_ns_{0};

  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_

  // Last member: its thread calls WriteBatch, so it must stop first.
  WriteQueue queue_;
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_POSTGRES_STORE_H_
