// RFC 6455 frame header parsing and unmasking, private to net. Used by the
// TCP reassembler for SIP over WebSocket (RFC 7118).
#ifndef SIPMAN_NET_WEBSOCKET_H_
#define SIPMAN_NET_WEBSOCKET_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace sipman::net {

enum WsOpcode : uint8_t {
  kWsContinuation = 0,
  kWsText = 1,
  kWsBinary = 2,
  kWsClose = 8,
  kWsPing = 9,
  kWsPong = 10,
};

struct WsFrameHeader {
  bool fin = false;
  bool compressed = false;  // RSV1: permessage-deflate, payload not readable as text
  uint8_t opcode = 0;
  bool masked = false;
  uint8_t mask[4] = {};
  uint64_t payload_len = 0;
  size_t header_len = 0;  // bytes before the payload
};

enum class WsParseResult { kOk, kNeedMore, kInvalid };

// Parses the frame header at `data`. kInvalid for reserved opcodes, RSV2/3,
// oversized or fragmented control frames, or a payload over `max_payload`.
WsParseResult ParseWsFrameHeader(const uint8_t* data, size_t size, uint64_t max_payload,
                                 WsFrameHeader* header);

// Appends `size` payload bytes to `out`, unmasked with `mask` when it is not
// null. `mask_offset` is the index of the first byte within the payload.
void AppendWsPayload(const uint8_t* data, size_t size, const uint8_t* mask, size_t mask_offset,
                     std::string* out);

}  // namespace sipman::net

#endif  // SIPMAN_NET_WEBSOCKET_H_
