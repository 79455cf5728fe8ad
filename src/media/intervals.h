// Private to media: a stream's figures per 10-second interval of capture
// time, for the loss/jitter/MOS chart of a call.
#ifndef SIPMAN_MEDIA_INTERVALS_H_
#define SIPMAN_MEDIA_INTERVALS_H_

#include <cstdint>
#include <vector>

#include "media/media.h"

namespace sipman::media {

// The stream's running totals an interval is the difference of.
struct IntervalTotals {
  uint64_t packets = 0;         // every packet (Wireshark's count)
  int64_t expected = 0;         // RFC 3550 A.1
  uint64_t received = 0;        // RFC 3550 A.1: distinct packets
  uint64_t late = 0;            // too late for the fixed 50 ms buffer
  uint64_t loss_runs = 0, lost_settled = 0, played_settled = 0;  // LossRuns
};

// Intervals start on multiples of 10 s since the epoch, so that the two
// directions of a call line up. Past kMaxIntervals, neighbours merge and
// the width doubles (a 4-hour stream keeps 90 intervals of 160 s), still on
// multiples of the width: memory stays at most 4.5 KiB per stream, and the
// merged figures stay exact since an interval holds counts, not ratios.
class IntervalSeries {
 public:
  static constexpr TimestampNs kWidthNs = 10'000'000'000;
  static constexpr size_t kMaxIntervals = 128;

  // The stream's first packet.
  void Start(TimestampNs ts);
  // True when a packet at `ts` belongs to a later interval: Close first.
  bool Due(TimestampNs ts) const { return ts >= end_ts_; }
  // Ends the open interval with the totals before the packet at `ts`, and
  // the empty intervals up to the one holding `ts`.
  void Close(const IntervalTotals& now, TimestampNs ts);
  void NoteJitter(double jitter_ms) {
    if (jitter_ms > max_jitter_ms_) max_jitter_ms_ = static_cast<float>(jitter_ms);
  }
  // The closed intervals and the open one as of `now`, with their MOS.
  void Fill(const IntervalTotals& now, const CodecInfo& codec, StreamFigures* out) const;

 private:
  StreamInterval Delta(const IntervalTotals& now) const;
  size_t SlotOf(TimestampNs ts) const { return static_cast<size_t>((ts - start_ts_) / width_ns_); }
  // Makes room for the slot holding `ts` (merging as needed) and opens it.
  void Open(TimestampNs ts);

  TimestampNs start_ts_ = 0, width_ns_ = kWidthNs;
  TimestampNs end_ts_ = 0;  // of the open slot
  IntervalTotals at_open_;  // the totals when the open slot (or its part) began
  float max_jitter_ms_ = 0;
  std::vector<StreamInterval> slots_;  // the open one last
};

// The E-model MOS of one interval's losses and late packets (-1 when the
// codec has no E-model figures or nothing was expected).
float IntervalMos(const CodecInfo& codec, const StreamInterval& interval);

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_INTERVALS_H_
