// CallTracker: SIP messages in, one CallRecord per INVITE dialog and one
// RegistrationRecord per registration attempt out.
//
// Calls are found by Call-ID in a hash map with heterogeneous lookup (no
// allocation per message) and live in a slot pool; timers are a lazy min-heap
// in capture time; for the open-call cap each open call is also in the LRU
// list of its eviction class (EvictionLists). Everything a message tells is folded into the call as the
// earliest timestamp of each event, so the result does not depend on the
// order messages arrive in. The record's derived fields (state, durations,
// end time) are computed once, when it is emitted.
#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>

#include "calls/calls.h"
#include "calls/sip_fields.h"
#include "calls/tracker_state.h"

namespace sipman::calls {

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

std::string_view CallStateName(CallState state) {
  switch (state) {
    case CallState::kAnswered: return "answered";
    case CallState::kBusy: return "busy";
    case CallState::kCancelled: return "cancelled";
    case CallState::kNoAnswer: return "no_answer";
    case CallState::kFailed: return "failed";
    case CallState::kInProgress: return "in_progress";
    case CallState::kTimedOut: return "timed_out";
  }
  return "unknown";
}

namespace {

enum class Method : uint8_t { kInvite, kAck, kBye, kCancel, kPrack, kUpdate, kRegister, kOther };

// SIP method names are case-sensitive (RFC 3261 section 7.1).
Method ClassifyMethod(std::string_view m) {
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
bool IsInviteDialogOnly(Method m) {
  return m == Method::kAck || m == Method::kBye || m == Method::kCancel || m == Method::kPrack ||
         m == Method::kUpdate;
}

class Fnv {
 public:
  void Add(std::string_view s) {
    for (char c : s) Byte(static_cast<uint8_t>(c));
    Byte(0xff);
  }
  void Add(uint32_t v) {
    for (int i = 0; i < 4; ++i) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  uint32_t value() const { return h_; }

 private:
  void Byte(uint8_t b) { h_ = (h_ ^ b) * 16777619u; }
  uint32_t h_ = 2166136261u;
};

// Identifies a message up to retransmission: a request by method, CSeq and
// top Via branch; a response by status, CSeq, To-tag and top Via branch (the
// branch keeps apart the copies of one response on both sides of a proxy).
uint32_t Fingerprint(const sip::SipMessage& m) {
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

uint32_t Hash(std::string_view s) {
  Fnv h;
  h.Add(s);
  return h.value();
}

// A branch from an RFC 3261 client starts with the magic cookie (section
// 8.1.1.7) and is unique per transaction; an older one may not be.
bool IsRfc3261Branch(std::string_view branch) {
  return branch.size() > 7 && branch.substr(0, 7) == "z9hG4bK";
}

bool IsChallenge(int status) { return status == 401 || status == 407; }

bool Contains(const uint32_t* values, size_t n, uint32_t v) {
  for (size_t i = 0; i < n; ++i) {
    if (values[i] == v) return true;
  }
  return false;
}

int64_t ToMs(TimestampNs d) { return d / kNsPerMs; }

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

}  // namespace

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

// ------------------------------------------------------------------ entry

void CallTracker::Impl::OnMessage(const SipEvent& ev) {
  ++counters_.messages;
  const sip::SipMessage* m = ev.message;
  if (m == nullptr || m->call_id.empty() || m->cseq_method.empty() ||
      (m->malformed & (sip::kMalformedCSeq | sip::kMalformedMissingCallId)) != 0 ||
      (m->is_request ? m->method.empty() : (m->status_code < 100 || m->status_code > 699))) {
    ++counters_.malformed_skipped;
    return;
  }
  const Method method = ClassifyMethod(m->is_request ? m->method : m->cseq_method);
  if (method == Method::kRegister) {
    OnRegisterMessage(ev);
    return;
  }
  uint32_t slot;
  const auto it = calls_by_id_.find(m->call_id);
  if (it != calls_by_id_.end()) {
    slot = it->second;
    if (StartsNewCall(calls_[slot], ev, method)) {
      EmitCall(slot, EmitMode::kTimer);
      slot = CreateCall(m->call_id);
    }
  } else {
    if (!MayStartCall(*m, method)) return;
    slot = CreateCall(m->call_id);
  }
  ProcessCallMessage(slot, ev, method);
  evictions_.Touch(slot, EvictionClassOf(calls_[slot]));
  ScheduleCall(slot);
}

bool CallTracker::Impl::MayStartCall(const sip::SipMessage& m, Method method) {
  if (m.is_request) {
    if (method == Method::kInvite && m.to.tag.empty()) return true;
    if (method == Method::kInvite || IsInviteDialogOnly(method)) {
      ++counters_.orphan_requests;
    } else {
      ++counters_.non_call_messages;
    }
    return false;
  }
  // A response to an INVITE may come before the INVITE (capture reordering).
  if (method == Method::kInvite) return true;
  if (IsInviteDialogOnly(method)) {
    ++counters_.orphan_responses;
  } else {
    ++counters_.non_call_messages;
  }
  return false;
}

// A call ended by a 401/407 challenge is held for its retry past the linger
// time (kAuthRetryWindow); then only the retry answering the challenge
// belongs to it, and another INVITE with its Call-ID starts a new call.
bool CallTracker::Impl::StartsNewCall(const Call& c, const SipEvent& ev, Method method) const {
  const sip::SipMessage& m = *ev.message;
  if (!m.is_request || method != Method::kInvite || !m.to.tag.empty()) return false;
  if (!AwaitsAuthRetry(c) || ev.ts < SaturatingAdd(c.finished_at, options_.linger)) return false;
  if (Contains(c.initial_cseqs, c.initial_count, m.cseq_number)) return false;  // a late copy
  return !IsAuthRetry(c, m);
}

const std::string* CallTracker::Impl::InsertKey(IndexMap* map, std::string_view key,
                                                uint32_t slot) {
  if (!spare_nodes_.empty()) {
    IndexMap::node_type node = std::move(spare_nodes_.back());
    spare_nodes_.pop_back();
    node.key().assign(key.data(), key.size());
    node.mapped() = slot;
    return &map->insert(std::move(node)).position->first;
  }
  peak_open_ = std::max(peak_open_, calls_.size() + regs_.size());
  return &map->emplace(std::string(key), slot).first->first;
}

void CallTracker::Impl::EraseKey(IndexMap* map, const std::string* key) {
  const auto it = map->find(std::string_view(*key));
  if (it == map->end()) return;
  IndexMap::node_type node = map->extract(it);
  if (spare_nodes_.size() < peak_open_) spare_nodes_.push_back(std::move(node));
}

// ------------------------------------------------------------------ calls

uint32_t CallTracker::Impl::CreateCall(std::string_view call_id) {
  if (options_.max_open_calls > 0) {
    while (calls_.size() >= options_.max_open_calls && evictions_.Victim() != kNil) EvictCall();
  }
  const uint32_t slot = calls_.Allocate();
  Call& c = calls_[slot];
  c.text.Reserve(256);
  c.key = InsertKey(&calls_by_id_, call_id, slot);
  ++counters_.calls_created;
  return slot;
}

void CallTracker::Impl::ProcessCallMessage(uint32_t slot, const SipEvent& ev, Method method) {
  Call& c = calls_[slot];
  const sip::SipMessage& m = *ev.message;
  ++c.message_count;
  c.byte_count += ev.raw.empty() ? m.size : ev.raw.size();
  KeepEarliest(&c.first_seen, ev.ts);
  c.last_seen = std::max(c.last_seen, ev.ts);
  const bool retransmission = c.seen.SeenOrAdd(Fingerprint(m));
  if (retransmission) {
    ++c.retransmissions;
    ++counters_.retransmissions;
  }
  if (m.is_request) {
    OnCallRequest(slot, c, ev, method, retransmission);
  } else {
    OnCallResponse(c, ev, method, retransmission);
  }
}

void CallTracker::Impl::OnCallRequest(uint32_t slot, Call& c, const SipEvent& ev, Method method,
                                      bool retransmission) {
  const sip::SipMessage& m = *ev.message;
  const Side sender = SenderSide(c, ev);
  switch (method) {
    case Method::kInvite:
      if (m.to.tag.empty()) {
        OnInitialInvite(slot, c, ev, retransmission);
      } else {
        if (!Contains(c.reinvite_cseqs, c.reinvite_count, m.cseq_number)) {
          c.reinvite_cseqs[c.reinvite_next] = m.cseq_number;
          c.reinvite_next = static_cast<uint8_t>((c.reinvite_next + 1) % Call::kCSeqSlots);
          if (c.reinvite_count < Call::kCSeqSlots) ++c.reinvite_count;
        }
        if (IsRfc3261Branch(m.via_branch)) c.reinvite_branches.SeenOrAdd(Hash(m.via_branch));
        if (!retransmission) UpdateMedia(c, sender, ev);
      }
      break;
    case Method::kAck: {
      // The ACK of the highest initial INVITE is the one that confirms the
      // call (the ACKs of 401/407 challenges have lower CSeqs).
      const bool reinvite = Contains(c.reinvite_cseqs, c.reinvite_count, m.cseq_number) &&
                            !Contains(c.initial_cseqs, c.initial_count, m.cseq_number);
      if (!reinvite && sender != Side::kCallee) {
        if (c.ack_ts == 0 || m.cseq_number > c.ack_cseq) {
          c.ack_cseq = m.cseq_number;
          c.ack_ts = ev.ts;
        } else if (m.cseq_number == c.ack_cseq) {
          KeepEarliest(&c.ack_ts, ev.ts);
        }
      }
      if (!retransmission) UpdateMedia(c, sender, ev);
      break;
    }
    case Method::kBye:
      if (c.bye_ts == 0 || ev.ts < c.bye_ts) {
        c.bye_ts = ev.ts;
        c.hangup = sender;
      }
      c.bye_seen = true;
      SetReason(c, m);
      if (sender == Side::kCallee && c.callee_user_agent.length == 0) {
        c.text.Set(&c.callee_user_agent, m.user_agent);
      }
      if (!c.finished) {
        c.finished = true;
        c.finished_at = ev.ts;
      }
      break;
    case Method::kCancel:
      KeepEarliest(&c.cancel_ts, ev.ts);
      c.cancel_seen = true;
      SetReason(c, m);
      break;
    case Method::kUpdate:
    case Method::kPrack:
      if (!retransmission) UpdateMedia(c, sender, ev);
      break;
    default:
      break;  // INFO, REFER, NOTIFY, OPTIONS ... inside the dialog: counted only
  }
}

void CallTracker::Impl::OnCallResponse(Call& c, const SipEvent& ev, Method method,
                                       bool retransmission) {
  const sip::SipMessage& m = *ev.message;
  switch (method) {
    case Method::kInvite:
      OnInviteResponse(c, ev, retransmission);
      break;
    case Method::kBye:
      if (m.status_code >= 200) KeepEarliest(&c.bye_final_ts, ev.ts);
      break;
    case Method::kUpdate:
    case Method::kPrack:
      if (!retransmission && m.status_code < 300) UpdateMedia(c, SenderSide(c, ev), ev);
      break;
    default:
      break;
  }
}

void CallTracker::Impl::OnInitialInvite(uint32_t slot, Call& c, const SipEvent& ev,
                                        bool retransmission) {
  const sip::SipMessage& m = *ev.message;
  const bool later_attempt = c.invite_seen && m.cseq_number > c.max_initial_cseq;
  if (!Contains(c.initial_cseqs, c.initial_count, m.cseq_number)) {
    if (c.initial_count < Call::kCSeqSlots) {
      c.initial_cseqs[c.initial_count++] = m.cseq_number;
    } else {
      c.initial_cseqs[Call::kCSeqSlots - 1] = m.cseq_number;
    }
  }
  if (IsRfc3261Branch(m.via_branch)) c.initial_branches.SeenOrAdd(Hash(m.via_branch));
  if (!c.invite_seen || m.cseq_number > c.max_initial_cseq) {
    c.attempt_ts = ev.ts;
  } else if (m.cseq_number == c.max_initial_cseq) {
    KeepEarliest(&c.attempt_ts, ev.ts);
  }
  c.max_initial_cseq = std::max(c.max_initial_cseq, m.cseq_number);
  if (!c.invite_seen) FillFromInvite(slot, c, ev);
  c.invite_seen = true;
  KeepEarliest(&c.invite_ts, ev.ts);
  if (retransmission) return;
  UpdateMedia(c, Side::kCaller, ev);
  // A new INVITE after a failure (an auth retry after 401/407, a retry
  // after a redirect) continues the same call.
  if (later_attempt && c.finished && !c.answered && !c.bye_seen) {
    c.finished = false;
    c.finished_at = 0;
    c.final_status = 0;
    c.final_ts = 0;
    c.text.Set(&c.final_reason, {});
  }
}

void CallTracker::Impl::FillFromInvite(uint32_t slot, Call& c, const SipEvent& ev) {
  const sip::SipMessage& m = *ev.message;
  c.text.Set(&c.caller_user, m.from.uri.user);
  c.text.Set(&c.caller_display, m.from.display_name);
  c.text.Set(&c.caller_domain, m.from.uri.host);
  c.text.Set(&c.caller_tag, m.from.tag);
  c.text.Set(&c.callee_user, m.to.uri.user);
  c.text.Set(&c.callee_domain, m.to.uri.host);
  c.text.Set(&c.ruri_user, m.request_uri.user);
  if (const sip::Header* h = m.Find(sip::HeaderId::kPAssertedIdentity)) {
    c.text.Set(&c.pai_user, NameAddrUser(h->value));
  }
  if (const sip::Header* h = m.Find(sip::HeaderId::kDiversion)) {
    c.text.Set(&c.diversion_user, NameAddrUser(h->value));
  }
  c.src_ip = ev.src_ip;
  c.dst_ip = ev.dst_ip;
  c.src_port = ev.src_port;
  c.dst_port = ev.dst_port;
  c.have_endpoints = true;
  c.text.Set(&c.transport, ev.transport);
  c.text.Set(&c.caller_user_agent, m.user_agent);
  if (!options_.correlation_header.empty()) {
    if (const sip::Header* h = m.Find(options_.correlation_header)) {
      if (!h->value.empty()) Correlate(slot, c, h->value);
    }
  }
}

bool CallTracker::Impl::IsInitialInviteResponse(const Call& c, const sip::SipMessage& m) const {
  // A response belongs to the client transaction whose request had the same
  // top Via branch and CSeq method (RFC 3261 section 17.1.3); the From tag
  // plays no part, so a callee that answers with another From tag
  // (breaking section 8.2.6.2) still answers the INVITE.
  if (IsRfc3261Branch(m.via_branch)) {
    const uint32_t branch = Hash(m.via_branch);
    if (c.initial_branches.Contains(branch)) return true;
    if (c.reinvite_branches.Contains(branch)) return false;
  }
  // The request was not seen (or has no RFC 3261 branch): CSeq and
  // direction decide. A response addressed to the caller's tag (To) answers
  // a request the callee sent: its re-INVITE.
  if (c.caller_tag.length != 0 && !m.to.tag.empty() && m.to.tag == c.text.Get(c.caller_tag)) {
    return false;
  }
  if (Contains(c.initial_cseqs, c.initial_count, m.cseq_number)) return true;
  if (Contains(c.reinvite_cseqs, c.reinvite_count, m.cseq_number)) return false;
  // Its request was not seen (yet): before an answer it can only be the
  // initial transaction.
  return !c.answered;
}

void CallTracker::Impl::OnInviteResponse(Call& c, const SipEvent& ev, bool retransmission) {
  const sip::SipMessage& m = *ev.message;
  if (!c.invite_seen) {
    // Created by a response (or still waiting for the INVITE): take what
    // the INVITE would give from the response; the INVITE overrides it.
    if (!c.have_endpoints) {
      c.src_ip = ev.dst_ip;
      c.src_port = ev.dst_port;
      c.dst_ip = ev.src_ip;
      c.dst_port = ev.src_port;
      c.have_endpoints = true;
      c.text.Set(&c.transport, ev.transport);
    }
    if (c.caller_tag.length == 0) {
      c.text.Set(&c.caller_user, m.from.uri.user);
      c.text.Set(&c.caller_display, m.from.display_name);
      c.text.Set(&c.caller_domain, m.from.uri.host);
      c.text.Set(&c.caller_tag, m.from.tag);
      c.text.Set(&c.callee_user, m.to.uri.user);
      c.text.Set(&c.callee_domain, m.to.uri.host);
    }
  }
  const Side sender = SenderSide(c, ev);
  const int status = m.status_code;
  if (!IsInitialInviteResponse(c, m)) {
    if (!retransmission && status < 300) UpdateMedia(c, sender, ev);
    return;
  }
  if (status < 200) {
    KeepEarliest(&c.first_provisional_ts, ev.ts);
    // A 100 Trying without To tag comes from the next hop, which sends one
    // for every INVITE, a flood's too; any other provisional from a UA.
    if (status > 100 || !m.to.tag.empty()) c.callee_provisional = true;
    if (!c.provisional_seen || m.cseq_number > c.provisional_cseq) {
      c.provisional_cseq = m.cseq_number;
    }
    c.provisional_seen = true;
    if (status >= 180 && status <= 189) KeepEarliest(&c.first_18x_ts, ev.ts);
    // A 100 without To-tag comes from the next hop, not from the callee.
    if (!c.answered && !m.to.tag.empty()) SetCallee(c, m, 1);
    if (!retransmission) UpdateMedia(c, sender, ev);
    return;
  }
  if (status < 300) {
    // The earliest 2xx is the answer; a later 2xx of another fork is not.
    if (c.answer_ts == 0 || ev.ts < c.answer_ts) {
      c.answer_ts = ev.ts;
      c.answer_cseq = m.cseq_number;
      c.final_status = static_cast<int16_t>(status);
      c.final_ts = ev.ts;
      c.text.Set(&c.final_reason, m.reason_phrase);
      SetCallee(c, m, 3);
    }
    c.answered = true;
    // An answer beats a failure seen before it (another fork, a CANCEL race).
    if (c.finished && !c.bye_seen) {
      c.finished = false;
      c.finished_at = 0;
    }
    if (!retransmission && m.to.tag == c.text.Get(c.callee_tag)) UpdateMedia(c, sender, ev);
    return;
  }
  if (IsChallenge(status) && !retransmission) {
    ++c.auth_challenges;
    for (size_t i = 0; i < m.header_count && i < sip::SipMessage::kMaxHeaders; ++i) {
      const sip::Header& h = m.headers[i];
      if (h.id != sip::HeaderId::kWwwAuthenticate && h.id != sip::HeaderId::kProxyAuthenticate) {
        continue;
      }
      const std::string_view nonce = DigestNonce(h.value);
      if (!nonce.empty()) c.challenge_nonces.SeenOrAdd(Hash(nonce));
    }
  }
  // Failures after an answer come from other forks; failures of an attempt
  // that a later INVITE (auth retry) superseded do not end the call.
  if (c.answered || m.cseq_number < c.max_initial_cseq) return;
  if (status == c.final_status) {
    KeepEarliest(&c.final_ts, ev.ts);
  } else if (c.final_status < 600 || status >= 600) {  // a 6xx is final for all forks
    c.final_status = static_cast<int16_t>(status);
    c.final_ts = ev.ts;
    c.text.Set(&c.final_reason, m.reason_phrase);
    SetCallee(c, m, 2);
  }
  SetReason(c, m);
  if (!c.finished) {
    c.finished = true;
    c.finished_at = ev.ts;
  }
}

bool CallTracker::Impl::AwaitsAuthRetry(const Call& c) const {
  return c.finished && IsChallenge(c.final_status) && !c.answered && !c.bye_seen &&
         !c.cancel_seen;
}

// The retry of a challenged INVITE (RFC 3261 sections 8.1.3.5 and 22.2): same
// Call-ID and From tag, a higher CSeq, and credentials (Authorization for a
// 401, Proxy-Authorization for a 407) answering the challenge's nonce, or
// any credentials when the challenge's nonce was not read.
bool CallTracker::Impl::IsAuthRetry(const Call& c, const sip::SipMessage& m) const {
  if (c.caller_tag.length != 0 && m.from.tag != c.text.Get(c.caller_tag)) return false;
  if (m.cseq_number <= c.max_initial_cseq) return false;
  for (size_t i = 0; i < m.header_count && i < sip::SipMessage::kMaxHeaders; ++i) {
    const sip::Header& h = m.headers[i];
    if (h.id != sip::HeaderId::kAuthorization && h.id != sip::HeaderId::kProxyAuthorization) {
      continue;
    }
    if (c.challenge_nonces.empty() || c.challenge_nonces.Contains(Hash(DigestNonce(h.value)))) {
      return true;
    }
  }
  return false;
}

Side CallTracker::Impl::SenderSide(const Call& c, const SipEvent& ev) const {
  const sip::SipMessage& m = *ev.message;
  if (c.caller_tag.length != 0) {
    const std::string_view caller_tag = c.text.Get(c.caller_tag);
    // A request's From is its sender; a response's From is its receiver.
    if (m.from.tag == caller_tag) return m.is_request ? Side::kCaller : Side::kCallee;
    if (m.to.tag == caller_tag) return m.is_request ? Side::kCallee : Side::kCaller;
  }
  if (c.have_endpoints) {
    if (ev.src_ip == c.src_ip && ev.src_port == c.src_port) return Side::kCaller;
    if (ev.src_ip == c.dst_ip && ev.src_port == c.dst_port) return Side::kCallee;
  }
  return Side::kUnknown;
}

void CallTracker::Impl::SetCallee(Call& c, const sip::SipMessage& m, uint8_t rank) {
  if (rank < c.callee_rank) return;
  c.callee_rank = rank;
  if (!m.to.tag.empty()) c.text.Set(&c.callee_tag, m.to.tag);
  std::string_view agent;
  if (const sip::Header* h = m.Find(sip::HeaderId::kServer)) agent = h->value;
  if (agent.empty()) agent = m.user_agent;
  if (!agent.empty()) c.text.Set(&c.callee_user_agent, agent);
}

void CallTracker::Impl::SetReason(Call& c, const sip::SipMessage& m) {
  if (c.reason_set) return;
  ReasonValue best;
  bool have = false;
  for (size_t i = 0; i < m.header_count && i < sip::SipMessage::kMaxHeaders; ++i) {
    if (m.headers[i].id != sip::HeaderId::kReason) continue;
    ReasonValue v;
    if (!ParseReason(m.headers[i].value, &v)) continue;
    const bool q850 = v.protocol == "Q.850" || v.protocol == "q.850";
    if (!have || q850) {
      best = v;
      have = true;
      if (q850) break;
    }
  }
  if (!have) return;
  c.reason_set = true;
  c.text.Set(&c.reason_protocol, best.protocol);
  c.reason_cause = best.cause;
  c.text.Set(&c.reason_text, best.text);
}

void CallTracker::Impl::UpdateMedia(Call& c, Side side, const SipEvent& ev) {
  const sip::SipMessage& m = *ev.message;
  if (side == Side::kUnknown || m.body.empty()) return;
  const std::string_view sdp = sip::FindSdpBody(m.content_type, m.body);
  if (sdp.empty()) return;
  MediaRef& media = side == Side::kCaller ? c.caller_media : c.callee_media;
  if (media.ts != 0 && ev.ts < media.ts) return;  // older than the SDP kept
  if (!sip::ParseSdp(sdp, &sdp_)) return;
  media.ts = ev.ts;
  const size_t n = std::min({sdp_.media_count, internal::kMaxStreams, sip::SdpSession::kMaxMedia});
  media.count = static_cast<uint8_t>(n);
  char codecs[512];
  for (size_t i = 0; i < n; ++i) {
    const sip::SdpMedia& s = sdp_.media[i];
    internal::StreamRef& out = media.streams[i];
    c.text.Set(&out.type, s.type);
    c.text.Set(&out.address,
               s.connection_address.empty() ? sdp_.connection_address : s.connection_address);
    out.port = s.port;
    c.text.Set(&out.codecs, FormatCodecs(s, codecs, sizeof(codecs)));
  }
}

void CallTracker::Impl::Correlate(uint32_t slot, Call& c, std::string_view value) {
  c.text.Set(&c.correlation_id, value);
  const std::string_view own_id = *c.key;
  auto link = [&](Call& other) {
    c.text.Set(&c.linked_call_id, *other.key);
    if (other.linked_call_id.length == 0) other.text.Set(&other.linked_call_id, own_id);
  };
  if (value != own_id) {
    const auto it = calls_by_id_.find(value);
    if (it != calls_by_id_.end() && it->second != slot) {
      link(calls_[it->second]);
      return;
    }
  }
  const auto it = correlation_index_.find(value);
  if (it == correlation_index_.end()) {
    correlation_index_.emplace(std::string(value), SlotRef{slot, c.gen});
    return;
  }
  Call& other = calls_[it->second.slot];
  if (other.in_use && other.gen == it->second.gen && it->second.slot != slot) {
    link(other);
  } else {
    it->second = SlotRef{slot, c.gen};
  }
}

TimestampNs CallTracker::Impl::CallDeadline(const Call& c) const {
  if (c.finished) {
    TimestampNs hold = options_.linger;
    if (AwaitsAuthRetry(c)) hold = std::max(hold, kAuthRetryWindow);
    return SaturatingAdd(c.finished_at, hold);
  }
  if (c.answered) {
    TimestampNs t = SaturatingAdd(c.answer_ts, options_.call_max_duration);
    if (options_.idle_timeout > 0) {
      t = std::min(t, SaturatingAdd(c.last_seen, options_.idle_timeout));
    }
    return t;
  }
  if (c.cancel_seen) return SaturatingAdd(std::max(c.cancel_ts, c.last_seen), options_.linger);
  // Unanswered and not ended: the latest attempt waits for Timer B until a
  // provisional response moves it to Proceeding (RFC 3261 section
  // 17.1.1.2), then for Timer C. A call created by a provisional response
  // (its INVITE unseen) is Proceeding.
  const TimestampNs start = c.attempt_ts != 0 ? c.attempt_ts : c.first_seen;
  const bool proceeding =
      !c.invite_seen || (c.provisional_seen && c.provisional_cseq >= c.max_initial_cseq);
  return SaturatingAdd(start,
                       proceeding ? options_.invite_timeout : options_.invite_response_timeout);
}

void CallTracker::Impl::ScheduleCall(uint32_t slot) {
  Call& c = calls_[slot];
  const TimestampNs deadline = CallDeadline(c);
  if (deadline >= c.queued_at) return;
  c.queued_at = deadline;
  call_timers_.Push(TimerEntry{deadline, slot, c.gen});
  // Superseded entries pile up when deadlines move earlier; rebuild from the
  // live calls when they outnumber them.
  if (call_timers_.size() > 2 * calls_.size() + 4096) {
    call_timers_.Clear();
    calls_.ForEachInUse([&](uint32_t i, Call& call) {
      if (call.queued_at != kNever) call_timers_.Push(TimerEntry{call.queued_at, i, call.gen});
    });
  }
}

void CallTracker::Impl::AdvanceTime(TimestampNs now) {
  while (call_timers_.Due(now)) {
    const TimerEntry e = call_timers_.Pop();
    Call& c = calls_[e.slot];
    if (!c.in_use || c.gen != e.gen || c.queued_at != e.when) continue;
    c.queued_at = kNever;
    const TimestampNs deadline = CallDeadline(c);
    if (deadline <= now) {
      EmitCall(e.slot, EmitMode::kTimer);
    } else {
      c.queued_at = deadline;
      call_timers_.Push(TimerEntry{deadline, e.slot, c.gen});
    }
  }
  while (reg_timers_.Due(now)) {
    const TimerEntry e = reg_timers_.Pop();
    Registration& r = regs_[e.slot];
    if (!r.in_use || r.gen != e.gen || r.queued_at != e.when) continue;
    r.queued_at = kNever;
    const TimestampNs deadline = RegistrationDeadline(r);
    if (deadline <= now) {
      ExpireRegistration(e.slot);
    } else {
      r.queued_at = deadline;
      reg_timers_.Push(TimerEntry{deadline, e.slot, r.gen});
    }
  }
}

void CallTracker::Impl::Finish(TimestampNs now) {
  AdvanceTime(now);
  while (calls_.oldest() != kNil) EmitCall(calls_.oldest(), EmitMode::kFinish);
  while (regs_.oldest() != kNil) ExpireRegistration(regs_.oldest());
  call_timers_.Clear();
  reg_timers_.Clear();
  correlation_index_.clear();
}

void CallTracker::Impl::SnapshotOpenCalls(TimestampNs now, RecordSink* sink) {
  calls_.ForEachInUse([&](uint32_t, const Call& c) {
    if (c.finished || CallDeadline(c) <= now) return;
    BuildRecord(c, EmitMode::kFinish, &record_);
    record_.state = CallState::kInProgress;
    record_.end_ts = 0;
    sink->OnCall(record_);
  });
}

uint64_t CallTracker::Impl::CountOpenCalls(TimestampNs now) {
  uint64_t n = 0;
  calls_.ForEachInUse([&](uint32_t, const Call& c) {
    if (!c.finished && CallDeadline(c) > now) ++n;
  });
  return n;
}

// How much evicting this call would lose (EvictionClass; the order is
// explained at CallTrackerOptions::max_open_calls).
EvictionClass CallTracker::Impl::EvictionClassOf(const Call& c) const {
  if (c.finished) return AwaitsAuthRetry(c) ? EvictionClass::kChallenged : EvictionClass::kEnded;
  if (c.answered) return EvictionClass::kEstablished;
  if (c.cancel_seen) return EvictionClass::kEnded;  // cancelled, lingering
  if (c.callee_provisional) return EvictionClass::kRinging;
  return EvictionClass::kNoResponse;
}

// Emits the least recently active call of the cheapest non-empty eviction
// class, labelled as its timer would have labelled it (BuildRecord).
void CallTracker::Impl::EvictCall() {
  const uint32_t slot = evictions_.Victim();
  ++counters_.calls_evicted;
  switch (calls_[slot].eviction_class) {
    case EvictionClass::kNoResponse: ++counters_.calls_evicted_no_response; break;
    case EvictionClass::kChallenged: ++counters_.calls_evicted_challenged; break;
    case EvictionClass::kEnded: ++counters_.calls_evicted_ended; break;
    case EvictionClass::kRinging: ++counters_.calls_evicted_ringing; break;
    case EvictionClass::kEstablished: ++counters_.calls_evicted_established; break;
    case EvictionClass::kNone: break;
  }
  EmitCall(slot, EmitMode::kEvicted);
}

void CallTracker::Impl::EmitCall(uint32_t slot, EmitMode mode) {
  Call& c = calls_[slot];
  BuildRecord(c, mode, &record_);
  ++counters_.calls_emitted;
  if (!c.invite_seen) ++counters_.calls_without_invite;
  sink_->OnCall(record_);
  if (c.correlation_id.length != 0) {
    const auto it = correlation_index_.find(c.text.Get(c.correlation_id));
    if (it != correlation_index_.end() && it->second.slot == slot && it->second.gen == c.gen) {
      correlation_index_.erase(it);
    }
  }
  EraseKey(&calls_by_id_, c.key);
  evictions_.Remove(slot);
  calls_.Release(slot);
}

void CallTracker::Impl::BuildRecord(const Call& c, EmitMode mode, CallRecord* r) const {
  const internal::TextArena& t = c.text;
  r->call_id.assign(*c.key);
  r->sensor.clear();
  r->caller_user.assign(t.Get(c.caller_user));
  r->caller_display.assign(t.Get(c.caller_display));
  r->caller_domain.assign(t.Get(c.caller_domain));
  r->caller_tag.assign(t.Get(c.caller_tag));
  r->pai_user.assign(t.Get(c.pai_user));
  r->callee_user.assign(t.Get(c.callee_user));
  r->ruri_user.assign(t.Get(c.ruri_user));
  r->callee_domain.assign(t.Get(c.callee_domain));
  r->callee_tag.assign(t.Get(c.callee_tag));
  r->diversion_user.assign(t.Get(c.diversion_user));
  r->src_ip = c.src_ip;
  r->dst_ip = c.dst_ip;
  r->src_port = c.src_port;
  r->dst_port = c.dst_port;
  r->transport.assign(t.Get(c.transport));

  r->invite_ts = c.invite_ts;
  r->first_provisional_ts = c.first_provisional_ts;
  r->first_18x_ts = c.first_18x_ts;
  r->answer_ts = c.answer_ts;
  r->ack_ts = c.ack_ts;
  r->bye_ts = c.bye_ts;
  r->cancel_ts = c.cancel_ts;
  r->final_ts = c.final_ts;
  r->final_status = c.final_status;
  r->final_reason.assign(t.Get(c.final_reason));

  // State (see CallState in calls.h). A call evicted by the open-call cap
  // is labelled as its timer would label it: what it had become so far.
  CallState state;
  if (c.answered) {
    if (c.bye_seen) {
      state = CallState::kAnswered;
    } else {
      state = mode == EmitMode::kFinish ? CallState::kInProgress : CallState::kTimedOut;
    }
  } else if (c.final_status >= 300) {
    const int s = c.final_status;
    if (c.cancel_seen || s == 487) {
      state = CallState::kCancelled;
    } else if (s == 486 || s == 600) {
      state = CallState::kBusy;
    } else if (s == 408 || s == 480) {
      state = CallState::kNoAnswer;
    } else {
      state = CallState::kFailed;
    }
  } else if (c.cancel_seen || c.bye_seen) {
    state = CallState::kCancelled;  // CANCEL, or BYE on an early dialog: the caller gave up
  } else if (mode == EmitMode::kFinish) {
    state = CallState::kInProgress;
  } else {
    state = CallState::kNoAnswer;  // Timer B or C, or evicted before a final response
  }
  r->state = state;

  if (c.answered && c.bye_seen) {
    r->end_ts = c.bye_ts;
  } else if (!c.answered && c.final_status >= 300) {
    r->end_ts = c.final_ts;
  } else if (!c.answered && c.cancel_seen) {
    r->end_ts = c.cancel_ts;
  } else if (!c.answered && c.bye_seen) {
    r->end_ts = c.bye_ts;
  } else if (state == CallState::kInProgress) {
    r->end_ts = 0;
  } else {
    r->end_ts = c.last_seen;
  }

  r->duration_ms = 0;
  r->connect_ms = 0;
  if (c.answered && c.bye_seen) {
    const TimestampNs start =
        (c.ack_ts != 0 && c.ack_cseq == c.answer_cseq) ? c.ack_ts : c.answer_ts;
    r->duration_ms = std::max<int64_t>(0, ToMs(c.bye_ts - start));
    r->connect_ms = std::max<int64_t>(0, ToMs(c.bye_ts - c.answer_ts));
  }
  r->post_dial_delay_ms = -1;
  if (c.invite_ts != 0) {
    if (c.first_18x_ts != 0) {
      r->post_dial_delay_ms = std::max<int64_t>(0, ToMs(c.first_18x_ts - c.invite_ts));
    } else if (c.final_ts != 0) {
      r->post_dial_delay_ms = std::max<int64_t>(0, ToMs(c.final_ts - c.invite_ts));
    }
  }
  r->disconnect_delay_ms = -1;
  if (c.bye_ts != 0 && c.bye_final_ts != 0) {
    r->disconnect_delay_ms = std::max<int64_t>(0, ToMs(c.bye_final_ts - c.bye_ts));
  }

  r->hangup_by.clear();
  if (c.bye_seen) {
    if (c.hangup == Side::kCaller) r->hangup_by.assign("caller");
    if (c.hangup == Side::kCallee) r->hangup_by.assign("callee");
  }
  r->reason_protocol.assign(t.Get(c.reason_protocol));
  r->reason_cause = c.reason_cause;
  r->reason_text.assign(t.Get(c.reason_text));

  auto fill_media = [&t](const MediaRef& media, std::string* types,
                         std::vector<MediaStream>* streams) {
    types->clear();
    streams->resize(media.count);
    for (size_t i = 0; i < media.count; ++i) {
      const internal::StreamRef& s = media.streams[i];
      MediaStream& out = (*streams)[i];
      out.type.assign(t.Get(s.type));
      out.address.assign(t.Get(s.address));
      out.port = s.port;
      out.codecs.assign(t.Get(s.codecs));
      bool listed = false;
      for (size_t j = 0; j < i; ++j) listed = listed || (*streams)[j].type == out.type;
      if (!listed) {
        if (!types->empty()) types->push_back(',');
        types->append(out.type);
      }
    }
  };
  fill_media(c.caller_media, &r->caller_media_types, &r->caller_media);
  fill_media(c.callee_media, &r->callee_media_types, &r->callee_media);

  r->caller_user_agent.assign(t.Get(c.caller_user_agent));
  r->callee_user_agent.assign(t.Get(c.callee_user_agent));
  r->message_count = c.message_count;
  r->retransmissions = c.retransmissions;
  r->byte_count = c.byte_count;
  r->auth_challenges = c.auth_challenges;
  r->correlation_id.assign(t.Get(c.correlation_id));
  r->linked_call_id.assign(t.Get(c.linked_call_id));
}

// ------------------------------------------------------------------ registrations

void CallTracker::Impl::OnRegisterMessage(const SipEvent& ev) {
  const sip::SipMessage& m = *ev.message;
  const auto it = regs_by_id_.find(m.call_id);
  uint32_t slot;
  if (it != regs_by_id_.end()) {
    slot = it->second;
  } else {
    // A response may come before its REGISTER (capture reordering); if the
    // REGISTER never shows up it is counted as an orphan when it expires.
    slot = CreateRegistration(m.call_id);
  }
  Registration& r = regs_[slot];
  const bool retransmission = r.seen.SeenOrAdd(Fingerprint(m));
  if (retransmission) ++counters_.retransmissions;

  if (r.completed) {
    // Late copies of a finished attempt are absorbed; a REGISTER with a
    // higher CSeq (a refresh in the same Call-ID) starts a new attempt.
    if (!m.is_request || retransmission || m.cseq_number <= r.completed_cseq) return;
    const internal::Slot slot_state = r;
    r.Reset();
    static_cast<internal::Slot&>(r) = slot_state;
    r.seen.SeenOrAdd(Fingerprint(m));
    ++counters_.registrations_created;
  }
  KeepEarliest(&r.record.first_seen, ev.ts);
  r.record.last_seen = std::max(r.record.last_seen, ev.ts);

  if (m.is_request) {
    FillFromRegister(r, ev);
    if (r.pending_status != 0) {
      CompleteRegistration(r, r.pending_status, r.pending_ts, r.pending_expires);
    }
  } else {
    const int status = m.status_code;
    if (status >= 200 && !retransmission) {
      if (status == 401 || status == 407) {
        ++r.record.challenges;
        r.last_challenge = status;
      } else {
        int64_t expires = -1;
        // The registrar lists every binding of the AOR; find ours.
        for (size_t i = 0; i < m.header_count && i < sip::SipMessage::kMaxHeaders; ++i) {
          if (m.headers[i].id != sip::HeaderId::kContact) continue;
          if (r.record.contact.empty() ||
              ContactUriText(m.headers[i].value) == r.record.contact) {
            expires = ContactExpires(m.headers[i].value);
            break;
          }
        }
        if (expires < 0) expires = m.expires;
        if (r.register_seen) {
          CompleteRegistration(r, status, ev.ts, expires);
        } else if (r.pending_status == 0) {
          r.pending_status = status;
          r.pending_ts = ev.ts;
          r.pending_expires = expires;
        }
      }
    }
  }
  ScheduleRegistration(slot);
}

uint32_t CallTracker::Impl::CreateRegistration(std::string_view call_id) {
  if (options_.max_open_registrations > 0) {
    while (regs_.size() >= options_.max_open_registrations && regs_.oldest() != kNil) {
      ExpireRegistration(regs_.oldest());
    }
  }
  const uint32_t slot = regs_.Allocate();
  regs_[slot].key = InsertKey(&regs_by_id_, call_id, slot);
  ++counters_.registrations_created;
  return slot;
}

void CallTracker::Impl::FillFromRegister(Registration& r, const SipEvent& ev) {
  const sip::SipMessage& m = *ev.message;
  r.max_cseq = std::max(r.max_cseq, m.cseq_number);
  r.last_register_at = std::max(r.last_register_at, ev.ts);
  const bool first = !r.register_seen || ev.ts < r.first_register_ts;
  r.register_seen = true;
  KeepEarliest(&r.first_register_ts, ev.ts);
  RegistrationRecord& rec = r.record;
  const sip::Header* contact = m.Find(sip::HeaderId::kContact);
  int64_t expires = contact != nullptr ? ContactExpires(contact->value) : -1;
  if (expires < 0) expires = m.expires;
  if (first || rec.aor.empty()) {
    char aor[512];
    rec.aor.assign(FormatAor(m.to.uri, aor, sizeof(aor)));
    rec.src_ip = ev.src_ip;
    rec.src_port = ev.src_port;
    rec.user_agent.assign(m.user_agent);
  }
  // The REGISTER that carries credentials may differ from the first one;
  // the latest values win.
  if (contact != nullptr) rec.contact.assign(ContactUriText(contact->value));
  if (expires >= 0) rec.expires = expires;
}

void CallTracker::Impl::CompleteRegistration(Registration& r, int status, TimestampNs ts,
                                             int64_t response_expires) {
  RegistrationRecord& rec = r.record;
  rec.status_code = status;
  rec.request_delay_ms = -1;
  if (status < 300) {
    if (rec.expires < 0) rec.expires = response_expires;
    rec.result = rec.expires == 0 ? "unregistered" : "success";
    rec.request_delay_ms = std::max<int64_t>(0, ToMs(ts - r.first_register_ts));
  } else {
    rec.result = "failed";
  }
  rec.call_id.assign(*r.key);
  ++counters_.registrations_emitted;
  sink_->OnRegistration(rec);
  r.completed = true;
  r.completed_cseq = r.max_cseq;
  r.completed_at = std::max(ts, r.last_register_at);
  r.pending_status = 0;
}

TimestampNs CallTracker::Impl::RegistrationDeadline(const Registration& r) const {
  if (r.completed) return SaturatingAdd(r.completed_at, options_.linger);
  const TimestampNs base = r.register_seen ? r.last_register_at : r.record.first_seen;
  return SaturatingAdd(base, options_.register_timeout);
}

void CallTracker::Impl::ScheduleRegistration(uint32_t slot) {
  Registration& r = regs_[slot];
  const TimestampNs deadline = RegistrationDeadline(r);
  if (deadline >= r.queued_at) return;
  r.queued_at = deadline;
  reg_timers_.Push(TimerEntry{deadline, slot, r.gen});
  if (reg_timers_.size() > 2 * regs_.size() + 4096) {
    reg_timers_.Clear();
    regs_.ForEachInUse([&](uint32_t i, Registration& reg) {
      if (reg.queued_at != kNever) reg_timers_.Push(TimerEntry{reg.queued_at, i, reg.gen});
    });
  }
}

void CallTracker::Impl::ExpireRegistration(uint32_t slot) {
  Registration& r = regs_[slot];
  if (!r.completed) {
    if (!r.register_seen) {
      ++counters_.orphan_responses;  // responses whose REGISTER never came
    } else {
      RegistrationRecord& rec = r.record;
      rec.status_code = r.last_challenge;
      rec.result = r.last_challenge != 0 ? "failed" : "expired";
      rec.request_delay_ms = -1;
      rec.call_id.assign(*r.key);
      ++counters_.registrations_emitted;
      sink_->OnRegistration(rec);
    }
  }
  EraseKey(&regs_by_id_, r.key);
  regs_.Release(slot);
}

// ------------------------------------------------------------------ facade

CallTracker::CallTracker(const CallTrackerOptions& options, RecordSink* sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}
CallTracker::~CallTracker() = default;
void CallTracker::OnMessage(const SipEvent& event) { impl_->OnMessage(event); }
void CallTracker::AdvanceTime(TimestampNs now) { impl_->AdvanceTime(now); }
void CallTracker::Finish(TimestampNs now) { impl_->Finish(now); }
void CallTracker::SnapshotOpenCalls(TimestampNs now, RecordSink* sink) {
  impl_->SnapshotOpenCalls(now, sink);
}
uint64_t CallTracker::CountOpenCalls(TimestampNs now) { return impl_->CountOpenCalls(now); }
const CallTrackerCounters& CallTracker::counters() const { return impl_->counters(); }

}  // namespace sipman::calls
