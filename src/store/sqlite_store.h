// Private to store/: the SQLite backend of Store.
#ifndef SIPMAN_STORE_SQLITE_STORE_H_
#define SIPMAN_STORE_SQLITE_STORE_H_

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>

#include "store/call_rollups.h"
#include "store/quality_rollups.h"
#include "store/queued_store.h"
#include "store/record_codec.h"
#include "store/sqlite_util.h"
#include "store/store.h"
#include "store/write_queue.h"

namespace sipman::store::internal {

// One write connection, used by the writer thread through WriteBatch, and
// one read connection for queries (WAL mode lets them run side by side).
class SqliteStore final : public QueuedStore {
 public:
  // `path` is a file name (the "sqlite:" prefix already removed).
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, std::string path);

  ~SqliteStore() override;

  Status Close() override;

  Result<std::vector<StoredMessageRow>> MessagesOfCall(std::string_view call_id) override;
  Result<std::vector<stats::TrafficCounters>> TrafficRows(const TrafficQuery& query) override;
  Result<int64_t> CountRows(std::string_view table) override;
  Result<std::vector<StreamRow>> StreamsOfCall(std::string_view call_id) override;
  Result<std::vector<AlertRow>> Alerts(const AlertQuery& query) override;

 private:
  SqliteStore(const StoreOptions& options, std::string path);
  Status Init() override;  // opens both connections, migrates, prepares
  Status WriteBatch(const RowBatch& batch, BatchResult* result) override;
  Status WriteRows(const RowBatch& batch, BatchResult* result);
  // Inserts into calls through insert_call_, or into active_calls through
  // insert_active_call_ when `active`.
  Status InsertCall(const EncodedCall& row, bool active, BatchResult* result);
  Status ReplaceSnapshot(const ActiveSnapshot& snapshot, BatchResult* result);
  Status InsertRegistration(const calls::RegistrationRecord& r, BatchResult* result);
  Status InsertStream(const StreamRow& r, BatchResult* result);
  Status UpsertAlert(const AlertRow& r, BatchResult* result);
  Status InsertMessage(const MessageRow& m, const RowBatch::MessageTexts& texts,
                       BatchResult* result);
  // Whether the message stored at (ts, key_hash) has the natural key of `m`
  // (a duplicate) or another one (two keys with one hash).
  Result<bool> SameMessageKey(const MessageRow& m, const RowBatch::MessageTexts& texts,
                              int64_t key_hash);
  // Steps an insert statement and counts an inserted row or a duplicate.
  // With `delete_weaker` (bound to the row's natural key and rank), a row
  // already stored under the key that ranks below the new one is deleted
  // and the insert stepped again (sightings.h).
  Status StepInsert(Statement* insert, const char* table, uint64_t* inserted,
                    BatchResult* result, Statement* delete_weaker = nullptr);
  // Traffic counters (sqlite_traffic.cc): statements, then the batch's
  // seconds with the minute and hour rollups they touch, then retention.
  Status PrepareTraffic();
  void CloseTraffic();
  Status WriteTraffic(const RowBatch& batch, BatchResult* result);
  // Replaces the row of `table_index` (0 second, 1 minute, 2 hour).
  Status UpsertTraffic(int table_index, const stats::TrafficCounters& c);
  // Adds this sensor's rows of `table_index` whose ts lies in [from, to) to
  // *sum.
  Status SumRows(int table_index, int64_t from, int64_t to, stats::TrafficCounters* sum);
  // The traffic summary's reads of the calls table (IntPairReader).
  Status ReadIntPairs(const std::string& sql, int64_t p1, int64_t p2, std::string_view sensor,
                      const Row& row) override;
  std::string_view SensorOr(const std::string& sensor) const {
    return sensor.empty() ? std::string_view(options_.sensor) : std::string_view(sensor);
  }

  const std::string path_;

  // Used by Init, then by the writer thread only.
  sqlite3* write_db_ = nullptr;
  Statement begin_, commit_, rollback_;
  Statement insert_call_, insert_active_call_, delete_active_calls_;
  Statement delete_weaker_call_, delete_weaker_registration_;
  internal::CallRollupWriter rollups_;  // of the calls inserted by the current batch
  internal::QualityRollupWriter quality_rollups_;  // of its streams
  Statement insert_registration_, insert_message_, select_message_key_, insert_stream_;
  Statement upsert_alert_;
  Statement upsert_traffic_[3], select_traffic_[3], delete_old_seconds_;

  std::mutex read_mu_;
  sqlite3* read_db_ = nullptr;  // guarded by read_mu_; null once closed

  std::mutex close_mu_;
  bool closed_ = false;  // guarded by close_mu_
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_SQLITE_STORE_H_
