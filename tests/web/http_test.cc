#include <gtest/gtest.h>

#include <string>

#include "web/api_util.h"
#include "web/http.h"
#include "web/json.h"
#include "web/router.h"

namespace sipman::web {
namespace {

HttpParseResult Parse(const std::string& text, HttpRequest* r, HttpLimits limits = {}) {
  return ParseHttpRequest(text, limits, r);
}

TEST(HttpParser, ParsesRequestLineHeadersAndBody) {
  HttpRequest r;
  std::string text =
      "POST /api/v1/login?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
      "Content-Type:  application/json \r\n\r\nhelloEXTRA";
  HttpParseResult res = Parse(text, &r);
  ASSERT_EQ(res.status, HttpParseStatus::kComplete) << res.error;
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v1/login");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.size, text.size() - 5);
  EXPECT_TRUE(r.keep_alive);
}

TEST(HttpParser, IncompleteUntilHeadersAndBodyArrive) {
  HttpRequest r;
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\n", &r).status, HttpParseStatus::kIncomplete);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", &r).status,
            HttpParseStatus::kIncomplete);
  EXPECT_EQ(Parse("GET / HT", &r).status, HttpParseStatus::kIncomplete);
}

TEST(HttpParser, KeepAliveFollowsVersionAndConnection) {
  HttpRequest r;
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", &r).status, HttpParseStatus::kComplete);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r).status,
            HttpParseStatus::kComplete);
  EXPECT_TRUE(r.keep_alive);
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r).status,
            HttpParseStatus::kComplete);
  EXPECT_FALSE(r.keep_alive);
}

TEST(HttpParser, LimitsGiveTheirStatusCodes) {
  HttpRequest r;
  std::string long_target = "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(Parse(long_target, &r).error_status, 414);
  // Too long even before the line ends.
  EXPECT_EQ(Parse("GET /" + std::string(9000, 'a'), &r).error_status, 414);
  std::string big_header = "GET / HTTP/1.1\r\nX: " + std::string(33 * 1024, 'b') + "\r\n\r\n";
  EXPECT_EQ(Parse(big_header, &r).error_status, 431);
  std::string many = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) {
    many += 'X';
    many += std::to_string(i);
    many += ": y\r\n";
  }
  EXPECT_EQ(Parse(many + "\r\n", &r).error_status, 431);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", &r).error_status, 413);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n", &r).status,
            HttpParseStatus::kIncomplete);
}

TEST(HttpParser, MalformedRequestsAreRefused) {
  HttpRequest r;
  const char* bad[] = {
      "GET\r\n\r\n",
      "GET  / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1 x\r\n\r\n",
      "G(T / HTTP/1.1\r\n\r\n",
      "GET noslash HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
      "GET / HTTP/1.1\r\n: empty\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
      "GET /a\x7f HTTP/1.1\r\n\r\n",
  };
  for (const char* text : bad) {
    HttpParseResult res = Parse(text, &r);
    EXPECT_EQ(res.status, HttpParseStatus::kError) << text;
    EXPECT_EQ(res.error_status, 400) << text;
  }
  EXPECT_EQ(Parse("GET / HTTP/2.0\r\n\r\n", &r).error_status, 505);
  EXPECT_EQ(Parse("GET / HTTP/1.9\r\n\r\n", &r).error_status, 505);
  EXPECT_EQ(Parse("GET / HTTP/1.2\r\n\r\n", &r).error_status, 505);
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r).error_status, 501);
}

TEST(HttpUrl, PercentDecodingAndQueries) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b+c", true, &out));
  EXPECT_EQ(out, "a b c");
  EXPECT_TRUE(PercentDecode("a+b", false, &out));
  EXPECT_EQ(out, "a+b");
  EXPECT_FALSE(PercentDecode("%2", false, &out));
  EXPECT_FALSE(PercentDecode("%zz", false, &out));
  EXPECT_FALSE(PercentDecode("a%00", false, &out));
  QueryParams q;
  std::string error;
  ASSERT_TRUE(ParseQuery("caller=%27%20OR%201%3D1--&limit=5&&flag", &q, &error));
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].second, "' OR 1=1--");
  EXPECT_EQ(q[2].first, "flag");
  EXPECT_FALSE(ParseQuery("a=%G1", &q, &error));
  std::string many;
  for (int i = 0; i < 65; ++i) {
    many += 'a';
    many += std::to_string(i);
    many += "=1&";
  }
  EXPECT_FALSE(ParseQuery(many, &q, &error));
  EXPECT_EQ(PercentEncode("a b/é"), "a%20b%2F%C3%A9");
}

TEST(HttpHeaders, MediaTypesCompareWithoutCaseOrParameters) {
  EXPECT_TRUE(MediaTypeIs("application/json", "application/json"));
  EXPECT_TRUE(MediaTypeIs("APPLICATION/JSON", "application/json"));
  EXPECT_TRUE(MediaTypeIs(" Application/Json ; charset=UTF-8", "application/json"));
  EXPECT_FALSE(MediaTypeIs("application/jsonp", "application/json"));
  EXPECT_FALSE(MediaTypeIs("application/json-patch+json", "application/json"));
  EXPECT_FALSE(MediaTypeIs("", "application/json"));
}

TEST(HttpHeaders, SameOriginComparesSchemeHostAndPort) {
  EXPECT_TRUE(SameOrigin("http://127.0.0.1:8080", "127.0.0.1:8080", false));
  EXPECT_TRUE(SameOrigin("HTTP://Sipman.Example", "sipman.example:80", false));
  EXPECT_TRUE(SameOrigin("https://sipman.example", "sipman.example", true));
  EXPECT_TRUE(SameOrigin("https://sipman.example:443", "sipman.example", true));
  EXPECT_TRUE(SameOrigin("http://[::1]:8080", "[::1]:8080", false));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8080", "127.0.0.1:8080", true)) << "scheme";
  EXPECT_FALSE(SameOrigin("https://127.0.0.1:8080", "127.0.0.1:8080", false)) << "scheme";
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8081", "127.0.0.1:8080", false)) << "port";
  EXPECT_FALSE(SameOrigin("http://127.0.0.1", "127.0.0.1:8080", false)) << "default port";
  EXPECT_FALSE(SameOrigin("http://evil.example:8080", "127.0.0.1:8080", false)) << "host";
  EXPECT_FALSE(SameOrigin("null", "127.0.0.1:8080", false));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8080/", "127.0.0.1:8080", false));
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:8080", "", false)) << "no Host";
  EXPECT_FALSE(SameOrigin("http://127.0.0.1:99999", "127.0.0.1:99999", false));
  EXPECT_FALSE(SameOrigin("http://", ":80", false));
}

TEST(HttpCookies, FindsTheNamedCookie) {
  EXPECT_EQ(CookieValue("a=1; sipman_session=xyz; b=2", "sipman_session"), "xyz");
  EXPECT_EQ(CookieValue("sipman_session_old=1", "sipman_session"), "");
  EXPECT_EQ(CookieValue("x=\"q\"", "x"), "q");
  EXPECT_EQ(CookieValue("", "x"), "");
}

TEST(Router, MatchesLiteralsAndPlaceholders) {
  Router router;
  router.Add("GET", "/api/v1/calls", 1);
  router.Add("GET", "/api/v1/calls/{id}", 2);
  router.Add("GET", "/api/v1/calls/{id}/pcap", 3);
  router.Add("POST", "/api/v1/login", 4);
  Router::Match m = router.Find("GET", "/api/v1/calls/42/pcap");
  EXPECT_EQ(m.id, 3);
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0], "42");
  EXPECT_EQ(router.Find("HEAD", "/api/v1/calls").id, 1);
  EXPECT_EQ(router.Find("GET", "/api/v1/calls/").id, -1);
  EXPECT_EQ(router.Find("GET", "/api/v1/nothing").id, -1);
  Router::Match wrong = router.Find("GET", "/api/v1/login");
  EXPECT_EQ(wrong.id, -1);
  EXPECT_TRUE(wrong.path_known);
  EXPECT_EQ(wrong.allow, "POST");
}

TEST(ApiValues, CursorsRoundTripAndRejectGarbage) {
  Cursor c{"calls-invite_ts", 1795494131531345000, 120};
  std::string text = EncodeCursor(c);
  for (char ch : text) EXPECT_TRUE(isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_');
  std::optional<Cursor> back = DecodeCursor(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kind, c.kind);
  EXPECT_EQ(back->key, c.key);
  EXPECT_EQ(back->id, c.id);
  EXPECT_FALSE(DecodeCursor(""));
  EXPECT_FALSE(DecodeCursor("not base64!"));
  EXPECT_FALSE(DecodeCursor("' OR 1=1 --"));
  EXPECT_FALSE(DecodeCursor(EncodeCursor(Cursor{"x", 1, 2}).substr(1)));
}

TEST(ApiValues, TimesInNanosecondsOrIso8601) {
  EXPECT_EQ(ParseApiTime("1764064800000000000"), 1764064800000000000);
  EXPECT_EQ(ParseApiTime("2025-11-25"), 1764028800 * kNsPerSecond);
  EXPECT_EQ(ParseApiTime("2025-11-25T10:00Z"), (1764028800 + 36000) * kNsPerSecond);
  EXPECT_EQ(ParseApiTime("2025-11-25T10:00:00.5Z"),
            (1764028800 + 36000) * kNsPerSecond + 500 * kNsPerMs);
  EXPECT_EQ(ParseApiTime("2025-11-25T11:00:00+01:00"), (1764028800 + 36000) * kNsPerSecond);
  EXPECT_FALSE(ParseApiTime("yesterday"));
  EXPECT_FALSE(ParseApiTime("2025-13-01"));
  EXPECT_FALSE(ParseApiTime("-5"));
  EXPECT_FALSE(ParseApiTime("2025-11-25T10:00:00Zjunk"));
  // Past 2262 a time does not fit in nanoseconds: refused, not wrapped.
  EXPECT_FALSE(ParseApiTime("2263-01-01"));
  EXPECT_FALSE(ParseApiTime("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(ParseApiTime("9223372036854775808"));
  EXPECT_EQ(ParseApiTime("2262-04-11"), int64_t{9223286400} * kNsPerSecond);
  EXPECT_EQ(FormatIsoTime((1764028800 + 36000) * kNsPerSecond + 123 * kNsPerMs),
            "2025-11-25T10:00:00.123Z");
}

TEST(Json, WritesValidJsonFromAnyBytes) {
  JsonWriter w;
  w.BeginObject().Field("a", "x\"\n\x01<").Field("b", int64_t{-3}).Key("c").BeginArray();
  w.Double(1.5).Null().Bool(true).EndArray().Field("bad", std::string_view("\xff\xc3\xa9", 3));
  w.EndObject();
  EXPECT_EQ(w.str(),
            "{\"a\":\"x\\\"\\n\\u0001\\u003c\",\"b\":-3,\"c\":[1.5,null,true],"
            "\"bad\":\"\\ufffd\xc3\xa9\"}");
}

TEST(Json, ReadsFlatObjects) {
  auto m = ParseFlatJsonObject(R"( {"username": "a\"b\u00e9", "n": 5, "t": true} )");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["username"], "a\"b\xc3\xa9");
  EXPECT_EQ((*m)["n"], "5");
  EXPECT_FALSE(ParseFlatJsonObject("{\"a\": {\"b\": 1}}"));
  EXPECT_FALSE(ParseFlatJsonObject("{\"a\": 1,}"));
  EXPECT_FALSE(ParseFlatJsonObject("[1]"));
  EXPECT_FALSE(ParseFlatJsonObject("{\"a\":1,\"a\":2}"));
  EXPECT_FALSE(ParseFlatJsonObject("{\"a\":\"\\u0000\"}"));
  EXPECT_TRUE(ParseFlatJsonObject("{}"));
}

}  // namespace
}  // namespace sipman::web
