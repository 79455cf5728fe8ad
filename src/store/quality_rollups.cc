#include "store/quality_rollups.h"

#include <algorithm>

#include "store/call_rollups.h"  // kNsPerHour

namespace sipman::store::internal {
namespace {

enum Kind : int { kByCodec = 0, kBySourceIp = 1, kByDestinationIp = 2 };

Kind KindOf(QualityGroup by) {
  return by == QualityGroup::kSourceIp        ? kBySourceIp
         : by == QualityGroup::kDestinationIp ? kByDestinationIp
                                              : kByCodec;
}

}  // namespace

const char* QualityRollupTableSql() {
  return "CREATE TABLE rtp_quality_hourly (\n"
         "  kind INTEGER NOT NULL, hour INTEGER NOT NULL, sensor TEXT NOT NULL, key TEXT NOT NULL,\n"
         "  streams INTEGER NOT NULL, packets INTEGER NOT NULL, expected INTEGER NOT NULL,\n"
         "  lost INTEGER NOT NULL, jitter_weighted REAL NOT NULL, max_jitter REAL NOT NULL,\n"
         "  mos_weighted REAL NOT NULL, mos_packets INTEGER NOT NULL, mos_min REAL NOT NULL,\n"
         "  mos_streams INTEGER NOT NULL, poor_streams INTEGER NOT NULL,\n"
         "  PRIMARY KEY (kind, hour, sensor, key)) WITHOUT ROWID;\n";
}

std::string QualityRollupSql(QualityGroup by, bool with_sensor) {
  const bool period = by == QualityGroup::kHour || by == QualityGroup::kDay ||
                      by == QualityGroup::kWeek;
  std::string sql = std::string("SELECT ") + (period ? "hour" : "key") +
                    ", SUM(streams), SUM(packets), SUM(expected), SUM(lost), SUM(jitter_weighted),"
                    " MAX(max_jitter), SUM(mos_weighted), SUM(mos_packets),"
                    " COALESCE(MIN(CASE WHEN mos_min >= 0 THEN mos_min END), -1),"
                    " SUM(mos_streams), SUM(poor_streams) FROM rtp_quality_hourly WHERE kind = " +
                    std::to_string(KindOf(by)) + " AND hour >= ?1 AND hour < ?2";
  if (with_sensor) sql += " AND sensor = ?3";
  return sql + " GROUP BY 1";
}

Status QualityRollupWriter::Prepare(sqlite3* db) {
  return upsert_.Prepare(
      db,
      "INSERT INTO rtp_quality_hourly VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (kind, hour, sensor, key) DO UPDATE SET"
      " streams = streams + excluded.streams, packets = packets + excluded.packets,"
      " expected = expected + excluded.expected, lost = lost + excluded.lost,"
      " jitter_weighted = jitter_weighted + excluded.jitter_weighted,"
      " max_jitter = MAX(max_jitter, excluded.max_jitter),"
      " mos_weighted = mos_weighted + excluded.mos_weighted,"
      " mos_packets = mos_packets + excluded.mos_packets,"
      " mos_min = CASE WHEN mos_min < 0 THEN excluded.mos_min WHEN excluded.mos_min < 0 THEN mos_min"
      " ELSE MIN(mos_min, excluded.mos_min) END,"
      " mos_streams = mos_streams + excluded.mos_streams,"
      " poor_streams = poor_streams + excluded.poor_streams",
      true);
}

void QualityRollupWriter::Finalize() {
  upsert_ = Statement();
  rows_.clear();
}

// Mirrors QualitySql's expressions over one row.
void QualityRollupWriter::Add(const StreamRow& r) {
  const int64_t hour = r.first_ts / kNsPerHour;
  const bool has_mos = r.mos_fixed50 >= 0;
  for (const auto& [kind, key] : {std::pair(kByCodec, &r.codec), std::pair(kBySourceIp, &r.src_ip),
                                  std::pair(kByDestinationIp, &r.dst_ip)}) {
    Sums& s = rows_[Key(kind, hour, r.sensor, *key)];
    ++s.streams;
    s.packets += r.packets;
    s.expected += r.expected_rfc3550;
    s.lost += r.lost_rfc3550;
    s.jitter_weighted += r.mean_jitter_ms * static_cast<double>(r.packets);
    s.max_jitter = std::max(s.max_jitter, r.max_jitter_ms);
    if (has_mos) {
      s.mos_weighted += r.mos_fixed50 * static_cast<double>(r.packets);
      s.mos_packets += r.packets;
      s.mos_min = s.mos_min < 0 ? r.mos_fixed50 : std::min(s.mos_min, r.mos_fixed50);
      ++s.mos_streams;
      if (r.mos_fixed50 < kPoorMos) ++s.poor_streams;
    }
  }
}

Status QualityRollupWriter::Flush(sqlite3* db, const std::string& where) {
  Status status;
  for (const auto& [k, s] : rows_) {
    const auto& [kind, hour, sensor, key] = k;
    upsert_.BindFrom(1, int64_t{kind}, hour, sensor, key, s.streams, s.packets, s.expected, s.lost);
    upsert_.BindDouble(9, s.jitter_weighted);
    upsert_.BindDouble(10, s.max_jitter);
    upsert_.BindDouble(11, s.mos_weighted);
    upsert_.BindInt(12, s.mos_packets);
    upsert_.BindDouble(13, s.mos_min);
    upsert_.BindInt(14, s.mos_streams);
    upsert_.BindInt(15, s.poor_streams);
    const int rc = upsert_.Step();
    upsert_.Reset();
    if (rc != SQLITE_DONE) {
      status = SqliteError(db, "cannot update rtp_quality_hourly of " + where);
      break;
    }
  }
  rows_.clear();
  return status;
}

}  // namespace sipman::store::internal
