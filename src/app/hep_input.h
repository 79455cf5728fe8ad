// Private to app/: HEP around `sipman run`'s pipeline. HepIntake queues what
// the HEP listener receives (--hep-listen) and HepUnwrapper feeds it to the
// worker's pipeline; HepForwarder sends every SIP message on as HEPv3
// (--hep-send).
#ifndef SIPMAN_APP_HEP_INPUT_H_
#define SIPMAN_APP_HEP_INPUT_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "app/correlator.h"
#include "app/packet_queue.h"
#include "app/pipeline.h"
#include "hep/hep.h"

namespace sipman::app {

// The HEP listener's sink, on the listener thread: the only producer of the
// HEP queue. Each SIP or RTCP packet (payload types 1 and 5; others are
// counted as not SIP) is queued as a normalised HEPv3 packet
// (uncompressed, no auth key) so that the worker decodes it again, and so
// that spilled HEP packets read back from disk like any other.
class HepIntake : public hep::HepSink {
 public:
  explicit HepIntake(PacketQueue* queue) : queue_(queue) { buffer_.reserve(65536); }

  void OnHepPacket(const hep::HepPacket& packet, TimestampNs received_ns) override {
    const bool wanted = packet.payload_type == hep::kPayloadTypeSip ||
                        packet.payload_type == hep::kPayloadTypeRtcp;
    if (!wanted || packet.payload.empty()) {
      not_sip_.store(not_sip_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
    hep::HepPacket normal = packet;
    normal.auth_key = {};
    normal.compressed = false;
    if (normal.ts == 0) normal.ts = received_ns;  // HEPv1 carries no time
    if (!hep::EncodeHep3(normal, &buffer_).ok()) return;  // cannot happen: it came in one
    capture::Packet queued;
    queued.ts = normal.ts;
    queued.link = net::LinkType::kRaw;  // a label for the spill files only
    queued.data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer_.data()),
                                           buffer_.size());
    queued.wire_len = static_cast<uint32_t>(packet.payload.size());
    queue_->Push(queued);
  }
  void OnIdle() override { queue_->ProducerTick(); }

  uint64_t not_sip() const { return not_sip_.load(std::memory_order_relaxed); }

 private:
  PacketQueue* queue_;
  std::string buffer_;
  std::atomic<uint64_t> not_sip_{0};
};

// The worker's side of the HEP queue: decodes each queued packet again and
// feeds its SIP payload to the pipeline as the UDP datagram or TCP stream
// data it was, under the sensor of its capture agent: its node name, else
// hep-<capture id>. Worker thread only.
class HepUnwrapper {
 public:
  explicit HepUnwrapper(Correlator* correlator) : correlator_(correlator) {}

  void OnQueued(PacketPipeline* pipeline, const capture::Packet& queued);

 private:
  void SetSensor(const hep::HepPacket& p);

  Correlator* correlator_;
  // The last capture agent seen, and its sensor name.
  uint32_t capture_id_ = 0;
  std::string node_, sensor_;
};

// Forwards every SIP message as HEPv3 (--hep-send), then hands it on.
// Worker thread only.
class HepForwarder : public MessageHandler {
 public:
  HepForwarder(hep::HepSender* sender, MessageHandler* next) : sender_(sender), next_(next) {}

  void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) override {
    hep::HepPacket p;
    p.src_ip = payload.src_ip;
    p.dst_ip = payload.dst_ip;
    p.src_port = payload.src_port;
    p.dst_port = payload.dst_port;
    p.ts = payload.ts;
    p.ip_protocol =
        payload.transport == net::Transport::kUdp ? hep::kIpProtocolUdp : hep::kIpProtocolTcp;
    p.payload = payload.data;
    sender_->Send(p);
    next_->OnSipMessage(payload, message);
  }
  // Media goes on unforwarded (HEP carries signalling here) but measured.
  void OnOtherDatagram(const net::Payload& payload) override { next_->OnOtherDatagram(payload); }
  void OnHepRtcp(const net::Payload& payload, std::string_view correlation_id) override {
    next_->OnHepRtcp(payload, correlation_id);
  }
  void OnPacketDone(TimestampNs ts) override { next_->OnPacketDone(ts); }
  void OnEncrypted(TimestampNs ts, uint64_t connections, uint64_t bytes) override {
    next_->OnEncrypted(ts, connections, bytes);
  }

 private:
  hep::HepSender* sender_;
  MessageHandler* next_;
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_HEP_INPUT_H_
