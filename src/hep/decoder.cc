// HEPv1/v2/v3 decoding and HEPv3 TCP framing.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "hep/hep.h"

namespace sipman::hep {
namespace {

constexpr size_t kHep3HeaderBytes = 6;  // "HEP3" + u16 total length
constexpr size_t kChunkHeaderBytes = 6;  // vendor id, type id, length
constexpr size_t kHep12HeaderBytes = 8;  // version, length, family, protocol, ports
constexpr size_t kHep2TimeBytes = 12;    // sec, usec, capture id (u16) + 2 bytes padding
constexpr uint8_t kAfInet = 2;
constexpr uint8_t kAfInet6 = 10;

uint32_t LoadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

std::string_view View(const uint8_t* p, size_t n) {
  return std::string_view(reinterpret_cast<const char*>(p), n);
}

// Where an error was met, for DecodeHep's message.
struct ErrorPlace {
  size_t offset = 0;
  uint16_t chunk_type = 0;
  size_t value = 0;  // a length or a field value that was wrong
};

// Inflates gzip or zlib data (auto-detected), else raw deflate, into `out`,
// at most kMaxInflatedBytes.
bool Inflate(std::string_view in, std::string* out) {
  for (int window_bits : {15 + 32, -15}) {
    z_stream zs;
    std::memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, window_bits) != Z_OK) return false;
    if (out->size() < 64 * 1024) out->resize(64 * 1024);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    size_t produced = 0;
    int rc = Z_OK;
    bool too_large = false;
    while (true) {
      if (produced == out->size()) {
        if (out->size() >= kMaxInflatedBytes) {
          too_large = true;
          break;
        }
        out->resize(std::min(out->size() * 2, kMaxInflatedBytes));
      }
      zs.next_out = reinterpret_cast<Bytef*>(out->data() + produced);
      zs.avail_out = static_cast<uInt>(out->size() - produced);
      rc = inflate(&zs, Z_NO_FLUSH);
      produced = out->size() - zs.avail_out;
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK) break;
      if (zs.avail_in == 0 && zs.avail_out != 0) {
        rc = Z_DATA_ERROR;  // input ended inside the stream
        break;
      }
    }
    inflateEnd(&zs);
    if (rc == Z_STREAM_END) {
      out->resize(produced);
      return true;
    }
    if (too_large) return false;  // no point trying raw deflate
  }
  return false;
}

HepError DecodeV12(std::span<const uint8_t> data, HepPacket* out, ErrorPlace* place) {
  if (data.size() < kHep12HeaderBytes) return HepError::kTooShort;
  const uint8_t* p = data.data();
  const uint8_t version = p[0];
  const uint8_t header_len = p[1];
  const uint8_t family = p[2];
  size_t ip_bytes;
  if (family == kAfInet) {
    ip_bytes = 8;
  } else if (family == kAfInet6) {
    ip_bytes = 32;
  } else {
    place->offset = 2;
    place->value = family;
    return HepError::kBadChunkValue;
  }
  if (header_len != kHep12HeaderBytes + ip_bytes) {
    place->offset = 1;
    place->value = header_len;
    return HepError::kBadLength;
  }
  size_t payload_at = kHep12HeaderBytes + ip_bytes + (version == 2 ? kHep2TimeBytes : 0);
  if (data.size() < payload_at) return HepError::kTooShort;

  *out = HepPacket();
  out->version = version;
  out->ip_protocol = p[3];
  out->src_port = LoadBe16(p + 4);
  out->dst_port = LoadBe16(p + 6);
  const uint8_t* ip = p + kHep12HeaderBytes;
  if (family == kAfInet) {
    out->src_ip = IpAddress::V4(ip);
    out->dst_ip = IpAddress::V4(ip + 4);
  } else {
    out->src_ip = IpAddress::V6(ip);
    out->dst_ip = IpAddress::V6(ip + 16);
  }
  if (version == 2) {
    const uint8_t* t = ip + ip_bytes;
    out->ts = static_cast<TimestampNs>(LoadLe32(t)) * kNsPerSecond +
              static_cast<TimestampNs>(LoadLe32(t + 4)) * kNsPerUs;
    out->capture_id = static_cast<uint32_t>(t[8] | t[9] << 8);
  }
  out->payload = View(p + payload_at, data.size() - payload_at);
  return HepError::kOk;
}

HepError DecodeV3(std::span<const uint8_t> data, HepPacket* out, std::string* inflate_buffer,
                  ErrorPlace* place) {
  const uint8_t* p = data.data();
  const size_t total = LoadBe16(p + 4);
  if (total != data.size()) {
    place->offset = 4;
    place->value = total;
    return HepError::kBadLength;
  }
  *out = HepPacket();
  out->version = 3;
  bool has_v4_src = false, has_v4_dst = false, has_v6_src = false, has_v6_dst = false;
  uint8_t family = 0;
  IpAddress v4_src, v4_dst, v6_src, v6_dst;
  uint32_t ts_sec = 0, ts_usec = 0;
  bool has_time = false;
  bool has_payload = false;
  std::string_view compressed;
  bool has_compressed = false;

  size_t pos = kHep3HeaderBytes;
  while (pos < total) {
    place->offset = pos;
    if (total - pos < kChunkHeaderBytes) {
      place->value = total - pos;
      return HepError::kBadChunk;
    }
    const uint16_t vendor = LoadBe16(p + pos);
    const uint16_t type = LoadBe16(p + pos + 2);
    const size_t len = LoadBe16(p + pos + 4);
    place->chunk_type = type;
    place->value = len;
    if (len < kChunkHeaderBytes || len > total - pos) return HepError::kBadChunk;
    const uint8_t* v = p + pos + kChunkHeaderBytes;
    const size_t n = len - kChunkHeaderBytes;
    pos += len;
    if (vendor != 0) continue;

    // Fixed-size generic chunks must have exactly their size.
    size_t want = 0;
    switch (type) {
      case kChunkIpFamily:
      case kChunkIpProtocol:
      case kChunkPayloadType:
        want = 1;
        break;
      case kChunkSrcPort:
      case kChunkDstPort:
      case kChunkKeepAlive:
      case kChunkVlan:
        want = 2;
        break;
      case kChunkIpv4Src:
      case kChunkIpv4Dst:
      case kChunkTimeSec:
      case kChunkTimeUsec:
      case kChunkCaptureId:
        want = 4;
        break;
      case kChunkIpv6Src:
      case kChunkIpv6Dst:
        want = 16;
        break;
      default:
        break;
    }
    // Some agents send the capture id as 16 bits.
    if (want != 0 && n != want && !(type == kChunkCaptureId && n == 2)) {
      place->value = n;
      return HepError::kBadChunkValue;
    }
    switch (type) {
      case kChunkIpFamily:
        if (v[0] != kAfInet && v[0] != kAfInet6) {
          place->value = v[0];
          return HepError::kBadChunkValue;
        }
        family = v[0];
        break;
      case kChunkIpProtocol:
        out->ip_protocol = v[0];
        break;
      case kChunkIpv4Src:
        v4_src = IpAddress::V4(v);
        has_v4_src = true;
        break;
      case kChunkIpv4Dst:
        v4_dst = IpAddress::V4(v);
        has_v4_dst = true;
        break;
      case kChunkIpv6Src:
        v6_src = IpAddress::V6(v);
        has_v6_src = true;
        break;
      case kChunkIpv6Dst:
        v6_dst = IpAddress::V6(v);
        has_v6_dst = true;
        break;
      case kChunkSrcPort:
        out->src_port = LoadBe16(v);
        break;
      case kChunkDstPort:
        out->dst_port = LoadBe16(v);
        break;
      case kChunkTimeSec:
        ts_sec = LoadBe32(v);
        has_time = true;
        break;
      case kChunkTimeUsec:
        ts_usec = LoadBe32(v);
        break;
      case kChunkPayloadType:
        out->payload_type = v[0];
        break;
      case kChunkCaptureId:
        out->capture_id = n == 4 ? LoadBe32(v) : LoadBe16(v);
        break;
      case kChunkKeepAlive:
        out->keep_alive_s = LoadBe16(v);
        break;
      case kChunkAuthKey:
        out->auth_key = View(v, n);
        break;
      case kChunkPayload:
        out->payload = View(v, n);
        has_payload = true;
        break;
      case kChunkCompressedPayload:
        compressed = View(v, n);
        has_compressed = true;
        break;
      case kChunkCorrelationId:
        out->correlation_id = View(v, n);
        break;
      case kChunkVlan:
        out->vlan = LoadBe16(v);
        break;
      case kChunkNodeName:
        out->node_name = View(v, n);
        break;
      default:
        break;  // an unknown generic chunk: skipped
    }
  }
  place->chunk_type = 0;
  place->offset = total;

  // The address family: the family chunk's, else whichever is complete.
  const bool v4 = has_v4_src && has_v4_dst;
  const bool v6 = has_v6_src && has_v6_dst;
  if ((family == kAfInet || family == 0) && v4) {
    out->src_ip = v4_src;
    out->dst_ip = v4_dst;
  } else if ((family == kAfInet6 || family == 0) && v6) {
    out->src_ip = v6_src;
    out->dst_ip = v6_dst;
  } else {
    place->value = family;
    return HepError::kMissingAddress;
  }
  if (has_time) {
    out->ts = static_cast<TimestampNs>(ts_sec) * kNsPerSecond +
              static_cast<TimestampNs>(ts_usec) * kNsPerUs;
  }
  if (!has_payload) {
    if (!has_compressed) return HepError::kMissingPayload;
    if (inflate_buffer == nullptr || !Inflate(compressed, inflate_buffer)) {
      place->value = compressed.size();
      return HepError::kBadCompression;
    }
    out->payload = *inflate_buffer;
    out->compressed = true;
  }
  return HepError::kOk;
}

HepError DecodeWithPlace(std::span<const uint8_t> data, HepPacket* out,
                         std::string* inflate_buffer, ErrorPlace* place) {
  if (data.empty()) return HepError::kTooShort;
  if (data[0] == 1 || data[0] == 2) return DecodeV12(data, out, place);
  if (data.size() < kHep3HeaderBytes) {
    // Too short for HEP3; still say "bad magic" when it cannot be HEP at all.
    if (std::memcmp(data.data(), "HEP3", data.size()) != 0) return HepError::kBadMagic;
    return HepError::kTooShort;
  }
  if (std::memcmp(data.data(), "HEP3", 4) != 0) return HepError::kBadMagic;
  return DecodeV3(data, out, inflate_buffer, place);
}

}  // namespace

std::string_view HepErrorName(HepError error) {
  switch (error) {
    case HepError::kOk:
      return "ok";
    case HepError::kTooShort:
      return "too_short";
    case HepError::kBadMagic:
      return "bad_magic";
    case HepError::kBadLength:
      return "bad_length";
    case HepError::kBadChunk:
      return "bad_chunk";
    case HepError::kBadChunkValue:
      return "bad_chunk_value";
    case HepError::kMissingAddress:
      return "missing_address";
    case HepError::kMissingPayload:
      return "missing_payload";
    case HepError::kBadCompression:
      return "bad_compression";
    case HepError::kAuthFailed:
      return "auth_failed";
    case HepError::kCount:
      break;
  }
  return "unknown";
}

HepError DecodeHepPacket(std::span<const uint8_t> data, HepPacket* out,
                         std::string* inflate_buffer) {
  ErrorPlace place;
  return DecodeWithPlace(data, out, inflate_buffer, &place);
}

Status DecodeHep(std::span<const uint8_t> data, HepPacket* out, std::string* inflate_buffer) {
  ErrorPlace place;
  const HepError error = DecodeWithPlace(data, out, inflate_buffer, &place);
  if (error == HepError::kOk) return Status::Ok();
  char chunk[64] = "";
  if (place.chunk_type != 0) {
    std::snprintf(chunk, sizeof(chunk), " (chunk 0x%04x at offset %zu)", place.chunk_type,
                  place.offset);
  }
  const std::string size = std::to_string(data.size());
  const std::string value = std::to_string(place.value);
  std::string message;
  switch (error) {
    case HepError::kTooShort:
      message = "HEP packet of " + size + " bytes is shorter than its header";
      break;
    case HepError::kBadMagic:
      message = "not a HEP packet: it starts neither with \"HEP3\" nor with version 1 or 2";
      break;
    case HepError::kBadLength:
      if (data.size() >= 6 && std::memcmp(data.data(), "HEP3", 4) == 0) {
        message = "HEP3 total length " + value + " differs from the " + size +
                  "-byte datagram (truncated or padded)";
      } else {
        message = "HEPv1/v2 header length " + value + " does not match its address family";
      }
      break;
    case HepError::kBadChunk:
      message = "HEP3 chunk of length " + value + chunk +
                " is shorter than its 6-byte header or overruns the packet";
      break;
    case HepError::kBadChunkValue:
      message = "HEP field has a wrong size or value (" + value + ")" + chunk;
      break;
    case HepError::kMissingAddress:
      message = "HEP packet has no source and destination address of one family";
      break;
    case HepError::kMissingPayload:
      message = "HEP packet has no payload chunk (0x000f or 0x0010)";
      break;
    case HepError::kBadCompression:
      message = "HEP compressed payload of " + value +
                " bytes is not gzip/zlib/deflate data or inflates beyond " +
                std::to_string(kMaxInflatedBytes) + " bytes";
      break;
    default:
      message = "HEP packet rejected: " + std::string(HepErrorName(error));
      break;
  }
  return Status::Error(std::move(message));
}

FrameStatus NextHepFrame(std::span<const uint8_t> buffered, size_t* frame_len) {
  if (buffered.empty()) return FrameStatus::kNeedMore;
  const size_t have = std::min<size_t>(buffered.size(), 4);
  if (std::memcmp(buffered.data(), "HEP3", have) != 0) return FrameStatus::kError;
  if (buffered.size() < kHep3HeaderBytes) return FrameStatus::kNeedMore;
  const size_t total = LoadBe16(buffered.data() + 4);
  if (total < kHep3HeaderBytes) return FrameStatus::kError;
  if (buffered.size() < total) return FrameStatus::kNeedMore;
  *frame_len = total;
  return FrameStatus::kFrame;
}

}  // namespace sipman::hep
