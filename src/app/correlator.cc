#include "app/correlator.h"

#include "app/call_media.h"
#include "base/fnv.h"

namespace sipman::app {

void Correlator::OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) {
  // Run due timers first: a Call-ID reused after its call ended must find
  // the old call gone, not be taken for a retransmission of it. The alert
  // rules too look at the seconds up to this message before they take it,
  // as they would have live.
  tracker_.AdvanceTime(payload.ts);
  if (alerting_ != nullptr) alerting_->AdvanceTime(payload.ts);
  std::string_view raw = payload.data.substr(0, message.size);
  if (!sensor_.empty() && !message.call_id.empty() &&
      (message.cseq_method == "INVITE" || message.cseq_method == "REGISTER") &&
      call_sensors_.find(message.call_id) == call_sensors_.end()) {
    if (call_sensors_.size() >= kMaxCallSensors) call_sensors_.clear();
    call_sensors_.emplace(std::string(message.call_id), sensor_);
  }
  calls::SipEvent event;
  event.ts = payload.ts;
  event.src_ip = payload.src_ip;
  event.dst_ip = payload.dst_ip;
  event.src_port = payload.src_port;
  event.dst_port = payload.dst_port;
  event.transport = net::TransportName(payload.transport);
  event.message = &message;
  event.raw = raw;
  event.frame_bytes = payload.frame_bytes;
  if (live_ == nullptr && alerting_ == nullptr) {
    tracker_.OnMessage(event);
  } else {
    const uint64_t created = tracker_.counters().calls_created;
    tracker_.OnMessage(event);
    const bool started = tracker_.counters().calls_created != created;
    if (started && live_ != nullptr) live_->PublishCallStart(StartRecord(payload, message));
    if (alerting_ != nullptr) FeedAlerts(payload, message, started);
  }
  traffic_.OnMessage(payload.ts, payload.frame_bytes, message,
                     stats::DirectionOf(local_nets_, payload.src_ip, payload.dst_ip));
  if (message.call_id.empty()) return;  // nothing to file it under; counted as malformed
  if (media_on_ && !message.body.empty()) {
    const std::string_view sdp = sip::FindSdpBody(message.content_type, message.body);
    if (!sdp.empty() && sip::ParseSdp(sdp, &sdp_)) media_.OnSdp(payload.ts, message, sdp_);
  }
  if (media_on_ && message.is_request && message.method == "BYE") media_.OnCallEnded(message.call_id);

  store::StoredMessage stored;
  stored.sensor = sensor_;
  stored.call_id = message.call_id;
  stored.ts = payload.ts;
  stored.src_ip = payload.src_ip;
  stored.dst_ip = payload.dst_ip;
  stored.src_port = payload.src_port;
  stored.dst_port = payload.dst_port;
  stored.transport = event.transport;
  stored.method = message.is_request ? message.method : message.cseq_method;
  stored.status = message.is_request ? 0 : message.status_code;
  stored.cseq = message.cseq_number;
  stored.raw = raw;
  store_->AddMessage(stored);
}

void Correlator::OnCall(const calls::CallRecord& original) {
  // The call's measured media joins its record (a copy, once per call).
  calls::CallRecord with_media;
  const calls::CallRecord* chosen = &original;
  const bool has_media = media_on_ && media_.TakeCallMedia(original.call_id, &call_media_);
  if (has_media || (media_on_ && original.answer_ts > 0 && !original.caller_media.empty())) {
    with_media = original;
    if (has_media) {
      ApplyCallMedia(call_media_, &with_media);
    } else {
      ApplyNoMedia(&with_media);
    }
    chosen = &with_media;
  }
  const calls::CallRecord& record = *chosen;
  quality_.Add(record);
  ++calls_by_state_[static_cast<size_t>(record.state)];
  if (record.sensor.empty() && !call_sensors_.empty()) {
    auto it = call_sensors_.find(record.call_id);
    if (it != call_sensors_.end()) {
      calls::CallRecord with_sensor = record;
      with_sensor.sensor = std::move(it->second);
      call_sensors_.erase(it);
      Emit(with_sensor);
      return;
    }
  }
  Emit(record);
}

void Correlator::Emit(const calls::CallRecord& record) {
  if (alerting_ != nullptr) alerting_->engine().OnCallEnd(record, alerting_->sensor());
  if (live_ != nullptr) live_->PublishCallEnd(record);
  store_->AddCall(record);
}

void Correlator::FeedAlerts(const net::Payload& payload, const sip::SipMessage& message,
                            bool call_started) {
  const std::string_view sensor = sensor_.empty() ? std::string_view(alerting_->sensor()) : sensor_;
  alerts::MessageEvent e;
  e.ts = payload.ts;
  e.src_ip = payload.src_ip;
  e.dst_ip = payload.dst_ip;
  e.is_request = message.is_request;
  e.method = message.method;
  e.status = message.status_code;
  e.cseq_method = message.cseq_method;
  e.user_agent = message.user_agent;
  e.from_user = message.from.uri.user;
  e.to_user = message.to.uri.user;
  e.ruri_user = message.is_request ? message.request_uri.user : std::string_view();
  e.to_domain = message.to.uri.host;
  e.call_id = message.call_id;
  e.sensor = sensor;
  e.malformed = message.malformed != sip::kMalformedNone;
  if (message.cseq_method == "REGISTER") {
    // Which REGISTERs carried credentials, so that their 401/403/407 counts
    // as credentials refused (bounded: cleared when full).
    Fnv1a64 h;
    h.Bytes(message.call_id);
    h.LittleEndian(message.cseq_number, 4);
    if (message.is_request) {
      if (message.Find("Authorization") != nullptr || message.Find("Proxy-Authorization") != nullptr) {
        if (credentialed_registers_.size() >= kMaxCredentialedRegisters) credentialed_registers_.clear();
        credentialed_registers_.insert(h.value());
      }
    } else if (message.status_code >= 200) {
      e.to_credentials = credentialed_registers_.erase(h.value()) > 0;
    }
  }
  alerting_->engine().OnMessage(e);
  if (!call_started) return;
  alerts::CallStartEvent s;
  s.ts = payload.ts;
  // A call first seen from a response: the response goes callee to caller.
  s.src_ip = message.is_request ? payload.src_ip : payload.dst_ip;
  s.dst_ip = message.is_request ? payload.dst_ip : payload.src_ip;
  s.caller = message.from.uri.user;
  s.callee = message.is_request && !message.request_uri.user.empty() ? message.request_uri.user
                                                                     : message.to.uri.user;
  s.callee_domain = message.to.uri.host;
  s.call_id = message.call_id;
  s.sensor = sensor;
  alerting_->engine().OnCallStart(s);
}

void Correlator::OnMalformed(const net::Payload& payload) {
  if (alerting_ == nullptr) return;
  alerts::MessageEvent e;
  e.ts = payload.ts;
  e.src_ip = payload.src_ip;
  e.dst_ip = payload.dst_ip;
  e.is_request = true;  // keyed by its sender
  e.sensor = sensor_.empty() ? std::string_view(alerting_->sensor()) : std::string_view(sensor_);
  e.malformed = true;
  alerting_->engine().OnMessage(e);
}

namespace {

template <size_t N>
void Observe(const double (&bounds)[N], double value, QualityHistograms::Histogram* h) {
  static_assert(N <= std::size(QualityHistograms::Histogram{}.buckets));
  for (size_t i = 0; i < N; ++i) {
    if (value <= bounds[i]) {
      ++h->buckets[i];
      break;
    }
  }
  ++h->count;
  h->sum += value;
}

}  // namespace

void QualityHistograms::Add(const calls::CallRecord& r) {
  if (r.mos_min >= 0) Observe(kMosBounds, r.mos_min, &mos);
  if (r.caller_rtp_packets > 0) Observe(kLossBounds, r.caller_rtp_loss_pct, &loss);
  if (r.callee_rtp_packets > 0) Observe(kLossBounds, r.callee_rtp_loss_pct, &loss);
}

// Every stream that ends is stored, with its intervals. RTP comes from the
// capture itself (not HEP): the store's own sensor. A stream known from
// HEP's RTCP alone is emitted while its call is being stored (OnCall), and
// takes that call's sensor.
void Correlator::OnStream(const media::StreamFigures& stream) {
  ++streams_measured_;
  std::string_view sensor;
  if (stream.rtcp_only && !call_sensors_.empty()) {
    auto it = call_sensors_.find(stream.call_id);
    if (it != call_sensors_.end()) sensor = it->second;
  }
  store_->AddStream(store::StreamRowOf(stream, sensor));
}

void Correlator::OnRegistration(const calls::RegistrationRecord& record) {
  ++registrations_by_result_[record.result];
  if (record.sensor.empty() && !call_sensors_.empty()) {
    // Kept, not erased: refreshes reuse the Call-ID.
    auto it = call_sensors_.find(record.call_id);
    if (it != call_sensors_.end()) {
      calls::RegistrationRecord with_sensor = record;
      with_sensor.sensor = it->second;
      store_->AddRegistration(with_sensor);
      return;
    }
  }
  store_->AddRegistration(record);
}

void Correlator::PublishOpenSeconds(TimestampNs now) {
  if (live_ == nullptr) return;
  int64_t current = now / kNsPerSecond - (now % kNsPerSecond < 0 ? 1 : 0);
  traffic_.ForEachOpenSecond(current, [this](const stats::TrafficCounters& second) {
    live_->PublishOpenTraffic(second);
  });
}

void Correlator::OnSecond(const stats::TrafficCounters& second) {
  summarizer_.AddSecond(second);
  if (live_ != nullptr) live_->PublishTraffic(second);
  store_->AddTrafficSecond(second);
}

calls::CallRecord Correlator::StartRecord(const net::Payload& payload,
                                          const sip::SipMessage& message) const {
  calls::CallRecord r;
  r.call_id.assign(message.call_id);
  r.sensor = sensor_;
  r.caller_user.assign(message.from.uri.user);
  r.caller_display.assign(message.from.display_name);
  r.caller_domain.assign(message.from.uri.host);
  r.caller_tag.assign(message.from.tag);
  r.callee_user.assign(message.to.uri.user);
  r.callee_domain.assign(message.to.uri.host);
  r.transport.assign(net::TransportName(payload.transport));
  r.invite_ts = payload.ts;
  r.state = calls::CallState::kInProgress;
  if (message.is_request) {
    r.ruri_user.assign(message.request_uri.user);
    r.src_ip = payload.src_ip;
    r.dst_ip = payload.dst_ip;
    r.src_port = payload.src_port;
    r.dst_port = payload.dst_port;
  } else {
    // A call first seen from a response (its INVITE was missed): the
    // response travels from callee to caller.
    r.src_ip = payload.dst_ip;
    r.dst_ip = payload.src_ip;
    r.src_port = payload.dst_port;
    r.dst_port = payload.src_port;
  }
  return r;
}

std::vector<calls::CallRecord> Correlator::OpenCalls(TimestampNs now) {
  class Collector : public calls::RecordSink {
   public:
    void OnCall(const calls::CallRecord& record) override { records.push_back(record); }
    void OnRegistration(const calls::RegistrationRecord&) override {}
    std::vector<calls::CallRecord> records;
  };
  Collector collector;
  tracker_.SnapshotOpenCalls(now, &collector);
  return std::move(collector.records);
}

uint64_t Correlator::total_calls() const {
  uint64_t n = 0;
  for (uint64_t c : calls_by_state_) n += c;
  return n;
}

uint64_t Correlator::total_registrations() const {
  uint64_t n = 0;
  for (const auto& [result, count] : registrations_by_result_) n += count;
  return n;
}

}  // namespace sipman::app
