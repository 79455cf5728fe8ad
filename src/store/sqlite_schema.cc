#include "store/sqlite_schema.h"

#include <chrono>
#include <string>

#include "store/sqlite_util.h"

namespace sipman::store::internal {
namespace {

// Version 1: the initial schema. Documented column by column in
// docs/SCHEMA.md; keep the two in step.
constexpr const char kSchemaV1[] = R"sql(
CREATE TABLE calls (
  id INTEGER PRIMARY KEY,
  sensor TEXT NOT NULL DEFAULT '',
  call_id TEXT NOT NULL,
  caller_user TEXT NOT NULL DEFAULT '',
  caller_display TEXT NOT NULL DEFAULT '',
  caller_domain TEXT NOT NULL DEFAULT '',
  caller_tag TEXT NOT NULL DEFAULT '',
  pai_user TEXT NOT NULL DEFAULT '',
  callee_user TEXT NOT NULL DEFAULT '',
  ruri_user TEXT NOT NULL DEFAULT '',
  callee_domain TEXT NOT NULL DEFAULT '',
  callee_tag TEXT NOT NULL DEFAULT '',
  diversion_user TEXT NOT NULL DEFAULT '',
  src_ip TEXT NOT NULL DEFAULT '',
  src_port INTEGER NOT NULL DEFAULT 0,
  dst_ip TEXT NOT NULL DEFAULT '',
  dst_port INTEGER NOT NULL DEFAULT 0,
  transport TEXT NOT NULL DEFAULT '',
  invite_ts INTEGER NOT NULL DEFAULT 0,
  first_provisional_ts INTEGER NOT NULL DEFAULT 0,
  first_18x_ts INTEGER NOT NULL DEFAULT 0,
  answer_ts INTEGER NOT NULL DEFAULT 0,
  ack_ts INTEGER NOT NULL DEFAULT 0,
  bye_ts INTEGER NOT NULL DEFAULT 0,
  cancel_ts INTEGER NOT NULL DEFAULT 0,
  final_ts INTEGER NOT NULL DEFAULT 0,
  end_ts INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  connect_ms INTEGER NOT NULL DEFAULT 0,
  post_dial_delay_ms INTEGER NOT NULL DEFAULT -1,
  disconnect_delay_ms INTEGER NOT NULL DEFAULT -1,
  final_status INTEGER NOT NULL DEFAULT 0,
  final_reason TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  hangup_by TEXT NOT NULL DEFAULT '',
  reason_protocol TEXT NOT NULL DEFAULT '',
  reason_cause INTEGER NOT NULL DEFAULT 0,
  reason_text TEXT NOT NULL DEFAULT '',
  caller_media_types TEXT NOT NULL DEFAULT '',
  caller_media TEXT NOT NULL DEFAULT '[]',
  callee_media_types TEXT NOT NULL DEFAULT '',
  callee_media TEXT NOT NULL DEFAULT '[]',
  caller_user_agent TEXT NOT NULL DEFAULT '',
  callee_user_agent TEXT NOT NULL DEFAULT '',
  message_count INTEGER NOT NULL DEFAULT 0,
  retransmissions INTEGER NOT NULL DEFAULT 0,
  byte_count INTEGER NOT NULL DEFAULT 0,
  auth_challenges INTEGER NOT NULL DEFAULT 0,
  correlation_id TEXT NOT NULL DEFAULT '',
  linked_call_id TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX calls_natural_key ON calls(invite_ts, call_id, sensor, end_ts);
CREATE INDEX calls_call_id ON calls(call_id);
CREATE INDEX calls_caller_user ON calls(caller_user);
CREATE INDEX calls_callee_user ON calls(callee_user);
CREATE INDEX calls_src_ip ON calls(src_ip);
CREATE INDEX calls_dst_ip ON calls(dst_ip);
CREATE INDEX calls_state ON calls(state, invite_ts);

CREATE TABLE registrations (
  id INTEGER PRIMARY KEY,
  sensor TEXT NOT NULL DEFAULT '',
  call_id TEXT NOT NULL,
  aor TEXT NOT NULL DEFAULT '',
  contact TEXT NOT NULL DEFAULT '',
  src_ip TEXT NOT NULL DEFAULT '',
  src_port INTEGER NOT NULL DEFAULT 0,
  user_agent TEXT NOT NULL DEFAULT '',
  expires INTEGER NOT NULL DEFAULT -1,
  result TEXT NOT NULL DEFAULT '',
  status_code INTEGER NOT NULL DEFAULT 0,
  challenges INTEGER NOT NULL DEFAULT 0,
  request_delay_ms INTEGER NOT NULL DEFAULT -1,
  first_seen INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX registrations_natural_key ON registrations(first_seen, call_id, sensor);
CREATE INDEX registrations_aor ON registrations(aor, first_seen);

CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  sensor TEXT NOT NULL DEFAULT '',
  call_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  src_ip TEXT NOT NULL DEFAULT '',
  src_port INTEGER NOT NULL DEFAULT 0,
  dst_ip TEXT NOT NULL DEFAULT '',
  dst_port INTEGER NOT NULL DEFAULT 0,
  transport TEXT NOT NULL DEFAULT '',
  method TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0,
  cseq INTEGER NOT NULL DEFAULT 0,
  size INTEGER NOT NULL,
  compression INTEGER NOT NULL DEFAULT 0,
  raw BLOB NOT NULL
);
CREATE UNIQUE INDEX messages_natural_key
  ON messages(ts, call_id, src_ip, src_port, dst_ip, dst_port, size, sensor);
CREATE INDEX messages_call_id ON messages(call_id);
)sql";

constexpr Migration kMigrations[] = {
    {1, "initial schema: calls, registrations, messages", kSchemaV1},
    // {2, "...", kSchemaV2},  -- the next change goes here.
};

constexpr const char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at_ns INTEGER NOT NULL
);
)sql";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::span<const Migration> SqliteMigrations() { return kMigrations; }

int LatestSqliteSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Result<int> SqliteSchemaVersion(sqlite3* db) {
  Statement exists;
  Status s = exists.Prepare(
      db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
  if (!s.ok()) return s;
  int rc = exists.Step();
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return SqliteError(db, "cannot read the schema version");
  Statement max;
  s = max.Prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!s.ok()) return s;
  if (max.Step() != SQLITE_ROW) return SqliteError(db, "cannot read the schema version");
  return static_cast<int>(max.ColumnInt(0));
}

Result<int> MigrateSqlite(sqlite3* db, std::string_view db_name) {
  const std::string where = "database " + std::string(db_name);
  // IMMEDIATE: two processes opening one fresh database migrate one after
  // the other, and the second finds nothing to do.
  Status s = Exec(db, "BEGIN IMMEDIATE");
  if (!s.ok()) return Status::Error("cannot lock " + where + " to migrate it: " + s.message());
  auto fail = [&](const std::string& message) -> Result<int> {
    Exec(db, "ROLLBACK");
    return Status::Error(message);
  };

  Result<int> current = SqliteSchemaVersion(db);
  if (!current.ok()) return fail(where + ": " + current.status().message());
  int latest = LatestSqliteSchemaVersion();
  if (*current > latest) {
    return fail(where + " has schema version " + std::to_string(*current) +
                ", newer than this sipman understands (" + std::to_string(latest) +
                "); upgrade sipman, or use another database file");
  }
  if (*current == latest) {
    Exec(db, "ROLLBACK");
    return 0;
  }
  s = Exec(db, kCreateMigrationsTable);
  if (!s.ok()) return fail("cannot create schema_migrations in " + where + ": " + s.message());

  Statement record;
  s = record.Prepare(
      db, "INSERT INTO schema_migrations(version, description, applied_at_ns) VALUES(?, ?, ?)");
  if (!s.ok()) return fail(where + ": " + s.message());
  int applied = 0;
  for (const Migration& m : kMigrations) {
    if (m.version <= *current) continue;
    s = Exec(db, m.sql);
    if (!s.ok()) {
      return fail("schema migration " + std::to_string(m.version) + " (" + m.description +
                  ") failed on " + where + ": " + s.message() +
                  " (is this a SIPMan database?)");
    }
    record.BindInt(1, m.version);
    record.BindText(2, m.description);
    record.BindInt(3, NowNs());
    if (record.Step() != SQLITE_DONE) {
      return fail(SqliteError(db, "cannot record schema migration in " + where).message());
    }
    record.Reset();
    ++applied;
  }
  s = Exec(db, "COMMIT");
  if (!s.ok()) return fail("cannot commit schema migrations of " + where + ": " + s.message());
  return applied;
}

}  // namespace sipman::store::internal
