// Finding the SDP in a message body, including MIME multipart bodies
// (RFC 2046 section 5.1): parts are views into the body, nothing is copied.
#include <cstring>

#include "sip/scan.h"
#include "sip/sip.h"

namespace sipman::sip {

using internal::EqualsIgnoreCase;
using internal::TrimLws;

namespace {

constexpr int kMaxMultipartDepth = 4;
constexpr size_t kMaxBoundaryLength = 200;  // RFC 2046 allows 70; be lenient

// Index of the next delimiter "--boundary" that starts a line, at or after
// `from`; npos when none.
size_t FindDelimiter(std::string_view body, std::string_view boundary, size_t from) {
  while (from < body.size()) {
    const size_t hit = body.find(boundary, from);
    if (hit == std::string_view::npos) return hit;
    if (hit >= 2 && body[hit - 1] == '-' && body[hit - 2] == '-' &&
        (hit == 2 || body[hit - 3] == '\n')) {
      return hit - 2;
    }
    from = hit + 1;
  }
  return std::string_view::npos;
}

// Splits a body part into its Content-Type (empty when it has none) and its
// content.
void SplitPart(std::string_view part, std::string_view* content_type, std::string_view* content) {
  *content_type = {};
  size_t pos = 0;
  const size_t n = part.size();
  while (pos < n) {
    const void* nl = std::memchr(part.data() + pos, '\n', n - pos);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - part.data()) : n;
    std::string_view line = part.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      *content = part.substr(pos > n ? n : pos);
      return;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = TrimLws(line.substr(0, colon));
    if (EqualsIgnoreCase(name, "content-type") || EqualsIgnoreCase(name, "c")) {
      *content_type = TrimLws(line.substr(colon + 1));
    }
  }
  *content = {};  // headers only, no content
}

std::string_view FindSdp(std::string_view content_type, std::string_view body, int depth) {
  const std::string_view ct = TrimLws(content_type);
  const size_t semi = ct.find(';');
  const std::string_view type = TrimLws(ct.substr(0, semi));
  if (EqualsIgnoreCase(type, "application/sdp")) return body;
  if (depth >= kMaxMultipartDepth || semi == std::string_view::npos ||
      !internal::StartsWithIgnoreCase(type, "multipart/")) {
    return {};
  }
  const std::string_view boundary = FindParam(ct.substr(semi + 1), "boundary");
  if (boundary.empty() || boundary.size() > kMaxBoundaryLength) return {};

  size_t delimiter = FindDelimiter(body, boundary, 0);
  while (delimiter != std::string_view::npos) {
    const size_t after = delimiter + 2 + boundary.size();
    if (body.substr(after, 2) == "--") break;  // close delimiter
    const size_t line_end = body.find('\n', after);
    if (line_end == std::string_view::npos) break;
    const size_t part_start = line_end + 1;
    const size_t next = FindDelimiter(body, boundary, part_start);
    std::string_view part =
        body.substr(part_start, (next == std::string_view::npos ? body.size() : next) - part_start);
    // The line break before a delimiter belongs to the delimiter.
    if (next != std::string_view::npos) {
      if (!part.empty() && part.back() == '\n') part.remove_suffix(1);
      if (!part.empty() && part.back() == '\r') part.remove_suffix(1);
    }
    std::string_view part_type;
    std::string_view content;
    SplitPart(part, &part_type, &content);
    const std::string_view sdp = FindSdp(part_type, content, depth + 1);
    if (!sdp.empty()) return sdp;
    delimiter = next;
  }
  return {};
}

}  // namespace

std::string_view FindSdpBody(std::string_view content_type, std::string_view body) {
  if (body.empty()) return {};
  return FindSdp(content_type, body, 0);
}

}  // namespace sipman::sip
