// HTTPS in the server: TLS handshakes and reads driven by the I/O thread,
// the relay of live streams into TLS connections, certificate reloads.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "web/http_server.h"

namespace sipman::web::internal {

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
}  // namespace sipman::web::internal
