// Test-only helpers that build link-layer frames byte by byte, with correct
// lengths, and a sink that keeps copies of what the decoder emits.
#ifndef SIPMAN_TESTS_NET_FRAME_BUILDER_H_
#define SIPMAN_TESTS_NET_FRAME_BUILDER_H_

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"
#include "net/net.h"

namespace sipman::net::testing {

using Bytes = std::vector<uint8_t>;

inline void Put8(Bytes* b, uint8_t v) { b->push_back(v); }
inline void Put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}
inline void Put32(Bytes* b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}
inline void PutLe32(Bytes* b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
// resize + memcpy rather than insert: g++ 12 warns falsely (stringop-overread) on
// inlined vector::insert.
inline void AppendRaw(Bytes* b, const void* data, size_t n) {
  if (n == 0) return;
  const size_t old = b->size();
  b->resize(old + n);
  std::memcpy(b->data() + old, data, n);
}
inline void Append(Bytes* b, const Bytes& more) { AppendRaw(b, more.data(), more.size()); }
inline void Append(Bytes* b, std::string_view s) { AppendRaw(b, s.data(), s.size()); }
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}
// 2001:db8::<last>
inline IpAddress V6(uint8_t last) {
  uint8_t bytes[16] = {0x20, 0x01, 0x0d, 0xb8};
  bytes[15] = last;
  return IpAddress::V6(bytes);
}

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

inline Bytes Udp(uint16_t sport, uint16_t dport, std::string_view payload) {
  Bytes b;
  Put16(&b, sport);
  Put16(&b, dport);
  Put16(&b, static_cast<uint16_t>(8 + payload.size()));
  Put16(&b, 0);
  Append(&b, payload);
  return b;
}

inline Bytes Tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
                 std::string_view payload) {
  Bytes b;
  Put16(&b, sport);
  Put16(&b, dport);
  Put32(&b, seq);
  Put32(&b, 1);     // ack
  Put8(&b, 5 << 4);  // data offset: 20 bytes
  Put8(&b, flags);
  Put16(&b, 65535);  // window
  Put16(&b, 0);      // checksum
  Put16(&b, 0);      // urgent
  Append(&b, payload);
  return b;
}

// An IPv4 header (20 bytes) and `payload`. `frag_bytes_offset` is in bytes
// and must be a multiple of 8.
inline Bytes Ipv4(const IpAddress& src, const IpAddress& dst, uint8_t protocol,
                  const Bytes& payload, uint16_t id = 1, uint32_t frag_bytes_offset = 0,
                  bool more_fragments = false) {
  Bytes b;
  Put8(&b, 0x45);
  Put8(&b, 0);
  Put16(&b, static_cast<uint16_t>(20 + payload.size()));
  Put16(&b, id);
  Put16(&b, static_cast<uint16_t>((more_fragments ? 0x2000 : 0) | (frag_bytes_offset / 8)));
  Put8(&b, 64);
  Put8(&b, protocol);
  Put16(&b, 0);
  AppendRaw(&b, src.bytes, 4);
  AppendRaw(&b, dst.bytes, 4);
  Append(&b, payload);
  return b;
}

// An IPv6 header (40 bytes); `payload` holds any extension headers.
inline Bytes Ipv6(const IpAddress& src, const IpAddress& dst, uint8_t next_header,
                  const Bytes& payload) {
  Bytes b;
  Put32(&b, 0x60000000);
  Put16(&b, static_cast<uint16_t>(payload.size()));
  Put8(&b, next_header);
  Put8(&b, 64);
  AppendRaw(&b, src.bytes, 16);
  AppendRaw(&b, dst.bytes, 16);
  Append(&b, payload);
  return b;
}

// A generic extension header (hop-by-hop, routing, destination options) of
// (units + 1) * 8 bytes, padded with zeros, followed by `rest`.
inline Bytes Ipv6Options(uint8_t next_header, uint8_t units, const Bytes& rest) {
  Bytes b;
  Put8(&b, next_header);
  Put8(&b, units);
  b.resize((units + 1u) * 8u, 0);
  Append(&b, rest);
  return b;
}

// An authentication header: (units + 2) * 4 bytes.
inline Bytes Ipv6Ah(uint8_t next_header, uint8_t units, const Bytes& rest) {
  Bytes b;
  Put8(&b, next_header);
  Put8(&b, units);
  b.resize((units + 2u) * 4u, 0);
  Append(&b, rest);
  return b;
}

inline Bytes Ipv6Fragment(uint8_t next_header, uint32_t offset_bytes, bool more, uint32_t id,
                          const Bytes& part) {
  Bytes b;
  Put8(&b, next_header);
  Put8(&b, 0);
  Put16(&b, static_cast<uint16_t>(offset_bytes | (more ? 1 : 0)));
  Put32(&b, id);
  Append(&b, part);
  return b;
}

// Ethernet II with optional VLAN tags, each {tpid, vlan id}, outermost first.
inline Bytes Ethernet(uint16_t ethertype, const Bytes& payload,
                      std::initializer_list<std::pair<uint16_t, uint16_t>> tags = {}) {
  Bytes b = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
  for (const auto& tag : tags) {
    Put16(&b, tag.first);
    Put16(&b, tag.second);
  }
  Put16(&b, ethertype);
  Append(&b, payload);
  return b;
}

inline Bytes Sll(uint16_t protocol, const Bytes& payload) {
  Bytes b;
  Put16(&b, 0);      // packet type: to us
  Put16(&b, 1);      // ARPHRD_ETHER
  Put16(&b, 6);      // address length
  b.insert(b.end(), {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0});
  Put16(&b, protocol);
  Append(&b, payload);
  return b;
}

inline Bytes Sll2(uint16_t protocol, const Bytes& payload) {
  Bytes b;
  Put16(&b, protocol);
  Put16(&b, 0);   // reserved
  Put32(&b, 2);   // interface index
  Put16(&b, 1);   // ARPHRD_ETHER
  Put8(&b, 0);    // packet type
  Put8(&b, 6);    // address length
  b.insert(b.end(), {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0});
  Append(&b, payload);
  return b;
}

inline Bytes BsdNull(uint32_t family, const Bytes& payload) {
  Bytes b;
  PutLe32(&b, family);
  Append(&b, payload);
  return b;
}

inline Bytes BsdLoop(uint32_t family, const Bytes& payload) {
  Bytes b;
  Put32(&b, family);
  Append(&b, payload);
  return b;
}

// Shorthands for the common case.
inline Bytes EthIpv4Udp(const IpAddress& src, uint16_t sport, const IpAddress& dst,
                        uint16_t dport, std::string_view payload) {
  return Ethernet(0x0800, Ipv4(src, dst, 17, Udp(sport, dport, payload)));
}
inline Bytes EthIpv4Tcp(const IpAddress& src, uint16_t sport, const IpAddress& dst,
                        uint16_t dport, uint32_t seq, uint8_t flags, std::string_view payload) {
  return Ethernet(0x0800, Ipv4(src, dst, 6, Tcp(sport, dport, seq, flags, payload)));
}

// A SIP request with a body of `body_len` 'x' bytes and a matching
// Content-Length; `tag` makes messages distinguishable.
inline std::string SipRequest(std::string_view tag, size_t body_len = 0,
                              std::string_view length_header = "Content-Length") {
  std::string m = "INVITE sip:bob@example.com SIP/2.0\r\n";
  m += "Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK";
  m += tag;
  m += "\r\nCall-ID: ";
  m += tag;
  m += "\r\nCSeq: 1 INVITE\r\n";
  m += length_header;
  m += ": " + std::to_string(body_len) + "\r\n\r\n";
  m.append(body_len, 'x');
  return m;
}

// One WebSocket frame (RFC 6455 section 5.2); masked when `mask` is given.
inline std::string WsFrame(uint8_t opcode, bool fin, std::string_view payload,
                           const uint8_t* mask = nullptr) {
  Bytes b;
  Put8(&b, static_cast<uint8_t>((fin ? 0x80 : 0) | opcode));
  const uint8_t mask_bit = mask != nullptr ? 0x80 : 0;
  if (payload.size() < 126) {
    Put8(&b, static_cast<uint8_t>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    Put8(&b, mask_bit | 126);
    Put16(&b, static_cast<uint16_t>(payload.size()));
  } else {
    Put8(&b, mask_bit | 127);
    Put32(&b, 0);
    Put32(&b, static_cast<uint32_t>(payload.size()));
  }
  if (mask != nullptr) AppendRaw(&b, mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    const uint8_t c = static_cast<uint8_t>(payload[i]);
    b.push_back(mask != nullptr ? static_cast<uint8_t>(c ^ mask[i % 4]) : c);
  }
  return std::string(b.begin(), b.end());
}

struct CapturedPayload {
  Payload meta;  // data is cleared; see `data`
  std::string data;
};

class CollectingSink : public PayloadSink {
 public:
  void OnPayload(const Payload& payload) override {
    CapturedPayload c;
    c.meta = payload;
    c.meta.data = {};
    c.data.assign(payload.data);
    got.push_back(std::move(c));
  }
  std::vector<std::string> Data() const {
    std::vector<std::string> out;
    for (const auto& c : got) out.push_back(c.data);
    return out;
  }
  std::vector<CapturedPayload> got;
};

inline std::span<const uint8_t> Span(const Bytes& b) { return {b.data(), b.size()}; }

}  // namespace sipman::net::testing

#endif  // SIPMAN_TESTS_NET_FRAME_BUILDER_H_
