#include "app/analyze_command.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "app/correlator.h"
#include "app/json_writer.h"
#include "app/output_buffer.h"
#include "app/pipeline.h"

namespace sipman::app {
namespace {

double PerSecond(uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; }

void PrintText(const AnalyzeOptions& options, const Correlator& a, const PipelineTotals& t,
               const store::StoreCounters& s, double elapsed) {
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
  std::printf("stored in %s: %llu calls, %llu registrations, %llu messages (%llu already there)\n",
              options.db.c_str(), static_cast<unsigned long long>(s.calls_written),
              static_cast<unsigned long long>(s.registrations_written),
              static_cast<unsigned long long>(s.messages_written),
              static_cast<unsigned long long>(s.duplicates_ignored));
  std::printf("elapsed: %.3f s  %.0f messages/s  %.0f calls/s\n", elapsed,
              PerSecond(t.messages, elapsed), PerSecond(a.total_calls(), elapsed));
}

void PrintJson(const AnalyzeOptions& options, const Correlator& a, const PipelineTotals& t,
               const store::StoreCounters& s, double elapsed) {
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
  field("packets", t.packets);
  field("bytes", t.bytes);
  out.Append(",\"db\":");
  AppendJsonString(&out, options.db);
  field("calls_stored", s.calls_written);
  field("registrations_stored", s.registrations_written);
  field("messages_stored", s.messages_written);
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
  auto store = store::Store::Open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "sipman analyze: %s\n", store.status().message().c_str());
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  calls::CallTrackerOptions tracker_options;
  tracker_options.correlation_header = options.correlation_header;
  Correlator analyzer(tracker_options, store->get());
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
    PrintJson(options, analyzer, *totals, (*store)->counters(), elapsed);
  } else {
    PrintText(options, analyzer, *totals, (*store)->counters(), elapsed);
  }
  return 0;
}

}  // namespace sipman::app
