#include "media/call_media.h"

#include <algorithm>

namespace sipman::media {

std::string_view SideName(Side side) {
  switch (side) {
    case Side::kCaller: return "caller";
    case Side::kCallee: return "callee";
    case Side::kUnknown: break;
  }
  return "";
}

void AddStream(const StreamFigures& s, Side sender, CallMedia* media) {
  media->from_unexpected_source |= s.from_unexpected_source;
  media->payload_not_negotiated |= s.payload_not_negotiated;
  DirectionMedia* d = sender == Side::kCaller   ? &media->from_caller
                      : sender == Side::kCallee ? &media->from_callee
                                                : nullptr;
  if (d == nullptr) {
    ++media->streams_of_unknown_side;
    return;
  }
  // The direction's codec: its busiest stream's.
  if (d->streams == 0 || s.packets > d->codec_packets) {
    d->codec = s.codec;
    d->codec_packets = s.packets;
  }
  ++d->streams;
  d->packets += s.packets;
  d->expected += s.expected_rfc3550;
  d->lost += s.lost_rfc3550;
  d->loss_percent = d->expected > 0 ? 100.0 * static_cast<double>(d->lost) / d->expected : 0;
  d->max_jitter_ms = std::max(d->max_jitter_ms, s.max_jitter_ms);
  if (s.mos_fixed50 >= 0 && s.packets > 0) {
    d->mos_min = d->mos_min < 0 ? s.mos_fixed50 : std::min(d->mos_min, s.mos_fixed50);
    const double weight = static_cast<double>(s.packets);
    const double before = static_cast<double>(d->mos_packets);
    d->mos_avg = d->mos_avg < 0 ? s.mos_fixed50
                                : (d->mos_avg * before + s.mos_fixed50 * weight) / (before + weight);
    d->mos_packets += s.packets;
  }
  if (d->first_ts == 0 || (s.first_ts != 0 && s.first_ts < d->first_ts)) d->first_ts = s.first_ts;
  d->last_ts = std::max(d->last_ts, s.last_ts);
}

Side CallMediaTable::SenderOf(TimestampNs ts, std::string_view call_id, std::string_view from_tag,
                              bool is_request) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) {
    it = calls_.try_emplace(std::string(call_id)).first;
    Entry& e = it->second;
    by_age_.push_back(it->first);
    e.order = std::prev(by_age_.end());
    // A response's From is the party that sent the request: the caller.
    e.caller_tag.assign(from_tag);
    if (calls_.size() > options_.max_calls) {
      ++counters_->calls_evicted;
      Forget(calls_.find(by_age_.front()));
      it = calls_.find(call_id);
    }
  }
  Entry& e = it->second;
  if (e.queued_at == 0) e.queued_at = ts;
  e.last_active = ts;
  const bool from_is_caller = from_tag == e.caller_tag;
  return is_request == from_is_caller ? Side::kCaller : Side::kCallee;
}

void CallMediaTable::Ended(std::string_view call_id) {
  auto it = calls_.find(call_id);
  if (it != calls_.end()) it->second.ended = true;
}

bool CallMediaTable::HasEnded(std::string_view call_id) const {
  auto it = calls_.find(call_id);
  return it == calls_.end() || it->second.ended;
}

void CallMediaTable::StreamBegan(std::string_view call_id, const StreamKey& key) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return;
  it->second.live.push_back(key);
  std::vector<uint32_t>& ssrcs = it->second.rtp_ssrcs;
  // Once per SSRC: a stream that idles out and starts again is the same.
  if (ssrcs.size() < kMaxStreamsPerCall && std::find(ssrcs.begin(), ssrcs.end(), key.ssrc) == ssrcs.end()) {
    ssrcs.push_back(key.ssrc);
  }
}

void CallMediaTable::StreamEnded(std::string_view call_id, Side sender, const StreamKey& key,
                                 const StreamFigures& figures) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return;
  Entry& e = it->second;
  auto live = std::find(e.live.begin(), e.live.end(), key);
  if (live != e.live.end()) e.live.erase(live);
  e.last_active = std::max(e.last_active, figures.last_ts);
  AddStream(figures, sender, &e.media);
}

size_t CallMediaTable::LiveStreams(std::string_view call_id) const {
  auto it = calls_.find(call_id);
  return it == calls_.end() ? 0 : it->second.live.size();
}

bool CallMediaTable::Take(std::string_view call_id, CallMedia* out, std::vector<StreamKey>* live,
                          std::vector<uint32_t>* rtp_ssrcs) {
  auto it = calls_.find(call_id);
  if (it == calls_.end()) return false;
  *out = it->second.media;
  live->swap(it->second.live);
  rtp_ssrcs->swap(it->second.rtp_ssrcs);
  Forget(it);
  return true;
}

// Calls are queued by creation; one still active goes to the back once per
// idle period, so each is looked at rarely.
void CallMediaTable::Expire(TimestampNs now) {
  while (!by_age_.empty()) {
    auto it = calls_.find(by_age_.front());
    Entry& e = it->second;
    if (e.queued_at + options_.endpoint_idle_ns > now) break;
    // A call whose media still flows stays, however long ago its SDP was.
    if (e.last_active + options_.endpoint_idle_ns > now || !e.live.empty()) {
      e.queued_at = now;
      by_age_.splice(by_age_.end(), by_age_, e.order);
      continue;
    }
    Forget(it);
  }
}

void CallMediaTable::Forget(Map::iterator it) {
  by_age_.erase(it->second.order);
  calls_.erase(it);
}

}  // namespace sipman::media
