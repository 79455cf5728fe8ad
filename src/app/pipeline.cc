#include "app/pipeline.h"

#include <chrono>

namespace sipman::app {

// Parses each payload into one reused SipMessage (no allocation).
class PacketPipeline::Sink : public net::PayloadSink {
 public:
  Sink(MessageHandler* handler, PipelineTotals* totals) : handler_(handler), totals_(totals) {}

  void OnPayload(const net::Payload& payload) override {
    if (sip::ParseSipMessage(payload.data, sip::ParseOptions{}, &message_) !=
        sip::ParseStatus::kComplete) {
      ++totals_->malformed;
      return;
    }
    ++totals_->messages;
    if (message_.malformed != sip::kMalformedNone) ++totals_->malformed;
    handler_->OnSipMessage(payload, message_);
  }

 private:
  MessageHandler* handler_;
  PipelineTotals* totals_;
  sip::SipMessage message_;
};

PacketPipeline::PacketPipeline(MessageHandler* handler, PipelineTotals* totals)
    : handler_(handler),
      totals_(totals),
      sink_(std::make_unique<Sink>(handler, totals)),
      decoder_(std::make_unique<net::Decoder>(net::DecoderOptions{}, sink_.get())) {}

PacketPipeline::~PacketPipeline() = default;

void PacketPipeline::OnPacket(const capture::Packet& packet) {
  if (totals_->packets == 0) totals_->first_ts = packet.ts;
  ++totals_->packets;
  totals_->bytes += packet.wire_len;
  if (packet.ts > totals_->last_ts) totals_->last_ts = packet.ts;
  decoder_->DecodeFrame(packet.ts, packet.link, packet.data, packet.wire_len);
  handler_->OnPacketDone(packet.ts);
}

void PacketPipeline::OnTransportPayload(TimestampNs ts, net::Transport transport,
                                        const IpAddress& src, uint16_t src_port,
                                        const IpAddress& dst, uint16_t dst_port,
                                        std::span<const uint8_t> data, uint32_t wire_len) {
  if (totals_->packets == 0) totals_->first_ts = ts;
  ++totals_->packets;
  totals_->bytes += wire_len;
  if (ts > totals_->last_ts) totals_->last_ts = ts;
  decoder_->DecodeTransportPayload(ts, transport, src, src_port, dst, dst_port, data, wire_len);
  handler_->OnPacketDone(ts);
}

void PacketPipeline::Finish() {
  decoder_->Finish();
  totals_->non_sip = decoder_->counters().non_sip;
}

Result<PipelineTotals> RunFilePipeline(const std::vector<std::string>& files,
                                       MessageHandler* handler, const bool* stop) {
  auto source = capture::FileSource::Open(files);
  if (!source.ok()) return source.status();
  auto started = std::chrono::steady_clock::now();
  PipelineTotals totals;
  PacketPipeline pipeline(handler, &totals);
  capture::Packet packet;
  while ((stop == nullptr || !*stop) && (*source)->Next(&packet)) pipeline.OnPacket(packet);
  pipeline.Finish();
  totals.warnings = (*source)->warnings();
  totals.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return totals;
}

}  // namespace sipman::app
