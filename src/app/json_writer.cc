#include "app/json_writer.h"

#include <cstdint>

#include "base/json_escape.h"

namespace sipman::app {

void AppendJsonString(OutputBuffer* out, std::string_view s) {
  // Captured bytes that are not UTF-8 stay distinguishable, as \u00XX.
  constexpr JsonEscapeStyle kStyle{JsonEscapeStyle::InvalidUtf8::kLatin1, /*html_safe=*/false};
  sipman::AppendJsonString(s, kStyle, [out](std::string_view part) { out->Append(part); });
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
