// The PostgreSQL schema: versioned migrations of its own (docs/SCHEMA.md,
// "PostgreSQL") and the day partitions of the large tables.
#include <chrono>
#include <cstdio>
#include <string>

#include "store/postgres_store.h"
#include "store/call_media_columns.h"
#include "store/sightings.h"
#include "store/alerts_table.h"
#include "store/streams.h"

namespace sipman::store::internal {
namespace {

// Taken (transaction-scoped) by migrations and partition changes, so that
// several sipman processes sharing one database do them one at a time.
constexpr const char kLockSql[] = "SELECT pg_advisory_xact_lock(7315420866)";

// The columns of calls and active_calls (one CallRecord each). Texts that
// are searched by range or sorted use the "C" collation: byte order, as in
// SQLite, whatever the database's locale.
#define SIPMAN_PG_CALL_COLUMNS                                   \
  "  sensor TEXT COLLATE \"C\" NOT NULL DEFAULT '',\n"           \
  "  call_id TEXT COLLATE \"C\" NOT NULL,\n"                     \
  "  caller_user TEXT COLLATE \"C\" NOT NULL DEFAULT '',\n"      \
  "  caller_display TEXT NOT NULL DEFAULT '',\n"                 \
  "  caller_domain TEXT NOT NULL DEFAULT '',\n"                  \
  "  caller_tag TEXT NOT NULL DEFAULT '',\n"                     \
  "  pai_user TEXT NOT NULL DEFAULT '',\n"                       \
  "  callee_user TEXT COLLATE \"C\" NOT NULL DEFAULT '',\n"      \
  "  ruri_user TEXT NOT NULL DEFAULT '',\n"                      \
  "  callee_domain TEXT NOT NULL DEFAULT '',\n"                  \
  "  callee_tag TEXT NOT NULL DEFAULT '',\n"                     \
  "  diversion_user TEXT NOT NULL DEFAULT '',\n"                 \
  "  src_ip TEXT COLLATE \"C\" NOT NULL DEFAULT '',\n"           \
  "  src_port INTEGER NOT NULL DEFAULT 0,\n"                     \
  "  dst_ip TEXT COLLATE \"C\" NOT NULL DEFAULT '',\n"           \
  "  dst_port INTEGER NOT NULL DEFAULT 0,\n"                     \
  "  transport TEXT NOT NULL DEFAULT '',\n"                      \
  "  invite_ts BIGINT NOT NULL DEFAULT 0,\n"                     \
  "  first_provisional_ts BIGINT NOT NULL DEFAULT 0,\n"          \
  "  first_18x_ts BIGINT NOT NULL DEFAULT 0,\n"                  \
  "  answer_ts BIGINT NOT NULL DEFAULT 0,\n"                     \
  "  ack_ts BIGINT NOT NULL DEFAULT 0,\n"                        \
  "  bye_ts BIGINT NOT NULL DEFAULT 0,\n"                        \
  "  cancel_ts BIGINT NOT NULL DEFAULT 0,\n"                     \
  "  final_ts BIGINT NOT NULL DEFAULT 0,\n"                      \
  "  end_ts BIGINT NOT NULL DEFAULT 0,\n"                        \
  "  duration_ms BIGINT NOT NULL DEFAULT 0,\n"                   \
  "  connect_ms BIGINT NOT NULL DEFAULT 0,\n"                    \
  "  post_dial_delay_ms BIGINT NOT NULL DEFAULT -1,\n"           \
  "  disconnect_delay_ms BIGINT NOT NULL DEFAULT -1,\n"          \
  "  final_status INTEGER NOT NULL DEFAULT 0,\n"                 \
  "  final_reason TEXT NOT NULL DEFAULT '',\n"                   \
  "  state TEXT COLLATE \"C\" NOT NULL,\n"                       \
  "  hangup_by TEXT NOT NULL DEFAULT '',\n"                      \
  "  reason_protocol TEXT NOT NULL DEFAULT '',\n"                \
  "  reason_cause INTEGER NOT NULL DEFAULT 0,\n"                 \
  "  reason_text TEXT NOT NULL DEFAULT '',\n"                    \
  "  caller_media_types TEXT NOT NULL DEFAULT '',\n"             \
  "  caller_media TEXT NOT NULL DEFAULT '[]',\n"                 \
  "  callee_media_types TEXT NOT NULL DEFAULT '',\n"             \
  "  callee_media TEXT NOT NULL DEFAULT '[]',\n"                 \
  "  caller_user_agent TEXT NOT NULL DEFAULT '',\n"              \
  "  callee_user_agent TEXT NOT NULL DEFAULT '',\n"              \
  "  message_count BIGINT NOT NULL DEFAULT 0,\n"                 \
  "  retransmissions BIGINT NOT NULL DEFAULT 0,\n"               \
  "  byte_count BIGINT NOT NULL DEFAULT 0,\n"                    \
  "  auth_challenges BIGINT NOT NULL DEFAULT 0,\n"               \
  "  correlation_id TEXT NOT NULL DEFAULT '',\n"                 \
  "  linked_call_id TEXT NOT NULL DEFAULT ''\n"

#define SIPMAN_PG_TRAFFIC_TABLE(name)                                                            \
  "CREATE TABLE " name " (\n"                                                                    \
  "  sensor TEXT COLLATE \"C\" NOT NULL,\n"                                                      \
  "  ts BIGINT NOT NULL,\n"                                                                      \
  "  packets BIGINT NOT NULL DEFAULT 0, frame_bytes BIGINT NOT NULL DEFAULT 0,\n"                \
  "  sip_bytes BIGINT NOT NULL DEFAULT 0, messages BIGINT NOT NULL DEFAULT 0,\n"                 \
  "  requests BIGINT NOT NULL DEFAULT 0, responses BIGINT NOT NULL DEFAULT 0,\n"                 \
  "  m_invite BIGINT NOT NULL DEFAULT 0, m_ack BIGINT NOT NULL DEFAULT 0,\n"                     \
  "  m_bye BIGINT NOT NULL DEFAULT 0, m_cancel BIGINT NOT NULL DEFAULT 0,\n"                     \
  "  m_register BIGINT NOT NULL DEFAULT 0, m_options BIGINT NOT NULL DEFAULT 0,\n"               \
  "  m_prack BIGINT NOT NULL DEFAULT 0, m_subscribe BIGINT NOT NULL DEFAULT 0,\n"                \
  "  m_notify BIGINT NOT NULL DEFAULT 0, m_publish BIGINT NOT NULL DEFAULT 0,\n"                 \
  "  m_info BIGINT NOT NULL DEFAULT 0, m_refer BIGINT NOT NULL DEFAULT 0,\n"                     \
  "  m_message BIGINT NOT NULL DEFAULT 0, m_update BIGINT NOT NULL DEFAULT 0,\n"                 \
  "  m_other BIGINT NOT NULL DEFAULT 0, r1xx BIGINT NOT NULL DEFAULT 0,\n"                       \
  "  r2xx BIGINT NOT NULL DEFAULT 0, r3xx BIGINT NOT NULL DEFAULT 0,\n"                          \
  "  r4xx BIGINT NOT NULL DEFAULT 0, r5xx BIGINT NOT NULL DEFAULT 0,\n"                          \
  "  r6xx BIGINT NOT NULL DEFAULT 0, kernel_drops BIGINT NOT NULL DEFAULT 0,\n"                  \
  "  interface_drops BIGINT NOT NULL DEFAULT 0,\n"                                               \
  "  codes TEXT NOT NULL DEFAULT '{}',\n"                                                        \
  "  PRIMARY KEY (sensor, ts)\n"                                                                 \
  ");\n"                                                                                         \
  "CREATE INDEX " name "_ts ON " name "(ts);\n"

// Version 1: every table of SQLite's schema 5 (the rollup tables of SQLite's
// schema 6 are not built for PostgreSQL yet). calls, registrations and
// messages are partitioned by day; their unique natural keys include the
// partition column, as PostgreSQL requires. messages are deduplicated by
// their natural key itself rather than SQLite's (ts, key_hash).
constexpr const char kSchemaV1[] =
    "CREATE TABLE calls (\n  id BIGSERIAL,\n" SIPMAN_PG_CALL_COLUMNS
    ") PARTITION BY RANGE (invite_ts);\n"
    "CREATE UNIQUE INDEX calls_natural_key ON calls(invite_ts, call_id, sensor, end_ts);\n"
    "CREATE INDEX calls_call_id ON calls(call_id);\n"
    "CREATE INDEX calls_caller_user ON calls(caller_user);\n"
    "CREATE INDEX calls_callee_user ON calls(callee_user);\n"
    "CREATE INDEX calls_src_ip ON calls(src_ip);\n"
    "CREATE INDEX calls_dst_ip ON calls(dst_ip);\n"
    "CREATE INDEX calls_state ON calls(state, invite_ts);\n"
    R"sql(
CREATE TABLE registrations (
  id BIGSERIAL,
  sensor TEXT COLLATE "C" NOT NULL DEFAULT '',
  call_id TEXT COLLATE "C" NOT NULL,
  aor TEXT COLLATE "C" NOT NULL DEFAULT '',
  contact TEXT NOT NULL DEFAULT '',
  src_ip TEXT COLLATE "C" NOT NULL DEFAULT '',
  src_port INTEGER NOT NULL DEFAULT 0,
  user_agent TEXT NOT NULL DEFAULT '',
  expires BIGINT NOT NULL DEFAULT -1,
  result TEXT COLLATE "C" NOT NULL DEFAULT '',
  status_code INTEGER NOT NULL DEFAULT 0,
  challenges BIGINT NOT NULL DEFAULT 0,
  request_delay_ms BIGINT NOT NULL DEFAULT -1,
  first_seen BIGINT NOT NULL DEFAULT 0,
  last_seen BIGINT NOT NULL DEFAULT 0
) PARTITION BY RANGE (first_seen);
CREATE UNIQUE INDEX registrations_natural_key ON registrations(first_seen, call_id, sensor);
CREATE INDEX registrations_aor ON registrations(aor, first_seen);

CREATE TABLE messages (
  id BIGSERIAL,
  sensor TEXT COLLATE "C" NOT NULL DEFAULT '',
  call_id TEXT COLLATE "C" NOT NULL,
  ts BIGINT NOT NULL,
  src_ip TEXT COLLATE "C" NOT NULL DEFAULT '',
  src_port INTEGER NOT NULL DEFAULT 0,
  dst_ip TEXT COLLATE "C" NOT NULL DEFAULT '',
  dst_port INTEGER NOT NULL DEFAULT 0,
  transport TEXT NOT NULL DEFAULT '',
  method TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0,
  cseq BIGINT NOT NULL DEFAULT 0,
  size BIGINT NOT NULL,
  compression INTEGER NOT NULL DEFAULT 0,
  raw BYTEA NOT NULL
) PARTITION BY RANGE (ts);
CREATE UNIQUE INDEX messages_natural_key
  ON messages(ts, call_id, src_ip, src_port, dst_ip, dst_port, size, sensor);
CREATE INDEX messages_call_id ON messages(call_id);

CREATE TABLE compression_dictionaries (
  compression INTEGER PRIMARY KEY,
  dictionary BYTEA NOT NULL
);
)sql" SIPMAN_PG_TRAFFIC_TABLE("stats_second") SIPMAN_PG_TRAFFIC_TABLE("stats_minute")
        SIPMAN_PG_TRAFFIC_TABLE("stats_hour")
    "CREATE TABLE active_calls (\n  id BIGSERIAL PRIMARY KEY,\n" SIPMAN_PG_CALL_COLUMNS ");\n"
    "CREATE INDEX active_calls_sensor ON active_calls(sensor, invite_ts);\n";

#undef SIPMAN_PG_CALL_COLUMNS
#undef SIPMAN_PG_TRAFFIC_TABLE

// Version 2: traffic counters per direction (SQLite's version 8).
#define SIPMAN_PG_DIRECTION_COLUMNS(name)                                     \
  "ALTER TABLE " name " ADD COLUMN in_messages BIGINT NOT NULL DEFAULT 0,\n" \
  "  ADD COLUMN out_messages BIGINT NOT NULL DEFAULT 0,\n"                   \
  "  ADD COLUMN in_sip_bytes BIGINT NOT NULL DEFAULT 0,\n"                   \
  "  ADD COLUMN out_sip_bytes BIGINT NOT NULL DEFAULT 0;\n"
constexpr const char kSchemaV2[] = SIPMAN_PG_DIRECTION_COLUMNS("stats_second")
    SIPMAN_PG_DIRECTION_COLUMNS("stats_minute") SIPMAN_PG_DIRECTION_COLUMNS("stats_hour");
#undef SIPMAN_PG_DIRECTION_COLUMNS

// Version 3: the web API reads one call by its id (GET /api/v1/calls/{id});
// without an index that is a scan of every partition.
constexpr const char kSchemaV3[] = "CREATE INDEX calls_id ON calls(id);\n";

// Version 4: a call seen by several sensors is one row; also_seen_by names
// the sensors other than the row's own (PostgresStore::LoadStaged).
constexpr const char kSchemaV4[] =
    "ALTER TABLE calls ADD COLUMN also_seen_by text COLLATE \"C\" NOT NULL DEFAULT '';\n";

// Version 5: SIP over TLS the sensor cannot read, per period (SQLite's 9).
#define SIPMAN_PG_TLS_COLUMNS(name)                                              \
  "ALTER TABLE " name " ADD COLUMN tls_connections BIGINT NOT NULL DEFAULT 0,\n" \
  "  ADD COLUMN tls_bytes BIGINT NOT NULL DEFAULT 0;\n"
constexpr const char kSchemaV5[] = SIPMAN_PG_TLS_COLUMNS("stats_second")
    SIPMAN_PG_TLS_COLUMNS("stats_minute") SIPMAN_PG_TLS_COLUMNS("stats_hour");
#undef SIPMAN_PG_TLS_COLUMNS

// Version 6: one row per call and sensor, the most complete sighting
// (sightings.h; SQLite's 10): the natural key no longer holds end_ts, so a
// replay stopped and run again no longer stores a call twice.
const char* SchemaV6() {
  static const std::string sql =
      std::string("DELETE FROM calls c USING calls b WHERE b.invite_ts = c.invite_ts AND ") +
      "b.call_id = c.call_id AND b.sensor = c.sensor AND (" + CallCompletenessSql("b") + " > " +
      CallCompletenessSql("c") + " OR (" + CallCompletenessSql("b") + " = " +
      CallCompletenessSql("c") + " AND b.id < c.id));\n"
      "DROP INDEX calls_natural_key;\n"
      "CREATE UNIQUE INDEX calls_natural_key ON calls(" + kCallNaturalKey + ");\n";
  return sql.c_str();
}

struct PgMigration {
  int version;
  const char* description;
  const char* sql;
};

// Version 7: SQLite's version 11, each call's media as measured.
const char* SchemaV7() {
  static const std::string sql = AddCallMediaColumnsSql(true);
  return sql.c_str();
}

// Version 8: SQLite's version 12, rtp_streams (not partitioned: a day
// holds about two rows per call).
const char* SchemaV8() {
  static const std::string sql = CreateStreamsTableSql(true);
  return sql.c_str();
}

// Version 9: SQLite's version 13, alerts.
const char* SchemaV9() {
  static const std::string sql = CreateAlertsTableSql(true);
  return sql.c_str();
}

const PgMigration kMigrations[] = {
    {1, "calls, registrations and messages partitioned by day; traffic; active calls",
     kSchemaV1},
    {2, "traffic counters per direction (in/out of the local networks)", kSchemaV2},
    {3, "an index on calls(id) for the web API's call detail", kSchemaV3},
    {4, "calls.also_seen_by: the other sensors that saw a call", kSchemaV4},
    {5, "encrypted SIP (TLS connections and bytes) per period", kSchemaV5},
    {6, "one row per call and sensor: the most complete sighting", SchemaV6()},
    {7, "calls: the media measured per direction (codec, loss, jitter, MOS, flags)", SchemaV7()},
    {8, "rtp_streams: every RTP stream with its 10-second intervals", SchemaV8()},
    {9, "alerts: each time a rule fired for a key, until it resolved", SchemaV9()},
};

constexpr const char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at_ns BIGINT NOT NULL
);
)sql";

constexpr int64_t kNsPerDay = 86400 * kNsPerSecond;

}  // namespace

const PartitionedTable kPartitionedTables[3] = {
    {"calls", "invite_ts"}, {"registrations", "first_seen"}, {"messages", "ts"}};

int LatestPostgresSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

int64_t DayOf(TimestampNs ts) {
  int64_t q = ts / kNsPerDay;
  if (ts % kNsPerDay != 0 && ts < 0) --q;
  return q;
}

std::string PartitionName(std::string_view table, int64_t day) {
  int year;
  unsigned month, d;
  CivilFromDays(day, &year, &month, &d);
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "_p%04d%02u%02u", year, month, d);
  return std::string(table) + suffix;
}

Result<int> MigratePostgres(PgConnection* conn, std::string_view where) {
  const std::string w(where);
  Status s = conn->Exec("BEGIN");
  if (s.ok()) s = conn->Exec(kLockSql);
  if (!s.ok()) return Status::Error("cannot lock " + w + " to migrate it: " + s.message());
  auto fail = [&](const std::string& message) -> Result<int> {
    conn->Exec("ROLLBACK");
    return Status::Error(message);
  };
  s = conn->Exec(kCreateMigrationsTable);
  if (!s.ok()) return fail("cannot create schema_migrations in " + w + ": " + s.message());
  Result<PgResult> current = conn->Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!current.ok()) return fail(w + ": " + current.status().message());
  const int version = static_cast<int>(current->Int(0, 0));
  const int latest = LatestPostgresSchemaVersion();
  if (version > latest) {
    return fail(w + " has schema version " + std::to_string(version) +
                ", newer than this sipman understands (" + std::to_string(latest) +
                "); upgrade sipman, or use another database");
  }
  int applied = 0;
  for (const PgMigration& m : kMigrations) {
    if (m.version <= version) continue;
    s = conn->Exec(m.sql);
    if (!s.ok()) {
      return fail("schema migration " + std::to_string(m.version) + " (" + m.description +
                  ") failed on " + w + ": " + s.message() + " (is this a SIPMan database?)");
    }
    if (m.version == 1) {
      Result<PgResult> dict = conn->Query(
          "INSERT INTO compression_dictionaries VALUES(2, decode($1, 'hex'))",
          {[] {
            static const char kHex[] = "0123456789abcdef";
            std::string hex;
            for (unsigned char c : SipDictionaryV1()) {
              hex += kHex[c >> 4];
              hex += kHex[c & 15];
            }
            return hex;
          }()});
      if (!dict.ok()) return fail(w + ": " + dict.status().message());
    }
    Result<PgResult> record = conn->Query(
        "INSERT INTO schema_migrations(version, description, applied_at_ns) VALUES($1, $2, $3)",
        {std::to_string(m.version), m.description, std::to_string(WallClockNs())});
    if (!record.ok()) return fail("cannot record schema migration in " + w + ": " +
                                  record.status().message());
    ++applied;
  }
  s = conn->Exec("COMMIT");
  if (!s.ok()) return fail("cannot commit schema migrations of " + w + ": " + s.message());
  return applied;
}

Status CreatePartitions(PgConnection* conn, const PartitionedTable& table,
                        const std::set<int64_t>& days) {
  std::string sql = std::string("BEGIN; ") + kLockSql + ";";
  for (int64_t day : days) {
    sql += " CREATE TABLE IF NOT EXISTS " + PartitionName(table.table, day) + " PARTITION OF " +
           table.table + " FOR VALUES FROM (" + std::to_string(day * kNsPerDay) + ") TO (" +
           std::to_string((day + 1) * kNsPerDay) + ");";
  }
  sql += " COMMIT";
  Status s = conn->Exec(sql);
  if (!s.ok()) {
    if (conn->connected()) conn->Exec("ROLLBACK");
    return Status::Error(std::string("cannot create partitions of ") + table.table + ": " +
                         s.message());
  }
  return Status::Ok();
}

Result<int> DropPartitionsBefore(PgConnection* conn, int64_t oldest_kept_day) {
  Status s = conn->Exec(std::string("BEGIN; ") + kLockSql);
  if (!s.ok()) return s;
  int dropped = 0;
  for (const PartitionedTable& t : kPartitionedTables) {
    Result<PgResult> children = conn->Query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1 AND "
        "p.relnamespace = to_regnamespace(current_schema())::oid",
        {t.table});
    if (!children.ok()) {
      conn->Exec("ROLLBACK");
      return children.status();
    }
    const std::string prefix = std::string(t.table) + "_p";
    for (int r = 0; r < children->rows(); ++r) {
      std::string_view name = children->Text(r, 0);
      int y = 0;
      unsigned m = 0, d = 0;
      if (!name.starts_with(prefix) || name.size() != prefix.size() + 8 ||
          std::sscanf(std::string(name.substr(prefix.size())).c_str(), "%4d%2u%2u", &y, &m,
                      &d) != 3) {
        continue;  // not one of ours: left alone
      }
      if (DaysFromCivil(y, m, d) >= oldest_kept_day) continue;
      s = conn->Exec("DROP TABLE " + std::string(name));
      if (!s.ok()) {
        conn->Exec("ROLLBACK");
        return s;
      }
      ++dropped;
    }
  }
  s = conn->Exec("COMMIT");
  if (!s.ok()) return s;
  return dropped;
}

}  // namespace sipman::store::internal
