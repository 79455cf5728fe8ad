// Private to alerts: one rule's samples of one key over a sliding window,
// in ten buckets of a tenth of the window each, with running sums so that
// adding a sample and reading the value are both O(1).
#ifndef SIPMAN_ALERTS_WINDOW_H_
#define SIPMAN_ALERTS_WINDOW_H_

#include <cstdint>
#include <limits>

namespace sipman::alerts::internal {

constexpr int kBuckets = 10;

// What one event adds to a rule's window.
struct Sample {
  int64_t hits = 0;     // counted events, or a value (x1000) for means
  int64_t samples = 0;  // the denominator
  int bin = -1;         // percentile rules: the histogram bin, else -1
  bool bad = false;     // the sample pushes toward firing: kept as evidence
};

// Post-dial delay bins (ms, upper bounds); the last is open.
constexpr int64_t kPercentileBounds[] = {100,  200,  300,  500,   750,   1000,  1500, 2000,
                                         3000, 4000, 5000, 7500, 10000, 15000, 30000};
constexpr int kBins = sizeof kPercentileBounds / sizeof kPercentileBounds[0] + 1;

struct Window {
  uint32_t generation = 0;  // the key's generation these samples belong to
  int32_t firing = -1;      // index in the engine's firing list, or -1
  int64_t head = std::numeric_limits<int64_t>::min();  // newest bucket's number
  int64_t last_ts = 0;      // the key's last event (silence rules)
  int64_t hits_sum = 0, samples_sum = 0;
  int32_t hits[kBuckets] = {}, samples[kBuckets] = {};

  // Drops the buckets older than the window ending in bucket `bucket`.
  void Slide(int64_t bucket) {
    if (bucket <= head) return;
    if (head == std::numeric_limits<int64_t>::min() || bucket - head >= kBuckets) {
      for (int i = 0; i < kBuckets; ++i) hits[i] = samples[i] = 0;
      hits_sum = samples_sum = 0;
    } else {
      for (int64_t b = head + 1; b <= bucket; ++b) {
        const int i = static_cast<int>(b % kBuckets);
        hits_sum -= hits[i];
        samples_sum -= samples[i];
        hits[i] = samples[i] = 0;
      }
    }
    head = bucket;
  }
  // A sample older than the window counts in the newest bucket.
  void Add(int64_t bucket, const Sample& s) {
    if (head != std::numeric_limits<int64_t>::min() && bucket <= head - kBuckets) bucket = head;
    const int i = static_cast<int>(bucket % kBuckets);
    hits[i] = static_cast<int32_t>(hits[i] + s.hits);
    samples[i] = static_cast<int32_t>(samples[i] + s.samples);
    hits_sum += s.hits;
    samples_sum += s.samples;
  }
};

// A percentile rule's histogram beside its Window (same buckets).
struct Histogram {
  int64_t head = std::numeric_limits<int64_t>::min();
  uint32_t totals[kBins] = {};
  uint16_t bins[kBuckets][kBins] = {};

  void Slide(int64_t bucket) {
    if (bucket <= head) return;
    if (head == std::numeric_limits<int64_t>::min() || bucket - head >= kBuckets) {
      *this = Histogram{};
    } else {
      for (int64_t b = head + 1; b <= bucket; ++b) {
        uint16_t* row = bins[b % kBuckets];
        for (int k = 0; k < kBins; ++k) {
          totals[k] -= row[k];
          row[k] = 0;
        }
      }
    }
    head = bucket;
  }
  void Add(int64_t bucket, int bin) {
    if (head != std::numeric_limits<int64_t>::min() && bucket <= head - kBuckets) bucket = head;
    uint16_t& b = bins[bucket % kBuckets][bin];
    if (b == UINT16_MAX) return;  // saturated: a bucket of 65,535 calls is plenty
    ++b;
    ++totals[bin];
  }
  // The upper bound of the bin holding the 95th percentile (ms); the open
  // bin reports twice the last bound.
  double P95(int64_t count) const {
    const int64_t rank = (count * 95 + 99) / 100;  // ceil(0.95 * count)
    int64_t seen = 0;
    for (int k = 0; k < kBins; ++k) {
      seen += totals[k];
      if (seen >= rank) {
        return k < kBins - 1 ? static_cast<double>(kPercentileBounds[k])
                             : 2.0 * static_cast<double>(kPercentileBounds[kBins - 2]);
      }
    }
    return 0;
  }
};

inline int PercentileBin(int64_t ms) {
  int k = 0;
  while (k < kBins - 1 && ms > kPercentileBounds[k]) ++k;
  return k;
}

}  // namespace sipman::alerts::internal

#endif  // SIPMAN_ALERTS_WINDOW_H_
