#include "app/report_command.h"

#include <time.h>

#include <cstdio>
#include <string>
#include <vector>

#include "store/analytics.h"

namespace sipman::app {
namespace {

std::string IsoTime(TimestampNs ns) {
  time_t seconds = static_cast<time_t>(ns / kNsPerSecond);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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

void PrintKeyCounts(const char* title, const std::vector<store::KeyCount>& rows) {
  std::printf("%s\n  %-32s %10s %10s\n", title, "", "calls", "answered");
  if (rows.empty()) std::printf("  (none)\n");
  for (const store::KeyCount& k : rows) {
    std::printf("  %-32s %10lld %10lld\n", k.key.empty() ? "(empty)" : k.key.c_str(),
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

// The table of one --by grouping (and nothing else: one query per report).
int PrintGrouping(const ReportOptions& options, const std::vector<store::PeriodCount>& periods,
                  const std::vector<store::KeyCount>& groups) {
  const std::string& by = options.by;
  bool period = by == "hour" || by == "day" || by == "week";
  if (options.json) {
    std::string out = "{\"range\":" + RangeJson(options) + ",\"by\":";
    JsonString(&out, by);
    out += ",\"rows\":";
    if (period) {
      out += "[";
      for (size_t i = 0; i < periods.size(); ++i) {
        const store::PeriodCount& p = periods[i];
        if (i) out += ',';
        out += "{\"start_ns\":" + std::to_string(p.start_ts) + ",\"start\":\"" +
               IsoTime(p.start_ts) + "\",\"calls\":" + std::to_string(p.calls) +
               ",\"answered\":" + std::to_string(p.answered) +
               ",\"duration_ms_sum\":" + std::to_string(p.duration_ms_sum) + "}";
      }
      out += "]";
    } else {
      out += JsonKeyCounts(groups);
    }
    out += "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  std::printf("range: %s .. %s  sensor: %s\n", IsoTime(options.from_ts).c_str(),
              options.to_ts ? IsoTime(options.to_ts).c_str() : "(open)",
              options.sensor.empty() ? "(all)" : options.sensor.c_str());
  if (period) {
    std::printf("calls per %s (UTC)\n  %-22s %10s %10s %14s\n", by.c_str(), "start", "calls",
                "answered", "duration_ms");
    if (periods.empty()) std::printf("  (none)\n");
    for (const store::PeriodCount& p : periods) {
      std::printf("  %-22s %10lld %10lld %14lld\n", IsoTime(p.start_ts).c_str(),
                  static_cast<long long>(p.calls), static_cast<long long>(p.answered),
                  static_cast<long long>(p.duration_ms_sum));
    }
  } else {
    std::string title = "top " + std::to_string(options.top_n) + " by " + by;
    PrintKeyCounts(title.c_str(), groups);
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
  if (t < 0) return std::nullopt;
  return static_cast<TimestampNs>(t) * kNsPerSecond;
}

int RunReport(const ReportOptions& options) {
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
  if (!by.empty()) return PrintGrouping(options, periods, groups);

  Result<store::CallSummary> summary = (*analytics)->Summary(query);
  if (!summary.ok()) return fail(summary.status());
  const store::CallSummary& m = *summary;
  if (options.json) {
    std::string out = "{\"range\":" + RangeJson(options) + ",\"calls\":" + std::to_string(m.calls);
    out += ",\"by_state\":" + JsonKeyCounts(m.by_state);
    out += ",\"by_status\":" + JsonKeyCounts(m.by_status);
    out += ",\"counts\":{\"invites_200\":" + std::to_string(m.invites_200) +
           ",\"invites_2xx\":" + std::to_string(m.invites_2xx) +
           ",\"invites_3xx\":" + std::to_string(m.invites_3xx) +
           ",\"invites_effective\":" + std::to_string(m.invites_effective) +
           ",\"invites_ineffective\":" + std::to_string(m.invites_ineffective) +
           ",\"completed\":" + std::to_string(m.completed) +
           ",\"network_effective\":" + std::to_string(m.network_effective) + "}";
    out += ",\"rfc6076\":{\"ser\":" + Number(m.ser, "%.6f") + ",\"seer\":" + Number(m.seer, "%.6f") +
           ",\"isa\":" + Number(m.isa, "%.6f") + ",\"scr\":" + Number(m.scr, "%.6f") +
           ",\"srd_successful\":" + JsonDistribution(m.srd_successful) +
           ",\"srd_failed\":" + JsonDistribution(m.srd_failed) +
           ",\"sdd\":" + JsonDistribution(m.sdd) + ",\"sdt\":" + JsonDistribution(m.sdt) +
           ",\"rrd\":" + JsonDistribution(m.rrd) + ",\"ira\":" + Number(m.ira, "%.6f") +
           ",\"registrations\":" + std::to_string(m.registrations) +
           ",\"registrations_ineffective\":" + std::to_string(m.registrations_ineffective) + "}";
    out += ",\"asr\":" + Number(m.asr, "%.6f") + ",\"ner\":" + Number(m.ner, "%.6f") +
           ",\"acd_ms\":" + Number(m.acd_ms) +
           ",\"post_dial_delay\":" + JsonDistribution(m.post_dial_delay) +
           ",\"duration\":" + JsonDistribution(m.duration) + ",\"duration_histogram\":[";
    for (size_t i = 0; i < m.duration_histogram.size(); ++i) {
      const store::DurationBucket& b = m.duration_histogram[i];
      if (i) out += ',';
      out += "{\"lower_ms\":" + std::to_string(b.lower_ms) + ",\"upper_ms\":" +
             (b.upper_ms < 0 ? std::string("null") : std::to_string(b.upper_ms)) +
             ",\"calls\":" + std::to_string(b.calls) + "}";
    }
    out += "]";
    out += "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  std::printf("range: %s .. %s  sensor: %s\n", IsoTime(options.from_ts).c_str(),
              options.to_ts ? IsoTime(options.to_ts).c_str() : "(open)",
              options.sensor.empty() ? "(all)" : options.sensor.c_str());
  std::printf("calls: %lld\n", static_cast<long long>(m.calls));
  PrintKeyCounts("by state", m.by_state);
  PrintKeyCounts("by final status (0: none)", m.by_status);
  std::printf("RFC 6076\n");
  std::printf("  SER   %s\n", Ratio(m.ser, m.invites_200, m.calls - m.invites_3xx).c_str());
  std::printf("  SEER  %s\n", Ratio(m.seer, m.invites_effective, m.calls - m.invites_3xx).c_str());
  std::printf("  ISA   %s\n", Ratio(m.isa, m.invites_ineffective, m.calls).c_str());
  std::printf("  SCR   %s\n", Ratio(m.scr, m.completed, m.calls).c_str());
  std::printf("  SRD successful  %s\n", Delay(m.srd_successful, false).c_str());
  std::printf("  SRD failed      %s\n", Delay(m.srd_failed, false).c_str());
  std::printf("  SDD             %s\n", Delay(m.sdd, false).c_str());
  std::printf("  SDT             %s\n", Delay(m.sdt, false).c_str());
  std::printf("  RRD             %s\n", Delay(m.rrd, false).c_str());
  std::printf("  IRA   %s\n",
              Ratio(m.ira, m.registrations_ineffective, m.registrations).c_str());
  std::printf("ASR   %s\n", Ratio(m.asr, m.invites_2xx, m.calls).c_str());
  std::printf("NER   %s\n", Ratio(m.ner, m.network_effective, m.calls).c_str());
  std::printf("ACD   %s\n", m.acd_ms ? Number(m.acd_ms, "%.1f ms").c_str() : "n/a");
  std::printf("post-dial delay   %s\n", Delay(m.post_dial_delay, true).c_str());
  std::printf("call duration     %s\n", Delay(m.duration, true).c_str());
  std::printf("duration histogram (answered calls)\n");
  for (const store::DurationBucket& b : m.duration_histogram) {
    std::printf("  %-10s %10lld\n", BucketName(b).c_str(), static_cast<long long>(b.calls));
  }
  return 0;
}

}  // namespace sipman::app
