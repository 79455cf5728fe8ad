// HEPv3 encoding and HOST:PORT parsing.
#include <cstring>
#include <string>

#include "hep/hep.h"

namespace sipman::hep {
namespace {

constexpr size_t kMaxHepBytes = 65535;

class ChunkWriter {
 public:
  explicit ChunkWriter(char* p) : p_(p) {}

  void Header(uint16_t type, size_t value_len) {
    Be16(0);
    Be16(type);
    Be16(static_cast<uint16_t>(6 + value_len));
  }
  void U8(uint16_t type, uint8_t v) {
    Header(type, 1);
    *p_++ = static_cast<char>(v);
  }
  void U16(uint16_t type, uint16_t v) {
    Header(type, 2);
    Be16(v);
  }
  void U32(uint16_t type, uint32_t v) {
    Header(type, 4);
    Be16(static_cast<uint16_t>(v >> 16));
    Be16(static_cast<uint16_t>(v));
  }
  void Bytes(uint16_t type, const void* data, size_t n) {
    Header(type, n);
    if (n != 0) std::memcpy(p_, data, n);
    p_ += n;
  }
  char* position() const { return p_; }

 private:
  void Be16(uint16_t v) {
    *p_++ = static_cast<char>(v >> 8);
    *p_++ = static_cast<char>(v);
  }
  char* p_;
};

bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

}  // namespace

Status EncodeHep3(const HepPacket& packet, std::string* out) {
  if (packet.src_ip.family != packet.dst_ip.family ||
      packet.src_ip.family == IpAddress::Family::kNone) {
    return Status::Error("cannot encode HEP3: source and destination addresses are missing or of "
                         "different families");
  }
  const bool v6 = packet.src_ip.is_v6();
  const size_t ip_len = v6 ? 16 : 4;
  size_t total = 6;
  total += 7 + 7;                 // family, ip protocol
  total += 2 * (6 + ip_len);      // addresses
  total += 8 + 8;                 // ports
  total += 10 + 10;               // seconds, microseconds
  total += 7 + 10;                // payload type, capture id
  if (packet.keep_alive_s != 0) total += 8;
  if (packet.vlan != 0) total += 8;
  if (!packet.auth_key.empty()) total += 6 + packet.auth_key.size();
  if (!packet.correlation_id.empty()) total += 6 + packet.correlation_id.size();
  if (!packet.node_name.empty()) total += 6 + packet.node_name.size();
  total += 6 + packet.payload.size();
  if (total > kMaxHepBytes) {
    return Status::Error("cannot encode HEP3: the packet would be " + std::to_string(total) +
                         " bytes, over HEP's 65535-byte limit");
  }

  out->resize(total);
  char* p = out->data();
  std::memcpy(p, "HEP3", 4);
  p[4] = static_cast<char>(total >> 8);
  p[5] = static_cast<char>(total);
  ChunkWriter w(p + 6);
  w.U8(kChunkIpFamily, v6 ? 10 : 2);
  w.U8(kChunkIpProtocol, packet.ip_protocol);
  w.Bytes(v6 ? kChunkIpv6Src : kChunkIpv4Src, packet.src_ip.bytes, ip_len);
  w.Bytes(v6 ? kChunkIpv6Dst : kChunkIpv4Dst, packet.dst_ip.bytes, ip_len);
  w.U16(kChunkSrcPort, packet.src_port);
  w.U16(kChunkDstPort, packet.dst_port);
  const TimestampNs ts = packet.ts < 0 ? 0 : packet.ts;
  w.U32(kChunkTimeSec, static_cast<uint32_t>(ts / kNsPerSecond));
  w.U32(kChunkTimeUsec, static_cast<uint32_t>(ts % kNsPerSecond / kNsPerUs));
  w.U8(kChunkPayloadType, packet.payload_type);
  w.U32(kChunkCaptureId, packet.capture_id);
  if (packet.keep_alive_s != 0) w.U16(kChunkKeepAlive, packet.keep_alive_s);
  if (packet.vlan != 0) w.U16(kChunkVlan, packet.vlan);
  if (!packet.auth_key.empty()) {
    w.Bytes(kChunkAuthKey, packet.auth_key.data(), packet.auth_key.size());
  }
  if (!packet.correlation_id.empty()) {
    w.Bytes(kChunkCorrelationId, packet.correlation_id.data(), packet.correlation_id.size());
  }
  if (!packet.node_name.empty()) {
    w.Bytes(kChunkNodeName, packet.node_name.data(), packet.node_name.size());
  }
  w.Bytes(kChunkPayload, packet.payload.data(), packet.payload.size());
  return Status::Ok();
}

Status ParseHostPort(std::string_view text, uint16_t default_port, std::string* host,
                     uint16_t* port) {
  const auto bad = [&](const char* why) {
    return Status::Error("bad address '" + std::string(text) + "': " + why +
                         " (expected PORT, HOST:PORT or [IPV6]:PORT)");
  };
  if (text.empty()) return bad("empty");
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("no closing ']'");
    *host = std::string(text.substr(1, close - 1));
    if (host->empty()) return bad("empty IPv6 address");
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      *port = default_port;
      return Status::Ok();
    }
    if (rest.front() != ':' || !ParsePort(rest.substr(1), port)) return bad("bad port");
    return Status::Ok();
  }
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    if (ParsePort(text, port)) {
      host->clear();
      return Status::Ok();
    }
    *host = std::string(text);
    *port = default_port;
    return Status::Ok();
  }
  if (text.find(':') != colon) {  // several colons: a bare IPv6 literal
    *host = std::string(text);
    *port = default_port;
    return Status::Ok();
  }
  *host = std::string(text.substr(0, colon));
  if (host->empty()) return bad("empty host");
  if (!ParsePort(text.substr(colon + 1), port)) return bad("bad port");
  return Status::Ok();
}

}  // namespace sipman::hep
