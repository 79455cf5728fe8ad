// The metric and key tables, and rules read from their configuration
// fields with every check a bad rule can fail.
#include <algorithm>
#include <cmath>
#include <set>

#include "alerts/alerts.h"
#include "base/ascii.h"
#include "stats/stats.h"

namespace sipman::alerts {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlnum(char c) { return IsDigit(c) || IsUpper(c) || (c >= 'a' && c <= 'z'); }

constexpr MetricInfo kMetrics[] = {
#define SIPMAN_ALERT_METRIC_INFO(e, name, source, value, direction, category, help) \
  {Metric::e, name, Source::source, ValueKind::value, Direction::direction, category, help},
    SIPMAN_ALERT_METRICS(SIPMAN_ALERT_METRIC_INFO)
#undef SIPMAN_ALERT_METRIC_INFO
};

constexpr std::string_view kKeyNames[] = {
#define SIPMAN_ALERT_KEY_NAME(e, name, help) name,
    SIPMAN_ALERT_KEYS(SIPMAN_ALERT_KEY_NAME)
#undef SIPMAN_ALERT_KEY_NAME
};

// User agents of well-known SIP scanners and attack tools, matched as
// case-insensitive substrings.
const std::vector<std::string> kScannerAgents = {
    "friendly-scanner", "sipvicious", "sipcli/", "sip-scan", "sipsak-scan", "iwar",
    "sundayddr", "vaxsipuseragent", "pplsip", "smap", "sivus", "sipscan"};

std::string Names(auto begin, auto end) {
  std::string out;
  for (auto it = begin; it != end; ++it) out += (out.empty() ? "" : ", ") + std::string(*it);
  return out;
}

std::string MetricNames() {
  std::string out;
  for (const MetricInfo& m : kMetrics) out += (out.empty() ? "" : ", ") + std::string(m.name);
  return out;
}

std::string_view TypeName(const FieldValue& v) {
  switch (v.index()) {
    case 0: return "true or false";
    case 1: return "an integer";
    case 2: return "a number";
    case 3: return "a string";
    default: return "a list of strings";
  }
}

Status WrongType(const Field& f, std::string_view want) {
  return Status::Error("'" + f.key + "' must be " + std::string(want) + ", not " +
                       std::string(TypeName(f.value)));
}

Status GetString(const Field& f, std::string* out) {
  const std::string* s = std::get_if<std::string>(&f.value);
  if (s == nullptr) return WrongType(f, "a string in quotes");
  *out = *s;
  return Status::Ok();
}

Status GetList(const Field& f, std::vector<std::string>* out) {
  if (const std::string* s = std::get_if<std::string>(&f.value)) {
    *out = {*s};
    return Status::Ok();
  }
  const auto* list = std::get_if<std::vector<std::string>>(&f.value);
  if (list == nullptr) return WrongType(f, "a list of strings, e.g. [\"a\", \"b\"]");
  *out = *list;
  return Status::Ok();
}

Status GetInt(const Field& f, int64_t lo, int64_t hi, int64_t* out) {
  const int64_t* i = std::get_if<int64_t>(&f.value);
  if (i == nullptr || *i < lo || *i > hi) {
    return Status::Error("'" + f.key + "' must be an integer from " + std::to_string(lo) + " to " +
                         std::to_string(hi));
  }
  *out = *i;
  return Status::Ok();
}

Status GetNumber(const Field& f, double* out) {
  if (const double* d = std::get_if<double>(&f.value)) {
    *out = *d;
  } else if (const int64_t* i = std::get_if<int64_t>(&f.value)) {
    *out = static_cast<double>(*i);
  } else {
    return WrongType(f, "a number");
  }
  if (!std::isfinite(*out)) return Status::Error("'" + f.key + "' must be a finite number");
  return Status::Ok();
}

Status GetBool(const Field& f, bool* out) {
  const bool* b = std::get_if<bool>(&f.value);
  if (b == nullptr) return WrongType(f, "true or false");
  *out = *b;
  return Status::Ok();
}

// "HH:MM" -> minutes since midnight; 24:00 allowed as an end.
bool ParseClock(std::string_view t, int* minutes) {
  if (t.size() != 5 || t[2] != ':' || !IsDigit(t[0]) || !IsDigit(t[1]) || !IsDigit(t[3]) ||
      !IsDigit(t[4])) {
    return false;
  }
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return false;
  *minutes = h * 60 + m;
  return true;
}

// A number prefix: digits, with an optional leading '+'.
bool IsNumberPrefix(std::string_view p) {
  if (!p.empty() && p[0] == '+') p.remove_prefix(1);
  return !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return IsDigit(c); });
}

bool KeyAllowed(const MetricInfo& m, KeyKind by) {
  if (m.source == Source::kHealth) return by == KeyKind::kSensor || by == KeyKind::kAll;
  return true;
}

// The range a metric's thresholds must lie in.
void ThresholdRange(const MetricInfo& m, double* lo, double* hi) {
  *lo = 0;
  *hi = 1e12;
  if (m.value == ValueKind::kRatio) *hi = 100;
  if (m.metric == Metric::kMos) {
    *lo = 1;
    *hi = 5;
  }
}

Status CheckThresholds(const MetricInfo& m, const Rule& r, size_t fire_line, size_t resolve_line,
                       size_t* line) {
  double lo, hi;
  ThresholdRange(m, &lo, &hi);
  auto range = [&](const char* which, double v, size_t at) -> Status {
    if (v < lo || v > hi) {
      *line = at;
      std::string message = "'";
      message += which;
      message += "' = " + FormatNumber(v) + " is impossible for ";
      message += m.name;
      message += ": it must be from " + FormatNumber(lo) + " to " + FormatNumber(hi);
      return Status::Error(message);
    }
    return Status::Ok();
  };
  Status s = range("fire", r.fire, fire_line);
  if (s.ok()) s = range("resolve", r.resolve, resolve_line);
  if (!s.ok()) return s;
  if (m.direction == Direction::kAbove && r.fire <= 0) {
    *line = fire_line;
    return Status::Error("'fire' must be above 0 for " + std::string(m.name) +
                         " (it fires when the value reaches 'fire')");
  }
  if (m.direction == Direction::kAbove && r.resolve > r.fire) {
    *line = resolve_line;
    return Status::Error("'resolve' (" + FormatNumber(r.resolve) + ") must be at most 'fire' (" +
                         FormatNumber(r.fire) + "): " + std::string(m.name) +
                         " fires when it rises to 'fire' and resolves when it falls back to 'resolve'");
  }
  if (m.direction == Direction::kBelow && r.resolve < r.fire) {
    *line = resolve_line;
    return Status::Error("'resolve' (" + FormatNumber(r.resolve) + ") must be at least 'fire' (" +
                         FormatNumber(r.fire) + "): " + std::string(m.name) +
                         " fires when it falls to 'fire' and resolves when it rises back to 'resolve'");
  }
  return Status::Ok();
}

}  // namespace

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::span<const MetricInfo> Metrics() { return kMetrics; }
const MetricInfo& InfoOf(Metric metric) { return kMetrics[static_cast<size_t>(metric)]; }
std::string_view MetricName(Metric metric) { return InfoOf(metric).name; }
std::string_view KeyName(KeyKind kind) { return kKeyNames[static_cast<size_t>(kind)]; }

Status ParseRule(std::span<const Field> fields, Rule* rule, size_t* line) {
  *line = 0;
  // The metric first: it sets the defaults the other fields change.
  const Field* metric_field = nullptr;
  for (const Field& f : fields) {
    if (f.key == "metric") metric_field = &f;
  }
  if (metric_field == nullptr) {
    return Status::Error("a [[rule]] needs 'metric' (one of " + MetricNames() + ")");
  }
  std::string metric_name;
  *line = metric_field->line;
  Status s = GetString(*metric_field, &metric_name);
  if (!s.ok()) return s;
  const MetricInfo* info = nullptr;
  for (const MetricInfo& m : kMetrics) {
    if (m.name == metric_name) info = &m;
  }
  if (info == nullptr) {
    return Status::Error("unknown metric '" + metric_name + "' (known: " + MetricNames() + ")");
  }
  Rule r;
  r.metric = info->metric;
  r.by = info->source == Source::kHealth ? KeyKind::kSensor : KeyKind::kSrcIp;
  if (info->source == Source::kCallEnd && info->category == "quality") r.by = KeyKind::kCalleeDomain;
  if (info->metric == Metric::kScanner) r.user_agents = kScannerAgents;
  if (info->metric == Metric::kRequestRate) r.methods = {"INVITE", "REGISTER"};
  size_t fire_line = 0, resolve_line = 0;
  bool has_fire = false, has_resolve = false, has_hours = false;
  std::string offset;
  for (const Field& f : fields) {
    *line = f.line;
    const std::string& k = f.key;
    int64_t n = 0;
    if (k == "metric") {
      continue;
    } else if (k == "name") {
      s = GetString(f, &r.name);
      if (s.ok() && (r.name.empty() || r.name.size() > 64 ||
                     !std::all_of(r.name.begin(), r.name.end(), [](char c) {
                       return IsAlnum(c) || c == '-' || c == '_' || c == '.';
                     }))) {
        s = Status::Error("'name' must be 1 to 64 letters, digits, '-', '_' or '.'");
      }
    } else if (k == "by") {
      std::string by;
      s = GetString(f, &by);
      if (!s.ok()) return s;
      const auto* it = std::find(std::begin(kKeyNames), std::end(kKeyNames), by);
      if (it == std::end(kKeyNames)) {
        return Status::Error("unknown key 'by = \"" + by + "\"' (known: " +
                             Names(std::begin(kKeyNames), std::end(kKeyNames)) + ")");
      }
      r.by = static_cast<KeyKind>(it - std::begin(kKeyNames));
      if (!KeyAllowed(*info, r.by)) {
        return Status::Error(std::string(info->name) + " is measured per sensor: 'by' must be " +
                             "\"sensor\" or \"all\", not \"" + by + "\"");
      }
    } else if (k == "prefix_len") {
      s = GetInt(f, 1, 32, &n);
      r.prefix_len = static_cast<int>(n);
    } else if (k == "window") {
      s = GetInt(f, 1, 7 * 86400, &r.window_s);
    } else if (k == "min_samples") {
      s = GetInt(f, 1, 1'000'000'000, &r.min_samples);
    } else if (k == "fire") {
      s = GetNumber(f, &r.fire);
      fire_line = f.line;
      has_fire = true;
    } else if (k == "resolve") {
      s = GetNumber(f, &r.resolve);
      resolve_line = f.line;
      has_resolve = true;
    } else if (k == "severity") {
      s = GetString(f, &r.severity);
      if (s.ok() && r.severity != "info" && r.severity != "warning" && r.severity != "critical") {
        s = Status::Error("'severity' must be \"info\", \"warning\" or \"critical\", not \"" +
                          r.severity + "\"");
      }
    } else if (k == "action") {
      s = GetString(f, &r.action);
      if (s.ok() && r.action != "" && r.action != "block" && r.action != "command") {
        s = Status::Error("'action' must be \"block\" (nftables set) or \"command\", not \"" +
                          r.action + "\"");
      }
    } else if (k == "command") {
      s = GetString(f, &r.command);
    } else if (k == "enabled") {
      s = GetBool(f, &r.enabled);
    } else if (k == "max_keys") {
      s = GetInt(f, 1, 10'000'000, &n);
      r.max_keys = static_cast<size_t>(n);
    } else if (k == "status") {
      s = GetInt(f, 100, 699, &n);
      r.status = static_cast<int>(n);
    } else if (k == "prefixes") {
      s = GetList(f, &r.prefixes);
      for (size_t i = 0; s.ok() && i < r.prefixes.size(); ++i) {
        if (!IsNumberPrefix(r.prefixes[i])) {
          s = Status::Error("'prefixes': \"" + r.prefixes[i] +
                            "\" is not a number prefix (digits, optionally after a '+')");
        }
      }
    } else if (k == "user_agents") {
      s = GetList(f, &r.user_agents);
      for (std::string& ua : r.user_agents) {
        for (char& c : ua) c = AsciiLower(c);
        if (s.ok() && ua.empty()) s = Status::Error("'user_agents' must not hold an empty string");
      }
    } else if (k == "methods") {
      s = GetList(f, &r.methods);
      for (size_t i = 0; s.ok() && i < r.methods.size(); ++i) {
        if (r.methods[i].empty() ||
            !std::all_of(r.methods[i].begin(), r.methods[i].end(), [](char c) { return IsUpper(c); })) {
          s = Status::Error("'methods': \"" + r.methods[i] + "\" is not a SIP method (e.g. \"INVITE\")");
        }
      }
    } else if (k == "hours") {
      std::string h;
      s = GetString(f, &h);
      if (!s.ok()) return s;
      const size_t dash = h.find('-');
      if (dash == std::string::npos || !ParseClock(std::string_view(h).substr(0, dash), &r.hours_from_min) ||
          !ParseClock(std::string_view(h).substr(dash + 1), &r.hours_to_min) ||
          r.hours_from_min == r.hours_to_min) {
        return Status::Error("'hours' must be the allowed hours as \"HH:MM-HH:MM\", e.g. \"08:00-20:00\"");
      }
      has_hours = true;
    } else if (k == "utc_offset") {
      s = GetString(f, &offset);
      if (!s.ok()) return s;
      int minutes = 0;
      if (offset.size() != 6 || (offset[0] != '+' && offset[0] != '-') ||
          !ParseClock(std::string_view(offset).substr(1), &minutes) || minutes > 14 * 60) {
        return Status::Error("'utc_offset' must be \"+HH:MM\" or \"-HH:MM\", e.g. \"+01:00\"");
      }
      r.utc_offset_min = offset[0] == '-' ? -minutes : minutes;
    } else if (k == "max_duration") {
      s = GetInt(f, 1, 86400, &r.max_duration_s);
    } else {
      return Status::Error("unknown field '" + k +
                           "' in a [[rule]] (known: name, metric, by, prefix_len, window, "
                           "min_samples, fire, resolve, severity, action, command, enabled, "
                           "max_keys, status, prefixes, user_agents, methods, hours, utc_offset, "
                           "max_duration)");
    }
    if (!s.ok()) return s;
  }
  *line = 0;
  if (r.name.empty()) return Status::Error("a [[rule]] needs a 'name'");
  if (!has_fire) return Status::Error("rule '" + r.name + "' needs 'fire' (the threshold)");
  if (!has_resolve) {
    // Some hysteresis by default, so that a value hovering at the
    // threshold does not fire and resolve on every sample: counts resolve
    // when their window empties, levels one below the threshold, ratios,
    // means and percentiles a fifth of the way back (toward 0, or toward
    // the top of their range for the metrics that fire low).
    double lo, hi;
    ThresholdRange(*info, &lo, &hi);
    switch (info->value) {
      case ValueKind::kCount:
      case ValueKind::kDifference:
      case ValueKind::kRate:
        r.resolve = 0;
        break;
      case ValueKind::kGauge:
      case ValueKind::kSilence:
        r.resolve = std::max(0.0, r.fire - 1);
        break;
      default:
        r.resolve = info->direction == Direction::kBelow ? r.fire + (std::min(hi, 100.0) - r.fire) * 0.2
                                                         : r.fire * 0.8;
        if (r.metric == Metric::kMos) r.resolve = std::min(5.0, r.fire + 0.3);
    }
  }
  s = CheckThresholds(*info, r, fire_line, resolve_line, line);
  if (!s.ok()) return s;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) s = Status::Error("rule '" + r.name + "' (" + std::string(info->name) + ") needs " + what);
  };
  if (r.metric == Metric::kStatusShare) need(r.status != 0, "'status', the final status to count (e.g. 503)");
  if (r.metric == Metric::kPrefixCalls) need(!r.prefixes.empty(), "'prefixes', e.g. [\"900\", \"+881\"]");
  if (r.metric == Metric::kOffHoursCalls) need(has_hours, "'hours', the allowed hours, e.g. \"08:00-20:00\"");
  if (r.metric == Metric::kShortCalls) need(r.max_duration_s > 0, "'max_duration' in seconds, e.g. 5");
  if (r.by == KeyKind::kCalleePrefix) need(r.prefix_len > 0, "'prefix_len' for by = \"callee_prefix\"");
  if (r.metric == Metric::kScanner) need(!r.user_agents.empty(), "'user_agents'");
  if (r.metric == Metric::kRequestRate) need(!r.methods.empty(), "'methods'");
  if (r.action == "command") need(!r.command.empty(), "'command' for action = \"command\"");
  if (!r.action.empty() && r.by != KeyKind::kSrcIp && r.by != KeyKind::kDstIp) {
    s = Status::Error("rule '" + r.name + "': action = \"" + r.action +
                      "\" acts on an address: the rule needs by = \"src_ip\" (or \"dst_ip\")");
  }
  if (!s.ok()) return s;
  *rule = std::move(r);
  return Status::Ok();
}

std::vector<Rule> DefaultRules() {
  auto rule = [](std::string name, Metric metric, KeyKind by, int64_t window, double fire,
                 double resolve, std::string severity) {
    Rule r;
    r.name = std::move(name);
    r.metric = metric;
    r.by = by;
    r.window_s = window;
    r.fire = fire;
    r.resolve = resolve;
    r.severity = std::move(severity);
    r.builtin = true;
    return r;
  };
  std::vector<Rule> rules;
  Rule scanner = rule("sip-scanner", Metric::kScanner, KeyKind::kSrcIp, 60, 1, 0, "warning");
  scanner.user_agents = kScannerAgents;
  rules.push_back(std::move(scanner));
  Rule extensions = rule("extension-scan", Metric::kNotFoundShare, KeyKind::kSrcIp, 60, 50, 10, "warning");
  extensions.min_samples = 20;
  rules.push_back(std::move(extensions));
  rules.push_back(rule("password-guessing", Metric::kRegisterFailures, KeyKind::kSrcIp, 60, 20, 5, "critical"));
  rules.push_back(rule("password-guessing-user", Metric::kRegisterFailures, KeyKind::kCaller, 60, 20, 5, "critical"));
  Rule flood = rule("request-flood", Metric::kRequestRate, KeyKind::kSrcIp, 10, 2000, 500, "warning");
  flood.methods = {"INVITE", "REGISTER"};
  rules.push_back(std::move(flood));
  rules.push_back(rule("malformed-sip", Metric::kMalformed, KeyKind::kSrcIp, 60, 100, 0, "warning"));
  rules.push_back(rule("capture-drops", Metric::kKernelDrops, KeyKind::kSensor, 60, 100, 0, "critical"));
  rules.push_back(rule("sensor-silent", Metric::kSensorSilent, KeyKind::kSensor, 60, 600, 0, "critical"));
  rules.push_back(rule("store-spill", Metric::kStoreSpill, KeyKind::kSensor, 60, 1, 0, "critical"));
  return rules;
}

Status ParseAlertsField(const Field& f, AlertsConfig* c) {
  int64_t n = 0;
  Status s;
  if (f.key == "defaults") {
    s = GetBool(f, &c->defaults);
  } else if (f.key == "webhook" || f.key == "alertmanager") {
    std::string url;
    s = GetString(f, &url);
    if (s.ok() && !url.starts_with("http://")) {
      s = Status::Error("'" + f.key + "' must be an http:// URL, e.g. \"http://127.0.0.1:9093\"" +
                        (url.starts_with("https://") ? " (HTTPS is not supported: use a local relay)" : ""));
    }
    if (s.ok()) (f.key == "webhook" ? c->webhook : c->alertmanager) = url;
  } else if (f.key == "syslog") {
    s = GetBool(f, &c->syslog);
  } else if (f.key == "allow") {
    s = GetList(f, &c->allow);
    stats::LocalNets check;
    for (size_t i = 0; s.ok() && i < c->allow.size(); ++i) s = check.AddList(c->allow[i]);
    if (!s.ok()) s = Status::Error("'allow': " + s.message());
  } else if (f.key == "nft_set") {
    s = GetString(f, &c->nft_set);
    size_t words = 0;
    bool in_word = false;
    for (char ch : c->nft_set) {
      if (ch == ' ') {
        in_word = false;
      } else if (!in_word) {
        in_word = true;
        ++words;
      }
      if (s.ok() && !IsAlnum(ch) && ch != '_' && ch != '-' && ch != ' ') {
        s = Status::Error("'nft_set' may hold letters, digits, '_' and '-' only");
      }
    }
    if (s.ok() && words != 3) {
      s = Status::Error("'nft_set' must be \"FAMILY TABLE SET\", e.g. \"inet sipman blocklist\"");
    }
  } else if (f.key == "block_timeout") {
    s = GetInt(f, 1, 365 * 86400, &c->block_timeout_s);
  } else if (f.key == "queue") {
    s = GetInt(f, 1, 1'000'000, &n);
    c->queue = static_cast<size_t>(n);
  } else {
    s = Status::Error("unknown setting '" + f.key +
                      "' in [alerts] (known: defaults, webhook, alertmanager, syslog, allow, "
                      "nft_set, block_timeout, queue)");
  }
  return s;
}

Status FinishAlertsConfig(std::vector<Rule> file_rules, AlertsConfig* c) {
  std::vector<Rule> rules;
  if (c->defaults) rules = DefaultRules();
  std::set<std::string> names;
  for (Rule& r : file_rules) {
    if (!names.insert(r.name).second) {
      return Status::Error("two rules are named '" + r.name + "': names must be unique");
    }
    auto same = std::find_if(rules.begin(), rules.end(), [&](const Rule& d) { return d.name == r.name; });
    if (same != rules.end()) {
      *same = std::move(r);
    } else {
      rules.push_back(std::move(r));
    }
  }
  c->rules.clear();
  for (Rule& r : rules) {
    if (r.enabled) c->rules.push_back(std::move(r));
  }
  return Status::Ok();
}

}  // namespace sipman::alerts
