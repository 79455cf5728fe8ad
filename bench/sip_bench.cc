// Micro-benchmarks for the sip module: ParseSipMessage on a typical INVITE
// with SDP and on a 200 OK, ParseSdp, and the heap allocations per parsed
// message (which must be 0).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>

#include "bench/alloc_counter.h"
#include "sip/sip.h"

namespace sipman::sip {
namespace {

// Joins lines with CRLF.
std::string Crlf(std::initializer_list<std::string_view> lines) {
  std::string s;
  for (std::string_view l : lines) {
    s += l;
    s += "\r\n";
  }
  return s;
}

const std::string kSdp = Crlf({
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 198.51.100.10",
    "s=-",
    "c=IN IP4 198.51.100.10",
    "t=0 0",
    "m=audio 49170 RTP/AVP 0 8 18 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:18 G729/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=sendrecv",
});

// About 800 bytes, shaped like what a PBX or SBC sends.
const std::string kInvite = Crlf({
                                "INVITE sip:+15551234567@gw.example.com:5060;user=phone SIP/2.0",
                                "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK776asdhds;rport",
                                "Max-Forwards: 70",
                                "To: <sip:+15551234567@gw.example.com>",
                                "From: \"Alice\" <sip:alice@example.com>;tag=1928301774",
                                "Call-ID: a84b4c76e66710@pc33.example.com",
                                "CSeq: 314159 INVITE",
                                "Contact: <sip:alice@198.51.100.10:5060>",
                                "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY",
                                "Supported: replaces, timer",
                                "User-Agent: ExamplePhone/1.2.3",
                                "Content-Type: application/sdp",
                                "Content-Length: " + std::to_string(kSdp.size()),
                                "",
                            }) +
                            kSdp;

const std::string kOk = Crlf({
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/UDP 198.51.100.10:5060;branch=z9hG4bK776asdhds;received=198.51.100.10",
    "To: <sip:+15551234567@gw.example.com>;tag=a6c85cf",
    "From: \"Alice\" <sip:alice@example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:+15551234567@203.0.113.5:5060>",
    "Server: ExampleSwitch 4.5",
    "Content-Length: 0",
    "",
});

void ParseLoop(benchmark::State& state, const std::string& data) {
  SipMessage m;
  for (auto _ : state) {
    const ParseStatus s = ParseSipMessage(data, ParseOptions{}, &m);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(m.call_id.data());
  }
  if (ParseSipMessage(data, ParseOptions{}, &m) != ParseStatus::kComplete || m.malformed != 0) {
    state.SkipWithError("benchmark message does not parse cleanly");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["msg_bytes"] = static_cast<double>(data.size());
}

void BM_ParseSipInvite(benchmark::State& state) { ParseLoop(state, kInvite); }
BENCHMARK(BM_ParseSipInvite);

void BM_ParseSip200Ok(benchmark::State& state) { ParseLoop(state, kOk); }
BENCHMARK(BM_ParseSip200Ok);

void BM_ParseSdp(benchmark::State& state) {
  SdpSession s;
  for (auto _ : state) {
    const bool ok = ParseSdp(kSdp, &s);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(s.media_count);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSdp.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseSdp);

// What a call tracker does per INVITE: parse the message, find and parse its
// SDP. Reports heap allocations per message, which must be 0.
void BM_ParseInviteWithSdpAllocations(benchmark::State& state) {
  SipMessage m;
  SdpSession s;
  const uint64_t before = AllocationCount();
  for (auto _ : state) {
    ParseSipMessage(kInvite, ParseOptions{.datagram = false}, &m);
    const bool ok = ParseSdp(FindSdpBody(m.content_type, m.body), &s);
    benchmark::DoNotOptimize(ok);
  }
  const uint64_t allocations = AllocationCount() - before;
  state.counters["allocs_per_msg"] = static_cast<double>(allocations) /
                                     static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kInvite.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseInviteWithSdpAllocations);

}  // namespace
}  // namespace sipman::sip
