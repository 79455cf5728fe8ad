// Private to alerts: the keys one group of rules holds, at most max_keys of
// them, in slots that are reused. An open-addressing index (linear probing,
// backward-shift deletion) maps a key to its slot with one hash of its
// bytes and, mostly, one cache line; a full table evicts the least recently
// used of a few sampled slots (approximate LRU: no list to keep in order on
// every event).
#ifndef SIPMAN_ALERTS_KEY_TABLE_H_
#define SIPMAN_ALERTS_KEY_TABLE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"

namespace sipman::alerts::internal {

struct Slot {
  uint64_t hash = 0;
  std::string key;                // as looked up (addresses in binary)
  IpAddress address, address2;    // the key's addresses, for its text
  uint32_t generation = 0;        // bumped when the slot takes another key
  uint32_t last_used = 0;         // capture second of its last event
  uint32_t firing = 0;            // rules firing on this key
};

class KeyTable {
 public:
  static constexpr uint32_t kNotFound = UINT32_MAX;
  static constexpr int kEvictionSample = 8;

  // The index grows with the keys (at most half full), so a group that
  // holds few keys holds a small index.
  explicit KeyTable(size_t max_keys) : max_keys_(max_keys) { Rebuild(16); }

  // Eight bytes at a time, each word mixed in by a multiply (keys are
  // addresses and user names: short).
  static uint64_t Hash(std::string_view key) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ key.size();
    size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, key.data() + i, 8);
      h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
      h ^= h >> 31;
    }
    uint64_t w = 0;
    for (size_t k = 0; i + k < key.size(); ++k) w |= uint64_t{static_cast<uint8_t>(key[i + k])} << (8 * k);
    h = (h ^ w) * 0x94d049bb133111ebull;
    // A full finalizer (MurmurHash3's fmix64): every input bit reaches the
    // low bits that pick the index entry, so keys differing only in their
    // last byte do not start their probes at one entry.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
  }

  // The key last found comes first: a group keyed by sensor, or by the
  // one address a trunk sends from, asks for the same key event after event.
  uint32_t Find(std::string_view key, uint64_t hash) {
    if (last_ < slots_.size() && slots_[last_].hash == hash && slots_[last_].key == key) return last_;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const uint32_t entry = index_[i];
      if (entry == 0) return kNotFound;
      const Slot& s = slots_[entry - 1];
      if (s.hash == hash && s.key == key) return last_ = entry - 1;
    }
  }

  // Starts fetching the index entry a lookup of `hash` reads first.
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&index_[hash & mask_]); }
  // Then the slot that entry names, which the lookup reads next.
  void PrefetchSlot(uint64_t hash) const {
    const uint32_t entry = index_[hash & mask_];
    if (entry != 0) __builtin_prefetch(&slots_[entry - 1]);
  }

  bool full() const { return slots_.size() >= max_keys_; }
  size_t size() const { return slots_.size(); }
  std::vector<Slot>& slots() { return slots_; }
  const std::vector<Slot>& slots() const { return slots_; }

  // A new slot for `key` (REQUIRES: not full()); the caller grows its
  // per-slot storage to slots().size().
  uint32_t Add(std::string_view key, uint64_t hash) {
    const uint32_t s = static_cast<uint32_t>(slots_.size());
    if ((slots_.size() + 1) * 2 > index_.size()) Rebuild(index_.size() * 2);
    slots_.emplace_back();
    Place(s, key, hash);
    return s;
  }

  // The slot to give up for a new key: the least recently used of a few
  // sampled ones, a firing one only when all sampled are.
  uint32_t Victim() {
    uint32_t best = kNotFound;
    for (int i = 0; i < kEvictionSample; ++i) {
      rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
      const uint32_t s = static_cast<uint32_t>((rng_ >> 33) % slots_.size());
      if (best == kNotFound) {
        best = s;
        continue;
      }
      const Slot& a = slots_[s];
      const Slot& b = slots_[best];
      if ((a.firing == 0) != (b.firing == 0) ? a.firing == 0 : a.last_used < b.last_used) best = s;
    }
    return best;
  }

  // Gives slot `s` to `key`: its old key leaves the index.
  void Reuse(uint32_t s, std::string_view key, uint64_t hash) {
    Erase(s);
    ++slots_[s].generation;
    slots_[s].firing = 0;
    Place(s, key, hash);
  }

 private:
  void Place(uint32_t s, std::string_view key, uint64_t hash) {
    Slot& slot = slots_[s];
    slot.hash = hash;
    slot.key.assign(key);
    Index(s);
  }
  void Index(uint32_t s) {
    size_t i = slots_[s].hash & mask_;
    while (index_[i] != 0) i = (i + 1) & mask_;
    index_[i] = s + 1;
  }
  void Rebuild(size_t size) {
    index_.assign(size, 0);
    mask_ = size - 1;
    for (uint32_t s = 0; s < slots_.size(); ++s) Index(s);
  }

  // Backward-shift deletion: the entries after the hole that could sit in
  // it move up, so every lookup still finds its key before an empty entry.
  void Erase(uint32_t s) {
    size_t hole = slots_[s].hash & mask_;
    while (index_[hole] != s + 1) hole = (hole + 1) & mask_;
    index_[hole] = 0;
    for (size_t j = (hole + 1) & mask_; index_[j] != 0; j = (j + 1) & mask_) {
      const size_t home = slots_[index_[j] - 1].hash & mask_;
      const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (stays) continue;
      index_[hole] = index_[j];
      index_[j] = 0;
      hole = j;
    }
  }

  size_t max_keys_;
  std::vector<uint32_t> index_;  // slot + 1; 0 is empty
  size_t mask_ = 0;
  std::vector<Slot> slots_;
  uint64_t rng_ = 0x9e3779b97f4a7c15ull;
  uint32_t last_ = kNotFound;  // the slot Find() returned last
};

}  // namespace sipman::alerts::internal

#endif  // SIPMAN_ALERTS_KEY_TABLE_H_
