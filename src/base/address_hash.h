// The hash that keys flow tables: IP fragments and TCP streams (net), media
// endpoints and RTP streams (media).
#ifndef SIPMAN_BASE_ADDRESS_HASH_H_
#define SIPMAN_BASE_ADDRESS_HASH_H_

#include <cstdint>
#include <cstring>

#include "base/ip_address.h"

namespace sipman {

// Mixes two addresses into `seed` (the key's small fields: ids, ports,
// protocol). IpAddress keeps unused bytes zero, so IPv4 and IPv6 hash alike.
inline size_t HashAddressPair(uint64_t seed, const IpAddress& a, const IpAddress& b) {
  auto load64 = [](const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto mix = [](uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
  };
  uint64_t h = seed;
  h = mix(h, load64(a.bytes));
  h = mix(h, load64(a.bytes + 8));
  h = mix(h, load64(b.bytes));
  h = mix(h, load64(b.bytes + 8));
  return static_cast<size_t>(h ^ (h >> 29));
}

}  // namespace sipman

#endif  // SIPMAN_BASE_ADDRESS_HASH_H_
