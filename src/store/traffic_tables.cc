#include "store/traffic_tables.h"

#include <algorithm>

namespace sipman::store::internal {

namespace {

// The time range of a query as [from, to): 0 means open.
std::pair<int64_t, int64_t> RangeOf(const TrafficQuery& q) {
  return {q.from_ts == 0 ? INT64_MIN : q.from_ts, q.to_ts == 0 ? INT64_MAX : q.to_ts};
}

// Concurrent calls over a span of a traffic summary: established calls,
// each over [answer_ts, end_ts) clipped to [from, to).
class ConcurrentCalls {
 public:
  ConcurrentCalls(int64_t from, int64_t to) : from_(from), to_(to) {}
  void AddCall(int64_t answer_ts, int64_t end_ts);
  // Sets summary->concurrent_calls: the peak, when it was first reached, and
  // the average over the span.
  void Finish(stats::TrafficSummary* summary);

 private:
  int64_t from_, to_;
  std::vector<std::pair<int64_t, int>> events_;  // (time, +1 start / -1 end)
  double busy_ns_ = 0;
};

void ConcurrentCalls::AddCall(int64_t answer_ts, int64_t end_ts) {
  int64_t start = std::max(answer_ts, from_);
  int64_t end = std::min(end_ts, to_);
  if (end <= start) return;
  events_.emplace_back(start, +1);
  events_.emplace_back(end, -1);
  busy_ns_ += static_cast<double>(end - start);
}

void ConcurrentCalls::Finish(stats::TrafficSummary* summary) {
  // Ends sort before starts at one instant: a call ending as another
  // begins does not overlap it.
  std::sort(events_.begin(), events_.end());
  int64_t now = 0;
  for (const auto& [ts, delta] : events_) {
    now += delta;
    if (now > static_cast<int64_t>(summary->concurrent_calls.peak)) {
      summary->concurrent_calls.peak = static_cast<uint64_t>(now);
      summary->concurrent_calls.peak_ts = ts;
    }
  }
  summary->concurrent_calls.average = busy_ns_ / static_cast<double>(to_ - from_);
}

}  // namespace

std::string TrafficColumns() {
  std::string c = "packets, frame_bytes, sip_bytes, messages, requests, responses";
  for (std::string_view m : stats::kMethodNames) {
    c += ", m_";
    for (char ch : m) c += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  for (size_t i = 1; i <= stats::kClassCount; ++i) c += ", r" + std::to_string(i) + "xx";
  c += ", kernel_drops, interface_drops, in_messages, out_messages, in_sip_bytes, out_sip_bytes";
  c += ", tls_connections, tls_bytes";
  c += ", codes";
  return c;
}

TrafficRowsRead TrafficRowsSql(const TrafficQuery& q) {
  TrafficRowsRead read;
  read.table = q.resolution == TrafficResolution::kSecond   ? 0
               : q.resolution == TrafficResolution::kMinute ? 1
                                                            : 2;
  // A period belongs to the range when its start second lies in it.
  read.from = q.from_ts == 0 ? INT64_MIN : CeilDiv(q.from_ts, kNsPerSecond);
  read.to = q.to_ts == 0 ? INT64_MAX : CeilDiv(q.to_ts, kNsPerSecond);
  read.sql = std::string("SELECT ts, ") + TrafficColumns() + " FROM " + kTrafficTables[read.table] +
             " WHERE ts >= $1 AND ts < $2" + (q.sensor.empty() ? "" : " AND sensor = $3") +
             " ORDER BY ts";
  return read;
}

Result<stats::TrafficSummary> SummarizeTraffic(Store* store, const TrafficQuery& q,
                                               IntPairReader* calls) {
  stats::TrafficSummarizer summarizer;
  TrafficQuery seconds = q;
  seconds.resolution = TrafficResolution::kSecond;
  auto rows = store->TrafficRows(seconds);
  if (!rows.ok()) return rows.status();
  for (const stats::TrafficCounters& r : *rows) summarizer.AddSecond(r);

  const auto [from, to] = RangeOf(q);
  const std::string filter = q.sensor.empty() ? "" : " AND sensor = $3";
  // Calls per second of their INVITE (invite_ts 0: no INVITE seen).
  Status s = calls->ReadIntPairs("SELECT invite_ts / 1000000000, COUNT(*) FROM calls "
                  "WHERE invite_ts >= $1 AND invite_ts < $2 AND invite_ts > 0" +
                                     filter + " GROUP BY 1",
                                 from, to, q.sensor, [&summarizer](int64_t second, int64_t n) {
                                   summarizer.AddCalls(second, static_cast<uint64_t>(n));
                                 });
  if (!s.ok()) return s;
  stats::TrafficSummary summary = summarizer.Summary();
  if (summary.span_seconds == 0) return summary;

  // Concurrent calls: established calls, each over [answer_ts, end_ts),
  // clipped to the span (itself clipped to the range).
  const int64_t span_from = std::max(from, summary.first_second * kNsPerSecond);
  const int64_t span_to = std::min(to, (summary.last_second + 1) * kNsPerSecond);
  if (span_to <= span_from) return summary;
  ConcurrentCalls concurrent(span_from, span_to);
  s = calls->ReadIntPairs("SELECT answer_ts, end_ts FROM calls WHERE invite_ts < $1 AND "
                          "end_ts > $2 AND answer_ts > 0 AND end_ts > answer_ts" + filter,
                          span_to, span_from, q.sensor, [&concurrent](int64_t answer, int64_t end) {
                            concurrent.AddCall(answer, end);
                          });
  if (!s.ok()) return s;
  concurrent.Finish(&summary);
  return summary;
}

Result<const char*> CountRowsSql(std::string_view table) {
  if (table == "calls") return "SELECT COUNT(*) FROM calls";
  if (table == "registrations") return "SELECT COUNT(*) FROM registrations";
  if (table == "active_calls") return "SELECT COUNT(*) FROM active_calls";
  if (table == "messages") return "SELECT COUNT(*) FROM messages";
  if (table == "rtp_streams") return "SELECT COUNT(*) FROM rtp_streams";
  if (table == "alerts") return "SELECT COUNT(*) FROM alerts";
  return Status::Error("no table '" + std::string(table) +
                       "' to count; use calls, active_calls, registrations, messages, "
                       "rtp_streams or alerts");
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}


}  // namespace sipman::store::internal
