#include "app/run_report.h"

#include <cstdio>
#include <string>

namespace sipman::app {
namespace {

unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

void PrintRunReport(const RunReport& r) {
  const capture::SourceStats& s = r.source;
  const PacketQueueCounters& q = r.queue;
  const store::StoreCounters& st = r.store;
  const Correlator& correlator = *r.correlator;
  const calls::CallTrackerCounters& c = correlator.tracker_counters();
  const PipelineTotals& totals = *r.totals;
  std::printf("sipman run: %s, %.3f s\n", r.description.c_str(), r.elapsed_s);
  std::printf("packets: %llu  bytes: %llu  kernel drops: %llu  interface drops: %llu\n",
              U(totals.packets), U(totals.bytes), U(s.kernel_drops), U(s.interface_drops));
  std::printf("queue: max %llu packets  spilled: %llu packets (%llu bytes, %llu files)  "
              "lost to spill errors: %llu\n",
              U(q.max_queued), U(q.spilled), U(q.spilled_bytes), U(q.spill_segments),
              U(q.spill_lost));
  if (r.hep_received) {
    const hep::HepListenerCounters& h = *r.hep_received;
    std::printf("hep received: %llu  decoded: %llu  not SIP: %llu  rejected: %llu",
                U(h.received), U(h.decoded), U(r.hep_not_sip), U(h.rejected));
    for (size_t i = 1; i < static_cast<size_t>(hep::HepError::kCount); ++i) {
      if (h.rejected_by_reason[i] == 0) continue;
      std::printf(" %s=%llu", std::string(hep::HepErrorName(static_cast<hep::HepError>(i))).c_str(),
                  U(h.rejected_by_reason[i]));
    }
    std::printf("  tcp connections: %llu (refused %llu, stream errors %llu)\n",
                U(h.tcp_accepted), U(h.tcp_refused), U(h.tcp_stream_errors));
  }
  if (r.hep_sent) {
    const hep::HepSenderCounters& h = *r.hep_sent;
    std::printf("hep sent: %llu packets (%llu bytes) to %s  dropped: %llu  errors: %llu\n",
                U(h.sent), U(h.bytes), r.hep_send.c_str(), U(h.dropped), U(h.errors));
  }
  std::printf("messages: %llu  malformed: %llu  retransmissions: %llu  orphans: %llu\n",
              U(totals.messages), U(totals.malformed), U(c.retransmissions),
              U(c.orphan_requests + c.orphan_responses));
  if (c.calls_evicted != 0) {
    std::printf("evicted at the open-call cap: %llu (no response %llu, challenged %llu, "
                "ended %llu, ringing %llu, established %llu)\n",
                U(c.calls_evicted), U(c.calls_evicted_no_response), U(c.calls_evicted_challenged),
                U(c.calls_evicted_ended), U(c.calls_evicted_ringing),
                U(c.calls_evicted_established));
  }
  for (const std::string& line : DecoderSummaryLines(totals.decoder)) {
    std::printf("%s\n", line.c_str());
  }
  stats::TrafficSummary traffic = correlator.traffic_summary();
  std::printf("traffic: %llu SIP packets, %llu bytes over %lld s; bytes/s average %.1f "
              "peak %llu; messages/s average %.2f peak %llu\n",
              U(traffic.totals.packets), U(traffic.totals.frame_bytes),
              static_cast<long long>(traffic.span_seconds), traffic.frame_bytes.average,
              U(traffic.frame_bytes.peak), traffic.messages.average, U(traffic.messages.peak));
  std::printf("calls: %llu\n", U(correlator.total_calls()));
  for (calls::CallState state : kCallStates) {
    std::printf("  %-12s %llu\n", std::string(calls::CallStateName(state)).c_str(),
                U(correlator.calls(state)));
  }
  std::printf("registrations: %llu\n", U(correlator.total_registrations()));
  for (const auto& [result, count] : correlator.registrations_by_result()) {
    std::printf("  %-12s %llu\n", result.c_str(), U(count));
  }
  if (r.alerting != nullptr && r.alert_rules > 0) {
    const alerts::NotifyCounters n = r.alerting->notify_counters();
    std::printf("alerts: %llu fired, %llu resolved, by %zu rules; notifications: %llu queued, "
                "%llu dropped (queue full), webhook %llu sent %llu failed, alertmanager %llu sent "
                "%llu failed; blocked %llu (failed %llu, allow-listed %llu); commands %llu (failed %llu)\n",
                U(r.alerting->fired()), U(r.alerting->resolved()), r.alert_rules, U(n.queued),
                U(n.dropped), U(n.webhook_sent), U(n.webhook_failed), U(n.alertmanager_sent),
                U(n.alertmanager_failed), U(n.blocked), U(n.block_failed), U(n.allowed_not_blocked),
                U(n.commands_run), U(n.commands_failed));
  }
  std::printf("stored in %s (sensor %s): %llu calls, %llu registrations, %llu messages, "
              "%llu RTP streams (%llu already there)\n",
              r.db.c_str(), r.sensor.c_str(), U(st.calls_written),
              U(st.registrations_written), U(st.messages_written), U(st.streams_written),
              U(st.duplicates_ignored));
  if (st.write_retries > 0 || st.write_errors > 0) {
    std::printf("database write failures: %llu failed attempts kept their rows and were "
                "retried; %llu batches (%llu rows) given up, not stored%s%s\n",
                U(st.write_retries), U(st.write_errors), U(st.rows_failed),
                st.last_write_error.empty() ? "" : "; last error: ",
                st.last_write_error.c_str());
  }
  if (st.spilled_rows > 0 || st.spill_segments > 0 || st.spill_bad_segments > 0) {
    std::printf("store spill: %llu rows spilled while the database was unreachable; "
                "%llu segments (%llu bytes) still on disk; %llu unreadable (set aside as .bad)\n",
                U(st.spilled_rows), U(st.spill_segments), U(st.spill_bytes),
                U(st.spill_bad_segments));
  }
  std::fflush(stdout);
}

void StatusLine::Log(Logger* log, Clock::time_point now, const capture::SourceStats& source,
                     const RunGauges& gauges, const PacketQueueCounters& queue,
                     const store::StoreCounters& store) {
  const double seconds = std::chrono::duration<double>(now - last_).count();
  auto rate = [&](uint64_t now_value, uint64_t before) {
    return seconds > 0 ? static_cast<double>(now_value - before) / seconds : 0.0;
  };
  log->Line("status: %.0f packets/s, %.0f messages/s, %llu open calls, %llu calls stored, "
            "queue %llu packets (%llu spilled, %llu to read back), kernel drops %llu, "
            "interface drops %llu",
            rate(source.packets, packets_), rate(gauges.messages, messages_),
            U(gauges.open_calls), U(store.calls_written), U(queue.queued), U(queue.spilled),
            U(queue.spill_pending), U(source.kernel_drops), U(source.interface_drops));
  if (store.write_failing != 0) {
    log->Line("status: database write failing for %.0f s: %s; %llu rows kept, retrying",
              static_cast<double>(store.write_failing_ms) / 1000.0,
              store.last_write_error.c_str(), U(store.rows_pending));
  }
  if (store.spill_segments > 0) {
    log->Line("status: database unreachable or catching up: %llu store segments (%llu bytes) "
              "spilled to disk wait to be written",
              U(store.spill_segments), U(store.spill_bytes));
  }
  packets_ = source.packets;
  messages_ = gauges.messages;
  last_ = now;
}

}  // namespace sipman::app
