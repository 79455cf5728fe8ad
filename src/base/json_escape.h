// JSON string escaping (RFC 8259), one mechanism for every writer of JSON:
// the web API, `analyze --json` and the store's media columns. They differ
// only in what they do with bytes that are not valid UTF-8 and whether the
// text must also be safe inside HTML, so those are the style's two choices.
#ifndef SIPMAN_BASE_JSON_ESCAPE_H_
#define SIPMAN_BASE_JSON_ESCAPE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/utf8.h"

namespace sipman {

struct JsonEscapeStyle {
  enum class InvalidUtf8 : uint8_t {
    kKeep,     // copied as they are (the text is known to be UTF-8 already)
    kLatin1,   // each byte as \u00XX: nothing lost, the bytes can be told apart
    kReplace,  // each byte as \ufffd, the replacement character
  };
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kKeep;
  // Also escape '<', '>', '&' and DEL, so that the JSON is never markup
  // when a page embeds it.
  bool html_safe = false;
};

// Appends `text` as a quoted JSON string through append(std::string_view),
// in runs: bytes that need no escape go out together.
template <typename Append>
void AppendJsonString(std::string_view text, JsonEscapeStyle style, Append&& append) {
  static constexpr char kHex[] = "0123456789abcdef";
  using Invalid = JsonEscapeStyle::InvalidUtf8;
  append(std::string_view("\"", 1));
  size_t run = 0;  // start of the current run of bytes that need no escape
  for (size_t i = 0; i < text.size();) {
    const uint8_t c = static_cast<uint8_t>(text[i]);
    size_t length = 1;
    if (c >= 0x80) {
      if (style.invalid_utf8 == Invalid::kKeep) {
        ++i;
        continue;
      }
      length = Utf8SequenceLength(text, i);
      if (length > 0) {
        i += length;
        continue;
      }
    } else if (c >= 0x20 && c != '"' && c != '\\' &&
               !(style.html_safe && (c == '<' || c == '>' || c == '&' || c == 0x7f))) {
      ++i;
      continue;
    }
    append(text.substr(run, i - run));
    switch (c) {
      case '"': append("\\\""); break;
      case '\\': append("\\\\"); break;
      case '\n': append("\\n"); break;
      case '\r': append("\\r"); break;
      case '\t': append("\\t"); break;
      default:
        if (c >= 0x80 && style.invalid_utf8 == Invalid::kReplace) {
          append("\\ufffd");
        } else {
          const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          append(std::string_view(escape, 6));
        }
    }
    run = ++i;
  }
  append(text.substr(run));
  append(std::string_view("\"", 1));
}

}  // namespace sipman

#endif  // SIPMAN_BASE_JSON_ESCAPE_H_
