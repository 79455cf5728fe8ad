// The media quality report over rtp_streams: one SQL text for SQLite and
// PostgreSQL, and the fold of its rows into figures (docs/METRICS.md,
// "Media quality report").
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "store/analytics_internal.h"

namespace sipman::store::internal {
namespace {

bool IsPeriod(QualityGroup by) {
  return by == QualityGroup::kHour || by == QualityGroup::kDay || by == QualityGroup::kWeek;
}

}  // namespace

std::string QualitySql(QualityGroup by, bool with_sensor,
                       const std::function<std::string(int, bool)>& param) {
  // Periods are grouped by hour here and folded into days and weeks in C++.
  const char* key = by == QualityGroup::kCodec        ? "codec"
                    : by == QualityGroup::kSourceIp   ? "src_ip"
                    : by == QualityGroup::kDestinationIp ? "dst_ip"
                                                      : "first_ts / 3600000000000";
  const std::string has_mos = "mos_fixed50 >= 0";
  char poor[16];
  std::snprintf(poor, sizeof poor, "%.2f", kPoorMos);
  std::string sql = std::string("SELECT ") + key +
                    ", COUNT(*), SUM(packets), SUM(expected_rfc3550), SUM(lost_rfc3550),"
                    " SUM(mean_jitter_ms * packets), MAX(max_jitter_ms),"
                    " SUM(CASE WHEN " + has_mos + " THEN mos_fixed50 * packets ELSE 0 END),"
                    " SUM(CASE WHEN " + has_mos + " THEN packets ELSE 0 END),"
                    " COALESCE(MIN(CASE WHEN " + has_mos + " THEN mos_fixed50 END), -1),"
                    " SUM(CASE WHEN " + has_mos + " THEN 1 ELSE 0 END),"
                    " SUM(CASE WHEN " + has_mos + " AND mos_fixed50 < " +
                    poor + " THEN 1 ELSE 0 END)"
                    " FROM rtp_streams WHERE first_ts >= " + param(1, true) +
                    " AND first_ts < " + param(2, true);
  if (with_sensor) sql += " AND sensor = " + param(3, false);
  return sql + " GROUP BY 1";
}

void QualityAccumulator::Add(const std::function<std::string(int)>& text,
                             const std::function<int64_t(int)>& integer,
                             const std::function<double(int)>& real) {
  std::pair<int64_t, std::string> key;
  if (IsPeriod(by_)) {
    const Period period = by_ == QualityGroup::kHour  ? Period::kHour
                          : by_ == QualityGroup::kDay ? Period::kDay
                                                      : Period::kWeek;
    key.first = PeriodStart(integer(0) * kNsPerHour, period);
  } else {
    key.second = text(0);
  }
  Sums& s = groups_[key];
  QualityRow& r = s.row;
  r.key = key.second;
  r.start_ts = key.first;
  r.streams += integer(1);
  r.packets += integer(2);
  r.expected += integer(3);
  r.lost += integer(4);
  s.jitter_weighted += real(5);
  r.max_jitter_ms = std::max(r.max_jitter_ms, real(6));
  s.mos_weighted += real(7);
  s.mos_packets += integer(8);
  const double mos_min = real(9);
  if (mos_min >= 0) r.mos_min = r.mos_min ? std::min(*r.mos_min, mos_min) : mos_min;
  r.mos_streams += integer(10);
  r.poor_streams += integer(11);
}

std::vector<QualityRow> QualityAccumulator::Finish(size_t top_n) {
  std::vector<QualityRow> rows;
  rows.reserve(groups_.size());
  for (auto& [key, s] : groups_) {
    QualityRow& r = s.row;
    if (r.expected > 0) r.loss_pct = 100.0 * static_cast<double>(r.lost) / r.expected;
    if (r.packets > 0) r.mean_jitter_ms = s.jitter_weighted / static_cast<double>(r.packets);
    if (s.mos_packets > 0) r.mos_avg = s.mos_weighted / static_cast<double>(s.mos_packets);
    rows.push_back(std::move(r));
  }
  if (!IsPeriod(by_)) {  // periods are in time order already (the map's)
    std::sort(rows.begin(), rows.end(), [](const QualityRow& a, const QualityRow& b) {
      return a.streams != b.streams ? a.streams > b.streams : a.key < b.key;
    });
    if (rows.size() > top_n) rows.resize(top_n);
  }
  return rows;
}

}  // namespace sipman::store::internal
