// The media module's public face: RTP and RTCP decoding (RFC 3550), RTCP
// multiplexed on the RTP port (RFC 5761), telephone events (RFC 4733) and
// the RTCP XR VoIP Metrics block (RFC 3611 section 4.7). Zero-copy: every
// view points into the packet given, valid as long as it is. No allocation.
#ifndef SIPMAN_MEDIA_MEDIA_H_
#define SIPMAN_MEDIA_MEDIA_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sipman::media {

// ---------------------------------------------------------------- RTP

// One RTP packet (RFC 3550 section 5.1).
struct RtpPacket {
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint8_t csrc_count = 0;
  std::string_view csrcs;  // csrc_count 32-bit identifiers, big-endian
  bool has_extension = false;
  uint16_t extension_profile = 0;  // "defined by profile" (0xBEDE: RFC 8285 one-byte)
  std::string_view extension;      // the extension's words, without its own header
  std::string_view payload;        // without the padding
  uint8_t padding = 0;             // padding bytes at the end (their count included)
};

enum class RtpError : uint8_t {
  kNone,
  kTooShort,            // under the 12-byte fixed header
  kNotVersion2,         // version bits are not 2
  kCsrcTruncated,       // the CSRC list runs past the packet
  kExtensionTruncated,  // the header extension runs past the packet
  kBadPadding,          // padding count 0 or larger than what follows the header
};

// Decodes `packet`; on an error *out is unspecified.
RtpError ParseRtp(std::string_view packet, RtpPacket* out);
std::string_view RtpErrorName(RtpError error);

// The i-th CSRC of a packet (i < csrc_count).
uint32_t CsrcAt(const RtpPacket& packet, size_t i);

// RTCP on the RTP port (RFC 5761 section 4): the second byte of an RTCP
// packet is its type, 192 to 223, which RTP payload types avoid (64 to 95
// with the marker bit set are not to be used on a multiplexed port).
bool LooksLikeRtcp(std::string_view packet);

// ---------------------------------------------------------------- RFC 4733

// A named telephone event (RFC 4733 section 2.3): a DTMF digit, a tone.
struct TelephoneEvent {
  uint8_t event = 0;      // 0-9 digits, 10 '*', 11 '#', 12-15 'A'-'D', ...
  bool end = false;       // the E bit: the event's last packets
  uint8_t volume = 0;     // 0 to 63, -dBm0
  uint16_t duration = 0;  // in timestamp units, from the event's start
};
// False when `payload` is shorter than the 4-byte event.
bool ParseTelephoneEvent(std::string_view payload, TelephoneEvent* out);
// '0'-'9', '*', '#', 'A'-'D' for events 0 to 15; 0 for any other event.
char DtmfDigit(uint8_t event);

// ---------------------------------------------------------------- RTCP

enum RtcpType : uint8_t {
  kRtcpSenderReport = 200,
  kRtcpReceiverReport = 201,
  kRtcpSourceDescription = 202,
  kRtcpBye = 203,
  kRtcpApp = 204,
  kRtcpExtendedReport = 207,  // RFC 3611
};

// The sender information of an SR (RFC 3550 section 6.4.1).
struct RtcpSenderInfo {
  uint64_t ntp_timestamp = 0;  // 32.32 fixed point
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
};

// One report block of an SR or RR: what `reporter` received from `source`.
struct RtcpReportBlock {
  uint32_t source = 0;
  uint8_t fraction_lost = 0;        // of 256, since the previous report
  int32_t cumulative_lost = 0;      // 24-bit signed: duplicates may make it negative
  uint32_t highest_sequence = 0;    // extended highest sequence number received
  uint32_t jitter = 0;              // interarrival jitter, timestamp units
  uint32_t last_sr = 0;             // LSR: middle 32 bits of the last SR's NTP time
  uint32_t delay_since_last_sr = 0; // DLSR, in 1/65536 s
};

// RTCP XR VoIP Metrics (RFC 3611 section 4.7). Values 127 (or 0xFFFF,
// 0x7F for levels) mean "unavailable" as the RFC says; they are passed on.
struct VoipMetrics {
  uint32_t source = 0;
  uint8_t loss_rate = 0, discard_rate = 0;        // of 256
  uint8_t burst_density = 0, gap_density = 0;     // of 256
  uint16_t burst_duration_ms = 0, gap_duration_ms = 0;
  uint16_t round_trip_delay_ms = 0, end_system_delay_ms = 0;
  int8_t signal_level_dbm = 0, noise_level_dbm = 0;
  uint8_t residual_echo_return_loss = 0, gmin = 0;
  uint8_t r_factor = 0, external_r_factor = 0;
  uint8_t mos_lq = 0, mos_cq = 0;  // MOS x 10 (41: 4.1); 127: unavailable
  uint8_t rx_config = 0;
  uint16_t jb_nominal_ms = 0, jb_maximum_ms = 0, jb_abs_max_ms = 0;
};

// What WalkRtcp finds, in packet order. The default does nothing, so a
// visitor overrides only what it needs.
class RtcpVisitor {
 public:
  virtual ~RtcpVisitor() = default;
  virtual void OnSenderReport(uint32_t /*sender*/, const RtcpSenderInfo& /*info*/) {}
  virtual void OnReportBlock(uint32_t /*reporter*/, const RtcpReportBlock& /*block*/) {}
  virtual void OnCname(uint32_t /*source*/, std::string_view /*cname*/) {}
  virtual void OnBye(uint32_t /*source*/) {}
  virtual void OnVoipMetrics(uint32_t /*reporter*/, const VoipMetrics& /*metrics*/) {}
};

enum class RtcpError : uint8_t {
  kNone,
  kTooShort,      // under one 4-byte header, or a packet's fixed part cut off
  kNotVersion2,   // a packet's version bits are not 2
  kBadLength,     // a packet's length runs past the compound packet
  kBadItem,       // an SDES item or XR block runs past its packet
};

// What one compound packet held.
struct RtcpCounts {
  uint32_t packets = 0;  // RTCP packets in the compound, every type
  uint32_t unknown = 0;  // of types this walker skips (APP, feedback, ...)
};

// Walks a compound RTCP packet (RFC 3550 section 6.1), calling `visitor`
// for what it holds. It stops at the first malformed packet and says why;
// what came before it was visited.
RtcpError WalkRtcp(std::string_view compound, RtcpVisitor* visitor, RtcpCounts* counts);
std::string_view RtcpErrorName(RtcpError error);

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_MEDIA_H_
