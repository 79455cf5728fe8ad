#include "app/json_writer.h"

#include <cstdint>

#include "base/utf8.h"

namespace sipman::app {

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
