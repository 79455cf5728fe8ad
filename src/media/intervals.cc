#include "media/intervals.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace sipman::media {
namespace {

// The fixed buffer's delay plus one 20 ms packet being filled, as the
// stream's own MOS (rtp_stream.cc).
constexpr double kMouthToEarMs = 50 + 20;

uint32_t Clamp32(uint64_t v) { return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX)); }

}  // namespace

void IntervalSeries::Start(TimestampNs ts) {
  start_ts_ = ts - ts % kWidthNs;
  width_ns_ = kWidthNs;
  at_open_ = IntervalTotals();
  max_jitter_ms_ = 0;
  slots_.clear();
  Open(ts);
}

StreamInterval IntervalSeries::Delta(const IntervalTotals& now) const {
  StreamInterval i;
  i.packets = Clamp32(now.packets - at_open_.packets);
  const int64_t expected = now.expected - at_open_.expected;
  const int64_t received = static_cast<int64_t>(now.received - at_open_.received);
  i.expected = static_cast<uint32_t>(std::clamp<int64_t>(expected, 0, UINT32_MAX));
  // Signed: a packet late from the previous interval lowers this one's
  // count, so that the intervals add up to the stream's loss.
  i.lost = static_cast<int32_t>(std::clamp<int64_t>(expected - received, INT32_MIN, INT32_MAX));
  i.late = Clamp32(now.late - at_open_.late);
  i.loss_runs = Clamp32(now.loss_runs - at_open_.loss_runs);
  i.lost_settled = Clamp32(now.lost_settled - at_open_.lost_settled);
  i.played_settled = Clamp32(now.played_settled - at_open_.played_settled);
  i.max_jitter_ms = max_jitter_ms_;
  return i;
}

void IntervalSeries::Open(TimestampNs ts) {
  if (ts < start_ts_) ts = start_ts_;  // capture reordering: the first slot
  // Silence (hold, one-way) leaves empty slots; a long one only takes a
  // few rounds, since every merge halves the slots.
  while (SlotOf(ts) >= kMaxIntervals) {
    // Slots of the doubled width start on its multiples too, so that every
    // stream's slots line up: a start in the middle of one leaves the first
    // old slot alone in the first new one.
    const size_t shift = start_ts_ % (2 * width_ns_) != 0 ? 1 : 0;
    size_t merged = 0;
    for (size_t j = 0; j < slots_.size(); ++j) {
      const size_t k = (j + shift) / 2;
      const StreamInterval old = slots_[j];
      if (j == 0 || k != (j - 1 + shift) / 2) {
        slots_[k] = old;
        merged = k + 1;
      } else {
        slots_[k].Add(old);
      }
    }
    slots_.resize(merged);
    start_ts_ -= start_ts_ % (2 * width_ns_);
    width_ns_ *= 2;
  }
  const size_t needed = SlotOf(ts) + 1;
  if (needed > slots_.capacity()) {
    // Doubling, but never past kMaxIntervals: 4.5 KiB per stream at most.
    slots_.reserve(std::min(kMaxIntervals, std::max(needed, 2 * slots_.capacity())));
  }
  slots_.resize(std::max(slots_.size(), needed));
  end_ts_ = start_ts_ + static_cast<TimestampNs>(SlotOf(ts) + 1) * width_ns_;
}

void IntervalSeries::Close(const IntervalTotals& now, TimestampNs ts) {
  slots_[SlotOf(end_ts_ - 1)].Add(Delta(now));
  at_open_ = now;
  max_jitter_ms_ = 0;
  Open(ts);
}

void IntervalSeries::Fill(const IntervalTotals& now, const CodecInfo& codec,
                          StreamFigures* out) const {
  out->interval_start_ts = start_ts_;
  out->interval_ns = width_ns_;
  out->intervals.assign(slots_.begin(), slots_.end());
  if (!out->intervals.empty()) out->intervals[SlotOf(end_ts_ - 1)].Add(Delta(now));
  for (StreamInterval& i : out->intervals) i.mos = IntervalMos(codec, i);
}

void StreamInterval::Add(const StreamInterval& o) {
  packets += o.packets;
  expected += o.expected;
  lost += o.lost;
  late += o.late;
  loss_runs += o.loss_runs;
  lost_settled += o.lost_settled;
  played_settled += o.played_settled;
  max_jitter_ms = std::max(max_jitter_ms, o.max_jitter_ms);
}

float IntervalMos(const CodecInfo& codec, const StreamInterval& i) {
  if (!codec.has_emodel || i.expected == 0 || i.packets == 0) return -1;
  const double lost = std::max<int32_t>(0, i.lost) + static_cast<double>(i.late);
  const double loss_percent = std::min(100.0, 100 * lost / i.expected);
  // G.107 BurstR from the interval's settled loss runs, as LossRuns does.
  double burst_ratio = 1;
  if (i.loss_runs > 0 && i.lost_settled > 0 && i.played_settled > 0) {
    const double p = static_cast<double>(i.loss_runs) / i.played_settled;
    const double q = static_cast<double>(i.loss_runs) / i.lost_settled;
    burst_ratio = std::max(1.0, 1 / (p + q));
  }
  return static_cast<float>(
      MosFromR(EModelR(codec.ie, codec.bpl, loss_percent, burst_ratio, kMouthToEarMs)));
}

void AppendIntervalsJson(const StreamFigures& stream, std::string* out) {
  char buf[32];
  auto append_int = [&](int64_t v) {
    const int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    out->append(buf, static_cast<size_t>(n));
  };
  auto append_array = [&](const char* name, auto value_of) {
    out->append(",\"");
    out->append(name);
    out->append("\":[");
    for (size_t i = 0; i < stream.intervals.size(); ++i) {
      if (i != 0) out->push_back(',');
      value_of(stream.intervals[i]);
    }
    out->push_back(']');
  };
  auto append_fixed = [&](double v, const char* format) {
    const int n = std::snprintf(buf, sizeof buf, format, v);
    out->append(buf, static_cast<size_t>(n));
  };
  out->append("{\"start_ts\":");
  append_int(stream.interval_start_ts / 1'000'000'000);
  out->append(",\"width_s\":");
  append_int(stream.interval_ns / 1'000'000'000);
  append_array("packets", [&](const StreamInterval& i) { append_int(i.packets); });
  append_array("expected", [&](const StreamInterval& i) { append_int(i.expected); });
  append_array("lost", [&](const StreamInterval& i) { append_int(i.lost); });
  append_array("late", [&](const StreamInterval& i) { append_int(i.late); });
  append_array("max_jitter_ms",
               [&](const StreamInterval& i) { append_fixed(i.max_jitter_ms, "%.3f"); });
  append_array("mos", [&](const StreamInterval& i) {
    if (i.mos < 0) {
      out->append("null");
    } else {
      append_fixed(i.mos, "%.2f");
    }
  });
  out->push_back('}');
}

}  // namespace sipman::media
