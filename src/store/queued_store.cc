#include "store/queued_store.h"

#include <utility>

namespace sipman::store::internal {

QueuedStore::QueuedStore(const StoreOptions& options, std::string what, bool message_key_hash)
    : options_(options),
      message_key_hash_(message_key_hash),
      queue_(WriteQueue::OptionsFor(options, std::move(what)), this) {}

Result<std::unique_ptr<Store>> QueuedStore::Started(std::unique_ptr<QueuedStore> store) {
  if (Status s = store->Init(); !s.ok()) return s;
  store->queue_.Start();
  return std::unique_ptr<Store>(std::move(store));
}

void QueuedStore::AddCall(const calls::CallRecord& record) {
  queue_.Push(EncodeCall(record, options_.sensor));
}

void QueuedStore::AddRegistration(const calls::RegistrationRecord& record) {
  calls::RegistrationRecord copy(record);
  if (copy.sensor.empty()) copy.sensor = options_.sensor;
  queue_.Push(std::move(copy));
}

void QueuedStore::AddStream(StreamRow row) {
  if (row.sensor.empty()) row.sensor = options_.sensor;
  queue_.Push(std::move(row));
}

void QueuedStore::AddAlert(AlertRow row) {
  if (row.sensor.empty()) row.sensor = options_.sensor;
  queue_.Push(std::move(row));
}

void QueuedStore::AddMessage(const StoredMessage& message) {
  EncodeMessage(message, options_, message_key_hash_,
                [this](const EncodedMessage& m) { queue_.Push(m); });
}

void QueuedStore::AddTrafficSecond(const stats::TrafficCounters& second) { queue_.Push(second); }

void QueuedStore::ReplaceActiveCalls(std::string_view sensor,
                                     std::vector<calls::CallRecord> records) {
  queue_.Push(EncodeActiveSnapshot(sensor, options_.sensor, std::move(records)));
}

Status QueuedStore::Flush() { return queue_.Flush(); }

StoreCounters QueuedStore::counters() const {
  StoreCounters c;
  queue_.GetCounters(&c);
  return c;
}

Result<stats::TrafficSummary> QueuedStore::SummarizeTraffic(const TrafficQuery& query) {
  return internal::SummarizeTraffic(this, query, this);
}

}  // namespace sipman::store::internal
