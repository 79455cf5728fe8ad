#include <gtest/gtest.h>

#include <vector>

#include "alerts/alerts.h"

namespace sipman::alerts {
namespace {

constexpr TimestampNs kS = kNsPerSecond;

class Collect : public AlertSink {
 public:
  void OnAlert(const Alert& a) override { alerts.push_back(a); }
  std::vector<Alert> alerts;
};

IpAddress Ip(uint8_t last) {
  const uint8_t b[4] = {192, 0, 2, last};
  return IpAddress::V4(b);
}

Rule MakeRule(std::vector<Field> fields) {
  Rule r;
  size_t line = 0;
  Status s = ParseRule(fields, &r, &line);
  EXPECT_TRUE(s.ok()) << s.message();
  return r;
}

MessageEvent Request(TimestampNs ts, uint8_t src, std::string_view method, std::string_view ua,
                     std::string_view call_id) {
  MessageEvent e;
  e.ts = ts;
  e.src_ip = Ip(src);
  e.dst_ip = Ip(1);
  e.is_request = true;
  e.method = method;
  e.cseq_method = method;
  e.user_agent = ua;
  e.from_user = "100";
  e.call_id = call_id;
  e.sensor = "s1";
  return e;
}

MessageEvent Response(TimestampNs ts, uint8_t requester, int status, std::string_view cseq_method,
                      std::string_view user = "100") {
  MessageEvent e;
  e.ts = ts;
  e.src_ip = Ip(1);
  e.dst_ip = Ip(requester);
  e.status = status;
  e.cseq_method = cseq_method;
  e.from_user = user;
  e.call_id = "c";
  e.sensor = "s1";
  return e;
}

// A 403 to a REGISTER that carried credentials.
MessageEvent Refused(TimestampNs ts, uint8_t requester) {
  MessageEvent e = Response(ts, requester, 403, "REGISTER");
  e.to_credentials = true;
  return e;
}

TEST(RuleTest, BadRulesAreRefusedWithTheFieldAndTheReason) {
  struct Case {
    std::vector<Field> fields;
    std::string want;
    size_t line;
  };
  const std::vector<Case> cases = {
      {{{"name", std::string("x"), 2}, {"metric", std::string("asr"), 3}, {"fire", int64_t{150}, 4}},
       "'fire' = 150 is impossible for asr: it must be from 0 to 100", 4},
      {{{"name", std::string("x"), 2}, {"metric", std::string("asr"), 3}, {"fire", int64_t{50}, 4},
        {"resolve", int64_t{40}, 5}},
       "'resolve' (40) must be at least 'fire' (50)", 5},
      {{{"name", std::string("x"), 2}, {"metric", std::string("prefix_calls"), 3},
        {"fire", int64_t{5}, 4}, {"prefixes", std::vector<std::string>{"900", "09a"}, 5}},
       "'prefixes': \"09a\" is not a number prefix", 5},
      {{{"name", std::string("x"), 2}, {"metric", std::string("asr"), 3}, {"colour", int64_t{5}, 6}},
       "unknown field 'colour'", 6},
      {{{"name", std::string("x"), 2}, {"metric", std::string("asrx"), 3}}, "unknown metric 'asrx'", 3},
      {{{"name", std::string("x"), 2}, {"metric", std::string("scanner"), 3}, {"fire", int64_t{0}, 4}},
       "'fire' must be above 0", 4},
      {{{"name", std::string("x"), 2}, {"metric", std::string("kernel_drops"), 3},
        {"by", std::string("src_ip"), 4}, {"fire", int64_t{1}, 5}},
       "is measured per sensor", 4},
      {{{"name", std::string("x"), 2}, {"metric", std::string("status_share"), 3},
        {"fire", int64_t{10}, 4}},
       "needs 'status'", 0},
      {{{"name", std::string("x"), 2}, {"metric", std::string("asr"), 3}, {"window", std::string("5m"), 4}},
       "'window' must be an integer from 1 to 604800", 4},
      {{{"name", std::string("x"), 2}, {"metric", std::string("off_hours_calls"), 3},
        {"fire", int64_t{1}, 4}, {"hours", std::string("8-20"), 5}},
       "'hours' must be the allowed hours as \"HH:MM-HH:MM\"", 5},
  };
  for (const Case& c : cases) {
    Rule r;
    size_t line = 99;
    Status s = ParseRule(c.fields, &r, &line);
    ASSERT_FALSE(s.ok()) << c.want;
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
    EXPECT_EQ(line, c.line) << c.want;
  }
}

TEST(RuleTest, DefaultsAreValidAndAFileRuleReplacesOneByName) {
  AlertsConfig config;
  Rule mine = MakeRule({{"name", std::string("sip-scanner")}, {"metric", std::string("scanner")},
                        {"fire", int64_t{3}}, {"action", std::string("block")}});
  ASSERT_TRUE(FinishAlertsConfig({mine}, &config).ok());
  EXPECT_EQ(config.rules.size(), DefaultRules().size());
  EXPECT_EQ(config.rules[0].name, "sip-scanner");
  EXPECT_EQ(config.rules[0].fire, 3);
  EXPECT_EQ(config.rules[0].action, "block");
  AlertsConfig none;
  none.defaults = false;
  ASSERT_TRUE(FinishAlertsConfig({mine, mine}, &none).ok() == false);
}

TEST(EngineTest, ScannerFiresOnItsFirstRequestAndResolvesWhenTheWindowEmpties) {
  Collect sink;
  Engine engine({MakeRule({{"name", std::string("scan")}, {"metric", std::string("scanner")},
                           {"fire", int64_t{1}}, {"window", int64_t{60}}})},
                &sink);
  const TimestampNs t0 = 1000 * kS + kS / 2;
  engine.OnMessage(Request(t0, 7, "OPTIONS", "Friendly-Scanner", "a1"));
  engine.OnMessage(Request(t0 + kS, 8, "OPTIONS", "Linphone/5.0", "b1"));
  ASSERT_EQ(sink.alerts.size(), 1u);
  EXPECT_TRUE(sink.alerts[0].firing);
  EXPECT_EQ(sink.alerts[0].key, "192.0.2.7");
  EXPECT_EQ(sink.alerts[0].fired_at, t0);
  EXPECT_EQ(sink.alerts[0].evidence, std::vector<std::string>{"a1"});
  EXPECT_EQ(sink.alerts[0].address, Ip(7));
  // Buckets of 6 s: the sample's bucket (166) leaves the window at bucket 176.
  for (TimestampNs t = t0; t < 1100 * kS; t += kS) engine.AdvanceTime(t);
  ASSERT_EQ(sink.alerts.size(), 2u);
  EXPECT_FALSE(sink.alerts[1].firing);
  EXPECT_EQ(sink.alerts[1].resolved_at, 176 * 6 * kS);
}

// The same events give the same alerts whether time advances every second
// (live) or only with the events (a file with gaps).
TEST(EngineTest, LiveTicksAndSparseTicksGiveTheSameAlerts) {
  auto run = [](bool every_second) {
    Collect sink;
    AlertsConfig config;
    EXPECT_TRUE(FinishAlertsConfig({}, &config).ok());
    Engine engine(config.rules, &sink);
    TimestampNs t = 5000 * kS;
    std::vector<TimestampNs> times;
    for (int burst = 0; burst < 3; ++burst) {
      for (int i = 0; i < 30; ++i) {
        times.push_back(t);
        t += kS / 10;
      }
      t += 700 * kS;  // a gap: windows empty, the sensor falls silent
    }
    TimestampNs clock = times.front();
    for (size_t i = 0; i < times.size(); ++i) {
      if (every_second) {
        for (; clock < times[i]; clock += kS) engine.AdvanceTime(clock);
      }
      engine.AdvanceTime(times[i]);
      engine.OnMessage(Request(times[i], 9, "REGISTER", "sipvicious", "r" + std::to_string(i)));
      engine.OnMessage(Refused(times[i], 9));
    }
    return sink.alerts;
  };
  const std::vector<Alert> live = run(true), sparse = run(false);
  ASSERT_EQ(live.size(), sparse.size());
  ASSERT_GE(live.size(), 8u);  // scanner, guessing by address and by user, silence; fire and resolve
  for (size_t i = 0; i < live.size(); ++i) {
    EXPECT_EQ(live[i].rule, sparse[i].rule);
    EXPECT_EQ(live[i].firing, sparse[i].firing);
    EXPECT_EQ(live[i].fired_at, sparse[i].fired_at) << live[i].rule;
    EXPECT_EQ(live[i].resolved_at, sparse[i].resolved_at) << live[i].rule;
    EXPECT_EQ(live[i].value, sparse[i].value);
  }
}

TEST(EngineTest, RegisterFailuresCountChallengesLessSuccesses) {
  Collect sink;
  Engine engine({MakeRule({{"name", std::string("guess")}, {"metric", std::string("register_failures")},
                           {"fire", int64_t{20}}, {"resolve", int64_t{5}}})},
                &sink);
  TimestampNs t = 100 * kS;
  // Ordinary phones: a challenge, then credentials and a success; many
  // challenges are outstanding at once (a registration storm).
  for (int i = 0; i < 30; ++i) engine.OnMessage(Response(t, 5, 401, "REGISTER"));
  for (int i = 0; i < 30; ++i, t += kS) engine.OnMessage(Response(t, 5, 200, "REGISTER"));
  EXPECT_TRUE(sink.alerts.empty());
  for (int i = 0; i < 25; ++i, t += kS / 10) engine.OnMessage(Refused(t, 6));
  ASSERT_EQ(sink.alerts.size(), 1u);
  EXPECT_EQ(sink.alerts[0].key, "192.0.2.6");
  EXPECT_EQ(sink.alerts[0].value, 20);
}

calls::CallRecord Call(TimestampNs ts, std::string_view domain, calls::CallState state, int status,
                       std::string_view id) {
  calls::CallRecord c;
  c.call_id = id;
  c.callee_domain = domain;
  c.callee_user = "200";
  c.caller_user = "100";
  c.invite_ts = ts;
  c.end_ts = ts + kS;
  c.state = state;
  c.final_status = status;
  c.post_dial_delay_ms = 150;
  return c;
}

TEST(EngineTest, AsrPerDestinationNeedsItsSamplesAndHasHysteresis) {
  Collect sink;
  Engine engine({MakeRule({{"name", std::string("asr")}, {"metric", std::string("asr")},
                           {"by", std::string("callee_domain")}, {"min_samples", int64_t{10}},
                           {"window", int64_t{100}}, {"fire", int64_t{40}}, {"resolve", int64_t{60}}})},
                &sink);
  TimestampNs t = 1000 * kS;
  int n = 0;
  auto call = [&](std::string_view domain, bool answered) {
    engine.OnCallEnd(Call(t, domain, answered ? calls::CallState::kAnswered : calls::CallState::kFailed,
                          answered ? 200 : 503, "call" + std::to_string(n++)));
    t += kS;
  };
  for (int i = 0; i < 5; ++i) call("trunk.example", false);  // too few samples
  EXPECT_TRUE(sink.alerts.empty());
  for (int i = 0; i < 4; ++i) call("trunk.example", true);
  call("trunk.example", false);  // 4 of 10 answered: 40 %
  ASSERT_EQ(sink.alerts.size(), 1u);
  EXPECT_EQ(sink.alerts[0].key, "trunk.example");
  EXPECT_DOUBLE_EQ(sink.alerts[0].value, 40);
  // The failed calls since the key came close (half its samples, half-way
  // to the threshold): the fifth failure, and the tenth.
  EXPECT_EQ(sink.alerts[0].evidence, (std::vector<std::string>{"call4", "call9"}));
  for (int i = 0; i < 3; ++i) call("trunk.example", true);  // 7 of 13: 53.8 %: still firing
  EXPECT_EQ(sink.alerts.size(), 1u);
  call("trunk.example", true);  // 8 of 14: 57 %
  call("trunk.example", true);  // 9 of 15: 60 %: resolves
  ASSERT_EQ(sink.alerts.size(), 2u);
  EXPECT_FALSE(sink.alerts[1].firing);
  EXPECT_DOUBLE_EQ(sink.alerts[1].resolved_value, 60);
  EXPECT_DOUBLE_EQ(sink.alerts[1].value, 40);  // the value it fired with stays
  for (int i = 0; i < 20; ++i) call("other.example", false);  // another key, its own alert
  EXPECT_EQ(sink.alerts.back().key, "other.example");
}

TEST(EngineTest, KeysBeyondMaxKeysEvictTheLeastRecent) {
  Collect sink;
  Rule r = MakeRule({{"name", std::string("flood")}, {"metric", std::string("request_rate")},
                     {"fire", int64_t{100}}, {"max_keys", int64_t{2}}});
  Engine engine({r}, &sink);
  engine.OnMessage(Request(kS, 10, "INVITE", "", "x"));
  engine.OnMessage(Request(kS, 11, "INVITE", "", "y"));
  engine.OnMessage(Request(kS, 10, "INVITE", "", "x"));
  engine.OnMessage(Request(kS, 12, "INVITE", "", "z"));  // evicts .11
  EXPECT_EQ(engine.counters().keys_evicted, 1u);
  std::vector<RuleStatus> st = engine.RuleStatuses(kS);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].keys, 2u);
}

// Keys well past the key index's first size all stay found, and a rate rule
// counts a method beyond the common ones (MESSAGE) as well as INVITE, but
// not a method it does not list.
TEST(EngineTest, ManyKeysAndAnUncommonMethodAreAllCounted) {
  Collect sink;
  Engine engine({MakeRule({{"name", std::string("rate")}, {"metric", std::string("request_rate")},
                           {"methods", std::vector<std::string>{"MESSAGE", "INVITE"}},
                           {"window", int64_t{10}}, {"fire", 0.3}, {"resolve", 0.1}})},
                &sink);
  for (int last = 2; last < 202; ++last) {
    engine.OnMessage(Request(kS, static_cast<uint8_t>(last), "INVITE", "", "i"));
  }
  for (int i = 0; i < 3; ++i) engine.OnMessage(Request(2 * kS, 9, "OPTIONS", "", "o"));
  engine.OnMessage(Request(2 * kS, 7, "MESSAGE", "", "m1"));
  EXPECT_TRUE(sink.alerts.empty());
  engine.OnMessage(Request(3 * kS, 7, "MESSAGE", "", "m2"));
  ASSERT_EQ(sink.alerts.size(), 1u);
  EXPECT_EQ(sink.alerts[0].key, "192.0.2.7");
  EXPECT_DOUBLE_EQ(sink.alerts[0].value, 0.3);
  std::vector<RuleStatus> st = engine.RuleStatuses(3 * kS);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].keys, 200u);
  EXPECT_EQ(st[0].firing, 1u);
  EXPECT_EQ(st[0].worst_key, "192.0.2.7");
}

// Windows count far more than 65,535 samples per bucket where a rule needs
// them: an ASR over 70,000 calls in one bucket of an address, and a single
// health event's 1,000,000 kernel drops.
TEST(EngineTest, LargeCountsAreNotCappedWhereARuleNeedsThem) {
  Collect sink;
  Engine engine({MakeRule({{"name", std::string("asr")}, {"metric", std::string("asr")},
                           {"by", std::string("dst_ip")}, {"min_samples", int64_t{70000}},
                           {"window", int64_t{600}}, {"fire", int64_t{40}}}),
                 MakeRule({{"name", std::string("drops")}, {"metric", std::string("kernel_drops")},
                           {"by", std::string("sensor")}, {"fire", int64_t{1000}}})},
                &sink);
  calls::CallRecord c = Call(1000 * kS, "d", calls::CallState::kFailed, 503, "c");
  for (int i = 0; i < 70000; ++i) engine.OnCallEnd(c);
  ASSERT_EQ(sink.alerts.size(), 1u);
  EXPECT_EQ(sink.alerts[0].rule, "asr");
  EXPECT_DOUBLE_EQ(sink.alerts[0].value, 0);
  HealthEvent h;
  h.ts = 1001 * kS;
  h.sensor = "s1";
  h.kernel_drops = 1000000;
  engine.OnHealth(h);
  ASSERT_EQ(sink.alerts.size(), 2u);
  EXPECT_EQ(sink.alerts[1].rule, "drops");
  EXPECT_DOUBLE_EQ(sink.alerts[1].value, 1000000);
}

TEST(EngineTest, ConcurrentCallsRiseAndFallWithStartsAndEnds) {
  Collect sink;
  Engine engine({MakeRule({{"name", std::string("conc")}, {"metric", std::string("concurrent_calls")},
                           {"by", std::string("caller")}, {"fire", int64_t{3}}})},
                &sink);
  const std::string ids[] = {"c0", "c1", "c2"};
  for (int i = 0; i < 3; ++i) {
    CallStartEvent s;
    s.ts = (10 + i) * kS;
    s.caller = "alice";
    s.callee = "200";
    s.call_id = ids[i];  // a view: the string must outlive the event
    s.sensor = "s1";
    engine.OnCallStart(s);
  }
  ASSERT_EQ(sink.alerts.size(), 1u);
  EXPECT_EQ(sink.alerts[0].value, 3);
  calls::CallRecord end = Call(20 * kS, "d", calls::CallState::kAnswered, 200, "c0");
  end.caller_user = "alice";
  engine.OnCallEnd(end);
  engine.OnCallEnd(end);
  ASSERT_EQ(sink.alerts.size(), 2u);
  EXPECT_FALSE(sink.alerts[1].firing);
}

TEST(EngineTest, PostDialDelayP95IsTheBinOfTheNinetyFifthPercentile) {
  Collect sink;
  Engine engine({MakeRule({{"name", std::string("pdd")}, {"metric", std::string("pdd_p95")},
                           {"by", std::string("all")}, {"min_samples", int64_t{20}},
                           {"fire", int64_t{4000}}})},
                &sink);
  for (int i = 0; i < 20; ++i) {
    calls::CallRecord c = Call((100 + i) * kS, "d", calls::CallState::kAnswered, 200, "p" + std::to_string(i));
    c.post_dial_delay_ms = i < 18 ? 200 : 2500;  // 2 of 20 slow: p95 in the slow bin
    engine.OnCallEnd(c);
  }
  EXPECT_TRUE(sink.alerts.empty());
  std::vector<RuleStatus> st = engine.RuleStatuses(120 * kS);
  ASSERT_TRUE(st[0].has_value);
  EXPECT_EQ(st[0].worst_value, 3000);  // bin (2000, 3000]
}

}  // namespace
}  // namespace sipman::alerts
