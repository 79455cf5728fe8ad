// Private to app: the stage after decoding, shared by `sipman analyze` and
// `sipman run`: every parsed message goes to the call tracker and (with its
// raw bytes) to the store; every record the tracker emits goes to the store.
#ifndef SIPMAN_APP_CORRELATOR_H_
#define SIPMAN_APP_CORRELATOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "app/pipeline.h"
#include "calls/calls.h"
#include "store/store.h"

namespace sipman::app {

// Every call state, in the order summaries print them.
constexpr std::array kCallStates = {calls::CallState::kAnswered,  calls::CallState::kBusy,
                                    calls::CallState::kCancelled, calls::CallState::kNoAnswer,
                                    calls::CallState::kFailed,    calls::CallState::kInProgress,
                                    calls::CallState::kTimedOut};

// Single-threaded (it owns a CallTracker). `store` must outlive it.
class Correlator : public MessageHandler, public calls::RecordSink {
 public:
  Correlator(const calls::CallTrackerOptions& options, store::Store* store)
      : tracker_(options, this), store_(store) {}

  void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) override;
  void OnPacketDone(TimestampNs ts) override { tracker_.AdvanceTime(ts); }
  void OnCall(const calls::CallRecord& record) override;
  void OnRegistration(const calls::RegistrationRecord& record) override;

  // Runs the tracker's timers at `now` (capture time).
  void AdvanceTime(TimestampNs now) { tracker_.AdvanceTime(now); }
  // End of input: every open call and registration is emitted and stored.
  void Finish(TimestampNs now) { tracker_.Finish(now); }

  const calls::CallTrackerCounters& tracker_counters() const { return tracker_.counters(); }
  uint64_t calls(calls::CallState s) const { return calls_by_state_[static_cast<size_t>(s)]; }
  uint64_t total_calls() const;
  const std::map<std::string, uint64_t>& registrations_by_result() const {
    return registrations_by_result_;
  }
  uint64_t total_registrations() const;

 private:
  calls::CallTracker tracker_;
  store::Store* store_;
  std::array<uint64_t, kCallStates.size()> calls_by_state_ = {};
  std::map<std::string, uint64_t> registrations_by_result_;
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_CORRELATOR_H_
