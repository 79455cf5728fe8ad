#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "store/call_rollups.h"
#include "store/sqlite_schema.h"
#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using testing::OpenOrDie;
using testing::TempDir;

// Direct access to a database file, as another tool would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  sqlite3* get() { return db_; }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }
  // The first column of every row, as text.
  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(st, 0);
      out.push_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(st);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::set<std::string> Columns(RawDb* db, const std::string& table) {
  std::vector<std::string> names = db->Column("SELECT name FROM pragma_table_info('" + table + "')");
  return std::set<std::string>(names.begin(), names.end());
}

TEST(Schema, FreshDatabaseGetsEveryMigrationAndWal) {
  TempDir dir;
  std::string path = dir.File("fresh.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  RawDb db(path);
  std::vector<std::string> versions =
      db.Column("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_EQ(versions.size(), internal::SqliteMigrations().size());
  EXPECT_EQ(versions.back(), std::to_string(internal::LatestSqliteSchemaVersion()));
  EXPECT_EQ(db.Column("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  std::vector<std::string> tables = db.Column(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  EXPECT_EQ(tables, (std::vector<std::string>{"active_calls", "alerts", "calls", "calls_daily_keys",
                                              "calls_hourly", "calls_values",
                                              "compression_dictionaries", "messages",
                                              "registrations", "rtp_quality_hourly", "rtp_streams",
                                              "schema_migrations", "stats_hour",
                                              "stats_minute", "stats_second"}));
}

TEST(Schema, MigrationsAreVersionedWithoutGaps) {
  int expected = 1;
  for (const internal::Migration& m : internal::SqliteMigrations()) {
    EXPECT_EQ(m.version, expected++) << m.description;
  }
}

TEST(Schema, MigrationIsANoOpOnAnUpToDateDatabase) {
  TempDir dir;
  std::string path = dir.File("again.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  std::vector<std::string> before;
  {
    RawDb db(path);
    before = db.Column("SELECT version || ':' || applied_at_ns FROM schema_migrations");
    Result<int> applied = internal::MigrateSqlite(db.get(), path);
    ASSERT_TRUE(applied.ok()) << applied.status().message();
    EXPECT_EQ(applied.value(), 0);
  }
  ASSERT_NE(OpenOrDie(path), nullptr);
  RawDb db(path);
  EXPECT_EQ(db.Column("SELECT version || ':' || applied_at_ns FROM schema_migrations"), before);
}

TEST(Schema, MigrateReportsWhatItApplied) {
  TempDir dir;
  RawDb db(dir.File("direct.db"));
  Result<int> applied = internal::MigrateSqlite(db.get(), "direct.db");
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  EXPECT_EQ(applied.value(), static_cast<int>(internal::SqliteMigrations().size()));
  Result<int> version = internal::SqliteSchemaVersion(db.get());
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version.value(), internal::LatestSqliteSchemaVersion());
}

TEST(Schema, DatabaseFromANewerSipmanIsRefusedUntouched) {
  TempDir dir;
  std::string path = dir.File("newer.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  int newer = internal::LatestSqliteSchemaVersion() + 1;
  {
    RawDb db(path);
    db.Exec("INSERT INTO schema_migrations VALUES(" + std::to_string(newer) +
            ", 'from the future', 0)");
  }
  StoreOptions options;
  options.url = path;
  auto opened = Store::Open(options);
  ASSERT_FALSE(opened.ok());
  const std::string& message = opened.status().message();
  EXPECT_NE(message.find("schema version " + std::to_string(newer)), std::string::npos)
      << message;
  EXPECT_NE(message.find("newer than this sipman"), std::string::npos) << message;
  EXPECT_NE(message.find("upgrade sipman"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  RawDb db(path);
  EXPECT_EQ(db.Column("SELECT MAX(version) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(newer)});
}

TEST(Schema, ForeignDatabaseIsRefusedWithAnExplanation) {
  TempDir dir;
  std::string path = dir.File("foreign.db");
  {
    RawDb db(path);
    db.Exec("CREATE TABLE calls (who TEXT)");
  }
  StoreOptions options;
  options.url = path;
  auto opened = Store::Open(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("is this a SIPMan database?"), std::string::npos)
      << opened.status().message();
}

// Every CallRecord / RegistrationRecord field is a column of the same name,
// and nothing else is (besides id).
TEST(Schema, ColumnsAreTheRecordFields) {
  TempDir dir;
  std::string path = dir.File("columns.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  RawDb db(path);
  std::set<std::string> call_fields = {
      "id", "call_id", "sensor", "caller_user", "caller_display", "caller_domain", "caller_tag",
      "pai_user", "callee_user", "ruri_user", "callee_domain", "callee_tag", "diversion_user",
      "src_ip", "dst_ip", "src_port", "dst_port", "transport", "invite_ts",
      "first_provisional_ts", "first_18x_ts", "answer_ts", "ack_ts", "bye_ts", "cancel_ts",
      "final_ts", "end_ts", "duration_ms", "connect_ms", "post_dial_delay_ms",
      "disconnect_delay_ms", "final_status", "final_reason", "state", "hangup_by",
      "reason_protocol", "reason_cause", "reason_text", "caller_media_types", "caller_media",
      "callee_media_types", "callee_media", "caller_user_agent", "callee_user_agent",
      "message_count", "retransmissions", "byte_count", "auth_challenges", "correlation_id",
      "linked_call_id", "caller_rtp_codec", "callee_rtp_codec", "media_flags",
      "caller_rtp_packets", "callee_rtp_packets", "caller_rtp_lost", "callee_rtp_lost",
      "rtp_streams", "first_rtp_ms", "caller_rtp_loss_pct", "callee_rtp_loss_pct",
      "caller_rtp_max_jitter_ms", "callee_rtp_max_jitter_ms", "caller_mos_min",
      "caller_mos_avg", "callee_mos_min", "callee_mos_avg", "mos_min"};
  EXPECT_EQ(Columns(&db, "calls"), call_fields);
  std::set<std::string> registration_fields = {
      "id", "call_id", "sensor", "aor", "contact", "src_ip", "src_port", "user_agent", "expires",
      "result", "status_code", "challenges", "request_delay_ms", "first_seen", "last_seen"};
  EXPECT_EQ(Columns(&db, "registrations"), registration_fields);
  std::set<std::string> message_fields = {
      "id", "sensor", "call_id", "ts", "src_ip", "src_port", "dst_ip", "dst_port", "transport",
      "method", "status", "cseq", "size", "compression", "raw", "key_hash"};
  EXPECT_EQ(Columns(&db, "messages"), message_fields);
}

// Before version 10 the natural key held end_ts, so a stopped replay and
// its re-run left two rows of one call. The migration keeps the most
// complete (store/sightings.h) and takes the others out of the rollups.
TEST(Schema, Version10KeepsTheMostCompleteRowOfACall) {
  TempDir dir;
  std::string path = dir.File("v9.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    calls::CallRecord r;
    r.call_id = "twice";
    r.sensor = "s";
    r.invite_ts = 1700000000 * kNsPerSecond;
    r.state = calls::CallState::kInProgress;
    r.message_count = 5;
    r.end_ts = r.invite_ts + 10;
    store->AddCall(r);  // the stopped run's row
    ASSERT_TRUE(store->Close().ok());
  }
  {
    RawDb db(path);
    db.Exec("DROP INDEX calls_natural_key");
    db.Exec("CREATE UNIQUE INDEX calls_natural_key ON calls(invite_ts, call_id, sensor, end_ts)");
    // The re-run's complete row, and a copy of the stopped run's as
    // version 9 allowed.
    db.Exec("INSERT INTO calls(sensor, call_id, invite_ts, state, message_count, end_ts, "
            "duration_ms) SELECT sensor, call_id, invite_ts, 'answered', 7, end_ts + 5, 60000 "
            "FROM calls");
    db.Exec("INSERT INTO calls(sensor, call_id, invite_ts, state, message_count, end_ts) "
            "SELECT sensor, call_id, invite_ts, state, 4, end_ts + 9 FROM calls WHERE "
            "state = 'in_progress'");
    db.Exec("DELETE FROM calls_hourly; DELETE FROM calls_values; DELETE FROM calls_daily_keys;" +
            internal::CallRollupsBackfillSql());
    db.Exec(testing::UndoMediaMigrationsSql());
    db.Exec("DELETE FROM schema_migrations WHERE version >= 10");
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Close().ok());
  RawDb db(path);
  EXPECT_EQ(db.Column("SELECT state || ' ' || message_count FROM calls"),
            std::vector<std::string>{"answered 7"});
  // The rollups count only that row: the others went out through the
  // delete trigger.
  EXPECT_EQ(db.Column("SELECT state || ' ' || calls FROM calls_hourly WHERE calls <> 0"),
            std::vector<std::string>{"answered 1"});
  EXPECT_EQ(db.Column("SELECT sql FROM sqlite_master WHERE name = 'calls_natural_key'"),
            std::vector<std::string>{
                "CREATE UNIQUE INDEX calls_natural_key ON calls(invite_ts, call_id, sensor)"});
}

// Migration 8 adds the direction counters to every traffic table; rows
// written before it read them as 0.
TEST(Schema, Version7TrafficRowsGainDirectionColumnsAsZero) {
  TempDir dir;
  std::string path = dir.File("v7.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  // Version 8 added the direction columns, version 9 the TLS ones.
  const char* direction_columns[] = {"in_messages", "out_messages", "in_sip_bytes",
                                     "out_sip_bytes", "tls_connections", "tls_bytes"};
  {
    // Back to version 7's layout, with one traffic row in each table.
    RawDb db(path);
    for (const char* table : {"stats_second", "stats_minute", "stats_hour"}) {
      for (const char* column : direction_columns) {
        db.Exec(std::string("ALTER TABLE ") + table + " DROP COLUMN " + column);
      }
      db.Exec(std::string("INSERT INTO ") + table +
              "(sensor, ts, packets, messages) VALUES('s', 3600, 2, 3)");
    }
    db.Exec(testing::UndoMediaMigrationsSql());
    db.Exec("DELETE FROM schema_migrations WHERE version >= 8");
  }
  StoreOptions options;
  options.url = path;
  options.sensor = "s";
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  for (auto r : {TrafficResolution::kSecond, TrafficResolution::kMinute,
                 TrafficResolution::kHour}) {
    TrafficQuery q;
    q.resolution = r;
    auto rows = (*store)->TrafficRows(q);
    ASSERT_TRUE(rows.ok()) << rows.status().message();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].messages, 3u);
    EXPECT_EQ((*rows)[0].in_messages + (*rows)[0].out_messages, 0u);
    EXPECT_EQ((*rows)[0].in_sip_bytes + (*rows)[0].out_sip_bytes, 0u);
    EXPECT_EQ((*rows)[0].tls_connections + (*rows)[0].tls_bytes, 0u);
  }
  ASSERT_TRUE((*store)->Close().ok());
  RawDb db(path);
  for (const char* table : {"stats_second", "stats_minute", "stats_hour"}) {
    std::set<std::string> columns = Columns(&db, table);
    for (const char* column : direction_columns) {
      EXPECT_EQ(columns.count(column), 1u) << table << "." << column;
    }
  }
  EXPECT_EQ(db.Column("SELECT MAX(version) FROM schema_migrations"),
            std::vector<std::string>{std::to_string(internal::LatestSqliteSchemaVersion())});
}

TEST(Schema, IndexesServeTheOperatorsSearches) {
  TempDir dir;
  std::string path = dir.File("indexes.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  RawDb db(path);
  std::vector<std::string> indexes = db.Column(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name");
  EXPECT_EQ(indexes, (std::vector<std::string>{
                         "active_calls_sensor", "alerts_fired_at", "alerts_firing",
                         "alerts_natural_key", "calls_answered_duration", "calls_call_id",
                         "calls_callee_invite", "calls_caller_invite", "calls_dst_ip_invite", "calls_mos_min",
                         "calls_natural_key", "calls_post_dial_delay", "calls_report",
                         "calls_src_ip_invite", "calls_state",
                         "messages_call_id", "messages_key_hash", "registrations_aor",
                         "registrations_natural_key", "rtp_streams_call",
                         "rtp_streams_natural_key", "rtp_streams_other_call", "stats_hour_ts",
                         "stats_minute_ts",
                         "stats_second_ts"}));
  // The planner uses them (not a full scan) for the common searches.
  auto plan = [&](const std::string& sql) {
    std::string text;
    for (const std::string& row : db.Column("SELECT detail FROM (EXPLAIN QUERY PLAN " + sql + ")")) {
      text += row + "; ";
    }
    return text;
  };
  (void)plan;
  for (const char* sql : {
           "SELECT id FROM calls WHERE call_id = 'x'",
           "SELECT id FROM calls WHERE caller_user >= '49' AND caller_user < '49\xff'",
           "SELECT id FROM calls WHERE invite_ts >= 1 AND invite_ts < 2",
           "SELECT id FROM calls WHERE src_ip = '1.2.3.4' OR dst_ip = '1.2.3.4'",
           "SELECT id FROM calls WHERE state = 'busy'",
           "SELECT id FROM messages WHERE call_id = 'x'",
           "SELECT id FROM registrations WHERE aor >= 'a' AND aor < 'b'",
       }) {
    sqlite3_stmt* st = nullptr;
    std::string explain = std::string("EXPLAIN QUERY PLAN ") + sql;
    ASSERT_EQ(sqlite3_prepare_v2(db.get(), explain.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
    std::string detail;
    while (sqlite3_step(st) == SQLITE_ROW) {
      detail += reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
      detail += "; ";
    }
    sqlite3_finalize(st);
    EXPECT_NE(detail.find("USING"), std::string::npos) << sql << " -> " << detail;
  }
}

// docs/SCHEMA.md names every column of every table as `name`.
TEST(Schema, EveryColumnIsDocumented) {
  std::ifstream file(std::string(SIPMAN_SOURCE_DIR) + "/docs/SCHEMA.md");
  ASSERT_TRUE(file.good()) << "docs/SCHEMA.md is missing";
  std::stringstream text;
  text << file.rdbuf();
  std::string doc = text.str();
  TempDir dir;
  std::string path = dir.File("doc.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  RawDb db(path);
  for (const char* table :
       {"calls", "active_calls", "registrations", "messages", "schema_migrations",
        "compression_dictionaries", "calls_hourly", "calls_values", "calls_daily_keys"}) {
    for (const std::string& column : Columns(&db, table)) {
      EXPECT_NE(doc.find("`" + column + "`"), std::string::npos)
          << table << "." << column << " is not documented in docs/SCHEMA.md";
    }
  }
}

}  // namespace
}  // namespace sipman::store
