#include "base/ip_address.h"

#include <arpa/inet.h>

namespace sipman {

size_t IpAddress::Format(char* out) const {
  if (family == Family::kNone) {
    out[0] = '\0';
    return 0;
  }
  // inet_ntop produces RFC 5952 text for IPv6 on glibc, the same as tshark.
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes, out, 46);
  return std::strlen(out);
}

std::string IpAddress::ToString() const {
  char buf[46];
  size_t n = Format(buf);
  return std::string(buf, n);
}

}  // namespace sipman
