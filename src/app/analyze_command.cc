#include "app/analyze_command.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "app/json_writer.h"
#include "app/output_buffer.h"
#include "app/pipeline.h"
#include "calls/calls.h"
#include "store/store.h"

namespace sipman::app {
namespace {

constexpr std::array kStates = {calls::CallState::kAnswered,  calls::CallState::kBusy,
                                calls::CallState::kCancelled, calls::CallState::kNoAnswer,
                                calls::CallState::kFailed,    calls::CallState::kInProgress,
                                calls::CallState::kTimedOut};

// Feeds every message to the call tracker and the store, and every record
// the tracker emits to the store.
class Analyzer : public MessageHandler, public calls::RecordSink {
 public:
  Analyzer(const calls::CallTrackerOptions& options, store::Store* store)
      : tracker_(options, this), store_(store) {}

  void OnSipMessage(const net::Payload& payload, const sip::SipMessage& message) override {
    // Run due timers first: a Call-ID reused after its call ended must find
    // the old call gone, not be taken for a retransmission of it.
    tracker_.AdvanceTime(payload.ts);
    std::string_view raw = payload.data.substr(0, message.size);
    calls::SipEvent event;
    event.ts = payload.ts;
    event.src_ip = payload.src_ip;
    event.dst_ip = payload.dst_ip;
    event.src_port = payload.src_port;
    event.dst_port = payload.dst_port;
    event.transport = net::TransportName(payload.transport);
    event.message = &message;
    event.raw = raw;
    event.frame_bytes = payload.frame_bytes;
    tracker_.OnMessage(event);
    if (message.call_id.empty()) return;  // nothing to file it under; counted as malformed

    store::StoredMessage stored;
    stored.call_id = message.call_id;
    stored.ts = payload.ts;
    stored.src_ip = payload.src_ip;
    stored.dst_ip = payload.dst_ip;
    stored.src_port = payload.src_port;
    stored.dst_port = payload.dst_port;
    stored.transport = event.transport;
    stored.method = message.is_request ? message.method : message.cseq_method;
    stored.status = message.is_request ? 0 : message.status_code;
    stored.cseq = message.cseq_number;
    stored.raw = raw;
    store_->AddMessage(stored);
  }

  void OnPacketDone(TimestampNs ts) override { tracker_.AdvanceTime(ts); }

  void OnCall(const calls::CallRecord& record) override {
    ++calls_by_state_[static_cast<size_t>(record.state)];
    store_->AddCall(record);
  }
  void OnRegistration(const calls::RegistrationRecord& record) override {
    ++registrations_by_result_[record.result];
    store_->AddRegistration(record);
  }

  void Finish(TimestampNs now) { tracker_.Finish(now); }
  const calls::CallTrackerCounters& tracker_counters() const { return tracker_.counters(); }
  uint64_t calls(calls::CallState s) const { return calls_by_state_[static_cast<size_t>(s)]; }
  uint64_t total_calls() const {
    uint64_t n = 0;
    for (uint64_t c : calls_by_state_) n += c;
    return n;
  }
  const std::map<std::string, uint64_t>& registrations_by_result() const {
    return registrations_by_result_;
  }
  uint64_t total_registrations() const {
    uint64_t n = 0;
    for (const auto& [result, count] : registrations_by_result_) n += count;
    return n;
  }

 private:
  calls::CallTracker tracker_;
  store::Store* store_;
  std::array<uint64_t, kStates.size()> calls_by_state_ = {};
  std::map<std::string, uint64_t> registrations_by_result_;
};

double PerSecond(uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; }

void PrintText(const AnalyzeOptions& options, const Analyzer& a, const PipelineTotals& t,
               const store::StoreCounters& s, double elapsed) {
  std::printf("calls: %llu\n", static_cast<unsigned long long>(a.total_calls()));
  for (calls::CallState state : kStates) {
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

void PrintJson(const AnalyzeOptions& options, const Analyzer& a, const PipelineTotals& t,
               const store::StoreCounters& s, double elapsed) {
  OutputBuffer out(1);
  const calls::CallTrackerCounters& c = a.tracker_counters();
  out.Append("{\"calls\":{\"total\":");
  out.AppendInt(a.total_calls());
  for (calls::CallState state : kStates) {
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
  Analyzer analyzer(tracker_options, store->get());
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
