// Private to web/: LiveHub, the LiveFeed behind GET /api/v1/live. It owns the
// sockets of the Server-Sent Events clients and one thread that writes their
// buffered events, sends a heartbeat comment every second and, when asked,
// polls the database for new traffic seconds (`sipman serve`).
#ifndef SIPMAN_WEB_LIVE_H_
#define SIPMAN_WEB_LIVE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "web/web.h"

namespace sipman::web {

// The JSON of one event: a traffic row as GET /api/v1/stats/traffic writes
// it plus "final"; a call as GET /api/v1/calls writes it, without "id".
std::string TrafficEventJson(const stats::TrafficCounters& second, bool final = true);
std::string CallEventJson(std::string_view event, const calls::CallRecord& call);

class LiveHub : public LiveFeed {
 public:
  // `store` may be null; with `poll_database` set it is read once a second.
  // At most `max_clients` streams are open at once, `max_clients_per_user`
  // of them for one user.
  LiveHub(size_t client_buffer_bytes, size_t max_clients, size_t max_clients_per_user,
          store::Store* store, bool poll_database);
  ~LiveHub() override;

  void Start();
  void Stop();

  // Admission: Reserve() counts a stream for `user` before its socket is
  // handed over, or says which limit is reached (and counts nothing).
  // AddClient() takes the reservation over; Release() gives back one that
  // is not used. A stream's place is free again once the hub closes it.
  enum class Admission { kOk, kUserFull, kFull };
  Admission Reserve(const std::string& user);
  void Release(const std::string& user);
  size_t max_clients() const { return max_clients_; }
  size_t max_clients_per_user() const { return max_clients_per_user_; }

  // Takes over `fd` (non-blocking, the response head already queued in
  // `initial`) and `user`'s reservation: the hub writes and closes it from
  // now on.
  void AddClient(int fd, std::string initial, const std::string& user);
  size_t client_count();
  // Streams open or reserved; they count toward the server's connection cap.
  size_t stream_count() const { return streams_.load(std::memory_order_relaxed); }
  uint64_t dropped_clients() const { return dropped_.load(); }

  void PublishTraffic(const stats::TrafficCounters& second) override;
  void PublishOpenTraffic(const stats::TrafficCounters& second) override;
  void PublishCallStart(const calls::CallRecord& call) override;
  void PublishCallEnd(const calls::CallRecord& call) override;
  void PublishConcurrent(uint64_t calls) override;
  void PublishAlert(const std::string& alert_json) override;

  // Appends "event: NAME\ndata: JSON\n\n" to every client.
  void Broadcast(std::string_view event, std::string_view json);

 private:
  struct Client {
    int fd = -1;
    std::string user;
    std::string buffer;  // bytes not yet written
    bool dead = false;
  };
  void Run();
  void PollDatabase();
  void Wake();
  // Frees one of `user`'s places. REQUIRES: mu_ held.
  void ForgetLocked(const std::string& user);

  const size_t client_buffer_bytes_;
  const size_t max_clients_;
  const size_t max_clients_per_user_;
  store::Store* store_;
  const bool poll_database_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Client>> clients_;  // guarded by mu_
  // Streams open or reserved, per user; guarded by mu_.
  std::unordered_map<std::string, size_t> per_user_;
  std::atomic<size_t> streams_{0};  // their sum; written under mu_
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> dropped_{0};
  int wake_fds_[2] = {-1, -1};
  // Set while a wake-up byte is in the pipe and not yet drained: at tens of
  // thousands of events a second, one write per event costs more than the
  // events, so publishers write only when the Run thread is not already due.
  std::atomic<bool> wake_pending_{false};
  std::thread thread_;
  int64_t last_db_second_ = -1;  // newest stats_second row sent (Run thread only)
};

}  // namespace sipman::web

#endif  // SIPMAN_WEB_LIVE_H_
