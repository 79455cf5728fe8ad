// The call tracker's timers, its open-call cap (eviction by class) and the
// CallRecord each call becomes (CallTracker::Impl, tracker_impl.h).
#include <algorithm>
#include <string>

#include "calls/tracker_impl.h"

namespace sipman::calls {

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

}  // namespace sipman::calls
