#include "store/postgres_store.h"

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "store/sqlite_rows.h"  // the calls and registrations column lists, shared

namespace sipman::store::internal {
namespace {

constexpr int64_t kFirstBackoffMs = 100;

constexpr int64_t kReplayBudgetMs = 1000;  // per writer turn, so the queue keeps draining

}  // namespace

PostgresStore::PostgresStore(const StoreOptions& options, std::string url)
    : QueuedStore(options, "PostgreSQL database " + ParseStoreUrl(url).shown,
                  /*message_key_hash=*/false),
      url_(std::move(url)),
      where_("PostgreSQL database " + ParseStoreUrl(url_).shown) {}

PostgresStore::~PostgresStore() { Close(); }

Result<std::unique_ptr<Store>> PostgresStore::Open(const StoreOptions& options, std::string url) {
  return Started(std::unique_ptr<QueuedStore>(new PostgresStore(options, std::move(url))));
}

Status PostgresStore::Init() {
  Status s = write_conn_.Connect(url_);
  if (!s.ok()) {
    return Status::Error("cannot connect to " + where_ + ": " + s.message() +
                         " (is the server running and the URL right? "
                         "postgresql://USER@HOST:PORT/DATABASE)");
  }
  Result<int> migrated = MigratePostgres(&write_conn_, where_);
  if (!migrated.ok()) return migrated.status();
  s = ConnectWriter();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(read_mu_);
  s = read_conn_.Connect(url_);
  if (!s.ok()) return Status::Error("cannot open a read connection to " + where_ + ": " +
                                    s.message());
  // Segments a previous run spilled: the writer replays them first.
  return OpenSpillDirectory();
}

Status PostgresStore::ConnectWriter() {
  if (!write_conn_.connected()) {
    Status s = write_conn_.Connect(url_);
    if (!s.ok()) return Status::Error("cannot connect to " + where_ + ": " + s.message());
  }
  // Staging tables of this session: COPY fills them, INSERT ... SELECT ...
  // ON CONFLICT DO NOTHING moves the new rows on; the commit empties them.
  std::string sql;
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_calls ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kCallColumns + ", also_seen_by FROM calls WITH NO DATA;"
         "ALTER TABLE stage_calls ALTER COLUMN also_seen_by SET DEFAULT '';";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_registrations ON COMMIT DELETE ROWS "
                     "AS SELECT ") + kRegistrationColumns + " FROM registrations WITH NO DATA;";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_messages ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kPgMessageColumns + " FROM messages WITH NO DATA;";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_rtp_streams ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kStreamColumns + " FROM rtp_streams WITH NO DATA;";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_alerts ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kAlertColumns + " FROM alerts WITH NO DATA;";
  Status s = write_conn_.Exec(sql);
  if (!s.ok()) {
    write_conn_.Disconnect();  // e.g. a server still starting up: connect again later
    return Status::Error("cannot prepare writing to " + where_ + ": " + s.message());
  }
  for (std::set<int64_t>& known : known_partitions_) known.clear();
  return Status::Ok();
}

Status PostgresStore::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  close_deadline_ns_ = SteadyNowNs() + int64_t{options_.close_timeout_ms} * 1000000;
  closing_ = true;
  {
    std::lock_guard<std::mutex> lock(spill_mu_);
    stop_flush_waits_ = true;
  }
  spill_cv_.notify_all();
  Status status = queue_.Close();
  // The writer has stopped: write what it spilled if the server answers now
  // (within close_timeout_ms). Otherwise the segments stay on disk for the
  // next Open: no reason to wait for the server.
  next_connect_ns_ = 0;
  while (!backlog_.empty() && !GiveUp()) {
    ReplayBacklog(close_deadline_ns_.load());
    if (!write_conn_.connected()) break;
  }
  if (status.ok()) status = TakeSpillError();
  if (!backlog_.empty() && status.ok()) {
    std::lock_guard<std::mutex> lock(spill_mu_);
    status = Status::Error(
        std::to_string(spill_counters_.spill_segments) + " spill segment(s) (" +
        std::to_string(spill_counters_.spill_bytes) + " bytes) of rows not yet in " + where_ +
        " are kept in " + spill_path_ +
        "; they are written when sipman opens this database again with the same sensor and "
        "spill directory");
  }
  if (spill_lock_fd_ >= 0) {
    if (backlog_.empty()) {  // each only when empty (no *.bad, no other database's)
      ::rmdir(spill_path_.c_str());
      ::rmdir(options_.spill_dir.c_str());
    }
    ::close(spill_lock_fd_);
    spill_lock_fd_ = -1;
  }
  write_conn_.Disconnect();
  std::lock_guard<std::mutex> lock(read_mu_);
  read_conn_.Disconnect();
  read_closed_ = true;
  return status;
}

bool PostgresStore::GiveUp() const {
  return closing_ && SteadyNowNs() >= close_deadline_ns_.load();
}

void PostgresStore::Backoff(int64_t ms) {
  const int64_t until = SteadyNowNs() + ms * 1000000;
  while (SteadyNowNs() < until && !GiveUp()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status PostgresStore::Flush() {
  Status status = QueuedStore::Flush();
  {
    // Rows spilled to disk are not stored yet: wait for the writer to replay
    // them (as a batch waited for the server before spilling existed).
    std::unique_lock<std::mutex> lock(spill_mu_);
    spill_cv_.wait(lock, [this] { return spill_counters_.spill_segments == 0 || stop_flush_waits_; });
  }
  Status spill = TakeSpillError();
  return status.ok() ? spill : status;
}

StoreCounters PostgresStore::counters() const {
  StoreCounters c = QueuedStore::counters();
  std::lock_guard<std::mutex> lock(spill_mu_);
  const StoreCounters& s = spill_counters_;
  c.batches += replayed_batches_;
#define SIPMAN_ADD_REPLAYED(result_field, counter_field) c.counter_field += s.counter_field;
  SIPMAN_BATCH_WRITTEN_COUNTS(SIPMAN_ADD_REPLAYED)
#undef SIPMAN_ADD_REPLAYED
  c.rows_failed += s.rows_failed;
  c.spilled_rows = s.spilled_rows;
  c.spill_segments = s.spill_segments;
  c.spill_bytes = s.spill_bytes;
  c.spill_bad_segments = s.spill_bad_segments;
  return c;
}

bool PostgresStore::EnsureConnected(Status* why) {
  if (write_conn_.connected()) return true;
  const int64_t now = SteadyNowNs();
  if (now < next_connect_ns_) {
    *why = Status::Error(where_ + " is unreachable; the writer tries again in " +
                         std::to_string((next_connect_ns_ - now) / 1000000) + " ms");
    return false;
  }
  Status s = ConnectWriter();
  if (s.ok()) {
    connect_backoff_ms_ = kFirstBackoffMs;
    return true;
  }
  *why = s;
  next_connect_ns_ = SteadyNowNs() + connect_backoff_ms_ * 1000000;
  connect_backoff_ms_ =
      std::min<int64_t>(connect_backoff_ms_ * 2, std::max(options_.reconnect_max_backoff_ms, 1));
  return false;
}

Status PostgresStore::WriteBatch(const RowBatch& batch, BatchResult* result) {
  FormatBatch(batch, options_.sensor, &batch_copy_);
  for (;;) {
    // Rows spilled earlier go first, so the database sees batches in order.
    if (!backlog_.empty()) ReplayBacklog(SteadyNowNs() + kReplayBudgetMs * 1000000);
    Status why;
    if (backlog_.empty() && EnsureConnected(&why)) {
      bool outage = false;
      why = LoadBatch(batch_copy_, result, &outage);
      if (why.ok() || !outage) return why;
    } else if (!backlog_.empty() && why.ok()) {
      why = Status::Error("older rows spilled to " + spill_path_ + " are not written yet");
    }
    // The server is unreachable, or spilled rows wait: spill behind them.
    if (Spill(batch_copy_)) {
      *result = BatchResult{};
      result->spilled = true;
      return Status::Ok();
    }
    if (GiveUp()) {
      std::string message = where_ + " stayed unreachable until the store closed: " +
                            why.message();
      if (!last_spill_error_.empty()) message += "; not spilled: " + last_spill_error_;
      return Status::Error(message);
    }
    // No room to spill: wait for the server, as the queue's producers will.
    const int64_t wait_ms = (next_connect_ns_ - SteadyNowNs()) / 1000000;
    Backoff(std::max<int64_t>(wait_ms, 20));
  }
}

void PostgresStore::Idle() {
  if (!backlog_.empty()) ReplayBacklog(SteadyNowNs() + kReplayBudgetMs * 1000000);
}

}  // namespace sipman::store::internal
