// SIP (and HTTP) message framing on a byte stream, private to net: where a
// message ends (header section, then Content-Length body bytes), keep-alive
// skipping, and the cheap tests used to find a message start after a gap.
// net must not depend on sip, so this is a deliberately small subset of the
// grammar: it only needs to know where one message stops.
#ifndef SIPMAN_NET_SIP_FRAMING_H_
#define SIPMAN_NET_SIP_FRAMING_H_

#include <cstddef>
#include <string_view>

namespace sipman::net {

// Longest start line accepted while waiting for its line end; longer partial
// lines are garbage.
constexpr size_t kMaxStartLine = 8192;

enum class FrameResult { kComplete, kNeedMore, kInvalid };

// Frames one message at the start of `data`: the header section up to the
// empty line (CRLF CRLF, or LF LF), then Content-Length body bytes (compact
// "l", case-insensitive; absent means 0). On kComplete, *length is the
// message length. On kNeedMore, *length is the total length needed when the
// header section is complete and the body is not, else 0. kInvalid when the
// message would exceed `max_bytes` or Content-Length is malformed.
FrameResult FrameMessage(std::string_view data, size_t max_bytes, size_t* length);

// LooksLikeSip, stricter: a request must use a method of RFC 3261 or its
// extensions. For resynchronising a stream after a gap, where a body's last
// bytes glued to the next start line would otherwise pass as a method.
bool LooksLikeSipStrict(std::string_view data);

// Number of leading CR, LF, SP and HT bytes (RFC 5626 keep-alives and
// padding between messages).
size_t SkipKeepAlive(std::string_view data);

// True when `partial`, a line whose end has not arrived yet, could still
// become a SIP start line or an HTTP start line.
bool CouldStartMessage(std::string_view partial);

// True when `data` starts an HTTP/1.x request ("GET ") or response
// ("HTTP/1."), as seen in a WebSocket handshake.
bool LooksLikeHttp(std::string_view data);

// True when the header section `head` (start line included) has a header
// `name` (case-insensitive) whose value contains `token` (case-insensitive).
bool HeaderHasToken(std::string_view head, std::string_view name, std::string_view token);

bool EqualsNoCase(std::string_view a, std::string_view b);

}  // namespace sipman::net

#endif  // SIPMAN_NET_SIP_FRAMING_H_
