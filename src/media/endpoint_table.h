// Private to media: the SDP-to-stream map. Every RTP (and RTCP) address and
// port an SDP announced, with the call it belongs to, the side that
// announced it and the payload types it mapped. One hash lookup per packet.
#ifndef SIPMAN_MEDIA_ENDPOINT_TABLE_H_
#define SIPMAN_MEDIA_ENDPOINT_TABLE_H_

#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "media/call_media.h"
#include "media/keys.h"
#include "media/media.h"

namespace sipman::media {

// A payload type an SDP mapped (a=rtpmap).
struct MappedPayload {
  uint8_t payload_type = 0;
  uint32_t clock_rate = 0;
  std::string name;
};

struct Endpoint {
  std::string call_id;
  Side side = Side::kUnknown;  // the party that receives here
  // The call that announced it before, when another: a B2BUA's two legs
  // both name the address where a phone receives once re-INVITEs have
  // joined the phones' media.
  std::string previous_call_id;
  Side previous_side = Side::kUnknown;
  bool rtcp = false;           // the RTCP port of a media line
  uint64_t formats[2] = {};    // bit n of [n / 64]: payload type n is in the m= line
  std::vector<MappedPayload> payloads;
  TimestampNs last_used = 0;   // announced, or media seen
  TimestampNs queued_at = 0;   // put at the back of the age list
  std::list<EndpointKey>::iterator order;
};

// The facts of a payload type on an endpoint: the static table below 96,
// the endpoint's rtpmap above.
struct PayloadFacts {
  std::string_view name;
  uint32_t clock_rate = 0;
  bool telephone_event = false;
};
PayloadFacts FactsOf(uint8_t payload_type, const Endpoint* endpoint);

class EndpointTable {
 public:
  EndpointTable(const MediaTrackerOptions& options, MediaCounters* counters)
      : options_(options), counters_(counters) {}

  Endpoint* Find(const EndpointKey& key) {
    auto it = endpoints_.find(key);
    return it == endpoints_.end() ? nullptr : &it->second;
  }

  // The media lines of `sdp`, sent at `ts` by `side` of call `call_id`. An
  // endpoint another call announced before stays that call's too unless
  // `calls` says that call has ended (the next call reusing the ports).
  void Announce(TimestampNs ts, std::string_view call_id, Side side, const sip::SdpSession& sdp,
                const CallMediaTable& calls);

  // Forgets endpoints neither announced nor used for endpoint_idle_ns.
  void Expire(TimestampNs now);

  size_t size() const { return endpoints_.size(); }
  // How many times an endpoint passed to another call: a stream joined
  // before such a change checks that its endpoint is still its call's.
  uint64_t takeovers() const { return takeovers_; }

 private:
  Endpoint& Put(TimestampNs ts, const EndpointKey& key, std::string_view call_id, Side side,
                bool rtcp, const CallMediaTable& calls);
  void Forget(std::unordered_map<EndpointKey, Endpoint, EndpointKeyHash>::iterator it);

  const MediaTrackerOptions& options_;
  MediaCounters* counters_;
  std::unordered_map<EndpointKey, Endpoint, EndpointKeyHash> endpoints_;
  std::list<EndpointKey> by_age_;  // least recently queued first
  uint64_t takeovers_ = 0;
};

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_ENDPOINT_TABLE_H_
