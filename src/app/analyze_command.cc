#include "app/analyze_command.h"

#include "app/alerting.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "app/correlator.h"
#include "app/json_writer.h"
#include "app/output_buffer.h"
#include "app/pipeline.h"

namespace sipman::app {
namespace {

double PerSecond(uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; }

// "2026-11-25T13:54:12Z", or "-" for no second.
std::string SecondText(int64_t second) {
  if (second == 0) return "-";
  time_t t = static_cast<time_t>(second);
  struct tm tm;
  char text[32];
  if (gmtime_r(&t, &tm) == nullptr ||
      std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
    return std::to_string(second);
  }
  return text;
}

void PrintTrafficText(const stats::TrafficSummary& s) {
  std::printf("traffic: %llu SIP packets, %llu bytes (%llu SIP bytes) over %lld s\n",
              static_cast<unsigned long long>(s.totals.packets),
              static_cast<unsigned long long>(s.totals.frame_bytes),
              static_cast<unsigned long long>(s.totals.sip_bytes),
              static_cast<long long>(s.span_seconds));
  std::printf("  bytes/s     average %.1f  peak %llu at %s\n", s.frame_bytes.average,
              static_cast<unsigned long long>(s.frame_bytes.peak),
              SecondText(s.frame_bytes.peak_second).c_str());
  std::printf("  messages/s  average %.2f  peak %llu at %s\n", s.messages.average,
              static_cast<unsigned long long>(s.messages.peak),
              SecondText(s.messages.peak_second).c_str());
  if (s.totals.in_messages != 0 || s.totals.out_messages != 0) {
    std::printf("  direction   in %llu messages (%llu SIP bytes), out %llu (%llu)\n",
                static_cast<unsigned long long>(s.totals.in_messages),
                static_cast<unsigned long long>(s.totals.in_sip_bytes),
                static_cast<unsigned long long>(s.totals.out_messages),
                static_cast<unsigned long long>(s.totals.out_sip_bytes));
  }
}

void AppendRate(OutputBuffer* out, const char* name, const stats::RatePeak& r) {
  char buf[160];
  std::snprintf(buf, sizeof buf, ",\"%s\":{\"average\":%.3f,\"peak\":%llu,\"peak_second\":%lld}",
                name, r.average, static_cast<unsigned long long>(r.peak),
                static_cast<long long>(r.peak_second));
  out->Append(buf);
}

void AppendTrafficJson(OutputBuffer* out, const stats::TrafficSummary& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                ",\"traffic\":{\"packets\":%llu,\"frame_bytes\":%llu,\"sip_bytes\":%llu,"
                "\"first_second\":%lld,\"last_second\":%lld,\"span_seconds\":%lld",
                static_cast<unsigned long long>(s.totals.packets),
                static_cast<unsigned long long>(s.totals.frame_bytes),
                static_cast<unsigned long long>(s.totals.sip_bytes),
                static_cast<long long>(s.first_second), static_cast<long long>(s.last_second),
                static_cast<long long>(s.span_seconds));
  out->Append(buf);
  std::snprintf(buf, sizeof buf,
                ",\"in_messages\":%llu,\"out_messages\":%llu,\"in_sip_bytes\":%llu,"
                "\"out_sip_bytes\":%llu",
                static_cast<unsigned long long>(s.totals.in_messages),
                static_cast<unsigned long long>(s.totals.out_messages),
                static_cast<unsigned long long>(s.totals.in_sip_bytes),
                static_cast<unsigned long long>(s.totals.out_sip_bytes));
  out->Append(buf);
  AppendRate(out, "bytes_per_second", s.frame_bytes);
  AppendRate(out, "messages_per_second", s.messages);
  out->Append('}');
}

void PrintText(const AnalyzeOptions& options, const Correlator& a, const Alerting& alerting,
               const PipelineTotals& t, const store::StoreCounters& s, double elapsed) {
  std::printf("calls: %llu\n", static_cast<unsigned long long>(a.total_calls()));
  for (calls::CallState state : kCallStates) {
    std::printf("  %-12s %llu\n", std::string(calls::CallStateName(state)).c_str(),
                static_cast<unsigned long long>(a.calls(state)));
  }
  std::printf("registrations: %llu\n", static_cast<unsigned long long>(a.total_registrations()));
  for (const auto& [result, count] : a.registrations_by_result()) {
    std::printf("  %-12s %llu\n", result.c_str(), static_cast<unsigned long long>(count));
  }
  const calls::CallTrackerCounters& c = a.tracker_counters();
  std::printf("messages: %llu  malformed: %llu  retransmissions: %llu  orphans: %llu  packets: %llu\n",
              static_cast<unsigned long long>(t.messages), static_cast<unsigned long long>(t.malformed),
              static_cast<unsigned long long>(c.retransmissions),
              static_cast<unsigned long long>(c.orphan_requests + c.orphan_responses),
              static_cast<unsigned long long>(t.packets));
  if (c.calls_evicted != 0) {
    std::printf("evicted at the open-call cap: %llu (no response %llu, challenged %llu, ended %llu, "
                "ringing %llu, established %llu)\n",
                static_cast<unsigned long long>(c.calls_evicted),
                static_cast<unsigned long long>(c.calls_evicted_no_response),
                static_cast<unsigned long long>(c.calls_evicted_challenged),
                static_cast<unsigned long long>(c.calls_evicted_ended),
                static_cast<unsigned long long>(c.calls_evicted_ringing),
                static_cast<unsigned long long>(c.calls_evicted_established));
  }
  for (const std::string& line : DecoderSummaryLines(t.decoder)) std::printf("%s\n", line.c_str());
  if (options.media) {
    const media::MediaCounters& m = a.media_counters();
    std::printf("media: %llu RTP streams (%llu without SDP), %llu RTP packets, %llu RTCP\n",
                static_cast<unsigned long long>(m.streams),
                static_cast<unsigned long long>(m.unassociated_streams),
                static_cast<unsigned long long>(m.rtp_packets),
                static_cast<unsigned long long>(m.rtcp_packets));
  }
  PrintTrafficText(a.traffic_summary());
  if (!options.alerts.rules.empty()) {
    std::printf("alerts: %llu fired, %llu resolved, by %zu rules (sipman alerts --db %s lists them)\n",
                static_cast<unsigned long long>(alerting.fired()),
                static_cast<unsigned long long>(alerting.resolved()), options.alerts.rules.size(),
                options.db.c_str());
  }
  std::printf("stored in %s: %llu calls, %llu registrations, %llu messages, %llu RTP streams "
              "(%llu already there)\n",
              options.db.c_str(), static_cast<unsigned long long>(s.calls_written),
              static_cast<unsigned long long>(s.registrations_written),
              static_cast<unsigned long long>(s.messages_written),
              static_cast<unsigned long long>(s.streams_written),
              static_cast<unsigned long long>(s.duplicates_ignored));
  std::printf("elapsed: %.3f s  %.0f messages/s  %.0f calls/s\n", elapsed,
              PerSecond(t.messages, elapsed), PerSecond(a.total_calls(), elapsed));
}

void PrintJson(const AnalyzeOptions& options, const Correlator& a, const Alerting& alerting,
               const PipelineTotals& t, const store::StoreCounters& s, double elapsed) {
  OutputBuffer out(1);
  const calls::CallTrackerCounters& c = a.tracker_counters();
  out.Append("{\"calls\":{\"total\":");
  out.AppendInt(a.total_calls());
  for (calls::CallState state : kCallStates) {
    out.Append(",\"");
    out.Append(calls::CallStateName(state));
    out.Append("\":");
    out.AppendInt(a.calls(state));
  }
  out.Append("},\"registrations\":{\"total\":");
  out.AppendInt(a.total_registrations());
  for (const auto& [result, count] : a.registrations_by_result()) {
    out.Append(',');
    AppendJsonString(&out, result);
    out.Append(':');
    out.AppendInt(count);
  }
  auto field = [&](std::string_view name, uint64_t v) {
    out.Append(",\"");
    out.Append(name);
    out.Append("\":");
    out.AppendInt(v);
  };
  out.Append('}');
  field("messages", t.messages);
  field("malformed", t.malformed);
  field("retransmissions", c.retransmissions);
  field("orphans", c.orphan_requests + c.orphan_responses);
  out.Append(",\"calls_evicted\":{\"total\":");
  out.AppendInt(c.calls_evicted);
  field("no_response", c.calls_evicted_no_response);
  field("challenged", c.calls_evicted_challenged);
  field("ended", c.calls_evicted_ended);
  field("ringing", c.calls_evicted_ringing);
  field("established", c.calls_evicted_established);
  out.Append('}');
  field("packets", t.packets);
  field("bytes", t.bytes);
  AppendTrafficJson(&out, a.traffic_summary());
  out.Append(DecoderCountersJson(t.decoder));
  out.Append(",\"db\":");
  AppendJsonString(&out, options.db);
  field("calls_stored", s.calls_written);
  field("registrations_stored", s.registrations_written);
  field("messages_stored", s.messages_written);
  field("streams_stored", s.streams_written);
  field("alerts_fired", alerting.fired());
  field("alerts_resolved", alerting.resolved());
  field("duplicates_ignored", s.duplicates_ignored);
  char buf[64];
  std::snprintf(buf, sizeof buf, ",\"elapsed_seconds\":%.3f", elapsed);
  out.Append(buf);
  field("messages_per_second", static_cast<uint64_t>(PerSecond(t.messages, elapsed)));
  field("calls_per_second", static_cast<uint64_t>(PerSecond(a.total_calls(), elapsed)));
  out.Append("}\n");
}

}  // namespace

int RunAnalyze(const AnalyzeOptions& options) {
  store::StoreOptions store_options;
  store_options.url = options.db;
  store_options.sensor = options.sensor;
  // A small queue bounds memory (each queued call record holds its strings);
  // the writer drains it in batches, so it rarely fills.
  store_options.max_queued_rows = 32768;
  // A failing write (disk full, ...) is kept and retried until it works:
  // say so at once rather than seem to hang.
  store_options.on_write_event = [](const std::string& event) {
    std::fprintf(stderr, "sipman analyze: %s\n", event.c_str());
  };
  auto store = store::Store::Open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "sipman analyze: %s\n", store.status().message().c_str());
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  calls::CallTrackerOptions tracker_options;
  tracker_options.correlation_header = options.correlation_header;
  Correlator analyzer(tracker_options, store->get());
  analyzer.set_local_nets(options.local_nets);
  analyzer.set_media(options.media);
  Alerting alerting(options.alerts, store->get(), options.sensor, nullptr);
  if (!options.alerts.rules.empty()) analyzer.set_alerting(&alerting);
  auto totals = RunFilePipeline(options.files, &analyzer);
  if (!totals.ok()) {
    std::fprintf(stderr, "sipman analyze: %s\n", totals.status().message().c_str());
    return 1;
  }
  analyzer.Finish(totals->last_ts);
  Status closed = (*store)->Close();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const std::string& w : totals->warnings) std::fprintf(stderr, "sipman: warning: %s\n", w.c_str());
  if (!closed.ok()) {
    std::fprintf(stderr, "sipman analyze: writing %s failed: %s\n", options.db.c_str(),
                 closed.message().c_str());
    return 1;
  }
  if (options.json) {
    PrintJson(options, analyzer, alerting, *totals, (*store)->counters(), elapsed);
  } else {
    PrintText(options, analyzer, alerting, *totals, (*store)->counters(), elapsed);
  }
  return 0;
}

}  // namespace sipman::app
