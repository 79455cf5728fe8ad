// DecodeFrame throughput on the three paths of the net module: one UDP SIP
// datagram, a TCP stream with two messages per segment, and a UDP datagram
// in two IPv4 fragments. Reports items/s, bytes/s and heap allocations per
// frame (must be 0 on the UDP path, and on TCP after warm-up).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bench/alloc_counter.h"
#include "net/net.h"

namespace {

using Bytes = std::vector<uint8_t>;

class CountingSink : public sipman::net::PayloadSink {
 public:
  void OnPayload(const sipman::net::Payload& payload) override { bytes += payload.data.size(); }
  uint64_t bytes = 0;
};

void Put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}
void Put32(Bytes* b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}
void Append(Bytes* b, const void* p, size_t n) {
  const size_t old = b->size();
  b->resize(old + n);
  if (n != 0) std::memcpy(b->data() + old, p, n);
}

Bytes EthIpv4(uint8_t protocol, const Bytes& l4, uint16_t id = 1, uint32_t frag_offset = 0,
              bool more = false) {
  Bytes b = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00};
  b.push_back(0x45);
  b.push_back(0);
  Put16(&b, static_cast<uint16_t>(20 + l4.size()));
  Put16(&b, id);
  Put16(&b, static_cast<uint16_t>((more ? 0x2000 : 0) | (frag_offset / 8)));
  b.push_back(64);
  b.push_back(protocol);
  Put16(&b, 0);
  const uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {192, 0, 2, 2};
  Append(&b, src, 4);
  Append(&b, dst, 4);
  Append(&b, l4.data(), l4.size());
  return b;
}

Bytes Udp(const std::string& payload) {
  Bytes b;
  Put16(&b, 5060);
  Put16(&b, 5060);
  Put16(&b, static_cast<uint16_t>(8 + payload.size()));
  Put16(&b, 0);
  Append(&b, payload.data(), payload.size());
  return b;
}

Bytes Tcp(uint32_t seq, uint8_t flags, const std::string& payload) {
  Bytes b;
  Put16(&b, 40000);
  Put16(&b, 5060);
  Put32(&b, seq);
  Put32(&b, 1);
  b.push_back(5 << 4);
  b.push_back(flags);
  Put16(&b, 65535);
  Put32(&b, 0);
  Append(&b, payload.data(), payload.size());
  return b;
}

std::string Invite(int n) {
  const std::string sdp =
      "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\n"
      "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n"
      "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
  std::string m =
      "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
      "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds" + std::to_string(n) + "\r\n"
      "Max-Forwards: 70\r\n"
      "To: Bob <sip:bob@biloxi.example.com>\r\n"
      "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
      "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
      "CSeq: 314159 INVITE\r\n"
      "Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
      "Content-Type: application/sdp\r\n"
      "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n";
  return m + sdp;
}

void Report(benchmark::State& state, uint64_t allocs, uint64_t frame_bytes) {
  const auto frames = static_cast<int64_t>(state.iterations());
  state.SetItemsProcessed(frames);
  state.SetBytesProcessed(static_cast<int64_t>(frame_bytes));
  state.counters["allocs_per_frame"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(frames ? frames : 1));
}

void BM_DecodeUdpInvite(benchmark::State& state) {
  CountingSink sink;
  sipman::net::Decoder decoder({}, &sink);
  const Bytes frame = EthIpv4(17, Udp(Invite(0)));
  const auto len = static_cast<uint32_t>(frame.size());
  int64_t ts = 0;
  decoder.DecodeFrame(ts, sipman::net::LinkType::kEthernet, frame, len);
  const uint64_t before = sipman::bench::AllocationCount();
  for (auto _ : state) {
    decoder.DecodeFrame(++ts, sipman::net::LinkType::kEthernet, frame, len);
  }
  Report(state, sipman::bench::AllocationCount() - before,
         static_cast<uint64_t>(state.iterations()) * frame.size());
  if (sink.bytes == 0) state.SkipWithError("no payload emitted");
}
BENCHMARK(BM_DecodeUdpInvite);

void BM_DecodeTcpTwoMessagesPerSegment(benchmark::State& state) {
  CountingSink sink;
  sipman::net::Decoder decoder({}, &sink);
  const std::string two = Invite(1) + Invite(2);
  const auto step = static_cast<uint32_t>(two.size());
  // A ring of segments whose sequence numbers are rewritten in place, so the
  // stream goes on for as long as the benchmark runs (wrapping 2^32 too).
  constexpr int kSegments = 64;
  std::vector<Bytes> frames(kSegments, EthIpv4(6, Tcp(0, 0x18, two)));
  constexpr size_t kSeqAt = 14 + 20 + 4;
  uint32_t next_seq = 1;
  int next_frame = 0;
  int64_t ts = 0;
  auto decode_next = [&]() -> const Bytes& {
    Bytes& f = frames[static_cast<size_t>(next_frame)];
    f[kSeqAt] = static_cast<uint8_t>(next_seq >> 24);
    f[kSeqAt + 1] = static_cast<uint8_t>(next_seq >> 16);
    f[kSeqAt + 2] = static_cast<uint8_t>(next_seq >> 8);
    f[kSeqAt + 3] = static_cast<uint8_t>(next_seq);
    next_seq += step;
    next_frame = (next_frame + 1) % kSegments;
    return f;
  };
  const Bytes syn = EthIpv4(6, Tcp(0, 0x02, ""));
  decoder.DecodeFrame(ts, sipman::net::LinkType::kEthernet, syn, 0);
  for (int warm = 0; warm < 2 * kSegments; ++warm) {
    const Bytes& f = decode_next();
    decoder.DecodeFrame(++ts, sipman::net::LinkType::kEthernet, f, static_cast<uint32_t>(f.size()));
  }
  uint64_t bytes = 0;
  uint64_t allocs = 0;
  for (auto _ : state) {
    const Bytes& f = decode_next();
    const uint64_t before = sipman::bench::AllocationCount();
    decoder.DecodeFrame(++ts, sipman::net::LinkType::kEthernet, f, static_cast<uint32_t>(f.size()));
    allocs += sipman::bench::AllocationCount() - before;
    bytes += f.size();
  }
  Report(state, allocs, bytes);
  if (decoder.counters().tcp_gaps != 0) state.SkipWithError("unexpected TCP gaps");
  if (decoder.counters().sip_payloads !=
      2 * (2 * kSegments + static_cast<uint64_t>(state.iterations()))) {
    state.SkipWithError("expected two messages per segment");
  }
}
BENCHMARK(BM_DecodeTcpTwoMessagesPerSegment);

void BM_DecodeFragmentedUdp(benchmark::State& state) {
  CountingSink sink;
  sipman::net::Decoder decoder({}, &sink);
  const Bytes udp = Udp(Invite(3) + std::string(800, 'a'));
  const size_t split = 800;
  std::vector<Bytes> frames;
  uint16_t id = 0;
  auto make = [&](uint16_t ident) {
    frames.clear();
    frames.push_back(EthIpv4(17, Bytes(udp.begin(), udp.begin() + split), ident, 0, true));
    frames.push_back(
        EthIpv4(17, Bytes(udp.begin() + split, udp.end()), ident, static_cast<uint32_t>(split)));
  };
  make(id);
  int64_t ts = 0;
  uint64_t bytes = 0;
  uint64_t allocs = 0;
  const size_t id_at = 14 + 4;
  for (auto _ : state) {
    ++id;
    for (Bytes& f : frames) {
      f[id_at] = static_cast<uint8_t>(id >> 8);
      f[id_at + 1] = static_cast<uint8_t>(id);
      const uint64_t before = sipman::bench::AllocationCount();
      decoder.DecodeFrame(++ts, sipman::net::LinkType::kEthernet, f,
                          static_cast<uint32_t>(f.size()));
      allocs += sipman::bench::AllocationCount() - before;
      bytes += f.size();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 2);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["allocs_per_frame"] = benchmark::Counter(
      static_cast<double>(allocs) / static_cast<double>(state.iterations() * 2 + 1));
  if (decoder.counters().ip_reassembled == 0) state.SkipWithError("nothing reassembled");
}
BENCHMARK(BM_DecodeFragmentedUdp);

}  // namespace
