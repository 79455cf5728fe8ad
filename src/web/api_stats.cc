// Statistics: the RFC 6076 summary (GET /api/v1/stats/summary), calls per
// period (/stats/periods), the busiest users, addresses and agents
// (/stats/top) and traffic per second, minute or hour (/stats/traffic).
#include <optional>
#include <string>
#include <vector>

#include "stats/stats.h"
#include "store/analytics.h"
#include "store/store.h"
#include "web/api_handlers.h"

namespace sipman::web {
namespace {

void WriteDistribution(JsonWriter& w, std::string_view name, const store::Distribution& d) {
  w.Key(name).BeginObject();
  w.Field("count", d.count);
  w.Key("mean_ms").OptionalDouble(d.mean_ms);
  auto opt = [&](std::string_view k, const std::optional<int64_t>& v) {
    w.Key(k);
    if (v) {
      w.Int(*v);
    } else {
      w.Null();
    }
  };
  opt("p50_ms", d.p50_ms);
  opt("p90_ms", d.p90_ms);
  opt("p95_ms", d.p95_ms);
  opt("p99_ms", d.p99_ms);
  w.EndObject();
}

void WriteKeyCounts(JsonWriter& w, const std::vector<store::KeyCount>& counts) {
  w.BeginArray();
  for (const store::KeyCount& k : counts) {
    w.BeginObject().Field("key", k.key).Field("calls", k.calls).Field("answered", k.answered);
    w.EndObject();
  }
  w.EndArray();
}

void WriteSummary(JsonWriter& w, const store::CallSummary& s) {
  w.BeginObject();
  w.Field("calls", s.calls);
  w.Key("by_state");
  WriteKeyCounts(w, s.by_state);
  w.Key("by_status");
  WriteKeyCounts(w, s.by_status);
  w.Field("invites_200", s.invites_200).Field("invites_2xx", s.invites_2xx);
  w.Field("invites_3xx", s.invites_3xx).Field("invites_effective", s.invites_effective);
  w.Field("invites_ineffective", s.invites_ineffective).Field("completed", s.completed);
  w.Field("network_effective", s.network_effective);
  w.Key("ser").OptionalDouble(s.ser);
  w.Key("seer").OptionalDouble(s.seer);
  w.Key("isa").OptionalDouble(s.isa);
  w.Key("scr").OptionalDouble(s.scr);
  w.Key("asr").OptionalDouble(s.asr);
  w.Key("ner").OptionalDouble(s.ner);
  WriteDistribution(w, "srd_successful", s.srd_successful);
  WriteDistribution(w, "srd_failed", s.srd_failed);
  WriteDistribution(w, "sdd", s.sdd);
  WriteDistribution(w, "sdt", s.sdt);
  w.Key("acd_ms").OptionalDouble(s.acd_ms);
  WriteDistribution(w, "post_dial_delay", s.post_dial_delay);
  WriteDistribution(w, "duration", s.duration);
  w.Key("duration_histogram").BeginArray();
  for (const store::DurationBucket& b : s.duration_histogram) {
    w.BeginObject().Field("lower_ms", b.lower_ms);
    w.Key("upper_ms");
    if (b.upper_ms < 0) {
      w.Null();
    } else {
      w.Int(b.upper_ms);
    }
    w.Field("calls", b.calls).EndObject();
  }
  w.EndArray();
  w.Field("registrations", s.registrations);
  w.Field("registrations_ineffective", s.registrations_ineffective);
  w.Key("ira").OptionalDouble(s.ira);
  WriteDistribution(w, "rrd", s.rrd);
  w.EndObject();
}

void WriteRatePeak(JsonWriter& w, std::string_view name, const stats::RatePeak& r) {
  w.Key(name).BeginObject();
  w.Field("average", r.average).Field("peak", r.peak);
  WriteTime(w, "peak_ts", r.peak_second * kNsPerSecond);
  w.EndObject();
}

void WriteTrafficSummary(JsonWriter& w, const stats::TrafficSummary& s) {
  w.BeginObject();
  WriteTime(w, "first_ts", s.first_second * kNsPerSecond);
  WriteTime(w, "last_ts", s.last_second * kNsPerSecond);
  w.Field("span_seconds", s.span_seconds);
  w.Key("totals");
  WriteTrafficRow(w, s.totals);
  WriteRatePeak(w, "bytes_per_second", s.frame_bytes);
  WriteRatePeak(w, "messages_per_second", s.messages);
  w.Field("calls", s.calls);
  WriteRatePeak(w, "calls_per_second", s.calls_per_second);
  w.Key("concurrent_calls").BeginObject();
  w.Field("average", s.concurrent_calls.average).Field("peak", s.concurrent_calls.peak);
  WriteTime(w, "peak_ts", s.concurrent_calls.peak_ts);
  w.EndObject();
  w.EndObject();
}

// The range and sensor every analytics route takes.
bool AnalyticsParams(ApiContext& c, store::AnalyticsQuery* q) {
  if (!c.TimeParam("from", &q->from_ts) || !c.TimeParam("to", &q->to_ts)) return false;
  q->sensor = c.Param("sensor").value_or("");
  return true;
}

}  // namespace

void StatsSummary(ApiContext& c) {
  store::AnalyticsQuery q;
  if (!AnalyticsParams(c, &q) || !c.NeedDb()) return;
  Result<store::CallSummary> summary = c.worker->analytics->Summary(q);
  if (!summary.ok()) return c.DbError(summary.status());
  JsonWriter w;
  WriteSummary(w, *summary);
  c.Json(w);
}

void StatsPeriods(ApiContext& c) {
  store::AnalyticsQuery q;
  if (!AnalyticsParams(c, &q)) return;
  std::string by = c.Param("by").value_or("hour");
  store::Period period;
  if (by == "hour") {
    period = store::Period::kHour;
  } else if (by == "day") {
    period = store::Period::kDay;
  } else if (by == "week") {
    period = store::Period::kWeek;
  } else {
    return c.Bad("by: one of hour, day, week");
  }
  if (!c.NeedDb()) return;
  Result<std::vector<store::PeriodCount>> rows = c.worker->analytics->ByPeriod(q, period);
  if (!rows.ok()) return c.DbError(rows.status());
  JsonWriter w;
  w.BeginObject().Field("by", by).Key("periods").BeginArray();
  for (const store::PeriodCount& p : *rows) {
    w.BeginObject();
    WriteTime(w, "start_ts", p.start_ts);
    w.Field("calls", p.calls).Field("answered", p.answered);
    w.Field("duration_ms_sum", p.duration_ms_sum).EndObject();
  }
  w.EndArray().EndObject();
  c.Json(w);
}

void StatsTop(ApiContext& c) {
  store::AnalyticsQuery q;
  if (!AnalyticsParams(c, &q)) return;
  std::string by = c.Param("by").value_or("caller");
  std::optional<int64_t> limit;
  if (!c.IntParam("limit", 1, 100, &limit)) return;
  q.top_n = limit ? static_cast<size_t>(*limit) : 10;
  if (by != "caller" && by != "callee" && by != "user" && by != "ip" && by != "agent") {
    return c.Bad("by: one of caller, callee, user, ip, agent");
  }
  if (!c.NeedDb()) return;
  store::CallAnalytics& analytics = *c.worker->analytics;
  Result<std::vector<store::KeyCount>> rows =
      by == "caller"   ? analytics.TopUsers(q, store::UserSide::kCaller)
      : by == "callee" ? analytics.TopUsers(q, store::UserSide::kCallee)
      : by == "user"   ? analytics.TopUsers(q, store::UserSide::kEither)
      : by == "ip"     ? analytics.TopSourceIps(q)
                       : analytics.TopUserAgents(q);
  if (!rows.ok()) return c.DbError(rows.status());
  JsonWriter w;
  w.BeginObject().Field("by", by).Key("top");
  WriteKeyCounts(w, *rows);
  w.EndObject();
  c.Json(w);
}

namespace {

void WriteQualityRows(JsonWriter& w, const std::vector<store::QualityRow>& rows) {
  w.BeginArray();
  for (const store::QualityRow& r : rows) {
    w.BeginObject().Field("key", r.key);
    WriteTime(w, "start_ts", r.start_ts);
    w.Field("streams", r.streams).Field("packets", r.packets);
    w.Field("expected", r.expected).Field("lost", r.lost);
    w.Key("loss_pct").OptionalDouble(r.loss_pct);
    w.Key("mean_jitter_ms").OptionalDouble(r.mean_jitter_ms);
    w.Field("max_jitter_ms", r.max_jitter_ms).Field("mos_streams", r.mos_streams);
    w.Key("mos_avg").OptionalDouble(r.mos_avg);
    w.Key("mos_min").OptionalDouble(r.mos_min);
    w.Field("poor_streams", r.poor_streams).EndObject();
  }
  w.EndArray();
}

}  // namespace

std::string QualityRowsJson(const std::vector<store::QualityRow>& rows) {
  JsonWriter w;
  WriteQualityRows(w, rows);
  return w.Take();
}

void StatsQuality(ApiContext& c) {
  store::AnalyticsQuery q;
  if (!AnalyticsParams(c, &q)) return;
  const std::string by = c.Param("by").value_or("codec");
  const std::optional<store::QualityGroup> group = store::QualityGroupByName(by);
  if (!group) return c.Bad("by: one of " + std::string(store::kQualityGroupList));
  std::optional<int64_t> limit;
  if (!c.IntParam("limit", 1, 100, &limit)) return;
  q.top_n = limit ? static_cast<size_t>(*limit) : 10;
  if (!c.NeedDb()) return;
  Result<std::vector<store::QualityRow>> rows = c.worker->analytics->Quality(q, *group);
  if (!rows.ok()) return c.DbError(rows.status());
  JsonWriter w;
  w.BeginObject().Field("by", by).Key("rows");
  WriteQualityRows(w, *rows);
  w.EndObject();
  c.Json(w);
}

void StatsTraffic(ApiContext& c) {
  store::TrafficQuery q;
  if (!c.TimeParam("from", &q.from_ts) || !c.TimeParam("to", &q.to_ts)) return;
  q.sensor = c.Param("sensor").value_or("");
  bool bounded = q.from_ts > 0 && q.to_ts > q.from_ts;
  TimestampNs span = bounded ? q.to_ts - q.from_ts : 0;
  std::string step = c.Param("step").value_or(
      !bounded ? "hour" : span <= 2 * 3600 * kNsPerSecond ? "second"
                        : span <= 7 * 86400 * kNsPerSecond ? "minute" : "hour");
  if (step == "second") {
    if (!bounded || span > 2 * 86400 * kNsPerSecond) {
      return c.Bad("step: second needs from and to at most 2 days apart; use minute or hour");
    }
    q.resolution = store::TrafficResolution::kSecond;
  } else if (step == "minute") {
    if (!bounded || span > 90 * 86400 * kNsPerSecond) {
      return c.Bad("step: minute needs from and to at most 90 days apart; use hour");
    }
    q.resolution = store::TrafficResolution::kMinute;
  } else if (step == "hour") {
    q.resolution = store::TrafficResolution::kHour;
  } else {
    return c.Bad("step: one of second, minute, hour");
  }
  if (c.store == nullptr) return c.Fail(503, "traffic is not available");
  Result<std::vector<stats::TrafficCounters>> rows = c.store->TrafficRows(q);
  if (!rows.ok()) return c.DbError(rows.status());
  Result<stats::TrafficSummary> summary = c.store->SummarizeTraffic(q);
  if (!summary.ok()) return c.DbError(summary.status());
  JsonWriter w;
  w.BeginObject().Field("step", step).Key("rows").BeginArray();
  for (const stats::TrafficCounters& row : *rows) WriteTrafficRow(w, row);
  w.EndArray();
  w.Key("summary");
  WriteTrafficSummary(w, *summary);
  w.EndObject();
  c.Json(w);
}

std::string TrafficSummaryJson(const stats::TrafficSummary& summary) {
  JsonWriter w;
  WriteTrafficSummary(w, summary);
  return w.Take();
}

}  // namespace sipman::web
