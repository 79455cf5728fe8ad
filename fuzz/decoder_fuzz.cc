// Feeds several frames through one Decoder so that IP fragment reassembly,
// TCP stream, SCTP fragment and HEP-in-TCP state are exercised across
// frames; tunnels (GRE, ERSPAN, VXLAN, Geneve, GTP-U, PPPoE, MPLS, IP-in-IP)
// are reached from every link type.
//
// Input: byte 0 picks the link type; then frames, each a 2-byte big-endian
// length and that many bytes (a short last frame takes what is left). Every
// 8th frame advances capture time past the timeouts.
#include <cstddef>
#include <cstdint>

#include "net/net.h"

namespace {

class TouchingSink : public sipman::net::PayloadSink {
 public:
  void OnPayload(const sipman::net::Payload& payload) override {
    // Read every byte so that ASan checks the whole view.
    for (char c : payload.data) sum_ += static_cast<uint8_t>(c);
    sum_ += payload.src_port + payload.dst_port + payload.frame_bytes;
  }
  uint64_t sum_ = 0;
};

constexpr sipman::net::LinkType kLinks[] = {
    sipman::net::LinkType::kEthernet, sipman::net::LinkType::kLinuxSll,
    sipman::net::LinkType::kLinuxSll2, sipman::net::LinkType::kRaw,
    sipman::net::LinkType::kIpv4,     sipman::net::LinkType::kIpv6,
    sipman::net::LinkType::kNull,     sipman::net::LinkType::kLoop,
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  sipman::net::DecoderOptions options;
  // Small bounds so that eviction and overflow paths are reached.
  options.max_fragment_datagrams = 4;
  options.max_fragment_bytes = 4096;
  options.max_tcp_streams = 4;
  options.max_tcp_stream_bytes = 2048;
  options.fragment_timeout_ns = 1000;
  options.tcp_idle_timeout_ns = 1000;
  options.max_sctp_partial_messages = 4;
  options.max_sctp_message_bytes = 2048;
  TouchingSink sink;
  sipman::net::Decoder decoder(options, &sink);
  const sipman::net::LinkType link = kLinks[data[0] % 8];
  const bool transport_mode = (data[0] & 0x80) != 0;
  size_t pos = 1;
  int64_t ts = 0;
  int index = 0;
  while (pos < size) {
    size_t len = size - pos;
    if (len >= 2) {
      const size_t want = static_cast<size_t>(data[pos]) << 8 | data[pos + 1];
      pos += 2;
      len = size - pos < want ? size - pos : want;
    } else {
      pos = size - len;
    }
    // Copy into an exact-size buffer so that ASan catches any overread.
    uint8_t* frame = new uint8_t[len ? len : 1];
    for (size_t i = 0; i < len; ++i) frame[i] = data[pos + i];
    ts += (++index % 8 == 0) ? 5000 : 1;
    if (transport_mode && len > 0 && (frame[0] & 3) == 3) {
      uint8_t a[4] = {1, 2, 3, 4};
      uint8_t b[4] = {5, 6, 7, 8};
      decoder.DecodeTransportPayload(
          ts, (frame[0] & 4) ? sipman::net::Transport::kTcp : sipman::net::Transport::kUdp,
          sipman::IpAddress::V4(a), 5060, sipman::IpAddress::V4(b), 5060, {frame + 1, len - 1},
          static_cast<uint32_t>(len));
    } else {
      decoder.DecodeFrame(ts, link, {frame, len}, static_cast<uint32_t>(len));
    }
    delete[] frame;
    pos += len;
  }
  decoder.Finish();
  return 0;
}
