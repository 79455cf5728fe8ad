// base/fnv.h against the published FNV-1a test vectors.
#include "base/fnv.h"

#include <gtest/gtest.h>

namespace sipman {
namespace {

TEST(Fnv1a, PublishedVectors) {
  EXPECT_EQ(Fnv1a32::Of(""), 0x811c9dc5u);
  EXPECT_EQ(Fnv1a32::Of("a"), 0xe40c292cu);
  EXPECT_EQ(Fnv1a32::Of("foobar"), 0xbf9cf968u);
  EXPECT_EQ(Fnv1a64::Of(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64::Of("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64::Of("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a, LittleEndianIsTheSameOnEveryHost) {
  Fnv1a64 a, b;
  a.LittleEndian(0x0102, 2);
  b.Bytes(std::string_view("\x02\x01", 2));
  EXPECT_EQ(a.value(), b.value());
}

}  // namespace
}  // namespace sipman
