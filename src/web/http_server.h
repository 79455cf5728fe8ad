// Private to web/: the HTTP/1.1 server behind WebServer (the design is
// described at the top of server.cc), shared by server.cc (start, stop,
// workers), server_io.cc (the I/O thread's loop) and server_tls.cc (HTTPS).
#ifndef SIPMAN_WEB_HTTP_SERVER_H_
#define SIPMAN_WEB_HTTP_SERVER_H_

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "web/api.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/live.h"
#include "web/tls.h"
#include "web/web.h"

namespace sipman::web::internal {

constexpr size_t kReadChunk = 64 * 1024;

inline int64_t NowMs() {
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

// OpenSSL writes with write(2), which raises SIGPIPE on a closed
// connection; the server's own threads take EPIPE instead.
void BlockSigpipe();
// Sends close_notify (HTTPS) and closes the socket.
void CloseSocket(Connection* c);

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

}  // namespace sipman::web::internal

#endif  // SIPMAN_WEB_HTTP_SERVER_H_
