#ifndef SIPMAN_BASE_IP_ADDRESS_H_
#define SIPMAN_BASE_IP_ADDRESS_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sipman {

// An IPv4 or IPv6 address, stored by value (no allocation). IPv4 uses the
// first 4 bytes of `bytes`; the rest stay zero so that == and hashing work.
struct IpAddress {
  enum class Family : uint8_t { kNone = 0, kV4 = 4, kV6 = 6 };

  Family family = Family::kNone;
  uint8_t bytes[16] = {};

  static IpAddress V4(const uint8_t* b) {
    IpAddress a;
    a.family = Family::kV4;
    std::memcpy(a.bytes, b, 4);
    return a;
  }
  static IpAddress V6(const uint8_t* b) {
    IpAddress a;
    a.family = Family::kV6;
    std::memcpy(a.bytes, b, 16);
    return a;
  }
  bool is_v4() const { return family == Family::kV4; }
  bool is_v6() const { return family == Family::kV6; }

  // Writes the textual form (dotted quad, or RFC 5952 compressed IPv6) into
  // `out`, which must hold 46 bytes. Returns the length written.
  size_t Format(char* out) const;
  std::string ToString() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    return a.family == b.family && std::memcmp(a.bytes, b.bytes, 16) == 0;
  }
};

// Reads a dotted quad or an IPv6 address (RFC 4291 text, no zone, no
// brackets). False, with *out unchanged, for anything else.
bool ParseIpAddress(std::string_view text, IpAddress* out);

}  // namespace sipman

#endif  // SIPMAN_BASE_IP_ADDRESS_H_
