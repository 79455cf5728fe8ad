// Runs every tests/sip/vectors/NAME.sip through the parser and compares the
// fields named in NAME.expect (key=value lines; values may use \xHH, \r and
// \n escapes; any other backslash is literal). Keys not listed are not
// checked. See the key names in Evaluate below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sip/sip.h"

namespace sipman::sip {
namespace {

const std::filesystem::path kVectorDir =
    std::filesystem::path(SIPMAN_SOURCE_DIR) / "tests" / "sip" / "vectors";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string Unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      const char c = v[i + 1];
      if (c == 'r') {
        out += '\r';
        ++i;
        continue;
      }
      if (c == 'n') {
        out += '\n';
        ++i;
        continue;
      }
      if (c == 'x' && i + 3 < v.size() && IsHex(v[i + 2]) && IsHex(v[i + 3])) {
        out += static_cast<char>(std::stoi(std::string(v.substr(i + 2, 2)), nullptr, 16));
        i += 3;
        continue;
      }
    }
    out += v[i];
  }
  return out;
}

std::string Escape(std::string_view v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string FlagNames(uint32_t flags) {
  static const std::pair<uint32_t, const char*> kNames[] = {
      {kMalformedHeaderLine, "HeaderLine"},
      {kMalformedCSeq, "CSeq"},
      {kMalformedContentLength, "ContentLength"},
      {kMalformedFrom, "From"},
      {kMalformedTo, "To"},
      {kMalformedRequestUri, "RequestUri"},
      {kMalformedMissingCallId, "MissingCallId"},
      {kMalformedTooManyHeaders, "TooManyHeaders"},
      {kMalformedVia, "Via"},
      {kMalformedDuplicateHeader, "DuplicateHeader"},
  };
  std::vector<std::string> names;
  for (const auto& [bit, name] : kNames) {
    if (flags & bit) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) return "none";
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

std::string Normalize(const std::string& key, const std::string& value) {
  if (key != "malformed" && key.find(".malformed") == std::string::npos) return value;
  if (value == "none") return value;
  std::vector<std::string> parts;
  std::stringstream s(value);
  std::string p;
  while (std::getline(s, p, ',')) parts.push_back(p);
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const std::string& n : parts) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

const char* StatusName(ParseStatus s) {
  switch (s) {
    case ParseStatus::kComplete:
      return "complete";
    case ParseStatus::kIncomplete:
      return "incomplete";
    case ParseStatus::kError:
      return "error";
  }
  return "?";
}

std::string UriField(const SipUri& u, std::string_view field, bool* known) {
  *known = true;
  if (field == "scheme") return std::string(u.scheme);
  if (field == "user") return std::string(u.user);
  if (field == "password") return std::string(u.password);
  if (field == "host") return std::string(u.host);
  if (field == "port") return std::to_string(u.port);
  if (field == "params" || field == "uri_params") return std::string(u.params);
  if (field == "headers" || field == "uri_headers") return std::string(u.headers);
  *known = false;
  return {};
}

std::string NameAddrField(const NameAddr& a, std::string_view field, bool* known) {
  *known = true;
  if (field == "display") return std::string(a.display_name);
  if (field == "tag") return std::string(a.tag);
  if (field == "params") return std::string(a.params);
  if (field.substr(0, 6) == "param.") return std::string(FindParam(a.params, field.substr(6)));
  return UriField(a.uri, field, known);
}

std::string MediaSummary(const SdpMedia& m) {
  std::string s = std::string(m.type) + " " + std::to_string(m.port) + "/" +
                  std::to_string(m.port_count) + " " + std::string(m.protocol) + " [" +
                  std::string(m.formats) + "] c=" + std::string(m.connection_address) + " " +
                  std::string(MediaDirectionName(m.direction));
  for (size_t i = 0; i < m.rtpmap_count; ++i) {
    const SdpRtpMap& r = m.rtpmaps[i];
    s += i == 0 ? " rtpmap=" : ",";
    s += std::to_string(r.payload_type);
    s += ' ';
    s += r.encoding;
    s += '/';
    s += std::to_string(r.clock_rate);
    if (!r.encoding_params.empty()) {
      s += '/';
      s += r.encoding_params;
    }
  }
  return s;
}

// Returns the actual value for `key`, or "<unknown key>".
std::string Evaluate(const std::string& key, std::string_view data) {
  if (key == "stream_status") {
    SipMessage m;
    return StatusName(ParseSipMessage(data, ParseOptions{.datagram = false}, &m));
  }
  SipMessage m;
  const ParseStatus status = ParseSipMessage(data, ParseOptions{}, &m);
  if (key == "status") return StatusName(status);
  if (key.rfind("next.", 0) == 0) return Evaluate(key.substr(5), data.substr(m.size));
  if (key == "is_request") return m.is_request ? "1" : "0";
  if (key == "method") return std::string(m.method);
  if (key == "ruri") return std::string(m.request_uri_text);
  if (key == "version") return std::string(m.version);
  if (key == "status_code") return std::to_string(m.status_code);
  if (key == "reason") return std::string(m.reason_phrase);
  if (key == "call_id") return std::string(m.call_id);
  if (key == "cseq") return std::to_string(m.cseq_number);
  if (key == "cseq_method") return std::string(m.cseq_method);
  if (key == "via_branch") return std::string(m.via_branch);
  if (key == "via_transport") return std::string(m.via_transport);
  if (key == "user_agent") return std::string(m.user_agent);
  if (key == "content_type") return std::string(m.content_type);
  if (key == "content_length") return std::to_string(m.content_length);
  if (key == "max_forwards") return std::to_string(m.max_forwards);
  if (key == "expires") return std::to_string(m.expires);
  if (key == "body") return std::string(m.body);
  if (key == "body_size") return std::to_string(m.body.size());
  if (key == "size") return std::to_string(m.size);
  if (key == "header_count") return std::to_string(m.header_count);
  if (key == "malformed") return FlagNames(m.malformed);
  bool known = false;
  if (key.rfind("ruri.", 0) == 0) {
    std::string v = UriField(m.request_uri, std::string_view(key).substr(5), &known);
    if (known) return v;
  }
  if (key.rfind("from.", 0) == 0) {
    std::string v = NameAddrField(m.from, std::string_view(key).substr(5), &known);
    if (known) return v;
  }
  if (key.rfind("to.", 0) == 0) {
    std::string v = NameAddrField(m.to, std::string_view(key).substr(3), &known);
    if (known) return v;
  }
  if (key.rfind("contact.", 0) == 0) {
    const Header* h = m.Find(HeaderId::kContact);
    if (h == nullptr) return "<absent>";
    NameAddr a;
    ParseNameAddr(h->value, &a);
    std::string v = NameAddrField(a, std::string_view(key).substr(8), &known);
    if (known) return v;
  }
  if (key.rfind("header.", 0) == 0) {
    const Header* h = m.Find(std::string_view(key).substr(7));
    return h == nullptr ? "<absent>" : std::string(h->value);
  }
  if (key.rfind("unfolded.", 0) == 0) {
    const Header* h = m.Find(std::string_view(key).substr(9));
    if (h == nullptr) return "<absent>";
    char buffer[1024];
    return std::string(UnfoldHeaderValue(h->value, buffer, sizeof(buffer)));
  }
  if (key.rfind("count.", 0) == 0) {
    const std::string_view name = std::string_view(key).substr(6);
    const Header* first = m.Find(name);
    size_t count = 0;
    for (size_t i = 0; i < m.header_count && first != nullptr; ++i) {
      const Header& h = m.headers[i];
      if (first->id != HeaderId::kOther ? h.id == first->id : h.name == first->name) ++count;
    }
    return std::to_string(count);
  }
  if (key == "sdp" || key.rfind("sdp.", 0) == 0) {
    const std::string_view body = FindSdpBody(m.content_type, m.body);
    SdpSession s;
    const bool ok = !body.empty() && ParseSdp(body, &s);
    if (key == "sdp") return ok ? "1" : "0";
    if (!ok) return "<no sdp>";
    if (key == "sdp.origin_address") return std::string(s.origin_address);
    if (key == "sdp.session_name") return std::string(s.session_name);
    if (key == "sdp.connection") return std::string(s.connection_address);
    if (key == "sdp.direction") return std::string(MediaDirectionName(s.direction));
    if (key == "sdp.media_count") return std::to_string(s.media_count);
    if (key == "sdp.malformed_lines") return std::to_string(s.malformed_lines);
    if (key.size() > 5 && key[4] == 'm') {
      const size_t i = std::stoul(key.substr(5));
      return i < s.media_count ? MediaSummary(s.media[i]) : "<no media>";
    }
  }
  return "<unknown key>";
}

std::vector<std::string> VectorNames() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kVectorDir)) {
    if (entry.path().extension() == ".sip") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class SipVectorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SipVectorTest, ParsedFieldsMatchExpectFile) {
  const std::string data = ReadFile(kVectorDir / (GetParam() + ".sip"));
  ASSERT_FALSE(data.empty());
  std::ifstream expect(kVectorDir / (GetParam() + ".expect"));
  ASSERT_TRUE(expect.good()) << "missing " << GetParam() << ".expect";
  std::string line;
  int checked = 0;
  while (std::getline(expect, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    ASSERT_NE(eq, std::string::npos) << "bad expect line: " << line;
    const std::string key = line.substr(0, eq);
    const std::string want = Normalize(key, Unescape(std::string_view(line).substr(eq + 1)));
    const std::string got = Normalize(key, Evaluate(key, data));
    EXPECT_EQ(Escape(want), Escape(got)) << GetParam() << ": key " << key;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// In stream mode a message is framed only once all of it is there: every
// shorter prefix is incomplete (or already an error), never complete.
TEST_P(SipVectorTest, StreamPrefixesAreIncompleteUntilTheWholeMessage) {
  const std::string data = ReadFile(kVectorDir / (GetParam() + ".sip"));
  SipMessage whole;
  if (ParseSipMessage(data, ParseOptions{.datagram = false}, &whole) != ParseStatus::kComplete) {
    return;
  }
  for (size_t len = 0; len < whole.size; ++len) {
    SipMessage m;
    const ParseStatus s =
        ParseSipMessage(std::string_view(data).substr(0, len), ParseOptions{.datagram = false}, &m);
    ASSERT_NE(s, ParseStatus::kComplete) << GetParam() << " prefix " << len;
  }
}

// Datagram parsing of any truncation never reads out of bounds and never
// claims more bytes than it was given.
TEST_P(SipVectorTest, TruncatedDatagramsStayInBounds) {
  const std::string data = ReadFile(kVectorDir / (GetParam() + ".sip"));
  for (size_t len = 0; len <= data.size(); ++len) {
    // A heap copy of exactly `len` bytes, so ASan sees any overread.
    std::vector<char> copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(len));
    SipMessage m;
    ParseSipMessage(std::string_view(copy.data(), copy.size()), ParseOptions{}, &m);
    ASSERT_LE(m.size, len);
  }
}

INSTANTIATE_TEST_SUITE_P(Vectors, SipVectorTest, ::testing::ValuesIn(VectorNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace sipman::sip
