#include "app/json_writer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace sipman::app {
namespace {

// Runs `fill` against an OutputBuffer writing into a temporary file and
// returns the text.
template <typename Fill>
std::string Capture(Fill fill) {
  FILE* file = std::tmpfile();
  EXPECT_NE(file, nullptr);
  {
    OutputBuffer out(fileno(file));
    fill(&out);
  }
  std::rewind(file);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0) text.append(buf, n);
  std::fclose(file);
  return text;
}

TEST(OutputBuffer, AppendsAnEmptyViewWithANullPointer) {
  // A default string_view has a null data(): memcpy must not see it (UBSan
  // stopped `messages --format json` on every real capture here).
  EXPECT_EQ(Capture([](OutputBuffer* o) {
              o->Append(std::string_view());
              o->Append("x");
              o->Append(std::string_view());
            }),
            "x");
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Capture([](OutputBuffer* o) { AppendJsonString(o, "a\"b\\c\n\x01"); }),
            "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(JsonWriter, KeepsValidUtf8AndMapsInvalidBytesToLatin1) {
  EXPECT_EQ(Capture([](OutputBuffer* o) { AppendJsonString(o, "J\xc3\xbcrgen"); }),
            "\"J\xc3\xbcrgen\"");
  EXPECT_EQ(Capture([](OutputBuffer* o) { AppendJsonString(o, "x\xff" "y\xc3"); }),
            "\"x\\u00ffy\\u00c3\"");
}

TEST(TsvField, ReplacesTabsAndLineBreaks) {
  EXPECT_EQ(Capture([](OutputBuffer* o) { AppendTsvField(o, "a\tb\r\nc"); }), "a b  c");
}

TEST(OutputBuffer, FormatsEpochMicroseconds) {
  EXPECT_EQ(Capture([](OutputBuffer* o) { o->AppendEpochMicros(1700000000123456789LL); }),
            "1700000000.123456");
  EXPECT_EQ(Capture([](OutputBuffer* o) { o->AppendEpochMicros(5000); }), "0.000005");
}

TEST(OutputBuffer, WritesMoreThanItsCapacity) {
  std::string big(200000, 'x');
  EXPECT_EQ(Capture([&](OutputBuffer* o) {
              o->Append("a");
              o->Append(big);
              o->Append('b');
            }).size(),
            big.size() + 2);
}

}  // namespace
}  // namespace sipman::app
