// The RTP path: ParseRtp alone, and MediaTracker::OnDatagram (endpoint
// lookup, stream lookup, Wireshark figures, RFC 3550 A.1, jitter buffers)
// over 2,000 streams of 1,000 calls whose SDP was seen, round robin as
// concurrent calls interleave. Reports packets/s and heap allocations per
// packet (0 once the streams exist).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/alloc_counter.h"
#include "media/media.h"
#include "sip/sip.h"

namespace {

using sipman::IpAddress;
namespace media = sipman::media;
namespace sip = sipman::sip;

constexpr int kCalls = 1000;

std::string RtpPacket(uint16_t seq, uint32_t timestamp, uint32_t ssrc) {
  std::string p(12 + 160, '\xff');
  p[0] = '\x80';
  p[1] = 8;  // PCMA
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq);
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<char>(timestamp >> (24 - 8 * i));
    p[8 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
  }
  return p;
}

IpAddress V4(int a, int b, int c, int d) {
  const uint8_t bytes[4] = {static_cast<uint8_t>(a), static_cast<uint8_t>(b),
                            static_cast<uint8_t>(c), static_cast<uint8_t>(d)};
  return IpAddress::V4(bytes);
}

std::string Message(const std::string& first_line, int call, bool request, const std::string& ip,
                    int port) {
  const std::string sdp = "v=0\r\no=- 1 1 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip +
                          "\r\nt=0 0\r\nm=audio " + std::to_string(port) +
                          " RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n"
                          "a=rtpmap:101 telephone-event/8000\r\n";
  return first_line + "\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK" + std::to_string(call) +
         "\r\nFrom: <sip:a@x>;tag=from" + std::to_string(call) + "\r\nTo: <sip:b@x>" +
         (request ? "" : ";tag=to") + "\r\nCall-ID: bench-" + std::to_string(call) +
         "\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: " +
         std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
}

class NullSink : public media::StreamSink {
 public:
  void OnStream(const media::StreamFigures&) override { ++streams; }
  uint64_t streams = 0;
};

struct Flow {
  IpAddress src, dst;
  uint16_t src_port, dst_port;
  uint32_t ssrc;
};

// 1,000 calls' SDP, then their 2,000 streams' packets one after another.
void BM_MediaTrackerRtp(benchmark::State& state) {
  NullSink sink;
  media::MediaTracker tracker(media::MediaTrackerOptions{}, &sink);
  std::vector<Flow> flows;
  sip::SipMessage message;
  sip::SdpSession sdp;
  for (int i = 0; i < kCalls; ++i) {
    const IpAddress a = V4(10, 1, i >> 8, i & 255), b = V4(10, 2, i >> 8, i & 255);
    const uint16_t pa = static_cast<uint16_t>(20000 + 2 * (i % 5000));
    const uint16_t pb = static_cast<uint16_t>(30000 + 2 * (i % 5000));
    const std::string offer = Message("INVITE sip:b@x SIP/2.0", i, true, a.ToString(), pa);
    const std::string answer = Message("SIP/2.0 200 OK", i, false, b.ToString(), pb);
    for (const std::string* text : {&offer, &answer}) {
      if (sip::ParseSipMessage(*text, sip::ParseOptions{}, &message) != sip::ParseStatus::kComplete ||
          !sip::ParseSdp(sip::FindSdpBody(message.content_type, message.body), &sdp)) {
        state.SkipWithError("the benchmark's SIP did not parse");
        return;
      }
      tracker.OnSdp(1, message, sdp);
    }
    flows.push_back(Flow{a, b, pa, pb, 0x10000000u + i});
    flows.push_back(Flow{b, a, pb, pa, 0x20000000u + i});
  }
  std::string packet = RtpPacket(0, 0, 0);
  uint64_t n = 0, allocs = 0;
  int64_t ts = 1'000'000'000;
  uint16_t seq = 0;
  for (auto _ : state) {
    // One 20 ms tick of every stream.
    const uint64_t before = sipman::AllocationCount();
    for (const Flow& f : flows) {
      packet[2] = static_cast<char>(seq >> 8);
      packet[3] = static_cast<char>(seq);
      const uint32_t rtp_ts = uint32_t{seq} * 160;
      for (int i = 0; i < 4; ++i) {
        packet[4 + i] = static_cast<char>(rtp_ts >> (24 - 8 * i));
        packet[8 + i] = static_cast<char>(f.ssrc >> (24 - 8 * i));
      }
      ts += 10'000;  // 2,000 packets over 20 ms
      benchmark::DoNotOptimize(
          tracker.OnDatagram(ts, f.src, f.src_port, f.dst, f.dst_port, packet));
    }
    if (seq > 0) allocs += sipman::AllocationCount() - before;  // the first tick creates the streams
    ++seq;
    n += flows.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["allocs_per_packet"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(n ? n : 1));
}
BENCHMARK(BM_MediaTrackerRtp);

void BM_ParseRtp(benchmark::State& state) {
  const std::string packet = RtpPacket(1234, 160 * 1234, 0x12345678);
  media::RtpPacket rtp;
  for (auto _ : state) {
    benchmark::DoNotOptimize(media::ParseRtp(packet, &rtp));
    benchmark::DoNotOptimize(rtp.sequence);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseRtp);

}  // namespace
