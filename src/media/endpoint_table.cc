#include "media/endpoint_table.h"

#include <cstring>

#include "base/ascii.h"

namespace sipman::media {
namespace {

bool IsUnspecified(const IpAddress& ip) {
  static const uint8_t kZero[16] = {};
  return std::memcmp(ip.bytes, kZero, 16) == 0;
}

// The payload types of an m= line's format list ("0 8 101").
void ReadFormats(std::string_view formats, uint64_t out[2]) {
  out[0] = out[1] = 0;
  uint32_t value = 0;
  bool digits = false;
  for (size_t i = 0; i <= formats.size(); ++i) {
    const char c = i < formats.size() ? formats[i] : ' ';
    if (c >= '0' && c <= '9') {
      value = value * 10 + static_cast<uint32_t>(c - '0');
      if (value > 1000) value = 1000;
      digits = true;
    } else {
      if (digits && value < 128) out[value >> 6] |= uint64_t{1} << (value & 63);
      value = 0;
      digits = false;
    }
  }
}

}  // namespace

PayloadFacts FactsOf(uint8_t payload_type, const Endpoint* endpoint) {
  PayloadFacts facts;
  if (payload_type < 96) {
    const CodecInfo info = StaticCodec(payload_type);
    facts.name = info.name;
    facts.clock_rate = info.clock_rate;
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

void EndpointTable::Announce(TimestampNs ts, std::string_view call_id, Side side,
                             const sip::SdpSession& sdp, const CallMediaTable& calls) {
  for (size_t i = 0; i < sdp.media_count; ++i) {
    const sip::SdpMedia& m = sdp.media[i];
    IpAddress ip;
    if (m.port == 0 || m.protocol.find("RTP") == std::string_view::npos ||
        !ParseIpAddress(m.connection_address, &ip) || IsUnspecified(ip)) {
      ++counters_->sdp_refused;  // disabled, on hold (0.0.0.0), T.38, unreadable
      continue;
    }
    Endpoint& rtp = Put(ts, EndpointKey{ip, m.port}, call_id, side, false, calls);
    ReadFormats(m.formats, rtp.formats);
    rtp.payloads.clear();
    for (size_t j = 0; j < m.rtpmap_count; ++j) {
      const sip::SdpRtpMap& map = m.rtpmaps[j];
      if (map.payload_type > 127) continue;
      rtp.payloads.push_back(MappedPayload{static_cast<uint8_t>(map.payload_type), map.clock_rate,
                                           std::string(map.encoding)});
    }
    if (m.rtcp_mux) continue;  // RFC 5761: RTCP shares the RTP port
    IpAddress rtcp_ip = ip;
    if (!m.rtcp_address.empty() && !ParseIpAddress(m.rtcp_address, &rtcp_ip)) rtcp_ip = ip;
    const uint32_t rtcp_port = m.rtcp_port != 0 ? m.rtcp_port : uint32_t{m.port} + 1;
    if (rtcp_port <= 65535 && !(rtcp_port == m.port && rtcp_ip == ip)) {
      Put(ts, EndpointKey{rtcp_ip, static_cast<uint16_t>(rtcp_port)}, call_id, side, true, calls);
    }
  }
}

Endpoint& EndpointTable::Put(TimestampNs ts, const EndpointKey& key, std::string_view call_id,
                             Side side, bool rtcp, const CallMediaTable& calls) {
  auto [it, created] = endpoints_.try_emplace(key);
  Endpoint& e = it->second;
  if (created) {
    ++counters_->sdp_endpoints;
    by_age_.push_back(key);
    e.order = std::prev(by_age_.end());
  } else {
    by_age_.splice(by_age_.end(), by_age_, e.order);
  }
  const bool same_call = !created && e.call_id == call_id;
  if (e.call_id != call_id) {
    if (!created) ++takeovers_;
    e.previous_call_id.swap(e.call_id);
    e.previous_side = e.side;
    if (calls.HasEnded(e.previous_call_id)) {
      e.previous_call_id.clear();
      e.previous_side = Side::kUnknown;
    }
    e.call_id.assign(call_id);
  }
  e.side = side;
  // An address the same call named for RTP stays RTP when it names it for
  // RTCP too (a=rtcp on the RTP port, or one line's port + 1 another's).
  e.rtcp = same_call ? e.rtcp && rtcp : rtcp;
  e.last_used = e.queued_at = ts;
  if (created && endpoints_.size() > options_.max_endpoints) {
    ++counters_->endpoints_evicted;
    Forget(endpoints_.find(by_age_.front()));
  }
  return e;
}

// Endpoints are queued by announcement; one whose media kept it in use goes
// to the back once per idle period, so each is looked at rarely.
void EndpointTable::Expire(TimestampNs now) {
  while (!by_age_.empty()) {
    auto it = endpoints_.find(by_age_.front());
    Endpoint& e = it->second;
    if (e.queued_at + options_.endpoint_idle_ns > now) break;
    if (e.last_used + options_.endpoint_idle_ns > now) {
      e.queued_at = now;
      by_age_.splice(by_age_.end(), by_age_, e.order);
      continue;
    }
    Forget(it);
  }
}

void EndpointTable::Forget(std::unordered_map<EndpointKey, Endpoint, EndpointKeyHash>::iterator it) {
  by_age_.erase(it->second.order);
  endpoints_.erase(it);
}

}  // namespace sipman::media
