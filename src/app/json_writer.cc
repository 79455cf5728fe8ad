#include "app/json_writer.h"

#include <cstdint>

namespace sipman::app {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = byte(i);
  size_t n;
  uint32_t min;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

void AppendJsonString(OutputBuffer* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->Append('"');
  size_t run = 0;  // start of the current run of bytes that need no escape
  for (size_t i = 0; i < s.size();) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(s, i);
      if (n > 0) {
        i += n;
        continue;
      }
    }
    out->Append(s.substr(run, i - run));
    switch (c) {
      case '"': out->Append("\\\""); break;
      case '\\': out->Append("\\\\"); break;
      case '\n': out->Append("\\n"); break;
      case '\r': out->Append("\\r"); break;
      case '\t': out->Append("\\t"); break;
      default: {
        char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->Append(std::string_view(esc, 6));
      }
    }
    run = ++i;
  }
  out->Append(s.substr(run));
  out->Append('"');
}

void AppendTsvField(OutputBuffer* out, std::string_view s) {
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\t' || c == '\r' || c == '\n') {
      out->Append(s.substr(run, i - run));
      out->Append(' ');
      run = i + 1;
    }
  }
  out->Append(s.substr(run));
}

}  // namespace sipman::app
