#include "media/rtcp_only.h"

#include <algorithm>

namespace sipman::media {

void RtcpOnlySources::Note(TimestampNs ts, std::string_view call_id, const RtcpOnlySource& source) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) {
    it = calls_.try_emplace(std::string(call_id)).first;
    by_age_.push_back(it->first);
    it->second.order = std::prev(by_age_.end());
  } else {
    by_age_.splice(by_age_.end(), by_age_, it->second.order);
  }
  Call& call = it->second;
  call.last_ts = std::max(call.last_ts, ts);
  for (RtcpOnlySource& s : call.sources) {
    if (s.ssrc == source.ssrc) {
      s.last_ts = std::max(s.last_ts, ts);
      if (s.sender == Side::kUnknown) s.sender = source.sender;
      return;
    }
  }
  if (call.sources.size() >= kMaxStreamsPerCall) return;  // as for RTP: one call, 32 streams
  call.sources.push_back(source);
  call.sources.back().first_ts = call.sources.back().last_ts = ts;
  ++size_;
  while (size_ > max_sources_ && by_age_.front() != it->first) Drop(calls_.find(by_age_.front()));
}

void RtcpOnlySources::Take(std::string_view call_id, const std::vector<uint32_t>& rtp_ssrcs,
                           std::vector<RtcpOnlySource>* out) {
  out->clear();
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return;
  for (const RtcpOnlySource& s : it->second.sources) {
    if (std::find(rtp_ssrcs.begin(), rtp_ssrcs.end(), s.ssrc) == rtp_ssrcs.end()) {
      out->push_back(s);
    }
  }
  size_ -= it->second.sources.size();
  by_age_.erase(it->second.order);
  calls_.erase(it);
}

void RtcpOnlySources::Expire(TimestampNs now) {
  if (by_age_.empty() || now < next_check_) return;
  next_check_ = now + kNsPerSecond;
  while (!by_age_.empty()) {
    auto it = calls_.find(by_age_.front());
    if (it->second.last_ts + idle_ns_ > now) break;
    Drop(it);
  }
}

void RtcpOnlySources::Drop(Map::iterator it) {
  counters_->rtcp_only_dropped += it->second.sources.size();
  size_ -= it->second.sources.size();
  by_age_.erase(it->second.order);
  calls_.erase(it);
}

}  // namespace sipman::media
