// The media tracker: joins datagrams to calls through the endpoint table
// (SDP), measures each RTP stream, and sums each call's streams.
#include <algorithm>
#include <list>
#include <unordered_map>
#include <vector>

#include "media/call_media.h"
#include "media/endpoint_table.h"
#include "media/keys.h"
#include "media/media.h"
#include "media/rtcp_only.h"
#include "media/rtcp_reports.h"
#include "media/rtp_stream.h"

namespace sipman::media {
namespace {

constexpr uint8_t kComfortNoise = 13, kComfortNoiseOld = 19;

// A call a stream belongs to, and who sent it there.
struct CallLink {
  std::string call_id;
  Side sender = Side::kUnknown;
};

struct Stream {
  uint64_t index = 0;  // creation order
  CallLink links[2];   // the destination's call (else the source's); the source's when another
  bool from_unexpected_source = false;
  bool payload_not_negotiated = false;
  uint8_t payload_type = 0;
  CodecInfo codec;
  std::string codec_name;  // owns codec.name's text
  bool codec_known = false;
  RtpStream measure;
  TelephoneEvents events;
  // The facts of the last payload type, so that a known stream's packets
  // need no endpoint lookup (the per-packet fast path).
  uint8_t cached_pt = 0xff;
  uint32_t cached_clock = 0;
  bool cached_event = false;
  // The endpoint it was joined by, marked in use about once a second.
  EndpointKey joined_by;
  TimestampNs touched_at = 0;
  uint64_t checked_takeovers = 0;  // EndpointTable::takeovers() when last checked
  TimestampNs queued_at = 0;             // put at the back of the age list
  std::list<StreamKey>::iterator order;  // in the age list
};

// A stream no SDP announced is taken as RTP after this many packets in
// sequence from one source to one destination with one SSRC. The candidates
// live in a fixed table, so a flood of random datagrams creates no state.
constexpr uint32_t kPacketsToDetect = 4;
constexpr size_t kCandidateSlots = 4096;

struct Candidate {
  StreamKey key;
  uint16_t next_seq = 0;
  uint32_t packets = 0;
  TimestampNs last_ts = 0;
};

// MGCP (RFC 3435) gateways get their SDP from the call agent.
bool IsMgcpPort(uint16_t port) { return port == 2427 || port == 2727; }

// An MGCP command or response with SDP: the header lines, a blank line, the
// SDP. "C:" names the call. False when there is no SDP.
bool SplitMgcp(std::string_view data, std::string_view* call_id, std::string_view* sdp) {
  size_t blank = data.find("\n\n");
  size_t skip = 2;
  if (const size_t crlf = data.find("\r\n\r\n"); crlf < blank) {
    blank = crlf;
    skip = 4;
  }
  if (blank == std::string_view::npos) return false;
  const std::string_view head = data.substr(0, blank);
  *call_id = {};
  for (size_t at = 0; at < head.size();) {
    size_t end = head.find('\n', at);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > 2 && (line[0] == 'C' || line[0] == 'c') && line[1] == ':') {
      *call_id = line.substr(2);
      while (!call_id->empty() && call_id->front() == ' ') call_id->remove_prefix(1);
    }
    at = end + 1;
  }
  *sdp = data.substr(blank + skip);
  return true;
}

}  // namespace

class MediaTracker::Impl {
 public:
  Impl(const MediaTrackerOptions& options, StreamSink* sink)
      : options_(options),
        sink_(sink),
        endpoints_(options_, &counters_),
        calls_(options_, &counters_),
        candidates_(kCandidateSlots),
        rtcp_(options_.max_streams),
        rtcp_only_(options_.max_streams, options_.endpoint_idle_ns, &counters_) {}

  void OnSdp(TimestampNs ts, const sip::SipMessage& message, const sip::SdpSession& sdp) {
    const Side side = calls_.SenderOf(ts, message.call_id, message.from.tag, message.is_request);
    endpoints_.Announce(ts, message.call_id, side, sdp, calls_);
  }

  void OnCallEnded(std::string_view call_id) { calls_.Ended(call_id); }

  void OnHepRtcp(TimestampNs ts, std::string_view call_id, const IpAddress& src,
                 uint16_t src_port, const IpAddress& dst, uint16_t dst_port,
                 std::string_view payload) {
    ++counters_.hep_rtcp_reports;
    if (rtcp_.WalkHep(ts, payload, &report_ssrcs_) != RtcpError::kNone) {
      ++counters_.rtcp_errors;
      return;
    }
    // Who reported: the party whose SDP named the address it came from
    // (a party receives where it sends from), else the other one of the
    // address it went to.
    // A correlation ID that names no call here (Asterisk's channel name,
    // say) gives way to the call the SDP names.
    Side reporter = Side::kUnknown;
    std::string_view call = call_id;
    const bool call_known = !call.empty() && calls_.Has(call);
    auto usable = [&](const Endpoint* e) {
      return e != nullptr && (!call_known || e->call_id == call);
    };
    if (const Endpoint* e = FindNear(src, src_port); usable(e)) {
      reporter = e->side;
      call = e->call_id;
    } else if (const Endpoint* d = FindNear(dst, dst_port); usable(d)) {
      reporter = Other(d->side);
      call = d->call_id;
    }
    if (call.empty()) return;  // neither a correlation ID nor an SDP: figures by SSRC only
    const ReportSsrcs& r = report_ssrcs_;
    if (r.reporter_sent) {
      rtcp_only_.Note(ts, call, {r.reporter, reporter, src, dst, src_port, dst_port, 0, 0});
    }
    for (size_t i = 0; i < r.source_count; ++i) {
      rtcp_only_.Note(ts, call, {r.sources[i], Other(reporter), dst, src, dst_port, src_port, 0, 0});
    }
  }

  bool OnDatagram(TimestampNs ts, const IpAddress& src, uint16_t src_port, const IpAddress& dst,
                  uint16_t dst_port, std::string_view data) {
    if ((IsMgcpPort(src_port) || IsMgcpPort(dst_port)) && OnMgcp(ts, data)) return true;
    if (OnKnownStream(ts, src, src_port, dst, dst_port, data)) return true;
    // The source first, as Wireshark looks up its conversations.
    Endpoint* at_src = endpoints_.Find(EndpointKey{src, src_port});
    Endpoint* at_dst = endpoints_.Find(EndpointKey{dst, dst_port});
    Endpoint* endpoint = at_src != nullptr ? at_src : at_dst;
    if (endpoint == nullptr) return OnUnannounced(ts, src, src_port, dst, dst_port, data);
    endpoint->last_used = ts;

    // The receiver's endpoint says best whether this is its RTCP port.
    if ((at_dst != nullptr ? at_dst->rtcp : at_src->rtcp) || LooksLikeRtcp(data)) {
      ++counters_.rtcp_packets;
      if (rtcp_.Walk(ts, data) != RtcpError::kNone) ++counters_.rtcp_errors;
      return true;
    }
    const RtpError error = ParseRtp(data, &rtp_);
    if (error == RtpError::kTooShort || error == RtpError::kNotVersion2) {
      ++counters_.rtp_errors;  // STUN, DTLS, ZRTP, garbage
      return true;
    }
    if (error != RtpError::kNone) {
      // The fixed header is whole: measured by it, as Wireshark does.
      ++counters_.rtp_malformed;
      rtp_.payload = {};
    }
    const StreamKey key{src, dst, src_port, dst_port, rtp_.ssrc};
    Stream* stream = Find(key);
    if (stream == nullptr) {
      // The receiver's SDP says best whose stream it is: the other side's.
      // Then the sender's; then the calls that announced either before.
      CallLink links[2];
      size_t n = 0;
      auto link = [&](const std::string& call_id, Side sender) {
        if (n == 2 || call_id.empty() || (n == 1 && links[0].call_id == call_id)) return;
        links[n++] = CallLink{call_id, sender};
      };
      if (at_dst != nullptr) link(at_dst->call_id, Opposite(at_dst->side));
      if (at_src != nullptr) link(at_src->call_id, at_src->side);
      if (at_dst != nullptr) link(at_dst->previous_call_id, Opposite(at_dst->previous_side));
      if (at_src != nullptr) link(at_src->previous_call_id, at_src->previous_side);
      for (const CallLink& l : links) {
        if (!l.call_id.empty() && calls_.LiveStreams(l.call_id) >= kMaxStreamsPerCall) {
          ++counters_.streams_refused;
          return true;
        }
      }
      stream = Create(key, links);
      stream->from_unexpected_source = at_src == nullptr;
      stream->joined_by = at_dst != nullptr ? EndpointKey{dst, dst_port} : EndpointKey{src, src_port};
      stream->touched_at = ts;
      stream->checked_takeovers = endpoints_.takeovers();
    }
    Measure(ts, data.size(), stream, at_dst != nullptr ? at_dst : at_src);
    return true;
  }

  bool TakeCallMedia(std::string_view call_id, CallMedia* out) {
    const bool known = calls_.Take(call_id, out, &live_keys_, &rtp_ssrcs_);
    if (!known) {
      *out = CallMedia();
      rtp_ssrcs_.clear();
    }
    // Streams the endpoints' RTCP told of, whose RTP was not seen here.
    rtcp_only_.Take(call_id, rtp_ssrcs_, &rtcp_only_taken_);
    for (const RtcpOnlySource& source : rtcp_only_taken_) {
      RtcpOnlyFigures(call_id, source);
      AddStream(figures_, source.sender, out);
      ++counters_.rtcp_only_streams;
      sink_->OnStream(figures_);
    }
    if (!known) return !rtcp_only_taken_.empty();
    // Streams still running count with their figures so far.
    for (const StreamKey& key : live_keys_) {
      auto it = streams_.find(key);
      if (it == streams_.end()) continue;
      Figures(it->first, it->second);
      for (const CallLink& link : it->second.links) {
        if (!link.call_id.empty() && link.call_id == call_id) AddStream(figures_, link.sender, out);
      }
    }
    live_keys_.clear();
    return true;
  }

  // Streams are queued by creation; one still active goes to the back
  // once per idle period, so the age list costs nothing per packet.
  void AdvanceTime(TimestampNs now) {
    last_advance_ = now;
    while (!by_age_.empty()) {
      auto it = streams_.find(by_age_.front());
      Stream& s = it->second;
      if (s.queued_at + options_.stream_idle_ns > now) break;
      if (s.measure.last_ts() + options_.stream_idle_ns > now) {
        s.queued_at = now;
        by_age_.splice(by_age_.end(), by_age_, s.order);
        continue;
      }
      Emit(it);
    }
    endpoints_.Expire(now);
    calls_.Expire(now);
    rtcp_only_.Expire(now);
  }

  // Every stream, in the order they began.
  void Finish() {
    std::vector<Map::iterator> all;
    all.reserve(streams_.size());
    for (auto it = streams_.begin(); it != streams_.end(); ++it) all.push_back(it);
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a->second.index < b->second.index; });
    for (auto& it : all) Ended(it->first, it->second);
    streams_.clear();
    by_age_.clear();
    rtcp_only_.DropAll();  // their calls were never taken: counted, not emitted
  }

  const MediaCounters& counters() const { return counters_; }

 private:
  using Map = std::unordered_map<StreamKey, Stream, StreamKeyHash>;

  Stream* Find(const StreamKey& key) {
    auto it = streams_.find(key);
    return it == streams_.end() || !StillOfItsCall(it) ? nullptr : &it->second;
  }

  // A new call's SDP that takes over a stream's endpoint (the same ports and
  // SSRC in the next call, as SIPp and some gateways reuse them) ends the
  // stream: its next packet begins the new call's. Checked once per
  // takeover anywhere, so the fast path stays one lookup.
  bool StillOfItsCall(Map::iterator it) {
    Stream& s = it->second;
    if (s.checked_takeovers == endpoints_.takeovers()) return true;
    s.checked_takeovers = endpoints_.takeovers();
    const Endpoint* e = endpoints_.Find(s.joined_by);
    if (e == nullptr || s.links[0].call_id.empty() || e->call_id == s.links[0].call_id ||
        e->call_id == s.links[1].call_id) {
      return true;
    }
    Emit(it);
    return false;
  }

  // The fast path: an RTP packet of a stream already measured, with the
  // payload type of its last packet. False when it is anything else.
  bool OnKnownStream(TimestampNs ts, const IpAddress& src, uint16_t src_port, const IpAddress& dst,
                     uint16_t dst_port, std::string_view data) {
    if (data.size() < 12 || LooksLikeRtcp(data) || ParseRtp(data, &rtp_) != RtpError::kNone) {
      return false;
    }
    auto it = streams_.find(StreamKey{src, dst, src_port, dst_port, rtp_.ssrc});
    if (it == streams_.end() || !StillOfItsCall(it)) return false;
    Stream* s = &it->second;
    if (!s->codec_known || rtp_.payload_type != s->cached_pt) return false;
    if (ts - s->touched_at > kNsPerSecond) {
      // Keep the endpoint from expiring while its media flows.
      s->touched_at = ts;
      if (Endpoint* e = endpoints_.Find(s->joined_by)) e->last_used = ts;
    }
    Count(ts, data.size(), s, s->cached_clock, s->cached_event);
    return true;
  }

  static Side Opposite(Side side) {
    return side == Side::kCaller ? Side::kCallee : side == Side::kCallee ? Side::kCaller : side;
  }

  Stream* Create(const StreamKey& key, const CallLink (&links)[2]) {
    if (streams_.size() >= options_.max_streams && !by_age_.empty()) {
      ++counters_.streams_evicted;
      Emit(streams_.find(by_age_.front()));
    }
    Stream& s = streams_[key];
    s.index = next_index_++;
    s.queued_at = last_advance_;
    s.links[0] = links[0];
    s.links[1] = links[1];
    by_age_.push_back(key);
    s.order = std::prev(by_age_.end());
    ++counters_.streams;
    if (links[0].call_id.empty()) ++counters_.unassociated_streams;
    for (const CallLink& link : s.links) {
      if (!link.call_id.empty()) calls_.StreamBegan(link.call_id, key);
    }
    return &s;
  }

  void Measure(TimestampNs ts, size_t size, Stream* s, const Endpoint* endpoint) {
    const PayloadFacts facts = FactsOf(rtp_.payload_type, endpoint);
    const bool comfort_noise =
        rtp_.payload_type == kComfortNoise || rtp_.payload_type == kComfortNoiseOld;
    if (!s->codec_known && !facts.telephone_event && !facts.name.empty() && !comfort_noise) {
      s->codec_known = true;
      s->codec_name.assign(facts.name);
      s->codec = rtp_.payload_type < 96 ? StaticCodec(rtp_.payload_type)
                                        : CodecByName(s->codec_name, facts.clock_rate);
      s->codec.name = s->codec_name;
      s->codec.clock_rate = facts.clock_rate;
      s->payload_type = rtp_.payload_type;
      if (endpoint != nullptr) {
        const uint8_t pt = rtp_.payload_type;
        s->payload_not_negotiated = ((endpoint->formats[pt >> 6] >> (pt & 63)) & 1) == 0;
      }
    }
    s->cached_pt = rtp_.payload_type;
    s->cached_clock = facts.clock_rate;
    s->cached_event = facts.telephone_event;
    Count(ts, size, s, facts.clock_rate, facts.telephone_event);
  }

  void Count(TimestampNs ts, size_t size, Stream* s, uint32_t clock_rate, bool telephone_event) {
    StreamPacket p;
    p.ts = ts;
    p.rtp = &rtp_;
    p.size = size;
    p.clock_rate = clock_rate;
    p.telephone_event = telephone_event;
    s->measure.OnPacket(p);
    if (telephone_event) s->events.OnPacket(rtp_);
    ++counters_.rtp_packets;
    if (s->links[0].call_id.empty()) ++counters_.unassociated_packets;
  }

  bool OnMgcp(TimestampNs ts, std::string_view data) {
    std::string_view call_id, sdp_text;
    if (!SplitMgcp(data, &call_id, &sdp_text) || !sip::ParseSdp(sdp_text, &sdp_)) return false;
    endpoints_.Announce(ts, call_id, Side::kUnknown, sdp_, calls_);
    return true;
  }

  bool OnUnannounced(TimestampNs ts, const IpAddress& src, uint16_t src_port, const IpAddress& dst,
                     uint16_t dst_port, std::string_view data) {
    if (ParseRtp(data, &rtp_) != RtpError::kNone || LooksLikeRtcp(data)) return false;
    const StreamKey key{src, dst, src_port, dst_port, rtp_.ssrc};
    if (Stream* known = Find(key)) {
      Measure(ts, data.size(), known, nullptr);
      return true;
    }
    Candidate& c = candidates_[StreamKeyHash{}(key) & (kCandidateSlots - 1)];
    if (c.packets > 0 && c.key == key && c.next_seq == rtp_.sequence &&
        ts - c.last_ts < kNsPerSecond) {
      ++c.packets;
    } else {
      c.key = key;
      c.packets = 1;
    }
    c.next_seq = static_cast<uint16_t>(rtp_.sequence + 1);
    c.last_ts = ts;
    if (c.packets < kPacketsToDetect) {
      ++counters_.unassociated_packets;
      return false;
    }
    c.packets = 0;
    Measure(ts, data.size(), Create(key, {}), nullptr);
    return true;
  }

  void Emit(Map::iterator it) {
    Ended(it->first, it->second);
    by_age_.erase(it->second.order);
    streams_.erase(it);
  }

  // A stream's figures go to its calls and to the sink.
  void Ended(const StreamKey& key, const Stream& s) {
    Figures(key, s);
    for (const CallLink& link : s.links) {
      if (!link.call_id.empty()) calls_.StreamEnded(link.call_id, link.sender, key, figures_);
    }
    rtcp_.Forget(key.ssrc);  // the next stream with this SSRC starts afresh
    sink_->OnStream(figures_);
  }

  // An endpoint by the address of its RTCP: the RTCP port itself, or the
  // RTP port below it (RFC 3550's default).
  const Endpoint* FindNear(const IpAddress& ip, uint16_t port) {
    if (const Endpoint* e = endpoints_.Find(EndpointKey{ip, port})) return e;
    return port > 0 ? endpoints_.Find(EndpointKey{ip, static_cast<uint16_t>(port - 1)}) : nullptr;
  }
  static Side Other(Side side) {
    return side == Side::kCaller ? Side::kCallee : side == Side::kCallee ? Side::kCaller : side;
  }

  // Fills figures_ for a stream known from RTCP alone: packets and bytes
  // from its sender's last SR, loss and jitter from its receiver's last
  // report, the codec from the receiver's SDP (its first format), and the
  // E-model MOS of that loss (random loss, no jitter buffer figures).
  void RtcpOnlyFigures(std::string_view call_id, const RtcpOnlySource& s) {
    StartFigures(StreamKey{s.src, s.dst, s.src_port, s.dst_port, s.ssrc});
    figures_.call_id.assign(call_id);
    figures_.sender = s.sender;
    figures_.rtcp_only = true;
    figures_.first_ts = s.first_ts;
    figures_.last_ts = s.last_ts;
    figures_.mos_fixed50 = figures_.mos_adaptive = -1;
    figures_.rtcp_rtt_ms = figures_.xr_mos_lq = figures_.xr_mos_cq = -1;
    CodecInfo codec;
    // The receiver's RTP endpoint (its RTCP one maps no formats).
    const Endpoint* receiver =
        s.dst_port > 0 ? endpoints_.Find(EndpointKey{s.dst, static_cast<uint16_t>(s.dst_port - 1)})
                       : nullptr;
    if (receiver == nullptr || receiver->rtcp) receiver = endpoints_.Find(EndpointKey{s.dst, s.dst_port});
    if (receiver != nullptr && !receiver->rtcp) {
      // The SDP's first format: its rtpmap lines keep their order (the
      // format bits do not), then the static ones by number.
      std::vector<int> order;
      for (const MappedPayload& p : receiver->payloads) order.push_back(p.payload_type);
      for (int pt = 0; pt < 128; ++pt) order.push_back(pt);
      for (int pt : order) {
        if (((receiver->formats[pt >> 6] >> (pt & 63)) & 1) == 0) continue;
        const PayloadFacts facts = FactsOf(static_cast<uint8_t>(pt), receiver);
        if (facts.telephone_event || facts.name.empty()) continue;
        figures_.codec.assign(facts.name);
        figures_.payload_type = static_cast<uint8_t>(pt);
        figures_.clock_rate = facts.clock_rate;
        codec = pt < 96 ? StaticCodec(static_cast<uint8_t>(pt))
                        : CodecByName(figures_.codec, facts.clock_rate);
        break;
      }
    }
    const RtcpAbout* about = rtcp_.About(s.ssrc);
    if (about == nullptr) return;
    figures_.rtcp_reports = about->reports;
    figures_.rtcp_cumulative_lost = about->cumulative_lost;
    figures_.rtcp_fraction_lost_pct = about->fraction_lost_pct;
    figures_.burst_ratio = 1;  // the reports say nothing of bursts
    if (figures_.clock_rate != 0) {
      figures_.rtcp_jitter_ms = about->jitter_units * 1000.0 / figures_.clock_rate;
      figures_.max_jitter_ms = figures_.mean_jitter_ms = figures_.rtcp_jitter_ms;
    }
    figures_.rtcp_rtt_ms = about->rtt_ms;
    figures_.xr_mos_lq = about->xr_mos_lq;
    figures_.xr_mos_cq = about->xr_mos_cq;
    // Without its sender's SR the packets are unknown, and so is the share
    // lost: no MOS then (its receiver's figures stay in the rtcp_ columns).
    if (!about->sent_report) {
      rtcp_.Forget(s.ssrc);
      return;
    }
    figures_.packets = about->sent_packets;
    figures_.bytes = about->sent_octets;
    const int64_t lost = std::max<int64_t>(0, about->cumulative_lost);
    figures_.lost = figures_.lost_rfc3550 = lost;
    figures_.expected = figures_.expected_rfc3550 = static_cast<int64_t>(figures_.packets) + lost;
    if (codec.has_emodel && about->reports > 0 && figures_.expected_rfc3550 > 0) {
      const double loss_pct = 100.0 * static_cast<double>(lost) / figures_.expected_rfc3550;
      figures_.mos_fixed50 = figures_.mos_adaptive =
          MosFromR(EModelR(codec.ie, codec.bpl, loss_pct, 1, 50 + 20));
    }
    rtcp_.Forget(s.ssrc);
  }

  // figures_ emptied, for the stream `key` names.
  void StartFigures(const StreamKey& key) {
    figures_ = StreamFigures{};
    figures_.src_ip = key.src;
    figures_.dst_ip = key.dst;
    figures_.src_port = key.src_port;
    figures_.dst_port = key.dst_port;
    figures_.ssrc = key.ssrc;
  }

  // Fills figures_ for a stream.
  void Figures(const StreamKey& key, const Stream& s) {
    StartFigures(key);
    figures_.call_id = s.links[0].call_id;
    figures_.sender = s.links[0].sender;
    figures_.other_call_id = s.links[1].call_id;
    figures_.other_sender = s.links[1].sender;
    figures_.from_unexpected_source = s.from_unexpected_source;
    figures_.payload_not_negotiated = s.payload_not_negotiated;
    figures_.codec = s.codec_name;
    figures_.payload_type = s.payload_type;
    s.measure.Fill(s.codec, &figures_);
    s.events.Fill(&figures_);
    figures_.rtcp_rtt_ms = figures_.xr_mos_lq = figures_.xr_mos_cq = -1;
    if (const RtcpAbout* r = rtcp_.About(key.ssrc)) {
      figures_.rtcp_reports = r->reports;
      figures_.rtcp_cumulative_lost = r->cumulative_lost;
      figures_.rtcp_fraction_lost_pct = r->fraction_lost_pct;
      if (figures_.clock_rate != 0) {
        figures_.rtcp_jitter_ms = r->jitter_units * 1000.0 / figures_.clock_rate;
      }
      figures_.rtcp_rtt_ms = r->rtt_ms;
      figures_.xr_mos_lq = r->xr_mos_lq;
      figures_.xr_mos_cq = r->xr_mos_cq;
    }
  }

  MediaTrackerOptions options_;
  StreamSink* sink_;
  MediaCounters counters_;
  EndpointTable endpoints_;
  CallMediaTable calls_;
  Map streams_;
  std::list<StreamKey> by_age_;  // least recently active first
  std::vector<Candidate> candidates_;
  std::vector<StreamKey> live_keys_;
  uint64_t next_index_ = 0;
  TimestampNs last_advance_ = 0;
  RtpPacket rtp_;
  sip::SdpSession sdp_;
  RtcpReports rtcp_;
  RtcpOnlySources rtcp_only_;
  ReportSsrcs report_ssrcs_;
  std::vector<uint32_t> rtp_ssrcs_;
  std::vector<RtcpOnlySource> rtcp_only_taken_;
  StreamFigures figures_;
};

MediaTracker::MediaTracker(const MediaTrackerOptions& options, StreamSink* sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}
MediaTracker::~MediaTracker() = default;

void MediaTracker::OnSdp(TimestampNs ts, const sip::SipMessage& message,
                         const sip::SdpSession& sdp) {
  impl_->OnSdp(ts, message, sdp);
}
bool MediaTracker::OnDatagram(TimestampNs ts, const IpAddress& src, uint16_t src_port,
                              const IpAddress& dst, uint16_t dst_port, std::string_view data) {
  return impl_->OnDatagram(ts, src, src_port, dst, dst_port, data);
}
bool MediaTracker::TakeCallMedia(std::string_view call_id, CallMedia* out) {
  return impl_->TakeCallMedia(call_id, out);
}
void MediaTracker::OnCallEnded(std::string_view call_id) { impl_->OnCallEnded(call_id); }
void MediaTracker::OnHepRtcp(TimestampNs ts, std::string_view call_id, const IpAddress& src,
                             uint16_t src_port, const IpAddress& dst, uint16_t dst_port,
                             std::string_view payload) {
  impl_->OnHepRtcp(ts, call_id, src, src_port, dst, dst_port, payload);
}
void MediaTracker::AdvanceTime(TimestampNs now) { impl_->AdvanceTime(now); }
void MediaTracker::Finish() { impl_->Finish(); }
const MediaCounters& MediaTracker::counters() const { return impl_->counters(); }

}  // namespace sipman::media
