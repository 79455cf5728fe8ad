// HEP inside a capture: a capture taken between a SIP server and its Homer
// holds HEP packets (UDP or TCP, port 9060 by default). Each is unwrapped
// into the SIP it carries, with the HEP header's addresses, ports and time,
// as `sipman run --hep-listen` would decode it.
#include <cstring>

#include "hep/hep.h"
#include "net/decoder_impl.h"

namespace sipman::net {
namespace {

constexpr uint8_t kIpProtocolSctp = 132;

// What a HEPv1/v2 packet starts with: version, header length, address family.
bool LooksLikeHep12(std::string_view d) {
  return d.size() >= 3 && (d[0] == 1 || d[0] == 2) && (d[2] == 2 || d[2] == 10);
}

}  // namespace

bool Decoder::Impl::IsHepPort(uint16_t port) const {
  for (size_t i = 0; i < hep_port_count_; ++i) {
    if (hep_ports_[i] == port) return true;
  }
  return false;
}

bool Decoder::Impl::DecodeHepDatagram(uint16_t src_port, uint16_t dst_port,
                                      std::string_view data) {
  const bool hep3 = data.size() >= 4 && std::memcmp(data.data(), "HEP3", 4) == 0;
  // HEPv1/v2 have no magic: only on a HEP port, and only when not SIP.
  if (!hep3 && !((IsHepPort(src_port) || IsHepPort(dst_port)) && LooksLikeHep12(data))) {
    return false;
  }
  if (!DecodeHepPacket(data)) {
    ++counters_.hep_errors;
  }
  return true;
}

bool Decoder::Impl::DecodeHepPacket(std::string_view packet) {
  hep::HepPacket hep;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(packet.data()),
                                       packet.size());
  if (hep::DecodeHepPacket(bytes, &hep, &hep_inflate_) != hep::HepError::kOk) return false;
  if (!EnterTunnel()) return true;
  ++counters_.hep_packets;
  // The HEP header's time is when the agent saw the message; HEPv1 has none.
  const TimestampNs saved_ts = ts_;
  if (hep.ts != 0) ts_ = hep.ts;
  if (hep.payload_type == hep::kPayloadTypeRtcp) {
    Payload payload;
    payload.ts = ts_;
    payload.src_ip = hep.src_ip;
    payload.dst_ip = hep.dst_ip;
    payload.src_port = hep.src_port;
    payload.dst_port = hep.dst_port;
    payload.frame_bytes = wire_len_;
    payload.data = hep.payload;
    sink_->OnHepRtcp(payload, hep.correlation_id);
  } else if (hep.ip_protocol == hep::kIpProtocolTcp) {
    TcpSegment seg;
    seg.ts = ts_;
    seg.clock_ts = saved_ts;
    seg.wire_len = wire_len_;
    seg.src = hep.src_ip;
    seg.dst = hep.dst_ip;
    seg.src_port = hep.src_port;
    seg.dst_port = hep.dst_port;
    seg.has_seq = false;  // HEP carries whole messages, in order
    seg.data = hep.payload;
    tcp_.OnSegment(seg);
  } else {
    const Transport transport =
        hep.ip_protocol == kIpProtocolSctp ? Transport::kSctp : Transport::kUdp;
    EmitDatagram(hep.src_ip, hep.src_port, hep.dst_ip, hep.dst_port, transport, hep.payload);
  }
  ts_ = saved_ts;
  return true;
}

void Decoder::Impl::OnHepFrame(std::string_view frame) {
  // Layout: u32 length, i32 depth, i64 frame time, u32 wire length, bytes.
  const uint32_t length = static_cast<uint32_t>(frame.size());
  const int32_t depth = depth_;
  const int64_t ts = ts_;
  const uint32_t wire_len = wire_len_;
  hep_queue_.append(reinterpret_cast<const char*>(&length), sizeof(length));
  hep_queue_.append(reinterpret_cast<const char*>(&depth), sizeof(depth));
  hep_queue_.append(reinterpret_cast<const char*>(&ts), sizeof(ts));
  hep_queue_.append(reinterpret_cast<const char*>(&wire_len), sizeof(wire_len));
  hep_queue_.append(frame);
}

void Decoder::Impl::DecodeQueuedHepFrames() {
  // A frame may carry TCP that yields more frames: they are queued anew and
  // taken by the next round. Depth bounds the rounds.
  constexpr size_t kEntryHeader = 4 + 4 + 8 + 4;
  while (!hep_queue_.empty() && hep_queue_spare_.empty()) {
    hep_queue_spare_.swap(hep_queue_);
    const TimestampNs saved_ts = ts_;
    const uint32_t saved_wire_len = wire_len_;
    const int saved_depth = depth_;
    size_t pos = 0;
    while (pos + kEntryHeader <= hep_queue_spare_.size()) {
      uint32_t length;
      int32_t depth;
      int64_t ts;
      uint32_t wire_len;
      const char* e = hep_queue_spare_.data() + pos;
      std::memcpy(&length, e, 4);
      std::memcpy(&depth, e + 4, 4);
      std::memcpy(&ts, e + 8, 8);
      std::memcpy(&wire_len, e + 16, 4);
      pos += kEntryHeader;
      ts_ = ts;
      wire_len_ = wire_len;
      depth_ = depth;
      if (!DecodeHepPacket(std::string_view(hep_queue_spare_).substr(pos, length))) {
        ++counters_.hep_errors;
      }
      pos += length;
    }
    hep_queue_spare_.clear();
    ts_ = saved_ts;
    wire_len_ = saved_wire_len;
    depth_ = saved_depth;
  }
}

}  // namespace sipman::net
