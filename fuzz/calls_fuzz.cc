// Fuzzes CallTracker with sequences of SIP messages. The input is a list of
// records: 1 control byte (bit 0: direction, bits 1-7: capture-time step),
// a 2-byte big-endian length, then that many bytes of SIP text, parsed as a
// datagram. Small caps and timers make eviction and expiry happen often.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "calls/calls.h"
#include "sip/sip.h"

namespace {

class CheckingSink : public sipman::calls::RecordSink {
 public:
  void OnCall(const sipman::calls::CallRecord& r) override {
    if (r.call_id.empty()) __builtin_trap();
    if (r.duration_ms < 0 || r.connect_ms < 0) __builtin_trap();
  }
  void OnRegistration(const sipman::calls::RegistrationRecord& r) override {
    if (r.result.empty()) __builtin_trap();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sipman;
  calls::CallTrackerOptions options;
  options.max_open_calls = 8;
  options.max_open_registrations = 4;
  options.invite_timeout = 3 * kNsPerSecond;
  options.call_max_duration = 20 * kNsPerSecond;
  options.idle_timeout = 10 * kNsPerSecond;
  options.linger = 2 * kNsPerSecond;
  options.register_timeout = 2 * kNsPerSecond;
  options.correlation_header = "X-CID";
  CheckingSink sink;
  calls::CallTracker tracker(options, &sink);
  static auto* message = new sip::SipMessage;

  const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
  TimestampNs ts = 1700000000 * kNsPerSecond;
  size_t pos = 0;
  while (size - pos >= 3) {
    const uint8_t control = data[pos];
    const size_t length = static_cast<size_t>(data[pos + 1]) << 8 | data[pos + 2];
    pos += 3;
    const size_t n = length < size - pos ? length : size - pos;
    const std::string_view text(reinterpret_cast<const char*>(data + pos), n);
    pos += n;
    // Steps of -1 s .. +62 s, so time sometimes goes backwards (reordering).
    ts += (static_cast<int64_t>(control >> 1) - 2) * kNsPerSecond / 2;
    if (sip::ParseSipMessage(text, sip::ParseOptions{}, message) != sip::ParseStatus::kComplete) {
      continue;
    }
    calls::SipEvent ev;
    ev.ts = ts;
    const bool forward = (control & 1) == 0;
    ev.src_ip = IpAddress::V4(forward ? a : b);
    ev.dst_ip = IpAddress::V4(forward ? b : a);
    ev.src_port = 5060;
    ev.dst_port = 5060;
    ev.transport = "udp";
    ev.message = message;
    ev.raw = text;
    tracker.OnMessage(ev);
    tracker.AdvanceTime(ts);
    if (tracker.counters().open_calls > options.max_open_calls) __builtin_trap();
  }
  tracker.Finish(ts + 3600 * kNsPerSecond);
  const calls::CallTrackerCounters& c = tracker.counters();
  if (c.open_calls != 0 || c.open_registrations != 0) __builtin_trap();
  if (c.calls_emitted != c.calls_created) __builtin_trap();
  return 0;
}
