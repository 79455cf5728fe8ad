// The hep module's public face: the Homer Encapsulation Protocol (HEP), with
// which SIP servers and capture agents (Kamailio siptrace, OpenSIPS,
// heplify, captagent) mirror the SIP messages they see.
//
// A HEP packet carries one transport payload (a SIP message) with the
// addresses, ports and capture time of the packet it came in, and the id of
// the capture agent. HEPv1/v2 use a fixed header; HEPv3 is "HEP3", a 16-bit
// total length and a list of chunks (vendor id, type id, length, value).
//
//   DecodeHep      one datagram (UDP) or one frame (TCP) -> HepPacket (views)
//   NextHepFrame   TCP framing: where the next HEPv3 packet in a stream ends
//   EncodeHep3     HepPacket -> a HEPv3 packet (into a reused buffer)
//   HepListener    UDP + TCP server, one thread, decoded packets to a HepSink
//   HepSender      HEPv3 to HOST:PORT over UDP or TCP, never blocking long
#ifndef SIPMAN_HEP_HEP_H_
#define SIPMAN_HEP_HEP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/base.h"

namespace sipman::hep {

constexpr uint16_t kDefaultPort = 9060;

// HEPv3 generic chunk types (vendor id 0).
enum ChunkType : uint16_t {
  kChunkIpFamily = 0x0001,        // u8: 2 (AF_INET) or 10 (AF_INET6)
  kChunkIpProtocol = 0x0002,      // u8: 17 UDP, 6 TCP
  kChunkIpv4Src = 0x0003,         // 4 bytes
  kChunkIpv4Dst = 0x0004,
  kChunkIpv6Src = 0x0005,         // 16 bytes
  kChunkIpv6Dst = 0x0006,
  kChunkSrcPort = 0x0007,         // u16
  kChunkDstPort = 0x0008,
  kChunkTimeSec = 0x0009,         // u32, seconds since the epoch
  kChunkTimeUsec = 0x000a,        // u32, microseconds within the second
  kChunkPayloadType = 0x000b,     // u8: 1 SIP (see kPayloadTypeSip)
  kChunkCaptureId = 0x000c,       // u32: the capture agent's id
  kChunkKeepAlive = 0x000d,       // u16: keep-alive timer, seconds
  kChunkAuthKey = 0x000e,         // octets: shared secret
  kChunkPayload = 0x000f,         // octets: the captured payload
  kChunkCompressedPayload = 0x0010,  // octets: payload, gzip or zlib (deflate)
  kChunkCorrelationId = 0x0011,   // octets: internal correlation id
  kChunkVlan = 0x0012,            // u16
  kChunkNodeName = 0x0013,        // octets: the capture agent's name
};

constexpr uint8_t kPayloadTypeSip = 1;
constexpr uint8_t kPayloadTypeRtcp = 5;  // RTCP, raw or as JSON
constexpr uint8_t kIpProtocolTcp = 6;
constexpr uint8_t kIpProtocolUdp = 17;

// A decoded HEP packet. LIFETIME: the string views point into the buffer
// handed to DecodeHep, or (for a compressed payload) into the inflate
// buffer given with it; they are valid while both are unchanged.
struct HepPacket {
  uint8_t version = 3;         // 1, 2 or 3
  IpAddress src_ip, dst_ip;    // same family
  uint16_t src_port = 0, dst_port = 0;
  TimestampNs ts = 0;          // 0 when the packet carries no time (HEPv1)
  uint8_t ip_protocol = kIpProtocolUdp;
  uint8_t payload_type = kPayloadTypeSip;
  uint32_t capture_id = 0;
  uint16_t keep_alive_s = 0;   // 0: absent
  uint16_t vlan = 0;           // 0: absent
  bool compressed = false;     // the payload came in chunk 0x0010
  std::string_view auth_key;
  std::string_view correlation_id;
  std::string_view node_name;
  std::string_view payload;
};

// Why a packet was rejected; the listener counts each reason.
enum class HepError : uint8_t {
  kOk = 0,
  kTooShort,           // shorter than any HEP header
  kBadMagic,           // neither "HEP3" nor version 1/2
  kBadLength,          // total length disagrees with the datagram or frame
  kBadChunk,           // chunk length < 6, or over the end of the packet
  kBadChunkValue,      // a fixed-size chunk of the wrong size, or a bad family
  kMissingAddress,     // no source/destination address of one family
  kMissingPayload,     // no payload chunk
  kBadCompression,     // compressed payload unreadable or too large
  kAuthFailed,         // missing or wrong auth key (listener only)
  kCount,
};

// A short name for counters and logs: "too_short", "bad_magic", ...
std::string_view HepErrorName(HepError error);

// Largest payload inflated from a compressed chunk; more is rejected
// (kBadCompression), so a small packet cannot allocate without bound.
constexpr size_t kMaxInflatedBytes = 256 * 1024;

// Decodes one HEP packet that fills `data` exactly (one UDP datagram, or one
// frame cut by NextHepFrame). Every read is bounded by `data`. Unknown
// generic chunks and every vendor chunk (vendor id != 0) are skipped.
// HEPv1/v2: the header's fields are in network order except HEPv2's time and
// capture id, which senders write in host order (little-endian in practice).
// A compressed payload is inflated into `*inflate_buffer` (reused, no
// allocation once warm); with a null buffer it is rejected (kBadCompression).
// Returns kOk and fills `*out`; on error `*out` is unspecified.
HepError DecodeHepPacket(std::span<const uint8_t> data, HepPacket* out,
                         std::string* inflate_buffer);

// As DecodeHepPacket, with the error as a Status naming the problem and
// where it was met ("HEP3 chunk 0x000f at offset 34 overruns the packet").
Status DecodeHep(std::span<const uint8_t> data, HepPacket* out, std::string* inflate_buffer);

// TCP framing. Looks at the bytes buffered from a stream and says whether
// they start with a whole HEPv3 packet (kFrame, `*frame_len` set), need more
// bytes (kNeedMore), or cannot be HEPv3 (kError: no "HEP3" magic, or a total
// length below the header's 6 bytes): the stream cannot be resynchronised.
enum class FrameStatus { kFrame, kNeedMore, kError };
FrameStatus NextHepFrame(std::span<const uint8_t> buffered, size_t* frame_len);

// Encodes `packet` as HEPv3 into `*out` (replacing its contents; the buffer
// is reused, so nothing is allocated once it is large enough). Writes the
// family, protocol, addresses, ports, time, payload type and capture id
// chunks always; keep-alive, vlan, auth key, correlation id and node name
// only when set; the payload uncompressed. Fails when the packet would
// exceed HEP's 65535-byte length or the addresses are missing or of
// different families.
Status EncodeHep3(const HepPacket& packet, std::string* out);

// Parses "PORT", "HOST:PORT", "[IPV6]:PORT" or a bare IPv6 literal with no
// port (then `default_port`). HOST may be a name or literal; empty for "PORT".
Status ParseHostPort(std::string_view text, uint16_t default_port, std::string* host,
                     uint16_t* port);

// Receives the decoded packets of a HepListener, on the listener's thread.
class HepSink {
 public:
  virtual ~HepSink() = default;
  // `packet` (and its views) is valid only during the call; copy to keep.
  // `received_ns` is the wall-clock time the listener read it.
  virtual void OnHepPacket(const HepPacket& packet, TimestampNs received_ns) = 0;
  // Called on the listener thread at least every 100 ms while it runs, with
  // or without traffic (e.g. to hand a batch on).
  virtual void OnIdle() {}
};

struct HepListenerOptions {
  // A literal address ("0.0.0.0", "::", "127.0.0.1", "::1"); "::" accepts
  // IPv4 too unless the system forbids dual-stack sockets.
  std::string address = "0.0.0.0";
  uint16_t port = kDefaultPort;  // 0: an ephemeral port (see udp_port())
  bool udp = true;
  bool tcp = true;
  // When not empty, packets must carry this auth key (chunk 0x000e);
  // others are rejected and counted as kAuthFailed. HEPv1/v2 have no key.
  std::string auth_key;
  // TCP: connections at once (more are accepted and closed at once) and
  // bytes buffered per connection (at least one maximal packet, 65535).
  size_t max_tcp_connections = 256;
  size_t tcp_buffer_bytes = 128 * 1024;
  // Idle TCP connections are closed after this long.
  int tcp_idle_timeout_s = 300;
  // SO_RCVBUF asked for the UDP socket (the kernel may cap it).
  int udp_receive_buffer_bytes = 8 << 20;
};

struct HepListenerCounters {
  uint64_t received = 0;  // datagrams and TCP frames read
  uint64_t bytes = 0;     // their bytes
  uint64_t decoded = 0;   // handed to the sink
  uint64_t rejected = 0;  // sum of rejected_by_reason
  uint64_t rejected_by_reason[static_cast<size_t>(HepError::kCount)] = {};
  uint64_t tcp_accepted = 0;
  uint64_t tcp_refused = 0;      // over max_tcp_connections
  uint64_t tcp_stream_errors = 0;  // closed: not HEPv3, or a frame over the buffer
  uint64_t tcp_idle_closed = 0;
  uint64_t receive_errors = 0;     // recv/accept failures other than EAGAIN
};

// A HEP server on one address: a UDP socket and a TCP listening socket,
// served by one thread with poll(). UDP datagrams are one packet each (v1,
// v2 or v3); TCP streams carry HEPv3 packets back to back, framed by their
// length field. Decoded packets go to the sink on the listener thread, in
// arrival order per socket.
class HepListener {
 public:
  // `sink` must outlive the listener.
  HepListener(const HepListenerOptions& options, HepSink* sink);
  // Stops the thread if running.
  ~HepListener();
  HepListener(const HepListener&) = delete;
  HepListener& operator=(const HepListener&) = delete;

  // Binds the sockets and starts the thread. Fails naming the address and
  // the reason (address in use, not a literal, permission).
  Status Start();
  // Ends the thread and closes every socket; the sink is not called after
  // Stop returns. Safe to call twice, and from any thread but the sink's.
  void Stop();

  // The bound ports (useful with port 0); 0 when that socket is not open.
  uint16_t udp_port() const;
  uint16_t tcp_port() const;

  // A snapshot; any thread.
  HepListenerCounters counters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

struct HepSenderOptions {
  std::string host;  // a name or literal
  uint16_t port = kDefaultPort;
  bool tcp = false;
  // Filled into packets that carry none (capture id 0, empty key or name).
  uint32_t capture_id = 0;
  std::string auth_key;
  std::string node_name;
  // TCP: bytes waiting for the socket at most; packets beyond are dropped
  // (counted). A broken connection is reopened, at most once per
  // reconnect_interval_ms.
  size_t max_pending_bytes = 4 << 20;
  int reconnect_interval_ms = 1000;
};

struct HepSenderCounters {
  uint64_t sent = 0;        // packets handed to the socket
  uint64_t bytes = 0;
  uint64_t dropped = 0;     // not sent: socket buffer full, no connection, too big
  uint64_t errors = 0;      // send/connect failures
  uint64_t reconnects = 0;  // TCP connections opened after the first
};

// Encodes SIP messages as HEPv3 and sends them. Send never waits: UDP uses
// non-blocking sends; TCP writes what the socket takes and keeps the rest in
// a bounded buffer that later calls (or Flush) write out. Not thread-safe:
// one thread sends.
class HepSender {
 public:
  // Resolves the host and opens the socket (TCP: starts connecting). Fails
  // naming HOST:PORT when the name does not resolve or no socket opens.
  static Result<std::unique_ptr<HepSender>> Open(const HepSenderOptions& options);
  ~HepSender();
  HepSender(const HepSender&) = delete;
  HepSender& operator=(const HepSender&) = delete;

  // Encodes and sends one packet; false when it was dropped (counted).
  bool Send(const HepPacket& packet);
  // TCP: writes what is pending, waiting at most `timeout_ms` in total.
  // Returns true when nothing is left pending.
  bool Flush(int timeout_ms);

  const HepSenderCounters& counters() const { return counters_; }
  const HepSenderOptions& options() const { return options_; }

 private:
  explicit HepSender(const HepSenderOptions& options);
  bool Connect();
  void WritePending();
  void CloseSocket();

  HepSenderOptions options_;
  HepSenderCounters counters_;
  int fd_ = -1;
  bool connected_ = false;  // TCP: the connection is established
  int64_t last_connect_ns_ = 0;
  bool ever_connected_ = false;
  struct Destination;
  std::unique_ptr<Destination> destination_;
  std::string packet_;   // encode buffer, reused
  std::string pending_;  // TCP bytes not yet written
  size_t pending_offset_ = 0;
  uint64_t pending_packets_ = 0;  // packets (partly) in pending_
};

}  // namespace sipman::hep

#endif  // SIPMAN_HEP_HEP_H_
