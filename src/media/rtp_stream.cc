// One RTP stream's measurement. The first part reproduces Wireshark's RTP
// stream analysis so that its figures can be checked against tshark; the
// rest is RFC 3550 A.1 and SIPMan's own jitter buffers (docs/METRICS.md).
#include "media/rtp_stream.h"

#include <algorithm>
#include <cmath>

namespace sipman::media {
namespace {

constexpr int64_t k2To32 = int64_t{1} << 32;
constexpr uint8_t kComfortNoise = 13, kComfortNoiseOld = 19;
constexpr double kFixedBufferMs = 50;
constexpr double kAdaptiveMinMs = 20, kAdaptiveMaxMs = 500;
constexpr double kTransitJumpMs = 2000;
// RFC 3550 A.1: the largest forward jump taken as loss, the largest backward
// one taken as reordering.
constexpr uint16_t kMaxDropout = 3000, kMaxMisorder = 100;

bool IsComfortNoise(uint8_t pt) { return pt == kComfortNoise || pt == kComfortNoiseOld; }

}  // namespace

void RtpStream::OnPacket(const StreamPacket& p) {
  const RtpPacket& rtp = *p.rtp;
  if (total_nr_ == 0) {
    intervals_.Start(p.ts);
    first_ts_ = p.ts;
    // Start one wrap up so that a timestamp going back stays positive.
    extended_ts_ = k2To32 + rtp.timestamp;
  } else {
    if (intervals_.Due(p.ts)) intervals_.Close(Totals(), p.ts);
    const double gap_ms = static_cast<double>(p.ts - last_ts_) / 1e6;
    longest_gap_ms_ = std::max(longest_gap_ms_, gap_ms);
    int64_t candidate = (extended_ts_ & ~(k2To32 - 1)) | rtp.timestamp;
    if (candidate - extended_ts_ > INT64_C(0x80000000)) {
      candidate -= k2To32;
    } else if (extended_ts_ - candidate > INT64_C(0x80000000)) {
      candidate += k2To32;
    }
    extended_ts_ = candidate;
  }
  last_ts_ = std::max(last_ts_, p.ts);
  bytes_ += p.size;
  payload_types_seen_[rtp.payload_type >> 6] |= uint64_t{1} << (rtp.payload_type & 63);

  // A duplicate or an unconfirmed jump is not played (nor lost again).
  if (TrackSequence(rtp.sequence)) Playout(p, extended_ts_);
  Analyse(p);
}

IntervalTotals RtpStream::Totals() const {
  IntervalTotals t;
  t.packets = total_nr_;
  t.expected = expected_before_restart_ + static_cast<int64_t>(cycles_) + max_seq_ - base_seq_ + 1;
  t.received = received_before_restart_ + received_;
  t.late = discarded_fixed_;
  loss_runs_.AddSettled(&t);
  return t;
}

// Wireshark's rtppacket_analyse (as in tshark 4.0), figure by figure:
// times in ms after the stream's first packet; a packet is "in time
// sequence" when its timestamp is less than 2^31 ahead of the first
// packet's (so a reordered packet is, one from before the first is not);
// only "regular" packets (no marker, no comfort noise now or before, in
// time sequence) enter max/mean delta and jitter.
void RtpStream::Analyse(const StreamPacket& p) {
  const RtpPacket& rtp = *p.rtp;
  const double now = static_cast<double>(p.ts - first_ts_) / 1e6;
  if (total_nr_ == 0) {
    start_seq_ = stop_seq_ = seq_num_ = rtp.sequence;
    first_timestamp_ = rtp.timestamp;
    time_ms_ = now;
    pt_ = rtp.payload_type;
    total_nr_ = 1;
    return;
  }
  const uint32_t ts = rtp.timestamp;
  const bool in_time = first_timestamp_ <= ts
                           ? ts - first_timestamp_ < 0x80000000u
                           : (0xFFFFFFFFu - first_timestamp_) + ts < 0x80000000u;
  const uint16_t seq = rtp.sequence;

  // Wraps of the sequence number, counted against the first one.
  if (seq < start_seq_ && in_time && !under_) {
    ++seq_cycles_;
    under_ = true;
  } else if (seq == 0 && stop_seq_ == 65535 && in_time && !under_) {
    ++seq_cycles_;
    under_ = true;
  } else if (seq > start_seq_ && in_time && under_) {
    under_ = false;
  }

  const int last = seq_num_, cur = seq;
  if (in_time && last + 1 == cur) {
    seq_num_ = seq;
  } else if (in_time && last == 65535 && cur == 0) {
    seq_num_ = seq;
  } else if (in_time && (last + 1 < cur || last - cur > 0xFF00)) {
    seq_num_ = seq;  // a jump: packets lost
    ++sequence_errors_;
  } else if (last + 1 > cur) {
    ++sequence_errors_;  // late or duplicated
  }

  const bool comfort_noise = IsComfortNoise(rtp.payload_type);
  const bool after_comfort_noise = IsComfortNoise(pt_);
  pt_ = rtp.payload_type;

  // Wireshark converts timestamps with the clock in whole kHz (integer
  // division: 44.1 kHz counts as 44); telephone events have no clock.
  const uint32_t khz = p.telephone_event ? 0 : p.clock_rate / 1000;
  double current_jitter = 0;
  if (in_time) {
    if (khz != 0) {
      clock_rate_ = p.clock_rate;
      const double nominal_ms = static_cast<double>(ts - first_timestamp_) / khz;
      const double diff = std::fabs(now - (time_ms_ + (nominal_ms - last_nominal_ms_)));
      current_jitter = (15 * jitter_ + diff) / 16;
      jitter_ = current_jitter;
      last_nominal_ms_ = nominal_ms;
    }
    delta_ = now - time_ms_;
  }

  const bool regular = !rtp.marker && !comfort_noise && in_time && !after_comfort_noise;
  if (regular) {
    max_delta_ = std::max(max_delta_, delta_);
    // Weighted by the packets so far, as Wireshark does (N-1 deltas).
    mean_delta_ = (mean_delta_ * (total_nr_ - 1) + delta_) / total_nr_;
    if (khz != 0) {
      max_jitter_ = std::max(max_jitter_, jitter_);
      intervals_.NoteJitter(jitter_);  // the same packets as the stream's highest
      mean_jitter_ = (mean_jitter_ * (total_nr_ - 1) + current_jitter) / total_nr_;
    }
  }
  if (in_time) time_ms_ = now;
  stop_seq_ = seq;
  ++total_nr_;
}

bool RtpStream::TrackSequence(uint16_t seq) {
  if (received_ == 0) {
    base_seq_ = max_seq_ = seq;
    cycles_ = 0;
    bad_seq_ = 0x10001;  // no sequence number: nothing pending
    received_ = 1;
    recent_ = 1;
    loss_runs_.Advance(1);
    return true;
  }
  const uint16_t ahead = static_cast<uint16_t>(seq - max_seq_);
  if (ahead == 0) {
    ++duplicates_;
    return false;
  } else if (ahead < kMaxDropout) {
    if (seq < max_seq_) cycles_ += 65536;
    if (ahead > 1) ++discontinuities_;
    loss_runs_.Advance(ahead);
    recent_ = ahead >= 64 ? 1 : (recent_ << ahead) | 1;
    max_seq_ = seq;
    ++received_;
  } else if (ahead <= 65535 - kMaxMisorder) {
    // A big jump: the source restarted if the next packet follows it.
    if (seq == bad_seq_) {
      expected_before_restart_ += static_cast<int64_t>(cycles_) + max_seq_ - base_seq_ + 1;
      received_before_restart_ += received_;
      ++restarts_;
      base_seq_ = max_seq_ = seq;
      cycles_ = 0;
      bad_seq_ = 0x10001;
      received_ = 1;
      recent_ = 1;
      loss_runs_.Restart();
      playout_started_ = false;  // the source restarted: so does its timing
    } else {
      bad_seq_ = static_cast<uint16_t>(seq + 1);
      ++discontinuities_;
      return false;
    }
  } else {
    const uint16_t behind = static_cast<uint16_t>(max_seq_ - seq);
    if (behind < 64 && (recent_ & (uint64_t{1} << behind)) != 0) {
      ++duplicates_;
      return false;
    } else {
      if (behind < 64) recent_ |= uint64_t{1} << behind;
      loss_runs_.Mark(behind, true);
      ++out_of_order_;
      ++received_;
    }
  }
  return true;
}

// Playout: a packet is due its media time after the stream's reference
// transit plus the buffer's delay; later than that, it is discarded. The
// reference is the smallest transit (arrival minus media time) seen, let
// rise by 1 ms a second so that a sender's clock running fast (up to
// 1,000 ppm) does not make every packet late.
void RtpStream::Playout(const StreamPacket& p, int64_t extended_ts) {
  if (p.clock_rate == 0 || p.telephone_event) return;
  const RtpPacket& rtp = *p.rtp;
  if (!playout_started_ || p.clock_rate != playout_clock_) {
    playout_started_ = true;
    playout_base_ts_ = p.ts;
    playout_base_rtp_ = extended_ts;
    playout_clock_ = p.clock_rate;
    adaptive_delay_ms_ = kAdaptiveMinMs;
    reference_transit_ms_ = reference_at_ms_ = last_transit_ms_ = 0;
    ++played_;
    return;
  }
  const double arrival_ms = static_cast<double>(p.ts - playout_base_ts_) / 1e6;
  const double media_ms =
      static_cast<double>(extended_ts - playout_base_rtp_) * 1000.0 / playout_clock_;
  const double transit = arrival_ms - media_ms;
  // A timestamp that jumps (a PBX restarting its clock on a transfer, or a
  // forged packet) would make every later packet early or late for hours:
  // a jump of over 2 s in transit starts the playout again here.
  if (std::fabs(transit - last_transit_ms_) > kTransitJumpMs) {
    playout_base_ts_ = p.ts;
    playout_base_rtp_ = extended_ts;
    reference_transit_ms_ = reference_at_ms_ = last_transit_ms_ = 0;
    ++played_;
    return;
  }
  last_transit_ms_ = transit;
  reference_transit_ms_ =
      std::min(transit, reference_transit_ms_ + (arrival_ms - reference_at_ms_) / 1000.0);
  reference_at_ms_ = arrival_ms;
  const double lateness = transit - reference_transit_ms_;

  if (lateness > kFixedBufferMs) {
    ++discarded_fixed_;
    loss_runs_.Mark(static_cast<uint16_t>(max_seq_ - rtp.sequence), false);
  }
  if (lateness > adaptive_delay_ms_) {
    ++discarded_adaptive_;
    adaptive_delay_ms_ = std::min(kAdaptiveMaxMs, lateness + kAdaptiveMinMs);
  } else {
    // Shrink slowly towards what the recent packets need.
    adaptive_delay_ms_ = std::max(
        kAdaptiveMinMs, adaptive_delay_ms_ - 0.01 * (adaptive_delay_ms_ - lateness - kAdaptiveMinMs));
  }
  ++played_;
}

void LossRuns::Advance(uint32_t ahead) {
  if (ahead > 64) {
    // Everything in the window is settled, and the numbers skipped beyond
    // the next window are lost at once: one run.
    SettleWindow();
    const uint64_t beyond = ahead - 64;
    lost_ += beyond;
    if (!last_lost_) ++runs_;
    last_lost_ = true;
    ahead = 64;
  }
  for (uint32_t i = 0; i < ahead; ++i) {
    if ((valid_ >> 63) & 1) Settle(((played_ >> 63) & 1) == 0);
    played_ <<= 1;
    valid_ = (valid_ << 1) | 1;
  }
  played_ |= 1;
}

void LossRuns::Mark(uint32_t behind, bool played) {
  if (behind >= 64 || ((valid_ >> behind) & 1) == 0) return;
  if (played) {
    played_ |= uint64_t{1} << behind;
  } else {
    played_ &= ~(uint64_t{1} << behind);
  }
}

void LossRuns::Restart() {
  SettleWindow();
  played_ = valid_ = 1;
}

void LossRuns::SettleWindow() {
  for (int i = 63; i >= 0; --i) {
    if ((valid_ >> i) & 1) Settle(((played_ >> i) & 1) == 0);
  }
  played_ = valid_ = 0;
}

// G.107 Annex A: p = P(loss | previous played), q = P(played | previous
// lost); BurstR = 1 / (p + q), 1 for random loss.
void LossRuns::Settle(bool lost) {
  if (lost) {
    ++lost_;
    if (!last_lost_) ++runs_;
  } else {
    ++kept_;
  }
  last_lost_ = lost;
}

double LossRuns::BurstRatio() const {
  LossRuns all = *this;
  all.SettleWindow();
  if (all.runs_ == 0 || all.lost_ == 0 || all.kept_ == 0) return 1;
  const double p = static_cast<double>(all.runs_) / static_cast<double>(all.kept_);
  const double q = static_cast<double>(all.runs_) / static_cast<double>(all.lost_);
  return std::max(1.0, 1 / (p + q));
}

void RtpStream::Fill(const CodecInfo& codec, StreamFigures* out) const {
  out->first_ts = first_ts_;
  out->last_ts = last_ts_;
  out->packets = total_nr_;
  out->bytes = bytes_;
  out->payload_types_seen[0] = payload_types_seen_[0];
  out->payload_types_seen[1] = payload_types_seen_[1];
  out->expected = (static_cast<int64_t>(stop_seq_) + int64_t{seq_cycles_} * 65536) - start_seq_ + 1;
  out->lost = out->expected - total_nr_;
  out->sequence_errors = sequence_errors_;
  out->max_delta_ms = max_delta_;
  out->mean_delta_ms = mean_delta_;
  out->max_jitter_ms = max_jitter_;
  out->mean_jitter_ms = mean_jitter_;
  out->clock_rate = clock_rate_;
  const IntervalTotals totals = Totals();
  out->expected_rfc3550 = totals.expected;
  out->lost_rfc3550 = totals.expected - static_cast<int64_t>(totals.received);
  out->duplicates = duplicates_;
  out->out_of_order = out_of_order_;
  out->discontinuities = discontinuities_;
  out->restarts = restarts_;
  out->longest_gap_ms = longest_gap_ms_;
  out->discarded_fixed50 = discarded_fixed_;
  out->discarded_adaptive = discarded_adaptive_;

  const double burst_ratio = loss_runs_.BurstRatio();
  out->burst_ratio = burst_ratio;

  out->mos_fixed50 = out->mos_adaptive = -1;
  if (codec.has_emodel && played_ >= 2 && out->expected_rfc3550 > 0) {
    const double expected = static_cast<double>(out->expected_rfc3550);
    const double lost = static_cast<double>(std::max<int64_t>(0, out->lost_rfc3550));
    const double fixed_loss = std::min(100.0, 100 * (lost + discarded_fixed_) / expected);
    const double adaptive_loss = std::min(100.0, 100 * (lost + discarded_adaptive_) / expected);
    // One-way delay: the buffer's, plus one 20 ms packet being filled.
    out->mos_fixed50 =
        MosFromR(EModelR(codec.ie, codec.bpl, fixed_loss, burst_ratio, kFixedBufferMs + 20));
    out->mos_adaptive = MosFromR(
        EModelR(codec.ie, codec.bpl, adaptive_loss, burst_ratio, adaptive_delay_ms_ + 20));
  }
  intervals_.Fill(totals, codec, out);
}

void TelephoneEvents::OnPacket(const RtpPacket& rtp) {
  TelephoneEvent event;
  if (!ParseTelephoneEvent(rtp.payload, &event) || !event.end) return;
  if (any_ended_ && rtp.timestamp == last_end_timestamp_) return;  // a repeated end
  any_ended_ = true;
  last_end_timestamp_ = rtp.timestamp;
  ++ended_;
  const char digit = DtmfDigit(event.event);
  if (digit != 0 && digit_count_ < kMaxDigits) digits_[digit_count_++] = digit;
}

void TelephoneEvents::Fill(StreamFigures* out) const {
  out->telephone_events = ended_;
  out->dtmf.assign(digits_, digit_count_);
}

}  // namespace sipman::media
