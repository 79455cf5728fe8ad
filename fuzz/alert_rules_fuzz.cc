// libFuzzer target for the alert rules' configuration (the [alerts] and
// [[rule]] tables of a TOML file): any text is refused with a message or
// gives rules, and rules that parse run over a few events without fault.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "alerts/alerts.h"
#include "app/run_config.h"

namespace {

class Drop : public sipman::alerts::AlertSink {
 public:
  void OnAlert(const sipman::alerts::Alert&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sipman::alerts::AlertsConfig config;
  if (!sipman::app::ParseAlertsConfigText(text, "fuzz.toml", &config).ok()) return 0;
  Drop drop;
  sipman::alerts::Engine engine(config.rules, &drop);
  const uint8_t a[4] = {192, 0, 2, 1};
  for (int i = 0; i < 50; ++i) {
    sipman::alerts::MessageEvent m;
    m.ts = (1000 + i) * sipman::kNsPerSecond;
    m.src_ip = sipman::IpAddress::V4(a);
    m.dst_ip = m.src_ip;
    m.is_request = i % 2 == 0;
    m.method = "REGISTER";
    m.cseq_method = "REGISTER";
    m.status = i % 2 == 0 ? 0 : 401;
    m.user_agent = "friendly-scanner";
    m.from_user = "100";
    m.sensor = "s";
    m.call_id = "c";
    engine.OnMessage(m);
    sipman::calls::CallRecord c;
    c.call_id = "c";
    c.invite_ts = m.ts;
    c.end_ts = m.ts + 1;
    c.caller_user = "100";
    c.callee_user = "900123";
    c.callee_domain = "d";
    c.sensor = "s";
    c.state = i % 3 == 0 ? sipman::calls::CallState::kAnswered : sipman::calls::CallState::kFailed;
    c.final_status = i % 3 == 0 ? 200 : 503;
    c.post_dial_delay_ms = i * 100;
    engine.OnCallEnd(c);
    engine.AdvanceTime(m.ts);
  }
  (void)engine.RuleStatuses(2000 * sipman::kNsPerSecond);
  return 0;
}
