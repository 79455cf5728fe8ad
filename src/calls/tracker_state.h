// Private to calls/: the per-call and per-registration state the tracker
// keeps, the slot pool that holds them, and the timer heap that expires them.
//
// A call keeps its strings once, in one small per-call text arena addressed
// by (offset, length) pairs, so an open call costs one arena plus a fixed
// struct, and a reused slot keeps its arena's capacity (no allocation per
// call in the steady state).
#ifndef SIPMAN_CALLS_TRACKER_STATE_H_
#define SIPMAN_CALLS_TRACKER_STATE_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/time.h"
#include "calls/calls.h"

namespace sipman::calls::internal {

constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
constexpr TimestampNs kNever = std::numeric_limits<TimestampNs>::max();

// Sets `*t` to `v` when `*t` is absent (0) or later than `v`.
inline void KeepEarliest(TimestampNs* t, TimestampNs v) {
  if (*t == 0 || v < *t) *t = v;
}

inline TimestampNs SaturatingAdd(TimestampNs a, TimestampNs b) {
  if (b > 0 && a > kNever - b) return kNever;
  return a + b;
}

// A string kept in a TextArena (which stays under 64 KiB).
struct TextRef {
  uint16_t offset = 0;
  uint16_t length = 0;
};

// Append-mostly storage for one call's strings. A value no longer than the
// one it replaces is overwritten in place, so repeated updates (media of
// re-INVITEs) do not grow the arena; past kMaxBytes new values are dropped.
class TextArena {
 public:
  static constexpr size_t kMaxBytes = 8192;
  static constexpr size_t kMaxValueBytes = 1024;
  static_assert(kMaxBytes <= 65535, "TextRef holds 16-bit offsets");

  std::string_view Get(TextRef r) const {
    return std::string_view(bytes_.data() + r.offset, r.length);
  }

  void Set(TextRef* r, std::string_view v) {
    if (v.size() > kMaxValueBytes) v = v.substr(0, kMaxValueBytes);
    if (Get(*r) == v) return;
    if (v.size() <= r->length) {
      if (!v.empty()) std::memcpy(bytes_.data() + r->offset, v.data(), v.size());
      r->length = static_cast<uint16_t>(v.size());
      return;
    }
    if (bytes_.size() + v.size() > kMaxBytes) return;
    r->offset = static_cast<uint16_t>(bytes_.size());
    r->length = static_cast<uint16_t>(v.size());
    bytes_.append(v);
  }

  // Forgets all values; keeps the capacity unless it grew large.
  void Clear() {
    if (bytes_.capacity() > 1024) {
      std::string().swap(bytes_);
    } else {
      bytes_.clear();
    }
  }
  void Reserve(size_t n) { bytes_.reserve(n); }

 private:
  std::string bytes_;
};

// A small ring of 32-bit hashes: message fingerprints that recognise
// retransmissions, Via branches, nonces. When full, a new hash replaces the
// oldest.
template <size_t N>
class FingerprintRing {
 public:
  bool Contains(uint32_t fp) const {
    for (size_t i = 0; i < count_; ++i) {
      if (fps_[i] == fp) return true;
    }
    return false;
  }
  bool empty() const { return count_ == 0; }

  // True when `fp` was seen; otherwise remembers it.
  bool SeenOrAdd(uint32_t fp) {
    if (Contains(fp)) return true;
    fps_[next_] = fp;
    next_ = static_cast<uint8_t>((next_ + 1) % N);
    if (count_ < N) ++count_;
    return false;
  }
  void Clear() { count_ = next_ = 0; }

 private:
  uint32_t fps_[N] = {};
  uint8_t count_ = 0;
  uint8_t next_ = 0;
};

enum class Side : uint8_t { kUnknown, kCaller, kCallee };

constexpr size_t kMaxStreams = 4;

struct StreamRef {
  TextRef type, address, codecs;
  uint16_t port = 0;
};

// The media one side last offered or answered.
struct MediaRef {
  TimestampNs ts = 0;  // of the SDP kept (a later one replaces it)
  uint8_t count = 0;
  StreamRef streams[kMaxStreams];
};

// What evicting an open call at the open-call cap costs, cheapest first
// (CallTrackerOptions::max_open_calls says why in this order).
enum class EvictionClass : uint8_t {
  kNoResponse,   // INVITE without a response from beyond the next hop
  kChallenged,   // ended by a 401/407, held for the retry with credentials
  kEnded,        // ended (BYE, final failure, CANCEL), absorbing late copies
  kRinging,      // a provisional response from the callee, no final one yet
  kEstablished,  // answered, not hung up
  kNone,         // in no list (not open, or being created)
};
constexpr size_t kEvictionClasses = static_cast<size_t>(EvictionClass::kNone);

// Slot bookkeeping shared by Call and Registration.
struct Slot {
  uint32_t gen = 0;  // bumped when the slot is released; stale timers compare it
  bool in_use = false;
  uint32_t older = kNil, newer = kNil;  // creation order, for the cap
  TimestampNs queued_at = kNever;       // earliest timer entry pending for it
  const std::string* key = nullptr;     // the Call-ID, owned by the index map
};

struct Call : Slot {
  TextArena text;
  TextRef caller_user, caller_display, caller_domain, caller_tag, pai_user;
  TextRef callee_user, ruri_user, callee_domain, callee_tag, diversion_user;
  TextRef transport, final_reason, reason_protocol, reason_text;
  TextRef caller_user_agent, callee_user_agent, correlation_id, linked_call_id;
  MediaRef caller_media, callee_media;

  IpAddress src_ip, dst_ip;  // of the first INVITE: the caller's side is src
  uint16_t src_port = 0, dst_port = 0;

  TimestampNs first_seen = 0, last_seen = 0;
  TimestampNs invite_ts = 0, first_provisional_ts = 0, first_18x_ts = 0, answer_ts = 0;
  TimestampNs ack_ts = 0, bye_ts = 0, bye_final_ts = 0, cancel_ts = 0, final_ts = 0;
  TimestampNs finished_at = 0;  // capture time of the message that finished the call

  // CSeq numbers of the caller's INVITEs without To-tag (the first ones,
  // and auth or redirect retries) and of re-INVITEs.
  static constexpr size_t kCSeqSlots = 4;
  uint32_t initial_cseqs[kCSeqSlots] = {};
  uint32_t reinvite_cseqs[kCSeqSlots] = {};
  uint8_t initial_count = 0, reinvite_next = 0, reinvite_count = 0;
  uint32_t max_initial_cseq = 0;
  uint32_t answer_cseq = 0, ack_cseq = 0;
  // Highest CSeq of an initial INVITE that got a provisional response: the
  // latest attempt is past Timer B (RFC 3261 section 17.1.1.2) when it is
  // not below max_initial_cseq.
  uint32_t provisional_cseq = 0;
  bool provisional_seen = false;
  // Earliest capture time of the INVITE with max_initial_cseq: the start of
  // the latest attempt (an auth retry may come minutes after the first).
  TimestampNs attempt_ts = 0;

  // Hashes of the top Via branches of the INVITEs seen, to match responses
  // to their client transaction (RFC 3261 section 17.1.3): the initial
  // INVITEs (every copy, e.g. both sides of a proxy) and the re-INVITEs of
  // either side.
  FingerprintRing<4> initial_branches, reinvite_branches;
  // Hashes of the Digest nonces of the 401/407 challenges to the INVITE: a
  // retry after the linger time must answer one of them (section 22.2).
  FingerprintRing<4> challenge_nonces;

  uint32_t message_count = 0, retransmissions = 0, auth_challenges = 0;
  uint64_t byte_count = 0;
  FingerprintRing<16> seen;

  // Its eviction class and its place in that class's list (EvictionLists).
  EvictionClass eviction_class = EvictionClass::kNone;
  uint32_t lru_prev = kNil, lru_next = kNil;

  int16_t final_status = 0;
  int32_t reason_cause = 0;
  uint8_t callee_rank = 0;  // what set callee_tag: 1 provisional, 2 final, 3 answer
  Side hangup = Side::kUnknown;
  bool invite_seen = false, have_endpoints = false, answered = false, cancel_seen = false;
  bool bye_seen = false, finished = false, reason_set = false;
  // A provisional response to the initial INVITE from a UA, not only a
  // next hop's 100 Trying without To tag: the INVITE reached the callee.
  bool callee_provisional = false;

  // Back to the state of a new call; keeps gen and the arena's capacity.
  void Reset() {
    const uint32_t g = gen;
    TextArena keep = std::move(text);
    keep.Clear();
    *this = Call();
    text = std::move(keep);
    gen = g;
  }
};

struct Registration : Slot {
  RegistrationRecord record;
  FingerprintRing<8> seen;
  bool register_seen = false;
  bool completed = false;  // emitted; kept a while to absorb late copies
  bool orphan_counted = false;
  uint32_t max_cseq = 0, completed_cseq = 0;
  int last_challenge = 0;  // 401/407 when the last response was a challenge
  // A final response seen before any REGISTER (capture reordering).
  int pending_status = 0;
  TimestampNs pending_ts = 0;
  int64_t pending_expires = -1;
  TimestampNs first_register_ts = 0, last_register_at = 0, completed_at = 0;

  void Reset() {
    const uint32_t g = gen;
    *this = Registration();
    gen = g;
  }
};

// Slots of T (a Slot with Reset()) indexed by uint32_t, reused through a
// free list, and linked in creation order so the oldest is found in O(1).
// The slots live in fixed chunks, never moved: growing by one chunk costs
// one chunk, where a vector's doubling briefly held the old and the new
// array (with 200,000 open calls, 260 MB at once instead of 133 MB).
template <typename T>
class SlotPool {
 public:
  T& operator[](uint32_t i) { return chunks_[i >> kChunkBits][i & kChunkMask]; }
  const T& operator[](uint32_t i) const { return chunks_[i >> kChunkBits][i & kChunkMask]; }
  size_t size() const { return used_; }
  uint32_t oldest() const { return oldest_; }

  uint32_t Allocate() {
    uint32_t i;
    if (!free_.empty()) {
      i = free_.back();
      free_.pop_back();
    } else {
      i = static_cast<uint32_t>(allocated_++);
      if ((i & kChunkMask) == 0) chunks_.push_back(std::make_unique<T[]>(kChunkSize));
    }
    T& s = (*this)[i];
    s.Reset();
    s.in_use = true;
    s.older = newest_;
    s.newer = kNil;
    if (newest_ != kNil) (*this)[newest_].newer = i;
    newest_ = i;
    if (oldest_ == kNil) oldest_ = i;
    ++used_;
    return i;
  }

  void Release(uint32_t i) {
    T& s = (*this)[i];
    (s.older != kNil ? (*this)[s.older].newer : oldest_) = s.newer;
    (s.newer != kNil ? (*this)[s.newer].older : newest_) = s.older;
    s.in_use = false;
    s.key = nullptr;
    ++s.gen;
    free_.push_back(i);
    --used_;
  }

  template <typename F>
  void ForEachInUse(F f) {
    for (uint32_t i = oldest_; i != kNil; i = (*this)[i].newer) f(i, (*this)[i]);
  }

 private:
  static constexpr uint32_t kChunkBits = 12;  // 4,096 slots: 2.7 MB of calls
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr uint32_t kChunkMask = kChunkSize - 1;

  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t allocated_ = 0;  // slots ever handed out; the chunks hold them
  std::vector<uint32_t> free_;
  uint32_t oldest_ = kNil, newest_ = kNil;
  size_t used_ = 0;
};

// The open calls in one list per EvictionClass, each least recently active
// first, linked through the calls' own lru_prev / lru_next: moving a call is
// O(1) and allocates nothing, and the call to evict is found in O(1).
class EvictionLists {
 public:
  explicit EvictionLists(SlotPool<Call>* calls) : calls_(calls) {}

  // Makes `slot` the most recently active call of class `cls`.
  void Touch(uint32_t slot, EvictionClass cls) {
    Call& c = (*calls_)[slot];
    if (c.eviction_class == cls && c.lru_next == kNil) return;  // already there
    Remove(slot);
    List& list = lists_[static_cast<size_t>(cls)];
    c.eviction_class = cls;
    c.lru_prev = list.newest;
    c.lru_next = kNil;
    (list.newest != kNil ? (*calls_)[list.newest].lru_next : list.oldest) = slot;
    list.newest = slot;
  }

  // Takes `slot` out of its list; a call in none is left alone.
  void Remove(uint32_t slot) {
    Call& c = (*calls_)[slot];
    if (c.eviction_class == EvictionClass::kNone) return;
    List& list = lists_[static_cast<size_t>(c.eviction_class)];
    (c.lru_prev != kNil ? (*calls_)[c.lru_prev].lru_next : list.oldest) = c.lru_next;
    (c.lru_next != kNil ? (*calls_)[c.lru_next].lru_prev : list.newest) = c.lru_prev;
    c.eviction_class = EvictionClass::kNone;
    c.lru_prev = c.lru_next = kNil;
  }

  // The call to evict: the least recently active of the cheapest non-empty
  // class; kNil when no call is in a list.
  uint32_t Victim() const {
    for (const List& list : lists_) {
      if (list.oldest != kNil) return list.oldest;
    }
    return kNil;
  }

 private:
  struct List {
    uint32_t oldest = kNil, newest = kNil;
  };
  SlotPool<Call>* const calls_;
  List lists_[kEvictionClasses];
};

struct TimerEntry {
  TimestampNs when;
  uint32_t slot;
  uint32_t gen;
};

// A min-heap of deadlines. Entries are never removed early: an entry whose
// slot was released (gen differs) or rescheduled (queued_at differs) is
// skipped when it comes up.
class TimerHeap {
 public:
  void Push(TimerEntry e) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end(), Later);
  }
  bool Due(TimestampNs now) const { return !heap_.empty() && heap_.front().when <= now; }
  TimerEntry Pop() {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    TimerEntry e = heap_.back();
    heap_.pop_back();
    return e;
  }
  size_t size() const { return heap_.size(); }
  void Clear() { heap_.clear(); }

 private:
  static bool Later(const TimerEntry& a, const TimerEntry& b) { return a.when > b.when; }
  std::vector<TimerEntry> heap_;
};

}  // namespace sipman::calls::internal

#endif  // SIPMAN_CALLS_TRACKER_STATE_H_
