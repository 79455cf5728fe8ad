// SDP (RFC 4566): the fields a call record needs, read leniently line by line.
#include <cstring>

#include "sip/scan.h"
#include "sip/sip.h"

namespace sipman::sip {

using internal::IsWsp;

namespace {

// Splits off the next space-separated field of `*rest`.
std::string_view NextField(std::string_view* rest) {
  size_t i = 0;
  const size_t n = rest->size();
  while (i < n && IsWsp((*rest)[i])) ++i;
  const size_t start = i;
  while (i < n && !IsWsp((*rest)[i])) ++i;
  const std::string_view field = rest->substr(start, i - start);
  rest->remove_prefix(i);
  return field;
}

std::string_view TrimWsp(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

bool ParseU16(std::string_view s, uint16_t* out) {
  uint64_t v = 0;
  if (!internal::ParseDecimal(s, 65535, &v)) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

// c=<nettype> <addrtype> <address>[/ttl][/count]: the address alone.
bool ParseConnection(std::string_view value, std::string_view* address) {
  const std::string_view nettype = NextField(&value);
  const std::string_view addrtype = NextField(&value);
  std::string_view addr = NextField(&value);
  if (nettype.empty() || addrtype.empty() || addr.empty()) return false;
  const size_t slash = addr.find('/');
  if (slash != std::string_view::npos) addr = addr.substr(0, slash);
  if (addr.empty()) return false;
  *address = addr;
  return !TrimWsp(value).size();
}

// m=<media> <port>[/<count>] <proto> <fmt> ...
bool ParseMediaLine(std::string_view value, SdpMedia* media) {
  media->type = NextField(&value);
  std::string_view port = NextField(&value);
  media->protocol = NextField(&value);
  media->formats = TrimWsp(value);
  bool ok = !media->type.empty() && !media->protocol.empty();
  const size_t slash = port.find('/');
  if (slash != std::string_view::npos) {
    if (!ParseU16(port.substr(slash + 1), &media->port_count)) ok = false;
    port = port.substr(0, slash);
  }
  if (!ParseU16(port, &media->port)) ok = false;
  return ok;
}

// a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]
bool ParseRtpMap(std::string_view value, SdpRtpMap* map) {
  const std::string_view pt = NextField(&value);
  std::string_view encoding = TrimWsp(value);
  if (!ParseU16(pt, &map->payload_type) || map->payload_type > 127) return false;
  const size_t slash = encoding.find('/');
  map->encoding = encoding.substr(0, slash);
  if (map->encoding.empty()) return false;
  if (slash == std::string_view::npos) return false;  // clock rate is required
  std::string_view rate = encoding.substr(slash + 1);
  const size_t slash2 = rate.find('/');
  if (slash2 != std::string_view::npos) {
    map->encoding_params = rate.substr(slash2 + 1);
    rate = rate.substr(0, slash2);
  }
  uint64_t clock = 0;
  if (!internal::ParseDecimal(rate, 0xFFFFFFFFu, &clock)) return false;
  map->clock_rate = static_cast<uint32_t>(clock);
  return true;
}

// Field-wise resets: the rtpmap arrays are large and only their first
// rtpmap_count entries are meaningful, so they are not cleared.
void ResetMedia(SdpMedia* m) {
  m->type = {};
  m->port = 0;
  m->port_count = 1;
  m->protocol = {};
  m->formats = {};
  m->connection_address = {};
  m->direction = MediaDirection::kSendRecv;
  m->rtcp_port = 0;
  m->rtcp_address = {};
  m->rtcp_mux = false;
  m->rtpmap_count = 0;
}

void ResetSession(SdpSession* s) {
  s->origin_username = {};
  s->origin_session_id = {};
  s->origin_session_version = {};
  s->origin_address = {};
  s->session_name = {};
  s->connection_address = {};
  s->direction = MediaDirection::kSendRecv;
  s->media_count = 0;
  s->malformed_lines = 0;
}

// a=rtcp:<port> [<nettype> <addrtype> <connection-address>] (RFC 3605).
bool ParseRtcpAttribute(std::string_view value, SdpMedia* m) {
  size_t i = 0;
  uint32_t port = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9' && port <= 65535) {
    port = port * 10 + static_cast<uint32_t>(value[i++] - '0');
  }
  if (i == 0 || port == 0 || port > 65535) return false;
  m->rtcp_port = static_cast<uint16_t>(port);
  // The address is the last of the three optional words.
  std::string_view rest = value.substr(i);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  const size_t space = rest.find_last_of(" \t");
  if (space != std::string_view::npos && rest.find_first_not_of(" \t") < space) {
    m->rtcp_address = rest.substr(space + 1);
  }
  return true;
}

bool DirectionFromAttribute(std::string_view attr, MediaDirection* d) {
  if (attr == "sendrecv") {
    *d = MediaDirection::kSendRecv;
  } else if (attr == "sendonly") {
    *d = MediaDirection::kSendOnly;
  } else if (attr == "recvonly") {
    *d = MediaDirection::kRecvOnly;
  } else if (attr == "inactive") {
    *d = MediaDirection::kInactive;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string_view MediaDirectionName(MediaDirection d) {
  switch (d) {
    case MediaDirection::kSendRecv:
      return "sendrecv";
    case MediaDirection::kSendOnly:
      return "sendonly";
    case MediaDirection::kRecvOnly:
      return "recvonly";
    case MediaDirection::kInactive:
      return "inactive";
  }
  return "sendrecv";
}

bool ParseSdp(std::string_view body, SdpSession* out) {
  ResetSession(out);
  size_t pos = 0;
  const size_t n = body.size();
  while (pos < n && (body[pos] == '\r' || body[pos] == '\n' || IsWsp(body[pos]))) ++pos;
  if (n - pos < 2 || body[pos] != 'v' || body[pos + 1] != '=') return false;

  bool own_direction[SdpSession::kMaxMedia] = {};
  // Index of the media section lines belong to; -1 for the session level,
  // kMaxMedia for a media section that did not fit (its lines are skipped).
  int current = -1;
  while (pos < n) {
    const void* nl = std::memchr(body.data() + pos, '\n', n - pos);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - body.data()) : n;
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.size() < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z') {
      ++out->malformed_lines;
      continue;
    }
    const char type = line[0];
    const std::string_view value = line.substr(2);
    if (type == 'm') {
      if (out->media_count >= SdpSession::kMaxMedia) {
        ++out->malformed_lines;
        current = static_cast<int>(SdpSession::kMaxMedia);
        continue;
      }
      current = static_cast<int>(out->media_count++);
      ResetMedia(&out->media[current]);
      if (!ParseMediaLine(value, &out->media[current])) ++out->malformed_lines;
      continue;
    }
    if (current == static_cast<int>(SdpSession::kMaxMedia)) continue;
    SdpMedia* media = current >= 0 ? &out->media[current] : nullptr;
    switch (type) {
      case 'o': {
        std::string_view rest = value;
        out->origin_username = NextField(&rest);
        out->origin_session_id = NextField(&rest);
        out->origin_session_version = NextField(&rest);
        const std::string_view nettype = NextField(&rest);
        const std::string_view addrtype = NextField(&rest);
        out->origin_address = NextField(&rest);
        if (nettype.empty() || addrtype.empty() || out->origin_address.empty()) {
          ++out->malformed_lines;
        }
        break;
      }
      case 's':
        out->session_name = value;
        break;
      case 'c': {
        std::string_view address;
        const bool ok = ParseConnection(value, &address);
        if (media != nullptr) {
          media->connection_address = address;
        } else {
          out->connection_address = address;
        }
        if (!ok) ++out->malformed_lines;
        break;
      }
      case 'a': {
        MediaDirection d;
        if (DirectionFromAttribute(value, &d)) {
          if (media != nullptr) {
            media->direction = d;
            own_direction[current] = true;
          } else {
            out->direction = d;
          }
        } else if (value == "rtcp-mux" && media != nullptr) {
          media->rtcp_mux = true;
        } else if (value.substr(0, 5) == "rtcp:" && media != nullptr) {
          if (!ParseRtcpAttribute(value.substr(5), media)) ++out->malformed_lines;
        } else if (value.substr(0, 7) == "rtpmap:" && media != nullptr) {
          if (media->rtpmap_count >= SdpMedia::kMaxRtpMaps) {
            ++out->malformed_lines;
            break;
          }
          SdpRtpMap& map = media->rtpmaps[media->rtpmap_count];
          map = SdpRtpMap{};
          const bool ok = ParseRtpMap(value.substr(7), &map);
          // Keep what was readable (an encoding name without a clock rate).
          if (!map.encoding.empty()) {
            ++media->rtpmap_count;
          } else {
            map = SdpRtpMap{};
          }
          if (!ok) ++out->malformed_lines;
        }
        break;
      }
      default:
        break;
    }
  }
  for (size_t i = 0; i < out->media_count; ++i) {
    SdpMedia& m = out->media[i];
    if (m.connection_address.empty()) m.connection_address = out->connection_address;
    if (!own_direction[i]) m.direction = out->direction;
  }
  return true;
}

bool ParseMessageSdp(std::string_view message_text, SdpSession* out) {
  SipMessage message;
  ParseOptions options;
  options.datagram = true;
  if (ParseSipMessage(message_text, options, &message) != ParseStatus::kComplete) return false;
  std::string_view body = FindSdpBody(message.content_type, message.body);
  return !body.empty() && ParseSdp(body, out);
}

}  // namespace sipman::sip
