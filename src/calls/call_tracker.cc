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
#include <utility>

#include "calls/tracker_impl.h"

namespace sipman::calls {

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

std::optional<CallState> ParseCallState(std::string_view name) {
  for (CallState state : kCallStates) {
    if (CallStateName(state) == name) return state;
  }
  return std::nullopt;
}

std::string CallStateNames() {
  std::string names;
  for (CallState state : kCallStates) {
    if (!names.empty()) names += ", ";
    names += CallStateName(state);
  }
  return names;
}

bool IsRegistrationResult(std::string_view text) {
  for (std::string_view result : kRegistrationResults) {
    if (result == text) return true;
  }
  return false;
}

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
