#include "store/sqlite_store.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <utility>

#include "store/sqlite_rows.h"
#include "store/sightings.h"
#include "store/sqlite_schema.h"
#include "store/traffic_tables.h"

namespace sipman::store::internal {
namespace {

constexpr const char kMessageColumns[] =
    "sensor, call_id, ts, src_ip, src_port, dst_ip, dst_port, transport, method, status, cseq, "
    "size, compression, raw";
// Written, not read back: the queries' column lists stay kMessageColumns.
constexpr const char kMessageInsertColumns[] =
    "sensor, call_id, ts, src_ip, src_port, dst_ip, dst_port, transport, method, status, cseq, "
    "size, compression, raw, key_hash";
constexpr int kMessageInsertColumnCount = 15;
constexpr int kMessageKeyHashParam = 15;
// Rows whose natural keys share (ts, hash) get hash + 1, + 2, ...: at most
// this many (with 64-bit hashes even a second one is not expected).
constexpr int kMaxKeyHashProbes = 64;

std::string InsertSql(const char* table, const char* columns, int count) {
  std::string sql = std::string("INSERT OR IGNORE INTO ") + table + "(" + columns + ") VALUES(";
  for (int i = 0; i < count; ++i) sql += i == 0 ? "?" : ", ?";
  sql += ")";
  return sql;
}

// The alerts upsert with one "?" per written column.
std::string SqliteUpsertAlertSql() {
  std::string values = "VALUES(";
  for (int i = 0; i < kAlertColumnCount; ++i) values += i == 0 ? "?" : ", ?";
  values += ")";
  return UpsertAlertSql(false, values);
}

// Whether a write that failed with this (extended) result code may succeed
// when tried again later: the disk or file system is full, an I/O error (a
// full disk shows as one too), another process holds a lock past the busy
// timeout, the file went read-only or cannot be opened (permissions, a
// remount), memory ran out. A corrupt file, a constraint or a wrong value
// fail the same way every time; so does an error outside SQLite (code 0).
bool MayPass(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

Status ClosedError() {
  return Status::Error("the store is closed; open it again to query it");
}


}  // namespace

SqliteStore::SqliteStore(const StoreOptions& options, std::string path)
    : QueuedStore(options, "database " + path, /*message_key_hash=*/true),
      path_(std::move(path)) {}

SqliteStore::~SqliteStore() { Close(); }

Result<std::unique_ptr<Store>> SqliteStore::Open(const StoreOptions& options, std::string path) {
  // Process-wide, before SQLite initialises: without memory statistics every
  // SQLite allocation skips a global mutex. Fails harmlessly when too late.
  static std::once_flag configure_once;
  std::call_once(configure_once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  return Started(std::unique_ptr<QueuedStore>(new SqliteStore(options, std::move(path))));
}

Status SqliteStore::Init() {
  const std::string where = "database " + path_;
  int rc = sqlite3_open_v2(path_.c_str(), &write_db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = write_db_ != nullptr ? sqlite3_errmsg(write_db_) : sqlite3_errstr(rc);
    return Status::Error("cannot open " + where + ": " + message +
                         " (check that its directory exists and is writable)");
  }
  sqlite3_busy_timeout(write_db_, options_.busy_timeout_ms);
  sqlite3_extended_result_codes(write_db_, 1);

  // Larger pages than the default 4 KiB: fewer page writes and splits for
  // rows carrying raw messages. Only takes effect on a new, empty file.
  Status s = Exec(write_db_, "PRAGMA page_size = 16384");
  if (!s.ok()) return Status::Error("cannot configure " + where + ": " + s.message());
  // WAL: readers and the writer do not block each other. NORMAL: a commit
  // does not wait for fsync (WAL stays consistent; a power cut may lose the
  // last transactions, not corrupt the file).
  Statement wal;
  s = wal.Prepare(write_db_, "PRAGMA journal_mode = WAL");
  if (!s.ok()) return Status::Error(where + ": " + s.message());
  if (wal.Step() != SQLITE_ROW) return SqliteError(write_db_, "cannot use " + where);
  if (wal.ColumnText(0) != "wal") {
    return Status::Error("cannot switch " + where + " to WAL mode (it stays in '" +
                         std::string(wal.ColumnText(0)) +
                         "' mode); use a local file system, not a network share");
  }
  wal = Statement();
  // The checkpoint (WAL into the database file, with its fsync) runs every
  // 4000 pages (64 MiB) instead of every 1000: fewer, larger copies.
  std::string pragmas = "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; "
                        "PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 67108864; "
                        "PRAGMA cache_size = -" +
                        std::to_string(std::max(options_.cache_mb, 1) * 1024) + ";";
  s = Exec(write_db_, pragmas.c_str());
  if (!s.ok()) return Status::Error("cannot configure " + where + ": " + s.message());

  Result<int> migrated = MigrateSqlite(write_db_, path_);
  if (!migrated.ok()) return migrated.status();

  if (!(s = begin_.Prepare(write_db_, "BEGIN IMMEDIATE", true)).ok() ||
      !(s = commit_.Prepare(write_db_, "COMMIT", true)).ok() ||
      !(s = rollback_.Prepare(write_db_, "ROLLBACK", true)).ok() ||
      !(s = insert_call_.Prepare(write_db_, InsertSql("calls", kCallColumns, kCallColumnCount),
                                 true)).ok() ||
      !(s = insert_active_call_.Prepare(
            write_db_, InsertSql("active_calls", kCallColumns, kCallColumnCount), true))
           .ok() ||
      !(s = delete_active_calls_.Prepare(write_db_, "DELETE FROM active_calls WHERE sensor = ?",
                                         true))
           .ok() ||
      !(s = rollups_.Prepare(write_db_)).ok() ||
      !(s = quality_rollups_.Prepare(write_db_)).ok() ||
      !(s = delete_weaker_call_.Prepare(
            write_db_,
            "DELETE FROM calls WHERE invite_ts = ?1 AND call_id = ?2 AND sensor = ?3 AND " +
                CallCompletenessSql("calls") + " < (?4, ?5, ?6)",
            true))
           .ok() ||
      !(s = delete_weaker_registration_.Prepare(
            write_db_,
            "DELETE FROM registrations WHERE first_seen = ?1 AND call_id = ?2 AND sensor = ?3 "
            "AND " + RegistrationCompletenessSql("registrations") + " < (?4, ?5)",
            true))
           .ok() ||
      !(s = insert_registration_.Prepare(
            write_db_,
            InsertSql("registrations", kRegistrationColumns, kRegistrationColumnCount), true))
           .ok() ||
      !(s = insert_stream_.Prepare(
            write_db_, InsertSql("rtp_streams", kStreamColumns, kStreamColumnCount), true))
           .ok() ||
      !(s = upsert_alert_.Prepare(write_db_, SqliteUpsertAlertSql(), true)).ok() ||
      !(s = insert_message_.Prepare(
            write_db_,
            InsertSql("messages", kMessageInsertColumns, kMessageInsertColumnCount), true))
           .ok() ||
      !(s = select_message_key_.Prepare(
            write_db_,
            "SELECT sensor, call_id, src_ip, src_port, dst_ip, dst_port, size FROM messages "
            "WHERE ts = ? AND key_hash = ?",
            true))
           .ok() ||
      !(s = PrepareTraffic()).ok()) {
    return Status::Error(where + ": " + s.message());
  }

  rc = sqlite3_open_v2(path_.c_str(), &read_db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                       nullptr);
  if (rc != SQLITE_OK) return SqliteError(read_db_, "cannot open a read connection to " + where);
  sqlite3_busy_timeout(read_db_, options_.busy_timeout_ms);
  s = Exec(read_db_, "PRAGMA query_only = ON; PRAGMA cache_size = -16384;");
  if (!s.ok()) return Status::Error("cannot configure the read connection to " + where);
  return Status::Ok();
}

Status SqliteStore::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  Status status = queue_.Close();
  begin_ = Statement();
  commit_ = Statement();
  rollback_ = Statement();
  insert_call_ = Statement();
  insert_active_call_ = Statement();
  delete_active_calls_ = Statement();
  delete_weaker_call_ = Statement();
  delete_weaker_registration_ = Statement();
  rollups_.Finalize();
  quality_rollups_.Finalize();
  insert_registration_ = Statement();
  insert_message_ = Statement();
  insert_stream_ = Statement();
  upsert_alert_ = Statement();
  select_message_key_ = Statement();
  CloseTraffic();
  if (write_db_ != nullptr) {
    if (sqlite3_close(write_db_) != SQLITE_OK && status.ok()) {
      status = SqliteError(write_db_, "cannot close database " + path_);
    }
    write_db_ = nullptr;
  }
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ != nullptr) {
    sqlite3_close(read_db_);
    read_db_ = nullptr;
  }
  return status;
}

Status SqliteStore::WriteBatch(const RowBatch& batch, BatchResult* result) {
  if (begin_.Step() != SQLITE_DONE) {
    Status s = SqliteError(write_db_, "cannot start a write transaction on database " + path_);
    result->retry = MayPass(sqlite3_extended_errcode(write_db_));
    begin_.Reset();
    return s;
  }
  begin_.Reset();
  BatchResult partial;
  Status s = WriteRows(batch, &partial);
  if (s.ok()) {
    if (commit_.Step() == SQLITE_DONE) {
      commit_.Reset();
      *result = partial;
      return Status::Ok();
    }
    s = SqliteError(write_db_, "cannot commit to database " + path_);
    commit_.Reset();
  }
  // The code of the failed call, before ROLLBACK replaces it.
  result->retry = MayPass(sqlite3_extended_errcode(write_db_));
  rollups_.Discard();
  quality_rollups_.Discard();
  if (sqlite3_get_autocommit(write_db_) == 0) {
    rollback_.Step();
    rollback_.Reset();
  }
  return s;
}

Status SqliteStore::WriteRows(const RowBatch& batch, BatchResult* result) {
  for (const EncodedCall& r : batch.calls) {
    const uint64_t before = result->calls_inserted;
    Status s = InsertCall(r, false, result);
    if (!s.ok()) return s;
    if (result->calls_inserted != before) rollups_.Add(r.record, r.record.sensor, r.src_ip());
  }
  if (Status s = rollups_.Flush(write_db_, "database " + path_); !s.ok()) return s;
  for (const calls::RegistrationRecord& r : batch.registrations) {
    Status s = InsertRegistration(r, result);
    if (!s.ok()) return s;
  }
  for (const MessageRow& m : batch.messages) {
    Status s = InsertMessage(m, batch.TextsOf(m), result);
    if (!s.ok()) return s;
  }
  for (const StreamRow& r : batch.streams) {
    const uint64_t before = result->streams_inserted;
    Status s = InsertStream(r, result);
    if (!s.ok()) return s;
    if (result->streams_inserted != before) quality_rollups_.Add(r);
  }
  if (Status s = quality_rollups_.Flush(write_db_, "database " + path_); !s.ok()) return s;
  for (const AlertRow& r : batch.alerts) {
    Status s = UpsertAlert(r, result);
    if (!s.ok()) return s;
  }
  Status s = WriteTraffic(batch, result);
  if (!s.ok()) return s;
  for (const ActiveSnapshot& snapshot : batch.active_snapshots) {
    s = ReplaceSnapshot(snapshot, result);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status SqliteStore::ReplaceSnapshot(const ActiveSnapshot& snapshot, BatchResult* result) {
  delete_active_calls_.BindText(1, snapshot.sensor);
  if (delete_active_calls_.Step() != SQLITE_DONE) {
    Status s = SqliteError(write_db_, "cannot delete from active_calls of database " + path_);
    delete_active_calls_.Reset();
    return s;
  }
  delete_active_calls_.Reset();
  for (const EncodedCall& r : snapshot.rows) {
    Status s = InsertCall(r, true, result);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status SqliteStore::StepInsert(Statement* insert, const char* table, uint64_t* inserted,
                               BatchResult* result, Statement* delete_weaker) {
  auto step = [&](bool* added) {
    int rc = insert->Step();
    *added = rc == SQLITE_DONE && sqlite3_changes(write_db_) > 0;
    insert->Reset();
    if (rc == SQLITE_DONE) return Status::Ok();
    return SqliteError(write_db_, std::string("cannot insert into ") + table + " of database " +
                                      path_);
  };
  bool added = false;
  Status s = step(&added);
  if (s.ok() && !added && delete_weaker != nullptr) {
    // Seen before: the stored sighting gives way to a more complete one
    // (sightings.h), and the insert is tried once more. The statements keep
    // their bindings across Reset.
    int rc = delete_weaker->Step();
    const bool deleted = rc == SQLITE_DONE && sqlite3_changes(write_db_) > 0;
    delete_weaker->Reset();
    if (rc != SQLITE_DONE) {
      return SqliteError(write_db_, std::string("cannot replace a row of ") + table +
                                        " of database " + path_);
    }
    if (deleted) s = step(&added);
  }
  if (!s.ok()) return s;
  if (added) {
    ++*inserted;
  } else {
    ++result->duplicates;
  }
  return Status::Ok();
}

Status SqliteStore::InsertCall(const EncodedCall& row, bool active, BatchResult* result) {
  const calls::CallRecord& r = row.record;
  Statement& st = active ? insert_active_call_ : insert_call_;
  int i = 1;
  st.BindText(i++, r.sensor);
  st.BindText(i++, row.src_ip());
  st.BindText(i++, row.dst_ip());
  st.BindText(i++, calls::CallStateName(r.state));
  st.BindText(i++, row.caller_media());
  st.BindText(i++, row.callee_media());
#define SIPMAN_BIND_TEXT(field) st.BindText(i++, r.field);
  SIPMAN_CALL_TEXT_FIELDS(SIPMAN_BIND_TEXT)
#undef SIPMAN_BIND_TEXT
#define SIPMAN_BIND_INT(field) st.BindInt(i++, static_cast<int64_t>(r.field));
  SIPMAN_CALL_INT_FIELDS(SIPMAN_BIND_INT)
#undef SIPMAN_BIND_INT
#define SIPMAN_BIND_REAL(field) st.BindDouble(i++, r.field);
  SIPMAN_CALL_REAL_FIELDS(SIPMAN_BIND_REAL)
#undef SIPMAN_BIND_REAL
  if (active) return StepInsert(&st, "active_calls", &result->active_calls_inserted, result);
  const CallCompleteness rank = CompletenessOf(r);
  Statement& weaker = delete_weaker_call_;
  weaker.BindFrom(1, r.invite_ts, r.call_id, r.sensor, rank.messages, rank.ended, rank.end_ts);
  return StepInsert(&st, "calls", &result->calls_inserted, result, &weaker);
}

Status SqliteStore::InsertRegistration(const calls::RegistrationRecord& r, BatchResult* result) {
  Statement& st = insert_registration_;
  char src_ip[46];
  st.BindFrom(1, SensorOr(r.sensor), std::string_view(src_ip, FormatIp(r.src_ip, src_ip)),
              r.call_id, r.aor, r.contact, r.user_agent, r.result, r.src_port, r.expires,
              r.status_code, r.challenges, r.request_delay_ms, r.first_seen, r.last_seen);
  const RegistrationCompleteness rank = CompletenessOf(r);
  Statement& weaker = delete_weaker_registration_;
  weaker.BindFrom(1, r.first_seen, r.call_id, SensorOr(r.sensor), rank.last_seen,
                  rank.status_code);
  return StepInsert(&st, "registrations", &result->registrations_inserted, result, &weaker);
}

Status SqliteStore::InsertStream(const StreamRow& r, BatchResult* result) {
  Statement& st = insert_stream_;
  int i = 1;
  VisitStreamColumns(
      r, [&](const std::string& v) { st.BindText(i++, v); },
      [&](int64_t v) { st.BindInt(i++, v); }, [&](double v) { st.BindDouble(i++, v); });
  return StepInsert(&st, "rtp_streams", &result->streams_inserted, result);
}

Status SqliteStore::UpsertAlert(const AlertRow& r, BatchResult* result) {
  Statement& st = upsert_alert_;
  int i = 1;
  VisitAlertColumns(
      r, [&](const std::string& v) { st.BindText(i++, v); },
      [&](int64_t v) { st.BindInt(i++, v); }, [&](double v) { st.BindDouble(i++, v); });
  return StepInsert(&st, "alerts", &result->alerts_inserted, result);
}

Status SqliteStore::InsertMessage(const MessageRow& m, const RowBatch::MessageTexts& texts,
                                  BatchResult* result) {
  Statement& st = insert_message_;
  st.BindText(1, texts.sensor);
  st.BindText(2, texts.call_id);
  st.BindInt(3, m.ts);
  st.BindText(4, texts.src_ip);
  st.BindInt(5, m.src_port);
  st.BindText(6, texts.dst_ip);
  st.BindInt(7, m.dst_port);
  st.BindText(8, texts.transport);
  st.BindText(9, texts.method);
  st.BindInt(10, m.status);
  st.BindInt(11, m.cseq);
  st.BindInt(12, m.raw_size);
  st.BindInt(13, m.compression);
  st.BindBlob(14, texts.stored);
  // The unique index is (ts, key_hash). A row already there is this message
  // again (a duplicate) or, rarely, another message with the same hash: then
  // the next hash value is tried.
  for (int probe = 0; probe < kMaxKeyHashProbes; ++probe) {
    int64_t key_hash =
        static_cast<int64_t>(static_cast<uint64_t>(m.key_hash) + static_cast<uint64_t>(probe));
    st.BindInt(kMessageKeyHashParam, key_hash);
    if (st.Step() != SQLITE_DONE) {
      Status s = SqliteError(write_db_, "cannot insert into messages of database " + path_);
      st.Reset();
      return s;
    }
    bool inserted = sqlite3_changes(write_db_) > 0;
    st.Reset();
    if (inserted) {
      ++result->messages_inserted;
      result->message_raw_bytes += m.raw_size;
      result->message_stored_bytes += texts.stored.size();
      if (m.compression != kCompressionNone) ++result->messages_compressed;
      return Status::Ok();
    }
    Result<bool> same = SameMessageKey(m, texts, key_hash);
    if (!same.ok()) return same.status();
    if (*same) {
      ++result->duplicates;
      return Status::Ok();
    }
  }
  return Status::Error("cannot insert into messages of database " + path_ + ": " +
                       std::to_string(kMaxKeyHashProbes) +
                       " other messages share its time and key hash (corrupt key_hash column?)");
}

Result<bool> SqliteStore::SameMessageKey(const MessageRow& m, const RowBatch::MessageTexts& texts,
                                         int64_t key_hash) {
  Statement& st = select_message_key_;
  st.BindInt(1, m.ts);
  st.BindInt(2, key_hash);
  int rc = st.Step();
  if (rc != SQLITE_ROW) {
    Status s = SqliteError(write_db_, "cannot look up a message's key in database " + path_);
    st.Reset();
    if (rc == SQLITE_DONE) {
      return Status::Error("database " + path_ + " refused a message without holding its key");
    }
    return s;
  }
  bool same = st.ColumnText(0) == texts.sensor && st.ColumnText(1) == texts.call_id &&
              st.ColumnText(2) == texts.src_ip && st.ColumnInt(3) == m.src_port &&
              st.ColumnText(4) == texts.dst_ip && st.ColumnInt(5) == m.dst_port &&
              st.ColumnInt(6) == m.raw_size;
  st.Reset();
  return same;
}

Result<std::vector<StoredMessageRow>> SqliteStore::MessagesOfCall(std::string_view call_id) {
  std::string sql = std::string("SELECT id, ") + kMessageColumns +
                    " FROM messages WHERE call_id = ? ORDER BY ts, id";
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return ClosedError();
  Statement st;
  Status s = st.Prepare(read_db_, sql);
  if (!s.ok()) return s;
  st.BindText(1, call_id);

  std::vector<StoredMessageRow> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    StoredMessageRow m;
    m.id = st.ColumnInt(0);
    m.sensor = st.ColumnText(1);
    m.call_id = st.ColumnText(2);
    m.ts = st.ColumnInt(3);
    bool ips_ok = ParseIp(st.ColumnText(4), &m.src_ip);
    m.src_port = static_cast<uint16_t>(st.ColumnInt(5));
    ips_ok = ParseIp(st.ColumnText(6), &m.dst_ip) && ips_ok;
    m.dst_port = static_cast<uint16_t>(st.ColumnInt(7));
    m.transport = st.ColumnText(8);
    m.method = st.ColumnText(9);
    m.status = static_cast<int>(st.ColumnInt(10));
    m.cseq = static_cast<uint32_t>(st.ColumnInt(11));
    int64_t size = st.ColumnInt(12);
    m.compression = static_cast<int>(st.ColumnInt(13));
    std::string_view stored = st.ColumnBlob(14);
    m.stored_bytes = stored.size();
    if (!ips_ok) {
      return Status::Error("message " + std::to_string(m.id) + " in " + path_ +
                           " has an unreadable IP address");
    }
    if (size < 0) {
      return Status::Error("message " + std::to_string(m.id) + " in " + path_ +
                           " has a negative size");
    }
    s = DecompressMessage(m.compression, stored, static_cast<size_t>(size), &m.raw);
    if (!s.ok()) {
      return Status::Error("message " + std::to_string(m.id) + " in " + path_ + ": " +
                           s.message());
    }
    rows.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return SqliteError(read_db_, "cannot read messages from " + path_);
  return rows;
}

Result<std::vector<StreamRow>> SqliteStore::StreamsOfCall(std::string_view call_id) {
  const std::string sql = std::string("SELECT ") + kStreamColumns +
                          " FROM rtp_streams WHERE call_id = ?1 OR (other_call_id = ?1 AND other_call_id <> '') "
                          "ORDER BY first_ts, id";
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return ClosedError();
  Statement st;
  Status s = st.Prepare(read_db_, sql);
  if (!s.ok()) return s;
  st.BindText(1, call_id);
  std::vector<StreamRow> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    StreamRow& r = rows.emplace_back();
    int c = 0;
    VisitStreamColumns(
        r, [&](std::string& v) { v = st.ColumnText(c++); },
        [&](int64_t& v) { v = st.ColumnInt(c++); }, [&](double& v) { v = st.ColumnDouble(c++); });
  }
  if (rc != SQLITE_DONE) return SqliteError(read_db_, "cannot read rtp_streams from " + path_);
  return rows;
}

Result<std::vector<AlertRow>> SqliteStore::Alerts(const AlertQuery& query) {
  std::vector<std::string> params;
  const std::string sql = AlertQuerySql(query, &params);
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return ClosedError();
  Statement st;
  Status s = st.Prepare(read_db_, sql);
  if (!s.ok()) return s;
  for (size_t p = 0; p < params.size(); ++p) st.BindText(static_cast<int>(p + 1), params[p]);
  std::vector<AlertRow> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    AlertRow& r = rows.emplace_back();
    int c = 0;
    VisitAlertColumns(
        r, [&](std::string& v) { v = st.ColumnText(c++); },
        [&](int64_t& v) { v = st.ColumnInt(c++); }, [&](double& v) { v = st.ColumnDouble(c++); });
    r.id = st.ColumnInt(c);
  }
  if (rc != SQLITE_DONE) return SqliteError(read_db_, "cannot read alerts from " + path_);
  return rows;
}

Result<int64_t> SqliteStore::CountRows(std::string_view table) {
  Result<const char*> sql = CountRowsSql(table);
  if (!sql.ok()) return sql.status();
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return ClosedError();
  Statement st;
  Status s = st.Prepare(read_db_, *sql);
  if (!s.ok()) return s;
  if (st.Step() != SQLITE_ROW) return SqliteError(read_db_, "cannot count rows in " + path_);
  return st.ColumnInt(0);
}

}  // namespace sipman::store::internal
