// Private to app: the decode pipeline shared by the commands, from captured
// packets (files or live) to parsed SIP messages.
#ifndef SIPMAN_APP_PIPELINE_H_
#define SIPMAN_APP_PIPELINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/base.h"
#include "capture/capture.h"
#include "net/net.h"
#include "sip/sip.h"

namespace sipman::app {

// Receives every SIP message the pipeline decodes.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // `message` holds views into `payload.data`; both are valid only during
  // the call.
  virtual void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) = 0;
  // Called once per captured packet, after its messages, with its capture
  // time: lets a handler run timers in capture time.
  virtual void OnPacketDone(TimestampNs /*ts*/) {}
  // A UDP datagram that is not SIP (media, perhaps); valid during the call.
  virtual void OnOtherDatagram(const net::Payload& /*payload*/) {}
  // A payload that looked like SIP but could not be parsed (counted as
  // malformed); valid during the call.
  virtual void OnMalformed(const net::Payload& /*payload*/) {}
  // An RTCP report from a HEP agent (net::PayloadSink::OnHepRtcp).
  virtual void OnHepRtcp(const net::Payload& /*payload*/, std::string_view /*correlation_id*/) {}
  // Called before OnPacketDone when the packet carried SIP over TLS that
  // cannot be read: `connections` newly seen, `bytes` of TLS payload.
  virtual void OnEncrypted(TimestampNs /*ts*/, uint64_t /*connections*/, uint64_t /*bytes*/) {}
};

struct PipelineTotals {
  uint64_t packets = 0;
  uint64_t bytes = 0;         // wire bytes of every packet
  uint64_t messages = 0;      // SIP messages parsed
  uint64_t malformed = 0;     // SIP-looking payloads unreadable, or parsed with flags
  uint64_t non_sip = 0;       // transport payloads that were not SIP
  TimestampNs first_ts = 0;
  TimestampNs last_ts = 0;
  double elapsed_seconds = 0;
  std::vector<std::string> warnings;  // truncation, unsupported link types
  net::DecoderCounters decoder;       // what the decoder saw, filled by Finish
};

// What an operator should know of the decoder's counters, as summary lines
// (empty when there is nothing to say): the tunnels, SCTP and HEP found,
// and the SIP over TLS the sensor cannot read ("encrypted SIP: N
// connections, M bytes"). Shared by messages, analyze and run.
std::vector<std::string> DecoderSummaryLines(const net::DecoderCounters& c);

// The decoder's counters in JSON: ,"decoder":{"frames":N,...}, every
// counter of SIPMAN_DECODER_COUNTERS by its name.
std::string DecoderCountersJson(const net::DecoderCounters& c);

// Decodes packets one at a time and parses each SIP payload into one reused
// SipMessage (no allocation per packet). Used by the file pipeline below and
// by the worker of `sipman run`. Not thread-safe.
class PacketPipeline {
 public:
  // `handler` and `totals` must outlive the pipeline.
  PacketPipeline(MessageHandler* handler, PipelineTotals* totals,
                 const net::DecoderOptions& options = net::DecoderOptions{});
  ~PacketPipeline();
  PacketPipeline(const PacketPipeline&) = delete;
  PacketPipeline& operator=(const PacketPipeline&) = delete;

  // Counts, decodes and parses one packet, then calls handler->OnPacketDone.
  void OnPacket(const capture::Packet& packet);
  // Counts, decodes and parses a transport payload that arrived already
  // split out of its packet (HEP), then calls handler->OnPacketDone.
  void OnTransportPayload(TimestampNs ts, net::Transport transport, const IpAddress& src,
                          uint16_t src_port, const IpAddress& dst, uint16_t dst_port,
                          std::span<const uint8_t> data, uint32_t wire_len);
  // End of input: flushes the reassemblers and fills totals->non_sip and
  // totals->decoder.
  void Finish();
  // The decoder's counters so far (same thread as OnPacket).
  const net::DecoderCounters& decoder_counters() const { return decoder_->counters(); }

 private:
  class Sink;
  MessageHandler* handler_;
  PipelineTotals* totals_;
  // Hands the TLS the decoder counted since the last packet to the handler.
  void ReportEncrypted(TimestampNs ts);

  std::unique_ptr<Sink> sink_;
  std::unique_ptr<net::Decoder> decoder_;
  uint64_t tls_connections_seen_ = 0, tls_bytes_seen_ = 0;
};

// Reads `files` in time order and hands every SIP message to `handler`.
// Returns an error only when a file cannot be opened (not a capture, no
// permission); damage inside a file becomes a warning. `stop` (optional) is
// polled per packet so a caller can end early.
Result<PipelineTotals> RunFilePipeline(const std::vector<std::string>& files,
                                       MessageHandler* handler, const bool* stop = nullptr);

}  // namespace sipman::app

#endif  // SIPMAN_APP_PIPELINE_H_
