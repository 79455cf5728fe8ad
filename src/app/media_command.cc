#include "app/media_command.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "app/json_writer.h"
#include "app/output_buffer.h"
#include "app/pipeline.h"
#include "media/media.h"
#include "sip/sip.h"

namespace sipman::app {
namespace {

// Feeds SDP and non-SIP datagrams to a MediaTracker and keeps its streams.
class MediaCollector : public MessageHandler, public media::StreamSink {
 public:
  MediaCollector() : tracker_(media::MediaTrackerOptions{}, this) {}

  void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) override {
    if (message.is_request && message.method == "BYE") tracker_.OnCallEnded(message.call_id);
    const std::string_view body = sip::FindSdpBody(message.content_type, message.body);
    if (body.empty() || !sip::ParseSdp(body, &sdp_)) return;
    tracker_.OnSdp(payload.ts, message, sdp_);
  }
  void OnOtherDatagram(const net::Payload& payload) override {
    tracker_.OnDatagram(payload.ts, payload.src_ip, payload.src_port, payload.dst_ip,
                        payload.dst_port, payload.data);
  }
  // HEP's RTCP joins the RTP streams measured here (streams known from
  // RTCP alone need their call's end, which this command does not track).
  void OnHepRtcp(const net::Payload& payload, std::string_view correlation_id) override {
    tracker_.OnHepRtcp(payload.ts, correlation_id, payload.src_ip, payload.src_port,
                       payload.dst_ip, payload.dst_port, payload.data);
  }
  void OnPacketDone(TimestampNs ts) override { tracker_.AdvanceTime(ts); }
  void OnStream(const media::StreamFigures& stream) override { streams_.push_back(stream); }

  // Ends the tracker; the streams in the order they began.
  std::vector<media::StreamFigures>& Finish() {
    tracker_.Finish();
    std::stable_sort(streams_.begin(), streams_.end(),
                     [](const auto& a, const auto& b) { return a.first_ts < b.first_ts; });
    return streams_;
  }
  const media::MediaCounters& counters() const { return tracker_.counters(); }

 private:
  media::MediaTracker tracker_;
  sip::SdpSession sdp_;
  std::vector<media::StreamFigures> streams_;
};

void AppendFixed(OutputBuffer* out, double value, int decimals) {
  char text[48];
  const int n = std::snprintf(text, sizeof text, "%.*f", decimals, value);
  out->Append(std::string_view(text, n > 0 ? static_cast<size_t>(n) : 0));
}

void PrintStream(const media::StreamFigures& s, OutputBuffer* out) {
  char ip[46];
  out->AppendEpochMicros(s.first_ts);
  out->Append('\t');
  out->Append(std::string_view(ip, s.src_ip.Format(ip)));
  out->Append('\t');
  out->AppendInt(s.src_port);
  out->Append('\t');
  out->Append(std::string_view(ip, s.dst_ip.Format(ip)));
  out->Append('\t');
  out->AppendInt(s.dst_port);
  out->Append('\t');
  char ssrc[16];
  std::snprintf(ssrc, sizeof ssrc, "0x%08X", s.ssrc);
  out->Append(ssrc);
  out->Append('\t');
  AppendTsvField(out, s.codec);
  out->Append('\t');
  out->AppendInt(s.packets);
  out->Append('\t');
  out->AppendInt(s.lost);
  out->Append('\t');
  AppendFixed(out, s.max_delta_ms, 3);
  out->Append('\t');
  AppendFixed(out, s.max_jitter_ms, 3);
  out->Append('\t');
  AppendFixed(out, s.mean_jitter_ms, 3);
  out->Append('\t');
  if (s.mos_fixed50 >= 0) AppendFixed(out, s.mos_fixed50, 2);
  out->Append('\t');
  AppendTsvField(out, s.call_id);
  out->Append('\n');
}

// Every figure, by its declared name.
void PrintStreamJson(const media::StreamFigures& s, OutputBuffer* out) {
  char ip[46];
  out->Append("{\"src_ip\":\"");
  out->Append(std::string_view(ip, s.src_ip.Format(ip)));
  out->Append("\",\"src_port\":");
  out->AppendInt(s.src_port);
  out->Append(",\"dst_ip\":\"");
  out->Append(std::string_view(ip, s.dst_ip.Format(ip)));
  out->Append("\",\"dst_port\":");
  out->AppendInt(s.dst_port);
  char ssrc[16];
  std::snprintf(ssrc, sizeof ssrc, "0x%08X", s.ssrc);
  out->Append(",\"ssrc\":\"");
  out->Append(ssrc);
  out->Append("\",\"call_id\":");
  AppendJsonString(out, s.call_id);
  out->Append(",\"sender\":\"");
  out->Append(media::SideName(s.sender));
  out->Append("\",\"other_call_id\":");
  AppendJsonString(out, s.other_call_id);
  out->Append(",\"other_sender\":\"");
  out->Append(media::SideName(s.other_sender));
  out->Append("\",\"from_unexpected_source\":");
  out->Append(s.from_unexpected_source ? "true" : "false");
  out->Append(",\"payload_not_negotiated\":");
  out->Append(s.payload_not_negotiated ? "true" : "false");
  out->Append(",\"codec\":");
  AppendJsonString(out, s.codec);
  out->Append(",\"payload_type\":");
  out->AppendInt(s.payload_type);
  out->Append(",\"clock_rate\":");
  out->AppendInt(s.clock_rate);
  out->Append(",\"payload_types\":[");
  bool first = true;
  for (int pt = 0; pt < 128; ++pt) {
    if ((s.payload_types_seen[pt >> 6] >> (pt & 63) & 1) == 0) continue;
    if (!first) out->Append(',');
    first = false;
    out->AppendInt(pt);
  }
  out->Append("],\"first_ts\":");
  out->AppendEpochMicros(s.first_ts);
  out->Append(",\"last_ts\":");
  out->AppendEpochMicros(s.last_ts);
  out->Append(",\"dtmf\":");
  AppendJsonString(out, s.dtmf);
#define SIPMAN_APPEND_COUNT(type, field, help) \
  out->Append(",\"" #field "\":");             \
  out->AppendInt(s.field);
  SIPMAN_STREAM_COUNTS(SIPMAN_APPEND_COUNT)
#undef SIPMAN_APPEND_COUNT
#define SIPMAN_APPEND_MEASURE(type, field, help) \
  out->Append(",\"" #field "\":");               \
  AppendFixed(out, s.field, 3);
  SIPMAN_STREAM_MEASURES(SIPMAN_APPEND_MEASURE)
#undef SIPMAN_APPEND_MEASURE
  std::string intervals;
  media::AppendIntervalsJson(s, &intervals);
  out->Append(",\"intervals\":");
  out->Append(intervals);
  out->Append("}\n");
}

}  // namespace

int RunMedia(const MediaOptions& options) {
  MediaCollector collector;
  Result<PipelineTotals> totals = RunFilePipeline(options.files, &collector);
  if (!totals.ok()) {
    std::fprintf(stderr, "sipman media: %s\n", totals.status().message().c_str());
    return 1;
  }
  OutputBuffer out(1);
  const std::vector<media::StreamFigures>& streams = collector.Finish();
  for (const media::StreamFigures& s : streams) {
    if (options.json) {
      PrintStreamJson(s, &out);
    } else {
      PrintStream(s, &out);
    }
  }
  out.Flush();
  for (const std::string& w : totals->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  const media::MediaCounters& c = collector.counters();
  std::fprintf(stderr, "streams: %zu\n", streams.size());
#define SIPMAN_PRINT_COUNTER(field, name, help) \
  std::fprintf(stderr, "%s: %llu\n", name, static_cast<unsigned long long>(c.field));
  SIPMAN_MEDIA_COUNTERS(SIPMAN_PRINT_COUNTER)
#undef SIPMAN_PRINT_COUNTER
  std::fprintf(stderr, "packets: %llu, elapsed: %.3f s\n",
               static_cast<unsigned long long>(totals->packets), totals->elapsed_seconds);
  return out.ok() ? 0 : 1;
}

}  // namespace sipman::app
