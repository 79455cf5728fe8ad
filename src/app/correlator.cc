#include "app/correlator.h"

namespace sipman::app {

void Correlator::OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) {
  // Run due timers first: a Call-ID reused after its call ended must find
  // the old call gone, not be taken for a retransmission of it.
  tracker_.AdvanceTime(payload.ts);
  std::string_view raw = payload.data.substr(0, message.size);
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
  tracker_.OnMessage(event);
  traffic_.OnMessage(payload.ts, payload.frame_bytes, message);
  if (message.call_id.empty()) return;  // nothing to file it under; counted as malformed

  store::StoredMessage stored;
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

void Correlator::OnCall(const calls::CallRecord& record) {
  ++calls_by_state_[static_cast<size_t>(record.state)];
  store_->AddCall(record);
}

void Correlator::OnRegistration(const calls::RegistrationRecord& record) {
  ++registrations_by_result_[record.result];
  store_->AddRegistration(record);
}

void Correlator::OnSecond(const stats::TrafficCounters& second) {
  summarizer_.AddSecond(second);
  store_->AddTrafficSecond(second);
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
