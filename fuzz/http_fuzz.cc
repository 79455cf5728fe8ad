// libFuzzer target for the HTTP/1.1 request parser and the URL helpers of
// src/web: whatever the bytes, they must not read out of bounds, and a
// complete request's views must lie inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "web/api_util.h"
#include "web/http.h"
#include "web/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sipman::web;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  HttpLimits limits;
  limits.max_request_line = 512;  // small limits reach the 414/431/413 paths
  limits.max_header_bytes = 2048;
  limits.max_headers = 16;
  limits.max_body = 4096;
  static HttpRequest request;
  HttpParseResult r = ParseHttpRequest(input, limits, &request);
  auto inside = [&](std::string_view v) {
    if (v.empty()) return;
    if (v.data() < input.data() || v.data() + v.size() > input.data() + input.size()) abort();
  };
  if (r.status == HttpParseStatus::kComplete) {
    if (request.size > size) abort();
    inside(request.method);
    inside(request.target);
    inside(request.body);
    for (size_t i = 0; i < request.header_count; ++i) {
      inside(request.headers[i].name);
      inside(request.headers[i].value);
    }
    QueryParams params;
    std::string error;
    ParseQuery(request.query, &params, &error);
    std::string path;
    PercentDecode(request.path, false, &path);
    CookieValue(request.Header("Cookie"), "sipman_session");
    ParseFlatJsonObject(request.body);
  } else if (r.status == HttpParseStatus::kError) {
    if (r.error_status < 400 || r.error_status > 505) abort();
  }
  // The value parsers see the raw bytes too.
  ParseApiTime(input.substr(0, 64));
  DecodeCursor(input.substr(0, 200));
  JsonWriter w;
  w.String(input);
  return 0;
}
