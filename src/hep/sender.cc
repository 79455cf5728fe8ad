// HepSender: HEPv3 over UDP or TCP without blocking the caller.
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "hep/hep.h"
#include "hep/socket_util.h"

namespace sipman::hep {

struct HepSender::Destination {
  sockaddr_storage storage = {};
  socklen_t length = 0;
  int family = AF_INET;
};

HepSender::HepSender(const HepSenderOptions& options)
    : options_(options), destination_(std::make_unique<Destination>()) {}

HepSender::~HepSender() {
  if (options_.tcp) Flush(200);
  CloseSocket();
}

Result<std::unique_ptr<HepSender>> HepSender::Open(const HepSenderOptions& options) {
  const std::string where = (options.tcp ? "tcp:" : "udp:") + options.host + ":" +
                            std::to_string(options.port);
  if (options.host.empty() || options.port == 0) {
    return Status::Error("cannot send HEP to " + where + ": a host and a port are needed");
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = options.tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options.port);
  const int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Status::Error("cannot send HEP to " + where + ": " + gai_strerror(rc));
  }
  std::unique_ptr<HepSender> sender(new HepSender(options));
  std::memcpy(&sender->destination_->storage, found->ai_addr, found->ai_addrlen);
  sender->destination_->length = found->ai_addrlen;
  sender->destination_->family = found->ai_family;
  freeaddrinfo(found);
  sender->packet_.reserve(2048);
  if (options.tcp) sender->pending_.reserve(64 * 1024);
  if (!sender->Connect()) return Errno("cannot send HEP to " + where);
  return sender;
}

bool HepSender::Connect() {
  CloseSocket();
  last_connect_ns_ = MonotonicNs();
  const int type = (options_.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  fd_ = socket(destination_->family, type, 0);
  if (fd_ < 0) return false;
  const auto* addr = reinterpret_cast<const sockaddr*>(&destination_->storage);
  if (connect(fd_, addr, destination_->length) != 0 && errno != EINPROGRESS) {
    const int saved = errno;
    CloseSocket();
    errno = saved;
    return false;
  }
  if (ever_connected_) ++counters_.reconnects;
  ever_connected_ = true;
  // UDP is "connected" at once; TCP when the socket turns writable.
  connected_ = !options_.tcp;
  return true;
}

void HepSender::CloseSocket() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  connected_ = false;
}

bool HepSender::Send(const HepPacket& packet) {
  HepPacket p = packet;
  if (p.capture_id == 0) p.capture_id = options_.capture_id;
  if (p.auth_key.empty()) p.auth_key = options_.auth_key;
  if (p.node_name.empty()) p.node_name = options_.node_name;
  if (!EncodeHep3(p, &packet_).ok()) {
    ++counters_.dropped;
    return false;
  }
  if (!options_.tcp) {
    if (fd_ < 0 && (MonotonicNs() - last_connect_ns_ < options_.reconnect_interval_ms * kNsPerMs ||
                    !Connect())) {
      ++counters_.dropped;
      return false;
    }
    const ssize_t n = send(fd_, packet_.data(), packet_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(packet_.size())) {
      ++counters_.sent;
      counters_.bytes += packet_.size();
      return true;
    }
    // EAGAIN: the socket buffer is full; ECONNREFUSED: an ICMP error for an
    // earlier datagram (nobody listens yet). Both drop this packet only.
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ++counters_.errors;
    ++counters_.dropped;
    return false;
  }

  if (fd_ < 0) {
    if (MonotonicNs() - last_connect_ns_ < options_.reconnect_interval_ms * kNsPerMs) {
      ++counters_.dropped;
      return false;
    }
    if (!Connect()) {
      ++counters_.errors;
      ++counters_.dropped;
      return false;
    }
  }
  if (pending_.size() - pending_offset_ + packet_.size() > options_.max_pending_bytes) {
    WritePending();
    if (pending_.size() - pending_offset_ + packet_.size() > options_.max_pending_bytes) {
      ++counters_.dropped;
      return false;
    }
  }
  pending_.append(packet_);
  ++pending_packets_;
  ++counters_.sent;
  counters_.bytes += packet_.size();
  WritePending();
  return true;
}

void HepSender::WritePending() {
  if (fd_ < 0) return;
  if (!connected_) {
    pollfd pfd = {fd_, POLLOUT, 0};
    if (poll(&pfd, 1, 0) <= 0) return;  // still connecting
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      ++counters_.errors;
      // Whole packets only: what waited for this connection is lost.
      counters_.dropped += pending_packets_;
      pending_packets_ = 0;
      pending_.clear();
      pending_offset_ = 0;
      CloseSocket();
      return;
    }
    connected_ = true;
  }
  while (pending_offset_ < pending_.size()) {
    const ssize_t n = send(fd_, pending_.data() + pending_offset_,
                           pending_.size() - pending_offset_, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // The connection broke: a packet cut in the middle cannot be resumed on
      // a new connection, so what is pending is dropped.
      ++counters_.errors;
      counters_.dropped += pending_packets_;
      pending_packets_ = 0;
      pending_.clear();
      pending_offset_ = 0;
      CloseSocket();
      return;
    }
    pending_offset_ += static_cast<size_t>(n);
  }
  if (pending_offset_ == pending_.size()) {
    pending_packets_ = 0;
    pending_.clear();  // keeps the capacity
    pending_offset_ = 0;
  } else if (pending_offset_ > pending_.size() / 2) {
    pending_.erase(0, pending_offset_);
    pending_offset_ = 0;
  }
}

bool HepSender::Flush(int timeout_ms) {
  if (!options_.tcp) return true;
  const int64_t deadline = MonotonicNs() + static_cast<int64_t>(timeout_ms) * kNsPerMs;
  while (fd_ >= 0 && pending_offset_ < pending_.size()) {
    WritePending();
    if (fd_ < 0 || pending_offset_ >= pending_.size()) break;
    const int64_t left_ms = (deadline - MonotonicNs()) / kNsPerMs;
    if (left_ms <= 0) break;
    pollfd pfd = {fd_, POLLOUT, 0};
    poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left_ms, 100)));
  }
  return pending_offset_ >= pending_.size();
}

}  // namespace sipman::hep
