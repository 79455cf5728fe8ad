// Private to media: the measurement of one RTP stream, packet by packet.
#ifndef SIPMAN_MEDIA_RTP_STREAM_H_
#define SIPMAN_MEDIA_RTP_STREAM_H_

#include <cstdint>

#include "media/intervals.h"
#include "media/media.h"

namespace sipman::media {

// One packet as the stream sees it.
struct StreamPacket {
  TimestampNs ts = 0;
  const RtpPacket* rtp = nullptr;
  size_t size = 0;  // the whole RTP packet's bytes
  // The payload type's clock in Hz, 0 when unknown; telephone events
  // (RFC 4733) are given 0 too, since their timestamp stays at the event's
  // start (Wireshark does the same).
  uint32_t clock_rate = 0;
  bool telephone_event = false;
};

// Which packets, in sequence order, were played or lost (never arrived, or
// too late for the fixed 50 ms buffer), for G.107's BurstR. A window of the
// last 64 sequence numbers lets a reordered packet still count as played;
// outcomes that leave it feed a two-state (Gilbert) model.
class LossRuns {
 public:
  // The highest sequence number moved `ahead`: the new one arrived, the
  // ones skipped are lost until they arrive.
  void Advance(uint32_t ahead);
  // The packet `behind` the highest arrived (played) or came too late.
  void Mark(uint32_t behind, bool played);
  // The sequence started again (RFC 3550 A.1 restart) with one packet.
  void Restart();
  // Observed mean loss run over the random-loss one: 1 / (p + q), at least 1.
  double BurstRatio() const;
  // The outcomes settled so far (those that left the window).
  void AddSettled(IntervalTotals* totals) const {
    totals->loss_runs = runs_;
    totals->lost_settled = lost_;
    totals->played_settled = kept_;
  }

 private:
  void Settle(bool lost);
  void SettleWindow();

  uint64_t played_ = 0, valid_ = 0;  // bit i: highest - i
  bool last_lost_ = false;
  uint64_t runs_ = 0, lost_ = 0, kept_ = 0;
};

// Wireshark's RTP stream figures (max delta, jitter, lost), RFC 3550 A.1's
// extended sequence numbers, and two simulated jitter buffers for the
// E-model, and the same per 10-second interval. A few hundred bytes, no
// allocation per packet (one per interval, while the series grows).
class RtpStream {
 public:
  void OnPacket(const StreamPacket& p);
  // Fills the measured fields of `out` (not the addresses, codec or call);
  // `codec` gives the E-model figures.
  void Fill(const CodecInfo& codec, StreamFigures* out) const;

  TimestampNs last_ts() const { return last_ts_; }
  uint64_t packets() const { return total_nr_; }

 private:
  // The Wireshark-compatible part (docs/METRICS.md, "RTP streams").
  void Analyse(const StreamPacket& p);
  // RFC 3550 A.1 with duplicates, reordering and restarts. False for a
  // packet that does not count: a duplicate, or the first after a big jump.
  bool TrackSequence(uint16_t seq);
  // Two playout buffers: fixed 50 ms, and adaptive.
  void Playout(const StreamPacket& p, int64_t extended_ts);
  IntervalTotals Totals() const;

  TimestampNs first_ts_ = 0, last_ts_ = 0;
  uint64_t bytes_ = 0;
  uint64_t payload_types_seen_[2] = {};
  double longest_gap_ms_ = 0;

  // Extended RTP timestamp (32-bit wraps unfolded), for the playout.
  int64_t extended_ts_ = 0;

  // Wireshark's state.
  uint64_t total_nr_ = 0;
  uint16_t seq_num_ = 0, start_seq_ = 0, stop_seq_ = 0;
  bool under_ = false;
  int32_t seq_cycles_ = 0;
  uint32_t sequence_errors_ = 0;
  uint32_t first_timestamp_ = 0;
  double last_nominal_ms_ = 0;  // media time of the last in-time packet with a clock
  double time_ms_ = 0;          // arrival of the last in-time packet, ms after the first
  double delta_ = 0, jitter_ = 0;
  double max_delta_ = 0, mean_delta_ = 0, max_jitter_ = 0, mean_jitter_ = 0;
  uint8_t pt_ = 0;
  uint32_t clock_rate_ = 0;

  // RFC 3550 A.1.
  uint16_t max_seq_ = 0;
  uint64_t cycles_ = 0;
  uint32_t base_seq_ = 0, bad_seq_ = 0x10001;
  uint64_t received_ = 0, received_before_restart_ = 0;
  int64_t expected_before_restart_ = 0;
  uint64_t recent_ = 0;  // bit i: extended max - i received
  uint64_t duplicates_ = 0, out_of_order_ = 0, discontinuities_ = 0, restarts_ = 0;

  // Jitter buffers: playout deadline = first arrival + media time + delay.
  bool playout_started_ = false;
  TimestampNs playout_base_ts_ = 0;
  int64_t playout_base_rtp_ = 0;
  uint32_t playout_clock_ = 0;
  double adaptive_delay_ms_ = 0;
  double reference_transit_ms_ = 0, reference_at_ms_ = 0, last_transit_ms_ = 0;
  uint64_t played_ = 0, discarded_fixed_ = 0, discarded_adaptive_ = 0;
  LossRuns loss_runs_;

  IntervalSeries intervals_;
};

// RFC 4733 events of a stream: an event ends with up to three packets with
// the end bit and the event's start timestamp; each event counts once.
class TelephoneEvents {
 public:
  void OnPacket(const RtpPacket& rtp);
  void Fill(StreamFigures* out) const;

 private:
  static constexpr size_t kMaxDigits = 64;  // beyond: counted, not listed
  uint32_t ended_ = 0;
  bool any_ended_ = false;
  uint32_t last_end_timestamp_ = 0;
  char digits_[kMaxDigits] = {};
  uint8_t digit_count_ = 0;
};

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_RTP_STREAM_H_
