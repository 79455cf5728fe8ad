// URIs, name-addr values, header parameters and unfolding (RFC 3261
// sections 19.1, 20.10 and 25.1).
#include <algorithm>
#include <cstring>

#include "sip/scan.h"
#include "sip/sip.h"

namespace sipman::sip {

using internal::EqualsIgnoreCase;
using internal::FindUnquoted;
using internal::HasClass;
using internal::IsLws;
using internal::SkipLws;
using internal::TrimLws;

namespace {

// Length of the "scheme:" prefix of `s` (scheme = ALPHA *(ALPHA / DIGIT /
// "+" / "-" / "."), then ':'), or 0 when `s` does not start with one.
size_t SchemePrefixLength(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
  size_t i = 1;
  while (i < s.size() && HasClass(s[i], internal::kClassScheme)) ++i;
  if (i < s.size() && s[i] == ':') return i + 1;
  return 0;
}

bool ParseSipUriRest(std::string_view rest, SipUri* out) {
  std::string_view hostport = rest;
  const size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      out->user = userinfo;
    } else {
      out->user = userinfo.substr(0, colon);
      out->password = userinfo.substr(colon + 1);
    }
    hostport = rest.substr(at + 1);
    for (char c : userinfo) {
      if (HasClass(c, internal::kClassUserBad)) return false;
    }
  }
  const size_t n = hostport.size();
  size_t i = 0;
  if (n > 0 && hostport[0] == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return false;
    i = close + 1;
  } else {
    while (i < n && !HasClass(hostport[i], internal::kClassHostStop)) ++i;
    if (i < n && hostport[i] != ':' && hostport[i] != ';' && hostport[i] != '?') return false;
  }
  out->host = hostport.substr(0, i);
  if (out->host.empty()) return false;
  if (i < n && hostport[i] == ':') {
    const size_t start = ++i;
    while (i < n && hostport[i] != ';' && hostport[i] != '?') ++i;
    uint64_t port = 0;
    if (!internal::ParseDecimal(hostport.substr(start, i - start), 65535, &port)) return false;
    out->port = static_cast<uint16_t>(port);
  }
  if (i < n && hostport[i] == ';') {
    const size_t start = ++i;
    while (i < n && hostport[i] != '?') ++i;
    out->params = hostport.substr(start, i - start);
  }
  if (i < n && hostport[i] == '?') {
    out->headers = hostport.substr(i + 1);
    i = n;
  }
  return i == n;
}

// Parses `text` as a URI. Returns true for a readable sip:/sips:/tel: URI;
// sets `*other_scheme` for a syntactically plausible URI of another scheme.
bool ParseUriImpl(std::string_view text, SipUri* out, bool* other_scheme) {
  *out = SipUri{};
  *other_scheme = false;
  text = TrimLws(text);
  const size_t prefix = SchemePrefixLength(text);
  if (prefix == 0) return false;
  out->scheme = text.substr(0, prefix - 1);
  const std::string_view rest = text.substr(prefix);
  if (EqualsIgnoreCase(out->scheme, "sip") || EqualsIgnoreCase(out->scheme, "sips")) {
    return ParseSipUriRest(rest, out);
  }
  if (EqualsIgnoreCase(out->scheme, "tel")) {
    const size_t semi = rest.find(';');
    out->user = rest.substr(0, semi);
    if (semi != std::string_view::npos) out->params = rest.substr(semi + 1);
    return !out->user.empty();
  }
  bool plausible = !rest.empty();
  for (char c : rest) {
    if (IsLws(c)) plausible = false;
  }
  *other_scheme = plausible;
  return false;
}

}  // namespace

bool ParseUri(std::string_view text, SipUri* out) {
  bool other_scheme = false;
  return ParseUriImpl(text, out, &other_scheme);
}

bool ParseNameAddr(std::string_view text, NameAddr* out) {
  *out = NameAddr{};
  const std::string_view t = TrimLws(text);
  const size_t n = t.size();
  if (n == 0) return false;
  bool ok = true;
  std::string_view uri_text;
  size_t after = 0;  // first index after the URI (after '>' for name-addr)
  if (t[0] != '"' && SchemePrefixLength(t) != 0) {
    // addr-spec: the URI ends where header parameters (or the next list
    // value) begin.
    size_t e = 0;
    while (e < n && !HasClass(t[e], internal::kClassValueStop)) ++e;
    uri_text = t.substr(0, e);
    after = e;
  } else {
    size_t lt = 0;
    if (t[0] == '"') {
      size_t k = 1;
      while (k < n && t[k] != '"') {
        if (t[k] == '\\') ++k;
        ++k;
      }
      if (k >= n) return false;  // unterminated quoted string
      out->display_name = t.substr(1, k - 1);
      lt = SkipLws(t, k + 1);
      if (lt >= n || t[lt] != '<') return false;
    } else {
      lt = t.find('<');
      if (lt == std::string_view::npos) return false;
      out->display_name = TrimLws(t.substr(0, lt));
    }
    const size_t gt = t.find('>', lt + 1);
    if (gt == std::string_view::npos) return false;
    const std::string_view inner = t.substr(lt + 1, gt - lt - 1);
    uri_text = TrimLws(inner);
    if (uri_text.size() != inner.size()) ok = false;  // "< sip:x >" (RFC 4475 badaspec)
    after = gt + 1;
  }
  bool other_scheme = false;
  if (!ParseUriImpl(uri_text, &out->uri, &other_scheme) && !other_scheme) ok = false;

  size_t i = SkipLws(t, after);
  if (i < n && t[i] == ';') {
    size_t end = FindUnquoted(t, ',', i + 1);
    if (end == std::string_view::npos) end = n;
    out->params = TrimLws(t.substr(i + 1, end - i - 1));
    out->tag = FindParam(out->params, "tag");
  } else if (i < n && t[i] != ',') {
    ok = false;  // junk after the URI
  }
  return ok;
}

std::string_view FindParam(std::string_view params, std::string_view name, bool* found) {
  if (found != nullptr) *found = false;
  const size_t n = params.size();
  size_t i = 0;
  while (i < n) {
    while (i < n && (IsLws(params[i]) || params[i] == ';')) ++i;
    if (i >= n || params[i] == ',') break;
    const size_t name_start = i;
    while (i < n && params[i] != '=' && !HasClass(params[i], internal::kClassValueStop)) ++i;
    const std::string_view param_name = params.substr(name_start, i - name_start);
    std::string_view value;
    size_t j = SkipLws(params, i);
    if (j < n && params[j] == '=') {
      j = SkipLws(params, j + 1);
      if (j < n && params[j] == '"') {
        size_t k = j + 1;
        while (k < n && params[k] != '"') {
          if (params[k] == '\\') ++k;
          ++k;
        }
        if (k > n) k = n;
        value = params.substr(j + 1, k - j - 1);
        i = k < n ? k + 1 : n;
      } else {
        const size_t value_start = j;
        while (j < n && !HasClass(params[j], internal::kClassValueStop)) ++j;
        value = params.substr(value_start, j - value_start);
        i = j;
      }
    } else {
      i = j;
    }
    if (EqualsIgnoreCase(param_name, name)) {
      if (found != nullptr) *found = true;
      return value;
    }
  }
  return {};
}

std::string_view UnfoldHeaderValue(std::string_view value, char* buffer, size_t buffer_size) {
  if (buffer == nullptr || buffer_size == 0) return {};
  size_t out = 0;
  size_t i = 0;
  const size_t n = value.size();
  while (i < n && out < buffer_size) {
    const char c = value[i];
    if (c == '\r' || c == '\n') {
      while (i < n && IsLws(value[i])) ++i;
      buffer[out++] = ' ';
      continue;
    }
    // Copy the run up to the next line break in one go.
    const void* cr = std::memchr(value.data() + i, '\r', n - i);
    const void* lf = std::memchr(value.data() + i, '\n', n - i);
    size_t stop = n;
    if (cr != nullptr) stop = static_cast<size_t>(static_cast<const char*>(cr) - value.data());
    if (lf != nullptr) {
      stop = std::min(stop, static_cast<size_t>(static_cast<const char*>(lf) - value.data()));
    }
    const size_t len = std::min(stop - i, buffer_size - out);
    std::memcpy(buffer + out, value.data() + i, len);
    out += len;
    i += len;
  }
  return std::string_view(buffer, out);
}

}  // namespace sipman::sip
