// Registrations: one RegistrationRecord per REGISTER attempt
// (CallTracker::Impl, tracker_impl.h).
#include <algorithm>
#include <string>

#include "calls/tracker_impl.h"

namespace sipman::calls {

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
    rec.result = rec.expires == 0 ? kRegistrationUnregistered : kRegistrationSuccess;
    rec.request_delay_ms = std::max<int64_t>(0, ToMs(ts - r.first_register_ts));
  } else {
    rec.result = kRegistrationFailed;
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
      rec.result = r.last_challenge != 0 ? kRegistrationFailed : kRegistrationExpired;
      rec.request_delay_ms = -1;
      rec.call_id.assign(*r.key);
      ++counters_.registrations_emitted;
      sink_->OnRegistration(rec);
    }
  }
  EraseKey(&regs_by_id_, r.key);
  regs_.Release(slot);
}

}  // namespace sipman::calls
