#include "alerts/notify.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/json_escape.h"

extern char** environ;

namespace sipman::alerts {
namespace {

constexpr auto kAlertmanagerResend = std::chrono::seconds(60);

void AppendString(std::string_view text, std::string* out) {
  AppendJsonString(text, JsonEscapeStyle{JsonEscapeStyle::InvalidUtf8::kLatin1, false},
                   [&](std::string_view part) { out->append(part); });
}

std::string IsoTime(TimestampNs ts) {
  time_t secs = static_cast<time_t>(ts / kNsPerSecond);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((ts % kNsPerSecond) / 1000000));
  return buf;
}

// One Alertmanager alert (API v2 postableAlert).
void AppendAlertmanagerAlert(const Alert& a, std::string* out) {
  const MetricInfo& info = InfoOf(a.metric);
  *out += "{\"labels\":{\"alertname\":";
  AppendString(a.rule, out);
  *out += ",\"severity\":";
  AppendString(a.severity, out);
  *out += ",\"metric\":";
  AppendString(info.name, out);
  *out += ",\"category\":";
  AppendString(info.category, out);
  *out += ",\"by\":";
  AppendString(KeyName(a.by), out);
  *out += ",\"key\":";
  AppendString(a.key, out);
  *out += ",\"sensor\":";
  AppendString(a.sensor, out);
  *out += ",\"job\":\"sipman\"},\"annotations\":{\"summary\":";
  AppendString(a.rule + ": " + std::string(info.name) + " of " + std::string(KeyName(a.by)) + " " +
                   a.key + " is " + FormatNumber(a.value) + " (threshold " +
                   FormatNumber(a.threshold) + ")",
               out);
  *out += ",\"value\":";
  AppendString(FormatNumber(a.value), out);
  *out += ",\"threshold\":";
  AppendString(FormatNumber(a.threshold), out);
  *out += ",\"evidence\":";
  std::string evidence;
  for (const std::string& e : a.evidence) evidence += (evidence.empty() ? "" : " ") + e;
  AppendString(evidence, out);
  *out += "},\"startsAt\":";
  AppendString(IsoTime(a.fired_at), out);
  if (!a.firing) {
    *out += ",\"endsAt\":";
    AppendString(IsoTime(a.resolved_at), out);
  }
  *out += "}";
}

std::string FiringKey(const Alert& a) {
  return a.rule + '\x1f' + a.key + '\x1f' + std::to_string(a.fired_at) + '\x1f' + a.sensor;
}

// Runs argv (no shell unless argv says so), waiting `timeout_ms` at most;
// *output gets what it wrote to stderr and stdout (the first 1 KiB).
bool RunCommand(const std::vector<std::string>& args, const std::vector<std::string>& env_extra,
                int timeout_ms, std::string* output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *output = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const std::string& e : env_extra) env_strings.push_back(e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    *output = "cannot run " + args[0] + ": " + std::strerror(rc);
    return false;
  }
  output->clear();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[512];
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n <= 0) break;
    if (output->size() < 1024) output->append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!output->empty() && (output->back() == '\n' || output->back() == ' ')) output->pop_back();
  if (timed_out) {
    *output = args[0] + " did not finish within " + std::to_string(timeout_ms / 1000) + " s";
    return false;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status))
                                              : "was killed";
    *output = args[0] + " " + how + (output->empty() ? "" : ": " + *output);
    return false;
  }
  return true;
}

}  // namespace

bool HttpPostJson(const std::string& url, const std::string& body, int timeout_ms,
                  std::string* error) {
  std::string_view rest = url;
  if (!rest.starts_with("http://")) {
    *error = "not an http:// URL: " + url;
    return false;
  }
  rest.remove_prefix(7);
  const size_t slash = rest.find('/');
  std::string hostport(rest.substr(0, slash));
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  std::string host = hostport, port = "80";
  if (!hostport.empty() && hostport[0] == '[') {
    const size_t close = hostport.find(']');
    host = hostport.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < hostport.size() && hostport[close + 1] == ':') {
      port = hostport.substr(close + 2);
    }
  } else if (const size_t colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return false;
  }
  int fd = -1;
  std::string last = "no address";
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      ::close(fd);
      fd = -1;
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (::poll(&p, 1, timeout_ms) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
        soerr != 0) {
      last = soerr != 0 ? std::strerror(soerr) : "timed out";
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    *error = "cannot connect to " + hostport + ": " + last;
    return false;
  }
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + hostport +
                        "\r\nUser-Agent: sipman\r\nContent-Type: application/json\r\n"
                        "Content-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < request.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) break;
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  while (sent == request.size() && answer.find("\r\n") == std::string::npos && answer.size() < 4096) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) break;
    char buf[1024];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (sent != request.size()) {
    *error = "cannot send to " + hostport;
    return false;
  }
  // "HTTP/1.1 200 OK"
  const size_t space = answer.find(' ');
  if (!answer.starts_with("HTTP/") || space == std::string::npos || answer.size() < space + 4) {
    *error = "no HTTP answer from " + hostport;
    return false;
  }
  const char klass = answer[space + 1];
  if (klass != '2') {
    *error = url + " answered " + answer.substr(space + 1, answer.find("\r\n") - space - 1);
    return false;
  }
  return true;
}

Notifier::Notifier(const AlertsConfig& config,
                   std::function<void(const Alert&, const std::string&)> on_action,
                   std::function<void(const std::string&)> log)
    : config_(config), on_action_(std::move(on_action)), log_(std::move(log)) {}

Notifier::~Notifier() { Stop(); }

bool Notifier::Wanted(const AlertsConfig& c) {
  if (!c.webhook.empty() || !c.alertmanager.empty() || c.syslog) return true;
  for (const Rule& r : c.rules) {
    if (!r.action.empty()) return true;
  }
  return false;
}

Status Notifier::Start() {
  for (const std::string& item : config_.allow) {
    Status s = allow_.AddList(item);
    if (!s.ok()) return Status::Error("[alerts] allow: " + s.message());
  }
  if (config_.syslog) ::openlog("sipman", LOG_PID, LOG_DAEMON);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Notifier::Notify(const Alert& alert, std::string json) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || queue_.size() >= config_.queue) {
    ++counters_.dropped;
    return;
  }
  ++counters_.queued;
  queue_.push_back(Job{alert, std::move(json)});
  cv_.notify_one();
}

void Notifier::Stop(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    deadline_ = std::chrono::steady_clock::now() + timeout;
    cv_.notify_one();
  }
  thread_.join();
}

NotifyCounters Notifier::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void Notifier::Count(uint64_t NotifyCounters::* field) {
  std::lock_guard<std::mutex> lock(mu_);
  ++(counters_.*field);
}

void Notifier::Run() {
  auto next_resend = std::chrono::steady_clock::now() + kAlertmanagerResend;
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_resend, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_ && (queue_.empty() || std::chrono::steady_clock::now() > deadline_)) {
        counters_.dropped += queue_.size();
        queue_.clear();
        return;
      }
      if (queue_.empty()) {
        lock.unlock();
        std::vector<const Alert*> all;
        for (const auto& [key, a] : firing_) all.push_back(&a);
        if (!config_.alertmanager.empty() && !all.empty()) SendAlertmanager(all);
        next_resend = std::chrono::steady_clock::now() + kAlertmanagerResend;
        continue;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Deliver(job);
  }
}

void Notifier::Deliver(const Job& job) {
  const Alert& a = job.alert;
  if (a.firing && !a.action.empty()) Act(a);
  if (!config_.webhook.empty()) {
    std::string body = "{\"version\":1,\"alert\":" + job.json + "}";
    std::string error;
    bool ok = false;
    for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
      if (attempt > 0) {
        std::unique_lock<std::mutex> lock(mu_);
        if (stopping_ && std::chrono::steady_clock::now() > deadline_) break;
        cv_.wait_for(lock, std::chrono::milliseconds(500 << attempt));
      }
      ok = HttpPostJson(config_.webhook, body, 2000, &error);
    }
    Count(ok ? &NotifyCounters::webhook_sent : &NotifyCounters::webhook_failed);
    if (!ok && log_) log_("alerts: webhook not told of " + a.rule + " " + a.key + ": " + error);
  }
  if (!config_.alertmanager.empty()) {
    const std::string key = FiringKey(a);
    if (a.firing) {
      firing_[key] = a;
    } else {
      firing_.erase(key);
    }
    SendAlertmanager({&a});
  }
  if (config_.syslog) {
    const int priority = a.severity == "critical" ? LOG_CRIT : a.severity == "info" ? LOG_INFO : LOG_WARNING;
    ::syslog(priority, "alert %s %s: %s of %s %s is %s (threshold %s)%s", a.rule.c_str(),
             a.firing ? "firing" : "resolved", std::string(MetricName(a.metric)).c_str(),
             std::string(KeyName(a.by)).c_str(), a.key.c_str(),
             FormatNumber(a.firing ? a.value : a.resolved_value).c_str(),
             FormatNumber(a.firing ? a.threshold : a.resolve_threshold).c_str(), a.sensor.empty() ? "" : (" sensor " + a.sensor).c_str());
    Count(&NotifyCounters::syslog_sent);
  }
}

void Notifier::SendAlertmanager(const std::vector<const Alert*>& alerts) {
  std::string body = "[";
  for (const Alert* a : alerts) {
    if (body.size() > 1) body += ",";
    AppendAlertmanagerAlert(*a, &body);
  }
  body += "]";
  std::string url = config_.alertmanager;
  while (!url.empty() && url.back() == '/') url.pop_back();
  std::string error;
  const bool ok = HttpPostJson(url + "/api/v2/alerts", body, 2000, &error);
  Count(ok ? &NotifyCounters::alertmanager_sent : &NotifyCounters::alertmanager_failed);
  if (!ok && log_) log_("alerts: Alertmanager not told: " + error);
}

void Notifier::Act(const Alert& a) {
  std::string result;
  const std::string address = a.address.family == IpAddress::Family::kNone ? "" : a.address.ToString();
  if (address.empty()) {
    result = a.action + ": no address to act on (key " + a.key + ")";
  } else if (allow_.Contains(a.address)) {
    Count(&NotifyCounters::allowed_not_blocked);
    result = a.action + ": " + address + " is on the allow list, not acted on";
  } else if (a.action == "block") {
    // "inet sipman blocklist" -> nft add element inet sipman blocklist { ADDR timeout Ns }
    std::vector<std::string> args = {"nft", "add", "element"};
    std::string words = config_.nft_set;
    size_t at = 0;
    for (int i = 0; i < 3; ++i) {
      const size_t start = words.find_first_not_of(' ', at);
      const size_t end = words.find(' ', start);
      std::string word = words.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (i == 2 && a.address.is_v6()) word += "6";
      args.push_back(word);
      at = end;
    }
    args.push_back("{ " + address + " timeout " + std::to_string(config_.block_timeout_s) + "s }");
    std::string output;
    if (RunCommand(args, {}, 5000, &output)) {
      Count(&NotifyCounters::blocked);
      result = "nft: added " + address + " to " + args[3] + " " + args[4] + " " + args[5] +
               " timeout " + std::to_string(config_.block_timeout_s) + "s";
    } else {
      Count(&NotifyCounters::block_failed);
      result = "nft failed: " + output;
    }
  } else if (a.action == "command") {
    std::string command;
    for (const Rule& r : config_.rules) {
      if (r.name == a.rule) command = r.command;
    }
    for (size_t p; (p = command.find("{address}")) != std::string::npos;) command.replace(p, 9, address);
    std::string output;
    const std::vector<std::string> env = {"SIPMAN_ALERT_RULE=" + a.rule, "SIPMAN_ALERT_KEY=" + a.key,
                                          "SIPMAN_ALERT_ADDRESS=" + address,
                                          "SIPMAN_ALERT_VALUE=" + FormatNumber(a.value)};
    if (RunCommand({"/bin/sh", "-c", command}, env, 10000, &output)) {
      Count(&NotifyCounters::commands_run);
      result = "command ran for " + address + (output.empty() ? "" : ": " + output.substr(0, 200));
    } else {
      Count(&NotifyCounters::commands_failed);
      result = "command failed: " + output;
    }
  }
  if (log_ && !result.empty()) log_("alerts: " + a.rule + " " + a.key + ": " + result);
  if (on_action_) on_action_(a, result);
}

}  // namespace sipman::alerts
