// The net module's public face: turns captured link-layer frames into SIP
// message candidates with their addressing.
//
// Frame -> link layer (Ethernet, 802.1Q/QinQ, Linux SLL/SLL2, raw IP, BSD
// null/loopback, PPPoE, MPLS) -> IPv4/IPv6 (extension headers, fragment
// reassembly) -> UDP datagram | TCP stream reassembly with SIP framing |
// WebSocket frames | SCTP DATA chunks -> PayloadSink::OnPayload, one call per
// SIP message.
//
// Mirrored traffic arrives inside tunnels: GRE (with PPP, transparent
// Ethernet bridging, ERSPAN I/II/III), IP-in-IP, VXLAN, Geneve, GTP-U, nested
// in any order up to kMaxEncapsulations; a message is reported with its
// innermost addresses. HEP packets inside a capture (UDP or TCP, on
// DecoderOptions::hep_ports, or any UDP port for "HEP3") are unwrapped into
// the SIP they carry, with the HEP header's addresses, ports and time.
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

enum class Transport : uint8_t { kUdp, kTcp, kWebSocket, kSctp };
// "udp", "tcp", "ws", "sctp".
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
  // A UDP datagram that is not SIP (nor a tunnel or HEP): media, perhaps.
  // `payload.data` is the whole datagram; same lifetime as OnPayload's.
  virtual void OnOtherDatagram(const Payload& /*payload*/) {}
  // An RTCP report a HEP agent sent (HEP payload type 5, raw or JSON), with
  // the HEP header's addresses and time; `correlation_id` is HEP's (the
  // call's Call-ID for most agents), possibly empty. Same lifetime.
  virtual void OnHepRtcp(const Payload& /*payload*/, std::string_view /*correlation_id*/) {}
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
  // All streams together: partial messages and out-of-order segments. When
  // a segment takes the total past it, the least recently active streams'
  // partial data is dropped (tcp_budget_drops) until it fits again.
  size_t max_tcp_total_bytes = 128 << 20;
  int64_t tcp_idle_timeout_ns = 300 * kNsPerSecond;
  // SCTP: user messages being reassembled from fragments at once, the most
  // bytes one message may have, and the most all of them may hold together
  // (the oldest partial messages are dropped, in sctp_errors, to fit).
  size_t max_sctp_partial_messages = 1024;
  size_t max_sctp_message_bytes = 1 << 20;
  size_t max_sctp_total_bytes = 64 << 20;
  // UDP and TCP ports whose payloads are decoded as HEP (v1, v2, v3). A UDP
  // payload starting "HEP3" is HEP on any port. Unused slots are 0.
  static constexpr size_t kMaxHepPorts = 8;
  uint16_t hep_ports[kMaxHepPorts] = {9060};
  // False: HEP payloads are not unwrapped (they count as non-SIP). A live
  // sensor on a SIP server that also sends HEP would see every message twice.
  bool decode_hep = true;
};

// Tunnels nested deeper than this are counted (tunnel_too_deep) and dropped:
// a bound against crafted loops of headers.
constexpr int kMaxEncapsulations = 8;

// What the decoder saw, declared once: X(field, "name", what it counts).
// Every frame is counted once in `frames` and at most once in one of the
// skip counters (unsupported_link, truncated, tunnel_errors, tunnel_too_deep).
#define SIPMAN_DECODER_COUNTERS(X)                                                        \
  X(frames, "frames", "frames decoded")                                                   \
  X(frame_bytes, "frame_bytes", "wire bytes of those frames")                             \
  X(unsupported_link, "unsupported_link", "link type or ethertype not carrying IP")       \
  X(truncated, "truncated", "a header cut short (snaplen or garbage)")                    \
  X(ip_fragments, "ip_fragments", "IP fragments seen")                                    \
  X(ip_reassembled, "ip_reassembled", "datagrams rebuilt from fragments")                 \
  X(ip_fragments_dropped, "ip_fragments_dropped", "fragments timed out or over the bounds") \
  X(udp_datagrams, "udp_datagrams", "UDP datagrams")                                      \
  X(tcp_segments, "tcp_segments", "TCP segments")                                         \
  X(tcp_retransmitted_bytes, "tcp_retransmitted_bytes", "already-seen TCP bytes, dropped") \
  X(tcp_gaps, "tcp_gaps", "TCP holes skipped to resynchronise")                           \
  X(tcp_streams_evicted, "tcp_streams_evicted", "TCP streams forgotten (idle or bounds)")  \
  X(tcp_budget_drops, "tcp_budget_drops", "partial TCP data dropped for the total budget") \
  X(websocket_frames, "websocket_frames", "WebSocket frames")                             \
  X(gre, "gre", "GRE headers (all versions and payloads)")                                \
  X(erspan, "erspan", "ERSPAN type I, II and III headers")                                \
  X(vxlan, "vxlan", "VXLAN headers (UDP 4789)")                                           \
  X(geneve, "geneve", "Geneve headers (UDP 6081)")                                        \
  X(ip_in_ip, "ip_in_ip", "IPv4 or IPv6 headers inside IPv4 or IPv6")                     \
  X(pppoe, "pppoe", "PPPoE session headers")                                              \
  X(ppp, "ppp", "PPP headers (PPPoE, GRE)")                                               \
  X(mpls, "mpls", "MPLS label stacks")                                                    \
  X(gtpu, "gtpu", "GTP-U T-PDUs (UDP 2152)")                                              \
  X(tunnel_errors, "tunnel_errors", "tunnel headers malformed, truncated or unsupported")  \
  X(tunnel_too_deep, "tunnel_too_deep", "frames nested deeper than kMaxEncapsulations")   \
  X(sctp_packets, "sctp_packets", "SCTP packets")                                         \
  X(sctp_data_chunks, "sctp_data_chunks", "SCTP DATA chunks")                             \
  X(sctp_reassembled, "sctp_reassembled", "SCTP user messages rebuilt from fragments")    \
  X(sctp_errors, "sctp_errors", "SCTP chunks malformed, or fragments dropped")            \
  X(hep_packets, "hep_packets", "HEP packets unwrapped from the capture")                 \
  X(hep_errors, "hep_errors", "HEP packets in the capture that could not be decoded")     \
  X(tls_connections, "tls_connections", "TCP connections carrying TLS (SIPS, unreadable)") \
  X(tls_bytes, "tls_bytes", "TCP payload bytes of those connections")                     \
  X(non_sip, "non_sip", "transport payloads that were not SIP")                           \
  X(sip_payloads, "sip_payloads", "SIP message candidates handed on (OnPayload calls)")

struct DecoderCounters {
#define SIPMAN_DECLARE_COUNTER(field, name, help) uint64_t field = 0;
  SIPMAN_DECODER_COUNTERS(SIPMAN_DECLARE_COUNTER)
#undef SIPMAN_DECLARE_COUNTER
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
