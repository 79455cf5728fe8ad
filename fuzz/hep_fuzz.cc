// Feeds the HEP decoder, the HEPv3 TCP framing and the encoder.
//
// Input: the whole input is decoded as one datagram; then it is read as a
// TCP stream, cut into frames by NextHepFrame, and each frame is decoded.
// Every packet that decodes is encoded again and must decode to the same
// fields (a round-trip oracle).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "hep/hep.h"

namespace {

uint64_t Touch(const sipman::hep::HepPacket& p) {
  uint64_t sum = p.src_port + p.dst_port + p.capture_id + p.vlan + p.keep_alive_s;
  // Read every byte of every view so that ASan checks them.
  for (std::string_view v : {p.payload, p.auth_key, p.correlation_id, p.node_name}) {
    for (char c : v) sum += static_cast<uint8_t>(c);
  }
  return sum;
}

void RoundTrip(const sipman::hep::HepPacket& p, std::string* wire, std::string* inflate) {
  if (!sipman::hep::EncodeHep3(p, wire).ok()) return;  // over 65535 after inflating
  sipman::hep::HepPacket q;
  const auto err = sipman::hep::DecodeHepPacket(
      {reinterpret_cast<const uint8_t*>(wire->data()), wire->size()}, &q, inflate);
  if (err != sipman::hep::HepError::kOk) abort();
  if (!(q.src_ip == p.src_ip) || !(q.dst_ip == p.dst_ip) || q.src_port != p.src_port ||
      q.dst_port != p.dst_port || q.capture_id != p.capture_id || q.payload != p.payload ||
      q.node_name != p.node_name || q.auth_key != p.auth_key ||
      q.correlation_id != p.correlation_id || q.ip_protocol != p.ip_protocol) {
    abort();
  }
  // Time survives to the microsecond, for times that fit HEP's 32-bit seconds.
  if (p.ts >= 0 && p.ts / sipman::kNsPerSecond <= 0xffffffffLL &&
      q.ts / sipman::kNsPerUs != p.ts / sipman::kNsPerUs) {
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::string inflate, inflate2, wire;
  volatile uint64_t sink = 0;
  sipman::hep::HepPacket p;
  if (sipman::hep::DecodeHepPacket({data, size}, &p, &inflate) == sipman::hep::HepError::kOk) {
    sink = sink + Touch(p);
    RoundTrip(p, &wire, &inflate2);
  }
  (void)sipman::hep::DecodeHep({data, size}, &p, &inflate);

  size_t pos = 0;
  while (pos < size) {
    size_t len = 0;
    const auto s = sipman::hep::NextHepFrame({data + pos, size - pos}, &len);
    if (s != sipman::hep::FrameStatus::kFrame) break;
    if (len == 0 || len > size - pos) abort();
    if (sipman::hep::DecodeHepPacket({data + pos, len}, &p, &inflate) ==
        sipman::hep::HepError::kOk) {
      sink = sink + Touch(p);
    }
    pos += len;
  }
  return 0;
}
