// The traffic counter tables of the SQLite backend: stats_second,
// stats_minute and stats_hour (docs/SCHEMA.md), their rollups and queries.
#include <algorithm>
#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite_store.h"

namespace sipman::store::internal {
namespace {

constexpr const char* kTrafficTables[3] = {"stats_second", "stats_minute", "stats_hour"};
constexpr int64_t kPeriodSeconds[3] = {1, 60, 3600};
// Seconds are kept at least this long whatever the setting, so that a
// minute is always recomputed from all of its seconds.
constexpr int64_t kMinRetentionSeconds = 2 * 60;
// Integer columns after sensor and ts, then codes.
constexpr int kTrafficIntColumns = 6 + static_cast<int>(stats::kMethodCount) +
                                   static_cast<int>(stats::kClassCount) + 2 + 4;

std::string TrafficColumns() {
  std::string c = "packets, frame_bytes, sip_bytes, messages, requests, responses";
  for (std::string_view m : stats::kMethodNames) {
    c += ", m_";
    for (char ch : m) c += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  }
  for (size_t i = 1; i <= stats::kClassCount; ++i) c += ", r" + std::to_string(i) + "xx";
  c += ", kernel_drops, interface_drops, in_messages, out_messages, in_sip_bytes, out_sip_bytes";
  c += ", codes";
  return c;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) --q;
  return q;
}

int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

int64_t I(uint64_t v) { return static_cast<int64_t>(v); }

// Binds the counters from parameter `first` on. `codes` holds the JSON
// text until the statement has run.
void BindCounters(Statement* st, int first, const stats::TrafficCounters& c, std::string* codes) {
  int i = first;
  st->BindInt(i++, I(c.packets));
  st->BindInt(i++, I(c.frame_bytes));
  st->BindInt(i++, I(c.sip_bytes));
  st->BindInt(i++, I(c.messages));
  st->BindInt(i++, I(c.requests));
  st->BindInt(i++, I(c.responses));
  for (uint64_t m : c.methods) st->BindInt(i++, I(m));
  for (uint64_t r : c.classes) st->BindInt(i++, I(r));
  st->BindInt(i++, I(c.kernel_drops));
  st->BindInt(i++, I(c.interface_drops));
  st->BindInt(i++, I(c.in_messages));
  st->BindInt(i++, I(c.out_messages));
  st->BindInt(i++, I(c.in_sip_bytes));
  st->BindInt(i++, I(c.out_sip_bytes));
  codes->clear();
  stats::AppendCodesJson(c.codes, codes);
  st->BindText(i, *codes);
}

// Adds the row's counters (columns: ts, then TrafficColumns()) to *c.
bool AddRow(const Statement& st, stats::TrafficCounters* c) {
  stats::TrafficCounters row;
  int i = 1;
  auto u = [&] { return static_cast<uint64_t>(st.ColumnInt(i++)); };
  row.packets = u();
  row.frame_bytes = u();
  row.sip_bytes = u();
  row.messages = u();
  row.requests = u();
  row.responses = u();
  for (uint64_t& m : row.methods) m = u();
  for (uint64_t& r : row.classes) r = u();
  row.kernel_drops = u();
  row.interface_drops = u();
  row.in_messages = u();
  row.out_messages = u();
  row.in_sip_bytes = u();
  row.out_sip_bytes = u();
  if (!stats::ParseCodesJson(st.ColumnText(i), &row.codes)) return false;
  c->AddAll(row);
  return true;
}

Status Closed() { return Status::Error("the store is closed; open it again to query it"); }

}  // namespace

Status SqliteStore::PrepareTraffic() {
  const std::string columns = TrafficColumns();
  for (int t = 0; t < 3; ++t) {
    std::string insert = std::string("INSERT OR REPLACE INTO ") + kTrafficTables[t] +
                         "(sensor, ts, " + columns + ") VALUES(?, ?";
    for (int i = 0; i <= kTrafficIntColumns; ++i) insert += ", ?";
    insert += ")";
    Status s = upsert_traffic_[t].Prepare(write_db_, insert, true);
    if (!s.ok()) return s;
    s = select_traffic_[t].Prepare(write_db_,
                                   std::string("SELECT ts, ") + columns + " FROM " +
                                       kTrafficTables[t] +
                                       " WHERE sensor = ? AND ts >= ? AND ts < ?",
                                   true);
    if (!s.ok()) return s;
  }
  return delete_old_seconds_.Prepare(write_db_,
                                     "DELETE FROM stats_second WHERE sensor = ? AND ts < ?", true);
}

void SqliteStore::CloseTraffic() {
  for (int t = 0; t < 3; ++t) {
    upsert_traffic_[t] = Statement();
    select_traffic_[t] = Statement();
  }
  delete_old_seconds_ = Statement();
}

Status SqliteStore::UpsertTraffic(int t, const stats::TrafficCounters& c) {
  Statement& st = upsert_traffic_[t];
  std::string codes;
  st.BindText(1, options_.sensor);
  st.BindInt(2, c.ts);
  BindCounters(&st, 3, c, &codes);
  int rc = st.Step();
  st.Reset();
  if (rc != SQLITE_DONE) {
    return SqliteError(write_db_, std::string("cannot write ") + kTrafficTables[t] +
                                      " of database " + path_);
  }
  return Status::Ok();
}

Status SqliteStore::RollUp(int t, int64_t ts) {
  Statement& st = select_traffic_[t - 1];
  st.BindText(1, options_.sensor);
  st.BindInt(2, ts);
  st.BindInt(3, ts + kPeriodSeconds[t]);
  stats::TrafficCounters sum;
  sum.ts = ts;
  int rc;
  bool readable = true;
  while ((rc = st.Step()) == SQLITE_ROW) readable = AddRow(st, &sum) && readable;
  st.Reset();
  if (rc != SQLITE_DONE) {
    return SqliteError(write_db_, std::string("cannot read ") + kTrafficTables[t - 1] +
                                      " of database " + path_);
  }
  if (!readable) {
    return Status::Error(std::string(kTrafficTables[t - 1]) + " of database " + path_ +
                         " has an unreadable codes column");
  }
  return UpsertTraffic(t, sum);
}

Status SqliteStore::WriteTraffic(const RowBatch& batch, BatchResult* result) {
  if (batch.traffic_seconds.empty()) return Status::Ok();
  std::vector<int64_t> minutes;
  int64_t newest = INT64_MIN;
  for (const stats::TrafficCounters& c : batch.traffic_seconds) {
    Status s = UpsertTraffic(0, c);
    if (!s.ok()) return s;
    ++result->traffic_seconds_written;
    minutes.push_back(FloorDiv(c.ts, 60) * 60);
    newest = std::max(newest, c.ts);
  }
  std::sort(minutes.begin(), minutes.end());
  minutes.erase(std::unique(minutes.begin(), minutes.end()), minutes.end());
  std::vector<int64_t> hours;
  for (int64_t m : minutes) {
    Status s = RollUp(1, m);
    if (!s.ok()) return s;
    hours.push_back(FloorDiv(m, 3600) * 3600);
  }
  hours.erase(std::unique(hours.begin(), hours.end()), hours.end());
  for (int64_t h : hours) {
    Status s = RollUp(2, h);
    if (!s.ok()) return s;
  }
  if (options_.stats_second_retention_s > 0) {
    int64_t keep = std::max(options_.stats_second_retention_s, kMinRetentionSeconds);
    delete_old_seconds_.BindText(1, options_.sensor);
    delete_old_seconds_.BindInt(2, newest - keep);
    int rc = delete_old_seconds_.Step();
    delete_old_seconds_.Reset();
    if (rc != SQLITE_DONE) {
      return SqliteError(write_db_, "cannot delete old stats_second rows of database " + path_);
    }
  }
  return Status::Ok();
}

Result<std::vector<stats::TrafficCounters>> SqliteStore::TrafficRows(const TrafficQuery& q) {
  int t = q.resolution == TrafficResolution::kSecond   ? 0
          : q.resolution == TrafficResolution::kMinute ? 1
                                                       : 2;
  // A period belongs to the range when its start second lies in it.
  int64_t from = q.from_ts == 0 ? INT64_MIN : CeilDiv(q.from_ts, kNsPerSecond);
  int64_t to = q.to_ts == 0 ? INT64_MAX : CeilDiv(q.to_ts, kNsPerSecond);
  std::string sql = std::string("SELECT ts, ") + TrafficColumns() + " FROM " + kTrafficTables[t] +
                    " WHERE ts >= ? AND ts < ?" + (q.sensor.empty() ? "" : " AND sensor = ?") +
                    " ORDER BY ts";
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return Closed();
  Statement st;
  Status s = st.Prepare(read_db_, sql);
  if (!s.ok()) return s;
  st.BindInt(1, from);
  st.BindInt(2, to);
  if (!q.sensor.empty()) st.BindText(3, q.sensor);
  std::vector<stats::TrafficCounters> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    int64_t ts = st.ColumnInt(0);
    if (rows.empty() || rows.back().ts != ts) {  // sensors of one period are summed
      rows.emplace_back();
      rows.back().ts = ts;
    }
    if (!AddRow(st, &rows.back())) {
      return Status::Error(std::string(kTrafficTables[t]) + " of " + path_ +
                           " has an unreadable codes column at ts " + std::to_string(ts));
    }
  }
  if (rc != SQLITE_DONE) {
    return SqliteError(read_db_, std::string("cannot read ") + kTrafficTables[t] + " of " + path_);
  }
  return rows;
}

Result<stats::TrafficSummary> SqliteStore::SummarizeTraffic(const TrafficQuery& q) {
  TrafficQuery seconds = q;
  seconds.resolution = TrafficResolution::kSecond;
  auto rows = TrafficRows(seconds);
  if (!rows.ok()) return rows.status();
  stats::TrafficSummarizer summarizer;
  for (const stats::TrafficCounters& r : *rows) summarizer.AddSecond(r);

  const int64_t from = q.from_ts == 0 ? INT64_MIN : q.from_ts;
  const int64_t to = q.to_ts == 0 ? INT64_MAX : q.to_ts;
  std::string filter = q.sensor.empty() ? "" : " AND sensor = ?";
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return Closed();
  {
    // Calls per second of their INVITE (invite_ts 0: no INVITE seen).
    Statement st;
    Status s = st.Prepare(read_db_,
                          "SELECT invite_ts / 1000000000, COUNT(*) FROM calls "
                          "WHERE invite_ts >= ? AND invite_ts < ? AND invite_ts > 0" +
                              filter + " GROUP BY 1");
    if (!s.ok()) return s;
    st.BindInt(1, from);
    st.BindInt(2, to);
    if (!q.sensor.empty()) st.BindText(3, q.sensor);
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      summarizer.AddCalls(st.ColumnInt(0), static_cast<uint64_t>(st.ColumnInt(1)));
    }
    if (rc != SQLITE_DONE) return SqliteError(read_db_, "cannot count calls in " + path_);
  }
  stats::TrafficSummary summary = summarizer.Summary();
  if (summary.span_seconds == 0) return summary;

  // Concurrent calls: established calls, each over [answer_ts, end_ts),
  // clipped to the span (itself clipped to the range).
  int64_t span_from = std::max(from, summary.first_second * kNsPerSecond);
  int64_t span_to = std::min(to, (summary.last_second + 1) * kNsPerSecond);
  if (span_to <= span_from) return summary;
  Statement st;
  Status s = st.Prepare(read_db_,
                        "SELECT answer_ts, end_ts FROM calls WHERE invite_ts < ? AND "
                        "end_ts > ? AND answer_ts > 0 AND end_ts > answer_ts" + filter);
  if (!s.ok()) return s;
  st.BindInt(1, span_to);
  st.BindInt(2, span_from);
  if (!q.sensor.empty()) st.BindText(3, q.sensor);
  std::vector<std::pair<int64_t, int>> events;  // (time, +1 start / -1 end)
  double busy_ns = 0;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    int64_t start = std::max(st.ColumnInt(0), span_from);
    int64_t end = std::min(st.ColumnInt(1), span_to);
    if (end <= start) continue;
    events.emplace_back(start, +1);
    events.emplace_back(end, -1);
    busy_ns += static_cast<double>(end - start);
  }
  if (rc != SQLITE_DONE) return SqliteError(read_db_, "cannot read calls of " + path_);
  // Ends sort before starts at one instant: a call ending as another
  // begins does not overlap it.
  std::sort(events.begin(), events.end());
  int64_t now = 0;
  for (const auto& [ts, delta] : events) {
    now += delta;
    if (now > static_cast<int64_t>(summary.concurrent_calls.peak)) {
      summary.concurrent_calls.peak = static_cast<uint64_t>(now);
      summary.concurrent_calls.peak_ts = ts;
    }
  }
  summary.concurrent_calls.average = busy_ns / static_cast<double>(span_to - span_from);
  return summary;
}

}  // namespace sipman::store::internal
