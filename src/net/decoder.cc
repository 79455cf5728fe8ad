// Decoder: link layer -> IP -> UDP | TCP reassembly | SCTP, and the glue
// between the private pieces (ip_reassembly, tcp_reassembly, sctp, tunnels,
// sip_framing).
#include <cstring>

#include "net/decoder_impl.h"

namespace sipman::net {
namespace {

constexpr int kMaxVlanDepth = 8;
constexpr int kMaxIpv6ExtensionHeaders = 16;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherMplsUnicast = 0x8847;
constexpr uint16_t kEtherMplsMulticast = 0x8848;
constexpr uint16_t kEtherPppoeSession = 0x8864;
constexpr uint8_t kProtoIpv4InIp = 4;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIpv6InIp = 41;
constexpr uint8_t kProtoGre = 47;
constexpr uint8_t kProtoSctp = 132;

inline uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

inline bool IsVlanTpid(uint16_t type) {
  return type == 0x8100 || type == 0x88a8 || type == 0x9100 || type == 0x9200;
}

// BSD address family values for IPv6 differ by OS (24 NetBSD/OpenBSD,
// 28 FreeBSD, 30 macOS).
inline bool IsBsdInet6(uint32_t family) { return family == 24 || family == 28 || family == 30; }

}  // namespace

Decoder::Impl::Impl(const DecoderOptions& options, PayloadSink* sink)
    : sink_(sink),
      options_(options),
      fragments_(options, &counters_),
      tcp_(options, sink, this, &counters_),
      sctp_(options, sink, &counters_) {
  for (uint16_t port : options.hep_ports) {
    if (port != 0) hep_ports_[hep_port_count_++] = port;
  }
}

void Decoder::Impl::Finish() {
  tcp_.Finish();
  DecodeQueuedHepFrames();
  sctp_.Finish();
  fragments_.Finish();
}

void Decoder::Impl::DecodeFrame(TimestampNs ts, LinkType link, std::span<const uint8_t> frame,
                                uint32_t wire_len) {
  ++counters_.frames;
  counters_.frame_bytes += wire_len;
  ts_ = ts;
  wire_len_ = wire_len;
  depth_ = 0;
  const uint8_t* p = frame.data();
  const size_t n = frame.size();
  switch (link) {
    case LinkType::kEthernet:
      DecodeEthernet(p, n);
      return;
    case LinkType::kLinuxSll: {
      if (n < 16) break;
      DecodeEthertype(LoadBe16(p + 14), p + 16, n - 16);
      return;
    }
    case LinkType::kLinuxSll2: {
      if (n < 20) break;
      DecodeEthertype(LoadBe16(p), p + 20, n - 20);
      return;
    }
    case LinkType::kRaw:
      DecodeByVersion(p, n);
      return;
    case LinkType::kIpv4:
      DecodeIpv4(p, n);
      return;
    case LinkType::kIpv6:
      DecodeIpv6(p, n);
      return;
    case LinkType::kNull:
    case LinkType::kLoop: {
      if (n < 4) break;
      uint32_t family;
      if (link == LinkType::kLoop) {
        family = LoadBe32(p);
      } else {
        // Host order of the capturing machine, which may not be ours.
        family = LoadLe32(p);
        if ((family & 0xffff0000u) != 0) family = LoadBe32(p);
      }
      if (family == 2) {
        DecodeIpv4(p + 4, n - 4);
      } else if (IsBsdInet6(family)) {
        DecodeIpv6(p + 4, n - 4);
      } else {
        ++counters_.unsupported_link;
      }
      return;
    }
    default:
      ++counters_.unsupported_link;
      return;
  }
  ++counters_.truncated;
}

void Decoder::Impl::DecodeEthernet(const uint8_t* p, size_t n) {
  if (n < 14) {
    ++counters_.truncated;
    return;
  }
  DecodeEthertype(LoadBe16(p + 12), p + 14, n - 14);
}

void Decoder::Impl::DecodeEthertype(uint16_t type, const uint8_t* p, size_t n) {
  for (int depth = 0; IsVlanTpid(type); ++depth) {
    if (depth == kMaxVlanDepth) {
      ++counters_.unsupported_link;
      return;
    }
    if (n < 4) {
      ++counters_.truncated;
      return;
    }
    type = LoadBe16(p + 2);
    p += 4;
    n -= 4;
  }
  switch (type) {
    case kEtherIpv4:
      DecodeIpv4(p, n);
      return;
    case kEtherIpv6:
      DecodeIpv6(p, n);
      return;
    case kEtherMplsUnicast:
    case kEtherMplsMulticast:
      DecodeMpls(p, n);
      return;
    case kEtherPppoeSession:
      DecodePppoe(p, n);
      return;
    default:
      // Includes 802.3 frames, whose "type" is a length (< 0x0600).
      ++counters_.unsupported_link;
      return;
  }
}

void Decoder::Impl::DecodeByVersion(const uint8_t* p, size_t n) {
  if (n < 1) {
    ++counters_.truncated;
    return;
  }
  switch (p[0] >> 4) {
    case 4: DecodeIpv4(p, n); return;
    case 6: DecodeIpv6(p, n); return;
    default: ++counters_.unsupported_link; return;
  }
}

void Decoder::Impl::DecodeIpv4(const uint8_t* p, size_t n) {
  if (n < 20 || (p[0] >> 4) != 4) {
    ++counters_.truncated;
    return;
  }
  const size_t header_len = static_cast<size_t>(p[0] & 0x0f) * 4;
  size_t total = LoadBe16(p + 2);
  if (total == 0) total = n;  // segmentation offload leaves it 0
  if (header_len < 20 || total < header_len || total > n) {
    ++counters_.truncated;
    return;
  }
  const IpAddress src = IpAddress::V4(p + 12);
  const IpAddress dst = IpAddress::V4(p + 16);
  const uint8_t protocol = p[9];
  const uint16_t frag = LoadBe16(p + 6);
  const bool more = (frag & 0x2000) != 0;
  const uint32_t offset = static_cast<uint32_t>(frag & 0x1fff) * 8;
  const uint8_t* payload = p + header_len;
  const size_t payload_len = total - header_len;
  if (!more && offset == 0) {
    DecodeTransport(protocol, src, dst, payload, payload_len);
    return;
  }
  ++counters_.ip_fragments;
  FragmentKey key;
  key.src = src;
  key.dst = dst;
  key.id = LoadBe16(p + 4);
  key.protocol = protocol;
  std::span<const uint8_t> datagram;
  if (fragments_.AddFragment(ts_, key, offset, more, {payload, payload_len}, &datagram)) {
    DecodeTransport(protocol, src, dst, datagram.data(), datagram.size());
  }
}

void Decoder::Impl::DecodeIpv6(const uint8_t* p, size_t n) {
  if (n < 40 || (p[0] >> 4) != 6) {
    ++counters_.truncated;
    return;
  }
  size_t payload_len = LoadBe16(p + 4);
  if (payload_len == 0) payload_len = n - 40;  // jumbogram or offload
  if (payload_len > n - 40) {
    ++counters_.truncated;
    return;
  }
  const IpAddress src = IpAddress::V6(p + 8);
  const IpAddress dst = IpAddress::V6(p + 24);
  DecodeIpv6Payload(src, dst, p[6], p + 40, payload_len, false);
}

void Decoder::Impl::DecodeIpv6Payload(const IpAddress& src, const IpAddress& dst, uint8_t next,
                                      const uint8_t* p, size_t n, bool reassembled) {
  for (int i = 0; i < kMaxIpv6ExtensionHeaders; ++i) {
    switch (next) {
      case 0:     // hop-by-hop options
      case 43:    // routing
      case 60:    // destination options
      case 135: {  // mobility
        if (n < 8) break;
        const size_t len = (static_cast<size_t>(p[1]) + 1) * 8;
        if (n < len) break;
        next = p[0];
        p += len;
        n -= len;
        continue;
      }
      case 51: {  // authentication header
        if (n < 8) break;
        const size_t len = (static_cast<size_t>(p[1]) + 2) * 4;
        if (n < len) break;
        next = p[0];
        p += len;
        n -= len;
        continue;
      }
      case 44: {  // fragment
        if (n < 8) break;
        const uint8_t inner = p[0];
        const uint16_t field = LoadBe16(p + 2);
        const uint32_t offset = field & 0xfff8;
        const bool more = (field & 1) != 0;
        const uint32_t id = LoadBe32(p + 4);
        p += 8;
        n -= 8;
        if (offset == 0 && !more) {  // atomic fragment (RFC 6946)
          next = inner;
          continue;
        }
        ++counters_.ip_fragments;
        if (reassembled) {
          ++counters_.ip_fragments_dropped;
          return;
        }
        FragmentKey key;
        key.src = src;
        key.dst = dst;
        key.id = id;
        key.protocol = inner;
        std::span<const uint8_t> datagram;
        if (fragments_.AddFragment(ts_, key, offset, more, {p, n}, &datagram)) {
          DecodeIpv6Payload(src, dst, inner, datagram.data(), datagram.size(), true);
        }
        return;
      }
      case 50:  // ESP: encrypted
      case 59:  // no next header
        return;
      default:
        DecodeTransport(next, src, dst, p, n);
        return;
    }
    ++counters_.truncated;
    return;
  }
  ++counters_.truncated;
}

void Decoder::Impl::DecodeTransport(uint8_t protocol, const IpAddress& src, const IpAddress& dst,
                                    const uint8_t* p, size_t n) {
  switch (protocol) {
    case kProtoUdp:
      DecodeUdp(src, dst, p, n);
      return;
    case kProtoTcp:
      DecodeTcp(src, dst, p, n);
      if (!hep_queue_.empty()) DecodeQueuedHepFrames();
      return;
    case kProtoSctp:
      sctp_.OnPacket(ts_, wire_len_, src, dst, p, n);
      return;
    case kProtoIpv4InIp:
    case kProtoIpv6InIp:
      DecodeIpInIp(protocol, p, n);
      return;
    case kProtoGre:
      DecodeGre(p, n);
      return;
    default:
      return;
  }
}

void Decoder::Impl::DecodeUdp(const IpAddress& src, const IpAddress& dst, const uint8_t* p,
                              size_t n) {
  if (n < 8) {
    ++counters_.truncated;
    return;
  }
  size_t length = LoadBe16(p + 4);
  if (length == 0) length = n;  // IPv6 jumbogram or offload
  if (length < 8 || length > n) {
    ++counters_.truncated;
    return;
  }
  ++counters_.udp_datagrams;
  const uint16_t src_port = LoadBe16(p);
  const uint16_t dst_port = LoadBe16(p + 2);
  const std::string_view data(reinterpret_cast<const char*>(p + 8), length - 8);
  // Tunnels announce themselves by destination port; a payload that fails
  // the tunnel's own checks is taken as a plain datagram.
  // SIP on a tunnel's port is SIP (a tunnel header never starts with a
  // method or "SIP/2.0").
  switch (dst_port) {
    case kPortVxlan:
      if (!LooksLikeSip(data) && DecodeVxlan(p + 8, length - 8)) return;
      break;
    case kPortGeneve:
      if (!LooksLikeSip(data) && DecodeGeneve(p + 8, length - 8)) return;
      break;
    case kPortGtpu:
      if (!LooksLikeSip(data) && DecodeGtpu(p + 8, length - 8)) return;
      break;
    default:
      break;
  }
  if (options_.decode_hep &&
      ((data.size() >= 4 && std::memcmp(data.data(), "HEP3", 4) == 0) || IsHepPort(dst_port) ||
       IsHepPort(src_port))) {
    if (DecodeHepDatagram(src_port, dst_port, data)) return;
  }
  EmitDatagram(src, src_port, dst, dst_port, Transport::kUdp, data);
}

void Decoder::Impl::DecodeTcp(const IpAddress& src, const IpAddress& dst, const uint8_t* p,
                              size_t n) {
  if (n < 20) {
    ++counters_.truncated;
    return;
  }
  const size_t header_len = static_cast<size_t>(p[12] >> 4) * 4;
  if (header_len < 20 || header_len > n) {
    ++counters_.truncated;
    return;
  }
  const uint8_t flags = p[13];
  TcpSegment seg;
  seg.ts = ts_;
  seg.wire_len = wire_len_;
  seg.src = src;
  seg.dst = dst;
  seg.src_port = LoadBe16(p);
  seg.dst_port = LoadBe16(p + 2);
  seg.seq = LoadBe32(p + 4);
  seg.fin = (flags & 0x01) != 0;
  seg.syn = (flags & 0x02) != 0;
  seg.rst = (flags & 0x04) != 0;
  seg.data = std::string_view(reinterpret_cast<const char*>(p + header_len), n - header_len);
  tcp_.OnSegment(seg);
}

void Decoder::Impl::EmitDatagram(const IpAddress& src, uint16_t src_port, const IpAddress& dst,
                                 uint16_t dst_port, Transport transport, std::string_view data) {
  Payload payload;
  payload.ts = ts_;
  payload.src_ip = src;
  payload.dst_ip = dst;
  payload.src_port = src_port;
  payload.dst_port = dst_port;
  payload.transport = transport;
  payload.frame_bytes = wire_len_;
  payload.data = data;
  if (!LooksLikeSip(data)) {
    ++counters_.non_sip;
    if (transport == Transport::kUdp) sink_->OnOtherDatagram(payload);
    return;
  }
  ++counters_.sip_payloads;
  sink_->OnPayload(payload);
}

void Decoder::Impl::DecodeTransportPayload(TimestampNs ts, Transport transport,
                                           const IpAddress& src, uint16_t src_port,
                                           const IpAddress& dst, uint16_t dst_port,
                                           std::span<const uint8_t> data, uint32_t wire_len) {
  ts_ = ts;
  wire_len_ = wire_len;
  depth_ = 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
  if (transport == Transport::kTcp) {
    TcpSegment seg;
    seg.ts = ts;
    seg.wire_len = wire_len;
    seg.src = src;
    seg.dst = dst;
    seg.src_port = src_port;
    seg.dst_port = dst_port;
    seg.has_seq = false;
    seg.data = bytes;
    tcp_.OnSegment(seg);
    if (!hep_queue_.empty()) DecodeQueuedHepFrames();
    return;
  }
  if (transport == Transport::kUdp) ++counters_.udp_datagrams;
  EmitDatagram(src, src_port, dst, dst_port, transport, bytes);
}

Decoder::Decoder(const DecoderOptions& options, PayloadSink* sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}

Decoder::~Decoder() = default;

void Decoder::DecodeFrame(TimestampNs ts, LinkType link, std::span<const uint8_t> frame,
                          uint32_t wire_len) {
  impl_->DecodeFrame(ts, link, frame, wire_len);
}

void Decoder::DecodeTransportPayload(TimestampNs ts, Transport transport, const IpAddress& src,
                                     uint16_t src_port, const IpAddress& dst, uint16_t dst_port,
                                     std::span<const uint8_t> data, uint32_t wire_len) {
  impl_->DecodeTransportPayload(ts, transport, src, src_port, dst, dst_port, data, wire_len);
}

void Decoder::Finish() { impl_->Finish(); }

const DecoderCounters& Decoder::counters() const { return impl_->counters(); }

}  // namespace sipman::net
