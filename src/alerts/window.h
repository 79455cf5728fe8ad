// Private to alerts: one rule's samples of one key over a sliding window,
// in ten buckets of a tenth of the window each, with running sums so that
// adding a sample and reading the value are both O(1). All zero bytes is an
// empty window, so windows come from zeroed pages (SlotArray) without being
// written until their key gets a sample.
#ifndef SIPMAN_ALERTS_WINDOW_H_
#define SIPMAN_ALERTS_WINDOW_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

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

// What every window starts with.
struct WindowHead {
  uint32_t generation;  // the key's generation these samples belong to
  uint32_t firing;      // index in the engine's firing list + 1; 0: not firing
  // The newest bucket's number + 1; 0: no sample yet. Silence rules keep
  // no buckets: theirs holds the key's last event (last_ts()).
  int64_t next;

  bool is_firing() const { return firing != 0; }
  size_t firing_index() const { return firing - 1; }
  void set_firing(size_t index) { firing = static_cast<uint32_t>(index + 1); }
  void clear_firing() { firing = 0; }
  int64_t head() const { return next - 1; }  // REQUIRES: next != 0
  int64_t& last_ts() { return next; }
  int64_t last_ts() const { return next; }
};

template <typename Count, typename Sum>
struct BasicWindow : WindowHead {
  Sum hits_sum, samples_sum;
  Count hits[kBuckets], samples[kBuckets];

  // Drops the buckets older than the window ending in bucket `bucket`.
  void Slide(int64_t bucket) {
    const int64_t head = next - 1;
    if (next != 0 && bucket <= head) return;
    if (next == 0 || bucket - head >= kBuckets) {
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
    next = bucket + 1;
  }
  // A sample older than the window counts in the newest bucket. A bucket
  // whose counts cannot take the sample keeps what it holds: a ratio then
  // stands on the bucket's first samples, and a count stops at the most
  // it can hold (the engine gives narrow windows only to rules whose
  // threshold lies far below).
  // REQUIRES: Slide() to a bucket at least this one's; s.hits >= 0 when
  // Count is narrow.
  void Add(int64_t bucket, const Sample& s) {
    if (bucket <= head() - kBuckets) bucket = head();
    const int i = static_cast<int>(bucket % kBuckets);
    int64_t add_hits = s.hits;
    if constexpr (sizeof(Count) < sizeof(int32_t)) {
      constexpr int64_t kMax = std::numeric_limits<Count>::max();
      if (s.samples > 0 && (samples[i] + s.samples > kMax || hits[i] + s.hits > kMax)) return;
      add_hits = std::min<int64_t>(s.hits, kMax - hits[i]);
    }
    hits[i] = static_cast<Count>(hits[i] + add_hits);
    samples[i] = static_cast<Count>(samples[i] + s.samples);
    hits_sum = static_cast<Sum>(hits_sum + add_hits);
    samples_sum = static_cast<Sum>(samples_sum + s.samples);
  }
};

// One cache line: counts up to 65,535 per bucket. For ratios, gauges,
// silences and counts whose threshold a bucket can hold many times over.
using NarrowWindow = BasicWindow<uint16_t, int32_t>;
// For means (sums of values), percentiles, differences and large counts.
using WideWindow = BasicWindow<int32_t, int64_t>;
static_assert(sizeof(NarrowWindow) == 64);


// A percentile rule's histogram beside its Window (same buckets).
// All zero bytes is empty, as for Window.
struct Histogram {
  int64_t next;  // newest bucket's number + 1; 0: none
  uint32_t totals[kBins];
  uint16_t bins[kBuckets][kBins];

  void Slide(int64_t bucket) {
    const int64_t head = next - 1;
    if (next != 0 && bucket <= head) return;
    if (next == 0 || bucket - head >= kBuckets) {
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
    next = bucket + 1;
  }
  // REQUIRES: Slide() to a bucket at least this one's.
  void Add(int64_t bucket, int bin) {
    const int64_t head = next - 1;
    if (bucket <= head - kBuckets) bucket = head;
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

// One rule's windows (or histograms) by key slot, in chunks of up to 4096
// slots taken zeroed from calloc as slots come: all zero is empty, so
// nothing is written to initialize them, and a large calloc maps fresh
// zero pages, so a chunk takes memory only where its rule's keys got a
// sample. Slots are aligned to a cache line: a 64-byte window is one line.
template <typename T>
class SlotArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  static constexpr int kMaxChunkBits = 12;
  static constexpr uintptr_t kLine = 64;

  explicit SlotArray(size_t max_slots) {
    while (chunk_bits_ < kMaxChunkBits && (size_t{1} << chunk_bits_) < max_slots) ++chunk_bits_;
    chunks_.resize((max_slots + mask()) >> chunk_bits_);
    raw_.resize(chunks_.size());
  }
  ~SlotArray() {
    for (void* p : raw_) std::free(p);
  }
  SlotArray(const SlotArray&) = delete;
  SlotArray& operator=(const SlotArray&) = delete;

  // REQUIRES: slot < the max_slots given.
  T& operator[](uint32_t slot) {
    const size_t c = slot >> chunk_bits_;
    if (chunks_[c] == nullptr) [[unlikely]] NewChunk(c);
    return chunks_[c][slot & mask()];
  }
  // nullptr when no slot of its chunk was ever touched (then it is empty).
  T* Find(uint32_t slot) const {
    T* c = chunks_[slot >> chunk_bits_];
    return c ? c + (slot & mask()) : nullptr;
  }

 private:
  uint32_t mask() const { return (uint32_t{1} << chunk_bits_) - 1; }
  [[gnu::noinline]] void NewChunk(size_t c) {
    raw_[c] = std::calloc(1, (size_t{mask()} + 1) * sizeof(T) + kLine);
    if (raw_[c] == nullptr) throw std::bad_alloc();
    const uintptr_t at = (reinterpret_cast<uintptr_t>(raw_[c]) + kLine - 1) & ~(kLine - 1);
    chunks_[c] = reinterpret_cast<T*>(at);
  }

  int chunk_bits_ = 0;
  std::vector<T*> chunks_;   // aligned
  std::vector<void*> raw_;   // as calloc gave them, to free
};

inline int PercentileBin(int64_t ms) {
  int k = 0;
  while (k < kBins - 1 && ms > kPercentileBounds[k]) ++k;
  return k;
}

}  // namespace sipman::alerts::internal

#endif  // SIPMAN_ALERTS_WINDOW_H_
