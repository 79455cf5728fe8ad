// The alert engine alone, on the events of bench/alert-rate's capture and
// with its 100 rules: what one call costs the engine (its start, seven
// messages, its end), in steady state and with new callers, and its heap
// allocations per call (new keys aside, must be 0). Less exposed to the
// machine's noise than the end-to-end figure of bench/alert-rate, so that a
// change to the engine can be measured before and after.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "alerts/alerts.h"
#include "bench/alloc_counter.h"

namespace sipman {
namespace {

class NullSink : public alerts::AlertSink {
 public:
  void OnAlert(const alerts::Alert& a) override { benchmark::DoNotOptimize(a.value); }
};

using Fields = std::vector<alerts::Field>;

alerts::Rule MakeRule(const std::string& name, Fields fields) {
  fields.push_back({"name", name, 0});
  alerts::Rule r;
  size_t line = 0;
  if (!alerts::ParseRule(fields, &r, &line).ok()) std::abort();
  return r;
}

alerts::Field F(const char* key, alerts::FieldValue v) { return {key, std::move(v), 0}; }

// The 100 rules bench/alert-rate writes, in the same order.
std::vector<alerts::Rule> HundredRules() {
  std::vector<alerts::Rule> rules;
  auto add = [&](Fields f) {
    bool has_max = false;
    for (const auto& x : f) has_max = has_max || x.key == "max_keys";
    if (!has_max) f.push_back(F("max_keys", int64_t{100000}));
    std::string name = "r";
    name += std::to_string(rules.size());
    rules.push_back(MakeRule(name, std::move(f)));
  };
  const char* ended_by[] = {"caller", "callee", "dst_ip", "src_ip", "callee_domain"};
  for (const char* by : ended_by) {
    const std::string b = by;
    add({F("metric", std::string("asr")), F("by", b), F("window", int64_t{300}), F("min_samples", int64_t{20}),
         F("fire", int64_t{30}), F("resolve", int64_t{50})});
    add({F("metric", std::string("ner")), F("by", b), F("window", int64_t{300}), F("min_samples", int64_t{20}),
         F("fire", int64_t{50}), F("resolve", int64_t{70})});
    add({F("metric", std::string("pdd_p95")), F("by", b), F("window", int64_t{300}),
         F("min_samples", int64_t{20}), F("fire", int64_t{5000})});
    add({F("metric", std::string("mos")), F("by", b), F("window", int64_t{300}), F("min_samples", int64_t{5}),
         F("fire", 3.1), F("resolve", 3.6)});
    add({F("metric", std::string("loss")), F("by", b), F("window", int64_t{300}), F("min_samples", int64_t{5}),
         F("fire", int64_t{5}), F("resolve", int64_t{1})});
    add({F("metric", std::string("one_way_share")), F("by", b), F("window", int64_t{300}),
         F("min_samples", int64_t{5}), F("fire", int64_t{20}), F("resolve", int64_t{5})});
    add({F("metric", std::string("short_calls")), F("by", b), F("window", int64_t{60}), F("fire", int64_t{50}),
         F("max_duration", int64_t{3})});
  }
  for (int64_t status : {404, 486, 503, 487, 480}) {
    add({F("metric", std::string("status_share")), F("by", std::string("caller")), F("status", status),
         F("window", int64_t{300}), F("min_samples", int64_t{10}), F("fire", int64_t{60}),
         F("resolve", int64_t{30})});
  }
  for (int64_t n = 2; n <= 6; ++n) {
    add({F("metric", std::string("asr")), F("by", std::string("callee_prefix")), F("prefix_len", n),
         F("window", int64_t{300}), F("min_samples", int64_t{20}), F("fire", int64_t{30}),
         F("resolve", int64_t{50}), F("max_keys", int64_t{10000})});
  }
  for (const char* by : {"caller", "src_ip", "dst_ip", "callee_domain"}) {
    add({F("metric", std::string("concurrent_calls")), F("by", std::string(by)), F("fire", int64_t{500})});
    add({F("metric", std::string("off_hours_calls")), F("by", std::string(by)),
         F("hours", std::string("00:00-23:59")), F("fire", int64_t{1000})});
  }
  for (const char* p : {"900", "00", "+881", "1", "2", "3", "4", "5", "6", "7", "8", "9"}) {
    add({F("metric", std::string("prefix_calls")), F("by", std::string("caller")),
         F("prefixes", std::vector<std::string>{p}), F("window", int64_t{3600}), F("fire", int64_t{100})});
  }
  for (const char* by : {"src_ip", "caller", "dst_ip", "callee", "sensor"}) {
    const std::string b = by;
    using V = std::vector<std::string>;
    add({F("metric", std::string("request_rate")), F("by", b), F("methods", V{"INVITE"}),
         F("window", int64_t{10}), F("fire", int64_t{5000})});
    add({F("metric", std::string("request_rate")), F("by", b), F("methods", V{"REGISTER", "OPTIONS"}),
         F("window", int64_t{10}), F("fire", int64_t{5000})});
    add({F("metric", std::string("not_found_share")), F("by", b), F("window", int64_t{60}),
         F("min_samples", int64_t{50}), F("fire", int64_t{90}), F("resolve", int64_t{50})});
    add({F("metric", std::string("register_failures")), F("by", b), F("window", int64_t{60}),
         F("fire", int64_t{50}), F("resolve", int64_t{10})});
    add({F("metric", std::string("scanner")), F("by", b), F("window", int64_t{60}), F("fire", int64_t{1})});
    add({F("metric", std::string("malformed")), F("by", b), F("window", int64_t{60}), F("fire", int64_t{1000})});
    add({F("metric", std::string("request_rate")), F("by", b), F("methods", V{"BYE", "CANCEL"}),
         F("window", int64_t{10}), F("fire", int64_t{5000})});
  }
  if (rules.size() != 100) std::abort();
  return rules;
}

IpAddress Ip(uint8_t last) {
  const uint8_t b[4] = {10, 0, 0, last};
  return IpAddress::V4(b);
}

// One answered call of `caller` at `ts`: its start, INVITE, 100, 180, 200,
// ACK, BYE, 200 and its end, as the correlator hands them over.
class CallEvents {
 public:
  CallEvents() {
    record_.callee_user = record_.ruri_user = "5551234";
    record_.callee_domain = "pbx.example";
    record_.src_ip = Ip(1);
    record_.dst_ip = Ip(2);
    record_.state = calls::CallState::kAnswered;
    record_.final_status = 200;
    record_.post_dial_delay_ms = 120;
    record_.duration_ms = 10000;
  }

  void Feed(alerts::Engine& engine, const std::string& caller, TimestampNs ts) {
    call_id_.assign(caller);
    call_id_ += "-call";
    alerts::CallStartEvent start;
    start.ts = ts;
    start.src_ip = Ip(1);
    start.dst_ip = Ip(2);
    start.caller = caller;
    start.callee = record_.ruri_user;
    start.callee_domain = record_.callee_domain;
    start.call_id = call_id_;
    start.sensor = "s1";
    struct Step {
      bool request;
      const char* method;
      int status;
      const char* cseq;
    };
    static constexpr Step kSteps[] = {{true, "INVITE", 0, "INVITE"}, {false, "", 100, "INVITE"},
                                      {false, "", 180, "INVITE"},    {false, "", 200, "INVITE"},
                                      {true, "ACK", 0, "ACK"},       {true, "BYE", 0, "BYE"},
                                      {false, "", 200, "BYE"}};
    int i = 0;
    for (const Step& step : kSteps) {
      alerts::MessageEvent m;
      m.ts = ts + i * kNsPerSecond / 100;
      m.src_ip = step.request ? Ip(1) : Ip(2);
      m.dst_ip = step.request ? Ip(2) : Ip(1);
      m.is_request = step.request;
      m.method = step.method;
      m.status = step.status;
      m.cseq_method = step.cseq;
      m.user_agent = "SIPp/Linux";
      m.from_user = caller;
      m.to_user = m.ruri_user = record_.ruri_user;
      m.to_domain = record_.callee_domain;
      m.call_id = call_id_;
      m.sensor = "s1";
      engine.OnMessage(m);
      if (i == 0) engine.OnCallStart(start);
      ++i;
    }
    record_.call_id = call_id_;
    record_.caller_user = caller;
    record_.invite_ts = ts;
    record_.bye_ts = record_.end_ts = ts + 5 * kNsPerSecond / 100;
    engine.OnCallEnd(record_, "s1");
    engine.AdvanceTime(record_.end_ts);
  }

 private:
  calls::CallRecord record_;
  std::string call_id_;
};

// state.range(0) callers, each calling in turn, 1000 calls per second of
// capture time. Over the first round every caller is a new key.
void BM_AlertEngineCall(benchmark::State& state) {
  const size_t callers = static_cast<size_t>(state.range(0));
  std::vector<std::string> names;
  for (size_t i = 0; i < callers; ++i) {
    names.emplace_back("user");
    names.back() += std::to_string(100000 + i);
  }
  NullSink sink;
  alerts::Engine engine(HundredRules(), &sink);
  CallEvents events;
  TimestampNs ts = 1700000000 * kNsPerSecond;
  size_t next = 0;
  // One round first: the figure is the steady state, keys known.
  for (size_t i = 0; i < callers; ++i, ts += kNsPerSecond / 1000) events.Feed(engine, names[i], ts);
  const uint64_t before = AllocationCount();
  for (auto _ : state) {
    events.Feed(engine, names[next], ts);
    if (++next == callers) next = 0;
    ts += kNsPerSecond / 1000;
  }
  state.counters["allocs_per_call"] = static_cast<double>(AllocationCount() - before) /
                                      static_cast<double>(state.iterations());
  state.counters["events_per_call"] = 9;
}
BENCHMARK(BM_AlertEngineCall)->Arg(1000)->Arg(51000);

// The same with no rules: what feeding the engine costs by itself.
void BM_AlertEngineCallNoRules(benchmark::State& state) {
  NullSink sink;
  alerts::Engine engine({}, &sink);
  CallEvents events;
  TimestampNs ts = 1700000000 * kNsPerSecond;
  const std::string caller = "user100000";
  for (auto _ : state) {
    events.Feed(engine, caller, ts);
    ts += kNsPerSecond / 1000;
  }
}
BENCHMARK(BM_AlertEngineCallNoRules);

}  // namespace
}  // namespace sipman
