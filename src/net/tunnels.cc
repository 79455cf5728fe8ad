// Tunnels that mirrored SIP arrives in. Each method reads one header, counts
// it, and hands the inner packet back to the link or IP layer; the innermost
// addresses are the ones a message is reported with.
#include <cstring>

#include "net/decoder_impl.h"

namespace sipman::net {
namespace {

// GRE (RFC 2784, RFC 2890 key and sequence; RFC 2637 enhanced GRE v1).
constexpr uint16_t kGreChecksum = 0x8000;
constexpr uint16_t kGreRouting = 0x4000;  // RFC 1701 source routing: not supported
constexpr uint16_t kGreKey = 0x2000;
constexpr uint16_t kGreSequence = 0x1000;
constexpr uint16_t kGreStrictRouteAndRecursion = 0x0f00;  // RFC 1701 only
constexpr uint16_t kGreAck = 0x0080;      // version 1 only
constexpr uint16_t kGreVersionMask = 0x0007;

// GRE protocol types and ethertypes carried in tunnels.
constexpr uint16_t kTypeIpv4 = 0x0800;
constexpr uint16_t kTypeIpv6 = 0x86dd;
constexpr uint16_t kTypeTransparentEthernet = 0x6558;
constexpr uint16_t kTypePpp = 0x880b;
constexpr uint16_t kTypeErspanI_II = 0x88be;
constexpr uint16_t kTypeErspanIII = 0x22eb;
constexpr uint16_t kTypeMpls = 0x8847;

// PPP protocol numbers (RFC 1661, 1332, 5072).
constexpr uint16_t kPppIpv4 = 0x0021;
constexpr uint16_t kPppIpv6 = 0x0057;
constexpr size_t kPppoeHeaderBytes = 6;  // ver/type, code, session id, length

constexpr size_t kErspanIIHeaderBytes = 8;
constexpr size_t kErspanIIIHeaderBytes = 12;
constexpr size_t kErspanIIIPlatformBytes = 8;
constexpr size_t kVxlanHeaderBytes = 8;
constexpr size_t kGeneveHeaderBytes = 8;
constexpr size_t kGtpHeaderBytes = 8;
constexpr uint8_t kGtpTpdu = 0xff;  // message type of user data
constexpr int kMaxMplsLabels = 16;
constexpr int kMaxGtpExtensions = 8;

}  // namespace

bool Decoder::Impl::EnterTunnel() {
  if (++depth_ > kMaxEncapsulations) {
    ++counters_.tunnel_too_deep;
    return false;
  }
  return true;
}

void Decoder::Impl::DecodeIpInIp(uint8_t protocol, const uint8_t* p, size_t n) {
  if (!EnterTunnel()) return;
  ++counters_.ip_in_ip;
  if (protocol == 4) {
    DecodeIpv4(p, n);
  } else {
    DecodeIpv6(p, n);
  }
}

void Decoder::Impl::DecodeGre(const uint8_t* p, size_t n) {
  if (!EnterTunnel()) return;
  if (n < 4) {
    ++counters_.tunnel_errors;
    return;
  }
  const uint16_t flags = LoadBe16(p);
  const uint16_t protocol = LoadBe16(p + 2);
  const uint16_t version = flags & kGreVersionMask;
  // Version 1 (PPTP) always has a key (payload length + call id) and carries
  // PPP. RFC 2784 §2.5: a packet with any of the RFC 1701 bits (routing,
  // strict source route, recursion) is discarded.
  if (version > 1 || (flags & (kGreRouting | kGreStrictRouteAndRecursion)) != 0 ||
      (version == 1 && ((flags & kGreKey) == 0 || protocol != kTypePpp))) {
    ++counters_.tunnel_errors;
    return;
  }
  size_t header = 4;
  if ((flags & kGreChecksum) != 0) header += 4;  // checksum + reserved
  if ((flags & kGreKey) != 0) header += 4;
  if ((flags & kGreSequence) != 0) header += 4;
  if (version == 1 && (flags & kGreAck) != 0) header += 4;
  if (n < header) {
    ++counters_.tunnel_errors;
    return;
  }
  if (version == 1) {
    // The key's upper half is the payload length (RFC 2637 §4.1).
    const size_t key_at = (flags & kGreChecksum) != 0 ? 8 : 4;
    const size_t payload_len = LoadBe16(p + key_at);
    if (payload_len > n - header) {
      ++counters_.tunnel_errors;
      return;
    }
    n = header + payload_len;
  }
  ++counters_.gre;
  p += header;
  n -= header;
  switch (protocol) {
    case kTypeIpv4: DecodeIpv4(p, n); return;
    case kTypeIpv6: DecodeIpv6(p, n); return;
    case kTypeTransparentEthernet: DecodeEthernet(p, n); return;
    case kTypePpp: DecodePpp(p, n); return;
    case kTypeMpls: DecodeMpls(p, n); return;
    case kTypeErspanI_II:
    case kTypeErspanIII:
      DecodeErspan(protocol, (flags & kGreSequence) != 0, p, n);
      return;
    default:
      // A version 1 packet without payload (an ack only) lands here too.
      if (n != 0) ++counters_.unsupported_link;
      return;
  }
}

// ERSPAN (draft-foschiano-erspan): type I has no header of its own and no
// GRE sequence number; type II an 8-byte header; type III (GRE 0x22eb) a
// 12-byte header, 8 more when its O bit announces the platform subheader.
void Decoder::Impl::DecodeErspan(uint16_t protocol, bool has_sequence, const uint8_t* p,
                                 size_t n) {
  ++counters_.erspan;
  if (protocol == kTypeErspanI_II) {
    if (!has_sequence) {
      DecodeEthernet(p, n);
      return;
    }
    if (n < kErspanIIHeaderBytes || (p[0] >> 4) != 1) {
      ++counters_.tunnel_errors;
      return;
    }
    DecodeEthernet(p + kErspanIIHeaderBytes, n - kErspanIIHeaderBytes);
    return;
  }
  if (n < kErspanIIIHeaderBytes || (p[0] >> 4) != 2) {
    ++counters_.tunnel_errors;
    return;
  }
  const bool platform = (p[11] & 0x01) != 0;
  const uint8_t frame_type = (p[10] >> 2) & 0x1f;  // 0 Ethernet, 2 IP
  const size_t header = kErspanIIIHeaderBytes + (platform ? kErspanIIIPlatformBytes : 0);
  if (n < header) {
    ++counters_.tunnel_errors;
    return;
  }
  if (frame_type == 2) {
    DecodeByVersion(p + header, n - header);
  } else {
    DecodeEthernet(p + header, n - header);
  }
}

// PPP (RFC 1661) as GRE and PPPoE carry it: the address and control bytes
// (0xff 0x03) may be present, and the protocol may be compressed to one
// byte (RFC 1661 §6.5: an odd first byte).
void Decoder::Impl::DecodePpp(const uint8_t* p, size_t n) {
  if (n >= 2 && p[0] == 0xff && p[1] == 0x03) {
    p += 2;
    n -= 2;
  }
  if (n < 1) {
    ++counters_.tunnel_errors;
    return;
  }
  uint16_t protocol;
  if ((p[0] & 1) != 0) {
    protocol = p[0];
    p += 1;
    n -= 1;
  } else {
    if (n < 2) {
      ++counters_.tunnel_errors;
      return;
    }
    protocol = LoadBe16(p);
    p += 2;
    n -= 2;
  }
  ++counters_.ppp;
  switch (protocol) {
    case kPppIpv4: DecodeIpv4(p, n); return;
    case kPppIpv6: DecodeIpv6(p, n); return;
    default: ++counters_.unsupported_link; return;  // LCP, IPCP, CHAP, ...
  }
}

// PPPoE session stage (RFC 2516 §5.4): version and type 1, code 0.
void Decoder::Impl::DecodePppoe(const uint8_t* p, size_t n) {
  if (!EnterTunnel()) return;
  if (n < kPppoeHeaderBytes || p[0] != 0x11 || p[1] != 0) {
    ++counters_.tunnel_errors;
    return;
  }
  const size_t length = LoadBe16(p + 4);
  if (length > n - kPppoeHeaderBytes) {
    ++counters_.tunnel_errors;
    return;
  }
  ++counters_.pppoe;
  DecodePpp(p + kPppoeHeaderBytes, length);
}

// MPLS (RFC 3032): labels until the bottom-of-stack bit. What follows is IP
// by its version nibble, or an Ethernet pseudowire after a zero control word
// (RFC 4448 §4.6).
void Decoder::Impl::DecodeMpls(const uint8_t* p, size_t n) {
  if (!EnterTunnel()) return;
  for (int depth = 0; depth < kMaxMplsLabels; ++depth) {
    if (n < 4) {
      ++counters_.tunnel_errors;
      return;
    }
    const bool bottom = (p[2] & 1) != 0;
    p += 4;
    n -= 4;
    if (!bottom) continue;
    ++counters_.mpls;
    if (n >= 1 && (p[0] >> 4) == 0) {
      if (n < 4) {
        ++counters_.tunnel_errors;
        return;
      }
      DecodeEthernet(p + 4, n - 4);
    } else {
      DecodeByVersion(p, n);
    }
    return;
  }
  ++counters_.tunnel_errors;  // no bottom of stack within the bound
}

// VXLAN (RFC 7348): flags with the I bit, 24-bit VNI, inner Ethernet.
bool Decoder::Impl::DecodeVxlan(const uint8_t* p, size_t n) {
  if (n < kVxlanHeaderBytes || (p[0] & 0x08) == 0) return false;
  if (!EnterTunnel()) return true;
  ++counters_.vxlan;
  DecodeEthernet(p + kVxlanHeaderBytes, n - kVxlanHeaderBytes);
  return true;
}

// Geneve (RFC 8926): version 0, options of 4-byte units, then the protocol
// type says what the payload is.
bool Decoder::Impl::DecodeGeneve(const uint8_t* p, size_t n) {
  if (n < kGeneveHeaderBytes || (p[0] >> 6) != 0) return false;
  if (!EnterTunnel()) return true;
  const size_t header = kGeneveHeaderBytes + static_cast<size_t>(p[0] & 0x3f) * 4;
  if (n < header) {
    ++counters_.tunnel_errors;
    return true;
  }
  ++counters_.geneve;
  const uint16_t protocol = LoadBe16(p + 2);
  p += header;
  n -= header;
  switch (protocol) {
    case kTypeTransparentEthernet: DecodeEthernet(p, n); break;
    case kTypeIpv4: DecodeIpv4(p, n); break;
    case kTypeIpv6: DecodeIpv6(p, n); break;
    default: ++counters_.unsupported_link; break;
  }
  return true;
}

// GTP-U (3GPP TS 29.281 §5): version 1, protocol type GTP; a T-PDU carries
// the subscriber's IP packet after the optional sequence number, N-PDU
// number and a chain of extension headers.
bool Decoder::Impl::DecodeGtpu(const uint8_t* p, size_t n) {
  if (n < kGtpHeaderBytes || (p[0] >> 5) != 1 || (p[0] & 0x10) == 0) return false;
  if (!EnterTunnel()) return true;
  if (p[1] != kGtpTpdu) {
    ++counters_.unsupported_link;  // echo, error indication, end marker
    return true;
  }
  const size_t length = LoadBe16(p + 2);  // after the mandatory 8 bytes
  if (length > n - kGtpHeaderBytes) {
    ++counters_.tunnel_errors;
    return true;
  }
  size_t end = kGtpHeaderBytes + length;
  size_t pos = kGtpHeaderBytes;
  if ((p[0] & 0x07) != 0) {  // E, S or PN: 4 more bytes, the last = next type
    if (end < pos + 4) {
      ++counters_.tunnel_errors;
      return true;
    }
    uint8_t next = p[pos + 3];
    pos += 4;
    for (int i = 0; next != 0; ++i) {
      // Each extension: length in 4-byte units, content, next type.
      if (i == kMaxGtpExtensions || end < pos + 1 || p[pos] == 0 ||
          end < pos + static_cast<size_t>(p[pos]) * 4) {
        ++counters_.tunnel_errors;
        return true;
      }
      const size_t len = static_cast<size_t>(p[pos]) * 4;
      next = p[pos + len - 1];
      pos += len;
    }
  }
  ++counters_.gtpu;
  DecodeByVersion(p + pos, end - pos);
  return true;
}

}  // namespace sipman::net
