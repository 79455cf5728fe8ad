#include "net/sip_framing.h"

#include <cstdint>
#include <cstring>

#include "net/net.h"

namespace sipman::net {
namespace {

inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// RFC 3261 token characters.
inline bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_': case '+': case '`':
    case '\'': case '~':
      return true;
    default:
      return false;
  }
}

inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Parses a Content-Length header line. Returns false when `line` is another
// header; sets *valid to false when it is Content-Length but malformed.
bool ParseContentLength(std::string_view line, uint64_t* value, bool* valid) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = line.substr(0, colon);
  while (!name.empty() && IsSpace(name.back())) name.remove_suffix(1);
  if (!(name.size() == 1 && Lower(name[0]) == 'l') && !EqualsNoCase(name, "content-length")) {
    return false;
  }
  std::string_view v = TrimSpace(line.substr(colon + 1));
  *valid = false;
  if (v.empty() || v.size() > 10) return true;
  uint64_t n = 0;
  for (char c : v) {
    if (!IsDigit(c)) return true;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = n;
  *valid = true;
  return true;
}

}  // namespace

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool LooksLikeSip(std::string_view d) {
  const size_t n = d.size();
  if (n < 12) return false;  // "SIP/2.0 200\n" is the shortest start line
  if (EqualsNoCase(d.substr(0, 8), "SIP/2.0 ")) {
    if (!IsDigit(d[8]) || !IsDigit(d[9]) || !IsDigit(d[10])) return false;
    if (d[11] != ' ' && d[11] != '\r' && d[11] != '\n') return false;
    return std::memchr(d.data() + 11, '\n', n - 11) != nullptr;
  }
  if (!IsAlpha(d[0])) return false;
  size_t i = 1;
  while (i < n && i < 32 && IsTokenChar(d[i])) ++i;
  if (i >= n || d[i] != ' ') return false;
  const char* nl = static_cast<const char*>(std::memchr(d.data() + i, '\n', n - i));
  if (nl == nullptr) return false;
  size_t end = static_cast<size_t>(nl - d.data());
  if (d[end - 1] == '\r') --end;
  // METHOD SP Request-URI SP SIP/2.0, with a non-empty Request-URI.
  if (end < i + 2 + 8) return false;
  if (!EqualsNoCase(d.substr(end - 8, 8), " SIP/2.0")) return false;
  const char first_uri = d[i + 1];
  return first_uri != ' ' && static_cast<unsigned char>(first_uri) > 0x20;
}

bool LooksLikeSipStrict(std::string_view d) {
  if (!LooksLikeSip(d)) return false;
  if (d[0] == 'S' || d[0] == 's') {
    if (EqualsNoCase(d.substr(0, 8), "SIP/2.0 ")) return true;
  }
  static constexpr std::string_view kMethods[] = {
      "INVITE", "ACK",    "BYE",     "CANCEL", "REGISTER", "OPTIONS", "PRACK",
      "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE"};
  const std::string_view method = d.substr(0, d.find(' '));
  for (std::string_view m : kMethods) {
    if (method == m) return true;
  }
  return false;
}

FrameResult FrameMessage(std::string_view d, size_t max_bytes, size_t* length) {
  *length = 0;
  const size_t limit = d.size() < max_bytes ? d.size() : max_bytes;
  size_t pos = 0;
  bool first = true;
  bool have_length = false;
  uint64_t content_length = 0;
  for (;;) {
    const char* nl = static_cast<const char*>(std::memchr(d.data() + pos, '\n', limit - pos));
    if (nl == nullptr) return d.size() >= max_bytes ? FrameResult::kInvalid : FrameResult::kNeedMore;
    const size_t eol = static_cast<size_t>(nl - d.data());
    size_t line_end = eol;
    if (line_end > pos && d[line_end - 1] == '\r') --line_end;
    std::string_view line = d.substr(pos, line_end - pos);
    pos = eol + 1;
    if (line.empty()) {
      if (first) return FrameResult::kInvalid;
      break;
    }
    // Only "Content-Length" and "l" frame: other names are skipped cheaply.
    const char initial = static_cast<char>(line[0] | 0x20);
    if (!first && !have_length && (initial == 'c' || initial == 'l')) {
      bool valid = true;
      if (ParseContentLength(line, &content_length, &valid)) {
        if (!valid) return FrameResult::kInvalid;
        have_length = true;
      }
    }
    first = false;
  }
  if (content_length > max_bytes || pos + content_length > max_bytes) return FrameResult::kInvalid;
  const size_t total = pos + static_cast<size_t>(content_length);
  *length = total;
  return d.size() >= total ? FrameResult::kComplete : FrameResult::kNeedMore;
}

size_t SkipKeepAlive(std::string_view d) {
  size_t i = 0;
  while (i < d.size() && (d[i] == '\r' || d[i] == '\n' || IsSpace(d[i]))) ++i;
  return i;
}

bool CouldStartMessage(std::string_view p) {
  if (p.size() >= kMaxStartLine) return false;
  if (p.empty()) return true;
  static constexpr std::string_view kSip = "SIP/2.0 ";
  static constexpr std::string_view kHttp = "HTTP/1.";
  if (EqualsNoCase(p.substr(0, kSip.size()), kSip.substr(0, p.size() < 8 ? p.size() : 8))) {
    return true;
  }
  if (p.substr(0, kHttp.size()) == kHttp.substr(0, p.size() < 7 ? p.size() : 7)) return true;
  if (!IsAlpha(p[0])) return false;
  size_t i = 1;
  while (i < p.size() && i < 32 && IsTokenChar(p[i])) ++i;
  if (i == p.size()) return i < 32;
  if (p[i] != ' ') return false;
  for (size_t j = i + 1; j < p.size(); ++j) {
    const unsigned char c = static_cast<unsigned char>(p[j]);
    if (c < 0x20 && c != '\r' && c != '\t') return false;
    if (c == 0x7f) return false;
  }
  return true;
}

bool LooksLikeHttp(std::string_view d) {
  return d.substr(0, 4) == "GET " || d.substr(0, 7) == "HTTP/1.";
}

bool HeaderHasToken(std::string_view head, std::string_view name, std::string_view token) {
  size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    const size_t start = pos + 1;
    size_t eol = head.find('\n', start);
    std::string_view line = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    pos = eol;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (!EqualsNoCase(TrimSpace(line.substr(0, colon)), name)) continue;
    std::string_view value = line.substr(colon + 1);
    if (value.size() < token.size()) continue;
    for (size_t i = 0; i + token.size() <= value.size(); ++i) {
      if (EqualsNoCase(value.substr(i, token.size()), token)) return true;
    }
  }
  return false;
}

}  // namespace sipman::net
