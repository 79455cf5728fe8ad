#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stats/stats.h"

namespace sipman::stats {
namespace {

std::string Request(std::string_view method) {
  return std::string(method) + " sip:bob@example.com SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 " +
         std::string(method) + "\r\nContent-Length: 0\r\n\r\n";
}
std::string Response(int code) {
  return "SIP/2.0 " + std::to_string(code) + " X\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n"
         "Content-Length: 0\r\n\r\n";
}

class Collect : public SecondSink {
 public:
  void OnSecond(const TrafficCounters& s) override { seconds.push_back(s); }
  std::vector<TrafficCounters> seconds;
};

// Feeds one frame holding these messages.
void Frame(TrafficStats* stats, TimestampNs ts, uint32_t frame_bytes,
           const std::vector<std::string>& texts) {
  for (const std::string& t : texts) {
    sip::SipMessage m;
    ASSERT_EQ(sip::ParseSipMessage(t, sip::ParseOptions{}, &m), sip::ParseStatus::kComplete) << t;
    stats->OnMessage(ts, frame_bytes, m);
  }
  stats->OnFrameDone();
}

TEST(TrafficStats, CountsPerSecondMethodClassAndCode) {
  Collect sink;
  TrafficStats stats(&sink);
  Frame(&stats, 10 * kNsPerSecond + 1, 500, {Request("INVITE")});
  Frame(&stats, 10 * kNsPerSecond + 2, 400, {Response(100), Response(180)});  // one TCP frame
  Frame(&stats, 11 * kNsPerSecond, 300, {Response(200)});
  Frame(&stats, 11 * kNsPerSecond + 5, 200, {Request("FOO")});
  stats.Flush();
  ASSERT_EQ(sink.seconds.size(), 2u);
  const TrafficCounters& a = sink.seconds[0];
  EXPECT_EQ(a.ts, 10);
  EXPECT_EQ(a.packets, 2u);
  EXPECT_EQ(a.frame_bytes, 900u);
  EXPECT_EQ(a.messages, 3u);
  EXPECT_EQ(a.requests, 1u);
  EXPECT_EQ(a.responses, 2u);
  EXPECT_EQ(a.methods[MethodIndex("INVITE")], 1u);
  EXPECT_EQ(a.classes[0], 2u);
  EXPECT_EQ(a.codes.Get(100), 1u);
  EXPECT_EQ(a.codes.Get(180), 1u);
  EXPECT_EQ(a.sip_bytes, Request("INVITE").size() + Response(100).size() + Response(180).size());
  const TrafficCounters& b = sink.seconds[1];
  EXPECT_EQ(b.ts, 11);
  EXPECT_EQ(b.packets, 2u);
  EXPECT_EQ(b.classes[1], 1u);
  EXPECT_EQ(b.methods[kOtherMethod], 1u);
  TrafficCounters sum = a;
  sum.AddAll(b);
  sum.ts = stats.totals().ts;
  EXPECT_EQ(sum, stats.totals());
}

TEST(TrafficStats, SecondsCloseInOrderAndLateMessagesCountInTotalsOnly) {
  Collect sink;
  TrafficStats stats(&sink);
  Frame(&stats, 100 * kNsPerSecond, 10, {Request("OPTIONS")});
  Frame(&stats, 99 * kNsPerSecond, 10, {Request("OPTIONS")});  // a little out of order
  Frame(&stats, 120 * kNsPerSecond, 10, {Request("OPTIONS")});
  ASSERT_EQ(sink.seconds.size(), 2u);
  EXPECT_EQ(sink.seconds[0].ts, 99);
  EXPECT_EQ(sink.seconds[1].ts, 100);
  Frame(&stats, 100 * kNsPerSecond, 10, {Request("OPTIONS")});  // too late
  EXPECT_EQ(stats.late_messages(), 1u);
  stats.Flush();
  ASSERT_EQ(sink.seconds.size(), 3u);
  EXPECT_EQ(sink.seconds[2].ts, 120);
  EXPECT_EQ(stats.totals().messages, 4u);
  stats.Flush();
  EXPECT_EQ(sink.seconds.size(), 3u);
}

TEST(TrafficStats, DropsGoToTheNewestSecond) {
  Collect sink;
  TrafficStats stats(&sink);
  stats.AddDrops(5 * kNsPerSecond, 0, 0);
  Frame(&stats, 7 * kNsPerSecond, 10, {Request("BYE")});
  stats.AddDrops(7 * kNsPerSecond + 3, 4, 1);
  stats.Flush();
  ASSERT_EQ(sink.seconds.size(), 1u);
  EXPECT_EQ(sink.seconds[0].kernel_drops, 4u);
  EXPECT_EQ(sink.seconds[0].interface_drops, 1u);
  EXPECT_EQ(stats.totals().kernel_drops, 4u);
}

TEST(TrafficStats, EncryptedSipCountsInItsSecondAndTheTotals) {
  Collect sink;
  TrafficStats stats(&sink);
  stats.AddEncrypted(3 * kNsPerSecond + 5, 1, 517);
  stats.AddEncrypted(3 * kNsPerSecond + 9, 0, 100);
  stats.AddEncrypted(4 * kNsPerSecond, 1, 40);
  stats.AddEncrypted(4 * kNsPerSecond, 0, 0);  // nothing: no second opened
  stats.Flush();
  ASSERT_EQ(sink.seconds.size(), 2u);
  EXPECT_EQ(sink.seconds[0].ts, 3);
  EXPECT_EQ(sink.seconds[0].tls_connections, 1u);
  EXPECT_EQ(sink.seconds[0].tls_bytes, 617u);
  EXPECT_EQ(sink.seconds[1].tls_bytes, 40u);
  EXPECT_EQ(stats.totals().tls_connections, 2u);
  EXPECT_EQ(stats.totals().tls_bytes, 657u);
}

TEST(CodeCounts, OverflowGoesToCodeZero) {
  CodeCounts c;
  for (int code = 100; code < 200; ++code) c.Add(code);
  EXPECT_EQ(c.size(), CodeCounts::kMaxCodes);
  uint64_t total = 0;
  for (const CodeCounts::Entry& e : c) total += e.count;
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(c.Get(0), 100u - (CodeCounts::kMaxCodes - 1));
  c.Add(999);
  EXPECT_EQ(c.Get(0), 100u - (CodeCounts::kMaxCodes - 1) + 1);
}

// Merging a period again with the same counts changes nothing, also when
// the codes overflow into code 0 (a re-run of a capture merges every period
// again: store/traffic_tables.h).
TEST(CodeCounts, MaxWithKeepsTheLargerCountAndIsIdempotentWhenFull) {
  CodeCounts stored, other;
  stored.Add(200, 5);
  stored.Add(486, 1);
  other.Add(200, 3);
  other.Add(486, 2);
  other.Add(503, 4);
  stored.MaxWith(other);
  EXPECT_EQ(stored.Get(200), 5u);
  EXPECT_EQ(stored.Get(486), 2u);
  EXPECT_EQ(stored.Get(503), 4u);

  CodeCounts full, rerun;
  for (int code = 100; code < 200; ++code) full.Add(code);
  for (int code = 150; code < 250; ++code) rerun.Add(code);
  full.MaxWith(rerun);
  const CodeCounts once = full;
  full.MaxWith(rerun);
  full.MaxWith(rerun);
  EXPECT_EQ(full, once);
  EXPECT_EQ(full.Get(0), 100u - (CodeCounts::kMaxCodes - 1)) << "the larger overflow";
}

TEST(CodeCounts, JsonRoundTrip) {
  CodeCounts c;
  c.Add(486, 2);
  c.Add(200, 7);
  std::string json;
  AppendCodesJson(c, &json);
  EXPECT_EQ(json, "{\"200\":7,\"486\":2}");
  CodeCounts back;
  ASSERT_TRUE(ParseCodesJson(json, &back));
  EXPECT_EQ(back, c);
  CodeCounts empty;
  json.clear();
  AppendCodesJson(empty, &json);
  EXPECT_EQ(json, "{}");
  EXPECT_TRUE(ParseCodesJson(json, &back));
  EXPECT_FALSE(ParseCodesJson("{\"200\":}", &back));
  EXPECT_FALSE(ParseCodesJson("{\"200\":1", &back));
  EXPECT_FALSE(ParseCodesJson("", &back));
}

IpAddress Ip(const char* text) {
  Result<IpPrefix> p = ParseIpPrefix(text);
  EXPECT_TRUE(p.ok()) << text;
  return p.ok() ? p->address : IpAddress();
}

TEST(LocalNets, ParsesPrefixes) {
  Result<IpPrefix> p = ParseIpPrefix("10.1.2.3/8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->length, 8);
  EXPECT_EQ(p->address.ToString(), "10.0.0.0");
  p = ParseIpPrefix(" 2001:db8::1 ");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->length, 128);
  p = ParseIpPrefix("2001:db8:ffff::/33");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->address.ToString(), "2001:db8:8000::");
  for (const char* bad : {"", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0/8",
                          "10.0.0.0/8x", "host/8", "10.0.0.0/-1"}) {
    EXPECT_FALSE(ParseIpPrefix(bad).ok()) << bad;
  }
  LocalNets nets;
  EXPECT_TRUE(nets.AddList("10.0.0.0/8, 192.168.1.0/24,2001:db8::/32").ok());
  EXPECT_EQ(nets.size(), 3u);
  Status s = LocalNets().AddList("10.0.0.0/8,,");
  EXPECT_FALSE(s.ok());
  s = LocalNets().AddList("10.0.0.0/8,bogus");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'bogus'"), std::string::npos) << s.message();
  EXPECT_FALSE(LocalNets().AddList("").ok());
  std::string many;
  for (size_t i = 0; i <= LocalNets::kMaxPrefixes; ++i) many += "10.0.0." + std::to_string(i) + ",";
  many.pop_back();
  EXPECT_FALSE(LocalNets().AddList(many).ok());
}

TEST(LocalNets, DirectionV4) {
  LocalNets nets;
  ASSERT_TRUE(nets.AddList("10.0.0.0/8,192.168.1.7").ok());
  EXPECT_EQ(DirectionOf(nets, Ip("8.8.8.8"), Ip("10.3.4.5")), Direction::kIn);
  EXPECT_EQ(DirectionOf(nets, Ip("192.168.1.7"), Ip("8.8.8.8")), Direction::kOut);
  EXPECT_EQ(DirectionOf(nets, Ip("192.168.1.8"), Ip("8.8.8.8")), Direction::kNone);  // neither
  EXPECT_EQ(DirectionOf(nets, Ip("10.0.0.1"), Ip("192.168.1.7")), Direction::kNone);  // both
  EXPECT_EQ(DirectionOf(nets, Ip("11.0.0.1"), Ip("9.255.255.255")), Direction::kNone);
}

TEST(LocalNets, DirectionV6AndMixedFamilies) {
  LocalNets nets;
  ASSERT_TRUE(nets.AddList("2001:db8::/32,0.0.0.0/0").ok());
  EXPECT_EQ(DirectionOf(nets, Ip("2001:db9::1"), Ip("2001:db8:1::5")), Direction::kIn);
  EXPECT_EQ(DirectionOf(nets, Ip("2001:db8::5"), Ip("fe80::1")), Direction::kOut);
  EXPECT_EQ(DirectionOf(nets, Ip("2001:db8::5"), Ip("2001:db8::6")), Direction::kNone);
  EXPECT_EQ(DirectionOf(nets, Ip("::1"), Ip("fe80::1")), Direction::kNone);
  // 0.0.0.0/0 holds every IPv4 address and no IPv6 one.
  EXPECT_EQ(DirectionOf(nets, Ip("::ffff:1.2.3.4"), Ip("1.2.3.4")), Direction::kIn);
  EXPECT_EQ(DirectionOf(nets, Ip("1.2.3.4"), Ip("5.6.7.8")), Direction::kNone);
}

TEST(LocalNets, NoSettingMeansNoDirection) {
  LocalNets nets;
  EXPECT_EQ(DirectionOf(nets, Ip("10.0.0.1"), Ip("8.8.8.8")), Direction::kNone);
  EXPECT_EQ(DirectionOf(nets, IpAddress(), IpAddress()), Direction::kNone);
}

TEST(TrafficStats, CountsDirections) {
  Collect sink;
  TrafficStats stats(&sink);
  std::string invite = Request("INVITE"), ok = Response(200), bye = Request("BYE");
  sip::SipMessage m;
  ASSERT_EQ(sip::ParseSipMessage(invite, sip::ParseOptions{}, &m), sip::ParseStatus::kComplete);
  stats.OnMessage(5 * kNsPerSecond, 600, m, Direction::kIn);
  stats.OnFrameDone();
  sip::SipMessage r;
  ASSERT_EQ(sip::ParseSipMessage(ok, sip::ParseOptions{}, &r), sip::ParseStatus::kComplete);
  stats.OnMessage(5 * kNsPerSecond + 9, 400, r, Direction::kOut);
  stats.OnFrameDone();
  sip::SipMessage b;
  ASSERT_EQ(sip::ParseSipMessage(bye, sip::ParseOptions{}, &b), sip::ParseStatus::kComplete);
  stats.OnMessage(6 * kNsPerSecond, 400, b, Direction::kNone);
  stats.OnFrameDone();
  stats.Flush();
  ASSERT_EQ(sink.seconds.size(), 2u);
  EXPECT_EQ(sink.seconds[0].in_messages, 1u);
  EXPECT_EQ(sink.seconds[0].in_sip_bytes, invite.size());
  EXPECT_EQ(sink.seconds[0].out_messages, 1u);
  EXPECT_EQ(sink.seconds[0].out_sip_bytes, ok.size());
  EXPECT_EQ(sink.seconds[1].in_messages + sink.seconds[1].out_messages, 0u);
  EXPECT_EQ(sink.seconds[1].messages, 1u);
  EXPECT_EQ(stats.totals().in_messages, 1u);
  EXPECT_EQ(stats.totals().out_messages, 1u);
  TrafficCounters sum = sink.seconds[0];
  sum.AddAll(sink.seconds[0]);
  EXPECT_EQ(sum.in_sip_bytes, 2 * invite.size());
  EXPECT_FALSE(sum == sink.seconds[0]);
}

TEST(Prometheus, RendersExactText) {
  TrafficCounters t;
  t.packets = 3;
  t.frame_bytes = 1200;
  t.sip_bytes = 1000;
  t.messages = 4;
  t.requests = 2;
  t.responses = 2;
  t.methods[MethodIndex("INVITE")] = 1;
  t.methods[MethodIndex("ACK")] = 1;
  t.classes[1] = 1;
  t.classes[3] = 1;
  t.codes.Add(486);
  t.codes.Add(200);
  t.kernel_drops = 5;
  t.in_messages = 3;
  t.out_messages = 1;
  t.in_sip_bytes = 700;
  t.out_sip_bytes = 300;
  std::string out;
  RenderPrometheus(t, &out);
  const char* expected =
      "# HELP sipman_packets_total Captured frames that carried SIP.\n"
      "# TYPE sipman_packets_total counter\n"
      "sipman_packets_total 3\n"
      "# HELP sipman_frame_bytes_total Wire bytes of the frames that carried SIP.\n"
      "# TYPE sipman_frame_bytes_total counter\n"
      "sipman_frame_bytes_total 1200\n"
      "# HELP sipman_sip_bytes_total Bytes of SIP messages, start line to body end.\n"
      "# TYPE sipman_sip_bytes_total counter\n"
      "sipman_sip_bytes_total 1000\n"
      "# HELP sipman_sip_messages_total SIP messages, by request method or response.\n"
      "# TYPE sipman_sip_messages_total counter\n"
      "sipman_sip_messages_total{method=\"INVITE\"} 1\n"
      "sipman_sip_messages_total{method=\"ACK\"} 1\n"
      "sipman_sip_messages_total{method=\"BYE\"} 0\n"
      "sipman_sip_messages_total{method=\"CANCEL\"} 0\n"
      "sipman_sip_messages_total{method=\"REGISTER\"} 0\n"
      "sipman_sip_messages_total{method=\"OPTIONS\"} 0\n"
      "sipman_sip_messages_total{method=\"PRACK\"} 0\n"
      "sipman_sip_messages_total{method=\"SUBSCRIBE\"} 0\n"
      "sipman_sip_messages_total{method=\"NOTIFY\"} 0\n"
      "sipman_sip_messages_total{method=\"PUBLISH\"} 0\n"
      "sipman_sip_messages_total{method=\"INFO\"} 0\n"
      "sipman_sip_messages_total{method=\"REFER\"} 0\n"
      "sipman_sip_messages_total{method=\"MESSAGE\"} 0\n"
      "sipman_sip_messages_total{method=\"UPDATE\"} 0\n"
      "sipman_sip_messages_total{method=\"OTHER\"} 0\n"
      "sipman_sip_messages_total{method=\"response\"} 2\n"
      "# HELP sipman_sip_messages_in_total SIP messages to a local address from a non-local "
      "one (--local-net).\n"
      "# TYPE sipman_sip_messages_in_total counter\n"
      "sipman_sip_messages_in_total 3\n"
      "# HELP sipman_sip_messages_out_total SIP messages from a local address to a non-local "
      "one (--local-net).\n"
      "# TYPE sipman_sip_messages_out_total counter\n"
      "sipman_sip_messages_out_total 1\n"
      "# HELP sipman_sip_bytes_in_total Bytes of the SIP messages counted as in.\n"
      "# TYPE sipman_sip_bytes_in_total counter\n"
      "sipman_sip_bytes_in_total 700\n"
      "# HELP sipman_sip_bytes_out_total Bytes of the SIP messages counted as out.\n"
      "# TYPE sipman_sip_bytes_out_total counter\n"
      "sipman_sip_bytes_out_total 300\n"
      "# HELP sipman_sip_responses_total SIP responses, by status class.\n"
      "# TYPE sipman_sip_responses_total counter\n"
      "sipman_sip_responses_total{class=\"1xx\"} 0\n"
      "sipman_sip_responses_total{class=\"2xx\"} 1\n"
      "sipman_sip_responses_total{class=\"3xx\"} 0\n"
      "sipman_sip_responses_total{class=\"4xx\"} 1\n"
      "sipman_sip_responses_total{class=\"5xx\"} 0\n"
      "sipman_sip_responses_total{class=\"6xx\"} 0\n"
      "# HELP sipman_sip_response_codes_total SIP responses, by status code (code 0: codes not "
      "counted separately).\n"
      "# TYPE sipman_sip_response_codes_total counter\n"
      "sipman_sip_response_codes_total{code=\"200\"} 1\n"
      "sipman_sip_response_codes_total{code=\"486\"} 1\n"
      "# HELP sipman_capture_drops_total Packets the capture lost, by where.\n"
      "# TYPE sipman_capture_drops_total counter\n"
      "sipman_capture_drops_total{where=\"kernel\"} 5\n"
      "sipman_capture_drops_total{where=\"interface\"} 0\n"
      "# HELP sipman_encrypted_sip_connections_total TCP connections carrying TLS (SIPS): the "
      "sensor cannot read their SIP.\n"
      "# TYPE sipman_encrypted_sip_connections_total counter\n"
      "sipman_encrypted_sip_connections_total 0\n"
      "# HELP sipman_encrypted_sip_bytes_total Payload bytes of those TLS connections.\n"
      "# TYPE sipman_encrypted_sip_bytes_total counter\n"
      "sipman_encrypted_sip_bytes_total 0\n";
  EXPECT_EQ(out, expected);
}

}  // namespace
}  // namespace sipman::stats
