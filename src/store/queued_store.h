// Private to store/: what both backends share. Rows from the pipeline's
// threads are encoded here (write_queue.h) and queued; a backend only writes
// them, on the queue's thread, through BatchSink::WriteBatch, and answers
// the queries (the traffic summary through IntPairReader).
#ifndef SIPMAN_STORE_QUEUED_STORE_H_
#define SIPMAN_STORE_QUEUED_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "store/traffic_tables.h"
#include "store/write_queue.h"

namespace sipman::store::internal {

class QueuedStore : public Store, protected BatchSink, protected IntPairReader {
 public:
  void AddCall(const calls::CallRecord& record) final;
  void AddRegistration(const calls::RegistrationRecord& record) final;
  void AddMessage(const StoredMessage& message) final;
  void AddStream(StreamRow row) final;
  void AddAlert(AlertRow row) final;
  void AddTrafficSecond(const stats::TrafficCounters& second) final;
  void ReplaceActiveCalls(std::string_view sensor, std::vector<calls::CallRecord> records) final;
  Status Flush() override;
  StoreCounters counters() const override;
  // The same computation over either backend's tables (traffic_tables.h);
  // the backend reads through IntPairReader.
  Result<stats::TrafficSummary> SummarizeTraffic(const TrafficQuery& query) final;

 protected:
  // `what` names the database in the queue's messages ("database PATH").
  // `message_key_hash`: whether messages carry MessageKeyHash (SQLite's
  // unique key; PostgreSQL keys on the columns themselves).
  QueuedStore(const StoreOptions& options, std::string what, bool message_key_hash);
  // Opens the backend's database (schema, statements, connections) before
  // any row is taken.
  virtual Status Init() = 0;
  // What a backend's Open returns: `store` after its Init, with the writer
  // started; Init's error otherwise.
  static Result<std::unique_ptr<Store>> Started(std::unique_ptr<QueuedStore> store);
  // A backend's destructor must Close() the queue before its own members
  // go, since the queue's thread calls the backend's WriteBatch.

  const StoreOptions options_;
  const bool message_key_hash_;
  WriteQueue queue_;
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_QUEUED_STORE_H_
