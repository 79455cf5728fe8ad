#include "store/write_queue.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <utility>

namespace sipman::store::internal {
namespace {

using Clock = std::chrono::steady_clock;

std::string Count(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string Seconds(Clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::chrono::duration<double>(d).count());
  return text;
}

}  // namespace

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

WriteQueue::WriteQueue(const WriteQueueOptions& options, BatchSink* sink)
    : options_(options),
      max_queued_rows_(std::max<size_t>(options.max_queued_rows, 1)),
      batch_rows_(std::max<size_t>(std::min(options.batch_rows, max_queued_rows_), 1)),
      sink_(sink),
      max_spare_(max_queued_rows_ / batch_rows_ + 2) {}

WriteQueue::~WriteQueue() { Close(); }

WriteQueueOptions WriteQueue::OptionsFor(const StoreOptions& store, std::string what) {
  WriteQueueOptions o;
  o.max_queued_rows = store.max_queued_rows;
  o.batch_rows = store.batch_rows;
  o.what = std::move(what);
  o.first_retry = std::chrono::milliseconds(std::max(store.write_retry_first_ms, 1));
  o.max_retry = std::chrono::milliseconds(std::max(store.write_retry_max_ms, 1));
  o.close_timeout = std::chrono::milliseconds(std::max(store.close_timeout_ms, 0));
  o.on_event = store.on_write_event;
  return o;
}

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
  if (batches_.empty() || batches_.back().Full(batch_rows_)) {
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
  if (batches_.back().Full(batch_rows_)) writer_cv_.notify_one();
}

bool WriteQueue::Push(EncodedCall&& row) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  batch->calls.push_back(std::move(row));
  RowAdded(waited);
  return true;
}

bool WriteQueue::Push(StreamRow&& row) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  batch->streams.push_back(std::move(row));
  RowAdded(waited);
  return true;
}

bool WriteQueue::Push(AlertRow&& row) {
  std::unique_lock<std::mutex> lock(mu_);
  bool waited;
  RowBatch* batch = ReserveRow(lock, &waited);
  if (batch == nullptr) return false;
  for (AlertRow& queued : batch->alerts) {
    if (queued.rule == row.rule && queued.key == row.key && queued.fired_at == row.fired_at &&
        queued.sensor == row.sensor) {
      MergeAlertRow(row, &queued);
      if (waited) --producers_waiting_;  // no row added
      return true;
    }
  }
  batch->alerts.push_back(std::move(row));
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
             batches_.front().Full(batch_rows_);
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
    Status status = WriteKept(batch, &result);
    RowKinds kinds;
    if (!status.ok()) {
      kinds.calls = batch.calls.size();
      kinds.registrations = batch.registrations.size();
      kinds.messages = batch.messages.size();
      kinds.traffic_seconds = batch.traffic_seconds.size();
      kinds.snapshots = batch.active_snapshots.size();
      kinds.streams = batch.streams.size();
      kinds.alerts = batch.alerts.size();
      // Told before Flush and Close return, which report it too.
      Report(DescribeRows(kinds, rows) + (rows == 1 ? " is" : " are") + " not stored in " +
             options_.what + ": " + status.message() +
             (result.retry ? " (still failing when the store closed, after retrying for " +
                                 Seconds(options_.close_timeout) + ")"
                           : " (an error that trying again would not fix)"));
    }
    batch.clear();

    lock.lock();
    if (spare_.size() < max_spare_) spare_.push_back(std::move(batch));
    finished_total_ += rows;
    if (status.ok()) {
      if (!result.spilled) ++counters_.batches;
      CountWritten(result, &counters_);
    } else {
      ++counters_.write_errors;
      counters_.rows_failed += rows;
      lost_.calls += kinds.calls;
      lost_.registrations += kinds.registrations;
      lost_.messages += kinds.messages;
      lost_.traffic_seconds += kinds.traffic_seconds;
      lost_.snapshots += kinds.snapshots;
      lost_.streams += kinds.streams;
      lost_.alerts += kinds.alerts;
      last_error_ = status.message();
      last_lost_error_ = status.message();
    }
    done_cv_.notify_all();
  }
  failing_ = false;
  writer_done_ = true;
  done_cv_.notify_all();
  space_cv_.notify_all();
}

std::string WriteQueue::DescribeRows(const RowKinds& kinds, uint64_t rows) {
  std::string parts;
  auto add = [&](uint64_t n, const char* one, const char* many) {
    if (n == 0) return;
    if (!parts.empty()) parts += ", ";
    parts += Count(n, one, many);
  };
  add(kinds.calls, "call", "calls");
  add(kinds.registrations, "registration", "registrations");
  add(kinds.messages, "message", "messages");
  add(kinds.traffic_seconds, "second of traffic counters", "seconds of traffic counters");
  add(kinds.snapshots, "snapshot of active calls", "snapshots of active calls");
  add(kinds.streams, "RTP stream", "RTP streams");
  add(kinds.alerts, "alert", "alerts");
  return Count(rows, "row", "rows") + (parts.empty() ? "" : " (" + parts + ")");
}

Status WriteQueue::WriteKept(const RowBatch& batch, BatchResult* result) {
  std::chrono::milliseconds wait = std::max(options_.first_retry, std::chrono::milliseconds(1));
  const uint64_t rows = batch.size();
  for (;;) {
    *result = BatchResult{};
    Status status = sink_->WriteBatch(batch, result);
    std::unique_lock<std::mutex> lock(mu_);
    if (status.ok() || !result->retry) {
      const bool recovered = failing_ && status.ok();
      failing_ = false;
      if (recovered) {
        const uint64_t behind = enqueued_total_ - finished_total_ - rows;
        std::string event = options_.what + " takes writes again after " +
                            Seconds(Clock::now() - failing_since_) + " and " +
                            Count(failed_attempts_, "failed attempt", "failed attempts") +
                            ": the kept batch of " + Count(rows, "row", "rows") +
                            " is written, " + Count(behind, "row", "rows") +
                            " queued behind it follow";
        lock.unlock();
        Report(event);
      }
      return status;
    }
    const Clock::time_point now = Clock::now();
    ++counters_.write_retries;
    const bool first = !failing_;
    const bool changed = status.message() != last_error_;
    if (first) {
      failing_ = true;
      failing_since_ = now;
      failed_attempts_ = 0;
    }
    ++failed_attempts_;
    last_error_ = status.message();
    // Close's time is up: Run gives this batch up, and each one behind it
    // that fails too.
    if (closing_ && now >= close_deadline_) return status;
    Clock::time_point next = now + wait;
    if (closing_) next = std::min(next, close_deadline_);
    std::string event;
    if (first || changed) {
      const uint64_t pending = enqueued_total_ - finished_total_;
      event = "writing failed: " + status.message() + "; " +
              Count(pending, "row is", "rows are") +
              " kept in memory (nothing is dropped) and the batch is tried again in " +
              Seconds(next - now) + ", then at most every " + Seconds(options_.max_retry) +
              " until it is written (fix the cause; a full disk: free space where " +
              options_.what + " lies)";
    }
    wait = std::min(wait * 2, std::max(options_.max_retry, std::chrono::milliseconds(1)));
    const bool was_closing = closing_;
    if (!event.empty()) {
      lock.unlock();
      Report(event);
      lock.lock();
    }
    // Close wakes the writer for one more attempt at once, then the
    // backoff goes on until its deadline.
    writer_cv_.wait_until(lock, next, [&] { return closing_ && !was_closing; });
  }
}

void WriteQueue::Report(const std::string& event) const {
  if (options_.on_event) options_.on_event(event);
}

Status WriteQueue::TakeErrorLocked() {
  if (counters_.write_errors == errors_seen_by_flush_) return Status::Ok();
  uint64_t failed = counters_.write_errors - errors_seen_by_flush_;
  errors_seen_by_flush_ = counters_.write_errors;
  const RowKinds lost = lost_;
  lost_ = RowKinds{};
  const uint64_t rows =
      lost.calls + lost.registrations + lost.messages + lost.traffic_seconds + lost.snapshots +
      lost.streams + lost.alerts;
  return Status::Error(Count(failed, "write batch", "write batches") + " failed: " +
                       DescribeRows(lost, rows) + (rows == 1 ? " is" : " are") +
                       " not stored in " + options_.what +
                       "; last error: " + last_lost_error_);
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
    if (!closing_) close_deadline_ = Clock::now() + options_.close_timeout;
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
  counters->rows_pending = enqueued_total_ - finished_total_;
  counters->write_failing = failing_ ? 1 : 0;
  counters->write_failing_ms =
      failing_ ? static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           Clock::now() - failing_since_)
                                           .count())
               : 0;
  counters->last_write_error = last_error_;
}

EncodedCall EncodeCall(const calls::CallRecord& record, std::string_view default_sensor) {
  EncodedCall row;
  row.record = record;
  char src_ip[46], dst_ip[46];
  row.src_ip_size = static_cast<uint32_t>(FormatIp(record.src_ip, src_ip));
  row.dst_ip_size = static_cast<uint32_t>(FormatIp(record.dst_ip, dst_ip));
  row.texts.append(src_ip, row.src_ip_size).append(dst_ip, row.dst_ip_size);
  size_t before = row.texts.size();
  AppendMediaJson(record.caller_media, &row.texts);
  row.caller_media_size = static_cast<uint32_t>(row.texts.size() - before);
  before = row.texts.size();
  AppendMediaJson(record.callee_media, &row.texts);
  row.callee_media_size = static_cast<uint32_t>(row.texts.size() - before);
  if (row.record.sensor.empty()) row.record.sensor = default_sensor;
  return row;
}

ActiveSnapshot EncodeActiveSnapshot(std::string_view sensor, std::string_view default_sensor,
                                    std::vector<calls::CallRecord> records) {
  ActiveSnapshot snapshot;
  snapshot.sensor.assign(sensor.empty() ? default_sensor : sensor);
  snapshot.rows.reserve(records.size());
  for (calls::CallRecord& r : records) {
    r.sensor = snapshot.sensor;
    snapshot.rows.push_back(EncodeCall(r, default_sensor));
  }
  return snapshot;
}

MessageCompressor* ThreadCompressor(const StoreOptions& o) {
  thread_local std::unique_ptr<MessageCompressor> compressor;
  if (compressor == nullptr || compressor->level() != o.zstd_level ||
      compressor->min_gain() != o.min_compression_gain ||
      compressor->use_dictionary() != o.zstd_dictionary) {
    compressor = std::make_unique<MessageCompressor>(o.zstd_level, o.min_compression_gain,
                                                     o.zstd_dictionary);
  }
  return compressor.get();
}

}  // namespace sipman::store::internal
