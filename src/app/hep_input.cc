#include "app/hep_input.h"

#include <span>

namespace sipman::app {

void HepUnwrapper::OnQueued(PacketPipeline* pipeline, const capture::Packet& queued) {
  hep::HepPacket p;
  if (hep::DecodeHepPacket(queued.data, &p, nullptr) != hep::HepError::kOk) return;
  SetSensor(p);
  if (p.payload_type == hep::kPayloadTypeRtcp) {
    net::Payload payload;
    payload.ts = p.ts != 0 ? p.ts : queued.ts;
    payload.src_ip = p.src_ip;
    payload.dst_ip = p.dst_ip;
    payload.src_port = p.src_port;
    payload.dst_port = p.dst_port;
    payload.frame_bytes = queued.wire_len;
    payload.data = p.payload;
    correlator_->OnHepRtcp(payload, p.correlation_id);
    correlator_->set_sensor({});
    return;
  }
  const net::Transport transport =
      p.ip_protocol == hep::kIpProtocolTcp ? net::Transport::kTcp : net::Transport::kUdp;
  pipeline->OnTransportPayload(
      queued.ts, transport, p.src_ip, p.src_port, p.dst_ip, p.dst_port,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(p.payload.data()),
                               p.payload.size()),
      queued.wire_len);
  correlator_->set_sensor({});
}

void HepUnwrapper::SetSensor(const hep::HepPacket& p) {
  if (p.capture_id == capture_id_ && p.node_name == node_ && !sensor_.empty()) {
    correlator_->set_sensor(sensor_);
    return;
  }
  capture_id_ = p.capture_id;
  node_.assign(p.node_name);
  sensor_ = p.node_name.empty() ? "hep-" + std::to_string(p.capture_id) : std::string(p.node_name);
  correlator_->set_sensor(sensor_);
}

}  // namespace sipman::app
