// Private to media: each call's media, summed as its streams end, until
// the app takes it for the call's record.
#ifndef SIPMAN_MEDIA_CALL_MEDIA_H_
#define SIPMAN_MEDIA_CALL_MEDIA_H_

#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "media/keys.h"
#include "media/media.h"

namespace sipman::media {

class CallMediaTable {
 public:
  CallMediaTable(const MediaTrackerOptions& options, MediaCounters* counters)
      : options_(options), counters_(counters) {}

  // Who sent a message with SDP of call `call_id`: the first such message
  // names the caller (its From tag when a request, else the To side).
  Side SenderOf(TimestampNs ts, std::string_view call_id, std::string_view from_tag,
                bool is_request);

  // The call was hung up (BYE): its endpoints may go to the next call alone.
  void Ended(std::string_view call_id);
  // True once Ended was called, or when the call is not (or no more) here.
  bool HasEnded(std::string_view call_id) const;

  // A stream of the call began, or ended (with its figures).
  void StreamBegan(std::string_view call_id, const StreamKey& key);
  void StreamEnded(std::string_view call_id, Side sender, const StreamKey& key,
                   const StreamFigures& figures);

  // Whether the call is here (its SDP was seen, not yet taken).
  bool Has(std::string_view call_id) const { return calls_.find(call_id) != calls_.end(); }

  // Streams of the call running now (0 when the call is not here).
  size_t LiveStreams(std::string_view call_id) const;

  // Removes the call; `live` gets the keys of its streams still running,
  // `rtp_ssrcs` the SSRCs of every RTP stream it had.
  bool Take(std::string_view call_id, CallMedia* out, std::vector<StreamKey>* live,
            std::vector<uint32_t>* rtp_ssrcs);

  // Forgets calls without activity for endpoint_idle_ns.
  void Expire(TimestampNs now);

 private:
  struct Entry {
    std::string caller_tag;
    bool ended = false;
    CallMedia media;
    std::vector<StreamKey> live;
    std::vector<uint32_t> rtp_ssrcs;  // at most kMaxStreamsPerCall
    TimestampNs last_active = 0;
    TimestampNs queued_at = 0;
    std::list<std::string>::iterator order;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Entry, Hash, std::equal_to<>>;
  void Forget(Map::iterator it);

  const MediaTrackerOptions& options_;
  MediaCounters* counters_;
  Map calls_;
  std::list<std::string> by_age_;  // least recently created first
};

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_CALL_MEDIA_H_
