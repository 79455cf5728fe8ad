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
// clients stay in the kernel's backlog and are taken once descriptors free.#include <arpa/inet.h>
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

#include "web/http_server.h"
namespace sipman::web {
namespace internal {
namespace {

// Under HTTPS: browsers that saw it once use only https:// for this host
// for a year. Without includeSubDomains: other services under the name may
// speak plain HTTP.
constexpr char kHstsValue[] = "max-age=31536000";

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

}  // namespace

void BlockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

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
  {
    // A worker between its check of stop_ and its wait holds mu_: taking it
    // here makes the notify below reach it, instead of being lost (a hang on
    // SIGTERM when Stop came right after Start).
    std::lock_guard<std::mutex> lock(mu_);
  }
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

}  // namespace internal

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
      new internal::HttpServer(options, store, std::move(*auth), std::move(tls)));
}

}  // namespace sipman::web
