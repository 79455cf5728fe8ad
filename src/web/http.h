// Private to web/: the HTTP/1.1 request parser (picohttpparser's shape: one
// pass, views into the caller's buffer, "complete / need more / error"),
// URL decoding, and the response type the handlers fill.
#ifndef SIPMAN_WEB_HTTP_H_
#define SIPMAN_WEB_HTTP_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sipman::web {

// Hard limits of one request; past them the request is refused.
struct HttpLimits {
  size_t max_request_line = 8 * 1024;   // 414
  size_t max_header_bytes = 32 * 1024;  // 431 (all header lines together)
  size_t max_headers = 100;             // 431
  // Every body the API takes is a small JSON object; 64 KiB keeps what 512
  // connections can make the server hold at once to about 50 MiB.
  size_t max_body = 64 * 1024;          // 413
};

struct HttpHeader {
  std::string_view name;
  std::string_view value;  // without surrounding white space
};

// LIFETIME: every view points into the buffer given to ParseHttpRequest.
struct HttpRequest {
  static constexpr size_t kMaxHeaders = 100;
  std::string_view method;
  std::string_view target;  // as sent: path and query, still %-encoded
  std::string_view path;    // target up to '?'
  std::string_view query;   // after '?', without it
  int minor_version = 1;    // HTTP/1.<minor>
  HttpHeader headers[kMaxHeaders];
  size_t header_count = 0;
  std::string_view body;
  size_t size = 0;          // bytes of the whole request (leading empty lines included)
  bool keep_alive = true;

  // First header with this name (case-insensitive), or empty.
  std::string_view Header(std::string_view name) const;
};

enum class HttpParseStatus { kComplete, kIncomplete, kError };

struct HttpParseResult {
  HttpParseStatus status = HttpParseStatus::kIncomplete;
  // For kError: the status to answer (400, 413, 414, 431, 501, 505) and why.
  int error_status = 0;
  const char* error = "";
};

// Parses one request at the start of `data`. Never reads outside `data`,
// never allocates. Limits beyond `limits` are not enforced in the body, so a
// caller with a complete head and a large Content-Length learns 413 before
// the body arrives.
HttpParseResult ParseHttpRequest(std::string_view data, const HttpLimits& limits,
                                 HttpRequest* out);

// %XX decoding; '+' becomes a space when `plus_is_space` (query strings).
// False on a malformed escape or a decoded NUL byte.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);
// Percent-encodes everything but unreserved characters (RFC 3986).
std::string PercentEncode(std::string_view in);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// Splits and decodes "a=1&b=x%20y". False (with *error naming the part) on a
// malformed escape or more than 64 parameters.
bool ParseQuery(std::string_view query, QueryParams* out, std::string* error);

// Value of the cookie `name` in a Cookie header, or empty.
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

// Whether the media type of a Content-Type value is `type`: compared
// case-insensitively, parameters ("; charset=utf-8") and white space aside.
bool MediaTypeIs(std::string_view content_type, std::string_view type);

// Whether `origin` (an Origin header, "scheme://host[:port]") is the origin
// a request sent with Host `host` reached: the scheme this server speaks
// (https when `https`), the same host (case-insensitive) and the same port,
// an absent port meaning the scheme's default. "null" and malformed values
// match nothing.
bool SameOrigin(std::string_view origin, std::string_view host, bool https);

// "Not Found" for 404, ... ("Unknown" for codes it does not know).
const char* StatusReason(int status);

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::string body;
  bool close = false;  // close the connection after this response
  // The handler took the connection over for a Server-Sent Events stream;
  // the server sends nothing and hands the socket to the live feed.
  bool event_stream = false;
  // event_stream: the user whose stream it is (the live feed has reserved
  // the stream's place for that user; docs/API.md, live stream limits).
  std::string stream_user;
  // Send no Content-Length: the head of a stream (HEAD /api/v1/live), whose
  // GET has no length.
  bool unknown_length = false;

  void AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// The status line and headers of `response` (Content-Length from its body),
// ending with the empty line. `keep_alive` says what Connection to announce.
std::string SerializeResponseHead(const HttpResponse& response, bool keep_alive);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_HTTP_H_
