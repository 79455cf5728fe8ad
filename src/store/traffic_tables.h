// Private to store/: the traffic counter tables (stats_second, stats_minute,
// stats_hour; docs/SCHEMA.md) as both backends write and read them. The
// arithmetic lives here once; sqlite_traffic.cc and postgres_store.cc keep
// only their statements.
#ifndef SIPMAN_STORE_TRAFFIC_TABLES_H_
#define SIPMAN_STORE_TRAFFIC_TABLES_H_

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/store.h"
#include "stats/stats.h"

namespace sipman::store::internal {

inline constexpr const char* kTrafficTables[3] = {"stats_second", "stats_minute", "stats_hour"};
inline constexpr int64_t kPeriodSeconds[3] = {1, 60, 3600};
// Seconds are kept at least this long whatever the setting, so that a
// minute is always recomputed from all of its seconds.
inline constexpr int64_t kMinRetentionSeconds = 2 * 60;

// The counter columns after sensor and ts, in table order, codes last.
std::string TrafficColumns();

// Calls f on each integer counter of `c` in TrafficColumns() order (codes
// excluded). Counters may be const (writing) or not (reading).
template <typename Counters, typename F>
void VisitCounters(Counters& c, F f) {
  f(c.packets);
  f(c.frame_bytes);
  f(c.sip_bytes);
  f(c.messages);
  f(c.requests);
  f(c.responses);
  for (auto& m : c.methods) f(m);
  for (auto& r : c.classes) f(r);
  f(c.kernel_drops);
  f(c.interface_drops);
  f(c.in_messages);
  f(c.out_messages);
  f(c.in_sip_bytes);
  f(c.out_sip_bytes);
  f(c.tls_connections);
  f(c.tls_bytes);
}

// How many integer counters VisitCounters visits (the columns before codes).
inline int TrafficCounterCount() {
  stats::TrafficCounters c;
  int n = 0;
  VisitCounters(c, [&](uint64_t&) { ++n; });
  return n;
}

int64_t FloorDiv(int64_t a, int64_t b);
inline int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

// Writes a batch of traffic seconds and brings the coarser tables up to
// date: each second is merged into its row, then every minute a second
// falls in is recomputed from its seconds and merged into its row, then
// every hour such a minute falls in, from its minutes.
//
// Merging keeps, per counter, the larger of the stored and the new value
// (TrafficCounters::MaxWith). One run hands each second over once, so in a
// run that is the new value; a capture replayed again after a stopped run
// re-sends seconds already stored, in part or whole, and the larger value
// is the complete one, never a double count. A period whose finer rows
// retention already deleted keeps its stored total. The price: two sources
// writing one sensor's same second (a sensor restarted within that second)
// keep the larger of the two, not the sum.
//
// The backend supplies
//   read(table, from, to, &counters)   -> Status: add up the rows of
//                                         kTrafficTables[table] whose ts lies
//                                         in [from, to) into counters;
//   write(table, counters)             -> Status: insert or overwrite the row
//                                         of counters.ts in kTrafficTables[table].
// *newest is the newest second written (unchanged for an empty batch);
// *seconds_written counts the seconds' rows written.
template <typename Read, typename Write>
Status WriteTrafficRollups(const std::vector<stats::TrafficCounters>& seconds, Read read,
                           Write write, int64_t* newest, uint64_t* seconds_written) {
  auto merge = [&](int t, stats::TrafficCounters c) -> Status {
    stats::TrafficCounters stored;
    Status s = read(t, c.ts, c.ts + 1, &stored);
    if (!s.ok()) return s;
    c.MaxWith(stored);
    return write(t, c);
  };
  std::vector<int64_t> starts[3];
  for (const stats::TrafficCounters& c : seconds) {
    Status s = merge(0, c);
    if (!s.ok()) return s;
    ++*seconds_written;
    starts[1].push_back(FloorDiv(c.ts, kPeriodSeconds[1]) * kPeriodSeconds[1]);
    *newest = std::max(*newest, c.ts);
  }
  for (int t = 1; t < 3; ++t) {
    std::sort(starts[t].begin(), starts[t].end());
    starts[t].erase(std::unique(starts[t].begin(), starts[t].end()), starts[t].end());
    for (int64_t start : starts[t]) {
      stats::TrafficCounters total;
      total.ts = start;
      Status s = read(t - 1, start, start + kPeriodSeconds[t], &total);
      if (!s.ok()) return s;
      s = merge(t, total);
      if (!s.ok()) return s;
      if (t + 1 < 3) {
        starts[t + 1].push_back(FloorDiv(start, kPeriodSeconds[t + 1]) * kPeriodSeconds[t + 1]);
      }
    }
  }
  return Status::Ok();
}

// Seconds before this are deleted from stats_second after a batch whose
// newest second is `newest`; INT64_MIN (none) when retention is off.
inline int64_t OldestSecondKept(int64_t newest, int64_t retention_s) {
  if (retention_s <= 0) return INT64_MIN;
  return newest - std::max(retention_s, kMinRetentionSeconds);
}

// The read behind Store::TrafficRows, for either backend: the rows of the
// query's table whose period starts in the range, in time order. Parameters
// $1 `from` and $2 `to` (seconds), $3 the sensor when `sensor` is set (as
// for IntPairReader). Rows of one ts from several sensors follow each other.
struct TrafficRowsRead {
  int table = 0;  // index into kTrafficTables
  std::string sql;
  int64_t from = 0, to = 0;
};
TrafficRowsRead TrafficRowsSql(const TrafficQuery& q);

// What SummarizeTraffic asks of a backend: run `sql` and call row(a, b)
// for each row of two integers. The parameters are written $1 and $2
// (integers) and $3 (the sensor, only when not empty), each once and in that
// order, so the text serves both PostgreSQL and SQLite (where "$1" is a
// named parameter numbered by its first appearance).
class IntPairReader {
 public:
  using Row = std::function<void(int64_t, int64_t)>;
  virtual Status ReadIntPairs(const std::string& sql, int64_t p1, int64_t p2,
                              std::string_view sensor, const Row& row) = 0;

 protected:
  ~IntPairReader() = default;
};

// Store::SummarizeTraffic for either backend: `q`'s seconds read through
// `store` (whatever resolution `q` asks), calls per second and the
// concurrent calls from the calls table through `calls`.
Result<stats::TrafficSummary> SummarizeTraffic(Store* store, const TrafficQuery& q,
                                               IntPairReader* calls);

// "SELECT COUNT(*) FROM <table>" for the tables Store::CountRows counts,
// the same text for both backends (a table name cannot be a parameter:
// only these fixed texts reach SQL); an error names the others.
Result<const char*> CountRowsSql(std::string_view table);


}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_TRAFFIC_TABLES_H_
