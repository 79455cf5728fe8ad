#include "net/ip_reassembly.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/address_hash.h"

namespace sipman::net {
namespace {

constexpr size_t kKeptCapacity = 16 * 1024;

}  // namespace
namespace {

constexpr uint32_t kMaxDatagram = 65535;

}  // namespace

struct IpReassembler::Datagram {
  FragmentKey key;
  TimestampNs first_ts = 0;
  std::string data;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // sorted, merged [begin, end)
  uint32_t total = 0;
  bool total_known = false;
  uint32_t fragments = 0;
  Datagram* prev = nullptr;  // older
  Datagram* next = nullptr;  // newer
};

size_t IpReassembler::KeyHash::operator()(const FragmentKey& k) const {
  return HashAddressPair(k.id ^ (static_cast<uint64_t>(k.protocol) << 32), k.src, k.dst);
}

IpReassembler::IpReassembler(const DecoderOptions& options, DecoderCounters* counters)
    : options_(options), counters_(counters) {}

IpReassembler::~IpReassembler() = default;

void IpReassembler::Unlink(Datagram* d) {
  if (d->prev) d->prev->next = d->next; else oldest_ = d->next;
  if (d->next) d->next->prev = d->prev; else newest_ = d->prev;
  d->prev = d->next = nullptr;
}

void IpReassembler::Drop(Datagram* d) {
  Unlink(d);
  auto node = map_.extract(d->key);
  if (!node.empty() && free_nodes_.size() < 64) free_nodes_.push_back(std::move(node));
  bytes_ -= d->data.size();
  d->data.clear();
  // A recycled datagram keeps a typical SIP message's room, not a 64 KiB
  // one's: thousands of free datagrams must not hold what the budget freed.
  if (d->data.capacity() > kKeptCapacity) std::string().swap(d->data);
  d->ranges.clear();
  free_.push_back(d);
}

void IpReassembler::ExpireOlderThan(TimestampNs ts) {
  while (oldest_ != nullptr && oldest_->first_ts < ts) {
    counters_->ip_fragments_dropped += oldest_->fragments;
    Drop(oldest_);
  }
}

bool IpReassembler::AddFragment(TimestampNs ts, const FragmentKey& key, uint32_t offset,
                                bool more, std::span<const uint8_t> data,
                                std::span<const uint8_t>* datagram) {
  if (ts >= std::numeric_limits<TimestampNs>::min() + options_.fragment_timeout_ns) {
    ExpireOlderThan(ts - options_.fragment_timeout_ns);
  }
  const uint64_t end64 = static_cast<uint64_t>(offset) + data.size();
  // Only the last fragment may have a length that is not a multiple of 8.
  if (end64 > kMaxDatagram || (more && data.size() % 8 != 0) || (more && data.empty())) {
    ++counters_->ip_fragments_dropped;
    return false;
  }
  const uint32_t end = static_cast<uint32_t>(end64);

  Datagram* d;
  auto it = map_.find(key);
  if (it != map_.end()) {
    d = it->second;
  } else {
    if (options_.max_fragment_datagrams == 0) {
      ++counters_->ip_fragments_dropped;
      return false;
    }
    while (map_.size() >= options_.max_fragment_datagrams && oldest_ != nullptr) {
      counters_->ip_fragments_dropped += oldest_->fragments;
      Drop(oldest_);
    }
    if (free_.empty()) {
      all_.push_back(std::make_unique<Datagram>());
      free_.push_back(all_.back().get());
    }
    d = free_.back();
    free_.pop_back();
    d->key = key;
    d->first_ts = ts;
    d->total = 0;
    d->total_known = false;
    d->fragments = 0;
    d->prev = newest_;
    d->next = nullptr;
    if (newest_) newest_->next = d; else oldest_ = d;
    newest_ = d;
    if (!free_nodes_.empty()) {
      Map::node_type node = std::move(free_nodes_.back());
      free_nodes_.pop_back();
      node.key() = key;
      node.mapped() = d;
      map_.insert(std::move(node));
    } else {
      map_.emplace(key, d);
    }
  }
  ++d->fragments;

  // Consistency with the known total length: first wins.
  if (d->total_known && (end > d->total || (!more && end != d->total))) return false;
  if (!more) {
    if (!d->ranges.empty() && d->ranges.back().second > end) return false;
    d->total = end;
    d->total_known = true;
  }

  if (end > d->data.size()) {
    const size_t grow = end - d->data.size();
    while (bytes_ + grow > options_.max_fragment_bytes && oldest_ != nullptr && oldest_ != d) {
      counters_->ip_fragments_dropped += oldest_->fragments;
      Drop(oldest_);
    }
    if (bytes_ + grow > options_.max_fragment_bytes) {
      counters_->ip_fragments_dropped += d->fragments;
      Drop(d);
      return false;
    }
    d->data.resize(end);
    bytes_ += grow;
  }

  // Copy only the bytes not covered yet, then merge the range in.
  auto& ranges = d->ranges;
  uint32_t cursor = offset;
  for (const auto& r : ranges) {
    if (r.second <= cursor) continue;
    if (r.first >= end) break;
    if (r.first > cursor) {
      std::memcpy(d->data.data() + cursor, data.data() + (cursor - offset), r.first - cursor);
    }
    cursor = std::max(cursor, r.second);
    if (cursor >= end) break;
  }
  if (cursor < end) {
    std::memcpy(d->data.data() + cursor, data.data() + (cursor - offset), end - cursor);
  }
  auto pos = std::lower_bound(ranges.begin(), ranges.end(), std::make_pair(offset, end));
  pos = ranges.insert(pos, {offset, end});
  // Merge neighbours (including touching ranges).
  size_t i = static_cast<size_t>(pos - ranges.begin());
  if (i > 0 && ranges[i - 1].second >= ranges[i].first) --i;
  while (i + 1 < ranges.size() && ranges[i].second >= ranges[i + 1].first) {
    ranges[i].second = std::max(ranges[i].second, ranges[i + 1].second);
    ranges.erase(ranges.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }

  if (d->total_known && ranges.size() == 1 && ranges[0].first == 0 &&
      ranges[0].second == d->total) {
    completed_.swap(d->data);
    completed_.resize(d->total);
    ++counters_->ip_reassembled;
    bytes_ -= completed_.size();
    d->data.clear();
    Drop(d);
    *datagram = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(completed_.data()),
                                         completed_.size());
    return true;
  }
  return false;
}

void IpReassembler::Finish() {
  while (oldest_ != nullptr) {
    counters_->ip_fragments_dropped += oldest_->fragments;
    Drop(oldest_);
  }
}

}  // namespace sipman::net
