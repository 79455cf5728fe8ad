// Test helper: builds HEP packets byte by byte, independently of EncodeHep3,
// so that the decoder is checked against the wire format itself.
#ifndef SIPMAN_TESTS_HEP_HEP_BUILDER_H_
#define SIPMAN_TESTS_HEP_HEP_BUILDER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sipman::hep::testing {

class Hep3Builder {
 public:
  Hep3Builder() { bytes_ = {'H', 'E', 'P', '3', 0, 0}; }

  Hep3Builder& Chunk(uint16_t type, std::string_view value, uint16_t vendor = 0) {
    Be16(vendor);
    Be16(type);
    Be16(static_cast<uint16_t>(6 + value.size()));
    bytes_.insert(bytes_.end(), value.begin(), value.end());
    return *this;
  }
  Hep3Builder& U8(uint16_t type, uint8_t v) { return Chunk(type, std::string(1, static_cast<char>(v))); }
  Hep3Builder& U16(uint16_t type, uint16_t v) {
    return Chunk(type, std::string{static_cast<char>(v >> 8), static_cast<char>(v)});
  }
  Hep3Builder& U32(uint16_t type, uint32_t v) {
    return Chunk(type, std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                                   static_cast<char>(v >> 8), static_cast<char>(v)});
  }
  Hep3Builder& Raw(std::string_view raw) {
    bytes_.insert(bytes_.end(), raw.begin(), raw.end());
    return *this;
  }
  // A typical IPv4/UDP SIP packet's chunks, without the payload.
  Hep3Builder& Ipv4Basics() {
    U8(0x01, 2).U8(0x02, 17);
    Chunk(0x03, std::string("\x0a\x00\x00\x01", 4)).Chunk(0x04, std::string("\x0a\x00\x00\x02", 4));
    U16(0x07, 5060).U16(0x08, 5070).U32(0x09, 1700000000).U32(0x0a, 123456);
    return U8(0x0b, 1).U32(0x0c, 2001);
  }
  // Sets the total length field to the size (or to `length` when given).
  std::vector<uint8_t> Build(int length = -1) const {
    std::vector<uint8_t> out = bytes_;
    const size_t n = length < 0 ? out.size() : static_cast<size_t>(length);
    out[4] = static_cast<uint8_t>(n >> 8);
    out[5] = static_cast<uint8_t>(n);
    return out;
  }

 private:
  void Be16(uint16_t v) {
    bytes_.push_back(static_cast<uint8_t>(v >> 8));
    bytes_.push_back(static_cast<uint8_t>(v));
  }
  std::vector<uint8_t> bytes_;
};

// HEPv1/v2 with the fixed header; time and capture id in little-endian (the
// host order of the agents that send it).
inline std::vector<uint8_t> BuildHep12(uint8_t version, bool v6, uint8_t proto,
                                       uint16_t sport, uint16_t dport, uint32_t sec,
                                       uint32_t usec, uint16_t capture_id,
                                       std::string_view payload) {
  std::vector<uint8_t> b;
  const size_t ip = v6 ? 32 : 8;
  b.push_back(version);
  b.push_back(static_cast<uint8_t>(8 + ip));
  b.push_back(v6 ? 10 : 2);
  b.push_back(proto);
  b.push_back(static_cast<uint8_t>(sport >> 8));
  b.push_back(static_cast<uint8_t>(sport));
  b.push_back(static_cast<uint8_t>(dport >> 8));
  b.push_back(static_cast<uint8_t>(dport));
  for (size_t i = 0; i < ip; ++i) {
    // src ...1, dst ...2
    const bool dst = i >= ip / 2;
    const bool last = (i + 1) % (ip / 2) == 0;
    b.push_back(last ? (dst ? 2 : 1) : (v6 ? (i % 16 == 0 ? 0x20 : (i % 16 == 1 ? 0x01 : 0)) : 10));
  }
  if (version == 2) {
    for (uint32_t v : {sec, usec}) {
      for (int k = 0; k < 4; ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k)));
    }
    b.push_back(static_cast<uint8_t>(capture_id));
    b.push_back(static_cast<uint8_t>(capture_id >> 8));
    b.push_back(0);
    b.push_back(0);
  }
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

}  // namespace sipman::hep::testing

#endif  // SIPMAN_TESTS_HEP_HEP_BUILDER_H_
