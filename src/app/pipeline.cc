#include "app/pipeline.h"

#include <chrono>

#include "capture/capture.h"

namespace sipman::app {
namespace {

// Parses each payload into one reused SipMessage (no allocation).
class ParsingSink : public net::PayloadSink {
 public:
  ParsingSink(MessageHandler* handler, PipelineTotals* totals) : handler_(handler), totals_(totals) {}

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

}  // namespace

Result<PipelineTotals> RunFilePipeline(const std::vector<std::string>& files,
                                       MessageHandler* handler, const bool* stop) {
  auto source = capture::FileSource::Open(files);
  if (!source.ok()) return source.status();
  auto started = std::chrono::steady_clock::now();
  PipelineTotals totals;
  ParsingSink sink(handler, &totals);
  net::Decoder decoder(net::DecoderOptions{}, &sink);
  capture::Packet packet;
  while ((stop == nullptr || !*stop) && (*source)->Next(&packet)) {
    if (totals.packets == 0) totals.first_ts = packet.ts;
    ++totals.packets;
    totals.bytes += packet.wire_len;
    if (packet.ts > totals.last_ts) totals.last_ts = packet.ts;
    decoder.DecodeFrame(packet.ts, packet.link, packet.data, packet.wire_len);
    handler->OnPacketDone(packet.ts);
  }
  decoder.Finish();
  totals.non_sip = decoder.counters().non_sip;
  totals.warnings = (*source)->warnings();
  totals.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return totals;
}

}  // namespace sipman::app
