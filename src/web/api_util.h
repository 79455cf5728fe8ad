// Private to web/: the API's value formats: times (ns or ISO 8601 in, both
// out) and opaque paging cursors.
#ifndef SIPMAN_WEB_API_UTIL_H_
#define SIPMAN_WEB_API_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"

namespace sipman::web {

// Integer nanoseconds since the epoch ("1764064800000000000"), or ISO 8601
// "2026-11-25", "2026-11-25T10:00Z", "2026-11-25T10:00:00.5Z",
// "2026-11-25T10:00:00+01:00" (no zone: UTC).
std::optional<TimestampNs> ParseApiTime(std::string_view text);
// "2026-11-25T10:00:00.123Z" (milliseconds, UTC).
std::string FormatIsoTime(TimestampNs ts);

// A paging position as an opaque URL-safe string: `kind` names the listing
// and sort order it belongs to, so a cursor of another order is refused.
struct Cursor {
  std::string kind;
  int64_t key = 0;
  int64_t id = 0;
};
std::string EncodeCursor(const Cursor& cursor);
std::optional<Cursor> DecodeCursor(std::string_view text);

// A decimal integer without anything else; nullopt for other text or overflow.
std::optional<int64_t> ParseInt(std::string_view text);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_API_UTIL_H_
