#include "app/call_media.h"

#include <algorithm>

namespace sipman::app {
namespace {

// RTP still flowing this long after the BYE is "after_bye": packets in
// flight and a phone's last frames take well under a second.
constexpr TimestampNs kAfterByeGrace = kNsPerSecond;

void AddFlag(std::string_view flag, std::string* flags) {
  if (!flags->empty()) flags->push_back(',');
  flags->append(flag);
}

}  // namespace

void ApplyCallMedia(const media::CallMedia& m, calls::CallRecord* r) {
  const media::DirectionMedia& a = m.from_caller;
  const media::DirectionMedia& b = m.from_callee;
  r->caller_rtp_codec = a.codec;
  r->callee_rtp_codec = b.codec;
  r->caller_rtp_packets = static_cast<int64_t>(a.packets);
  r->callee_rtp_packets = static_cast<int64_t>(b.packets);
  r->caller_rtp_lost = a.lost;
  r->callee_rtp_lost = b.lost;
  r->caller_rtp_loss_pct = a.loss_percent;
  r->callee_rtp_loss_pct = b.loss_percent;
  r->caller_rtp_max_jitter_ms = a.max_jitter_ms;
  r->callee_rtp_max_jitter_ms = b.max_jitter_ms;
  r->caller_mos_min = a.mos_min;
  r->caller_mos_avg = a.mos_avg;
  r->callee_mos_min = b.mos_min;
  r->callee_mos_avg = b.mos_avg;
  r->mos_min = a.mos_min < 0 ? b.mos_min : b.mos_min < 0 ? a.mos_min : std::min(a.mos_min, b.mos_min);
  r->rtp_streams = a.streams + b.streams + m.streams_of_unknown_side;

  // The first RTP after the answer; early media counts from the answer.
  r->first_rtp_ms = -1;
  TimestampNs first = 0;
  for (const media::DirectionMedia* d : {&a, &b}) {
    if (d->packets > 0 && (first == 0 || d->first_ts < first)) first = d->first_ts;
  }
  if (r->answer_ts > 0 && first > 0) {
    r->first_rtp_ms = std::max<int64_t>(0, (first - r->answer_ts) / 1'000'000);
  }

  r->media_flags.clear();
  const bool answered = r->answer_ts > 0;
  if (answered && (a.packets > 0) != (b.packets > 0)) AddFlag("one_way", &r->media_flags);
  if (answered && a.packets == 0 && b.packets == 0 && m.streams_of_unknown_side == 0) {
    AddFlag("no_media", &r->media_flags);
  }
  if (m.from_unexpected_source) AddFlag("unexpected_source", &r->media_flags);
  if (r->bye_ts > 0 && std::max(a.last_ts, b.last_ts) > r->bye_ts + kAfterByeGrace) {
    AddFlag("after_bye", &r->media_flags);
  }
  if (m.payload_not_negotiated) AddFlag("codec_not_in_answer", &r->media_flags);
}

void ApplyNoMedia(calls::CallRecord* record) {
  if (record->answer_ts > 0) ApplyCallMedia(media::CallMedia{}, record);
}

}  // namespace sipman::app
