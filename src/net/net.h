// The net module's public face: turns captured link-layer frames into SIP
// message candidates with their addressing.
//
// Frame -> link layer (Ethernet, 802.1Q/QinQ, Linux SLL/SLL2, raw IP, BSD
// null/loopback) -> IPv4/IPv6 (extension headers, fragment reassembly) ->
// UDP datagram | TCP stream reassembly with SIP framing | WebSocket frames
// -> PayloadSink::OnPayload, one call per SIP message.
#ifndef SIPMAN_NET_NET_H_
#define SIPMAN_NET_NET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "base/base.h"

namespace sipman::net {

// Link-layer types SIPMan decodes, with their pcap LINKTYPE_/DLT_ numbers.
enum class LinkType : int {
  kNull = 0,         // DLT_NULL: BSD loopback, 4-byte host-order family
  kEthernet = 1,     // DLT_EN10MB
  kRaw = 101,        // LINKTYPE_RAW (DLT_RAW is 12 or 14 on some systems)
  kLoop = 108,       // DLT_LOOP: OpenBSD loopback, network-order family
  kLinuxSll = 113,   // DLT_LINUX_SLL
  kIpv4 = 228,       // LINKTYPE_IPV4
  kIpv6 = 229,       // LINKTYPE_IPV6
  kLinuxSll2 = 276,  // DLT_LINUX_SLL2
};

// Maps a pcap data-link type (DLT_* or LINKTYPE_*) to a LinkType; false when
// SIPMan cannot decode it.
bool LinkTypeFromDlt(int dlt, LinkType* out);

enum class Transport : uint8_t { kUdp, kTcp, kWebSocket };
// "udp", "tcp", "ws".
std::string_view TransportName(Transport t);

// One SIP message candidate.
struct Payload {
  TimestampNs ts = 0;        // time of the packet that completed the message
  IpAddress src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  Transport transport = Transport::kUdp;
  uint32_t frame_bytes = 0;  // wire length of the frame that completed it
  // Exactly one SIP message: the UDP datagram, one Content-Length-framed
  // message of a TCP stream, or one WebSocket message (unmasked).
  // Valid only during the OnPayload call: it points into the packet buffer or
  // into a reassembly buffer that the next frame may change. Copy to keep.
  std::string_view data;
};

class PayloadSink {
 public:
  virtual ~PayloadSink() = default;
  virtual void OnPayload(const Payload& payload) = 0;
};

struct DecoderOptions {
  // IP fragment reassembly: datagrams in flight and their total bytes are
  // bounded; an incomplete datagram is dropped after the timeout (capture
  // time, not wall time).
  size_t max_fragment_datagrams = 4096;
  size_t max_fragment_bytes = 64 << 20;
  int64_t fragment_timeout_ns = 30 * kNsPerSecond;
  // TCP: streams tracked at once, bytes buffered per stream (out-of-order
  // segments plus an incomplete message), idle time before a stream is
  // forgotten.
  size_t max_tcp_streams = 65536;
  size_t max_tcp_stream_bytes = 1 << 20;
  int64_t tcp_idle_timeout_ns = 300 * kNsPerSecond;
};

// What the decoder saw. Every frame is counted once in `frames` and at most
// once in one of the skip counters.
struct DecoderCounters {
  uint64_t frames = 0;
  uint64_t frame_bytes = 0;
  uint64_t unsupported_link = 0;  // link type or ethertype not IP
  uint64_t truncated = 0;         // a header cut short (snaplen or garbage)
  uint64_t ip_fragments = 0;      // fragments seen
  uint64_t ip_reassembled = 0;    // datagrams rebuilt from fragments
  uint64_t ip_fragments_dropped = 0;  // timed out or over the bounds
  uint64_t udp_datagrams = 0;
  uint64_t tcp_segments = 0;
  uint64_t tcp_retransmitted_bytes = 0;  // already-seen bytes, dropped
  uint64_t tcp_gaps = 0;                 // holes skipped to resynchronise
  uint64_t tcp_streams_evicted = 0;
  uint64_t websocket_frames = 0;
  uint64_t non_sip = 0;           // transport payloads that were not SIP
  uint64_t sip_payloads = 0;      // OnPayload calls
};

// Decodes frames of any supported link type. Not thread-safe; one per
// worker. Per packet, the UDP path allocates nothing; TCP and fragment
// reassembly reuse their buffers.
class Decoder {
 public:
  Decoder(const DecoderOptions& options, PayloadSink* sink);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one frame. `frame` is the captured bytes (caplen), `wire_len`
  // the original length. The bytes need only live for the call.
  void DecodeFrame(TimestampNs ts, LinkType link, std::span<const uint8_t> frame,
                   uint32_t wire_len);

  // Decodes a transport payload that arrived already split out of its
  // packet (e.g. from HEP): UDP payloads are one message, TCP payloads feed
  // that flow's stream reassembly.
  void DecodeTransportPayload(TimestampNs ts, Transport transport, const IpAddress& src,
                              uint16_t src_port, const IpAddress& dst, uint16_t dst_port,
                              std::span<const uint8_t> data, uint32_t wire_len);

  // Emits what the reassemblers still hold that forms complete messages and
  // forgets the rest. Call at the end of input.
  void Finish();

  const DecoderCounters& counters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// True when `data` starts with a SIP start line: "SIP/2.0 NNN ..." or
// "METHOD SP Request-URI SP SIP/2.0" ended by CRLF (or LF). Cheap: looks at
// the first line only, so that SIP is recognised on any port.
bool LooksLikeSip(std::string_view data);

}  // namespace sipman::net

#endif  // SIPMAN_NET_NET_H_
