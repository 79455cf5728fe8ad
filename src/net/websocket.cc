#include "net/websocket.h"

#include "base/byte_reader.h"

namespace sipman::net {

WsParseResult ParseWsFrameHeader(const uint8_t* data, size_t size, uint64_t max_payload,
                                 WsFrameHeader* h) {
  if (size < 2) return WsParseResult::kNeedMore;
  const uint8_t b0 = data[0];
  const uint8_t b1 = data[1];
  h->fin = (b0 & 0x80) != 0;
  h->compressed = (b0 & 0x40) != 0;
  if ((b0 & 0x30) != 0) return WsParseResult::kInvalid;
  h->opcode = b0 & 0x0f;
  switch (h->opcode) {
    case kWsContinuation: case kWsText: case kWsBinary: case kWsClose: case kWsPing: case kWsPong:
      break;
    default:
      return WsParseResult::kInvalid;
  }
  h->masked = (b1 & 0x80) != 0;
  uint64_t len = b1 & 0x7f;
  size_t pos = 2;
  if (len == 126) {
    if (size < pos + 2) return WsParseResult::kNeedMore;
    len = LoadBe16(data + pos);
    pos += 2;
  } else if (len == 127) {
    if (size < pos + 8) return WsParseResult::kNeedMore;
    len = static_cast<uint64_t>(LoadBe32(data + pos)) << 32 | LoadBe32(data + pos + 4);
    pos += 8;
    if (len >> 63) return WsParseResult::kInvalid;
  }
  if (h->opcode >= kWsClose && (len > 125 || !h->fin)) return WsParseResult::kInvalid;
  if (len > max_payload) return WsParseResult::kInvalid;
  if (h->masked) {
    if (size < pos + 4) return WsParseResult::kNeedMore;
    for (int i = 0; i < 4; ++i) h->mask[i] = data[pos + i];
    pos += 4;
  }
  h->payload_len = len;
  h->header_len = pos;
  return WsParseResult::kOk;
}

void AppendWsPayload(const uint8_t* data, size_t size, const uint8_t* mask, size_t mask_offset,
                     std::string* out) {
  const size_t base = out->size();
  out->resize(base + size);
  char* dst = out->data() + base;
  if (mask == nullptr) {
    for (size_t i = 0; i < size; ++i) dst[i] = static_cast<char>(data[i]);
    return;
  }
  for (size_t i = 0; i < size; ++i) {
    dst[i] = static_cast<char>(data[i] ^ mask[(mask_offset + i) & 3]);
  }
}

}  // namespace sipman::net
