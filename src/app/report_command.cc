#include "app/report_command.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "stats/stats.h"
#include "store/analytics.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {

std::string IsoTime(TimestampNs ns) {
  time_t seconds = static_cast<time_t>(ns / kNsPerSecond);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

std::string Number(const std::optional<double>& v, const char* format = "%.3f") {
  if (!v) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, *v);
  return buf;
}

std::string Int(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "null"; }

void JsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out->append(buf);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

std::string JsonDistribution(const store::Distribution& d) {
  return "{\"count\":" + std::to_string(d.count) + ",\"mean_ms\":" + Number(d.mean_ms) +
         ",\"p50_ms\":" + Int(d.p50_ms) + ",\"p90_ms\":" + Int(d.p90_ms) +
         ",\"p95_ms\":" + Int(d.p95_ms) + ",\"p99_ms\":" + Int(d.p99_ms) + "}";
}

std::string JsonKeyCounts(const std::vector<store::KeyCount>& rows) {
  std::string out = "[";
  for (const store::KeyCount& k : rows) {
    if (out.size() > 1) out += ',';
    out += "{\"key\":";
    JsonString(&out, k.key);
    out += ",\"calls\":" + std::to_string(k.calls) + ",\"answered\":" + std::to_string(k.answered) +
           "}";
  }
  return out + "]";
}

void PrintKeyCounts(std::FILE* out, const char* title, const std::vector<store::KeyCount>& rows) {
  std::fprintf(out, "%s\n  %-32s %10s %10s\n", title, "", "calls", "answered");
  if (rows.empty()) std::fprintf(out, "  (none)\n");
  for (const store::KeyCount& k : rows) {
    std::fprintf(out, "  %-32s %10lld %10lld\n", k.key.empty() ? "(empty)" : k.key.c_str(),
                 static_cast<long long>(k.calls), static_cast<long long>(k.answered));
  }
}

std::string Ratio(const std::optional<double>& v, int64_t num, int64_t den) {
  return (v ? Number(v, "%.2f%%") : std::string("n/a")) + "  (" + std::to_string(num) + " / " +
         std::to_string(den) + ")";
}

std::string Delay(const store::Distribution& d, bool percentiles) {
  std::string s = (d.mean_ms ? Number(d.mean_ms, "%.1f ms") : std::string("n/a")) + "  (n " +
                  std::to_string(d.count);
  if (percentiles && d.count > 0) {
    s += ", p50 " + Int(d.p50_ms) + ", p90 " + Int(d.p90_ms) + ", p95 " + Int(d.p95_ms) +
         ", p99 " + Int(d.p99_ms);
  }
  return s + ")";
}

std::string BucketName(const store::DurationBucket& b) {
  auto f = [](int64_t ms) {
    return ms % 60000 == 0 && ms > 0 ? std::to_string(ms / 60000) + "m"
                                     : std::to_string(ms / 1000) + "s";
  };
  if (b.upper_ms < 0) return ">=" + f(b.lower_ms);
  return f(b.lower_ms) + "-" + f(b.upper_ms);
}

std::string RangeJson(const ReportOptions& options) {
  std::string out = "{\"from_ns\":" + std::to_string(options.from_ts) +
                    ",\"to_ns\":" + (options.to_ts ? std::to_string(options.to_ts) : "null") +
                    ",\"sensor\":";
  JsonString(&out, options.sensor);
  return out + "}";
}

// The traffic figures over the report's range: the store's own query and
// summarizer, with the range and sensor the web API's /api/v1/stats/traffic
// would be given (seconds whose start lies in [from, to), calls whose INVITE
// does).
Result<stats::TrafficSummary> SummarizeTraffic(const ReportOptions& options) {
  store::StoreOptions store_options;
  store_options.url = options.db;
  // A report writes nothing; in particular it does not replay rows that a
  // `sipman run` in this directory spilled while PostgreSQL was away.
  store_options.spill_dir.clear();
  Result<std::unique_ptr<store::Store>> store = store::Store::Open(store_options);
  if (!store.ok()) return store.status();
  store::TrafficQuery query;
  query.from_ts = options.from_ts;
  query.to_ts = options.to_ts;
  query.sensor = options.sensor;
  Result<stats::TrafficSummary> summary = (*store)->SummarizeTraffic(query);
  (*store)->Close();
  return summary;
}

// A Unix second as UTC time; "-" for 0 (a peak that never happened).
std::string SecondTime(int64_t second) {
  return second == 0 ? std::string("-") : IsoTime(second * kNsPerSecond);
}

void PrintRate(std::FILE* out, const char* name, const char* average_format,
               const stats::RatePeak& r) {
  char average[48];
  std::snprintf(average, sizeof average, average_format, r.average);
  std::fprintf(out, "  %-18s average %-12s peak %llu at %s\n", name, average,
               static_cast<unsigned long long>(r.peak), SecondTime(r.peak_second).c_str());
}

// The "traffic" section of the text report (docs/METRICS.md defines each
// figure).
void PrintTraffic(std::FILE* out, const stats::TrafficSummary& s) {
  using ull = unsigned long long;
  if (s.span_seconds == 0) {
    std::fprintf(out, "traffic: none in the range\n");
    return;
  }
  const stats::TrafficCounters& t = s.totals;
  std::fprintf(out, "traffic: %s .. %s  (%lld s)\n", SecondTime(s.first_second).c_str(),
               SecondTime(s.last_second + 1).c_str(), static_cast<long long>(s.span_seconds));
  std::fprintf(out, "  packets %llu  bytes %llu  SIP bytes %llu\n", static_cast<ull>(t.packets),
               static_cast<ull>(t.frame_bytes), static_cast<ull>(t.sip_bytes));
  PrintRate(out, "bytes/s", "%.1f", s.frame_bytes);
  PrintRate(out, "messages/s", "%.2f", s.messages);
  PrintRate(out, "calls/s", "%.3f", s.calls_per_second);
  char average[48];
  std::snprintf(average, sizeof average, "%.2f", s.concurrent_calls.average);
  std::fprintf(out, "  %-18s average %-12s peak %llu at %s\n", "concurrent calls", average,
               static_cast<ull>(s.concurrent_calls.peak),
               s.concurrent_calls.peak_ts ? IsoTime(s.concurrent_calls.peak_ts).c_str() : "-");
  std::fprintf(out, "  %-18s kernel %llu  interface %llu\n", "capture drops",
               static_cast<ull>(t.kernel_drops), static_cast<ull>(t.interface_drops));
  if (t.tls_connections != 0 || t.tls_bytes != 0) {
    std::fprintf(out, "  %-18s %llu connections, %llu bytes (TLS: not readable)\n",
                 "encrypted SIP", static_cast<ull>(t.tls_connections),
                 static_cast<ull>(t.tls_bytes));
  }
  std::fprintf(out, "messages: %llu  (%llu requests, %llu responses)\n",
               static_cast<ull>(t.messages), static_cast<ull>(t.requests),
               static_cast<ull>(t.responses));
  std::fprintf(out, "requests per method\n");
  bool any = false;
  for (size_t i = 0; i < stats::kMethodCount; ++i) {
    if (t.methods[i] == 0) continue;
    any = true;
    std::fprintf(out, "  %-10s %10llu\n", std::string(stats::kMethodNames[i]).c_str(),
                 static_cast<ull>(t.methods[i]));
  }
  if (!any) std::fprintf(out, "  (none)\n");
  std::vector<stats::CodeCounts::Entry> codes(t.codes.begin(), t.codes.end());
  std::sort(codes.begin(), codes.end(),
            [](const auto& a, const auto& b) { return a.code < b.code; });
  std::fprintf(out, "responses per class\n");
  for (size_t i = 0; i < stats::kClassCount; ++i) {
    std::string detail;
    for (const stats::CodeCounts::Entry& e : codes) {
      if (e.count == 0 || e.code / 100 != i + 1) continue;
      detail +=
          (detail.empty() ? "  (" : ", ") + std::to_string(e.code) + ": " + std::to_string(e.count);
    }
    if (!detail.empty()) detail += ")";
    std::fprintf(out, "  %zuxx        %10llu%s\n", i + 1, static_cast<ull>(t.classes[i]),
                 detail.c_str());
  }
}

// The table of one --by grouping (and nothing else: one query per report).
int PrintGrouping(std::FILE* out, const ReportOptions& options,
                  const std::vector<store::PeriodCount>& periods,
                  const std::vector<store::KeyCount>& groups) {
  const std::string& by = options.by;
  bool period = by == "hour" || by == "day" || by == "week";
  if (options.json) {
    std::string text = "{\"range\":" + RangeJson(options) + ",\"by\":";
    JsonString(&text, by);
    text += ",\"rows\":";
    if (period) {
      text += "[";
      for (size_t i = 0; i < periods.size(); ++i) {
        const store::PeriodCount& p = periods[i];
        if (i) text += ',';
        text += "{\"start_ns\":" + std::to_string(p.start_ts) + ",\"start\":\"" +
                IsoTime(p.start_ts) + "\",\"calls\":" + std::to_string(p.calls) +
                ",\"answered\":" + std::to_string(p.answered) +
                ",\"duration_ms_sum\":" + std::to_string(p.duration_ms_sum) + "}";
      }
      text += "]";
    } else {
      text += JsonKeyCounts(groups);
    }
    text += "}\n";
    std::fwrite(text.data(), 1, text.size(), out);
    return 0;
  }
  std::fprintf(out, "range: %s .. %s  sensor: %s\n", IsoTime(options.from_ts).c_str(),
               options.to_ts ? IsoTime(options.to_ts).c_str() : "(open)",
               options.sensor.empty() ? "(all)" : options.sensor.c_str());
  if (period) {
    std::fprintf(out, "calls per %s (UTC)\n  %-22s %10s %10s %14s\n", by.c_str(), "start", "calls",
                 "answered", "duration_ms");
    if (periods.empty()) std::fprintf(out, "  (none)\n");
    for (const store::PeriodCount& p : periods) {
      std::fprintf(out, "  %-22s %10lld %10lld %14lld\n", IsoTime(p.start_ts).c_str(),
                   static_cast<long long>(p.calls), static_cast<long long>(p.answered),
                   static_cast<long long>(p.duration_ms_sum));
    }
  } else {
    std::string title = "top " + std::to_string(options.top_n) + " by " + by;
    PrintKeyCounts(out, title.c_str(), groups);
  }
  return 0;
}

// --quality: the media quality table of one grouping.
int PrintQuality(std::FILE* out, const ReportOptions& options, const std::string& by,
                 const std::vector<store::QualityRow>& rows) {
  if (options.json) {
    std::string text = "{\"range\":" + RangeJson(options) + ",\"by\":";
    JsonString(&text, by);
    text += ",\"rows\":" + web::QualityRowsJson(rows) + "}\n";
    std::fwrite(text.data(), 1, text.size(), out);
    return 0;
  }
  std::fprintf(out, "range: %s .. %s  sensor: %s\n", IsoTime(options.from_ts).c_str(),
               options.to_ts ? IsoTime(options.to_ts).c_str() : "(open)",
               options.sensor.empty() ? "(all)" : options.sensor.c_str());
  std::fprintf(out, "media quality by %s (RTP streams by their first packet; MOS after a 50 ms buffer)\n",
               by.c_str());
  std::fprintf(out, "  %-24s %8s %10s %8s %8s %8s %6s %6s %6s\n", "key", "streams", "packets",
               "loss%", "jit_ms", "maxjit", "mos", "min", "poor");
  if (rows.empty()) std::fprintf(out, "  (none)\n");
  auto number = [](const std::optional<double>& v, const char* format) {
    if (!v) return std::string("-");
    char text[32];
    std::snprintf(text, sizeof text, format, *v);
    return std::string(text);
  };
  for (const store::QualityRow& r : rows) {
    const std::string key = r.key.empty() && r.start_ts != 0 ? IsoTime(r.start_ts) : r.key;
    std::fprintf(out, "  %-24s %8lld %10lld %8s %8s %8.1f %6s %6s %6lld\n",
                 key.empty() ? "(none)" : key.c_str(), static_cast<long long>(r.streams),
                 static_cast<long long>(r.packets), number(r.loss_pct, "%.2f").c_str(),
                 number(r.mean_jitter_ms, "%.2f").c_str(), r.max_jitter_ms,
                 number(r.mos_avg, "%.2f").c_str(), number(r.mos_min, "%.2f").c_str(),
                 static_cast<long long>(r.poor_streams));
  }
  return 0;
}

}  // namespace

std::optional<TimestampNs> ParseReportTime(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool digits = true;
  int dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      digits = false;
    }
  }
  if (digits && dots <= 1 && text.front() != '.') {
    std::string_view whole = text.substr(0, text.find('.'));
    if (whole.size() > 11) return std::nullopt;
    TimestampNs ns = 0;
    for (char c : whole) ns = ns * 10 + (c - '0');
    if (ns >= kMaxTimestampSeconds) return std::nullopt;  // past 2262
    ns *= kNsPerSecond;
    if (dots == 1) {
      std::string_view frac = text.substr(whole.size() + 1);
      int64_t scale = kNsPerSecond / 10;
      for (size_t i = 0; i < frac.size() && i < 9; ++i, scale /= 10) ns += (frac[i] - '0') * scale;
    }
    return ns;
  }
  // ISO 8601 UTC: YYYY-MM-DD[THH:MM[:SS]Z].
  int year, month, day, hour = 0, minute = 0, second = 0, used = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &used) != 3 || used != 10) {
    return std::nullopt;
  }
  if (s.size() > 10) {
    int more = 0;
    if (std::sscanf(s.c_str() + 10, "T%2d:%2d%n", &hour, &minute, &more) != 2) return std::nullopt;
    size_t pos = 10 + static_cast<size_t>(more);
    if (pos < s.size() && s[pos] == ':') {
      int sec_used = 0;
      if (std::sscanf(s.c_str() + pos, ":%2d%n", &second, &sec_used) != 1) return std::nullopt;
      pos += static_cast<size_t>(sec_used);
    }
    if (pos + 1 != s.size() || s[pos] != 'Z') return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  struct tm tm = {};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  time_t t = timegm(&tm);
  if (t < 0 || t >= kMaxTimestampSeconds) return std::nullopt;
  return static_cast<TimestampNs>(t) * kNsPerSecond;
}

int RunReport(const ReportOptions& options, std::FILE* out) {
  auto analytics = store::CallAnalytics::Open(options.db);
  if (!analytics.ok()) {
    std::fprintf(stderr, "sipman report: %s\n", analytics.status().message().c_str());
    return 1;
  }
  store::AnalyticsQuery query;
  query.from_ts = options.from_ts;
  query.to_ts = options.to_ts;
  query.sensor = options.sensor;
  query.top_n = options.top_n;
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "sipman report: %s\n", s.message().c_str());
    return 1;
  };
  if (options.quality) {
    const std::string by = options.by.empty() ? "codec" : options.by;
    const std::optional<store::QualityGroup> group = store::QualityGroupByName(by);
    if (!group) {
      return fail(Status::Error("--quality --by takes " + std::string(store::kQualityGroupList)));
    }
    Result<std::vector<store::QualityRow>> rows = (*analytics)->Quality(query, *group);
    if (!rows.ok()) return fail(rows.status());
    return PrintQuality(out, options, by, *rows);
  }
  std::vector<store::PeriodCount> periods;
  std::vector<store::KeyCount> groups;
  const std::string& by = options.by;
  if (by == "hour" || by == "day" || by == "week") {
    auto r = (*analytics)->ByPeriod(query, by == "hour"  ? store::Period::kHour
                                           : by == "day" ? store::Period::kDay
                                                         : store::Period::kWeek);
    if (!r.ok()) return fail(r.status());
    periods = std::move(*r);
  } else if (!by.empty()) {
    Result<std::vector<store::KeyCount>> r =
        by == "user"     ? (*analytics)->TopUsers(query, store::UserSide::kEither)
        : by == "caller" ? (*analytics)->TopUsers(query, store::UserSide::kCaller)
        : by == "callee" ? (*analytics)->TopUsers(query, store::UserSide::kCallee)
        : by == "ip"     ? (*analytics)->TopSourceIps(query)
                         : (*analytics)->TopUserAgents(query);
    if (!r.ok()) return fail(r.status());
    groups = std::move(*r);
  }
  if (!by.empty()) return PrintGrouping(out, options, periods, groups);

  Result<store::CallSummary> summary = (*analytics)->Summary(query);
  if (!summary.ok()) return fail(summary.status());
  const store::CallSummary& m = *summary;
  std::optional<stats::TrafficSummary> traffic;
  if (options.traffic) {
    Result<stats::TrafficSummary> r = SummarizeTraffic(options);
    if (!r.ok()) return fail(r.status());
    traffic = std::move(*r);
  }
  if (options.json) {
    std::string text = "{\"range\":" + RangeJson(options) + ",\"calls\":" + std::to_string(m.calls);
    text += ",\"by_state\":" + JsonKeyCounts(m.by_state);
    text += ",\"by_status\":" + JsonKeyCounts(m.by_status);
    text += ",\"counts\":{\"invites_200\":" + std::to_string(m.invites_200) +
            ",\"invites_2xx\":" + std::to_string(m.invites_2xx) +
            ",\"invites_3xx\":" + std::to_string(m.invites_3xx) +
            ",\"invites_effective\":" + std::to_string(m.invites_effective) +
            ",\"invites_ineffective\":" + std::to_string(m.invites_ineffective) +
            ",\"completed\":" + std::to_string(m.completed) +
            ",\"network_effective\":" + std::to_string(m.network_effective) + "}";
    text += ",\"rfc6076\":{\"ser\":" + Number(m.ser, "%.6f") +
            ",\"seer\":" + Number(m.seer, "%.6f") + ",\"isa\":" + Number(m.isa, "%.6f") +
            ",\"scr\":" + Number(m.scr, "%.6f") +
            ",\"srd_successful\":" + JsonDistribution(m.srd_successful) +
            ",\"srd_failed\":" + JsonDistribution(m.srd_failed) +
            ",\"sdd\":" + JsonDistribution(m.sdd) + ",\"sdt\":" + JsonDistribution(m.sdt) +
            ",\"rrd\":" + JsonDistribution(m.rrd) + ",\"ira\":" + Number(m.ira, "%.6f") +
            ",\"registrations\":" + std::to_string(m.registrations) +
            ",\"registrations_ineffective\":" + std::to_string(m.registrations_ineffective) + "}";
    text += ",\"asr\":" + Number(m.asr, "%.6f") + ",\"ner\":" + Number(m.ner, "%.6f") +
            ",\"acd_ms\":" + Number(m.acd_ms) +
            ",\"post_dial_delay\":" + JsonDistribution(m.post_dial_delay) +
            ",\"duration\":" + JsonDistribution(m.duration) + ",\"duration_histogram\":[";
    for (size_t i = 0; i < m.duration_histogram.size(); ++i) {
      const store::DurationBucket& b = m.duration_histogram[i];
      if (i) text += ',';
      text += "{\"lower_ms\":" + std::to_string(b.lower_ms) + ",\"upper_ms\":" +
              (b.upper_ms < 0 ? std::string("null") : std::to_string(b.upper_ms)) +
              ",\"calls\":" + std::to_string(b.calls) + "}";
    }
    text += "]";
    if (traffic) text += ",\"traffic\":" + web::TrafficSummaryJson(*traffic);
    text += "}\n";
    std::fwrite(text.data(), 1, text.size(), out);
    return 0;
  }

  std::fprintf(out, "range: %s .. %s  sensor: %s\n", IsoTime(options.from_ts).c_str(),
               options.to_ts ? IsoTime(options.to_ts).c_str() : "(open)",
               options.sensor.empty() ? "(all)" : options.sensor.c_str());
  std::fprintf(out, "calls: %lld\n", static_cast<long long>(m.calls));
  PrintKeyCounts(out, "by state", m.by_state);
  PrintKeyCounts(out, "by final status (0: none)", m.by_status);
  std::fprintf(out, "RFC 6076\n");
  std::fprintf(out, "  SER   %s\n", Ratio(m.ser, m.invites_200, m.calls - m.invites_3xx).c_str());
  std::fprintf(out, "  SEER  %s\n",
               Ratio(m.seer, m.invites_effective, m.calls - m.invites_3xx).c_str());
  std::fprintf(out, "  ISA   %s\n", Ratio(m.isa, m.invites_ineffective, m.calls).c_str());
  std::fprintf(out, "  SCR   %s\n", Ratio(m.scr, m.completed, m.calls).c_str());
  std::fprintf(out, "  SRD successful  %s\n", Delay(m.srd_successful, false).c_str());
  std::fprintf(out, "  SRD failed      %s\n", Delay(m.srd_failed, false).c_str());
  std::fprintf(out, "  SDD             %s\n", Delay(m.sdd, false).c_str());
  std::fprintf(out, "  SDT             %s\n", Delay(m.sdt, false).c_str());
  std::fprintf(out, "  RRD             %s\n", Delay(m.rrd, false).c_str());
  std::fprintf(out, "  IRA   %s\n",
               Ratio(m.ira, m.registrations_ineffective, m.registrations).c_str());
  std::fprintf(out, "ASR   %s\n", Ratio(m.asr, m.invites_2xx, m.calls).c_str());
  std::fprintf(out, "NER   %s\n", Ratio(m.ner, m.network_effective, m.calls).c_str());
  std::fprintf(out, "ACD   %s\n", m.acd_ms ? Number(m.acd_ms, "%.1f ms").c_str() : "n/a");
  std::fprintf(out, "post-dial delay   %s\n", Delay(m.post_dial_delay, true).c_str());
  std::fprintf(out, "call duration     %s\n", Delay(m.duration, true).c_str());
  std::fprintf(out, "duration histogram (answered calls)\n");
  for (const store::DurationBucket& b : m.duration_histogram) {
    std::fprintf(out, "  %-10s %10lld\n", BucketName(b).c_str(), static_cast<long long>(b.calls));
  }
  if (traffic) PrintTraffic(out, *traffic);
  return 0;
}

}  // namespace sipman::app
