// The media module's public face: RTP and RTCP decoding (RFC 3550), RTCP
// multiplexed on the RTP port (RFC 5761), telephone events (RFC 4733) and
// the RTCP XR VoIP Metrics block (RFC 3611 section 4.7). Zero-copy: every
// view points into the packet given, valid as long as it is. No allocation.
#ifndef SIPMAN_MEDIA_MEDIA_H_
#define SIPMAN_MEDIA_MEDIA_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "sip/sip.h"

namespace sipman::media {

// ---------------------------------------------------------------- RTP

// One RTP packet (RFC 3550 section 5.1).
struct RtpPacket {
  uint8_t payload_type = 0;
  bool marker = false;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint8_t csrc_count = 0;
  std::string_view csrcs;  // csrc_count 32-bit identifiers, big-endian
  bool has_extension = false;
  uint16_t extension_profile = 0;  // "defined by profile" (0xBEDE: RFC 8285 one-byte)
  std::string_view extension;      // the extension's words, without its own header
  std::string_view payload;        // without the padding
  uint8_t padding = 0;             // padding bytes at the end (their count included)
};

enum class RtpError : uint8_t {
  kNone,
  kTooShort,            // under the 12-byte fixed header
  kNotVersion2,         // version bits are not 2
  kCsrcTruncated,       // the CSRC list runs past the packet
  kExtensionTruncated,  // the header extension runs past the packet
  kBadPadding,          // padding count 0 or larger than what follows the header
};

// Decodes `packet`; on an error *out is unspecified.
RtpError ParseRtp(std::string_view packet, RtpPacket* out);
std::string_view RtpErrorName(RtpError error);

// The i-th CSRC of a packet (i < csrc_count).
uint32_t CsrcAt(const RtpPacket& packet, size_t i);

// RTCP on the RTP port (RFC 5761 section 4): the second byte of an RTCP
// packet is its type, 192 to 223, which RTP payload types avoid (64 to 95
// with the marker bit set are not to be used on a multiplexed port).
bool LooksLikeRtcp(std::string_view packet);

// ---------------------------------------------------------------- RFC 4733

// A named telephone event (RFC 4733 section 2.3): a DTMF digit, a tone.
struct TelephoneEvent {
  uint8_t event = 0;      // 0-9 digits, 10 '*', 11 '#', 12-15 'A'-'D', ...
  bool end = false;       // the E bit: the event's last packets
  uint8_t volume = 0;     // 0 to 63, -dBm0
  uint16_t duration = 0;  // in timestamp units, from the event's start
};
// False when `payload` is shorter than the 4-byte event.
bool ParseTelephoneEvent(std::string_view payload, TelephoneEvent* out);
// '0'-'9', '*', '#', 'A'-'D' for events 0 to 15; 0 for any other event.
char DtmfDigit(uint8_t event);

// ---------------------------------------------------------------- RTCP

enum RtcpType : uint8_t {
  kRtcpSenderReport = 200,
  kRtcpReceiverReport = 201,
  kRtcpSourceDescription = 202,
  kRtcpBye = 203,
  kRtcpApp = 204,
  kRtcpExtendedReport = 207,  // RFC 3611
};

// The sender information of an SR (RFC 3550 section 6.4.1).
struct RtcpSenderInfo {
  uint64_t ntp_timestamp = 0;  // 32.32 fixed point
  uint32_t rtp_timestamp = 0;
  uint32_t packet_count = 0;
  uint32_t octet_count = 0;
};

// One report block of an SR or RR: what `reporter` received from `source`.
struct RtcpReportBlock {
  uint32_t source = 0;
  uint8_t fraction_lost = 0;        // of 256, since the previous report
  int32_t cumulative_lost = 0;      // 24-bit signed: duplicates may make it negative
  uint32_t highest_sequence = 0;    // extended highest sequence number received
  uint32_t jitter = 0;              // interarrival jitter, timestamp units
  uint32_t last_sr = 0;             // LSR: middle 32 bits of the last SR's NTP time
  uint32_t delay_since_last_sr = 0; // DLSR, in 1/65536 s
};

// RTCP XR VoIP Metrics (RFC 3611 section 4.7). Values 127 (or 0xFFFF,
// 0x7F for levels) mean "unavailable" as the RFC says; they are passed on.
struct VoipMetrics {
  uint32_t source = 0;
  uint8_t loss_rate = 0, discard_rate = 0;        // of 256
  uint8_t burst_density = 0, gap_density = 0;     // of 256
  uint16_t burst_duration_ms = 0, gap_duration_ms = 0;
  uint16_t round_trip_delay_ms = 0, end_system_delay_ms = 0;
  int8_t signal_level_dbm = 0, noise_level_dbm = 0;
  uint8_t residual_echo_return_loss = 0, gmin = 0;
  uint8_t r_factor = 0, external_r_factor = 0;
  uint8_t mos_lq = 0, mos_cq = 0;  // MOS x 10 (41: 4.1); 127: unavailable
  uint8_t rx_config = 0;
  uint16_t jb_nominal_ms = 0, jb_maximum_ms = 0, jb_abs_max_ms = 0;
};

// What WalkRtcp finds, in packet order. The default does nothing, so a
// visitor overrides only what it needs.
class RtcpVisitor {
 public:
  virtual ~RtcpVisitor() = default;
  virtual void OnSenderReport(uint32_t /*sender*/, const RtcpSenderInfo& /*info*/) {}
  virtual void OnReportBlock(uint32_t /*reporter*/, const RtcpReportBlock& /*block*/) {}
  virtual void OnCname(uint32_t /*source*/, std::string_view /*cname*/) {}
  virtual void OnBye(uint32_t /*source*/) {}
  virtual void OnVoipMetrics(uint32_t /*reporter*/, const VoipMetrics& /*metrics*/) {}
};

enum class RtcpError : uint8_t {
  kNone,
  kTooShort,      // under one 4-byte header, or a packet's fixed part cut off
  kNotVersion2,   // a packet's version bits are not 2
  kBadLength,     // a packet's length runs past the compound packet
  kBadItem,       // an SDES item or XR block runs past its packet
  kBadJson,       // HEP's JSON report is not a JSON object of that shape
};

// What one compound packet held.
struct RtcpCounts {
  uint32_t packets = 0;  // RTCP packets in the compound, every type
  uint32_t unknown = 0;  // of types this walker skips (APP, feedback, ...)
};

// Walks a compound RTCP packet (RFC 3550 section 6.1), calling `visitor`
// for what it holds. It stops at the first malformed packet and says why;
// what came before it was visited.
RtcpError WalkRtcp(std::string_view compound, RtcpVisitor* visitor, RtcpCounts* counts);
std::string_view RtcpErrorName(RtcpError error);

// ---------------------------------------------------------------- codecs

// What SIPMan knows of a codec: its clock, and the E-model's equipment
// impairment Ie and packet-loss robustness Bpl (ITU-T G.113 Appendix I);
// has_emodel is false where G.113 gives no figures (no MOS then).
struct CodecInfo {
  std::string_view name;     // as in rtpmap ("PCMU"), or RFC 3551's name
  uint32_t clock_rate = 0;   // Hz; 0 when unknown
  bool has_emodel = false;
  double ie = 0, bpl = 0;
};
// The codec of a static payload type (RFC 3551 tables 4 and 5); an empty
// name for dynamic and unassigned ones.
CodecInfo StaticCodec(uint8_t payload_type);
// E-model figures for a codec named in an rtpmap (case-insensitive).
CodecInfo CodecByName(std::string_view name, uint32_t clock_rate);

// ---------------------------------------------------------------- E-model

// ITU-T G.107 with its default values for everything but the codec, the
// packet loss and the one-way delay: R = 93.2 - Idd(delay) - Ie,eff with
// Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl).
double EModelR(double ie, double bpl, double loss_percent, double burst_ratio,
               double one_way_delay_ms);
// G.107 Annex B: R to the MOS (conversational quality), 1 to 4.5.
double MosFromR(double r);

// ---------------------------------------------------------------- streams

// A party of a call: the caller is the From of the call's first message
// with SDP when that is a request (the To when it is a response).
enum class Side : uint8_t { kUnknown, kCaller, kCallee };
std::string_view SideName(Side side);  // "", "caller", "callee"

// The counted and measured figures of an RTP stream, declared once:
// X(type, field, "what it is"). docs/METRICS.md defines every one.
#define SIPMAN_STREAM_COUNTS(X)                                                               \
  X(uint64_t, packets, "RTP packets")                                                         \
  X(uint64_t, bytes, "their bytes: RTP header, payload and padding")                          \
  X(int64_t, expected, "Wireshark: last - first sequence number + 1, wraps counted")          \
  X(int64_t, lost, "Wireshark: expected - packets (negative with duplicates)")                \
  X(uint64_t, sequence_errors, "Wireshark: packets out of sequence (jumps, late, duplicated)") \
  X(int64_t, expected_rfc3550, "RFC 3550 A.1: extended highest - base + 1, restarts summed")  \
  X(int64_t, lost_rfc3550, "RFC 3550 A.1: expected - distinct packets received")               \
  X(uint64_t, duplicates, "packets whose sequence number was already received")               \
  X(uint64_t, out_of_order, "packets behind the highest sequence number, not duplicates")     \
  X(uint64_t, discontinuities, "forward jumps over one sequence number, and big jumps")        \
  X(uint64_t, restarts, "sequence restarts (RFC 3550 A.1: two packets after a big jump)")     \
  X(uint64_t, telephone_events, "RFC 4733 events ended (DTMF digits and tones)")             \
  X(uint64_t, discarded_fixed50, "packets too late for a fixed 50 ms jitter buffer")           \
  X(uint64_t, discarded_adaptive, "packets too late for the adaptive jitter buffer")          \
  X(uint64_t, rtcp_reports, "RTCP report blocks about this SSRC (from its receiver)")          \
  X(int64_t, rtcp_cumulative_lost, "the last report block's cumulative number lost")

#define SIPMAN_STREAM_MEASURES(X)                                                          \
  X(double, max_delta_ms, "Wireshark: longest time between regular packets")               \
  X(double, mean_delta_ms, "Wireshark: mean time between regular packets")                 \
  X(double, max_jitter_ms, "Wireshark: highest RFC 3550 interarrival jitter")              \
  X(double, mean_jitter_ms, "Wireshark: mean interarrival jitter")                         \
  X(double, longest_gap_ms, "longest time between any two packets")                        \
  X(double, burst_ratio, "G.107 BurstR of the losses and late discards (1: random)")       \
  X(double, mos_fixed50, "E-model MOS after a fixed 50 ms buffer; -1 when not computable") \
  X(double, mos_adaptive, "E-model MOS after the adaptive buffer; -1 when not computable")   \
  X(double, rtcp_fraction_lost_pct, "the last report block's fraction lost, in %")          \
  X(double, rtcp_jitter_ms, "the highest jitter the reports give, in ms (stream's clock)")  \
  X(double, rtcp_rtt_ms, "round trip from an SR and the block answering it; -1 none")      \
  X(double, xr_mos_lq, "RTCP XR VoIP Metrics MOS-LQ about this SSRC; -1 none")             \
  X(double, xr_mos_cq, "RTCP XR VoIP Metrics MOS-CQ about this SSRC; -1 none")

// One interval of a stream (10 s, wider for long streams: see
// StreamFigures::interval_ns): counts, so that intervals add up.
struct StreamInterval {
  uint32_t packets = 0;   // arrived in the interval (Wireshark's count)
  uint32_t expected = 0;  // RFC 3550 A.1 expected, this interval's share
  int32_t lost = 0;       // expected - distinct received; negative when packets
                          // missing at the previous interval's end came late
  uint32_t late = 0;      // too late for the fixed 50 ms jitter buffer
  uint32_t loss_runs = 0, lost_settled = 0, played_settled = 0;  // for BurstR
  float max_jitter_ms = 0;  // Wireshark's interarrival jitter, highest
  float mos = -1;           // E-model after the fixed buffer; -1 when none

  void Add(const StreamInterval& other);  // mos is left as it is
};

// The figures of one RTP stream (one SSRC from one source to one
// destination address and port).
struct StreamFigures {
  IpAddress src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t ssrc = 0;
  // The call whose SDP announced the destination (else the source); empty
  // when no SDP announced either end. Media between two phones that a
  // B2BUA's re-INVITEs joined belongs to both legs: other_call_id is then
  // the source's call.
  std::string call_id;
  Side sender = Side::kUnknown;  // who sent it, in call_id's call
  std::string other_call_id;
  Side other_sender = Side::kUnknown;
  bool from_unexpected_source = false;  // joined by its destination only (NAT)
  // Its payload type is not in the format list of the SDP that announced
  // the endpoint it was joined by (a codec the answer did not accept).
  bool payload_not_negotiated = false;
  // Known only from the endpoints' RTCP that a HEP agent sent (no RTP seen):
  // packets from the sender's last SR, loss and jitter from its receiver's
  // reports, MOS from that loss (docs/METRICS.md, "RTCP-only streams").
  bool rtcp_only = false;
  std::string codec;      // of the first payload type that is not an event or CN
  uint8_t payload_type = 0;
  uint32_t clock_rate = 0;
  uint64_t payload_types_seen[2] = {};  // bit n of [n / 64]: payload type n seen
  TimestampNs first_ts = 0, last_ts = 0;
  std::string dtmf;       // the DTMF digits of the events, in order (64 at most)
  // Interval i covers [interval_start_ts + i * interval_ns, + interval_ns);
  // interval_start_ts is a multiple of 10 s since the epoch.
  TimestampNs interval_start_ts = 0, interval_ns = 0;
  std::vector<StreamInterval> intervals;
#define SIPMAN_DECLARE_FIGURE(type, field, help) type field = 0;
  SIPMAN_STREAM_COUNTS(SIPMAN_DECLARE_FIGURE)
  SIPMAN_STREAM_MEASURES(SIPMAN_DECLARE_FIGURE)
#undef SIPMAN_DECLARE_FIGURE
};

// The stream's intervals as one JSON object, the shape stored with the
// stream and served by the API: {"start_ts": epoch s, "width_s": 10,
// "packets": [...], "expected": [...], "lost": [...], "late": [...],
// "max_jitter_ms": [...], "mos": [... null where none]}; arrays in time order.
void AppendIntervalsJson(const StreamFigures& stream, std::string* out);

// One direction of a call's media: every stream one party sent.
struct DirectionMedia {
  std::string codec;  // of its stream with the most packets
  uint64_t codec_packets = 0;  // that stream's packets
  uint32_t streams = 0;
  uint64_t packets = 0;
  int64_t expected = 0, lost = 0;  // RFC 3550 A.1, summed over the streams
  double loss_percent = 0;         // lost / expected
  double max_jitter_ms = 0;
  double mos_min = -1, mos_avg = -1;  // fixed 50 ms buffer; avg weighted by packets
  uint64_t mos_packets = 0;           // the packets mos_avg is weighted by
  TimestampNs first_ts = 0, last_ts = 0;
};

// A call's media, by who sent it.
struct CallMedia {
  DirectionMedia from_caller, from_callee;
  uint32_t streams_of_unknown_side = 0;
  bool from_unexpected_source = false;
  bool payload_not_negotiated = false;
};

// Adds one stream's figures to a call's, as sent by `sender`.
void AddStream(const StreamFigures& stream, Side sender, CallMedia* media);

// Receives streams when they end (idle, evicted, or at Finish).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void OnStream(const StreamFigures& stream) = 0;
};

struct MediaTrackerOptions {
  // SDP endpoints (address, port) remembered at once; past it the least
  // recently announced is forgotten (endpoints_evicted).
  size_t max_endpoints = 262144;
  // RTP streams measured at once; past it the one queued longest (requeued
  // once per stream_idle_ns while active) is emitted early
  // (streams_evicted).
  size_t max_streams = 131072;
  // An endpoint no SDP announced again and no media used for this long is
  // forgotten; a stream without packets for this long is emitted.
  TimestampNs endpoint_idle_ns = 3600 * kNsPerSecond;
  // Calls whose media is summed at once (their SDP seen, TakeCallMedia not
  // yet called); past it the least recently active is forgotten.
  size_t max_calls = 262144;
  TimestampNs stream_idle_ns = 60 * kNsPerSecond;
};

// A call's streams running at once at most: datagrams with ever new SSRCs
// sent to a call's media port (a flood) make no more (streams_refused).
constexpr size_t kMaxStreamsPerCall = 32;

// What the tracker saw, declared once: X(field, "name", what it counts).
#define SIPMAN_MEDIA_COUNTERS(X)                                                              \
  X(sdp_endpoints, "sdp_endpoints", "media endpoints announced by SDP (RTP and RTCP)")        \
  X(sdp_refused, "sdp_refused", "SDP media lines refused (no address, port 0, not RTP)")      \
  X(rtp_packets, "rtp_packets", "RTP packets measured")                                       \
  X(rtcp_packets, "rtcp_packets", "RTCP compound packets on media endpoints")                 \
  X(rtcp_errors, "rtcp_errors", "RTCP packets malformed")                                     \
  X(rtp_errors, "rtp_errors", "datagrams on media endpoints that are not RTP v2")             \
  X(rtp_malformed, "rtp_malformed", "RTP with a cut CSRC list, extension or padding: measured") \
  X(unassociated_packets, "unassociated_packets", "RTP packets of streams no SDP announced")  \
  X(streams, "streams", "RTP streams measured")                                               \
  X(unassociated_streams, "unassociated_streams", "of those, streams no SDP announced")       \
  X(streams_evicted, "streams_evicted", "streams emitted early for max_streams")             \
  X(endpoints_evicted, "endpoints_evicted", "SDP endpoints forgotten for max_endpoints")     \
  X(calls_evicted, "calls_evicted", "calls' media summaries forgotten for max_calls")     \
  X(streams_refused, "streams_refused", "new SSRCs past kMaxStreamsPerCall: counted, not measured") \
  X(hep_rtcp_reports, "hep_rtcp_reports", "RTCP reports HEP agents sent (payload type 5)")  \
  X(rtcp_only_streams, "rtcp_only_streams", "streams known from HEP's RTCP alone, no RTP seen")  \
  X(rtcp_only_dropped, "rtcp_only_dropped", "RTCP-only sources of calls never taken (idle, bound, end)")

struct MediaCounters {
#define SIPMAN_DECLARE_COUNTER(field, name, help) uint64_t field = 0;
  SIPMAN_MEDIA_COUNTERS(SIPMAN_DECLARE_COUNTER)
#undef SIPMAN_DECLARE_COUNTER
};

// Joins UDP datagrams to the calls whose SDP announced their addresses and
// measures every RTP stream. Not thread-safe. Per packet it allocates
// nothing once a stream exists.
class MediaTracker {
 public:
  // `sink` must outlive the tracker.
  MediaTracker(const MediaTrackerOptions& options, StreamSink* sink);
  ~MediaTracker();
  MediaTracker(const MediaTracker&) = delete;
  MediaTracker& operator=(const MediaTracker&) = delete;

  // An SDP body seen at `ts` in `message`: each RTP media line's address and
  // port (and its RTCP port) now belong to the message's call and to the
  // side that sent it, with the payload types it maps.
  void OnSdp(TimestampNs ts, const sip::SipMessage& message, const sip::SdpSession& sdp);

  // The call was hung up (a BYE): the next call that announces its
  // addresses and ports takes them alone (see media_tracker.cc).
  void OnCallEnded(std::string_view call_id);

  // An RTCP report a HEP agent sent (HEP payload type 5): raw RTCP, or its
  // JSON rendering. `call_id` is the HEP correlation ID (may be empty: the
  // addresses' SDP then names the call). Its figures join the RTP stream
  // of the SSRC it reports on; a stream whose RTP this sensor never saw is
  // emitted from the reports alone when its call is taken (rtcp_only).
  void OnHepRtcp(TimestampNs ts, std::string_view call_id, const IpAddress& src,
                 uint16_t src_port, const IpAddress& dst, uint16_t dst_port,
                 std::string_view payload);

  // The media of a call so far, its streams still running included; the
  // call is then forgotten here (its streams go on to the sink). False
  // when no SDP of the call was seen.
  bool TakeCallMedia(std::string_view call_id, CallMedia* out);

  // A UDP datagram that is not SIP. Returns false when it is not media
  // (no SDP endpoint at either end, and not an RTP stream found alone).
  bool OnDatagram(TimestampNs ts, const IpAddress& src, uint16_t src_port,
                  const IpAddress& dst, uint16_t dst_port, std::string_view data);

  // Emits the streams idle at `now` and forgets idle endpoints. Cheap when
  // nothing is due.
  void AdvanceTime(TimestampNs now);
  // Emits every stream, in the order they began.
  void Finish();

  const MediaCounters& counters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_MEDIA_H_
