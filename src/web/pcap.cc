#include "web/pcap.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <string_view>
#include <tuple>

namespace sipman::web {
namespace {

constexpr uint32_t kPcapMagicNs = 0xa1b23c4d;
constexpr uint32_t kSnapLen = 262144;
constexpr size_t kMaxSegment = 60000;  // fits an IPv4 datagram with headers

void Put16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}
void Put32(std::string* out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}
void PutLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutLe16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}

// One's-complement sum over bytes (big-endian 16-bit words).
uint32_t SumBytes(std::string_view bytes, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    sum += (static_cast<uint8_t>(bytes[i]) << 8) | static_cast<uint8_t>(bytes[i + 1]);
  }
  if (i < bytes.size()) sum += static_cast<uint8_t>(bytes[i]) << 8;
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;
};

std::string_view AddressBytes(const IpAddress& ip) {
  return std::string_view(reinterpret_cast<const char*>(ip.bytes), ip.is_v6() ? 16 : 4);
}

class PcapBuilder {
 public:
  PcapBuilder() {
    PutLe32(&out_, kPcapMagicNs);
    PutLe16(&out_, 2);
    PutLe16(&out_, 4);
    PutLe32(&out_, 0);
    PutLe32(&out_, 0);
    PutLe32(&out_, kSnapLen);
    PutLe32(&out_, 1);  // LINKTYPE_ETHERNET
  }

  // `l4` is the UDP or TCP header and payload, checksum field zero at
  // `checksum_offset`; the checksum is filled here.
  void Frame(TimestampNs ts, const Endpoint& src, const Endpoint& dst, uint8_t protocol,
             std::string l4, size_t checksum_offset) {
    bool v6 = src.ip.is_v6() || dst.ip.is_v6();
    IpAddress s = src.ip, d = dst.ip;
    if (v6 && !s.is_v6()) s = MapToV6(s);
    if (v6 && !d.is_v6()) d = MapToV6(d);
    if (!v6) {
      s.family = IpAddress::Family::kV4;
      d.family = IpAddress::Family::kV4;
    }
    // Pseudo-header checksum (RFC 768, RFC 793, RFC 8200 8.1).
    uint32_t sum = SumBytes(AddressBytes(s), 0);
    sum = SumBytes(AddressBytes(d), sum);
    sum += protocol;
    sum += static_cast<uint32_t>(l4.size() & 0xffff) + static_cast<uint32_t>(l4.size() >> 16);
    uint16_t checksum = Fold(SumBytes(l4, sum));
    if (protocol == 17 && checksum == 0) checksum = 0xffff;
    l4[checksum_offset] = static_cast<char>(checksum >> 8);
    l4[checksum_offset + 1] = static_cast<char>(checksum & 0xff);

    std::string frame;
    frame.append("\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    if (v6) {
      Put16(&frame, 0x86dd);
      Put32(&frame, 0x60000000);
      Put16(&frame, static_cast<uint16_t>(l4.size()));
      frame.push_back(static_cast<char>(protocol));
      frame.push_back(64);
      frame.append(AddressBytes(s));
      frame.append(AddressBytes(d));
    } else {
      Put16(&frame, 0x0800);
      std::string ip;
      ip.push_back(0x45);
      ip.push_back(0);
      Put16(&ip, static_cast<uint16_t>(20 + l4.size()));
      Put16(&ip, ++ip_id_);
      Put16(&ip, 0x4000);  // don't fragment
      ip.push_back(64);
      ip.push_back(static_cast<char>(protocol));
      Put16(&ip, 0);
      ip.append(AddressBytes(s));
      ip.append(AddressBytes(d));
      uint16_t ip_sum = Fold(SumBytes(ip, 0));
      ip[10] = static_cast<char>(ip_sum >> 8);
      ip[11] = static_cast<char>(ip_sum & 0xff);
      frame += ip;
    }
    frame += l4;
    if (ts < 0) ts = 0;
    PutLe32(&out_, static_cast<uint32_t>(ts / kNsPerSecond));
    PutLe32(&out_, static_cast<uint32_t>(ts % kNsPerSecond));
    PutLe32(&out_, static_cast<uint32_t>(frame.size()));
    PutLe32(&out_, static_cast<uint32_t>(frame.size()));
    out_ += frame;
  }

  void Udp(TimestampNs ts, const Endpoint& src, const Endpoint& dst, std::string_view payload) {
    std::string l4;
    Put16(&l4, src.port);
    Put16(&l4, dst.port);
    Put16(&l4, static_cast<uint16_t>(8 + payload.size()));
    Put16(&l4, 0);
    l4.append(payload);
    Frame(ts, src, dst, 17, std::move(l4), 6);
  }

  void Tcp(TimestampNs ts, const Endpoint& src, const Endpoint& dst, uint8_t flags, uint32_t seq,
           uint32_t ack, std::string_view payload) {
    std::string l4;
    Put16(&l4, src.port);
    Put16(&l4, dst.port);
    Put32(&l4, seq);
    Put32(&l4, ack);
    l4.push_back(0x50);  // 20-byte header
    l4.push_back(static_cast<char>(flags));
    Put16(&l4, 65535);
    Put16(&l4, 0);
    Put16(&l4, 0);
    l4.append(payload);
    Frame(ts, src, dst, 6, std::move(l4), 16);
  }

  std::string Take() { return std::move(out_); }

 private:
  static IpAddress MapToV6(const IpAddress& v4) {
    uint8_t b[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0};
    if (v4.is_v4()) std::memcpy(b + 12, v4.bytes, 4);
    return IpAddress::V6(b);
  }

  std::string out_;
  uint16_t ip_id_ = 0;
};

using FlowKey = std::tuple<std::string, uint16_t, std::string, uint16_t>;

constexpr uint8_t kSyn = 0x02, kPsh = 0x08, kAck = 0x10;

}  // namespace

std::string BuildCallPcap(const std::vector<store::StoredMessageRow>& messages) {
  PcapBuilder pcap;
  // Next sequence number per direction of each TCP connection.
  std::map<FlowKey, uint32_t> next_seq;
  uint32_t isn = 1000;
  for (const store::StoredMessageRow& m : messages) {
    Endpoint src{m.src_ip, m.src_port}, dst{m.dst_ip, m.dst_port};
    if (src.ip.family == IpAddress::Family::kNone) src.ip.family = IpAddress::Family::kV4;
    if (dst.ip.family == IpAddress::Family::kNone) dst.ip.family = IpAddress::Family::kV4;
    bool stream = m.transport == "tcp" || m.transport == "tls" || m.transport == "ws" ||
                  m.transport == "wss" || m.transport == "TCP" || m.transport == "TLS";
    if (!stream) {
      pcap.Udp(m.ts, src, dst, m.raw);
      continue;
    }
    FlowKey fwd{src.ip.ToString(), src.port, dst.ip.ToString(), dst.port};
    FlowKey rev{dst.ip.ToString(), dst.port, src.ip.ToString(), src.port};
    if (!next_seq.count(fwd) && !next_seq.count(rev)) {
      // Handshake just before the first segment.
      uint32_t a = isn, b = isn + 500000;
      isn += 1000000;
      TimestampNs t = m.ts > 3000 ? m.ts - 3000 : m.ts;
      pcap.Tcp(t, src, dst, kSyn, a, 0, {});
      pcap.Tcp(t + 1000, dst, src, kSyn | kAck, b, a + 1, {});
      pcap.Tcp(t + 2000, src, dst, kAck, a + 1, b + 1, {});
      next_seq[fwd] = a + 1;
      next_seq[rev] = b + 1;
    }
    uint32_t& seq = next_seq[fwd];
    uint32_t& ack = next_seq[rev];
    std::string_view payload = m.raw;
    do {
      std::string_view part = payload.substr(0, kMaxSegment);
      payload.remove_prefix(part.size());
      pcap.Tcp(m.ts, src, dst, kPsh | kAck, seq, ack, part);
      seq += static_cast<uint32_t>(part.size());
    } while (!payload.empty());
  }
  return pcap.Take();
}

}  // namespace sipman::web
