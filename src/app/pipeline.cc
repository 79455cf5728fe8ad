#include "app/pipeline.h"

#include <chrono>
#include <cstdio>

namespace sipman::app {

// Parses each payload into one reused SipMessage (no allocation).
class PacketPipeline::Sink : public net::PayloadSink {
 public:
  Sink(MessageHandler* handler, PipelineTotals* totals) : handler_(handler), totals_(totals) {}

  void OnPayload(const net::Payload& payload) override {
    if (sip::ParseSipMessage(payload.data, sip::ParseOptions{}, &message_) !=
        sip::ParseStatus::kComplete) {
      ++totals_->malformed;
      handler_->OnMalformed(payload);
      return;
    }
    ++totals_->messages;
    if (message_.malformed != sip::kMalformedNone) ++totals_->malformed;
    handler_->OnSipMessage(payload, message_);
  }

  void OnOtherDatagram(const net::Payload& payload) override { handler_->OnOtherDatagram(payload); }
  void OnHepRtcp(const net::Payload& payload, std::string_view correlation_id) override {
    handler_->OnHepRtcp(payload, correlation_id);
  }

 private:
  MessageHandler* handler_;
  PipelineTotals* totals_;
  sip::SipMessage message_;
};

PacketPipeline::PacketPipeline(MessageHandler* handler, PipelineTotals* totals,
                               const net::DecoderOptions& options)
    : handler_(handler),
      totals_(totals),
      sink_(std::make_unique<Sink>(handler, totals)),
      decoder_(std::make_unique<net::Decoder>(options, sink_.get())) {}

PacketPipeline::~PacketPipeline() = default;

void PacketPipeline::OnPacket(const capture::Packet& packet) {
  if (totals_->packets == 0) totals_->first_ts = packet.ts;
  ++totals_->packets;
  totals_->bytes += packet.wire_len;
  if (packet.ts > totals_->last_ts) totals_->last_ts = packet.ts;
  decoder_->DecodeFrame(packet.ts, packet.link, packet.data, packet.wire_len);
  ReportEncrypted(packet.ts);
  handler_->OnPacketDone(packet.ts);
}

void PacketPipeline::ReportEncrypted(TimestampNs ts) {
  const net::DecoderCounters& c = decoder_->counters();
  if (c.tls_bytes == tls_bytes_seen_ && c.tls_connections == tls_connections_seen_) return;
  handler_->OnEncrypted(ts, c.tls_connections - tls_connections_seen_,
                        c.tls_bytes - tls_bytes_seen_);
  tls_connections_seen_ = c.tls_connections;
  tls_bytes_seen_ = c.tls_bytes;
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
  ReportEncrypted(ts);
  handler_->OnPacketDone(ts);
}

void PacketPipeline::Finish() {
  decoder_->Finish();
  totals_->non_sip = decoder_->counters().non_sip;
  totals_->decoder = decoder_->counters();
}

std::vector<std::string> DecoderSummaryLines(const net::DecoderCounters& c) {
  std::vector<std::string> lines;
  char buf[512];
  std::string tunnels;
  auto add = [&](const char* name, uint64_t n) {
    if (n == 0) return;
    std::snprintf(buf, sizeof buf, "%s%s %llu", tunnels.empty() ? "" : ", ", name,
                  static_cast<unsigned long long>(n));
    tunnels += buf;
  };
  add("GRE", c.gre);
  add("ERSPAN", c.erspan);
  add("VXLAN", c.vxlan);
  add("Geneve", c.geneve);
  add("IP-in-IP", c.ip_in_ip);
  add("PPPoE", c.pppoe);
  add("MPLS", c.mpls);
  add("GTP-U", c.gtpu);
  if (!tunnels.empty() || c.tunnel_errors != 0 || c.tunnel_too_deep != 0) {
    std::snprintf(buf, sizeof buf, "tunnels: %s%s(%llu malformed, %llu nested too deep)",
                  tunnels.c_str(), tunnels.empty() ? "" : " ",
                  static_cast<unsigned long long>(c.tunnel_errors),
                  static_cast<unsigned long long>(c.tunnel_too_deep));
    lines.emplace_back(buf);
  }
  if (c.sctp_packets != 0) {
    std::snprintf(buf, sizeof buf,
                  "sctp: %llu packets, %llu DATA chunks, %llu messages reassembled, %llu errors",
                  static_cast<unsigned long long>(c.sctp_packets),
                  static_cast<unsigned long long>(c.sctp_data_chunks),
                  static_cast<unsigned long long>(c.sctp_reassembled),
                  static_cast<unsigned long long>(c.sctp_errors));
    lines.emplace_back(buf);
  }
  if (c.hep_packets != 0 || c.hep_errors != 0) {
    std::snprintf(buf, sizeof buf, "HEP in the capture: %llu packets unwrapped, %llu unreadable",
                  static_cast<unsigned long long>(c.hep_packets),
                  static_cast<unsigned long long>(c.hep_errors));
    lines.emplace_back(buf);
  }
  if (c.tls_connections != 0) {
    std::snprintf(buf, sizeof buf,
                  "encrypted SIP: %llu connections, %llu bytes (TLS: the sensor cannot read "
                  "these; mirror the traffic before TLS or have the server send HEP)",
                  static_cast<unsigned long long>(c.tls_connections),
                  static_cast<unsigned long long>(c.tls_bytes));
    lines.emplace_back(buf);
  }
  return lines;
}

std::string DecoderCountersJson(const net::DecoderCounters& c) {
  std::string out = ",\"decoder\":{";
  bool first = true;
#define SIPMAN_COUNTER_JSON(field, name, help)       \
  out += first ? "\"" : ",\"";                       \
  first = false;                                     \
  out += name;                                       \
  out += "\":";                                      \
  out += std::to_string(c.field);
  SIPMAN_DECODER_COUNTERS(SIPMAN_COUNTER_JSON)
#undef SIPMAN_COUNTER_JSON
  out += '}';
  return out;
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
