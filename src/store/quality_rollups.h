// Private to store/: the media quality rollup behind `sipman report
// --quality` over long ranges on SQLite (part of schema version 12).
//
// rtp_quality_hourly (kind, hour, sensor, key) holds, per hour of the
// streams' first packet, the sums QualitySql computes over raw rows: kind 0
// keyed by codec (also serving the per-period groupings), 1 by source IP, 2
// by destination IP. The store's writer adds each stream it inserts
// (QualityRollupWriter, aggregated per batch, in the batch's transaction).
// A query reads the whole hours of its range here and only the edges from
// rtp_streams. Nothing deletes stream rows yet; when retention does (issue
// 17), the rollup keeps the figures of streams deleted, like a summary that
// outlives its details (min and max cannot be taken back).
#ifndef SIPMAN_STORE_QUALITY_ROLLUPS_H_
#define SIPMAN_STORE_QUALITY_ROLLUPS_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "base/status.h"
#include "store/analytics.h"
#include "store/sqlite_util.h"
#include "store/streams.h"

namespace sipman::store::internal {

// The table and its key, part of migration 12.
const char* QualityRollupTableSql();

// QualitySql's shape over whole hours of the rollup: ?1 first hour, ?2 end
// hour (exclusive), ?3 sensor when given.
std::string QualityRollupSql(QualityGroup by, bool with_sensor);

// The rollup rows of the streams one write batch inserts, upserted at the
// end of the batch. Writer thread only.
class QualityRollupWriter {
 public:
  Status Prepare(sqlite3* db);
  void Finalize();
  void Add(const StreamRow& stream);
  Status Flush(sqlite3* db, const std::string& where);
  void Discard() { rows_.clear(); }

 private:
  struct Sums {
    int64_t streams = 0, packets = 0, expected = 0, lost = 0;
    double jitter_weighted = 0, max_jitter = 0, mos_weighted = 0;
    int64_t mos_packets = 0;
    double mos_min = -1;
    int64_t mos_streams = 0, poor_streams = 0;
  };
  using Key = std::tuple<int, int64_t, std::string, std::string>;  // kind, hour, sensor, key
  std::map<Key, Sums> rows_;
  Statement upsert_;
};

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_QUALITY_ROLLUPS_H_
