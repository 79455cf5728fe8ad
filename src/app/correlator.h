// Private to app: the stage after decoding, shared by `sipman analyze` and
// `sipman run`: every parsed message goes to the call tracker, the traffic
// counters and (with its raw bytes) to the store; every record the tracker
// emits, and every closed second of traffic counters, goes to the store and,
// under `sipman run`, to the web server's live feed.
#ifndef SIPMAN_APP_CORRELATOR_H_
#define SIPMAN_APP_CORRELATOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "app/alerting.h"
#include "app/pipeline.h"
#include "calls/calls.h"
#include "media/media.h"
#include "stats/stats.h"
#include "store/store.h"
#include "web/web.h"

namespace sipman::app {

// Every call state, in the order summaries print them.
constexpr std::array kCallStates = {calls::CallState::kAnswered,  calls::CallState::kBusy,
                                    calls::CallState::kCancelled, calls::CallState::kNoAnswer,
                                    calls::CallState::kFailed,    calls::CallState::kInProgress,
                                    calls::CallState::kTimedOut};

// The calls' media quality for /metrics (Prometheus histograms): each
// stored call's lowest MOS, and each direction's RTP loss, when measured.
struct QualityHistograms {
  static constexpr double kMosBounds[] = {1.5, 2.0, 2.5, 3.0, 3.6, 4.0, 4.3, 4.5};
  static constexpr double kLossBounds[] = {0, 0.5, 1, 2, 5, 10, 20, 50, 100};
  struct Histogram {
    uint64_t buckets[9] = {};  // per bound (not cumulative); enough for both
    uint64_t count = 0;
    double sum = 0;
  };
  Histogram mos, loss;

  void Add(const calls::CallRecord& record);
};

// Single-threaded (it owns a CallTracker). `store` must outlive it.
class Correlator : public MessageHandler,
                   public calls::RecordSink,
                   public stats::SecondSink,
                   public media::StreamSink {
 public:
  Correlator(const calls::CallTrackerOptions& options, store::Store* store)
      : tracker_(options, this), store_(store), traffic_(this), media_(media::MediaTrackerOptions{}, this) {}

  void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) override;
  void OnOtherDatagram(const net::Payload& payload) override {
    if (media_on_) {
      media_.OnDatagram(payload.ts, payload.src_ip, payload.src_port, payload.dst_ip,
                        payload.dst_port, payload.data);
    }
  }
  void OnHepRtcp(const net::Payload& payload, std::string_view correlation_id) override {
    if (media_on_) {
      media_.OnHepRtcp(payload.ts, correlation_id, payload.src_ip, payload.src_port,
                       payload.dst_ip, payload.dst_port, payload.data);
    }
  }
  void OnPacketDone(TimestampNs ts) override {
    traffic_.OnFrameDone();
    tracker_.AdvanceTime(ts);
    if (media_on_) media_.AdvanceTime(ts);
    if (alerting_ != nullptr) alerting_->AdvanceTime(ts);
  }
  void OnMalformed(const net::Payload& payload) override;
  void OnStream(const media::StreamFigures& stream) override;

  // Media analysis (RTP streams joined to calls by their SDP): on by
  // default; off for a signalling-only sensor.
  void set_media(bool on) { media_on_ = on; }
  const media::MediaCounters& media_counters() const { return media_.counters(); }
  const QualityHistograms& quality() const { return quality_; }
  uint64_t streams_measured() const { return streams_measured_; }
  void OnCall(const calls::CallRecord& record) override;
  void OnRegistration(const calls::RegistrationRecord& record) override;
  void OnSecond(const stats::TrafficCounters& second) override;

  // The sensor of the messages handed in from now on (a HEP capture
  // agent's); empty means StoreOptions::sensor. Stored messages carry it;
  // a call or registration takes the sensor of its first INVITE or REGISTER
  // message. Traffic counters stay under StoreOptions::sensor.
  void set_sensor(std::string_view sensor) { sensor_.assign(sensor); }

  // The sensor's own networks: each message counts as in, out or neither
  // in the traffic counters (stats::DirectionOf). Empty (the default): no
  // message has a direction.
  void set_local_nets(const stats::LocalNets& local_nets) { local_nets_ = local_nets; }

  // Where call starts (a minimal record: Call-ID, caller and callee users,
  // INVITE time and addresses), emitted call records and closed traffic
  // seconds are published too; null (the default, `sipman analyze`)
  // publishes nothing and costs one test per message. `live` must outlive
  // the correlator's use; it is called on the correlator's thread.
  void set_live(web::LiveFeed* live) { live_ = live; }

  // The alert rules, fed with every message, call start and end and the
  // capture's drops; null (the default) feeds none. Must outlive its use.
  void set_alerting(Alerting* alerting) { alerting_ = alerting; }

  // Runs the tracker's timers and closes traffic seconds at `now` (capture
  // time).
  void AdvanceTime(TimestampNs now) {
    tracker_.AdvanceTime(now);
    traffic_.AdvanceTime(now);
    if (media_on_) media_.AdvanceTime(now);
    if (alerting_ != nullptr) alerting_->AdvanceTime(now);
  }
  // Publishes the still-open traffic seconds before `now`'s second (capture
  // time) to the live feed, as not yet final; nothing without one.
  void PublishOpenSeconds(TimestampNs now);
  // Counts packets the capture lost, in the second of `now`.
  void OnEncrypted(TimestampNs ts, uint64_t connections, uint64_t bytes) override {
    traffic_.AddEncrypted(ts, connections, bytes);
  }
  void AddDrops(TimestampNs now, uint64_t kernel_drops, uint64_t interface_drops) {
    traffic_.AddDrops(now, kernel_drops, interface_drops);
    if (alerting_ != nullptr && kernel_drops + interface_drops > 0) {
      alerts::HealthEvent e;
      e.ts = now;
      e.sensor = alerting_->sensor();
      e.kernel_drops = kernel_drops + interface_drops;
      alerting_->engine().OnHealth(e);
    }
  }
  // Rows the store set aside on disk (its database away), for the alert
  // rules.
  void AddSpilled(TimestampNs now, uint64_t rows) {
    if (alerting_ == nullptr) return;
    alerts::HealthEvent e;
    e.ts = now;
    e.sensor = alerting_->sensor();
    e.spilled_rows = rows;
    alerting_->engine().OnHealth(e);
  }
  // End of input: every open call and registration is emitted and stored,
  // and every open second of traffic counters.
  void Finish(TimestampNs now) {
    tracker_.Finish(now);
    if (media_on_) media_.Finish();
    traffic_.Flush();
  }

  // Copies of the calls still up at `now` (capture time), as in_progress
  // records (CallTracker::SnapshotOpenCalls); nothing is emitted or stored.
  std::vector<calls::CallRecord> OpenCalls(TimestampNs now);
  // How many calls OpenCalls(now) would return (CallTracker::CountOpenCalls).
  uint64_t CountOpenCalls(TimestampNs now) { return tracker_.CountOpenCalls(now); }

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
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Call-ID -> sensor, for calls and registrations whose messages came with
  // a sensor (bounded: cleared when it reaches kMaxCallSensors).
  static constexpr size_t kMaxCallSensors = 262144;
  // The record PublishCallStart gets for a call the tracker has just
  // created from `message`.
  calls::CallRecord StartRecord(const net::Payload& payload, const sip::SipMessage& message) const;
  // Hands the message, and the call it started (when it started one), to
  // the alert rules.
  void FeedAlerts(const net::Payload& payload, const sip::SipMessage& message, bool call_started);
  // The record as stored: with the sensor of its messages.
  void Emit(const calls::CallRecord& record);

  std::string sensor_;
  stats::LocalNets local_nets_;
  web::LiveFeed* live_ = nullptr;
  Alerting* alerting_ = nullptr;
  // Call-ID and CSeq hashes of REGISTERs with credentials, until answered.
  static constexpr size_t kMaxCredentialedRegisters = 65536;
  std::unordered_set<uint64_t> credentialed_registers_;
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> call_sensors_;

  calls::CallTracker tracker_;
  store::Store* store_;
  std::array<uint64_t, kCallStates.size()> calls_by_state_ = {};
  std::map<std::string, uint64_t> registrations_by_result_;
  stats::TrafficStats traffic_;
  stats::TrafficSummarizer summarizer_;
  media::MediaTracker media_;
  bool media_on_ = true;
  sip::SdpSession sdp_;
  media::CallMedia call_media_;
  uint64_t streams_measured_ = 0;
  QualityHistograms quality_;
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_CORRELATOR_H_
