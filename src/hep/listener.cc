// HepListener: UDP and TCP HEP server on one poll() thread.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hep/hep.h"
#include "hep/socket_util.h"

namespace sipman::hep {
namespace {

constexpr size_t kUdpBatch = 32;
constexpr size_t kUdpBufferBytes = 65536;
// Datagrams read per poll round before looking at the other sockets.
constexpr size_t kUdpPerRound = 1024;
constexpr size_t kMaxFrameBytes = 65535;
constexpr int kIdleMs = 100;

// One writer (the listener thread); readers take relaxed snapshots.
class Counter {
 public:
  void Add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace

class HepListener::Impl {
 public:
  Impl(const HepListenerOptions& options, HepSink* sink) : options_(options), sink_(sink) {
    options_.tcp_buffer_bytes = std::max(options_.tcp_buffer_bytes, kMaxFrameBytes + 1);
    options_.max_tcp_connections = std::max<size_t>(options_.max_tcp_connections, 1);
  }
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  HepListenerCounters Snapshot() const;

  uint16_t udp_port_ = 0, tcp_port_ = 0;

 private:
  struct Connection {
    int fd = -1;
    std::unique_ptr<uint8_t[]> buffer;
    size_t used = 0;
    int64_t last_active_ns = 0;
  };

  Status Bind(const SocketAddress& address, uint16_t port);
  void CloseAll();
  void Loop();
  void ReadUdp();
  void Accept();
  // False when the connection must be closed.
  bool ReadConnection(Connection* c);
  void HandlePacket(std::span<const uint8_t> data);
  void Reject(HepError error) {
    rejected_[static_cast<size_t>(error)].Add(1);
    rejected_total_.Add(1);
  }

  HepListenerOptions options_;
  HepSink* sink_;
  int udp_fd_ = -1, tcp_fd_ = -1, wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool started_ = false;
  std::vector<Connection> connections_;
  std::vector<pollfd> pollfds_;
  std::string inflate_buffer_;
  // recvmmsg state, allocated once.
  std::unique_ptr<uint8_t[]> udp_buffers_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;

  Counter received_, bytes_, decoded_, rejected_total_;
  Counter rejected_[static_cast<size_t>(HepError::kCount)];
  Counter tcp_accepted_, tcp_refused_, tcp_stream_errors_, tcp_idle_closed_, receive_errors_;
};

Status HepListener::Impl::Bind(const SocketAddress& address, uint16_t port) {
  const std::string where = address.text + ":" + std::to_string(port);
  if (options_.udp) {
    udp_fd_ = socket(address.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    // No SO_REUSEADDR: for UDP it would let a second listener share the port.
    if (udp_fd_ < 0) return Errno("cannot open a UDP socket for HEP on " + where);
    int rcvbuf = options_.udp_receive_buffer_bytes;
    // SO_RCVBUFFORCE (root or CAP_NET_ADMIN) goes past net.core.rmem_max,
    // which caps SO_RCVBUF at a few MiB: too little for a burst of HEP at
    // 100k+ packets/s while the worker is busy (bench/hep-rate).
    if (rcvbuf > 0 &&
        setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0) {
      setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    }
    SocketAddress a = address.WithPort(port);
    if (bind(udp_fd_, a.addr(), a.length) != 0) {
      return Errno("cannot listen for HEP on udp:" + where);
    }
    udp_port_ = LocalPort(udp_fd_);
    if (port == 0) port = udp_port_;
  }
  if (options_.tcp) {
    tcp_fd_ = socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (tcp_fd_ < 0) return Errno("cannot open a TCP socket for HEP on " + where);
    int one = 1;
    setsockopt(tcp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    SocketAddress a = address.WithPort(port);
    if (bind(tcp_fd_, a.addr(), a.length) != 0 || listen(tcp_fd_, 128) != 0) {
      return Errno("cannot listen for HEP on tcp:" + address.text + ":" + std::to_string(port));
    }
    tcp_port_ = LocalPort(tcp_fd_);
  }
  return Status::Ok();
}

Status HepListener::Impl::Start() {
  if (started_) return Status::Error("HEP listener already started");
  if (!options_.udp && !options_.tcp) return Status::Error("HEP listener needs UDP or TCP");
  SocketAddress address;
  if (!ParseLiteral(options_.address, &address)) {
    return Status::Error("cannot listen for HEP on '" + options_.address +
                         "': not an IPv4 or IPv6 literal (use e.g. 0.0.0.0, ::, 127.0.0.1)");
  }
  // With port 0 the TCP socket takes the UDP socket's ephemeral port; if
  // that port is taken for TCP, try another.
  Status status;
  for (int attempt = 0; attempt < (options_.port == 0 ? 20 : 1); ++attempt) {
    CloseAll();
    status = Bind(address, options_.port);
    if (status.ok()) break;
  }
  if (!status.ok()) {
    CloseAll();
    return status;
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    CloseAll();
    return Errno("cannot create the HEP listener's wake-up eventfd");
  }
  udp_buffers_.reset(new uint8_t[kUdpBatch * kUdpBufferBytes]);
  msgs_.assign(kUdpBatch, mmsghdr{});
  iovs_.assign(kUdpBatch, iovec{});
  for (size_t i = 0; i < kUdpBatch; ++i) {
    iovs_[i].iov_base = udp_buffers_.get() + i * kUdpBufferBytes;
    iovs_[i].iov_len = kUdpBufferBytes;
    msgs_[i].msg_hdr.msg_iov = &iovs_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  connections_.reserve(options_.max_tcp_connections);
  pollfds_.reserve(options_.max_tcp_connections + 3);
  stop_ = false;
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void HepListener::Impl::CloseAll() {
  for (int* fd : {&udp_fd_, &tcp_fd_, &wake_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  for (Connection& c : connections_) close(c.fd);
  connections_.clear();
}

void HepListener::Impl::Stop() {
  if (!started_) return;
  stop_ = true;
  uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // The thread still sees stop_ within its poll timeout.
  }
  if (thread_.joinable()) thread_.join();
  CloseAll();
  started_ = false;
}

void HepListener::Impl::Loop() {
  int64_t last_idle_check_ns = MonotonicNs();
  int64_t last_idle_ns = last_idle_check_ns;
  while (!stop_.load(std::memory_order_relaxed)) {
    pollfds_.clear();
    pollfds_.push_back({wake_fd_, POLLIN, 0});
    pollfds_.push_back({udp_fd_, POLLIN, 0});  // fd -1 is ignored by poll
    pollfds_.push_back({tcp_fd_, POLLIN, 0});
    for (const Connection& c : connections_) pollfds_.push_back({c.fd, POLLIN, 0});
    const int n = poll(pollfds_.data(), pollfds_.size(), kIdleMs);
    const int64_t now = MonotonicNs();
    if (now - last_idle_ns >= kIdleMs * kNsPerMs || n == 0) {
      last_idle_ns = now;
      sink_->OnIdle();
    }
    if (n < 0) {
      if (errno != EINTR) receive_errors_.Add(1);
      continue;
    }
    if (stop_.load(std::memory_order_relaxed)) break;
    if (pollfds_[1].revents != 0) ReadUdp();
    // Connections first (their pollfds match connections_ by index), then
    // accept, which may append to connections_.
    size_t i = 0;
    for (size_t k = 3; k < pollfds_.size(); ++k) {
      Connection& c = connections_[i];
      bool keep = true;
      if (pollfds_[k].revents != 0) keep = ReadConnection(&c);
      if (keep) {
        ++i;
      } else {
        close(c.fd);
        connections_.erase(connections_.begin() + static_cast<ptrdiff_t>(i));
      }
    }
    if (pollfds_[2].revents != 0) Accept();

    if (now - last_idle_check_ns >= kNsPerSecond) {
      last_idle_check_ns = now;
      const int64_t limit = static_cast<int64_t>(options_.tcp_idle_timeout_s) * kNsPerSecond;
      for (size_t j = 0; j < connections_.size();) {
        if (now - connections_[j].last_active_ns > limit) {
          close(connections_[j].fd);
          connections_.erase(connections_.begin() + static_cast<ptrdiff_t>(j));
          tcp_idle_closed_.Add(1);
        } else {
          ++j;
        }
      }
    }
  }
}

void HepListener::Impl::ReadUdp() {
  size_t total = 0;
  while (total < kUdpPerRound) {
    const int n = recvmmsg(udp_fd_, msgs_.data(), kUdpBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) receive_errors_.Add(1);
      return;
    }
    for (int i = 0; i < n; ++i) {
      const auto* data = static_cast<const uint8_t*>(iovs_[i].iov_base);
      // A datagram larger than the buffer is truncated: it fails the length check.
      size_t len = msgs_[i].msg_len;
      if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) len = kUdpBufferBytes;
      HandlePacket(std::span<const uint8_t>(data, len));
    }
    total += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < kUdpBatch) return;
  }
}

void HepListener::Impl::Accept() {
  while (true) {
    const int fd = accept4(tcp_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) receive_errors_.Add(1);
      return;
    }
    if (connections_.size() >= options_.max_tcp_connections) {
      close(fd);
      tcp_refused_.Add(1);
      continue;
    }
    Connection c;
    c.fd = fd;
    c.buffer.reset(new uint8_t[options_.tcp_buffer_bytes]);
    c.last_active_ns = MonotonicNs();
    connections_.push_back(std::move(c));
    tcp_accepted_.Add(1);
  }
}

bool HepListener::Impl::ReadConnection(Connection* c) {
  c->last_active_ns = MonotonicNs();
  while (true) {
    const ssize_t n = read(c->fd, c->buffer.get() + c->used, options_.tcp_buffer_bytes - c->used);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      return false;  // reset by the peer
    }
    c->used += static_cast<size_t>(n);
    size_t start = 0;
    while (true) {
      size_t frame_len = 0;
      const FrameStatus s = NextHepFrame(
          std::span<const uint8_t>(c->buffer.get() + start, c->used - start), &frame_len);
      if (s == FrameStatus::kNeedMore) break;
      if (s == FrameStatus::kError) {
        received_.Add(1);
        bytes_.Add(c->used - start);
        Reject(c->used - start < 4 ? HepError::kBadMagic
                                   : (std::memcmp(c->buffer.get() + start, "HEP3", 4) == 0
                                          ? HepError::kBadLength
                                          : HepError::kBadMagic));
        tcp_stream_errors_.Add(1);
        return false;
      }
      HandlePacket(std::span<const uint8_t>(c->buffer.get() + start, frame_len));
      start += frame_len;
    }
    if (start > 0) {
      std::memmove(c->buffer.get(), c->buffer.get() + start, c->used - start);
      c->used -= start;
    }
    // The buffer holds more than a maximal packet, so a full buffer with no
    // frame cannot happen; this guards the arithmetic anyway.
    if (c->used == options_.tcp_buffer_bytes) {
      tcp_stream_errors_.Add(1);
      return false;
    }
    if (stop_.load(std::memory_order_relaxed)) return true;
  }
}

void HepListener::Impl::HandlePacket(std::span<const uint8_t> data) {
  received_.Add(1);
  bytes_.Add(data.size());
  HepPacket packet;
  const HepError error = DecodeHepPacket(data, &packet, &inflate_buffer_);
  if (error != HepError::kOk) {
    Reject(error);
    return;
  }
  if (!options_.auth_key.empty() && packet.auth_key != options_.auth_key) {
    Reject(HepError::kAuthFailed);
    return;
  }
  decoded_.Add(1);
  sink_->OnHepPacket(packet, RealtimeNs());
}

HepListenerCounters HepListener::Impl::Snapshot() const {
  HepListenerCounters c;
  c.received = received_.Get();
  c.bytes = bytes_.Get();
  c.decoded = decoded_.Get();
  c.rejected = rejected_total_.Get();
  for (size_t i = 0; i < static_cast<size_t>(HepError::kCount); ++i) {
    c.rejected_by_reason[i] = rejected_[i].Get();
  }
  c.tcp_accepted = tcp_accepted_.Get();
  c.tcp_refused = tcp_refused_.Get();
  c.tcp_stream_errors = tcp_stream_errors_.Get();
  c.tcp_idle_closed = tcp_idle_closed_.Get();
  c.receive_errors = receive_errors_.Get();
  return c;
}

HepListener::HepListener(const HepListenerOptions& options, HepSink* sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}
HepListener::~HepListener() = default;
Status HepListener::Start() { return impl_->Start(); }
void HepListener::Stop() { impl_->Stop(); }
uint16_t HepListener::udp_port() const { return impl_->udp_port_; }
uint16_t HepListener::tcp_port() const { return impl_->tcp_port_; }
HepListenerCounters HepListener::counters() const { return impl_->Snapshot(); }

}  // namespace sipman::hep
