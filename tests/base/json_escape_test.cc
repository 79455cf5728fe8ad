// base/json_escape.h: one escaper, three styles (web API, analyze --json, the
// store's media columns).
#include "base/json_escape.h"

#include <gtest/gtest.h>

#include <string>

namespace sipman {
namespace {

std::string Escape(std::string_view text, JsonEscapeStyle style) {
  std::string out;
  AppendJsonString(text, style, [&out](std::string_view part) { out.append(part); });
  return out;
}

using Invalid = JsonEscapeStyle::InvalidUtf8;

TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Escape("a\"b\\c\nd\re\tf\x01g", {}), R"("a\"b\\c\nd\re\tf\u0001g")");
  EXPECT_EQ(Escape(std::string_view("\0", 1), {}), R"("\u0000")");
  EXPECT_EQ(Escape("", {}), R"("")");
}

TEST(JsonEscape, HtmlSafeEscapesMarkupAndDel) {
  const JsonEscapeStyle html{Invalid::kKeep, true};
  EXPECT_EQ(Escape("<a href='x'>&\x7f", html), R"("\u003ca href='x'\u003e\u0026\u007f")");
  EXPECT_EQ(Escape("<&>\x7f", {}), "\"<&>\x7f\"");
}

TEST(JsonEscape, InvalidUtf8IsKeptEscapedOrReplaced) {
  const std::string text = "M\xc3\xbcller \xfc\xe2\x82";  // valid ü, a Latin-1 ü, a cut-off €
  EXPECT_EQ(Escape(text, {Invalid::kKeep, false}), "\"" + text + "\"");
  EXPECT_EQ(Escape(text, {Invalid::kLatin1, false}), "\"M\xc3\xbcller \\u00fc\\u00e2\\u0082\"");
  EXPECT_EQ(Escape(text, {Invalid::kReplace, false}), "\"M\xc3\xbcller \\ufffd\\ufffd\\ufffd\"");
  // An overlong '/' and a UTF-16 surrogate are not UTF-8 either.
  EXPECT_EQ(Escape("\xc0\xaf\xed\xa0\x80", {Invalid::kReplace, false}),
            R"("\ufffd\ufffd\ufffd\ufffd\ufffd")");
}

}  // namespace
}  // namespace sipman
