// Private to media: the keys of its tables. IpAddress keeps unused bytes
// zero, so IPv4 and IPv6 keys compare and hash alike.
#ifndef SIPMAN_MEDIA_KEYS_H_
#define SIPMAN_MEDIA_KEYS_H_

#include <cstdint>

#include "base/address_hash.h"
#include "base/ip_address.h"

namespace sipman::media {

// Where one side of a call receives RTP or RTCP, as its SDP said.
struct EndpointKey {
  IpAddress ip;
  uint16_t port = 0;
  friend bool operator==(const EndpointKey& a, const EndpointKey& b) {
    return a.port == b.port && a.ip == b.ip;
  }
};
struct EndpointKeyHash {
  size_t operator()(const EndpointKey& k) const {
    return HashAddressPair(0x6d656469 ^ k.port, k.ip, IpAddress{});
  }
};

// One RTP stream: one SSRC from one address and port to another.
struct StreamKey {
  IpAddress src, dst;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t ssrc = 0;
  friend bool operator==(const StreamKey& a, const StreamKey& b) {
    return a.ssrc == b.ssrc && a.src_port == b.src_port && a.dst_port == b.dst_port &&
           a.src == b.src && a.dst == b.dst;
  }
};
struct StreamKeyHash {
  size_t operator()(const StreamKey& k) const {
    return HashAddressPair(uint64_t{k.ssrc} << 32 | uint64_t{k.src_port} << 16 | k.dst_port, k.src,
                           k.dst);
  }
};

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_KEYS_H_
