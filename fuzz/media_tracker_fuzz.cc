// libFuzzer target for the SDP-to-stream map and the stream measurement:
// the input is an SDP body (up to the first NUL), then datagrams, each
// [length: 1 byte][direction: 1 byte][bytes]. Direction 0 goes from the
// offer's media address to the answer's, 1 back, anything else between
// ports taken from the direction byte (unannounced: found alone or not).
// Then the call's media is taken and every stream emitted. ASan and UBSan
// find what goes wrong; the bounds are checked at the end.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "media/media.h"
#include "sip/sip.h"

namespace {

using sipman::IpAddress;

class CountingSink : public sipman::media::StreamSink {
 public:
  void OnStream(const sipman::media::StreamFigures& s) override {
    ++streams;
    // A stream exists only for a packet, or for the RTCP that told of it.
    if (s.packets == 0 && !s.rtcp_only) __builtin_trap();
  }
  uint64_t streams = 0;
};

IpAddress V4(uint8_t last) {
  const uint8_t bytes[4] = {192, 0, 2, last};
  return IpAddress::V4(bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view sdp_text = input.substr(0, nul);
  std::string_view rest = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  sipman::media::MediaTrackerOptions options;
  options.max_streams = 8;  // small bounds, so that eviction runs too
  options.max_endpoints = 8;
  options.max_calls = 2;
  CountingSink sink;
  sipman::media::MediaTracker tracker(options, &sink);
  sipman::sip::SdpSession sdp;
  sipman::sip::SipMessage message;
  message.call_id = "fuzz-call";
  message.from.tag = "a";
  message.is_request = true;
  if (sipman::sip::ParseSdp(sdp_text, &sdp)) tracker.OnSdp(1, message, sdp);
  // The answer: the same body from the other side.
  message.is_request = false;
  if (sipman::sip::ParseSdp(sdp_text, &sdp)) tracker.OnSdp(2, message, sdp);

  IpAddress ip;
  uint16_t port = 0;
  if (sdp.media_count > 0 && sipman::ParseIpAddress(sdp.media[0].connection_address, &ip)) {
    port = sdp.media[0].port;
  } else {
    ip = V4(1);
  }
  int64_t ts = 1'000'000'000;
  while (rest.size() >= 2) {
    const size_t len = static_cast<uint8_t>(rest[0]);
    const uint8_t direction = static_cast<uint8_t>(rest[1]);
    rest.remove_prefix(2);
    const std::string_view datagram = rest.substr(0, len);
    rest.remove_prefix(datagram.size());
    ts += 20'000'000;
    if (direction == 0) {
      tracker.OnDatagram(ts, V4(9), 9000, ip, port, datagram);
    } else if (direction == 1) {
      tracker.OnDatagram(ts, ip, port, V4(9), 9000, datagram);
    } else if (direction == 2 || direction == 3) {
      // HEP's RTCP (raw or JSON), with and without a correlation ID.
      tracker.OnHepRtcp(ts, direction == 2 ? "fuzz-call" : "", ip,
                        static_cast<uint16_t>(port + 1), V4(9), 9001, datagram);
    } else {
      tracker.OnDatagram(ts, V4(direction), direction * 7, V4(3), 5004, datagram);
    }
    tracker.AdvanceTime(ts);
  }
  sipman::media::CallMedia media;
  (void)tracker.TakeCallMedia("fuzz-call", &media);
  tracker.Finish();
  const sipman::media::MediaCounters& c = tracker.counters();
  if (c.streams + c.rtcp_only_streams != sink.streams ||
      sink.streams > c.rtp_packets + c.rtcp_only_streams) {
    __builtin_trap();
  }
  return 0;
}
