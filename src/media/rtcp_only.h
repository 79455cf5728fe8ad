// Private to media: streams known only from the RTCP a HEP agent sent.
// A Homer-style sensor gets the SIP and the endpoints' RTCP by HEP but no
// RTP: each SSRC the reports name is remembered with its call and sender,
// and emitted as a stream of its own when the call is taken, unless the
// sensor measured that SSRC's RTP in the call after all.
#ifndef SIPMAN_MEDIA_RTCP_ONLY_H_
#define SIPMAN_MEDIA_RTCP_ONLY_H_

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "media/media.h"

namespace sipman::media {

struct RtcpOnlySource {
  uint32_t ssrc = 0;
  Side sender = Side::kUnknown;  // in its call
  IpAddress src, dst;            // the sender's RTCP address, its receiver's
  uint16_t src_port = 0, dst_port = 0;
  TimestampNs first_ts = 0, last_ts = 0;  // the reports about it
};

// Bounded: at most `max_sources` sources; past it, and for calls without a
// report for `idle_ns` (a correlation ID that names no call this sensor
// takes, reports after the call's record), the oldest call's sources are
// dropped (counted in rtcp_only_dropped).
class RtcpOnlySources {
 public:
  RtcpOnlySources(size_t max_sources, TimestampNs idle_ns, MediaCounters* counters)
      : max_sources_(max_sources), idle_ns_(idle_ns), counters_(counters) {}

  void Note(TimestampNs ts, std::string_view call_id, const RtcpOnlySource& source);
  // Removes the call's sources; returns those whose SSRC is not among
  // `rtp_ssrcs` (the RTP streams the call had) in *out.
  void Take(std::string_view call_id, const std::vector<uint32_t>& rtp_ssrcs,
            std::vector<RtcpOnlySource>* out);
  // Drops the calls without a report since now - idle_ns. Called per
  // packet, it looks at most once a second of capture time.
  void Expire(TimestampNs now);
  // Drops every call's sources (the end of the input: calls never taken).
  void DropAll() {
    while (!by_age_.empty()) Drop(calls_.find(by_age_.front()));
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Call {
    std::vector<RtcpOnlySource> sources;
    TimestampNs last_ts = 0;
    std::list<std::string>::iterator order;
  };
  using Map = std::unordered_map<std::string, Call, Hash, std::equal_to<>>;
  void Drop(Map::iterator it);

  size_t max_sources_;
  TimestampNs idle_ns_;
  MediaCounters* counters_;
  size_t size_ = 0;
  TimestampNs next_check_ = 0;
  Map calls_;
  std::list<std::string> by_age_;  // least recently reported first
};

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_RTCP_ONLY_H_
