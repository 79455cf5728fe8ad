#include "media/rtcp_only.h"

#include <algorithm>

namespace sipman::media {

void RtcpOnlySources::Note(TimestampNs ts, std::string_view call_id, const RtcpOnlySource& source) {
  auto it = by_call_.find(call_id);
  if (it == by_call_.end()) {
    if (size_ >= max_sources_) {
      counters_->streams_evicted += size_;
      by_call_.clear();
      size_ = 0;
    }
    it = by_call_.try_emplace(std::string(call_id)).first;
  }
  std::vector<RtcpOnlySource>& sources = it->second;
  for (RtcpOnlySource& s : sources) {
    if (s.ssrc == source.ssrc) {
      s.last_ts = std::max(s.last_ts, ts);
      if (s.sender == Side::kUnknown) s.sender = source.sender;
      return;
    }
  }
  if (sources.size() >= kMaxStreamsPerCall) {
    ++counters_->streams_refused;
    return;
  }
  sources.push_back(source);
  sources.back().first_ts = sources.back().last_ts = ts;
  ++size_;
}

void RtcpOnlySources::Take(std::string_view call_id, const std::vector<uint32_t>& rtp_ssrcs,
                           std::vector<RtcpOnlySource>* out) {
  out->clear();
  auto it = by_call_.find(call_id);
  if (it == by_call_.end()) return;
  for (const RtcpOnlySource& s : it->second) {
    if (std::find(rtp_ssrcs.begin(), rtp_ssrcs.end(), s.ssrc) == rtp_ssrcs.end()) {
      out->push_back(s);
    }
  }
  size_ -= it->second.size();
  by_call_.erase(it);
}

}  // namespace sipman::media
