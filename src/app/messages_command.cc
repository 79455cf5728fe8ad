#include "app/messages_command.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <cstdio>

#include "app/json_writer.h"
#include "app/output_buffer.h"
#include "app/pipeline.h"
#include "net/net.h"
#include "sip/sip.h"

namespace sipman::app {
namespace {

// Prints one line per SIP message.
class MessagePrinter : public MessageHandler {
 public:
  MessagePrinter(MessageFormat format, OutputBuffer* out) : format_(format), out_(out) {}

  void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) override {
    message_ = &message;
    switch (format_) {
      case MessageFormat::kTsv: PrintTsv(payload); break;
      case MessageFormat::kJson: PrintJson(payload); break;
      case MessageFormat::kNone: break;
    }
  }

 private:
  void PrintTsv(const net::Payload& p) {
    char ip[46];
    out_->AppendEpochMicros(p.ts);
    out_->Append('\t');
    out_->Append(std::string_view(ip, p.src_ip.Format(ip)));
    out_->Append('\t');
    out_->AppendInt(p.src_port);
    out_->Append('\t');
    out_->Append(std::string_view(ip, p.dst_ip.Format(ip)));
    out_->Append('\t');
    out_->AppendInt(p.dst_port);
    out_->Append('\t');
    out_->Append(net::TransportName(p.transport));
    out_->Append('\t');
    if (message_->is_request) {
      AppendTsvField(out_, message_->method);
    } else {
      out_->AppendInt(message_->status_code);
    }
    out_->Append('\t');
    AppendTsvField(out_, message_->call_id);
    out_->Append('\t');
    AppendCSeq();
    out_->Append('\n');
  }

  // "1 INVITE"; an unreadable CSeq is printed as written, as tshark does.
  void AppendCSeq() {
    if (message_->malformed & sip::kMalformedCSeq) {
      if (const sip::Header* h = message_->Find(sip::HeaderId::kCSeq)) AppendTsvField(out_, h->value);
      return;
    }
    if (message_->cseq_method.empty() && message_->cseq_number == 0) return;
    out_->AppendInt(message_->cseq_number);
    out_->Append(' ');
    AppendTsvField(out_, message_->cseq_method);
  }

  void AppendJsonCSeq() {
    if (message_->malformed & sip::kMalformedCSeq) {
      const sip::Header* h = message_->Find(sip::HeaderId::kCSeq);
      AppendJsonString(out_, h ? h->value : std::string_view());
      return;
    }
    if (message_->cseq_method.empty() && message_->cseq_number == 0) {
      out_->Append("\"\"");
      return;
    }
    char text[128];
    auto r = std::to_chars(text, text + 16, message_->cseq_number);
    *r.ptr++ = ' ';
    size_t n = std::min(message_->cseq_method.size(), static_cast<size_t>(text + sizeof text - r.ptr));
    std::memcpy(r.ptr, message_->cseq_method.data(), n);
    AppendJsonString(out_, std::string_view(text, r.ptr + n - text));
  }

  void PrintJson(const net::Payload& p) {
    char ip[46];
    out_->Append("{\"ts\":");
    out_->AppendEpochMicros(p.ts);
    out_->Append(",\"src_ip\":\"");
    out_->Append(std::string_view(ip, p.src_ip.Format(ip)));
    out_->Append("\",\"src_port\":");
    out_->AppendInt(p.src_port);
    out_->Append(",\"dst_ip\":\"");
    out_->Append(std::string_view(ip, p.dst_ip.Format(ip)));
    out_->Append("\",\"dst_port\":");
    out_->AppendInt(p.dst_port);
    out_->Append(",\"transport\":\"");
    out_->Append(net::TransportName(p.transport));
    out_->Append('"');
    if (message_->is_request) {
      out_->Append(",\"method\":");
      AppendJsonString(out_, message_->method);
      out_->Append(",\"request_uri\":");
      AppendJsonString(out_, message_->request_uri_text);
    } else {
      out_->Append(",\"status\":");
      out_->AppendInt(message_->status_code);
      out_->Append(",\"reason\":");
      AppendJsonString(out_, message_->reason_phrase);
    }
    out_->Append(",\"call_id\":");
    AppendJsonString(out_, message_->call_id);
    out_->Append(",\"cseq\":");
    AppendJsonCSeq();
    out_->Append(",\"from_user\":");
    AppendJsonString(out_, message_->from.uri.user);
    out_->Append(",\"from_tag\":");
    AppendJsonString(out_, message_->from.tag);
    out_->Append(",\"to_user\":");
    AppendJsonString(out_, message_->to.uri.user);
    out_->Append(",\"to_tag\":");
    AppendJsonString(out_, message_->to.tag);
    out_->Append(",\"user_agent\":");
    AppendJsonString(out_, message_->user_agent);
    out_->Append(",\"bytes\":");
    out_->AppendInt(message_->size);
    out_->Append(",\"malformed\":");
    out_->Append(message_->malformed != sip::kMalformedNone ? "true" : "false");
    AppendMedia();
    out_->Append("}\n");
  }

  // The SDP media summary: one object per m= line.
  void AppendMedia() {
    out_->Append(",\"media\":[");
    std::string_view sdp = sip::FindSdpBody(message_->content_type, message_->body);
    if (!sdp.empty() && sip::ParseSdp(sdp, &sdp_)) {
      for (size_t i = 0; i < sdp_.media_count; ++i) {
        const sip::SdpMedia& m = sdp_.media[i];
        if (i > 0) out_->Append(',');
        out_->Append("{\"type\":");
        AppendJsonString(out_, m.type);
        out_->Append(",\"address\":");
        AppendJsonString(out_, m.connection_address);
        out_->Append(",\"port\":");
        out_->AppendInt(m.port);
        out_->Append(",\"protocol\":");
        AppendJsonString(out_, m.protocol);
        out_->Append(",\"formats\":");
        AppendJsonString(out_, m.formats);
        out_->Append(",\"direction\":\"");
        out_->Append(sip::MediaDirectionName(m.direction));
        out_->Append("\",\"codecs\":[");
        for (size_t k = 0; k < m.rtpmap_count; ++k) {
          const sip::SdpRtpMap& r = m.rtpmaps[k];
          if (k > 0) out_->Append(',');
          out_->Append("{\"pt\":");
          out_->AppendInt(r.payload_type);
          out_->Append(",\"name\":");
          AppendJsonString(out_, r.encoding);
          out_->Append(",\"clock\":");
          out_->AppendInt(r.clock_rate);
          out_->Append('}');
        }
        out_->Append("]}");
      }
    }
    out_->Append(']');
  }

  MessageFormat format_;
  OutputBuffer* out_;
  const sip::SipMessage* message_ = nullptr;  // the message being printed
  sip::SdpSession sdp_;
};

}  // namespace

int RunMessages(const MessagesOptions& options) {
  OutputBuffer out(1);
  MessagePrinter printer(options.format, &out);
  auto totals = RunFilePipeline(options.files, &printer, out.failed_flag());
  out.Flush();
  if (!totals.ok()) {
    std::fprintf(stderr, "sipman messages: %s\n", totals.status().message().c_str());
    return 1;
  }
  const PipelineTotals& t = *totals;
  for (const std::string& w : t.warnings) std::fprintf(stderr, "sipman: warning: %s\n", w.c_str());
  std::fprintf(stderr,
               "messages: %llu  packets: %llu  bytes: %llu  malformed: %llu  non-sip payloads: %llu  "
               "elapsed: %.3f s  rate: %.0f messages/s\n",
               static_cast<unsigned long long>(t.messages), static_cast<unsigned long long>(t.packets),
               static_cast<unsigned long long>(t.bytes), static_cast<unsigned long long>(t.malformed),
               static_cast<unsigned long long>(t.non_sip), t.elapsed_seconds,
               t.elapsed_seconds > 0 ? static_cast<double>(t.messages) / t.elapsed_seconds : 0.0);
  for (const std::string& line : DecoderSummaryLines(t.decoder)) {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return 0;
}

}  // namespace sipman::app
