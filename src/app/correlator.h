// Private to app: the stage after decoding, shared by `sipman analyze` and
// `sipman run`: every parsed message goes to the call tracker, the traffic
// counters and (with its raw bytes) to the store; every record the tracker
// emits, and every closed second of traffic counters, goes to the store.
#ifndef SIPMAN_APP_CORRELATOR_H_
#define SIPMAN_APP_CORRELATOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "app/pipeline.h"
#include "calls/calls.h"
#include "stats/stats.h"
#include "store/store.h"

namespace sipman::app {

// Every call state, in the order summaries print them.
constexpr std::array kCallStates = {calls::CallState::kAnswered,  calls::CallState::kBusy,
                                    calls::CallState::kCancelled, calls::CallState::kNoAnswer,
                                    calls::CallState::kFailed,    calls::CallState::kInProgress,
                                    calls::CallState::kTimedOut};

// Single-threaded (it owns a CallTracker). `store` must outlive it.
class Correlator : public MessageHandler, public calls::RecordSink, public stats::SecondSink {
 public:
  Correlator(const calls::CallTrackerOptions& options, store::Store* store)
      : tracker_(options, this), store_(store), traffic_(this) {}

  void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) override;
  void OnPacketDone(TimestampNs ts) override {
    traffic_.OnFrameDone();
    tracker_.AdvanceTime(ts);
  }
  void OnCall(const calls::CallRecord& record) override;
  void OnRegistration(const calls::RegistrationRecord& record) override;
  void OnSecond(const stats::TrafficCounters& second) override;

  // Runs the tracker's timers and closes traffic seconds at `now` (capture
  // time).
  void AdvanceTime(TimestampNs now) {
    tracker_.AdvanceTime(now);
    traffic_.AdvanceTime(now);
  }
  // Counts packets the capture lost, in the second of `now`.
  void AddDrops(TimestampNs now, uint64_t kernel_drops, uint64_t interface_drops) {
    traffic_.AddDrops(now, kernel_drops, interface_drops);
  }
  // End of input: every open call and registration is emitted and stored,
  // and every open second of traffic counters.
  void Finish(TimestampNs now) {
    tracker_.Finish(now);
    traffic_.Flush();
  }

  // Copies of the calls still up at `now` (capture time), as in_progress
  // records (CallTracker::SnapshotOpenCalls); nothing is emitted or stored.
  std::vector<calls::CallRecord> OpenCalls(TimestampNs now);

  const stats::TrafficCounters& traffic_totals() const { return traffic_.totals(); }
  // Bytes and messages per second over the seconds closed so far (no calls).
  stats::TrafficSummary traffic_summary() const { return summarizer_.Summary(); }

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
  stats::TrafficStats traffic_;
  stats::TrafficSummarizer summarizer_;
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_CORRELATOR_H_
