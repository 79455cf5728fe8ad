#include "app/alerting.h"

#include "web/json.h"
#include "web/resources.h"

namespace sipman::app {
namespace {

std::string_view UnitOf(const alerts::MetricInfo& m) {
  switch (m.value) {
    case alerts::ValueKind::kRatio: return "%";
    case alerts::ValueKind::kPercentile: return "ms";
    case alerts::ValueKind::kRate: return "/s";
    case alerts::ValueKind::kSilence: return "s";
    case alerts::ValueKind::kMean: return m.metric == alerts::Metric::kLoss ? "%" : "";
    default: return "";
  }
}

}  // namespace

Alerting::Alerting(alerts::AlertsConfig config, store::Store* store, std::string sensor,
                   std::function<void(const std::string&)> log)
    : config_(std::move(config)),
      store_(store),
      sensor_(std::move(sensor)),
      log_(std::move(log)),
      engine_(config_.rules, this) {
  for (const alerts::Rule& r : config_.rules) firing_by_rule_[r.name] = {r.severity, 0};
}

Alerting::~Alerting() { Stop(); }

Status Alerting::Start() {
  if (!alerts::Notifier::Wanted(config_)) return Status::Ok();
  notifier_ = std::make_unique<alerts::Notifier>(
      config_,
      [this](const alerts::Alert& alert, const std::string& result) {
        // The action's outcome joins the alert's row (store is thread-safe).
        store::AlertRow row = store::AlertRowOf(alert, sensor_);
        row.action_result = result;
        store_->AddAlert(std::move(row));
      },
      log_);
  return notifier_->Start();
}

void Alerting::Stop() {
  if (notifier_) notifier_->Stop();
}

void Alerting::AdvanceTime(TimestampNs now) {
  engine_.AdvanceTime(now);
  const TimestampNs second = now / kNsPerSecond;
  if (second == last_rules_s_) return;
  // Once a second of capture time: what the web and /metrics read.
  last_rules_s_ = second;
  std::string json = publish_rules_ ? BuildRulesJson(now) : std::string();
  std::lock_guard<std::mutex> lock(mu_);
  engine_counters_ = engine_.counters();
  if (publish_rules_) rules_json_ = std::move(json);
}

void Alerting::OnAlert(const alerts::Alert& alert) {
  store::AlertRow row = store::AlertRowOf(alert, sensor_);
  std::string json;
  if (live_ != nullptr || notifier_) json = web::AlertJson(row);
  store_->AddAlert(std::move(row));
  if (live_ != nullptr) live_->PublishAlert(json);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& [severity, count] = firing_by_rule_[alert.rule];
    count += alert.firing ? 1 : -1;
    (alert.firing ? fired_ : resolved_)++;
  }
  if (log_) {
    log_("alert " + alert.rule + " " + (alert.firing ? "firing" : "resolved") + ": " +
         std::string(alerts::MetricName(alert.metric)) + " of " + alert.key + " is " +
         alerts::FormatNumber(alert.firing ? alert.value : alert.resolved_value) + " (threshold " +
         alerts::FormatNumber(alert.firing ? alert.threshold : alert.resolve_threshold) + ")");
  }
  if (notifier_) notifier_->Notify(alert, std::move(json));
}

std::string Alerting::BuildRulesJson(TimestampNs now) {
  web::JsonWriter w;
  w.BeginObject().Field("live", true).Key("rules").BeginArray();
  for (const alerts::RuleStatus& st : engine_.RuleStatuses(now)) {
    const alerts::Rule& r = *st.rule;
    const alerts::MetricInfo& m = alerts::InfoOf(r.metric);
    w.BeginObject().Field("name", r.name).Field("metric", m.name).Field("category", m.category);
    w.Field("by", alerts::KeyName(r.by)).Field("window_s", r.window_s);
    w.Field("min_samples", r.min_samples).Field("fire", r.fire).Field("resolve", r.resolve);
    w.Field("direction", m.direction == alerts::Direction::kAbove ? "above" : "below");
    w.Field("unit", UnitOf(m)).Field("severity", r.severity).Field("action", r.action);
    w.Field("builtin", r.builtin).Field("keys", static_cast<uint64_t>(st.keys));
    w.Field("firing", static_cast<uint64_t>(st.firing)).Field("worst_key", st.worst_key);
    w.Key("worst_value");
    if (st.has_value) {
      w.Double(st.worst_value);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.str();
}

std::string Alerting::RulesJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (rules_json_.empty()) return "{\"live\":true,\"rules\":[]}";
  return rules_json_;
}

uint64_t Alerting::fired() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fired_;
}

uint64_t Alerting::resolved() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resolved_;
}

alerts::NotifyCounters Alerting::notify_counters() const {
  return notifier_ ? notifier_->counters() : alerts::NotifyCounters{};
}

void Alerting::AppendMetrics(std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  *out += "# HELP sipman_alerts_firing Alerts firing now, per rule.\n"
          "# TYPE sipman_alerts_firing gauge\n";
  for (const auto& [rule, v] : firing_by_rule_) {
    *out += "sipman_alerts_firing{rule=\"" + rule + "\",severity=\"" + v.first + "\"} " +
            std::to_string(v.second) + "\n";
  }
  *out += "# HELP sipman_alerts_fired_total Alerts fired since start.\n"
          "# TYPE sipman_alerts_fired_total counter\n"
          "sipman_alerts_fired_total " + std::to_string(fired_) + "\n";
  *out += "# HELP sipman_alerts_resolved_total Alerts resolved since start.\n"
          "# TYPE sipman_alerts_resolved_total counter\n"
          "sipman_alerts_resolved_total " + std::to_string(resolved_) + "\n";
#define SIPMAN_ENGINE_METRIC(name, help)                                                  \
  *out += "# HELP sipman_alert_engine_" #name "_total " help ".\n# TYPE sipman_alert_engine_" #name \
          "_total counter\nsipman_alert_engine_" #name "_total " + std::to_string(engine_counters_.name) + "\n";
  SIPMAN_ALERT_COUNTERS(SIPMAN_ENGINE_METRIC)
#undef SIPMAN_ENGINE_METRIC
  if (notifier_) {
    const alerts::NotifyCounters c = notifier_->counters();
#define SIPMAN_NOTIFY_METRIC(name, help)                                                  \
  *out += "# HELP sipman_alert_notify_" #name "_total " help ".\n# TYPE sipman_alert_notify_" #name \
          "_total counter\nsipman_alert_notify_" #name "_total " + std::to_string(c.name) + "\n";
    SIPMAN_NOTIFY_COUNTERS(SIPMAN_NOTIFY_METRIC)
#undef SIPMAN_NOTIFY_METRIC
  }
}

}  // namespace sipman::app
