// RTP (RFC 3550 section 5) and RFC 4733 telephone events.
#include "media/media.h"

#include "base/byte_reader.h"

namespace sipman::media {
namespace {

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

RtpError ParseRtp(std::string_view packet, RtpPacket* out) {
  constexpr size_t kFixedHeader = 12;
  if (packet.size() < kFixedHeader) return RtpError::kTooShort;
  const uint8_t* p = Bytes(packet);
  if ((p[0] >> 6) != 2) return RtpError::kNotVersion2;
  const bool padded = (p[0] & 0x20) != 0;
  out->has_extension = (p[0] & 0x10) != 0;
  out->csrc_count = p[0] & 0x0f;
  out->marker = (p[1] & 0x80) != 0;
  out->payload_type = p[1] & 0x7f;
  out->sequence = LoadBe16(p + 2);
  out->timestamp = LoadBe32(p + 4);
  out->ssrc = LoadBe32(p + 8);

  size_t at = kFixedHeader;
  const size_t csrc_bytes = size_t{4} * out->csrc_count;
  if (packet.size() - at < csrc_bytes) return RtpError::kCsrcTruncated;
  out->csrcs = packet.substr(at, csrc_bytes);
  at += csrc_bytes;

  out->extension_profile = 0;
  out->extension = {};
  if (out->has_extension) {
    if (packet.size() - at < 4) return RtpError::kExtensionTruncated;
    out->extension_profile = LoadBe16(p + at);
    const size_t words = LoadBe16(p + at + 2);
    at += 4;
    if (packet.size() - at < 4 * words) return RtpError::kExtensionTruncated;
    out->extension = packet.substr(at, 4 * words);
    at += 4 * words;
  }

  size_t end = packet.size();
  out->padding = 0;
  if (padded) {
    // The last byte counts the padding, itself included (section 5.1).
    const uint8_t count = p[packet.size() - 1];
    if (count == 0 || count > end - at) return RtpError::kBadPadding;
    out->padding = count;
    end -= count;
  }
  out->payload = packet.substr(at, end - at);
  return RtpError::kNone;
}

std::string_view RtpErrorName(RtpError error) {
  switch (error) {
    case RtpError::kNone: return "none";
    case RtpError::kTooShort: return "too_short";
    case RtpError::kNotVersion2: return "not_version_2";
    case RtpError::kCsrcTruncated: return "csrc_truncated";
    case RtpError::kExtensionTruncated: return "extension_truncated";
    case RtpError::kBadPadding: return "bad_padding";
  }
  return "unknown";
}

uint32_t CsrcAt(const RtpPacket& packet, size_t i) {
  return LoadBe32(Bytes(packet.csrcs) + 4 * i);
}

bool LooksLikeRtcp(std::string_view packet) {
  if (packet.size() < 8) return false;  // the smallest RTCP packet: an empty RR
  const uint8_t* p = Bytes(packet);
  return (p[0] >> 6) == 2 && p[1] >= 192 && p[1] <= 223;
}

bool ParseTelephoneEvent(std::string_view payload, TelephoneEvent* out) {
  if (payload.size() < 4) return false;
  const uint8_t* p = Bytes(payload);
  out->event = p[0];
  out->end = (p[1] & 0x80) != 0;
  out->volume = p[1] & 0x3f;
  out->duration = LoadBe16(p + 2);
  return true;
}

char DtmfDigit(uint8_t event) {
  static constexpr char kDigits[] = "0123456789*#ABCD";
  return event < 16 ? kDigits[event] : 0;
}

}  // namespace sipman::media
