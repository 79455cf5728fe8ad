// The SDP-to-stream map and the table of streams: which call a datagram
// belongs to, and the measurement of each RTP stream.
#include <algorithm>
#include <cstring>
#include <list>
#include <unordered_map>
#include <vector>

#include "base/address_hash.h"
#include "media/media.h"
#include "media/rtp_stream.h"

namespace sipman::media {
namespace {

struct EndpointKey {
  IpAddress ip;
  uint16_t port = 0;
  friend bool operator==(const EndpointKey& a, const EndpointKey& b) {
    return a.port == b.port && a.ip == b.ip;
  }
};
struct EndpointKeyHash {
  size_t operator()(const EndpointKey& k) const {
    return HashAddressPair(0x6d656469 ^ k.port, k.ip, IpAddress{});
  }
};

// A payload type an SDP mapped (a=rtpmap).
struct MappedPayload {
  uint8_t payload_type = 0;
  uint32_t clock_rate = 0;
  std::string name;
};

// Where one side of a call wants to receive RTP or RTCP.
struct Endpoint {
  std::string call_id;
  bool rtcp = false;       // the RTCP port of a media line
  std::vector<MappedPayload> payloads;
  TimestampNs last_used = 0;  // announced, or media seen
  TimestampNs queued_at = 0;  // put at the back of endpoints_by_age_
  std::list<EndpointKey>::iterator order;  // in endpoints_by_age_
};

struct StreamKey {
  IpAddress src, dst;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t ssrc = 0;
  friend bool operator==(const StreamKey& a, const StreamKey& b) {
    return a.ssrc == b.ssrc && a.src_port == b.src_port && a.dst_port == b.dst_port &&
           a.src == b.src && a.dst == b.dst;
  }
};
struct StreamKeyHash {
  size_t operator()(const StreamKey& k) const {
    return HashAddressPair(uint64_t{k.ssrc} << 32 | uint64_t{k.src_port} << 16 | k.dst_port,
                           k.src, k.dst);
  }
};

struct Stream {
  uint64_t index = 0;  // creation order
  std::string call_id;
  bool from_unexpected_source = false;
  uint8_t payload_type = 0;
  CodecInfo codec;
  std::string codec_name;  // owns codec.name's text for dynamic types
  bool codec_known = false;
  RtpStream measure;
  TelephoneEvents events;
  std::list<StreamKey>::iterator order;  // in streams_by_age_
};

// A datagram's RTP facts for a payload type, from the static table or the
// endpoint's rtpmap.
struct PayloadFacts {
  uint32_t clock_rate = 0;
  bool telephone_event = false;
  std::string_view name;
};

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// A stream no SDP announced is taken as RTP after this many packets in
// sequence from one source to one destination with one SSRC.
constexpr uint32_t kPacketsToDetect = 4;
constexpr size_t kCandidateSlots = 4096;

struct Candidate {
  StreamKey key;
  uint16_t next_seq = 0;
  uint32_t packets = 0;
  TimestampNs last_ts = 0;
};

}  // namespace

class MediaTracker::Impl {
 public:
  Impl(const MediaTrackerOptions& options, StreamSink* sink)
      : options_(options), sink_(sink), candidates_(kCandidateSlots) {}

  void OnSdp(TimestampNs ts, std::string_view call_id, const sip::SdpSession& sdp) {
    for (size_t i = 0; i < sdp.media_count; ++i) {
      const sip::SdpMedia& m = sdp.media[i];
      IpAddress ip;
      if (m.port == 0 || m.protocol.find("RTP") == std::string_view::npos ||
          !ParseIpAddress(m.connection_address, &ip) || IsUnspecified(ip)) {
        ++counters_.sdp_refused;  // disabled, on hold (0.0.0.0), T.38, unreadable
        continue;
      }
      Endpoint& rtp = Announce(ts, EndpointKey{ip, m.port}, call_id, false);
      rtp.payloads.clear();
      for (size_t j = 0; j < m.rtpmap_count; ++j) {
        const sip::SdpRtpMap& map = m.rtpmaps[j];
        if (map.payload_type > 127) continue;
        rtp.payloads.push_back(MappedPayload{static_cast<uint8_t>(map.payload_type),
                                             map.clock_rate, std::string(map.encoding)});
      }
      if (m.rtcp_mux) continue;
      IpAddress rtcp_ip = ip;
      if (!m.rtcp_address.empty() && !ParseIpAddress(m.rtcp_address, &rtcp_ip)) rtcp_ip = ip;
      const uint32_t rtcp_port = m.rtcp_port != 0 ? m.rtcp_port : uint32_t{m.port} + 1;
      if (rtcp_port <= 65535) {
        Announce(ts, EndpointKey{rtcp_ip, static_cast<uint16_t>(rtcp_port)}, call_id, true);
      }
    }
  }

  bool OnDatagram(TimestampNs ts, const IpAddress& src, uint16_t src_port, const IpAddress& dst,
                  uint16_t dst_port, std::string_view data) {
    if (IsMgcpPort(src_port) || IsMgcpPort(dst_port)) {
      if (OnMgcp(ts, data)) return true;
    }
    datagram_size_ = data.size();
    // The source first, as Wireshark looks up its conversations.
    Endpoint* at_src = Find(EndpointKey{src, src_port});
    Endpoint* at_dst = Find(EndpointKey{dst, dst_port});
    Endpoint* endpoint = at_src != nullptr ? at_src : at_dst;
    if (endpoint == nullptr) return OnUnannounced(ts, src, src_port, dst, dst_port, data);
    endpoint->last_used = ts;

    if (endpoint->rtcp || LooksLikeRtcp(data)) {
      RtcpCounts counts;
      ++counters_.rtcp_packets;
      if (WalkRtcp(data, &rtcp_visitor_, &counts) != RtcpError::kNone) ++counters_.rtcp_errors;
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
    Stream* stream =
        FindOrCreate(StreamKey{src, dst, src_port, dst_port, rtp_.ssrc}, endpoint, at_src == nullptr);
    Measure(ts, stream, endpoint);
    return true;
  }

  void AdvanceTime(TimestampNs now) {
    while (!streams_by_age_.empty()) {
      auto it = streams_.find(streams_by_age_.front());
      if (it->second.measure.last_ts() + options_.stream_idle_ns > now) break;
      Emit(it);
    }
    // Endpoints are queued by announcement; one whose media kept it in use
    // goes to the back once per idle period, so each is looked at rarely.
    while (!endpoints_by_age_.empty()) {
      auto it = endpoints_.find(endpoints_by_age_.front());
      Endpoint& e = it->second;
      if (e.queued_at + options_.endpoint_idle_ns > now) break;
      if (e.last_used + options_.endpoint_idle_ns > now) {
        e.queued_at = now;
        endpoints_by_age_.splice(endpoints_by_age_.end(), endpoints_by_age_, e.order);
        continue;
      }
      Forget(it);
    }
  }

  void Finish() {
    std::vector<std::unordered_map<StreamKey, Stream, StreamKeyHash>::iterator> all;
    all.reserve(streams_.size());
    for (auto it = streams_.begin(); it != streams_.end(); ++it) all.push_back(it);
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a->second.index < b->second.index; });
    for (auto& it : all) {
      EmitFigures(it->first, it->second);
    }
    streams_.clear();
    streams_by_age_.clear();
  }

  const MediaCounters& counters() const { return counters_; }

 private:
  static bool IsUnspecified(const IpAddress& ip) {
    static const uint8_t kZero[16] = {};
    return std::memcmp(ip.bytes, kZero, 16) == 0;
  }

  Endpoint* Find(const EndpointKey& key) {
    auto it = endpoints_.find(key);
    return it == endpoints_.end() ? nullptr : &it->second;
  }

  Endpoint& Announce(TimestampNs ts, const EndpointKey& key, std::string_view call_id, bool rtcp) {
    auto [it, created] = endpoints_.try_emplace(key);
    Endpoint& e = it->second;
    if (created) {
      ++counters_.sdp_endpoints;
      endpoints_by_age_.push_back(key);
      e.order = std::prev(endpoints_by_age_.end());
      if (endpoints_.size() > options_.max_endpoints) {
        ++counters_.endpoints_evicted;
        Forget(endpoints_.find(endpoints_by_age_.front()));
      }
    } else {
      endpoints_by_age_.splice(endpoints_by_age_.end(), endpoints_by_age_, e.order);
    }
    if (e.call_id != call_id) e.call_id.assign(call_id);
    e.rtcp = rtcp;
    e.last_used = e.queued_at = ts;
    return e;
  }

  // Streams keep their own copy of the call: forgetting an endpoint ends
  // nothing but later joins.
  void Forget(std::unordered_map<EndpointKey, Endpoint, EndpointKeyHash>::iterator it) {
    endpoints_by_age_.erase(it->second.order);
    endpoints_.erase(it);
  }

  PayloadFacts Facts(uint8_t payload_type, const Endpoint* endpoint) const {
    PayloadFacts facts;
    if (payload_type < 96) {
      const CodecInfo info = StaticCodec(payload_type);
      facts.clock_rate = info.clock_rate;
      facts.name = info.name;
      return facts;
    }
    if (endpoint == nullptr) return facts;
    for (const MappedPayload& m : endpoint->payloads) {
      if (m.payload_type != payload_type) continue;
      facts.name = m.name;
      facts.telephone_event = StartsWithIgnoreCase(m.name, "telephone-event");
      facts.clock_rate = m.clock_rate;
      break;
    }
    return facts;
  }

  Stream* FindOrCreate(const StreamKey& key, const Endpoint* endpoint, bool by_destination_only) {
    auto [it, created] = streams_.try_emplace(key);
    Stream& s = it->second;
    if (created) {
      s.index = next_index_++;
      if (endpoint != nullptr) s.call_id = endpoint->call_id;
      s.from_unexpected_source = by_destination_only;
      streams_by_age_.push_back(key);
      s.order = std::prev(streams_by_age_.end());
      ++counters_.streams;
      if (endpoint == nullptr) ++counters_.unassociated_streams;
      if (streams_.size() > options_.max_streams) {
        ++counters_.streams_evicted;
        Emit(streams_.find(streams_by_age_.front()));
        it = streams_.find(key);
      }
    } else {
      streams_by_age_.splice(streams_by_age_.end(), streams_by_age_, s.order);
    }
    return &it->second;
  }

  void Measure(TimestampNs ts, Stream* s, const Endpoint* endpoint) {
    const PayloadFacts facts = Facts(rtp_.payload_type, endpoint);
    if (!s->codec_known && !facts.telephone_event && !facts.name.empty() &&
        rtp_.payload_type != 13 && rtp_.payload_type != 19) {
      s->codec_known = true;
      s->codec_name.assign(facts.name);
      s->codec = rtp_.payload_type < 96 ? StaticCodec(rtp_.payload_type)
                                        : CodecByName(s->codec_name, facts.clock_rate);
      s->codec.name = s->codec_name;
      s->codec.clock_rate = facts.clock_rate;
      s->payload_type = rtp_.payload_type;
    }
    StreamPacket p;
    p.ts = ts;
    p.rtp = &rtp_;
    p.size = datagram_size_;
    p.clock_rate = facts.clock_rate;
    p.telephone_event = facts.telephone_event;
    s->measure.OnPacket(p);
    if (facts.telephone_event) s->events.OnPacket(rtp_);
    ++counters_.rtp_packets;
    if (endpoint == nullptr) ++counters_.unassociated_packets;
  }

  // MGCP (RFC 3435) gateways get their SDP from the call agent: a command
  // or response, a blank line, then the SDP; "C:" names the call.
  static bool IsMgcpPort(uint16_t port) { return port == 2427 || port == 2727; }
  bool OnMgcp(TimestampNs ts, std::string_view data) {
    size_t blank = data.find("\n\n");
    size_t skip = 2;
    if (const size_t crlf = data.find("\r\n\r\n"); crlf < blank) {
      blank = crlf;
      skip = 4;
    }
    if (blank == std::string_view::npos) return false;
    const std::string_view head = data.substr(0, blank);
    std::string_view call_id;
    for (size_t at = 0; at < head.size();) {
      size_t end = head.find('\n', at);
      if (end == std::string_view::npos) end = head.size();
      std::string_view line = head.substr(at, end - at);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > 2 && (line[0] == 'C' || line[0] == 'c') && line[1] == ':') {
        call_id = line.substr(2);
        while (!call_id.empty() && call_id.front() == ' ') call_id.remove_prefix(1);
      }
      at = end + 1;
    }
    if (!sip::ParseSdp(data.substr(blank + skip), &sdp_)) return false;
    OnSdp(ts, call_id, sdp_);
    return true;
  }

  bool OnUnannounced(TimestampNs ts, const IpAddress& src, uint16_t src_port, const IpAddress& dst,
                     uint16_t dst_port, std::string_view data) {
    if (ParseRtp(data, &rtp_) != RtpError::kNone || LooksLikeRtcp(data)) return false;
    const StreamKey key{src, dst, src_port, dst_port, rtp_.ssrc};
    auto existing = streams_.find(key);
    if (existing != streams_.end()) {
      streams_by_age_.splice(streams_by_age_.end(), streams_by_age_, existing->second.order);
      Measure(ts, &existing->second, nullptr);
      return true;
    }
    // Fixed memory: a flood of random datagrams only overwrites slots.
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
    ++counters_.unassociated_packets;
    if (c.packets < kPacketsToDetect) return false;
    c.packets = 0;
    --counters_.unassociated_packets;  // counted again by Measure
    Measure(ts, FindOrCreate(key, nullptr, false), nullptr);
    return true;
  }

  void Emit(std::unordered_map<StreamKey, Stream, StreamKeyHash>::iterator it) {
    EmitFigures(it->first, it->second);
    streams_by_age_.erase(it->second.order);
    streams_.erase(it);
  }

  void EmitFigures(const StreamKey& key, const Stream& s) {
    figures_ = StreamFigures{};
    figures_.src_ip = key.src;
    figures_.dst_ip = key.dst;
    figures_.src_port = key.src_port;
    figures_.dst_port = key.dst_port;
    figures_.ssrc = key.ssrc;
    figures_.call_id = s.call_id;
    figures_.from_unexpected_source = s.from_unexpected_source;
    figures_.codec = s.codec_name;
    figures_.payload_type = s.payload_type;
    s.measure.Fill(s.codec, &figures_);
    s.events.Fill(&figures_);
    sink_->OnStream(figures_);
  }

  MediaTrackerOptions options_;
  StreamSink* sink_;
  MediaCounters counters_;
  std::unordered_map<EndpointKey, Endpoint, EndpointKeyHash> endpoints_;
  std::list<EndpointKey> endpoints_by_age_;  // least recently announced first
  std::unordered_map<StreamKey, Stream, StreamKeyHash> streams_;
  std::list<StreamKey> streams_by_age_;  // least recently active first
  std::vector<Candidate> candidates_;
  uint64_t next_index_ = 0;
  RtpPacket rtp_;
  size_t datagram_size_ = 0;
  sip::SdpSession sdp_;
  RtcpVisitor rtcp_visitor_;
  StreamFigures figures_;
};

MediaTracker::MediaTracker(const MediaTrackerOptions& options, StreamSink* sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}
MediaTracker::~MediaTracker() = default;

void MediaTracker::OnSdp(TimestampNs ts, std::string_view call_id, const sip::SdpSession& sdp) {
  impl_->OnSdp(ts, call_id, sdp);
}
bool MediaTracker::OnDatagram(TimestampNs ts, const IpAddress& src, uint16_t src_port,
                              const IpAddress& dst, uint16_t dst_port, std::string_view data) {
  return impl_->OnDatagram(ts, src, src_port, dst, dst_port, data);
}
void MediaTracker::AdvanceTime(TimestampNs now) { impl_->AdvanceTime(now); }
void MediaTracker::Finish() { impl_->Finish(); }
const MediaCounters& MediaTracker::counters() const { return impl_->counters(); }

}  // namespace sipman::media
