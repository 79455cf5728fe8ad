// RTCP compound packets (RFC 3550 section 6) and the XR VoIP Metrics block
// (RFC 3611 section 4.7).
#include "media/media.h"

#include "base/byte_reader.h"

namespace sipman::media {
namespace {

constexpr size_t kReportBlockBytes = 24;
constexpr uint8_t kXrVoipMetricsBlock = 7;
constexpr size_t kVoipMetricsBytes = 36;  // with its 4-byte block header
constexpr uint8_t kSdesEnd = 0, kSdesCname = 1;

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

RtcpReportBlock ReadReportBlock(const uint8_t* p) {
  RtcpReportBlock b;
  b.source = LoadBe32(p);
  b.fraction_lost = p[4];
  // 24-bit two's complement.
  const uint32_t lost = static_cast<uint32_t>(p[5]) << 16 | static_cast<uint32_t>(p[6]) << 8 | p[7];
  b.cumulative_lost = (lost & 0x800000) != 0 ? static_cast<int32_t>(lost) - 0x1000000
                                             : static_cast<int32_t>(lost);
  b.highest_sequence = LoadBe32(p + 8);
  b.jitter = LoadBe32(p + 12);
  b.last_sr = LoadBe32(p + 16);
  b.delay_since_last_sr = LoadBe32(p + 20);
  return b;
}

// SR and RR: the sender's SSRC, an SR's sender info, then `count` blocks.
RtcpError VisitReports(std::string_view body, uint8_t type, uint8_t count, RtcpVisitor* v) {
  const size_t info = type == kRtcpSenderReport ? 20 : 0;
  if (body.size() < 4 + info + kReportBlockBytes * count) return RtcpError::kTooShort;
  const uint8_t* p = Bytes(body);
  const uint32_t reporter = LoadBe32(p);
  if (type == kRtcpSenderReport) {
    RtcpSenderInfo si;
    si.ntp_timestamp = static_cast<uint64_t>(LoadBe32(p + 4)) << 32 | LoadBe32(p + 8);
    si.rtp_timestamp = LoadBe32(p + 12);
    si.packet_count = LoadBe32(p + 16);
    si.octet_count = LoadBe32(p + 20);
    v->OnSenderReport(reporter, si);
  }
  for (uint8_t i = 0; i < count; ++i) {
    v->OnReportBlock(reporter, ReadReportBlock(p + 4 + info + kReportBlockBytes * i));
  }
  return RtcpError::kNone;
}

// SDES: `count` chunks, each an SSRC and items up to a null item, padded to
// a 32-bit boundary (section 6.5).
RtcpError VisitSdes(std::string_view body, uint8_t count, RtcpVisitor* v) {
  size_t at = 0;
  for (uint8_t chunk = 0; chunk < count; ++chunk) {
    if (body.size() - at < 4) return RtcpError::kBadItem;
    const uint32_t source = LoadBe32(Bytes(body) + at);
    at += 4;
    while (true) {
      if (at >= body.size()) return RtcpError::kBadItem;
      const uint8_t item = static_cast<uint8_t>(body[at]);
      if (item == kSdesEnd) {
        at = (at + 4) & ~size_t{3};  // the null octets up to the boundary
        break;
      }
      if (body.size() - at < 2) return RtcpError::kBadItem;
      const size_t length = static_cast<uint8_t>(body[at + 1]);
      if (body.size() - at - 2 < length) return RtcpError::kBadItem;
      if (item == kSdesCname) v->OnCname(source, body.substr(at + 2, length));
      at += 2 + length;
    }
    if (at > body.size()) at = body.size();  // the last chunk's padding may be cut
  }
  return RtcpError::kNone;
}

RtcpError VisitBye(std::string_view body, uint8_t count, RtcpVisitor* v) {
  if (body.size() < size_t{4} * count) return RtcpError::kTooShort;
  for (uint8_t i = 0; i < count; ++i) v->OnBye(LoadBe32(Bytes(body) + 4 * i));
  return RtcpError::kNone;
}

VoipMetrics ReadVoipMetrics(const uint8_t* p) {  // p: after the block header
  VoipMetrics m;
  m.source = LoadBe32(p);
  m.loss_rate = p[4];
  m.discard_rate = p[5];
  m.burst_density = p[6];
  m.gap_density = p[7];
  m.burst_duration_ms = LoadBe16(p + 8);
  m.gap_duration_ms = LoadBe16(p + 10);
  m.round_trip_delay_ms = LoadBe16(p + 12);
  m.end_system_delay_ms = LoadBe16(p + 14);
  m.signal_level_dbm = static_cast<int8_t>(p[16]);
  m.noise_level_dbm = static_cast<int8_t>(p[17]);
  m.residual_echo_return_loss = p[18];
  m.gmin = p[19];
  m.r_factor = p[20];
  m.external_r_factor = p[21];
  m.mos_lq = p[22];
  m.mos_cq = p[23];
  m.rx_config = p[24];
  m.jb_nominal_ms = LoadBe16(p + 26);
  m.jb_maximum_ms = LoadBe16(p + 28);
  m.jb_abs_max_ms = LoadBe16(p + 30);
  return m;
}

// XR: the reporter's SSRC, then report blocks, each BT, type-specific,
// length in 32-bit words after its header (RFC 3611 section 3).
RtcpError VisitXr(std::string_view body, RtcpVisitor* v) {
  if (body.size() < 4) return RtcpError::kTooShort;
  const uint8_t* p = Bytes(body);
  const uint32_t reporter = LoadBe32(p);
  size_t at = 4;
  while (body.size() - at >= 4) {
    const uint8_t block_type = p[at];
    const size_t bytes = 4 + size_t{4} * LoadBe16(p + at + 2);
    if (body.size() - at < bytes) return RtcpError::kBadItem;
    if (block_type == kXrVoipMetricsBlock) {
      if (bytes != kVoipMetricsBytes) return RtcpError::kBadItem;
      v->OnVoipMetrics(reporter, ReadVoipMetrics(p + at + 4));
    }
    at += bytes;
  }
  return RtcpError::kNone;
}

}  // namespace

RtcpError WalkRtcp(std::string_view compound, RtcpVisitor* visitor, RtcpCounts* counts) {
  size_t at = 0;
  while (at < compound.size()) {
    if (compound.size() - at < 4) return RtcpError::kTooShort;
    const uint8_t* h = Bytes(compound) + at;
    if ((h[0] >> 6) != 2) return RtcpError::kNotVersion2;
    const uint8_t count = h[0] & 0x1f;
    const uint8_t type = h[1];
    const size_t bytes = 4 + size_t{4} * LoadBe16(h + 2);
    if (compound.size() - at < bytes) return RtcpError::kBadLength;
    std::string_view body = compound.substr(at + 4, bytes - 4);
    if ((h[0] & 0x20) != 0 && !body.empty()) {
      // Padding (only the last packet of a compound may have it).
      const uint8_t pad = static_cast<uint8_t>(body.back());
      if (pad == 0 || pad > body.size()) return RtcpError::kBadLength;
      body.remove_suffix(pad);
    }
    ++counts->packets;
    RtcpError error = RtcpError::kNone;
    switch (type) {
      case kRtcpSenderReport:
      case kRtcpReceiverReport:
        error = VisitReports(body, type, count, visitor);
        break;
      case kRtcpSourceDescription:
        error = VisitSdes(body, count, visitor);
        break;
      case kRtcpBye:
        error = VisitBye(body, count, visitor);
        break;
      case kRtcpExtendedReport:
        error = VisitXr(body, visitor);
        break;
      default:
        ++counts->unknown;  // APP, feedback (RFC 4585), ...: not read here
    }
    if (error != RtcpError::kNone) return error;
    at += bytes;
  }
  return RtcpError::kNone;
}

std::string_view RtcpErrorName(RtcpError error) {
  switch (error) {
    case RtcpError::kNone: return "none";
    case RtcpError::kTooShort: return "too_short";
    case RtcpError::kNotVersion2: return "not_version_2";
    case RtcpError::kBadLength: return "bad_length";
    case RtcpError::kBadItem: return "bad_item";
    case RtcpError::kBadJson: return "bad_json";
  }
  return "unknown";
}

}  // namespace sipman::media
