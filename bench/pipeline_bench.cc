// End-to-end decode benchmark: capture file frames (preloaded into memory)
// -> net::Decoder -> sip::ParseSipMessage, the work `sipman messages
// --format none` does per packet. Reports SIP messages per second and heap
// allocations per frame in the steady state.
//
// The capture is ../shared/pcaps/generated/mixed-udp.pcap and mixed-tcp.pcap
// when present, else the project's own fixtures; SIPMAN_BENCH_PCAP overrides.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "bench/alloc_counter.h"
#include "capture/capture.h"
#include "net/net.h"
#include "sip/sip.h"

namespace sipman {
namespace {

struct Frame {
  TimestampNs ts;
  net::LinkType link;
  std::vector<uint8_t> bytes;
  uint32_t wire_len;
};

std::vector<Frame> LoadFrames(const std::string& path) {
  std::vector<Frame> frames;
  auto source = capture::FileSource::Open({path});
  if (!source.ok()) return frames;
  capture::Packet p;
  while ((*source)->Next(&p)) {
    frames.push_back({p.ts, p.link, std::vector<uint8_t>(p.data.begin(), p.data.end()), p.wire_len});
  }
  return frames;
}

std::string PickCapture(const char* shared_name, const char* fixture_name) {
  if (const char* env = std::getenv("SIPMAN_BENCH_PCAP")) return env;
  std::string shared = std::string(SIPMAN_SOURCE_DIR) + "/../shared/pcaps/generated/" + shared_name;
  if (FILE* f = std::fopen(shared.c_str(), "rb")) {
    std::fclose(f);
    return shared;
  }
  return std::string(SIPMAN_SOURCE_DIR) + "/tests/fixtures/pcaps/" + fixture_name;
}

class ParsingSink : public net::PayloadSink {
 public:
  void OnPayload(const net::Payload& payload) override {
    if (sip::ParseSipMessage(payload.data, sip::ParseOptions{}, &message_) ==
        sip::ParseStatus::kComplete) {
      ++messages;
      benchmark::DoNotOptimize(message_.call_id.data());
    }
  }
  uint64_t messages = 0;

 private:
  sip::SipMessage message_;
};

void RunPipeline(benchmark::State& state, const std::string& path) {
  std::vector<Frame> frames = LoadFrames(path);
  if (frames.empty()) {
    state.SkipWithError(("cannot read " + path).c_str());
    return;
  }
  ParsingSink sink;
  uint64_t allocations = 0, frames_decoded = 0, bytes = 0;
  for (auto _ : state) {
    // A fresh decoder per pass: replaying the same TCP segments into one
    // decoder would make them retransmissions. Its construction and the
    // first packet of each stream are the only allocations.
    state.PauseTiming();
    auto decoder = std::make_unique<net::Decoder>(net::DecoderOptions{}, &sink);
    uint64_t before = AllocationCount();
    state.ResumeTiming();
    for (const Frame& f : frames) {
      decoder->DecodeFrame(f.ts, f.link, std::span<const uint8_t>(f.bytes), f.wire_len);
      bytes += f.wire_len;
    }
    decoder->Finish();
    state.PauseTiming();
    allocations += AllocationCount() - before;
    frames_decoded += frames.size();
    decoder.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(sink.messages));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["frames"] = static_cast<double>(frames.size());
  state.counters["allocs_per_frame"] =
      frames_decoded ? static_cast<double>(allocations) / static_cast<double>(frames_decoded) : 0;
  state.SetLabel(path.substr(path.rfind('/') + 1));
}

void BM_PipelineUdp(benchmark::State& state) {
  RunPipeline(state, PickCapture("mixed-udp.pcap", "eth-vlan-qinq.pcap"));
}
BENCHMARK(BM_PipelineUdp);

void BM_PipelineTcp(benchmark::State& state) {
  RunPipeline(state, PickCapture("mixed-tcp.pcap", "tcp-segmentation.pcap"));
}
BENCHMARK(BM_PipelineTcp);

}  // namespace
}  // namespace sipman
