// One-pass SIP message parser (RFC 3261 section 7, lenient as RFC 4475 asks):
// memchr finds each line end, every header is indexed as {name, value} views
// and the few headers a call tracker needs are decoded on the way.
#include <algorithm>
#include <array>
#include <cstring>

#include "sip/scan.h"
#include "sip/sip.h"

namespace sipman::sip {

using internal::EqualsIgnoreCase;
using internal::IsLws;
using internal::IsTokenChar;
using internal::IsWsp;
using internal::SkipLws;
using internal::StartsWithIgnoreCase;
using internal::ToLower;
using internal::TrimLws;

namespace {

struct KnownHeader {
  std::string_view name;  // lower case
  HeaderId id;
};

constexpr KnownHeader kKnownHeaders[] = {
    {"call-id", HeaderId::kCallId},
    {"from", HeaderId::kFrom},
    {"to", HeaderId::kTo},
    {"via", HeaderId::kVia},
    {"cseq", HeaderId::kCSeq},
    {"contact", HeaderId::kContact},
    {"content-length", HeaderId::kContentLength},
    {"content-type", HeaderId::kContentType},
    {"content-encoding", HeaderId::kContentEncoding},
    {"supported", HeaderId::kSupported},
    {"subject", HeaderId::kSubject},
    {"refer-to", HeaderId::kReferTo},
    {"event", HeaderId::kEvent},
    {"allow-events", HeaderId::kAllowEvents},
    {"max-forwards", HeaderId::kMaxForwards},
    {"user-agent", HeaderId::kUserAgent},
    {"server", HeaderId::kServer},
    {"expires", HeaderId::kExpires},
    {"p-asserted-identity", HeaderId::kPAssertedIdentity},
    {"diversion", HeaderId::kDiversion},
    {"reason", HeaderId::kReason},
    {"record-route", HeaderId::kRecordRoute},
    {"route", HeaderId::kRoute},
    {"authorization", HeaderId::kAuthorization},
    {"proxy-authorization", HeaderId::kProxyAuthorization},
    {"www-authenticate", HeaderId::kWwwAuthenticate},
    {"proxy-authenticate", HeaderId::kProxyAuthenticate},
    {"accept-contact", HeaderId::kAcceptContact},
    {"referred-by", HeaderId::kReferredBy},
    {"request-disposition", HeaderId::kRequestDisposition},
    {"reject-contact", HeaderId::kRejectContact},
    {"session-expires", HeaderId::kSessionExpires},
    {"identity", HeaderId::kIdentity},
    {"identity-info", HeaderId::kIdentityInfo},
};
constexpr size_t kKnownCount = sizeof(kKnownHeaders) / sizeof(kKnownHeaders[0]);

// Compact forms (RFC 3261 section 7.3.3 and the IANA SIP header registry).
struct CompactForm {
  char letter;
  std::string_view long_name;
  HeaderId id;
};
constexpr CompactForm kCompactForms[] = {
    {'a', "Accept-Contact", HeaderId::kAcceptContact},
    {'b', "Referred-By", HeaderId::kReferredBy},
    {'c', "Content-Type", HeaderId::kContentType},
    {'d', "Request-Disposition", HeaderId::kRequestDisposition},
    {'e', "Content-Encoding", HeaderId::kContentEncoding},
    {'f', "From", HeaderId::kFrom},
    {'i', "Call-ID", HeaderId::kCallId},
    {'j', "Reject-Contact", HeaderId::kRejectContact},
    {'k', "Supported", HeaderId::kSupported},
    {'l', "Content-Length", HeaderId::kContentLength},
    {'m', "Contact", HeaderId::kContact},
    {'n', "Identity-Info", HeaderId::kIdentityInfo},
    {'o', "Event", HeaderId::kEvent},
    {'r', "Refer-To", HeaderId::kReferTo},
    {'s', "Subject", HeaderId::kSubject},
    {'t', "To", HeaderId::kTo},
    {'u', "Allow-Events", HeaderId::kAllowEvents},
    {'v', "Via", HeaderId::kVia},
    {'x', "Session-Expires", HeaderId::kSessionExpires},
    {'y', "Identity", HeaderId::kIdentity},
};

// Known headers bucketed by name length, so a lookup compares against one or
// two candidates instead of all of them.
constexpr size_t kMaxNameLength = 24;
constexpr size_t kBucketSize = 6;
struct LengthBuckets {
  uint8_t count[kMaxNameLength + 1] = {};
  uint8_t index[kMaxNameLength + 1][kBucketSize] = {};
  uint32_t dash_mask[kKnownCount] = {};  // positions of '-' in each known name
};
constexpr LengthBuckets MakeLengthBuckets() {
  LengthBuckets b;
  for (size_t i = 0; i < kKnownCount; ++i) {
    const std::string_view name = kKnownHeaders[i].name;
    b.index[name.size()][b.count[name.size()]++] = static_cast<uint8_t>(i);
    for (size_t k = 0; k < name.size(); ++k) {
      if (name[k] == '-') b.dash_mask[i] |= uint32_t{1} << k;
    }
  }
  return b;
}
constexpr LengthBuckets kBuckets = MakeLengthBuckets();

struct CompactTable {
  HeaderId id[256] = {};
  std::string_view long_name[256] = {};
};
constexpr CompactTable MakeCompactTable() {
  CompactTable t;
  for (const CompactForm& f : kCompactForms) {
    for (char c : {f.letter, static_cast<char>(f.letter - 32)}) {
      t.id[static_cast<uint8_t>(c)] = f.id;
      t.long_name[static_cast<uint8_t>(c)] = f.long_name;
    }
  }
  return t;
}
constexpr CompactTable kCompact = MakeCompactTable();

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Case-insensitive comparison of `name` with the known name at `index`
// (same length, lower case letters and '-'), eight bytes at a time: OR-ing
// 0x20 lower-cases letters exactly, but also maps CR onto '-', so the dashes
// are checked on their own.
bool MatchesKnownName(std::string_view name, size_t index) {
  const std::string_view known = kKnownHeaders[index].name;
  const size_t len = name.size();
  constexpr uint64_t kCaseBits = 0x2020202020202020ull;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    if ((Load64(name.data() + i) | kCaseBits) != Load64(known.data() + i)) return false;
  }
  for (; i < len; ++i) {
    if ((name[i] | 0x20) != known[i]) return false;
  }
  for (uint32_t m = kBuckets.dash_mask[index]; m != 0; m &= m - 1) {
    if (name[static_cast<size_t>(__builtin_ctz(m))] != '-') return false;
  }
  return true;
}

HeaderId LookupHeaderId(std::string_view name) {
  const size_t len = name.size();
  if (len == 1) return kCompact.id[static_cast<uint8_t>(name[0])];
  if (len > kMaxNameLength) return HeaderId::kOther;
  const char first = ToLower(name[0]);
  for (size_t k = 0; k < kBuckets.count[len]; ++k) {
    const size_t index = kBuckets.index[len][k];
    if (kKnownHeaders[index].name[0] == first && MatchesKnownName(name, index)) {
      return kKnownHeaders[index].id;
    }
  }
  return HeaderId::kOther;
}

// Resets what a previous parse may have left; the header array is not
// cleared (header_count says how much of it is valid).
void Reset(SipMessage* m) {
  m->is_request = false;
  m->method = {};
  m->request_uri_text = {};
  m->request_uri = SipUri{};
  m->status_code = 0;
  m->reason_phrase = {};
  m->version = {};
  m->call_id = {};
  m->cseq_number = 0;
  m->cseq_method = {};
  m->from = NameAddr{};
  m->to = NameAddr{};
  m->via_branch = {};
  m->via_transport = {};
  m->user_agent = {};
  m->content_type = {};
  m->content_length = -1;
  m->max_forwards = -1;
  m->expires = -1;
  m->body = {};
  m->size = 0;
  m->header_count = 0;
  m->malformed = kMalformedNone;
}

// Parses the request or status line (without its line ending). False when it
// is not a SIP start line.
bool ParseStartLine(std::string_view line, SipMessage* m) {
  while (!line.empty() && IsLws(line.back())) line.remove_suffix(1);
  const size_t n = line.size();
  if (StartsWithIgnoreCase(line, "SIP/")) {
    size_t i = 4;
    while (i < n && !IsWsp(line[i])) ++i;
    m->version = line.substr(0, i);
    while (i < n && IsWsp(line[i])) ++i;
    if (n - i < 3 || !internal::IsDigit(line[i]) || !internal::IsDigit(line[i + 1]) ||
        !internal::IsDigit(line[i + 2]) || line[i] == '0') {
      return false;
    }
    if (i + 3 < n && !IsWsp(line[i + 3])) return false;  // more than 3 digits
    m->status_code = (line[i] - '0') * 100 + (line[i + 1] - '0') * 10 + (line[i + 2] - '0');
    i += 3;
    while (i < n && IsWsp(line[i])) ++i;
    m->reason_phrase = line.substr(i);
    m->is_request = false;
    return true;
  }
  size_t i = 0;
  while (i < n && IsTokenChar(line[i])) ++i;
  if (i == 0 || i == n || !IsWsp(line[i])) return false;
  m->method = line.substr(0, i);
  while (i < n && IsWsp(line[i])) ++i;
  size_t v = n;
  while (v > i && !IsWsp(line[v - 1])) --v;
  if (v == i) return false;  // no version after the URI
  const std::string_view version = line.substr(v);
  if (version.size() <= 4 || !StartsWithIgnoreCase(version, "SIP/")) return false;
  m->version = version;
  std::string_view uri = line.substr(i, v - i);
  while (!uri.empty() && IsWsp(uri.back())) uri.remove_suffix(1);
  m->request_uri_text = uri;
  m->is_request = true;
  bool clean = !uri.empty() && std::memchr(uri.data(), ' ', uri.size()) == nullptr &&
               std::memchr(uri.data(), '\t', uri.size()) == nullptr;
  if (!ParseUri(uri, &m->request_uri)) {
    // Other absolute URIs (RFC 4475 unkscm, novelsc) are well formed.
    if (m->request_uri.scheme.empty() || uri.size() <= m->request_uri.scheme.size() + 1) {
      clean = false;
    }
  }
  if (!clean) m->malformed |= kMalformedRequestUri;
  return true;
}

// A stream that has no complete first line yet: false if what is there can
// already not start a SIP message (so a TCP stream of garbage fails fast).
bool PlausiblePartialStartLine(std::string_view partial) {
  if (StartsWithIgnoreCase(partial, "SIP/") || StartsWithIgnoreCase("SIP/", partial)) return true;
  for (char c : partial) {
    if (IsWsp(c)) return true;
    if (!IsTokenChar(c) && c != '\r') return false;
  }
  return partial.size() < 1024;
}

void ParseCSeq(std::string_view value, SipMessage* m) {
  size_t i = 0;
  const size_t n = value.size();
  while (i < n && internal::IsDigit(value[i])) ++i;
  uint64_t number = 0;
  bool ok = internal::ParseDecimal(value.substr(0, i), 0xFFFFFFFFu, &number);
  if (ok) m->cseq_number = static_cast<uint32_t>(number);
  const size_t sep = i;
  i = SkipLws(value, i);
  if (i == sep) ok = false;
  const size_t method_start = i;
  while (i < n && IsTokenChar(value[i])) ++i;
  m->cseq_method = value.substr(method_start, i - method_start);
  if (m->cseq_method.empty() || i != n) ok = false;
  if (!ok) m->malformed |= kMalformedCSeq;
}

// Topmost Via: "SIP / 2.0 / UDP host:port ;branch=..." (LWS allowed around
// the slashes); only the first value of a comma-separated list is read.
void ParseTopVia(std::string_view value, SipMessage* m) {
  const size_t n = value.size();
  size_t i = 0;
  bool ok = true;
  auto token = [&]() {
    i = SkipLws(value, i);
    const size_t start = i;
    while (i < n && IsTokenChar(value[i])) ++i;
    return value.substr(start, i - start);
  };
  auto slash = [&]() {
    i = SkipLws(value, i);
    if (i < n && value[i] == '/') {
      ++i;
      return true;
    }
    return false;
  };
  const std::string_view protocol = token();
  const bool has_version = slash() && !token().empty();
  if (protocol.empty() || !has_version || !slash()) {
    m->malformed |= kMalformedVia;
    return;
  }
  m->via_transport = token();
  i = SkipLws(value, i);
  const size_t host_start = i;
  while (i < n && !internal::HasClass(value[i], internal::kClassValueStop)) ++i;
  if (m->via_transport.empty() || i == host_start) ok = false;
  i = SkipLws(value, i);
  if (i < n && value[i] == ';') {
    size_t end = internal::FindUnquoted(value, ',', i);
    if (end == std::string_view::npos) end = n;
    const std::string_view params = value.substr(i + 1, end - i - 1);
    m->via_branch = FindParam(params, "branch");
    // An empty parameter (";;", RFC 4475 badinv01) is malformed.
    size_t p = 0;
    while (true) {
      p = SkipLws(params, p);
      if (p >= params.size() || params[p] == ';') {
        ok = false;
        break;
      }
      const size_t next = internal::FindUnquoted(params, ';', p);
      if (next == std::string_view::npos) break;
      p = next + 1;
    }
    i = end;
  }
  if (i < n && value[i] != ',') ok = false;
  if (i < n && TrimLws(value.substr(i + 1)).empty()) ok = false;  // trailing ','
  if (!ok) m->malformed |= kMalformedVia;
}

bool ParseInt64(std::string_view value, uint64_t max, int64_t* out) {
  uint64_t v = 0;
  if (!internal::ParseDecimal(value, max, &v)) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

// Single-valued headers seen so far, by HeaderId bit.
constexpr uint64_t Bit(HeaderId id) { return uint64_t{1} << static_cast<unsigned>(id); }

void HandleHeader(std::string_view line, size_t first_line_length, SipMessage* m, uint64_t* seen) {
  const void* colon_ptr = std::memchr(line.data(), ':', first_line_length);
  if (colon_ptr == nullptr) {
    m->malformed |= kMalformedHeaderLine;
    return;
  }
  const size_t colon = static_cast<size_t>(static_cast<const char*>(colon_ptr) - line.data());
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
  if (name.empty() || IsLws(name[0])) {
    m->malformed |= kMalformedHeaderLine;
    return;
  }
  const std::string_view value = TrimLws(line.substr(colon + 1));
  const HeaderId id = LookupHeaderId(name);
  if (m->header_count < SipMessage::kMaxHeaders) {
    Header& h = m->headers[m->header_count++];
    h.id = id;
    h.name = name;
    h.value = value;
  } else {
    m->malformed |= kMalformedTooManyHeaders;
  }
  if (id == HeaderId::kOther) return;
  const bool first = (*seen & Bit(id)) == 0;
  *seen |= Bit(id);
  switch (id) {
    case HeaderId::kCallId:
      if (first) {
        m->call_id = value;
      } else if (value != m->call_id) {
        m->malformed |= kMalformedDuplicateHeader;
      }
      break;
    case HeaderId::kCSeq:
      if (first) {
        ParseCSeq(value, m);
      } else {
        m->malformed |= kMalformedDuplicateHeader;
      }
      break;
    case HeaderId::kFrom:
      if (first) {
        if (!ParseNameAddr(value, &m->from)) m->malformed |= kMalformedFrom;
      } else {
        m->malformed |= kMalformedDuplicateHeader;
      }
      break;
    case HeaderId::kTo:
      if (first) {
        if (!ParseNameAddr(value, &m->to)) m->malformed |= kMalformedTo;
      } else {
        m->malformed |= kMalformedDuplicateHeader;
      }
      break;
    case HeaderId::kVia:
      if (first) ParseTopVia(value, m);
      break;
    case HeaderId::kContentLength: {
      int64_t length = -1;
      if (!ParseInt64(value, uint64_t{1} << 40, &length)) {
        m->malformed |= kMalformedContentLength;
      } else if (m->content_length < 0 && first) {
        m->content_length = length;
      } else if (length != m->content_length) {
        m->malformed |= kMalformedContentLength | kMalformedDuplicateHeader;
      }
      break;
    }
    case HeaderId::kContentType:
      if (first) m->content_type = value;
      break;
    case HeaderId::kUserAgent:
      if (first) m->user_agent = value;
      break;
    case HeaderId::kMaxForwards:
      if (first) {
        int64_t v = -1;
        if (ParseInt64(value, 0x7FFFFFFF, &v)) m->max_forwards = static_cast<int>(v);
      }
      break;
    case HeaderId::kExpires:
      if (first) {
        int64_t v = -1;
        if (ParseInt64(value, 0xFFFFFFFFu, &v)) m->expires = v;
      }
      break;
    default:
      break;
  }
}

}  // namespace

std::string_view ExpandCompactName(char c) { return kCompact.long_name[static_cast<uint8_t>(c)]; }

const Header* SipMessage::Find(HeaderId id) const {
  for (size_t i = 0; i < header_count; ++i) {
    if (headers[i].id == id) return &headers[i];
  }
  return nullptr;
}

const Header* SipMessage::Find(std::string_view name) const {
  if (name.empty()) return nullptr;
  const HeaderId id = LookupHeaderId(name);
  if (id != HeaderId::kOther) return Find(id);
  // Unknown names compare as written; a one-letter query matches only itself.
  for (size_t i = 0; i < header_count; ++i) {
    if (headers[i].id == HeaderId::kOther && EqualsIgnoreCase(headers[i].name, name)) {
      return &headers[i];
    }
  }
  return nullptr;
}

ParseStatus ParseSipMessage(std::string_view data, const ParseOptions& options, SipMessage* out) {
  Reset(out);
  const char* const base = data.data();
  const size_t n = data.size();
  const bool datagram = options.datagram;
  size_t pos = 0;
  while (pos < n && (data[pos] == '\r' || data[pos] == '\n')) ++pos;  // keep-alives
  if (pos == n) {
    out->size = pos;
    return ParseStatus::kIncomplete;
  }

  // Start line.
  const void* nl = std::memchr(base + pos, '\n', n - pos);
  size_t line_end = n;
  if (nl == nullptr) {
    if (!datagram) {
      return PlausiblePartialStartLine(data.substr(pos)) ? ParseStatus::kIncomplete
                                                         : ParseStatus::kError;
    }
  } else {
    line_end = static_cast<size_t>(static_cast<const char*>(nl) - base);
  }
  if (!ParseStartLine(data.substr(pos, line_end - pos), out)) {
    Reset(out);
    return ParseStatus::kError;
  }
  pos = line_end < n ? line_end + 1 : n;

  // Header lines, each with its continuation lines.
  uint64_t seen = 0;
  size_t body_start = n;
  while (true) {
    if (pos >= n) {
      if (!datagram) return ParseStatus::kIncomplete;
      body_start = n;
      break;
    }
    if (data[pos] == '\n') {
      body_start = pos + 1;
      break;
    }
    if (data[pos] == '\r') {
      if (pos + 1 >= n) {
        if (!datagram) return ParseStatus::kIncomplete;
        body_start = n;
        break;
      }
      if (data[pos + 1] == '\n') {
        body_start = pos + 2;
        break;
      }
    }
    const size_t start = pos;
    nl = std::memchr(base + pos, '\n', n - pos);
    if (nl == nullptr) {
      if (!datagram) return ParseStatus::kIncomplete;
      pos = n;
    } else {
      pos = static_cast<size_t>(static_cast<const char*>(nl) - base) + 1;
    }
    const size_t first_line_length = pos - start;
    while (pos < n && IsWsp(data[pos])) {
      nl = std::memchr(base + pos, '\n', n - pos);
      if (nl == nullptr) {
        if (!datagram) return ParseStatus::kIncomplete;
        pos = n;
      } else {
        pos = static_cast<size_t>(static_cast<const char*>(nl) - base) + 1;
      }
    }
    size_t end = pos;  // drop the line break here; TrimLws would walk it anyway
    if (end > start && data[end - 1] == '\n') --end;
    if (end > start && data[end - 1] == '\r') --end;
    HandleHeader(data.substr(start, end - start), std::min(first_line_length, end - start), out,
                 &seen);
  }

  if (out->call_id.empty()) out->malformed |= kMalformedMissingCallId;
  if ((seen & Bit(HeaderId::kFrom)) == 0) out->malformed |= kMalformedFrom;
  if ((seen & Bit(HeaderId::kTo)) == 0) out->malformed |= kMalformedTo;
  if ((seen & Bit(HeaderId::kCSeq)) == 0) out->malformed |= kMalformedCSeq;
  if ((seen & Bit(HeaderId::kVia)) == 0) out->malformed |= kMalformedVia;

  // Body.
  const size_t available = n - body_start;
  size_t body_length = available;
  if (!datagram) {
    body_length = out->content_length > 0 ? static_cast<size_t>(out->content_length) : 0;
    if (body_length > available) return ParseStatus::kIncomplete;
  } else if (out->content_length >= 0) {
    if (static_cast<uint64_t>(out->content_length) <= available) {
      body_length = static_cast<size_t>(out->content_length);
    } else {
      out->malformed |= kMalformedContentLength;
    }
  }
  out->body = data.substr(body_start, body_length);
  out->size = body_start + body_length;
  return ParseStatus::kComplete;
}

}  // namespace sipman::sip
