// The sensor's own networks (LocalNets) and the direction of a message
// relative to them.
#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "stats/stats.h"

namespace sipman::stats {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether the first `bits` bits of a and b are equal.
bool SamePrefix(const uint8_t* a, const uint8_t* b, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool IpPrefix::Contains(const IpAddress& ip) const {
  return ip.family == address.family && address.family != IpAddress::Family::kNone &&
         SamePrefix(ip.bytes, address.bytes, length);
}

Result<IpPrefix> ParseIpPrefix(std::string_view text) {
  text = Trim(text);
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.push_back('\'');
  quoted.append(text);
  quoted.push_back('\'');
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  char buf[64];
  if (addr.empty() || addr.size() >= sizeof buf) {
    return Status::Error(quoted + " is not an IPv4 or IPv6 prefix (expected e.g. 10.0.0.0/8 "
                                  "or 2001:db8::/32)");
  }
  std::memcpy(buf, addr.data(), addr.size());
  buf[addr.size()] = '\0';
  uint8_t bytes[16] = {};
  IpPrefix p;
  unsigned max_len;
  if (inet_pton(AF_INET, buf, bytes) == 1) {
    p.address = IpAddress::V4(bytes);
    max_len = 32;
  } else if (inet_pton(AF_INET6, buf, bytes) == 1) {
    p.address = IpAddress::V6(bytes);
    max_len = 128;
  } else {
    return Status::Error(quoted + " is not an IPv4 or IPv6 prefix (expected e.g. 10.0.0.0/8 "
                                  "or 2001:db8::/32)");
  }
  unsigned len = max_len;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) {
      return Status::Error(quoted + ": the prefix length must be 0.." + std::to_string(max_len));
    }
    len = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        return Status::Error(quoted + ": the prefix length must be 0.." +
                             std::to_string(max_len));
      }
      len = len * 10 + static_cast<unsigned>(c - '0');
    }
    if (len > max_len) {
      return Status::Error(quoted + ": the prefix length must be 0.." + std::to_string(max_len));
    }
  }
  p.length = static_cast<uint8_t>(len);
  // Clear the host bits, so that Contains compares like with like.
  for (unsigned bit = len; bit < max_len; ++bit) {
    p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return p;
}

Status LocalNets::Add(const IpPrefix& prefix) {
  if (size_ == kMaxPrefixes) {
    return Status::Error("too many local networks (at most " + std::to_string(kMaxPrefixes) +
                         "); merge them into wider prefixes");
  }
  prefixes_[size_++] = prefix;
  return Status::Ok();
}

Status LocalNets::AddList(std::string_view list) {
  if (Trim(list).empty()) {
    return Status::Error("expected a comma-separated list of prefixes, e.g. "
                         "10.0.0.0/8,2001:db8::/32");
  }
  while (true) {
    size_t comma = list.find(',');
    Result<IpPrefix> p = ParseIpPrefix(list.substr(0, comma));
    if (!p.ok()) return p.status();
    Status s = Add(*p);
    if (!s.ok()) return s;
    if (comma == std::string_view::npos) return Status::Ok();
    list.remove_prefix(comma + 1);
  }
}

bool LocalNets::Contains(const IpAddress& ip) const {
  for (const IpPrefix& p : *this) {
    if (p.Contains(ip)) return true;
  }
  return false;
}

Direction DirectionOf(const LocalNets& local, const IpAddress& src, const IpAddress& dst) {
  if (local.empty()) return Direction::kNone;
  bool src_local = local.Contains(src);
  bool dst_local = local.Contains(dst);
  if (dst_local && !src_local) return Direction::kIn;
  if (src_local && !dst_local) return Direction::kOut;
  return Direction::kNone;
}

}  // namespace sipman::stats
