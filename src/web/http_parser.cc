#include <cstdint>

#include "web/http.h"

namespace sipman::web {
namespace {

// RFC 9110 tchar.
bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x | 0x20);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y | 0x20);
    if (x != y) return false;
  }
  return true;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool ListHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

HttpParseResult Error(int status, const char* why) {
  return HttpParseResult{HttpParseStatus::kError, status, why};
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The line at `pos` without its CRLF (or bare LF): false when no LF is in
// data yet. *next is the first byte after the LF.
bool NextLine(std::string_view data, size_t pos, std::string_view* line, size_t* next) {
  size_t lf = data.find('\n', pos);
  if (lf == std::string_view::npos) return false;
  size_t end = lf;
  if (end > pos && data[end - 1] == '\r') --end;
  *line = data.substr(pos, end - pos);
  *next = lf + 1;
  return true;
}

}  // namespace

std::string_view HttpRequest::Header(std::string_view name) const {
  for (size_t i = 0; i < header_count; ++i) {
    if (EqualsIgnoreCase(headers[i].name, name)) return headers[i].value;
  }
  return {};
}

HttpParseResult ParseHttpRequest(std::string_view data, const HttpLimits& limits,
                                 HttpRequest* out) {
  out->header_count = 0;
  out->body = {};
  size_t pos = 0;
  // RFC 9112 2.2: empty lines before the request line are ignored (a few).
  for (int i = 0; i < 4 && pos < data.size(); ++i) {
    if (data[pos] == '\n') {
      ++pos;
    } else if (data[pos] == '\r' && pos + 1 < data.size() && data[pos + 1] == '\n') {
      pos += 2;
    } else {
      break;
    }
  }
  size_t line_start = pos;
  std::string_view line;
  size_t next = 0;
  if (!NextLine(data, pos, &line, &next)) {
    if (data.size() - line_start > limits.max_request_line) {
      return Error(414, "request line too long");
    }
    return HttpParseResult{};
  }
  if (next - line_start > limits.max_request_line) return Error(414, "request line too long");

  // method SP request-target SP HTTP-version
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return Error(400, "malformed request line");
  out->method = line.substr(0, sp1);
  for (char c : out->method) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return Error(400, "malformed method");
  }
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return Error(400, "malformed request line");
  out->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (char c : out->target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return Error(400, "malformed request target");
  }
  if (out->target.front() != '/') {
    if (out->target == "*" && out->method == "OPTIONS") {
      // Allowed by RFC 9112; routed like any path (404).
    } else {
      return Error(400, "request target must be an absolute path");
    }
  }
  std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' ||
      HexValue(version[5]) < 0 || HexValue(version[7]) < 0 || version[5] > '9' ||
      version[7] > '9') {
    return Error(400, "malformed HTTP version");
  }
  // HTTP/1.2 to 1.9 do not exist: answering them as 1.1 would promise what
  // the client may not mean (docs/API.md promises 505 for any other version).
  if (version[5] != '1' || version[7] > '1') {
    return Error(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  }
  out->minor_version = version[7] - '0';
  size_t question = out->target.find('?');
  out->path = out->target.substr(0, question);
  out->query = question == std::string_view::npos ? std::string_view()
                                                  : out->target.substr(question + 1);

  // Header lines up to the empty line.
  pos = next;
  size_t headers_start = pos;
  bool have_length = false;
  uint64_t content_length = 0;
  bool chunked = false;
  std::string_view connection;
  for (;;) {
    if (!NextLine(data, pos, &line, &next)) {
      if (data.size() - headers_start > limits.max_header_bytes) {
        return Error(431, "request headers too large");
      }
      return HttpParseResult{};
    }
    if (next - headers_start > limits.max_header_bytes) {
      return Error(431, "request headers too large");
    }
    pos = next;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      return Error(400, "obsolete header line folding is not accepted");
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return Error(400, "malformed header line");
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!IsTokenChar(static_cast<unsigned char>(c))) return Error(400, "malformed header name");
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7f) return Error(400, "control character in header");
    }
    if (out->header_count == limits.max_headers || out->header_count == HttpRequest::kMaxHeaders) {
      return Error(431, "too many request headers");
    }
    out->headers[out->header_count++] = HttpHeader{name, value};
    if (EqualsIgnoreCase(name, "Content-Length")) {
      if (value.empty() || value.size() > 18) return Error(400, "malformed Content-Length");
      uint64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return Error(400, "malformed Content-Length");
        n = n * 10 + static_cast<uint64_t>(c - '0');
      }
      if (have_length && n != content_length) return Error(400, "conflicting Content-Length");
      have_length = true;
      content_length = n;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      chunked = true;
    } else if (EqualsIgnoreCase(name, "Connection")) {
      connection = value;
    }
  }
  if (chunked) return Error(501, "Transfer-Encoding is not supported; send Content-Length");
  if (content_length > limits.max_body) return Error(413, "request body too large");
  if (out->minor_version == 0) {
    out->keep_alive = ListHas(connection, "keep-alive");
  } else {
    out->keep_alive = !ListHas(connection, "close");
  }
  if (data.size() - pos < content_length) return HttpParseResult{};
  out->body = data.substr(pos, content_length);
  out->size = pos + content_length;
  return HttpParseResult{HttpParseStatus::kComplete, 0, ""};
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return false;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    out->push_back(c);
  }
  return true;
}

std::string PercentEncode(std::string_view in) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

bool ParseQuery(std::string_view query, QueryParams* out, std::string* error) {
  out->clear();
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    if (out->size() == 64) {
      *error = "too many query parameters (at most 64)";
      return false;
    }
    size_t eq = part.find('=');
    std::string name, value;
    if (!PercentDecode(part.substr(0, eq), true, &name) ||
        (eq != std::string_view::npos && !PercentDecode(part.substr(eq + 1), true, &value))) {
      *error = "malformed %-escape in query parameter '" + std::string(part.substr(0, eq)) + "'";
      return false;
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return true;
}

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view item = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name) {
      std::string_view value = item.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return value;
    }
  }
  return {};
}

bool MediaTypeIs(std::string_view content_type, std::string_view type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  return EqualsIgnoreCase(media, type);
}

namespace {

// Splits "host[:port]" or "[v6]:port"; the port is `default_port` when
// absent. False when malformed.
bool SplitHostPort(std::string_view authority, int default_port, std::string_view* host,
                   int* port) {
  std::string_view rest;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    *host = authority.substr(0, close + 1);
    rest = authority.substr(close + 1);
  } else {
    size_t colon = authority.find(':');
    *host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (host->empty()) return false;
  *port = default_port;
  if (rest.empty()) return true;
  if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return false;
  int n = 0;
  for (char c : rest.substr(1)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n > 65535) return false;
  *port = n;
  return true;
}

}  // namespace

bool SameOrigin(std::string_view origin, std::string_view host, bool https) {
  std::string_view scheme = https ? "https://" : "http://";
  if (origin.size() <= scheme.size() || !EqualsIgnoreCase(origin.substr(0, scheme.size()), scheme)) {
    return false;
  }
  origin.remove_prefix(scheme.size());
  if (origin.find('/') != std::string_view::npos) return false;
  int default_port = https ? 443 : 80;
  std::string_view origin_host, request_host;
  int origin_port = 0, request_port = 0;
  return SplitHostPort(origin, default_port, &origin_host, &origin_port) &&
         SplitHostPort(host, default_port, &request_host, &request_port) &&
         origin_port == request_port && EqualsIgnoreCase(origin_host, request_host);
}

const char* StatusReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string SerializeResponseHead(const HttpResponse& r, bool keep_alive) {
  std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + StatusReason(r.status) +
                     "\r\n";
  if (!r.content_type.empty()) head += "Content-Type: " + r.content_type + "\r\n";
  if (!r.unknown_length) head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  head += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  head += "X-Content-Type-Options: nosniff\r\n";
  for (const auto& [name, value] : r.headers) head += name + ": " + value + "\r\n";
  head += "\r\n";
  return head;
}

}  // namespace sipman::web
