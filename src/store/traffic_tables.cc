#include "store/traffic_tables.h"

#include <algorithm>

namespace sipman::store::internal {

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

Status SummarizeSeconds(Store* store, const TrafficQuery& q, stats::TrafficSummarizer* summarizer) {
  TrafficQuery seconds = q;
  seconds.resolution = TrafficResolution::kSecond;
  auto rows = store->TrafficRows(seconds);
  if (!rows.ok()) return rows.status();
  for (const stats::TrafficCounters& r : *rows) summarizer->AddSecond(r);
  return Status::Ok();
}

Result<const char*> CountRowsSql(std::string_view table) {
  if (table == "calls") return "SELECT COUNT(*) FROM calls";
  if (table == "registrations") return "SELECT COUNT(*) FROM registrations";
  if (table == "active_calls") return "SELECT COUNT(*) FROM active_calls";
  if (table == "messages") return "SELECT COUNT(*) FROM messages";
  return Status::Error("no table '" + std::string(table) +
                       "' to count; use calls, active_calls, registrations or messages");
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}

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

}  // namespace sipman::store::internal
