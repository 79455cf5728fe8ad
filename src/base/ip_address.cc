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

bool ParseIpAddress(std::string_view text, IpAddress* out) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes) == 1) {
    a.family = IpAddress::Family::kV4;
  } else if (inet_pton(AF_INET6, buf, a.bytes) == 1) {
    a.family = IpAddress::Family::kV6;
  } else {
    return false;
  }
  *out = a;
  return true;
}

}  // namespace sipman
