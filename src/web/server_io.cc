// The server's I/O thread (server.cc describes the design): accepting under
// the connection limits, reading requests, handing whole ones to the
// workers, relaying HTTPS live streams, timeouts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>

#include "web/http_server.h"

namespace sipman::web::internal {
namespace {

constexpr int64_t kAcceptBackoffMinMs = 100;
constexpr int64_t kAcceptBackoffMaxMs = 1000;

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

}  // namespace

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
}  // namespace sipman::web::internal
