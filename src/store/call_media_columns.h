// Private to store/: the media columns that SQLite migration 11 and
// PostgreSQL migration 7 add to calls and active_calls, declared once for
// both migrations (and the tests that take a database back before them).
#ifndef SIPMAN_STORE_CALL_MEDIA_COLUMNS_H_
#define SIPMAN_STORE_CALL_MEDIA_COLUMNS_H_

#include <string>

namespace sipman::store::internal {

struct AddedColumn {
  const char* name;
  char kind;                // 't' text, 'i' integer, 'r' real
  const char* default_sql;  // its DEFAULT
};

inline constexpr AddedColumn kCallMediaColumns[] = {
    {"caller_rtp_codec", 't', "''"},        {"callee_rtp_codec", 't', "''"},
    {"media_flags", 't', "''"},             {"caller_rtp_packets", 'i', "0"},
    {"callee_rtp_packets", 'i', "0"},       {"caller_rtp_lost", 'i', "0"},
    {"callee_rtp_lost", 'i', "0"},          {"rtp_streams", 'i', "0"},
    {"first_rtp_ms", 'i', "-1"},            {"caller_rtp_loss_pct", 'r', "0"},
    {"callee_rtp_loss_pct", 'r', "0"},      {"caller_rtp_max_jitter_ms", 'r', "0"},
    {"callee_rtp_max_jitter_ms", 'r', "0"}, {"caller_mos_min", 'r', "-1"},
    {"caller_mos_avg", 'r', "-1"},          {"callee_mos_min", 'r', "-1"},
    {"callee_mos_avg", 'r', "-1"},          {"mos_min", 'r', "-1"},
};

// The migration: every column on calls and active_calls, and the index
// calls_mos_min; in SQLite's or PostgreSQL's types.
inline std::string AddCallMediaColumnsSql(bool postgres) {
  std::string sql;
  for (const char* table : {"calls", "active_calls"}) {
    for (const AddedColumn& c : kCallMediaColumns) {
      const char* type = c.kind == 't'   ? "TEXT"
                         : c.kind == 'i' ? (postgres ? "BIGINT" : "INTEGER")
                                         : (postgres ? "DOUBLE PRECISION" : "REAL");
      sql += std::string("ALTER TABLE ") + table + " ADD COLUMN " + c.name + " " + type +
             " NOT NULL DEFAULT " + c.default_sql + ";\n";
    }
  }
  return sql + "CREATE INDEX calls_mos_min ON calls(mos_min, invite_ts);\n";
}

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_CALL_MEDIA_COLUMNS_H_
