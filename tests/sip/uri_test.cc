#include <gtest/gtest.h>

#include "sip/sip.h"

namespace sipman::sip {
namespace {

TEST(SipUri, AllPartsAreSplit) {
  SipUri u;
  ASSERT_TRUE(ParseUri("sip:alice:pw@atlanta.example.com:5070;transport=tcp;lr?subject=x&h=1", &u));
  EXPECT_EQ(u.scheme, "sip");
  EXPECT_EQ(u.user, "alice");
  EXPECT_EQ(u.password, "pw");
  EXPECT_EQ(u.host, "atlanta.example.com");
  EXPECT_EQ(u.port, 5070);
  EXPECT_EQ(u.params, "transport=tcp;lr");
  EXPECT_EQ(u.headers, "subject=x&h=1");
  bool found = false;
  EXPECT_EQ(FindParam(u.params, "lr", &found), "");
  EXPECT_TRUE(found);
  EXPECT_EQ(FindParam(u.params, "TRANSPORT"), "tcp");
}

TEST(SipUri, Ipv6HostKeepsBrackets) {
  SipUri u;
  ASSERT_TRUE(ParseUri("sips:[2001:db8::1]:5061", &u));
  EXPECT_EQ(u.host, "[2001:db8::1]");
  EXPECT_EQ(u.port, 5061);
  EXPECT_TRUE(u.user.empty());
  ASSERT_TRUE(ParseUri("SIP:bob@[::1];maddr=[::2]", &u));
  EXPECT_EQ(u.scheme, "SIP");
  EXPECT_EQ(u.host, "[::1]");
  EXPECT_EQ(u.params, "maddr=[::2]");
  EXPECT_FALSE(ParseUri("sip:bob@[::1", &u));
}

TEST(SipUri, TelUriHasTheNumberAsUser) {
  SipUri u;
  ASSERT_TRUE(ParseUri("tel:+1-201-555-0123;phone-context=example.com", &u));
  EXPECT_EQ(u.user, "+1-201-555-0123");
  EXPECT_EQ(u.params, "phone-context=example.com");
  EXPECT_TRUE(u.host.empty());
}

TEST(SipUri, UnreadableUrisAreRejected) {
  SipUri u;
  EXPECT_FALSE(ParseUri("", &u));
  EXPECT_FALSE(ParseUri("sip:", &u));
  EXPECT_FALSE(ParseUri("sip:user@", &u));
  EXPECT_FALSE(ParseUri("sip:host:99999", &u));
  EXPECT_FALSE(ParseUri("sip:host:12ab", &u));
  EXPECT_FALSE(ParseUri("sip:host:", &u));
  EXPECT_FALSE(ParseUri("<sip:a@b>", &u));
  EXPECT_FALSE(ParseUri("sip:a b@c", &u));
  EXPECT_FALSE(ParseUri("http://example.com/", &u));
  EXPECT_EQ(u.scheme, "http");
}

TEST(NameAddr, QuotedDisplayNameWithEscapes) {
  NameAddr a;
  ASSERT_TRUE(ParseNameAddr(R"("Alice \"Al\" Smith" <sip:alice@example.com>;tag=88sja8x)", &a));
  EXPECT_EQ(a.display_name, R"(Alice \"Al\" Smith)");
  EXPECT_EQ(a.uri.user, "alice");
  EXPECT_EQ(a.tag, "88sja8x");
  EXPECT_EQ(a.params, "tag=88sja8x");
}

TEST(NameAddr, TokenDisplayName) {
  NameAddr a;
  ASSERT_TRUE(ParseNameAddr("Bob Jones <sip:bob@example.com;transport=udp> ; tag = 1 ;x", &a));
  EXPECT_EQ(a.display_name, "Bob Jones");
  EXPECT_EQ(a.uri.params, "transport=udp");
  EXPECT_EQ(a.tag, "1");
  bool found = false;
  FindParam(a.params, "x", &found);
  EXPECT_TRUE(found);
}

TEST(NameAddr, AddrSpecParamsBelongToTheHeader) {
  NameAddr a;
  ASSERT_TRUE(ParseNameAddr("sip:carol@chicago.example.com;tag=abc;user=phone", &a));
  EXPECT_TRUE(a.display_name.empty());
  EXPECT_EQ(a.uri.host, "chicago.example.com");
  EXPECT_TRUE(a.uri.params.empty());
  EXPECT_EQ(a.tag, "abc");
  EXPECT_EQ(a.params, "tag=abc;user=phone");
}

TEST(NameAddr, OnlyTheFirstValueOfAListIsRead) {
  NameAddr a;
  ASSERT_TRUE(ParseNameAddr("<sip:a@h>;expires=60, <sip:b@h>;expires=30", &a));
  EXPECT_EQ(a.uri.user, "a");
  EXPECT_EQ(a.params, "expires=60");
  ASSERT_TRUE(ParseNameAddr("sip:a@h, sip:b@h", &a));
  EXPECT_EQ(a.uri.host, "h");
}

TEST(NameAddr, UnreadableValuesAreRejected) {
  NameAddr a;
  EXPECT_FALSE(ParseNameAddr("", &a));
  EXPECT_FALSE(ParseNameAddr("\"unterminated <sip:a@b>", &a));
  EXPECT_FALSE(ParseNameAddr("Name <sip:a@b", &a));
  EXPECT_FALSE(ParseNameAddr("just words", &a));
  EXPECT_FALSE(ParseNameAddr("<sip:a@b> junk", &a));
  EXPECT_EQ(a.uri.user, "a");  // what was readable is still filled
}

TEST(FindParam, QuotedValuesAndCommasAreHandled) {
  bool found = true;
  EXPECT_EQ(FindParam("a=1; b = \"x;y,z\" ;c", "b"), "x;y,z");
  EXPECT_EQ(FindParam(";a=1", "A"), "1");
  EXPECT_EQ(FindParam("a=1, b=2", "b", &found), "");
  EXPECT_FALSE(found);
  EXPECT_EQ(FindParam("", "a", &found), "");
  EXPECT_FALSE(found);
  EXPECT_EQ(FindParam("a=\"unterminated", "a"), "unterminated");
  EXPECT_EQ(FindParam("=x;a=2", "a"), "2");
}

}  // namespace
}  // namespace sipman::sip
