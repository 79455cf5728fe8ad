// The HTTP/1.1 server behind WebServer: one I/O thread owns the listening
// socket and every idle or partly received connection (non-blocking, poll);
// a complete request is handed to one of a small fixed pool of worker
// threads, which answers it and hands the connection back. So slow or idle
// clients cost a file descriptor, never a worker. Requests that hash a
// password (Argon2id: 64 MiB and tens to hundreds of milliseconds) go to a pool
// of their own with a bounded queue, so a flood of logins leaves the
// workers free for everything else.
//
// With a certificate and key the same loop speaks HTTPS: the I/O thread
// drives each TLS handshake and read as far as the socket allows, polling
// for whichever of readable or writable OpenSSL waits for. A live (SSE)
// client over TLS is handed to LiveHub as one end of a socket pair; the I/O
// thread relays the other end into the TLS connection.
//
// When accept() finds no file descriptor left (EMFILE, ENFILE) the I/O
// thread stops polling the listening socket for a while, 100 ms doubling to
// 1 s, instead of finding it readable again at once, forever: waiting
// clients stay in the kernel's backlog and are taken once descriptors free.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "web/api.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/live.h"
#include "web/tls.h"
#include "web/web.h"

namespace sipman::web {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr int64_t kAcceptBackoffMinMs = 100;
constexpr int64_t kAcceptBackoffMaxMs = 1000;
// Under HTTPS: browsers that saw it once use only https:// for this host
// for a year. Without includeSubDomains: other services under the name may
// speak plain HTTP.
constexpr char kHstsValue[] = "max-age=31536000";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Connection {
  int fd = -1;
  SslPtr ssl;                   // HTTPS only
  bool handshake_done = true;   // HTTPS: false until the TLS handshake completes
  bool want_write = false;      // HTTPS: OpenSSL waits for the socket to be writable
  int relay_fd = -1;            // HTTPS live client: our end of the pair LiveHub writes
  std::string relay_out;        // HTTPS live client: taken from relay_fd, not yet sent
  std::string in;           // received, not yet answered
  // The client's address as the per-address limits count it (AddressKey).
  std::string address_key;
  bool refuse_busy = false;      // the password queue was full: answer 503
  int64_t last_activity_ms = 0;
  int64_t request_start_ms = 0;  // first byte of the pending request (0: none)
};

// Splits "ADDR:PORT", "[V6]:PORT" or ":PORT".
bool SplitListen(const std::string& listen, std::string* host, std::string* port) {
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return false;
    }
    *host = listen.substr(1, close - 1);
    *port = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) return false;
    *host = listen.substr(0, colon);
    *port = listen.substr(colon + 1);
    if (host->find(':') != std::string::npos) return false;  // bare IPv6 needs brackets
  }
  if (port->empty()) return false;
  for (char c : *port) {
    if (c < '0' || c > '9') return false;
  }
  return port->size() <= 5 && std::stoi(*port) <= 65535;
}

// The client address as the per-address connection limit and the login
// rate limit count it: IPv4 (also when mapped into IPv6) as itself, IPv6 by
// its /64, which one subscriber typically holds whole.
std::string AddressKey(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "";
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr, text, sizeof(text));
    return text;
  }
  if (peer.ss_family != AF_INET6) return "";
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof(text));
    return text;
  }
  in6_addr prefix = a;
  std::memset(&prefix.s6_addr[8], 0, 8);
  inet_ntop(AF_INET6, &prefix, text, sizeof(text));
  return std::string(text) + "/64";
}

// OpenSSL writes with write(2), which raises SIGPIPE on a closed
// connection; the server's own threads take EPIPE instead.
void BlockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Sends close_notify (HTTPS) and closes the socket.
void CloseSocket(Connection* c) {
  if (c->ssl) {
    TlsShutdown(c->ssl.get());
    c->ssl.reset();
  }
  if (c->relay_fd >= 0) close(c->relay_fd);
  c->relay_fd = -1;
  close(c->fd);
  c->fd = -1;
}

// Writes all of `data` over TLS, waiting at most `timeout_ms` overall.
bool WriteAllTls(SSL* ssl, int fd, std::string_view data, int timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  while (!data.empty()) {
    size_t n = 0;
    TlsStatus s = TlsWrite(ssl, data, &n);
    if (s == TlsStatus::kOk) {
      data.remove_prefix(n);
      continue;
    }
    if (s == TlsStatus::kClosed) return false;
    int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    pollfd p{fd, static_cast<short>(s == TlsStatus::kWantRead ? POLLIN : POLLOUT), 0};
    if (poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) return false;
  }
  return true;
}

// Writes all of `data`, waiting at most `timeout_ms` for the socket overall.
bool WriteAll(const Connection& conn, std::string_view data, int timeout_ms) {
  if (conn.ssl) return WriteAllTls(conn.ssl.get(), conn.fd, data, timeout_ms);
  int fd = conn.fd;
  int64_t deadline = NowMs() + timeout_ms;
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int64_t left = deadline - NowMs();
      if (left <= 0) return false;
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

class HttpServer : public WebServer {
 public:
  HttpServer(const WebServerOptions& options, store::Store* store, std::unique_ptr<Auth> auth,
             std::unique_ptr<TlsContext> tls)
      : options_(options),
        auth_(std::move(auth)),
        https_(tls != nullptr),
        tls_(std::move(tls)),
        live_(options_.live_client_buffer_bytes, options_.max_live_clients,
              options_.max_live_clients_per_user, store, options_.live_from_database),
        api_(options_, store, auth_.get(), &live_) {}
  ~HttpServer() override { Stop(); }

  Status Start() override;
  void Stop() override;
  uint16_t port() const override { return port_; }
  LiveFeed* live() override { return &live_; }
  Status ReloadTls() override;

 private:
  void IoLoop();
  void WorkerLoop();
  void PasswordWorkerLoop();
  // A connection the server no longer holds (closed, or handed to the live
  // feed): frees its place under the total and the per-address limits.
  void ConnectionGone(const Connection& conn);
  void Serve(std::unique_ptr<Connection> conn, WorkerContext* context);
  void ReturnToIo(std::unique_ptr<Connection> conn);
  void Dispatch(std::unique_ptr<Connection> conn);
  void Wake();
  void Log(const std::string& line) const;
  // Parses what `conn` holds: true when a whole request (or an error) is there.
  bool RequestReady(const Connection& conn) const;
  // HTTPS: advances the handshake, then reads what the socket holds into
  // conn->in. False when the connection is closed or failed.
  bool ReadTls(Connection* conn, char* buffer, int64_t now) const;
  // HTTPS live client: moves bytes from LiveHub's pair into the TLS
  // connection. False when either side is gone.
  bool Relay(Connection* conn, short client_events, short pair_events, char* buffer) const;
  // Reading past this many bytes is pointless: the parser refuses the request.
  size_t MaxBuffered() const {
    return limits_.max_body + limits_.max_header_bytes + limits_.max_request_line + 16;
  }

  WebServerOptions options_;
  std::unique_ptr<Auth> auth_;
  const bool https_;
  // The certificate and key new connections get; replaced by ReloadTls()
  // from the signal thread while the I/O thread accepts, hence the mutex.
  // An SSL object holds its own reference to its context, so replacing
  // this leaves open connections working.
  std::mutex tls_mu_;
  std::shared_ptr<const TlsContext> tls_;  // null: plain HTTP
  LiveHub live_;
  Api api_;
  HttpLimits limits_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  int wake_fds_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::thread io_thread_;
  std::vector<std::thread> workers_;
  std::vector<std::thread> password_workers_;
  std::atomic<size_t> open_connections_{0};
  std::mutex address_mu_;
  std::unordered_map<std::string, size_t> per_address_;  // guarded by address_mu_

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<std::unique_ptr<Connection>> work_;       // ready requests, guarded by mu_
  std::condition_variable password_cv_;
  std::deque<std::unique_ptr<Connection>> password_work_;  // hashing requests, guarded by mu_
  std::vector<std::unique_ptr<Connection>> returned_;  // back to the I/O thread, guarded by mu_
};

Status HttpServer::Start() {
  std::string host, port;
  if (!SplitListen(options_.listen, &host, &port)) {
    return Status::Error("--listen " + options_.listen +
                         ": expected ADDR:PORT, [IPv6]:PORT or :PORT (e.g. 127.0.0.1:8080)");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    return Status::Error("--listen " + options_.listen + ": " + gai_strerror(rc));
  }
  std::string error;
  // Prefer IPv6 for an empty host (dual-stack), else take the first that binds.
  for (addrinfo* ai = result; ai != nullptr && listen_fd_ < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6 && host.empty()) {
      int zero = 0;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
      error = std::strerror(errno);
      close(fd);
      continue;
    }
    listen_fd_ = fd;
  }
  freeaddrinfo(result);
  if (listen_fd_ < 0) {
    return Status::Error("cannot listen on " + options_.listen + ": " + error +
                         (error.find("in use") != std::string::npos
                              ? " (another program uses the port: pick another with --listen)"
                              : ""));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6
                    ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                    : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (pipe2(wake_fds_, O_NONBLOCK | O_CLOEXEC) != 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    return Status::Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  live_.Start();
  size_t n = options_.worker_threads == 0 ? 1 : options_.worker_threads;
  for (size_t i = 0; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  n = options_.password_threads == 0 ? 1 : options_.password_threads;
  for (size_t i = 0; i < n; ++i) password_workers_.emplace_back([this] { PasswordWorkerLoop(); });
  io_thread_ = std::thread([this] { IoLoop(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (stop_.exchange(true)) return;
  Wake();
  work_cv_.notify_all();
  password_cv_.notify_all();
  if (io_thread_.joinable()) io_thread_.join();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  for (std::thread& t : password_workers_) t.join();
  password_workers_.clear();
  live_.Stop();
  std::lock_guard<std::mutex> lock(mu_);
  // No close_notify from this thread (it may not block SIGPIPE).
  auto close_quietly = [](Connection* c) {
    c->ssl.reset();
    CloseSocket(c);
  };
  for (auto& c : work_) close_quietly(c.get());
  for (auto& c : password_work_) close_quietly(c.get());
  for (auto& c : returned_) close_quietly(c.get());
  work_.clear();
  password_work_.clear();
  returned_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int& fd : wake_fds_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  listen_fd_ = -1;
}

void HttpServer::Log(const std::string& line) const {
  if (options_.log) {
    options_.log(line);
  } else {
    std::fprintf(stderr, "sipman: web: %s\n", line.c_str());
  }
}

void HttpServer::Wake() {
  if (wake_fds_[1] >= 0) {
    char b = 1;
    ssize_t n = write(wake_fds_[1], &b, 1);
    (void)n;
  }
}

bool HttpServer::RequestReady(const Connection& conn) const {
  if (conn.in.empty()) return false;
  HttpRequest request;
  HttpParseResult r = ParseHttpRequest(conn.in, limits_, &request);
  return r.status != HttpParseStatus::kIncomplete;
}

void HttpServer::Dispatch(std::unique_ptr<Connection> conn) {
  HttpRequest request;
  bool hashes = ParseHttpRequest(conn->in, limits_, &request).status ==
                    HttpParseStatus::kComplete &&
                api_.HashesPasswords(request);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (hashes && password_work_.size() < options_.max_queued_password_requests) {
      password_work_.push_back(std::move(conn));
    } else {
      conn->refuse_busy = hashes;  // a worker answers 503 at once
      work_.push_back(std::move(conn));
      hashes = false;
    }
  }
  if (hashes) {
    password_cv_.notify_one();
  } else {
    work_cv_.notify_one();
  }
}

void HttpServer::ConnectionGone(const Connection& conn) {
  --open_connections_;
  std::lock_guard<std::mutex> lock(address_mu_);
  auto it = per_address_.find(conn.address_key);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

void HttpServer::ReturnToIo(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    returned_.push_back(std::move(conn));
  }
  Wake();
}

bool HttpServer::ReadTls(Connection* c, char* buffer, int64_t now) const {
  c->want_write = false;
  if (!c->handshake_done) {
    bool plain_http = false;
    TlsStatus s = TlsHandshake(c->ssl.get(), &plain_http);
    if (s == TlsStatus::kWantRead) return true;
    if (s == TlsStatus::kWantWrite) {
      c->want_write = true;
      return true;
    }
    if (s == TlsStatus::kClosed) {
      if (plain_http) {
        // Say so in the client's own language rather than just hanging up.
        static const char kHttps[] =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 45\r\n"
            "Connection: close\r\n\r\nthis port serves HTTPS: use an https:// URL\r\n";
        ssize_t n = send(c->fd, kHttps, sizeof(kHttps) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
      }
      c->ssl.reset();  // no close_notify on a failed handshake
      return false;
    }
    c->handshake_done = true;
    c->request_start_ms = 0;  // the request's own timer starts with its first byte
    c->last_activity_ms = now;
  }
  // Read until OpenSSL waits for the socket: bytes it has decrypted but not
  // returned would not wake poll().
  for (;;) {
    size_t got = 0;
    TlsStatus s = TlsRead(c->ssl.get(), buffer, kReadChunk, &got);
    if (s == TlsStatus::kOk) {
      if (c->in.empty()) c->request_start_ms = now;
      c->in.append(buffer, got);
      c->last_activity_ms = now;
      if (c->in.size() > MaxBuffered()) return true;  // refused whatever follows
      continue;
    }
    if (s == TlsStatus::kWantRead) return true;
    if (s == TlsStatus::kWantWrite) {
      c->want_write = true;
      return true;
    }
    return false;
  }
}

bool HttpServer::Relay(Connection* c, short client_events, short pair_events,
                       char* buffer) const {
  if (client_events != 0) {
    // An event stream client sends nothing but close_notify (or a reset);
    // anything else is read and dropped.
    c->want_write = false;
    for (;;) {
      size_t got = 0;
      TlsStatus s = TlsRead(c->ssl.get(), buffer, kReadChunk, &got);
      if (s == TlsStatus::kOk) continue;
      if (s == TlsStatus::kWantRead) break;
      if (s == TlsStatus::kWantWrite) {
        c->want_write = true;
        break;
      }
      return false;
    }
  }
  if (c->relay_out.empty() && (pair_events & (POLLIN | POLLHUP | POLLERR))) {
    ssize_t n = read(c->relay_fd, buffer, kReadChunk);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return false;  // LiveHub closed the client (server stopping, or it read too slowly)
    }
    if (n > 0) c->relay_out.assign(buffer, static_cast<size_t>(n));
  } else if (pair_events & (POLLHUP | POLLERR)) {
    return false;
  }
  while (!c->relay_out.empty()) {
    size_t written = 0;
    TlsStatus s = TlsWrite(c->ssl.get(), c->relay_out, &written);
    if (s == TlsStatus::kOk) {
      c->relay_out.erase(0, written);
      continue;
    }
    if (s == TlsStatus::kClosed) return false;
    c->want_write = c->want_write || s == TlsStatus::kWantWrite;
    break;
  }
  return true;
}

void HttpServer::IoLoop() {
  if (https_) BlockSigpipe();
  std::list<std::unique_ptr<Connection>> idle;
  std::list<std::unique_ptr<Connection>> relays;  // HTTPS live clients
  std::vector<pollfd> fds;
  std::vector<std::list<std::unique_ptr<Connection>>::iterator> polled;
  std::vector<std::list<std::unique_ptr<Connection>>::iterator> polled_relays;
  char buffer[kReadChunk];
  auto close_conn = [this](Connection* c) {
    CloseSocket(c);
    ConnectionGone(*c);
  };
  // Out of file descriptors: the listening socket is left out of poll()
  // until accept_paused_until_ms (0: accepting).
  int64_t accept_backoff_ms = 0;
  int64_t accept_paused_until_ms = 0;
  while (!stop_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& c : returned_) {
        if (c->relay_fd >= 0) {
          relays.push_back(std::move(c));
        } else {
          idle.push_back(std::move(c));
        }
      }
      returned_.clear();
    }
    int64_t now = NowMs();
    // Timeouts, and pipelined requests already complete.
    for (auto it = idle.begin(); it != idle.end();) {
      Connection* c = it->get();
      if (RequestReady(*c)) {
        Dispatch(std::move(*it));
        it = idle.erase(it);
        continue;
      }
      bool partial = !c->in.empty() || !c->handshake_done;
      if (partial && c->request_start_ms == 0) c->request_start_ms = now;
      if (partial && now - c->request_start_ms > options_.request_timeout_ms) {
        if (c->handshake_done) {
          HttpResponse r;
          r.status = 408;
          r.content_type = "text/plain; charset=utf-8";
          r.body = "request not received in time\n";
          std::string out = SerializeResponseHead(r, false) + r.body;
          if (c->ssl) {
            size_t n = 0;
            TlsWrite(c->ssl.get(), out, &n);
          } else {
            ssize_t n = send(c->fd, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
          }
        } else {
          c->ssl.reset();  // a handshake that stalls gets no close_notify
        }
        close_conn(c);
        it = idle.erase(it);
        continue;
      }
      if (!partial && now - c->last_activity_ms > options_.idle_timeout_ms) {
        close_conn(c);
        it = idle.erase(it);
        continue;
      }
      ++it;
    }
    fds.clear();
    polled.clear();
    polled_relays.clear();
    fds.push_back(pollfd{wake_fds_[0], POLLIN, 0});
    const bool accepting = now >= accept_paused_until_ms;
    fds.push_back(pollfd{accepting ? listen_fd_ : -1, POLLIN, 0});  // poll skips fd -1
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      fds.push_back(pollfd{(*it)->fd, static_cast<short>((*it)->want_write ? POLLOUT : POLLIN), 0});
      polled.push_back(it);
    }
    const size_t first_relay = fds.size();
    for (auto it = relays.begin(); it != relays.end(); ++it) {
      Connection* r = it->get();
      fds.push_back(pollfd{r->fd, static_cast<short>(POLLIN | (r->want_write ? POLLOUT : 0)), 0});
      // Take more from LiveHub only when the last is sent: a slow client
      // backs up into LiveHub's bounded buffer, which drops it.
      fds.push_back(pollfd{r->relay_fd, static_cast<short>(r->relay_out.empty() ? POLLIN : 0), 0});
      polled_relays.push_back(it);
    }
    int timeout_ms = 250;
    if (!accepting) {
      timeout_ms = static_cast<int>(std::clamp<int64_t>(accept_paused_until_ms - now, 1, 250));
    }
    int n = poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_fds_[0], drain, sizeof(drain)) > 0) {
      }
    }
    now = NowMs();
    for (size_t i = 0; i < polled_relays.size(); ++i) {
      short client = fds[first_relay + 2 * i].revents;
      short pair = fds[first_relay + 2 * i + 1].revents;
      if (client == 0 && pair == 0) continue;
      auto it = polled_relays[i];
      if (!Relay(it->get(), client, pair, buffer)) {
        CloseSocket(it->get());
        relays.erase(it);
      }
    }
    for (size_t i = 2; i < first_relay; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLOUT | POLLERR | POLLHUP))) continue;
      auto it = polled[i - 2];
      Connection* c = it->get();
      bool closed = false;
      if (c->ssl) {
        closed = !ReadTls(c, buffer, now);
      } else {
        for (;;) {
          ssize_t r = recv(c->fd, buffer, sizeof(buffer), MSG_DONTWAIT);
          if (r > 0) {
            if (c->in.empty()) c->request_start_ms = now;
            c->in.append(buffer, static_cast<size_t>(r));
            c->last_activity_ms = now;
            // The parser refuses anything larger than the limits; no more is needed.
            if (c->in.size() > MaxBuffered()) break;
            if (static_cast<size_t>(r) < sizeof(buffer)) break;
            continue;
          }
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          if (r < 0 && errno == EINTR) continue;
          closed = true;  // EOF or error
          break;
        }
      }
      if (closed && !RequestReady(*c)) {
        close_conn(c);
        idle.erase(it);
        continue;
      }
      if (RequestReady(*c)) {
        Dispatch(std::move(*it));
        idle.erase(it);
      }
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        sockaddr_storage peer{};
        socklen_t len = sizeof(peer);
        int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            // The connection stays queued and the socket readable: polling it
            // again now would spin. Wait for descriptors to be freed.
            if (accept_backoff_ms == 0) {
              Log(std::string("cannot accept a connection: ") + std::strerror(errno) +
                  " (raise the limit: ulimit -n, systemd LimitNOFILE=); new connections wait "
                  "until descriptors are free");
            }
            accept_backoff_ms = accept_backoff_ms == 0
                                    ? kAcceptBackoffMinMs
                                    : std::min(2 * accept_backoff_ms, kAcceptBackoffMaxMs);
            accept_paused_until_ms = now + accept_backoff_ms;
          }
          break;
        }
        if (accept_backoff_ms != 0) {
          accept_backoff_ms = 0;
          Log("accepting connections again");
        }
        // Live streams hold their sockets too: they count toward the cap.
        std::string address_key = AddressKey(peer);
        bool full = open_connections_ + live_.stream_count() >= options_.max_connections;
        bool address_full = false;
        if (!full) {
          std::lock_guard<std::mutex> lock(address_mu_);
          size_t& mine = per_address_[address_key];
          address_full = mine >= options_.max_connections_per_address;
          if (!address_full) {
            ++mine;
          } else if (mine == 0) {
            per_address_.erase(address_key);
          }
        }
        if (full || address_full) {
          static const char kBusy[] =
              "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
              "Content-Length: 20\r\nConnection: close\r\n\r\ntoo many connections";
          static const char kAddressBusy[] =
              "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
              "Content-Length: 38\r\nConnection: close\r\n\r\n"
              "too many connections from your address";
          const char* busy = full ? kBusy : kAddressBusy;
          if (!https_) {  // a TLS client could not read it
            ssize_t w = send(fd, busy, std::strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)w;
          }
          close(fd);
          continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        auto conn = std::make_unique<Connection>();
        ++open_connections_;
        conn->fd = fd;
        conn->address_key = std::move(address_key);
        conn->last_activity_ms = now;
        if (https_) {
          std::shared_ptr<const TlsContext> tls;
          {
            std::lock_guard<std::mutex> lock(tls_mu_);
            tls = tls_;
          }
          conn->ssl = tls->NewConnection(fd);
          if (!conn->ssl) {
            close(fd);
            ConnectionGone(*conn);
            continue;
          }
          conn->handshake_done = false;
          conn->request_start_ms = now;  // the handshake must end within the request timeout
        }
        idle.push_back(std::move(conn));
      }
    }
  }
  for (auto& c : idle) close_conn(c.get());
  for (auto& c : relays) CloseSocket(c.get());
}

void HttpServer::WorkerLoop() {
  if (https_) BlockSigpipe();
  WorkerContext context;
  api_.InitWorker(&context);
  for (;;) {
    std::unique_ptr<Connection> conn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [this] { return stop_ || !work_.empty(); });
      if (stop_) return;
      conn = std::move(work_.front());
      work_.pop_front();
    }
    Serve(std::move(conn), &context);
  }
}

void HttpServer::PasswordWorkerLoop() {
  if (https_) BlockSigpipe();
  WorkerContext context;  // no database: the login and password routes need none
  for (;;) {
    std::unique_ptr<Connection> conn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      password_cv_.wait(lock, [this] { return stop_ || !password_work_.empty(); });
      if (stop_) return;
      conn = std::move(password_work_.front());
      password_work_.pop_front();
    }
    Serve(std::move(conn), &context);
  }
}

void HttpServer::Serve(std::unique_ptr<Connection> conn, WorkerContext* context) {
  HttpRequest request;
  HttpParseResult parsed = ParseHttpRequest(conn->in, limits_, &request);
  HttpResponse response;
  bool keep_alive = false;
  if (parsed.status == HttpParseStatus::kError) {
    response.status = parsed.error_status;
    response.content_type = "text/plain; charset=utf-8";
    response.body = std::string(parsed.error) + "\n";
  } else if (conn->refuse_busy) {
    conn->refuse_busy = false;
    keep_alive = request.keep_alive;
    response.status = 503;
    response.body = "{\"error\":\"too many logins waiting to be checked; try again shortly\"}\n";
    response.AddHeader("Retry-After", "1");
  } else {
    keep_alive = request.keep_alive;
    ClientInfo client{conn->address_key};
    api_.Handle(request, client, context, &response);
    if (response.close) keep_alive = false;
  }
  if (https_) response.AddHeader("Strict-Transport-Security", kHstsValue);
  if (response.event_stream) {
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "Connection: keep-alive\r\nX-Accel-Buffering: no\r\nX-Content-Type-Options: nosniff\r\n";
    if (https_) head += std::string("Strict-Transport-Security: ") + kHstsValue + "\r\n";
    head += "\r\nretry: 3000\n\n";
    // From here the stream counts toward the connection cap through LiveHub.
    ConnectionGone(*conn);
    if (!conn->ssl) {
      int fd = conn->fd;
      conn->fd = -1;
      live_.AddClient(fd, std::move(head), response.stream_user);
      return;
    }
    // LiveHub writes plain bytes to a socket; the I/O thread encrypts them.
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
      live_.Release(response.stream_user);
      CloseSocket(conn.get());
      return;
    }
    live_.AddClient(pair[0], std::move(head), response.stream_user);
    conn->relay_fd = pair[1];
    conn->want_write = false;
    ReturnToIo(std::move(conn));
    return;
  }
  std::string out = SerializeResponseHead(response, keep_alive);
  if (request.method != "HEAD" || parsed.status == HttpParseStatus::kError) out += response.body;
  bool written = WriteAll(*conn, out, options_.request_timeout_ms);
  if (!written || !keep_alive || stop_) {
    if (!written) conn->ssl.reset();  // the peer is gone or stuck: no close_notify
    CloseSocket(conn.get());
    ConnectionGone(*conn);
    return;
  }
  conn->want_write = false;
  conn->in.erase(0, request.size);
  conn->request_start_ms = 0;
  conn->last_activity_ms = NowMs();
  ReturnToIo(std::move(conn));
}

Status HttpServer::ReloadTls() {
  if (!https_) return Status::Ok();
  Result<std::unique_ptr<TlsContext>> loaded =
      TlsContext::Load(options_.tls_cert_file, options_.tls_key_file);
  if (!loaded.ok()) {
    return Status::Error(loaded.status().message() + " (still serving the previous certificate)");
  }
  std::shared_ptr<const TlsContext> fresh = std::move(*loaded);
  std::lock_guard<std::mutex> lock(tls_mu_);
  tls_.swap(fresh);
  return Status::Ok();  // `fresh` holds the old pair now: freed with its last holder
}

}  // namespace

Result<std::unique_ptr<WebServer>> WebServer::Create(const WebServerOptions& options,
                                                     store::Store* store) {
  Auth::Options auth_options;
  auth_options.db_path = options.users_db_path.empty() ? options.db_path : options.users_db_path;
  auth_options.admin_password = options.admin_password;
  auth_options.announce = options.announce;
  auth_options.opslimit = options.pwhash_opslimit;
  auth_options.memlimit = options.pwhash_memlimit;
  std::unique_ptr<TlsContext> tls;
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    Result<std::unique_ptr<TlsContext>> loaded =
        TlsContext::Load(options.tls_cert_file, options.tls_key_file);
    if (!loaded.ok()) return loaded.status();
    tls = std::move(*loaded);
  }
  Result<std::unique_ptr<Auth>> auth = Auth::Open(auth_options);
  if (!auth.ok()) return auth.status();
  return std::unique_ptr<WebServer>(
      new HttpServer(options, store, std::move(*auth), std::move(tls)));
}

}  // namespace sipman::web
