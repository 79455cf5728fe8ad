// The traffic counter tables of the SQLite backend: stats_second,
// stats_minute and stats_hour (docs/SCHEMA.md), their rollups and queries.
#include <algorithm>
#include <climits>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite_store.h"
#include "store/traffic_tables.h"

namespace sipman::store::internal {
namespace {

int64_t I(uint64_t v) { return static_cast<int64_t>(v); }

// Binds the counters from parameter `first` on. `codes` holds the JSON
// text until the statement has run.
void BindCounters(Statement* st, int first, const stats::TrafficCounters& c, std::string* codes) {
  int i = first;
  VisitCounters(c, [&](uint64_t v) { st->BindInt(i++, I(v)); });
  codes->clear();
  stats::AppendCodesJson(c.codes, codes);
  st->BindText(i, *codes);
}

// Adds the row's counters (columns: ts, then TrafficColumns()) to *c.
bool AddRow(const Statement& st, stats::TrafficCounters* c) {
  stats::TrafficCounters row;
  int i = 1;
  VisitCounters(row, [&](uint64_t& v) { v = static_cast<uint64_t>(st.ColumnInt(i++)); });
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
    // The integer counters, then codes.
    for (int i = 0; i <= TrafficCounterCount(); ++i) insert += ", ?";
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

Status SqliteStore::SumRows(int t, int64_t from, int64_t to, stats::TrafficCounters* sum) {
  Statement& st = select_traffic_[t];
  st.BindText(1, options_.sensor);
  st.BindInt(2, from);
  st.BindInt(3, to);
  int rc;
  bool readable = true;
  while ((rc = st.Step()) == SQLITE_ROW) readable = AddRow(st, sum) && readable;
  st.Reset();
  if (rc != SQLITE_DONE) {
    return SqliteError(write_db_, std::string("cannot read ") + kTrafficTables[t] +
                                      " of database " + path_);
  }
  if (!readable) {
    return Status::Error(std::string(kTrafficTables[t]) + " of database " + path_ +
                         " has an unreadable codes column");
  }
  return Status::Ok();
}

Status SqliteStore::WriteTraffic(const RowBatch& batch, BatchResult* result) {
  if (batch.traffic_seconds.empty()) return Status::Ok();
  int64_t newest = INT64_MIN;
  Status s = WriteTrafficRollups(
      batch.traffic_seconds,
      [&](int t, int64_t from, int64_t to, stats::TrafficCounters* sum) {
        return SumRows(t, from, to, sum);
      },
      [&](int t, const stats::TrafficCounters& c) { return UpsertTraffic(t, c); }, &newest,
      &result->traffic_seconds_written);
  if (!s.ok()) return s;
  if (const int64_t oldest = OldestSecondKept(newest, options_.stats_second_retention_s);
      oldest != INT64_MIN) {
    delete_old_seconds_.BindText(1, options_.sensor);
    delete_old_seconds_.BindInt(2, oldest);
    int rc = delete_old_seconds_.Step();
    delete_old_seconds_.Reset();
    if (rc != SQLITE_DONE) {
      return SqliteError(write_db_, "cannot delete old stats_second rows of database " + path_);
    }
  }
  return Status::Ok();
}

Result<std::vector<stats::TrafficCounters>> SqliteStore::TrafficRows(const TrafficQuery& q) {
  const TrafficRowsRead read = TrafficRowsSql(q);
  const int t = read.table;
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return Closed();
  Statement st;
  Status s = st.Prepare(read_db_, read.sql);
  if (!s.ok()) return s;
  st.BindInt(1, read.from);
  st.BindInt(2, read.to);
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

Status SqliteStore::ReadIntPairs(const std::string& sql, int64_t p1, int64_t p2,
                                 std::string_view sensor, const Row& row) {
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_db_ == nullptr) return Closed();
  Statement st;
  if (Status s = st.Prepare(read_db_, sql); !s.ok()) return s;
  st.BindInt(1, p1);
  st.BindInt(2, p2);
  if (!sensor.empty()) st.BindText(3, sensor);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) row(st.ColumnInt(0), st.ColumnInt(1));
  if (rc != SQLITE_DONE) return SqliteError(read_db_, "cannot read calls of " + path_);
  return Status::Ok();
}

}  // namespace sipman::store::internal
