// Notifications and control actions for alert changes, on a thread of their
// own behind a bounded queue: a slow or unreachable receiver never holds up
// capture (a full queue drops the change and counts it).
//
//   webhook       JSON POST of the alert (the API's shape), retried 3 times
//   alertmanager  Prometheus Alertmanager API v2 (POST /api/v2/alerts);
//                 firing alerts are sent again every minute, as
//                 Alertmanager expects, and resolved ones with endsAt
//   syslog        one line per change, LOG_DAEMON
//   block         `nft add element FAMILY TABLE SET { ADDR timeout Ns }`
//                 (IPv6 addresses into SET6), never for an allowed address
//   command       /bin/sh -c COMMAND, {address} replaced by the address,
//                 SIPMAN_ALERT_* in the environment
#ifndef SIPMAN_ALERTS_NOTIFY_H_
#define SIPMAN_ALERTS_NOTIFY_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "alerts/alerts.h"
#include "stats/stats.h"

namespace sipman::alerts {

#define SIPMAN_NOTIFY_COUNTERS(X)                                              \
  X(queued, "alert changes queued for notification")                           \
  X(dropped, "alert changes dropped because the notification queue was full")  \
  X(webhook_sent, "webhook POSTs answered 2xx")                                \
  X(webhook_failed, "webhook POSTs given up after retries")                    \
  X(alertmanager_sent, "Alertmanager POSTs answered 2xx")                      \
  X(alertmanager_failed, "Alertmanager POSTs that failed")                     \
  X(syslog_sent, "syslog lines written")                                       \
  X(blocked, "addresses added to the nftables set")                            \
  X(block_failed, "nft commands that failed")                                  \
  X(allowed_not_blocked, "block actions skipped: the address is on the allow list") \
  X(commands_run, "action commands that exited 0")                             \
  X(commands_failed, "action commands that failed")

struct NotifyCounters {
#define SIPMAN_NOTIFY_COUNTER_FIELD(name, help) uint64_t name = 0;
  SIPMAN_NOTIFY_COUNTERS(SIPMAN_NOTIFY_COUNTER_FIELD)
#undef SIPMAN_NOTIFY_COUNTER_FIELD
};

class Notifier {
 public:
  // on_action(alert, result) is called from the notifier's thread after an
  // action ran (or was refused), with what happened in one line; log(text)
  // for failures. Both may be null.
  Notifier(const AlertsConfig& config,
           std::function<void(const Alert&, const std::string&)> on_action,
           std::function<void(const std::string&)> log);
  ~Notifier();  // Stop()s
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Checks the allow list; then starts the thread.
  Status Start();
  // Queues one change with its JSON (the API's shape, for the webhook).
  // Never waits.
  void Notify(const Alert& alert, std::string json);
  // Sends what is queued (for at most `timeout`) and stops the thread.
  void Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  NotifyCounters counters() const;

  // Whether the configuration asks for anything at all.
  static bool Wanted(const AlertsConfig& config);

 private:
  struct Job {
    Alert alert;
    std::string json;
  };
  void Run();
  void Deliver(const Job& job);
  void Act(const Alert& alert);
  void SendAlertmanager(const std::vector<const Alert*>& alerts);
  void Count(uint64_t NotifyCounters::* field);

  const AlertsConfig config_;
  std::function<void(const Alert&, const std::string&)> on_action_;
  std::function<void(const std::string&)> log_;
  stats::LocalNets allow_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_{};
  NotifyCounters counters_;
  std::thread thread_;
  // Alertmanager: the firing alerts, sent again every minute (thread only).
  std::map<std::string, Alert> firing_;
};

// POSTs `body` (JSON) to an http:// URL; true on a 2xx answer. *error says
// what failed. Connect, send and answer each wait `timeout_ms` at most.
bool HttpPostJson(const std::string& url, const std::string& body, int timeout_ms,
                  std::string* error);

}  // namespace sipman::alerts

#endif  // SIPMAN_ALERTS_NOTIFY_H_
