#include "store/sqlite_schema.h"

#include <chrono>
#include <string>

#include "store/call_rollups.h"
#include "store/record_codec.h"
#include "store/call_media_columns.h"
#include "store/sightings.h"
#include "store/sqlite_util.h"
#include "store/quality_rollups.h"
#include "store/alerts_table.h"
#include "store/streams.h"

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

// Version 2: messages are deduplicated by (ts, key_hash), a 64-bit hash of
// the natural key (record_codec.h MessageKeyHash), instead of a unique index
// over eight columns with three long texts: the index entry shrinks from
// about 60 to 12 bytes and stays in time order (appended at the end).
// sipman_message_key_hash is the C++ function, registered by MigrateSqlite.
constexpr const char kSchemaV2[] = R"sql(
ALTER TABLE messages ADD COLUMN key_hash INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET key_hash =
  sipman_message_key_hash(sensor, call_id, src_ip, src_port, dst_ip, dst_port, size);
DROP INDEX messages_natural_key;
CREATE UNIQUE INDEX messages_key_hash ON messages(ts, key_hash);
CREATE TABLE compression_dictionaries (
  compression INTEGER PRIMARY KEY,
  dictionary BLOB NOT NULL
);
INSERT INTO compression_dictionaries VALUES(2, sipman_sip_dictionary_v1());
)sql";

// Version 4: the index behind `sipman report` (src/store/analytics.cc). It
// covers every column the call summary reads, in invite_ts order, so a
// report over a time range reads one contiguous slice of this index and
// never the wide table rows (docs/PERFORMANCE.md, "Reports").
constexpr const char kSchemaV4[] = R"sql(
CREATE INDEX calls_report ON calls(invite_ts, state, final_status, duration_ms, connect_ms,
  post_dial_delay_ms, disconnect_delay_ms, first_18x_ts, answer_ts, final_ts, sensor);
)sql";

// Version 3: traffic counters (stats::TrafficCounters) per sensor and
// second, minute and hour; ts is the period's start in Unix seconds. Method
// columns follow stats::kMethodNames (m_<name>), r1xx..r6xx the response
// classes, codes the status codes as JSON. See docs/SCHEMA.md.
constexpr const char kSchemaV3[] = R"sql(
CREATE TABLE stats_second (
  sensor TEXT NOT NULL,
  ts INTEGER NOT NULL,
  packets INTEGER NOT NULL DEFAULT 0, frame_bytes INTEGER NOT NULL DEFAULT 0, sip_bytes INTEGER NOT NULL DEFAULT 0, messages INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0, responses INTEGER NOT NULL DEFAULT 0, m_invite INTEGER NOT NULL DEFAULT 0, m_ack INTEGER NOT NULL DEFAULT 0,
  m_bye INTEGER NOT NULL DEFAULT 0, m_cancel INTEGER NOT NULL DEFAULT 0, m_register INTEGER NOT NULL DEFAULT 0, m_options INTEGER NOT NULL DEFAULT 0,
  m_prack INTEGER NOT NULL DEFAULT 0, m_subscribe INTEGER NOT NULL DEFAULT 0, m_notify INTEGER NOT NULL DEFAULT 0, m_publish INTEGER NOT NULL DEFAULT 0,
  m_info INTEGER NOT NULL DEFAULT 0, m_refer INTEGER NOT NULL DEFAULT 0, m_message INTEGER NOT NULL DEFAULT 0, m_update INTEGER NOT NULL DEFAULT 0,
  m_other INTEGER NOT NULL DEFAULT 0, r1xx INTEGER NOT NULL DEFAULT 0, r2xx INTEGER NOT NULL DEFAULT 0, r3xx INTEGER NOT NULL DEFAULT 0,
  r4xx INTEGER NOT NULL DEFAULT 0, r5xx INTEGER NOT NULL DEFAULT 0, r6xx INTEGER NOT NULL DEFAULT 0, kernel_drops INTEGER NOT NULL DEFAULT 0,
  interface_drops INTEGER NOT NULL DEFAULT 0,
  codes TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (sensor, ts)
) WITHOUT ROWID;
CREATE TABLE stats_minute (
  sensor TEXT NOT NULL,
  ts INTEGER NOT NULL,
  packets INTEGER NOT NULL DEFAULT 0, frame_bytes INTEGER NOT NULL DEFAULT 0, sip_bytes INTEGER NOT NULL DEFAULT 0, messages INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0, responses INTEGER NOT NULL DEFAULT 0, m_invite INTEGER NOT NULL DEFAULT 0, m_ack INTEGER NOT NULL DEFAULT 0,
  m_bye INTEGER NOT NULL DEFAULT 0, m_cancel INTEGER NOT NULL DEFAULT 0, m_register INTEGER NOT NULL DEFAULT 0, m_options INTEGER NOT NULL DEFAULT 0,
  m_prack INTEGER NOT NULL DEFAULT 0, m_subscribe INTEGER NOT NULL DEFAULT 0, m_notify INTEGER NOT NULL DEFAULT 0, m_publish INTEGER NOT NULL DEFAULT 0,
  m_info INTEGER NOT NULL DEFAULT 0, m_refer INTEGER NOT NULL DEFAULT 0, m_message INTEGER NOT NULL DEFAULT 0, m_update INTEGER NOT NULL DEFAULT 0,
  m_other INTEGER NOT NULL DEFAULT 0, r1xx INTEGER NOT NULL DEFAULT 0, r2xx INTEGER NOT NULL DEFAULT 0, r3xx INTEGER NOT NULL DEFAULT 0,
  r4xx INTEGER NOT NULL DEFAULT 0, r5xx INTEGER NOT NULL DEFAULT 0, r6xx INTEGER NOT NULL DEFAULT 0, kernel_drops INTEGER NOT NULL DEFAULT 0,
  interface_drops INTEGER NOT NULL DEFAULT 0,
  codes TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (sensor, ts)
) WITHOUT ROWID;
CREATE TABLE stats_hour (
  sensor TEXT NOT NULL,
  ts INTEGER NOT NULL,
  packets INTEGER NOT NULL DEFAULT 0, frame_bytes INTEGER NOT NULL DEFAULT 0, sip_bytes INTEGER NOT NULL DEFAULT 0, messages INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0, responses INTEGER NOT NULL DEFAULT 0, m_invite INTEGER NOT NULL DEFAULT 0, m_ack INTEGER NOT NULL DEFAULT 0,
  m_bye INTEGER NOT NULL DEFAULT 0, m_cancel INTEGER NOT NULL DEFAULT 0, m_register INTEGER NOT NULL DEFAULT 0, m_options INTEGER NOT NULL DEFAULT 0,
  m_prack INTEGER NOT NULL DEFAULT 0, m_subscribe INTEGER NOT NULL DEFAULT 0, m_notify INTEGER NOT NULL DEFAULT 0, m_publish INTEGER NOT NULL DEFAULT 0,
  m_info INTEGER NOT NULL DEFAULT 0, m_refer INTEGER NOT NULL DEFAULT 0, m_message INTEGER NOT NULL DEFAULT 0, m_update INTEGER NOT NULL DEFAULT 0,
  m_other INTEGER NOT NULL DEFAULT 0, r1xx INTEGER NOT NULL DEFAULT 0, r2xx INTEGER NOT NULL DEFAULT 0, r3xx INTEGER NOT NULL DEFAULT 0,
  r4xx INTEGER NOT NULL DEFAULT 0, r5xx INTEGER NOT NULL DEFAULT 0, r6xx INTEGER NOT NULL DEFAULT 0, kernel_drops INTEGER NOT NULL DEFAULT 0,
  interface_drops INTEGER NOT NULL DEFAULT 0,
  codes TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (sensor, ts)
) WITHOUT ROWID;
CREATE INDEX stats_second_ts ON stats_second(ts);
CREATE INDEX stats_minute_ts ON stats_minute(ts);
CREATE INDEX stats_hour_ts ON stats_hour(ts);
)sql";

// Version 5: the calls still up, as the last snapshot of `sipman run` left
// them. Same columns as calls, so a CallRecord is inserted by the same code;
// no natural key, since each snapshot replaces its sensor's rows whole.
constexpr const char kSchemaV5[] = R"sql(
CREATE TABLE active_calls (
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
CREATE INDEX active_calls_sensor ON active_calls(sensor, invite_ts);
)sql";

// Version 7: the web API's call search (src/store/call_search.cc). Each
// single-column search index gains invite_ts, so that a search by caller or
// callee prefix or by IP checks the time range and the time order inside the
// index, without reading rows, and an equality key is walked in time order.
// They replace the version 1 indexes rather than adding to them: a stored
// call still updates the same number of indexes.
constexpr const char kSchemaV7[] = R"sql(
DROP INDEX calls_caller_user;
DROP INDEX calls_callee_user;
DROP INDEX calls_src_ip;
DROP INDEX calls_dst_ip;
CREATE INDEX calls_caller_invite ON calls(caller_user, invite_ts);
CREATE INDEX calls_callee_invite ON calls(callee_user, invite_ts);
CREATE INDEX calls_src_ip_invite ON calls(src_ip, invite_ts);
CREATE INDEX calls_dst_ip_invite ON calls(dst_ip, invite_ts);
)sql";

// Version 8: traffic counters per direction, where the sensor knows its own
// networks (--local-net; stats::Direction). Existing rows read as 0.
constexpr const char kSchemaV8[] = R"sql(
ALTER TABLE stats_second ADD COLUMN in_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_second ADD COLUMN out_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_second ADD COLUMN in_sip_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_second ADD COLUMN out_sip_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_minute ADD COLUMN in_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_minute ADD COLUMN out_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_minute ADD COLUMN in_sip_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_minute ADD COLUMN out_sip_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_hour ADD COLUMN in_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_hour ADD COLUMN out_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_hour ADD COLUMN in_sip_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_hour ADD COLUMN out_sip_bytes INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 9: SIP over TLS the sensor cannot read, per period (issue 12).
constexpr const char kSchemaV9[] = R"sql(
ALTER TABLE stats_second ADD COLUMN tls_connections INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_second ADD COLUMN tls_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_minute ADD COLUMN tls_connections INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_minute ADD COLUMN tls_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_hour ADD COLUMN tls_connections INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stats_hour ADD COLUMN tls_bytes INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 10: one row per call and sensor, the most complete sighting
// (sightings.h): a replay stopped and run again stored a call twice, once
// in_progress and once complete, because the natural key held end_ts. The
// weaker duplicates go first (the rollups' delete trigger takes them out of
// calls_hourly and the other rollups).
const char* SchemaV10() {
  static const std::string sql =
      std::string("DELETE FROM calls WHERE EXISTS (SELECT 1 FROM calls AS b WHERE ") +
      "b.invite_ts = calls.invite_ts AND b.call_id = calls.call_id AND b.sensor = calls.sensor" +
      " AND (" + CallCompletenessSql("b") + " > " + CallCompletenessSql("calls") + " OR (" +
      CallCompletenessSql("b") + " = " + CallCompletenessSql("calls") +
      " AND b.id < calls.id)));\n"
      "DROP INDEX calls_natural_key;\n"
      "CREATE UNIQUE INDEX calls_natural_key ON calls(" + kCallNaturalKey + ");\n";
  return sql.c_str();
}

// Version 11: each call's media as the media module measured it (the RTP
// each party sent: codec, packets, loss, jitter, MOS; flags), in calls and
// active_calls; calls searched by their lowest MOS.
const char* SchemaV11() {
  static const std::string sql = AddCallMediaColumnsSql(false);
  return sql.c_str();
}

// Version 12: one row per RTP stream with its 10-second intervals
// (store/streams.h), and their hourly quality rollup (quality_rollups.h).
const char* SchemaV12() {
  static const std::string sql = CreateStreamsTableSql(false) + QualityRollupTableSql();
  return sql.c_str();
}

// Version 13: alerts, one row per time a rule fired for a key
// (store/alerts_table.h).
const char* SchemaV13() {
  static const std::string sql = CreateAlertsTableSql(false);
  return sql.c_str();
}

const Migration kMigrations[] = {
    {1, "initial schema: calls, registrations, messages", kSchemaV1},
    {2, "messages deduplicated by (ts, key_hash)", kSchemaV2},
    {3, "traffic counters per second, minute and hour", kSchemaV3},
    {4, "calls_report: covering index for call analytics", kSchemaV4},
    {5, "active_calls: snapshot of the calls still up", kSchemaV5},
    {6, "call rollups by hour and day, for reports over long ranges", CallRollupsMigrationSql()},
    {7, "call search indexes carry invite_ts (web API)", kSchemaV7},
    {8, "traffic counters per direction (in/out of the local networks)", kSchemaV8},
    {9, "encrypted SIP (TLS connections and bytes) per period", kSchemaV9},
    {10, "one row per call and sensor: the most complete sighting", SchemaV10()},
    {11, "calls: the media measured per direction (codec, loss, jitter, MOS, flags)", SchemaV11()},
    {12, "rtp_streams: every RTP stream with its 10-second intervals; rtp_quality_hourly",
     SchemaV12()},
    {13, "alerts: each time a rule fired for a key, until it resolved", SchemaV13()},
};

// sipman_sip_dictionary_v1(): the bytes of SipDictionaryV1(), so that every
// database carries the dictionary its compression-2 rows need.
void SipDictionaryFunction(sqlite3_context* context, int, sqlite3_value**) {
  std::string_view dict = SipDictionaryV1();
  sqlite3_result_blob(context, dict.data(), static_cast<int>(dict.size()), SQLITE_STATIC);
}

// sipman_message_key_hash(sensor, call_id, src_ip, src_port, dst_ip,
// dst_port, size): MessageKeyHash over column values.
void MessageKeyHashFunction(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (argc != 7) {
    sqlite3_result_error(context, "sipman_message_key_hash takes 7 arguments", -1);
    return;
  }
  auto text = [&](int i) {
    const unsigned char* t = sqlite3_value_text(argv[i]);
    int n = sqlite3_value_bytes(argv[i]);
    return t == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(t),
                                                                static_cast<size_t>(n));
  };
  std::string_view sensor = text(0), call_id = text(1), src_ip = text(2), dst_ip = text(4);
  sqlite3_result_int64(context, MessageKeyHash(sensor, call_id, src_ip,
                                               sqlite3_value_int64(argv[3]), dst_ip,
                                               sqlite3_value_int64(argv[5]),
                                               sqlite3_value_int64(argv[6])));
}

constexpr const char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at_ns INTEGER NOT NULL
);
)sql";

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
  if (sqlite3_create_function(db, "sipman_message_key_hash", 7,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, nullptr,
                              MessageKeyHashFunction, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_create_function(db, "sipman_sip_dictionary_v1", 0,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, nullptr,
                              SipDictionaryFunction, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db, "cannot prepare the migration of " + where);
  }
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
    record.BindInt(3, WallClockNs());
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

Result<sqlite3*> OpenSqliteReader(const std::string& url, std::string_view pragmas,
                                  std::string* path) {
  *path = std::string_view(url).starts_with("sqlite:") ? url.substr(7) : url;
  sqlite3* db = nullptr;
  // READWRITE, not READONLY: an older database is migrated first.
  int rc = sqlite3_open_v2(path->c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open database " + *path + ": " +
                          (db ? sqlite3_errmsg(db) : "out of memory") +
                          " (does it exist? 'sipman analyze --db " + *path + " FILE' creates it)";
    sqlite3_close(db);
    return Status::Error(message);
  }
  sqlite3_busy_timeout(db, 5000);
  Result<int> migrated = MigrateSqlite(db, *path);
  if (!migrated.ok()) {
    sqlite3_close(db);
    return migrated.status();
  }
  std::string sql = "PRAGMA query_only = ON;";
  sql.append(pragmas);
  Status s = Exec(db, sql.c_str());
  if (!s.ok()) {
    sqlite3_close(db);
    return s;
  }
  return db;
}

}  // namespace sipman::store::internal
