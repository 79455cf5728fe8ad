// Private to hep: socket addresses, errno messages and clocks shared by the
// listener and the sender.
#ifndef SIPMAN_HEP_SOCKET_UTIL_H_
#define SIPMAN_HEP_SOCKET_UTIL_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "base/base.h"

namespace sipman::hep {

struct SocketAddress {
  int family = AF_INET;
  sockaddr_storage storage = {};
  socklen_t length = 0;
  std::string text;  // as given, for messages

  const struct sockaddr* addr() const { return reinterpret_cast<const struct sockaddr*>(&storage); }
  // A copy with the port set.
  SocketAddress WithPort(uint16_t port) const;
};

// Parses an IPv4 or IPv6 literal (no brackets, no port).
bool ParseLiteral(const std::string& text, SocketAddress* out);
// The port a bound socket has, 0 on failure.
uint16_t LocalPort(int fd);
// `what` followed by ": " and strerror(errno).
Status Errno(const std::string& what);
int64_t MonotonicNs();
TimestampNs RealtimeNs();

}  // namespace sipman::hep

#endif  // SIPMAN_HEP_SOCKET_UTIL_H_
