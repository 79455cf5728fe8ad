// Private to calls/: the call tracker's implementation class, split over
// call_tracker.cc (messages into calls), call_records.cc (timers, the
// open-call cap and the records emitted) and registrations.cc, and the small
// helpers they share. The state it keeps is in tracker_state.h.
#ifndef SIPMAN_CALLS_TRACKER_IMPL_H_
#define SIPMAN_CALLS_TRACKER_IMPL_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/fnv.h"
#include "calls/calls.h"
#include "calls/sip_fields.h"
#include "calls/tracker_state.h"

namespace sipman::calls {
namespace internal {

enum class Method : uint8_t { kInvite, kAck, kBye, kCancel, kPrack, kUpdate, kRegister, kOther };

// SIP method names are case-sensitive (RFC 3261 section 7.1).
inline Method ClassifyMethod(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "ACK") return Method::kAck;
      if (m == "BYE") return Method::kBye;
      break;
    case 5:
      if (m == "PRACK") return Method::kPrack;
      break;
    case 6:
      if (m == "INVITE") return Method::kInvite;
      if (m == "CANCEL") return Method::kCancel;
      if (m == "UPDATE") return Method::kUpdate;
      break;
    case 8:
      if (m == "REGISTER") return Method::kRegister;
      break;
    default:
      break;
  }
  return Method::kOther;
}

// Methods that exist only inside INVITE dialogs.
inline bool IsInviteDialogOnly(Method m) {
  return m == Method::kAck || m == Method::kBye || m == Method::kCancel || m == Method::kPrack ||
         m == Method::kUpdate;
}

// FNV-1a over fields: a text ends with 0xff (a byte UTF-8 never holds), so
// ("ab", "c") and ("a", "bc") differ; numbers are 4 bytes.
class Fnv {
 public:
  void Add(std::string_view s) {
    h_.Bytes(s);
    h_.Byte(0xff);
  }
  void Add(uint32_t v) { h_.LittleEndian(v, 4); }
  uint32_t value() const { return h_.value(); }

 private:
  Fnv1a32 h_;
};

// Identifies a message up to retransmission: a request by method, CSeq and
// top Via branch; a response by status, CSeq, To-tag and top Via branch (the
// branch keeps apart the copies of one response on both sides of a proxy).
inline uint32_t Fingerprint(const sip::SipMessage& m) {
  Fnv h;
  if (m.is_request) {
    h.Add(m.method);
    h.Add(m.cseq_number);
    h.Add(m.via_branch);
    if (m.via_branch.empty()) h.Add(m.from.tag);
  } else {
    h.Add(static_cast<uint32_t>(m.status_code) | 0x80000000u);
    h.Add(m.cseq_number);
    h.Add(m.cseq_method);
    h.Add(m.to.tag);
    h.Add(m.via_branch);
  }
  return h.value();
}

inline uint32_t Hash(std::string_view s) {
  Fnv h;
  h.Add(s);
  return h.value();
}

// A branch from an RFC 3261 client starts with the magic cookie (section
// 8.1.1.7) and is unique per transaction; an older one may not be.
inline bool IsRfc3261Branch(std::string_view branch) {
  return branch.size() > 7 && branch.substr(0, 7) == "z9hG4bK";
}

inline bool IsChallenge(int status) { return status == 401 || status == 407; }

inline bool Contains(const uint32_t* values, size_t n, uint32_t v) {
  for (size_t i = 0; i < n; ++i) {
    if (values[i] == v) return true;
  }
  return false;
}

inline int64_t ToMs(TimestampNs d) { return d / kNsPerMs; }

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Call-ID -> slot. Keys are found by std::string_view without allocating.
using IndexMap = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

struct SlotRef {
  uint32_t slot;
  uint32_t gen;
};

// Why a call is emitted. A timer and the open-call cap label it alike (what
// it had become); Finish labels a call still up in_progress.
enum class EmitMode : uint8_t { kTimer, kEvicted, kFinish };

}  // namespace internal

using internal::Call;
using internal::EvictionClass;
using internal::KeepEarliest;
using internal::kNever;
using internal::kNil;
using internal::MediaRef;
using internal::Registration;
using internal::SaturatingAdd;
using internal::Side;
using internal::SlotPool;
using internal::TextRef;
using internal::TimerEntry;
using internal::TimerHeap;
using internal::ClassifyMethod;
using internal::Contains;
using internal::EmitMode;
using internal::Fingerprint;
using internal::Hash;
using internal::IsChallenge;
using internal::IsInviteDialogOnly;
using internal::IsRfc3261Branch;
using internal::ToMs;
using internal::IndexMap;
using internal::Method;
using internal::SlotRef;
using internal::StringHash;

class CallTracker::Impl {
 public:
  Impl(const CallTrackerOptions& options, RecordSink* sink) : options_(options), sink_(sink) {}

  void OnMessage(const SipEvent& ev);
  void AdvanceTime(TimestampNs now);
  void Finish(TimestampNs now);
  void SnapshotOpenCalls(TimestampNs now, RecordSink* sink);
  uint64_t CountOpenCalls(TimestampNs now);
  const CallTrackerCounters& counters() {
    counters_.open_calls = calls_.size();
    counters_.open_registrations = regs_.size();
    return counters_;
  }

 private:
  // ---- calls
  bool MayStartCall(const sip::SipMessage& m, Method method);
  uint32_t CreateCall(std::string_view call_id);
  void ProcessCallMessage(uint32_t slot, const SipEvent& ev, Method method);
  void OnCallRequest(uint32_t slot, Call& c, const SipEvent& ev, Method method,
                     bool retransmission);
  void OnCallResponse(Call& c, const SipEvent& ev, Method method, bool retransmission);
  void OnInitialInvite(uint32_t slot, Call& c, const SipEvent& ev, bool retransmission);
  void OnInviteResponse(Call& c, const SipEvent& ev, bool retransmission);
  void FillFromInvite(uint32_t slot, Call& c, const SipEvent& ev);
  bool IsInitialInviteResponse(const Call& c, const sip::SipMessage& m) const;
  bool AwaitsAuthRetry(const Call& c) const;
  bool IsAuthRetry(const Call& c, const sip::SipMessage& m) const;
  bool StartsNewCall(const Call& c, const SipEvent& ev, Method method) const;
  Side SenderSide(const Call& c, const SipEvent& ev) const;
  void SetCallee(Call& c, const sip::SipMessage& m, uint8_t rank);
  void SetReason(Call& c, const sip::SipMessage& m);
  void UpdateMedia(Call& c, Side side, const SipEvent& ev);
  void Correlate(uint32_t slot, Call& c, std::string_view value);
  TimestampNs CallDeadline(const Call& c) const;
  void ScheduleCall(uint32_t slot);
  EvictionClass EvictionClassOf(const Call& c) const;
  void EvictCall();
  void EmitCall(uint32_t slot, EmitMode mode);
  void BuildRecord(const Call& c, EmitMode mode, CallRecord* r) const;

  // ---- registrations
  void OnRegisterMessage(const SipEvent& ev);
  uint32_t CreateRegistration(std::string_view call_id);
  void FillFromRegister(Registration& r, const SipEvent& ev);
  void CompleteRegistration(Registration& r, int status, TimestampNs ts, int64_t response_expires);
  TimestampNs RegistrationDeadline(const Registration& r) const;
  void ScheduleRegistration(uint32_t slot);
  void ExpireRegistration(uint32_t slot);

  const std::string* InsertKey(IndexMap* map, std::string_view key, uint32_t slot);
  void EraseKey(IndexMap* map, const std::string* key);

  const CallTrackerOptions options_;
  RecordSink* const sink_;
  CallTrackerCounters counters_;

  SlotPool<Call> calls_;
  internal::EvictionLists evictions_{&calls_};
  IndexMap calls_by_id_;
  TimerHeap call_timers_;
  SlotPool<Registration> regs_;
  IndexMap regs_by_id_;
  TimerHeap reg_timers_;
  // Map nodes of emitted calls and registrations, reused so that a new one
  // does not allocate a node and a key. At most as many are kept as were
  // ever open at once (the memory of the peak stays, like a pool's).
  std::vector<IndexMap::node_type> spare_nodes_;
  size_t peak_open_ = 0;
  // Correlation header value -> the first open call that carried it.
  std::unordered_map<std::string, SlotRef, StringHash, std::equal_to<>> correlation_index_;

  CallRecord record_;              // reused for every emitted call
  sip::SdpSession sdp_;            // scratch for UpdateMedia
};

}  // namespace sipman::calls

#endif  // SIPMAN_CALLS_TRACKER_IMPL_H_
