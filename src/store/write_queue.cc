#include "store/write_queue.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace sipman::store::internal {

void RowBatch::AddMessage(const EncodedMessage& m) {
  const StoredMessage& s = *m.message;
  MessageRow row;
  row.ts = s.ts;
  row.key_hash = m.key_hash;
  row.src_port = s.src_port;
  row.dst_port = s.dst_port;
  row.status = s.status;
  row.cseq = s.cseq;
  row.compression = m.compression;
  row.raw_size = static_cast<uint32_t>(s.raw.size());
  row.offset = message_bytes.size();
  row.sensor_size = static_cast<uint32_t>(m.sensor.size());
  row.call_id_size = static_cast<uint32_t>(s.call_id.size());
  row.transport_size = static_cast<uint32_t>(s.transport.size());
  row.method_size = static_cast<uint32_t>(s.method.size());
  row.src_ip_size = static_cast<uint8_t>(m.src_ip.size());
  row.dst_ip_size = static_cast<uint8_t>(m.dst_ip.size());
  row.stored_size = static_cast<uint32_t>(m.stored.size());
  message_bytes.append(m.sensor)
      .append(s.call_id)
      .append(s.transport)
      .append(s.method)
      .append(m.src_ip)
      .append(m.dst_ip)
      .append(m.stored);
  messages.push_back(row);
}

RowBatch::MessageTexts RowBatch::TextsOf(const MessageRow& row) const {
  std::string_view bytes(message_bytes);
  size_t at = row.offset;
  auto next = [&](uint32_t size) {
    std::string_view text = bytes.substr(at, size);
    at += size;
    return text;
  };
  MessageTexts texts;
  texts.sensor = next(row.sensor_size);
  texts.call_id = next(row.call_id_size);
  texts.transport = next(row.transport_size);
  texts.method = next(row.method_size);
  texts.src_ip = next(row.src_ip_size);
  texts.dst_ip = next(row.dst_ip_size);
  texts.stored = next(row.stored_size);
  return texts;
}

WriteQueue::WriteQueue(size_t max_queued_rows, size_t batch_rows, BatchSink* sink)
    : max_queued_rows_(std::max<size_t>(max_queued_rows, 1)),
      batch_rows_(std::max<size_t>(std::min(batch_rows, max_queued_rows_), 1)),
      sink_(sink),
      max_spare_(max_queued_rows_ / batch_rows_ + 2) {}

WriteQueue::~WriteQueue() { Close(); }

void WriteQueue::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_ || closing_) return;
  started_ = true;
  writer_ = std::thread([this] { Run(); });
}

RowBatch* WriteQueue::ReserveRow(std::unique_lock<std::mutex>& lock, bool* waited) {
  *waited = false;
  if (closing_) {
    ++counters_.rows_rejected;
    return nullptr;
  }
  if (queued_rows_ >= max_queued_rows_) {
    *waited = true;
    ++producers_waiting_;
    ++counters_.producer_waits;
    writer_cv_.notify_one();
    space_cv_.wait(lock, [this] { return queued_rows_ < max_queued_rows_ || writer_done_; });
  }
  if (batches_.empty() || batches_.back().size() >= batch_rows_) {
    if (spare_.empty()) {
      batches_.emplace_back();
    } else {
      batches_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    }
  }
  return &batches_.back();
}

void WriteQueue::RowAdded(bool waited) {
  if (waited) --producers_waiting_;
  ++queued_rows_;
  ++enqueued_total_;
  counters_.max_queue_depth = std::max<uint64_t>(counters_.max_queue_depth, queued_rows_);
  if (batches_.back().size() >= batch_rows_) writer_cv_.notify_one();
}

bool WriteQueue::Push(CallRow&& row) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  batch->calls.push_back(std::move(row));
  RowAdded(waited);
  return true;
}

bool WriteQueue::Push(calls::RegistrationRecord&& row) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  batch->registrations.push_back(std::move(row));
  RowAdded(waited);
  return true;
}

bool WriteQueue::Push(const EncodedMessage& message) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  batch->AddMessage(message);
  RowAdded(waited);
  return true;
}

bool WriteQueue::Push(const stats::TrafficCounters& second) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  batch->traffic_seconds.push_back(second);
  RowAdded(waited);
  return true;
}

bool WriteQueue::Push(ActiveSnapshot&& snapshot) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  batch->active_snapshots.push_back(std::move(snapshot));
  RowAdded(waited);
  return true;
}

void WriteQueue::Run() {
  pthread_setname_np(pthread_self(), "sipman-store");  // for top -H, perf and gdb
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    writer_cv_.wait_for(lock, kMaxLatency, [this] {
      if (batches_.empty()) return closing_;
      return closing_ || flush_waiters_ > 0 || producers_waiting_ > 0 || batches_.size() > 1 ||
             batches_.front().size() >= batch_rows_;
    });
    if (batches_.empty()) {
      // A producer waiting for room always finds rows queued, so an empty
      // queue while closing means every accepted row is written.
      if (closing_) break;
      lock.unlock();
      sink_->Idle();
      lock.lock();
      continue;
    }
    RowBatch batch = std::move(batches_.front());
    batches_.pop_front();
    size_t rows = batch.size();
    queued_rows_ -= rows;
    space_cv_.notify_all();
    lock.unlock();

    BatchResult result;
    Status status = sink_->WriteBatch(batch, &result);
    batch.clear();

    lock.lock();
    if (spare_.size() < max_spare_) spare_.push_back(std::move(batch));
    finished_total_ += rows;
    if (status.ok()) {
      if (!result.spilled) ++counters_.batches;
      counters_.calls_written += result.calls_inserted;
      counters_.registrations_written += result.registrations_inserted;
      counters_.messages_written += result.messages_inserted;
      counters_.duplicates_ignored += result.duplicates;
      counters_.message_raw_bytes += result.message_raw_bytes;
      counters_.message_stored_bytes += result.message_stored_bytes;
      counters_.messages_compressed += result.messages_compressed;
      counters_.traffic_seconds_written += result.traffic_seconds_written;
    } else {
      ++counters_.write_errors;
      counters_.rows_failed += rows;
      last_error_ = status.message();
    }
    done_cv_.notify_all();
  }
  writer_done_ = true;
  done_cv_.notify_all();
  space_cv_.notify_all();
}

Status WriteQueue::TakeErrorLocked() {
  if (counters_.write_errors == errors_seen_by_flush_) return Status::Ok();
  uint64_t failed = counters_.write_errors - errors_seen_by_flush_;
  errors_seen_by_flush_ = counters_.write_errors;
  return Status::Error(std::to_string(failed) +
                       " write batch(es) failed and their rows were not stored; last error: " +
                       last_error_);
}

Status WriteQueue::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!started_ || writer_done_) return TakeErrorLocked();
  uint64_t target = enqueued_total_;
  ++flush_waiters_;
  writer_cv_.notify_one();
  done_cv_.wait(lock, [&] { return finished_total_ >= target || writer_done_; });
  --flush_waiters_;
  return TakeErrorLocked();
}

Status WriteQueue::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  writer_cv_.notify_one();
  if (writer_.joinable()) writer_.join();
  std::lock_guard<std::mutex> lock(mu_);
  return TakeErrorLocked();
}

void WriteQueue::GetCounters(StoreCounters* counters) const {
  std::lock_guard<std::mutex> lock(mu_);
  *counters = counters_;
  counters->queued_rows = queued_rows_;
}

}  // namespace sipman::store::internal
