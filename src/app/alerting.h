// Private to app: the alert rules wired into the pipeline. The correlator
// feeds the engine (alerts::Engine) with every message, call start and end,
// and the capture's health; each alert change is stored, published to the
// live feed, and handed to the notifier (webhook, Alertmanager, syslog,
// block and command actions) when one is configured.
#ifndef SIPMAN_APP_ALERTING_H_
#define SIPMAN_APP_ALERTING_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "alerts/alerts.h"
#include "alerts/notify.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {

class Alerting : public alerts::AlertSink {
 public:
  // `store` must outlive it; `sensor` names the alerts of events without a
  // sensor of their own. `log` (may be null) gets one line per failure and
  // action.
  Alerting(alerts::AlertsConfig config, store::Store* store, std::string sensor,
           std::function<void(const std::string&)> log);
  ~Alerting() override;

  // Starts the notifier when the configuration asks for one.
  Status Start();
  // Sends the notifications still queued (bounded) and stops.
  void Stop();

  alerts::Engine& engine() { return engine_; }
  const std::string& sensor() const { return sensor_; }
  void set_live(web::LiveFeed* live) { live_ = live; }
  // Keep GET /api/v1/alerts/rules' answer fresh (once a second of capture
  // time, from AdvanceTime).
  void set_publish_rules(bool on) { publish_rules_ = on; }

  // Engine time; the rules' snapshot for the web. Engine thread only.
  void AdvanceTime(TimestampNs now);

  void OnAlert(const alerts::Alert& alert) override;

  // Thread-safe.
  std::string RulesJson() const;
  // Prometheus text: sipman_alerts_firing{rule,severity} and the counters.
  void AppendMetrics(std::string* out) const;
  uint64_t fired() const;
  uint64_t resolved() const;
  alerts::NotifyCounters notify_counters() const;

 private:
  std::string BuildRulesJson(TimestampNs now);

  const alerts::AlertsConfig config_;
  store::Store* store_;
  std::string sensor_;
  std::function<void(const std::string&)> log_;
  alerts::Engine engine_;
  std::unique_ptr<alerts::Notifier> notifier_;
  web::LiveFeed* live_ = nullptr;
  bool publish_rules_ = false;
  TimestampNs last_rules_s_ = 0;

  mutable std::mutex mu_;
  std::string rules_json_;
  std::map<std::string, std::pair<std::string, int64_t>> firing_by_rule_;  // rule -> severity, count
  uint64_t fired_ = 0, resolved_ = 0;
  alerts::EngineCounters engine_counters_;  // as of the last second
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_ALERTING_H_
