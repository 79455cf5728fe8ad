#include "calls/sip_fields.h"

#include <cstring>
#include <limits>

#include "base/ascii.h"

namespace sipman::calls {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Index of the first ',' outside double quotes at or after `from`, or npos.
size_t FindUnquotedComma(std::string_view s, size_t from) {
  bool quoted = false;
  for (size_t i = from; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      return i;
    }
  }
  return std::string_view::npos;
}

// Appends `s` to buffer[*pos, size); returns false when it did not all fit.
bool Append(std::string_view s, char* buffer, size_t size, size_t* pos) {
  const size_t room = size - *pos;
  const size_t n = s.size() < room ? s.size() : room;
  if (n > 0) std::memcpy(buffer + *pos, s.data(), n);
  *pos += n;
  return n == s.size();
}

bool AppendUnsigned(uint64_t v, char* buffer, size_t size, size_t* pos) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  char text[20];
  for (size_t i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
  return Append(std::string_view(text, n), buffer, size, pos);
}

// RFC 3551 static payload types that are commonly sent without an rtpmap.
std::string_view StaticPayloadName(uint64_t pt) {
  switch (pt) {
    case 0: return "PCMU/8000";
    case 3: return "GSM/8000";
    case 4: return "G723/8000";
    case 5: return "DVI4/8000";
    case 6: return "DVI4/16000";
    case 7: return "LPC/8000";
    case 8: return "PCMA/8000";
    case 9: return "G722/8000";
    case 10: return "L16/44100/2";
    case 11: return "L16/44100";
    case 12: return "QCELP/8000";
    case 13: return "CN/8000";
    case 14: return "MPA/90000";
    case 15: return "G728/8000";
    case 16: return "DVI4/11025";
    case 17: return "DVI4/22050";
    case 18: return "G729/8000";
    case 25: return "CelB/90000";
    case 26: return "JPEG/90000";
    case 28: return "nv/90000";
    case 31: return "H261/90000";
    case 32: return "MPV/90000";
    case 33: return "MP2T/90000";
    case 34: return "H263/90000";
    default: return {};
  }
}

}  // namespace

bool ParseInt(std::string_view text, int64_t* out) {
  text = Trim(text);
  if (text.empty()) return false;
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    text.remove_prefix(1);
    if (text.empty()) return false;
  }
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    if (v > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *out = negative ? -v : v;
  return true;
}

std::string_view NameAddrUser(std::string_view header_value) {
  sip::NameAddr addr;
  sip::ParseNameAddr(header_value, &addr);  // partial results are fine here
  return addr.uri.user;
}

std::string_view ContactUriText(std::string_view contact_value) {
  std::string_view v = Trim(contact_value);
  if (v.empty()) return {};
  const size_t comma = FindUnquotedComma(v, 0);
  const size_t lt = v.find('<');
  if (lt != std::string_view::npos && (comma == std::string_view::npos || lt < comma)) {
    const size_t gt = v.find('>', lt + 1);
    if (gt == std::string_view::npos) return Trim(v.substr(lt + 1));
    return Trim(v.substr(lt + 1, gt - lt - 1));
  }
  size_t end = v.size();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == ';' || v[i] == ',') {
      end = i;
      break;
    }
  }
  return Trim(v.substr(0, end));
}

int64_t ContactExpires(std::string_view contact_value) {
  sip::NameAddr addr;
  sip::ParseNameAddr(contact_value, &addr);
  bool found = false;
  const std::string_view value = sip::FindParam(addr.params, "expires", &found);
  int64_t expires = 0;
  if (!found || !ParseInt(value, &expires) || expires < 0) return -1;
  return expires;
}

bool ParseReason(std::string_view header_value, ReasonValue* out) {
  bool have = false;
  size_t start = 0;
  while (start <= header_value.size()) {
    size_t end = FindUnquotedComma(header_value, start);
    if (end == std::string_view::npos) end = header_value.size();
    const std::string_view item = Trim(header_value.substr(start, end - start));
    const size_t semi = item.find(';');
    const std::string_view protocol = Trim(item.substr(0, semi));
    if (!protocol.empty()) {
      const bool q850 = EqualsIgnoreCase(protocol, "Q.850");
      if (!have || q850) {
        ReasonValue v;
        v.protocol = protocol;
        if (semi != std::string_view::npos) {
          const std::string_view params = item.substr(semi + 1);
          int64_t cause = 0;
          if (ParseInt(sip::FindParam(params, "cause"), &cause) && cause >= 0 && cause <= 65535) {
            v.cause = static_cast<int>(cause);
          }
          v.text = sip::FindParam(params, "text");
        }
        *out = v;
        have = true;
        if (q850) return true;
      }
    }
    if (end >= header_value.size()) break;
    start = end + 1;
  }
  return have;
}

std::string_view DigestNonce(std::string_view header_value) {
  std::string_view v = Trim(header_value);
  // The auth-scheme token comes first, then comma-separated name=value pairs.
  size_t start = 0;
  while (start < v.size() && !IsBlank(v[start])) ++start;
  while (start <= v.size()) {
    size_t end = FindUnquotedComma(v, start);
    if (end == std::string_view::npos) end = v.size();
    const std::string_view item = v.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos && EqualsIgnoreCase(Trim(item.substr(0, eq)), "nonce")) {
      std::string_view value = Trim(item.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
    if (end >= v.size()) break;
    start = end + 1;
  }
  return {};
}

std::string_view FormatCodecs(const sip::SdpMedia& media, char* buffer, size_t buffer_size) {
  size_t pos = 0;
  bool first = true;
  std::string_view formats = media.formats;
  while (!formats.empty()) {
    while (!formats.empty() && IsBlank(formats.front())) formats.remove_prefix(1);
    size_t n = 0;
    while (n < formats.size() && !IsBlank(formats[n])) ++n;
    if (n == 0) break;
    const std::string_view token = formats.substr(0, n);
    formats.remove_prefix(n);

    const size_t mark = pos;  // a codec that does not fit is left out whole
    if (!first && !Append(",", buffer, buffer_size, &pos)) {
      pos = mark;
      break;
    }
    first = false;
    int64_t pt = -1;
    if (!ParseInt(token, &pt) || pt < 0 || pt > 127) pt = -1;
    const sip::SdpRtpMap* map = nullptr;
    for (size_t i = 0; pt >= 0 && i < media.rtpmap_count && i < sip::SdpMedia::kMaxRtpMaps; ++i) {
      if (media.rtpmaps[i].payload_type == pt) {
        map = &media.rtpmaps[i];
        break;
      }
    }
    bool fit = true;
    if (map != nullptr) {
      fit = Append(map->encoding, buffer, buffer_size, &pos) &&
            Append("/", buffer, buffer_size, &pos) &&
            AppendUnsigned(map->clock_rate, buffer, buffer_size, &pos);
      if (fit && !map->encoding_params.empty()) {
        fit = Append("/", buffer, buffer_size, &pos) &&
              Append(map->encoding_params, buffer, buffer_size, &pos);
      }
    } else if (pt >= 0 && !StaticPayloadName(static_cast<uint64_t>(pt)).empty()) {
      fit = Append(StaticPayloadName(static_cast<uint64_t>(pt)), buffer, buffer_size, &pos);
    } else {
      fit = Append(token, buffer, buffer_size, &pos);
    }
    if (!fit) {
      pos = mark;
      break;
    }
  }
  return std::string_view(buffer, pos);
}

std::string_view FormatAor(const sip::SipUri& uri, char* buffer, size_t buffer_size) {
  size_t pos = 0;
  if (!uri.user.empty()) {
    Append(uri.user, buffer, buffer_size, &pos);
    Append("@", buffer, buffer_size, &pos);
  }
  Append(uri.host, buffer, buffer_size, &pos);
  return std::string_view(buffer, pos);
}

}  // namespace sipman::calls
