// Alert rules over the traffic (docs/ALERTS.md): each rule measures one
// metric over a sliding window, grouped by a key (a source IP, a callee
// domain, a user, ...), and fires when the value crosses its threshold with
// enough samples, resolving past a second threshold (hysteresis).
//
// The engine is fed by the pipeline's events (messages, call starts and
// ends, capture health) in capture time, so that a capture analysed after
// the fact gives the same alerts as the live traffic did. Work per event is
// O(1) per rule; memory is bounded by each group's max_keys (the least
// recently active keys are evicted and counted).
//
// Notifications and control actions (notify.h) sit behind AlertSink.
#ifndef SIPMAN_ALERTS_ALERTS_H_
#define SIPMAN_ALERTS_ALERTS_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/base.h"
#include "base/ip_address.h"
#include "base/status.h"
#include "calls/calls.h"

namespace sipman::alerts {

// Every metric a rule may measure, declared once: X(enum, name, source,
// value, direction, category, help). Source: the events that feed it.
// Value: how a window becomes a number. Direction: whether a high value
// (kAbove) or a low one (kBelow) is bad.
#define SIPMAN_ALERT_METRICS(X)                                                                  \
  X(kAsr, "asr", kCallEnd, kRatio, kBelow, "quality",                                           \
    "answer-seizure ratio: answered calls / ended calls, %")                                    \
  X(kNer, "ner", kCallEnd, kRatio, kBelow, "quality",                                           \
    "network effectiveness: calls answered, busy, not answered, declined or cancelled / ended " \
    "calls, %")                                                                                 \
  X(kPddP95, "pdd_p95", kCallEnd, kPercentile, kAbove, "quality",                               \
    "95th percentile of post-dial delay (INVITE to first 18x, else final), ms")                 \
  X(kStatusShare, "status_share", kCallEnd, kRatio, kAbove, "quality",                          \
    "calls ended with final status `status` / ended calls, %")                                  \
  X(kMos, "mos", kCallEnd, kMean, kBelow, "quality",                                            \
    "mean of the calls' lowest MOS (calls with measured RTP)")                                  \
  X(kLoss, "loss", kCallEnd, kMean, kAbove, "quality",                                          \
    "mean RTP loss of the calls' worse direction, % (calls with measured RTP)")                 \
  X(kOneWayShare, "one_way_share", kCallEnd, kRatio, kAbove, "quality",                         \
    "answered calls with RTP one way only or none / answered calls with media analysed, %")     \
  X(kRegisterFailures, "register_failures", kMessage, kDifference, kAbove, "security",         \
    "REGISTER with credentials answered 401/403/407, minus REGISTER answered 2xx, in the window") \
  X(kRequestRate, "request_rate", kMessage, kRate, kAbove, "security",                          \
    "requests per second (of `methods`, default INVITE and REGISTER)")                          \
  X(kNotFoundShare, "not_found_share", kMessage, kRatio, kAbove, "security",                    \
    "404 responses / final responses to the key's requests, %")                                 \
  X(kScanner, "scanner", kMessage, kCount, kAbove, "security",                                  \
    "requests whose User-Agent names a scanner (`user_agents`)")                                \
  X(kMalformed, "malformed", kMessage, kCount, kAbove, "security",                              \
    "malformed SIP messages")                                                                   \
  X(kConcurrentCalls, "concurrent_calls", kCallStart, kGauge, kAbove, "fraud",                  \
    "calls up at the same time")                                                                \
  X(kPrefixCalls, "prefix_calls", kCallStart, kCount, kAbove, "fraud",                          \
    "calls to a number starting with one of `prefixes`")                                        \
  X(kOffHoursCalls, "off_hours_calls", kCallStart, kCount, kAbove, "fraud",                     \
    "calls started outside `hours`")                                                            \
  X(kShortCalls, "short_calls", kCallEnd, kCount, kAbove, "fraud",                              \
    "calls answered or cancelled within `max_duration` seconds of their INVITE (Wangiri)")     \
  X(kKernelDrops, "kernel_drops", kHealth, kCount, kAbove, "health",                            \
    "packets the kernel or interface dropped")                                                  \
  X(kSensorSilent, "sensor_silent", kHealth, kSilence, kAbove, "health",                        \
    "seconds since the sensor's last SIP message")                                              \
  X(kStoreSpill, "store_spill", kHealth, kCount, kAbove, "health",                              \
    "rows the store set aside on disk because the database could not take them")

enum class Metric : uint8_t {
#define SIPMAN_ALERT_METRIC_ENUM(e, name, source, value, direction, category, help) e,
  SIPMAN_ALERT_METRICS(SIPMAN_ALERT_METRIC_ENUM)
#undef SIPMAN_ALERT_METRIC_ENUM
};

// The events a metric is fed by.
enum class Source : uint8_t { kMessage, kCallStart, kCallEnd, kHealth };
// How a window's samples become the rule's value.
enum class ValueKind : uint8_t {
  kRatio,       // 100 * hits / samples
  kMean,        // sum of values / samples
  kPercentile,  // 95th percentile of the samples
  kCount,       // hits in the window
  kRate,        // hits per second of window
  kDifference,  // hits - samples, at least 0
  kGauge,       // a level now (not windowed)
  kSilence,     // seconds since the key's last event
};
enum class Direction : uint8_t { kAbove, kBelow };

struct MetricInfo {
  Metric metric;
  std::string_view name;
  Source source;
  ValueKind value;
  Direction direction;
  std::string_view category;  // "quality", "security", "fraud", "health"
  std::string_view help;
};
std::span<const MetricInfo> Metrics();
const MetricInfo& InfoOf(Metric metric);

// What a rule groups its samples by. X(enum, name, help).
#define SIPMAN_ALERT_KEYS(X)                                                       \
  X(kAll, "all", "one group for all traffic")                                     \
  X(kSrcIp, "src_ip", "the address requests came from (a response's destination)") \
  X(kDstIp, "dst_ip", "the address requests went to")                             \
  X(kIpPair, "ip_pair", "source and destination address")                         \
  X(kSensor, "sensor", "the sensor that saw it")                                  \
  X(kCaller, "caller", "the From user")                                           \
  X(kCallee, "callee", "the called number (request-URI user, else To user)")      \
  X(kCalleeDomain, "callee_domain", "the To domain")                              \
  X(kCalleePrefix, "callee_prefix", "the first `prefix_len` characters of the callee")

enum class KeyKind : uint8_t {
#define SIPMAN_ALERT_KEY_ENUM(e, name, help) e,
  SIPMAN_ALERT_KEYS(SIPMAN_ALERT_KEY_ENUM)
#undef SIPMAN_ALERT_KEY_ENUM
};
std::string_view KeyName(KeyKind kind);

// One rule, checked (ParseRule). Thresholds are in the metric's unit.
struct Rule {
  std::string name;
  Metric metric = Metric::kScanner;
  KeyKind by = KeyKind::kSrcIp;
  int prefix_len = 0;           // kCalleePrefix
  int64_t window_s = 60;        // sliding window (10 buckets of window_s / 10)
  int64_t min_samples = 1;      // ratio, mean, percentile: samples needed to fire
  double fire = 0;              // fires at this value or beyond
  double resolve = 0;           // resolves at this value or back (kAbove: <=; kBelow: >=)
  std::string severity = "warning";  // "info", "warning", "critical"
  // Control (opt-in): "block" puts a source address key into the nftables
  // set, "command" runs `command` with it; "" does nothing.
  std::string action;
  std::string command;
  bool enabled = true;
  bool builtin = false;         // one of DefaultRules()
  size_t max_keys = 10000;      // keys held at once; the least active go first
  // Metric parameters.
  int status = 0;                          // status_share
  std::vector<std::string> prefixes;       // prefix_calls (digits, '+' allowed first)
  std::vector<std::string> user_agents;    // scanner (case-insensitive substrings)
  std::vector<std::string> methods;        // request_rate
  int hours_from_min = 0, hours_to_min = 0;  // off_hours_calls: allowed [from, to), minutes
  int utc_offset_min = 0;                  // off_hours_calls: local time = UTC + offset
  int64_t max_duration_s = 0;              // short_calls
};

// A rule as written in the configuration: key = value pairs with the line
// each came from (0 when unknown), so that errors can name it.
using FieldValue = std::variant<bool, int64_t, double, std::string, std::vector<std::string>>;
struct Field {
  std::string key;
  FieldValue value;
  size_t line = 0;
};

// Builds a rule from its fields, with the defaults of its metric. The error
// names the field and says what it must be: an unknown field, a key the
// metric cannot be grouped by, a threshold out of the metric's range or on
// the wrong side of the other, a prefix that is not a number. *line is set
// to the field's line (0: the rule as a whole).
Status ParseRule(std::span<const Field> fields, Rule* rule, size_t* line);

// The rules on by default: security and capture health, with thresholds
// ordinary traffic does not reach (docs/ALERTS.md lists them).
std::vector<Rule> DefaultRules();

// The [alerts] table: notifications and control.
struct AlertsConfig {
  bool defaults = true;   // the built-in rules (a [[rule]] with the same name replaces one)
  std::vector<Rule> rules;  // every rule that runs: defaults first, then the file's
  std::string webhook;       // http://host:port/path: JSON POST per change
  std::string alertmanager;  // http://host:port: Alertmanager's API v2
  bool syslog = false;       // LOG_DAEMON, warning or critical priority
  std::vector<std::string> allow;  // CIDRs never blocked
  std::string nft_set = "inet sipman blocklist";  // family table set
  int64_t block_timeout_s = 3600;
  size_t queue = 1000;       // notifications waiting at most; past it they are dropped, counted
};
Status ParseAlertsField(const Field& field, AlertsConfig* config);
// Puts the defaults (when on) before the file's rules; a file rule named
// like a default replaces it. Checks names are unique.
Status FinishAlertsConfig(std::vector<Rule> file_rules, AlertsConfig* config);

// Events. Views are valid during the call only.
struct MessageEvent {
  TimestampNs ts = 0;
  IpAddress src_ip, dst_ip;  // as captured
  bool is_request = false;
  std::string_view method;       // requests
  int status = 0;                // responses
  std::string_view cseq_method;
  std::string_view user_agent;
  std::string_view from_user, to_user, ruri_user, to_domain;
  std::string_view call_id;
  std::string_view sensor;
  bool malformed = false;        // unreadable, or parsed with a malformed flag
  // A response to a REGISTER that carried Authorization or
  // Proxy-Authorization: its 401, 403 or 407 says the credentials were wrong.
  bool to_credentials = false;
};

struct CallStartEvent {
  TimestampNs ts = 0;
  IpAddress src_ip, dst_ip;
  std::string_view caller, callee, callee_domain, call_id, sensor;
};

struct HealthEvent {
  TimestampNs ts = 0;
  std::string_view sensor;
  uint64_t kernel_drops = 0;  // since the previous event
  uint64_t spilled_rows = 0;  // since the previous event
};

// A change of an alert: it fired, or it resolved.
struct Alert {
  std::string rule;
  Metric metric = Metric::kScanner;
  KeyKind by = KeyKind::kAll;
  std::string key;       // the key as text ("192.0.2.7", "example.com", "all")
  std::string severity;
  bool firing = true;    // false: resolved
  TimestampNs fired_at = 0;
  TimestampNs resolved_at = 0;  // 0 while firing
  double value = 0;      // when it fired
  double threshold = 0;  // the fire threshold
  double resolved_value = 0;     // when it resolved (0 while firing)
  double resolve_threshold = 0;  // the rule's resolve threshold
  std::vector<std::string> evidence;  // Call-IDs, or source addresses for user keys
  std::string sensor;
  std::string action;    // the rule's action ("" none)
  IpAddress address;     // the key's address, when it is one (kSrcIp, kDstIp)
};
std::string_view MetricName(Metric metric);
// A threshold or value as people write it: 40, 3.6, 0.25.
std::string FormatNumber(double v);

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void OnAlert(const Alert& alert) = 0;
};

#define SIPMAN_ALERT_COUNTERS(X)                                          \
  X(events, "events the rules were fed")                                 \
  X(fired, "alerts fired")                                               \
  X(resolved, "alerts resolved")                                         \
  X(keys_evicted, "keys evicted because a rule held max_keys of them")   \
  X(firing_evicted, "firing alerts resolved because their key was evicted")

struct EngineCounters {
#define SIPMAN_ALERT_COUNTER_FIELD(name, help) uint64_t name = 0;
  SIPMAN_ALERT_COUNTERS(SIPMAN_ALERT_COUNTER_FIELD)
#undef SIPMAN_ALERT_COUNTER_FIELD
};

// A rule's state now, for the API's rule list.
struct RuleStatus {
  const Rule* rule = nullptr;
  size_t keys = 0;
  size_t firing = 0;
  // The key with the worst value now (its value; 0 when no key).
  std::string worst_key;
  double worst_value = 0;
  bool has_value = false;
};

// Single-threaded; events in capture-time order.
class Engine {
 public:
  // `sink` must outlive the engine.
  Engine(std::vector<Rule> rules, AlertSink* sink);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  void OnMessage(const MessageEvent& event);
  void OnCallStart(const CallStartEvent& event);
  // A call's record (it ended, or was emitted at the end of input);
  // `sensor` when the record names none.
  void OnCallEnd(const calls::CallRecord& record, std::string_view sensor = {});
  void OnHealth(const HealthEvent& event);
  // Re-evaluates firing alerts as their windows slide, once per second of
  // capture time.
  void AdvanceTime(TimestampNs now);

  const EngineCounters& counters() const { return counters_; }
  const std::vector<Rule>& rules() const;
  std::vector<RuleStatus> RuleStatuses(TimestampNs now);
  size_t firing() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  EngineCounters counters_;
};

}  // namespace sipman::alerts

#endif  // SIPMAN_ALERTS_ALERTS_H_
