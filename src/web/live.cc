#include "web/live.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "store/store.h"
#include "web/api_handlers.h"
#include "web/api_util.h"
#include "web/json.h"
#include "web/resources.h"

namespace sipman::web {
namespace {

// What a live stream refused for want of room tells the client to wait.
constexpr int kLiveRetryAfterS = 10;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string TrafficEventJson(const stats::TrafficCounters& c, bool final) {
  JsonWriter w;
  WriteTrafficRow(w, c, final);
  return w.Take();
}

std::string CallEventJson(std::string_view event, const calls::CallRecord& call) {
  JsonWriter w;
  w.BeginObject();
  w.Field("event", event);
  w.Key("call");
  WriteCall(w, call, std::nullopt);
  w.EndObject();
  return w.Take();
}

// GET /api/v1/live: admits the stream (the server then hands the socket to
// the hub); HEAD answers the stream's head alone.
void LiveStream(ApiContext& c) {
  if (c.req.method == "HEAD") {  // the stream's head, and no stream
    c.resp->status = 200;
    c.resp->content_type = "text/event-stream";
    c.resp->AddHeader("Cache-Control", "no-store");
    c.resp->unknown_length = true;
    return;
  }
  switch (c.live->Reserve(c.user)) {
    case LiveHub::Admission::kOk:
      break;
    case LiveHub::Admission::kUserFull:
      c.resp->AddHeader("Retry-After", std::to_string(kLiveRetryAfterS));
      return c.Fail(503, "too many live streams for user " + c.user + " (at most " +
                             std::to_string(c.live->max_clients_per_user()) +
                             "): close one (another browser tab?) or poll GET "
                             "/api/v1/stats/traffic");
    case LiveHub::Admission::kFull:
      c.resp->AddHeader("Retry-After", std::to_string(kLiveRetryAfterS));
      return c.Fail(503, "too many live streams on this server (at most " +
                             std::to_string(c.live->max_clients()) + "); try again later");
  }
  c.resp->event_stream = true;
  c.resp->stream_user = c.user;
}

LiveHub::LiveHub(size_t client_buffer_bytes, size_t max_clients, size_t max_clients_per_user,
                 store::Store* store, bool poll_database)
    : client_buffer_bytes_(client_buffer_bytes),
      max_clients_(max_clients),
      max_clients_per_user_(max_clients_per_user),
      store_(store),
      poll_database_(poll_database) {}

LiveHub::~LiveHub() { Stop(); }

void LiveHub::Start() {
  if (pipe2(wake_fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
    wake_fds_[0] = wake_fds_[1] = -1;
  }
  thread_ = std::thread([this] { Run(); });
}

void LiveHub::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  Wake();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) close(c->fd);
  clients_.clear();
  per_user_.clear();
  streams_ = 0;
  if (wake_fds_[0] >= 0) close(wake_fds_[0]);
  if (wake_fds_[1] >= 0) close(wake_fds_[1]);
  wake_fds_[0] = wake_fds_[1] = -1;
}

void LiveHub::Wake() {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  if (wake_fds_[1] >= 0) {
    char b = 1;
    ssize_t n = write(wake_fds_[1], &b, 1);
    (void)n;
  }
}

LiveHub::Admission LiveHub::Reserve(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t& mine = per_user_[user];
  Admission verdict = Admission::kOk;
  if (mine >= max_clients_per_user_) {
    verdict = Admission::kUserFull;
  } else if (streams_.load(std::memory_order_relaxed) >= max_clients_) {
    verdict = Admission::kFull;
  }
  if (verdict != Admission::kOk) {
    if (mine == 0) per_user_.erase(user);
    return verdict;
  }
  ++mine;
  streams_.fetch_add(1, std::memory_order_relaxed);
  return Admission::kOk;
}

void LiveHub::ForgetLocked(const std::string& user) {
  auto it = per_user_.find(user);
  if (it == per_user_.end()) return;  // Stop() forgot everyone
  if (--it->second == 0) per_user_.erase(it);
  streams_.fetch_sub(1, std::memory_order_relaxed);
}

void LiveHub::Release(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  ForgetLocked(user);
}

void LiveHub::AddClient(int fd, std::string initial, const std::string& user) {
  auto client = std::make_unique<Client>();
  client->fd = fd;
  client->user = user;
  client->buffer = std::move(initial);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) {
      close(fd);
      ForgetLocked(user);
      return;
    }
    clients_.push_back(std::move(client));
  }
  Wake();
}

size_t LiveHub::client_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.size();
}

void LiveHub::Broadcast(std::string_view event, std::string_view json) {
  std::string message;
  message.reserve(json.size() + event.size() + 16);
  message += "event: ";
  message += event;
  message += "\ndata: ";
  message += json;
  message += "\n\n";
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : clients_) {
      if (c->dead) continue;
      if (c->buffer.size() + message.size() > client_buffer_bytes_) {
        c->dead = true;  // too slow: the Run thread closes it
        ++dropped_;
        continue;
      }
      c->buffer += message;
    }
  }
  Wake();
}

// With no client connected, publishing formats nothing and wakes no one:
// `sipman run` publishes every call while nobody may be watching.
void LiveHub::PublishTraffic(const stats::TrafficCounters& second) {
  if (client_count() == 0) return;
  Broadcast("traffic", TrafficEventJson(second));
}
void LiveHub::PublishOpenTraffic(const stats::TrafficCounters& second) {
  if (client_count() == 0) return;
  Broadcast("traffic", TrafficEventJson(second, /*final=*/false));
}
void LiveHub::PublishCallStart(const calls::CallRecord& call) {
  if (client_count() == 0) return;
  Broadcast("call", CallEventJson("start", call));
}
void LiveHub::PublishCallEnd(const calls::CallRecord& call) {
  if (client_count() == 0) return;
  Broadcast("call", CallEventJson("end", call));
}
void LiveHub::PublishConcurrent(uint64_t calls) {
  if (client_count() == 0) return;
  JsonWriter w;
  w.BeginObject().Field("ts", WallClockNs()).Field("calls", calls).EndObject();
  Broadcast("concurrent", w.str());
}

void LiveHub::PublishAlert(const std::string& alert_json) {
  if (client_count() == 0) return;
  Broadcast("alert", alert_json);
}

void LiveHub::PollDatabase() {
  if (store_ == nullptr) return;
  store::TrafficQuery q;
  q.resolution = store::TrafficResolution::kSecond;
  if (last_db_second_ < 0) {
    // Start from the newest second already stored: only new rows are sent.
    q.from_ts = 0;
    Result<stats::TrafficSummary> s = store_->SummarizeTraffic(q);
    last_db_second_ = s.ok() ? s->last_second : 0;
    return;
  }
  q.from_ts = (last_db_second_ + 1) * kNsPerSecond;
  Result<std::vector<stats::TrafficCounters>> rows = store_->TrafficRows(q);
  if (rows.ok()) {
    for (const stats::TrafficCounters& row : *rows) {
      PublishTraffic(row);
      if (row.ts > last_db_second_) last_db_second_ = row.ts;
    }
  }
  Result<int64_t> active = store_->CountRows("active_calls");
  if (active.ok()) PublishConcurrent(static_cast<uint64_t>(*active));
}

void LiveHub::Run() {
  int64_t next_tick = NowMs() + 1000;
  std::vector<pollfd> fds;
  std::vector<Client*> polled;
  while (!stop_) {
    int64_t now = NowMs();
    if (now >= next_tick) {
      next_tick = now + 1000;
      if (poll_database_) PollDatabase();
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : clients_) {
        if (c->buffer.empty() && !c->dead) c->buffer = ": heartbeat\n\n";
      }
    }
    fds.clear();
    polled.clear();
    fds.push_back(pollfd{wake_fds_[0], POLLIN, 0});
    {
      std::lock_guard<std::mutex> lock(mu_);
      // Write what can be written now; drop the dead.
      for (size_t i = 0; i < clients_.size();) {
        Client* c = clients_[i].get();
        while (!c->dead && !c->buffer.empty()) {
          ssize_t n = send(c->fd, c->buffer.data(), c->buffer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n > 0) {
            c->buffer.erase(0, static_cast<size_t>(n));
          } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            break;
          } else {
            c->dead = true;
          }
        }
        if (c->dead) {
          close(c->fd);
          ForgetLocked(c->user);
          clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
          continue;
        }
        short events = POLLIN;
        if (!c->buffer.empty()) events |= POLLOUT;
        fds.push_back(pollfd{c->fd, events, 0});
        polled.push_back(c);
        ++i;
      }
    }
    int timeout = static_cast<int>(std::max<int64_t>(0, next_tick - NowMs()));
    int n = poll(fds.data(), fds.size(), timeout);
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_fds_[0], drain, sizeof(drain)) > 0) {
      }
      // Cleared after draining, never before: a publisher that found the
      // flag set until here wrote no byte, and what it published is sent
      // by the next pass, which follows; one that comes later writes a
      // byte again. (Cleared first, a byte written in between would be
      // drained and leave the flag set with the pipe empty: every later
      // wake-up lost.)
      wake_pending_.store(false, std::memory_order_release);
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) {
        // A client sends nothing on an event stream: data or EOF means it is gone.
        char junk[256];
        ssize_t r = recv(fds[i].fd, junk, sizeof(junk), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) polled[i - 1]->dead = true;
        if (fds[i].revents & (POLLERR | POLLHUP)) polled[i - 1]->dead = true;
      }
    }
  }
}

}  // namespace sipman::web
