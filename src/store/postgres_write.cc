// The PostgreSQL writer: one batch in one transaction, COPY into staging
// tables, partitions, the merge of sightings and sensors, traffic rollups.
#include <algorithm>
#include <string>
#include <vector>

#include "store/postgres_store.h"
#include "store/sightings.h"
#include "store/sqlite_rows.h"  // the calls and registrations column lists, shared
#include "store/traffic_tables.h"

namespace sipman::store::internal {

Status PostgresStore::LoadBatch(const CopyBatch& batch, BatchResult* result, bool* outage) {
  *outage = false;
  bool partitions_retried = false;
  for (;;) {
    BatchResult partial;
    Status s = TryLoadBatch(batch, &partial);
    if (s.ok()) {
      *result = partial;
      return s;
    }
    if (write_conn_.connected() && write_conn_.Exec("ROLLBACK").ok() &&
        !write_conn_.last_error_retryable()) {
      // A data error, not an outage. "No partition for this row" means
      // another process dropped one this writer believed in: once more.
      if (write_conn_.last_sqlstate() == "23514" && !partitions_retried) {
        partitions_retried = true;
        for (std::set<int64_t>& known : known_partitions_) known.clear();
        continue;
      }
      return s;
    }
    if (!write_conn_.last_error_retryable() && write_conn_.connected()) return s;
    write_conn_.Disconnect();
    *outage = true;
    return s;
  }
}

Status PostgresStore::TryLoadBatch(const CopyBatch& batch, BatchResult* result) {
  Status s = EnsurePartitions(batch.days);
  if (!s.ok()) return Status::Error("cannot write to " + where_ + ": " + s.message());
  s = write_conn_.Exec("BEGIN");
  uint64_t inserted = 0;
  if (s.ok() && batch.call_rows > 0) {
    s = LoadStaged("calls", kCallColumns, batch.calls, &inserted);
    result->calls_inserted += inserted;
    result->duplicates += batch.call_rows - std::min(inserted, batch.call_rows);
  }
  if (s.ok() && batch.registration_rows > 0) {
    s = LoadStaged("registrations", kRegistrationColumns, batch.registrations, &inserted);
    result->registrations_inserted += inserted;
    result->duplicates += batch.registration_rows - std::min(inserted, batch.registration_rows);
  }
  if (s.ok()) s = LoadMessages(batch, result);
  if (s.ok()) s = LoadStreams(batch, result);
  if (s.ok()) s = LoadAlerts(batch, result);
  if (s.ok()) s = WriteTraffic(batch.traffic_sensor, batch.traffic_seconds, result);
  for (const CopyBatch::Snapshot& snapshot : batch.snapshots) {
    if (s.ok()) s = ReplaceSnapshot(snapshot, result);
  }
  if (s.ok()) s = write_conn_.Exec("COMMIT");
  if (!s.ok()) return Status::Error("cannot write to " + where_ + ": " + s.message());
  return s;
}

Status PostgresStore::EnsurePartitions(const std::set<int64_t> (&wanted)[3]) {
  int64_t newest = newest_day_;
  for (int t = 0; t < 3; ++t) {
    if (!wanted[t].empty()) newest = std::max(newest, *wanted[t].rbegin());
  }
  for (int t = 0; t < 3; ++t) {
    std::set<int64_t> missing;
    for (int64_t day : wanted[t]) {
      if (!known_partitions_[t].contains(day)) missing.insert(day);
    }
    if (missing.empty()) continue;
    // The next day too, so rows after midnight find theirs ready.
    if (!known_partitions_[t].contains(newest + 1)) missing.insert(newest + 1);
    Status s = CreatePartitions(&write_conn_, kPartitionedTables[t], missing);
    if (!s.ok()) return s;
    known_partitions_[t].insert(missing.begin(), missing.end());
  }
  if (newest > newest_day_) {
    newest_day_ = newest;
    if (options_.partition_retention_days > 0) {
      const int64_t oldest_kept = newest - options_.partition_retention_days;
      Result<int> dropped = DropPartitionsBefore(&write_conn_, oldest_kept);
      if (!dropped.ok()) {
        return Status::Error("cannot drop old partitions: " + dropped.status().message());
      }
      for (std::set<int64_t>& known : known_partitions_) {
        known.erase(known.begin(), known.lower_bound(oldest_kept));
      }
    }
  }
  return Status::Ok();
}

namespace {

// A call seen by several sensors (a proxy's HEP and a SPAN port, two
// capture points on its path) is one call: the first sensor's row keeps it
// and also_seen_by names the others. Two rows are the same call when their
// Call-IDs are equal and their INVITEs at most kSameCallWindowNs apart
// (Timer B: no new call reuses a Call-ID that soon).
constexpr int64_t kSameCallWindowNs = 32'000'000'000;

// Staged calls of another sensor than a stored call's (same Call-ID, INVITE
// within the window) are folded into that call and left out of the insert.
const std::string& MergeIntoStoredCallsSql() {
  static const std::string sql = [] {
    const std::string w = std::to_string(kSameCallWindowNs);
    return "WITH pair AS (SELECT DISTINCT ON (s.ctid) s.ctid AS sid, c.id AS cid,"
           " c.invite_ts AS cts, c.sensor AS csensor, string_to_array(s.sensor || CASE WHEN"
           " s.also_seen_by <> '' THEN ',' || s.also_seen_by ELSE '' END, ',') AS seen"
           " FROM stage_calls s JOIN calls c ON c.call_id = s.call_id AND c.sensor <> s.sensor"
           " AND c.invite_ts BETWEEN s.invite_ts - " + w + " AND s.invite_ts + " + w +
           " ORDER BY s.ctid, abs(c.invite_ts - s.invite_ts), c.id),"
           " agg AS (SELECT cid, cts, csensor, array_agg(x) AS seen FROM pair, unnest(seen) AS x"
           " GROUP BY cid, cts, csensor),"
           " upd AS (UPDATE calls c SET also_seen_by = array_to_string(ARRAY(SELECT DISTINCT x"
           " FROM unnest(string_to_array(NULLIF(c.also_seen_by, ''), ',') || a.seen) AS x"
           " WHERE x <> a.csensor ORDER BY x), ',') FROM agg a"
           " WHERE c.id = a.cid AND c.invite_ts = a.cts RETURNING c.id)"
           " DELETE FROM stage_calls s USING pair p WHERE s.ctid = p.sid";
  }();
  return sql;
}

// Then staged calls of one call from several sensors: the earliest INVITE
// (then the lowest sensor name) keeps it, the others fold into it.
const std::string& MergeStagedCallsSql() {
  static const std::string sql = [] {
    const std::string w = std::to_string(kSameCallWindowNs);
    return "WITH multi AS (SELECT call_id FROM stage_calls GROUP BY call_id"
           " HAVING COUNT(DISTINCT sensor) > 1),"
           " cand AS (SELECT s.ctid AS sid, s.call_id, s.sensor, s.invite_ts, s.also_seen_by"
           " FROM stage_calls s JOIN multi USING (call_id)),"
           " pair AS (SELECT DISTINCT ON (d.sid) d.sid, k.sid AS kid, k.sensor AS ksensor,"
           " string_to_array(d.sensor || CASE WHEN d.also_seen_by <> '' THEN ',' ||"
           " d.also_seen_by ELSE '' END, ',') AS seen FROM cand d JOIN cand k"
           " ON k.call_id = d.call_id AND k.sensor <> d.sensor"
           " AND abs(k.invite_ts - d.invite_ts) <= " + w +
           " AND (k.invite_ts, k.sensor) < (d.invite_ts, d.sensor)"
           " ORDER BY d.sid, k.invite_ts, k.sensor),"
           " agg AS (SELECT kid, ksensor, array_agg(x) AS seen FROM pair, unnest(seen) AS x"
           " GROUP BY kid, ksensor),"
           " upd AS (UPDATE stage_calls s SET also_seen_by = array_to_string(ARRAY(SELECT"
           " DISTINCT x FROM unnest(string_to_array(NULLIF(s.also_seen_by, ''), ',') || a.seen)"
           " AS x WHERE x <> a.ksensor ORDER BY x), ',') FROM agg a WHERE s.ctid = a.kid"
           " RETURNING s.ctid)"
           " DELETE FROM stage_calls s USING pair p WHERE s.ctid = p.sid";
  }();
  return sql;
}

// "a = EXCLUDED.a, b = EXCLUDED.b, ..." over a comma-separated column list.
std::string SetFromExcluded(std::string_view columns) {
  std::string sql;
  while (!columns.empty()) {
    size_t comma = columns.find(',');
    std::string_view name = columns.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    if (!sql.empty()) sql += ", ";
    sql += std::string(name) + " = EXCLUDED." + std::string(name);
    columns = comma == std::string_view::npos ? std::string_view() : columns.substr(comma + 1);
  }
  return sql;
}

}  // namespace

Status PostgresStore::LoadStaged(const char* table, const char* columns, const std::string& copy,
                                 uint64_t* inserted) {
  *inserted = 0;
  Status s = write_conn_.Copy(std::string("COPY stage_") + table + "(" + columns +
                                  ") FROM STDIN",
                              copy);
  if (!s.ok()) return s;
  const bool is_calls = std::string_view(table) == "calls";
  // Rows are sightings (sightings.h): of one natural key only the most
  // complete staged row goes on (before the merge of sensors, which must
  // not fold a sensor into a row about to go), and it replaces a stored row
  // only when it ranks higher.
  const std::string key = is_calls ? kCallNaturalKey : kRegistrationNaturalKey;
  auto rank = [&](std::string_view row) {
    return is_calls ? CallCompletenessSql(row) : RegistrationCompletenessSql(row);
  };
  s = write_conn_.Exec(std::string("DELETE FROM stage_") + table + " s USING stage_" + table +
                       " b WHERE " + SameNaturalKeySql(key, "b", "s") + " AND (" + rank("b") + " > " + rank("s") +
                       " OR (" + rank("b") + " = " + rank("s") + " AND b.ctid < s.ctid))");
  if (!s.ok()) return s;
  std::string insert_columns = columns;
  if (is_calls) {
    // One writer at a time merges, so two sensors' writers cannot both miss
    // each other's row of the same call.
    s = write_conn_.Exec("SELECT pg_advisory_xact_lock(5350691)");
    if (s.ok()) s = write_conn_.Exec(MergeIntoStoredCallsSql());
    if (s.ok()) s = write_conn_.Exec(MergeStagedCallsSql());
    if (!s.ok()) return s;
    insert_columns += ", also_seen_by";
  }
  std::string update = SetFromExcluded(columns);
  if (is_calls) {
    // The sensors that saw the call: both rows' lists.
    update += ", also_seen_by = array_to_string(ARRAY(SELECT DISTINCT x FROM unnest("
              "string_to_array(NULLIF(calls.also_seen_by, ''), ',') || "
              "string_to_array(NULLIF(EXCLUDED.also_seen_by, ''), ',')) AS x ORDER BY x), ',')";
  }
  Result<PgResult> r = write_conn_.Query(
      std::string("INSERT INTO ") + table + "(" + insert_columns + ") SELECT " +
      insert_columns + " FROM stage_" + table + " ON CONFLICT (" + key + ") DO UPDATE SET " +
      update + " WHERE " + rank("EXCLUDED") + " > " + rank(table));
  if (!r.ok()) return r.status();
  *inserted = static_cast<uint64_t>(r->affected_rows());
  return Status::Ok();
}

Status PostgresStore::LoadStreams(const CopyBatch& batch, BatchResult* result) {
  if (batch.stream_rows == 0) return Status::Ok();
  Status s = write_conn_.Copy(std::string("COPY stage_rtp_streams(") + kStreamColumns +
                                  ") FROM STDIN",
                              batch.streams);
  if (!s.ok()) return s;
  Result<PgResult> r = write_conn_.Query(std::string("INSERT INTO rtp_streams(") + kStreamColumns +
                                         ") SELECT " + kStreamColumns +
                                         " FROM stage_rtp_streams ON CONFLICT DO NOTHING");
  if (!r.ok()) return r.status();
  const uint64_t n = static_cast<uint64_t>(r->affected_rows());
  result->streams_inserted += n;
  result->duplicates += batch.stream_rows - std::min(n, batch.stream_rows);
  return Status::Ok();
}

// Alerts are few: staged by COPY like the rest, then upserted (a batch
// holds one row per alert, so no row is met twice).
Status PostgresStore::LoadAlerts(const CopyBatch& batch, BatchResult* result) {
  if (batch.alert_rows == 0) return Status::Ok();
  std::string columns(kAlertColumns);
  columns.resize(columns.size() - 4);  // without ", id"
  Status s = write_conn_.Copy("COPY stage_alerts(" + columns + ") FROM STDIN", batch.alerts);
  if (!s.ok()) return s;
  Result<PgResult> r =
      write_conn_.Query(UpsertAlertSql(true, "SELECT " + columns + " FROM stage_alerts"));
  if (!r.ok()) return r.status();
  result->alerts_inserted += static_cast<uint64_t>(r->affected_rows());
  return Status::Ok();
}

Status PostgresStore::LoadMessages(const CopyBatch& batch, BatchResult* result) {
  if (batch.message_rows == 0) return Status::Ok();
  Status s = write_conn_.Copy(std::string("COPY stage_messages(") + kPgMessageColumns +
                                  ") FROM STDIN",
                              batch.messages);
  if (!s.ok()) return s;
  Result<PgResult> inserted = write_conn_.Query(
      std::string("WITH ins AS (INSERT INTO messages(") + kPgMessageColumns + ") SELECT " +
      kPgMessageColumns +
      " FROM stage_messages ON CONFLICT DO NOTHING RETURNING size, compression, "
      "octet_length(raw) AS stored) SELECT COUNT(*), COALESCE(SUM(size), 0), "
      "COALESCE(SUM(stored), 0), COUNT(*) FILTER (WHERE compression <> 0) FROM ins");
  if (!inserted.ok()) return inserted.status();
  const uint64_t n = static_cast<uint64_t>(inserted->Int(0, 0));
  result->messages_inserted += n;
  result->duplicates += batch.message_rows - std::min(n, batch.message_rows);
  result->message_raw_bytes += static_cast<uint64_t>(inserted->Int(0, 1));
  result->message_stored_bytes += static_cast<uint64_t>(inserted->Int(0, 2));
  result->messages_compressed += static_cast<uint64_t>(inserted->Int(0, 3));
  return Status::Ok();
}

Status PostgresStore::ReplaceSnapshot(const CopyBatch::Snapshot& snapshot, BatchResult* result) {
  Result<PgResult> deleted =
      write_conn_.Query("DELETE FROM active_calls WHERE sensor = $1", {snapshot.sensor});
  if (!deleted.ok()) return deleted.status();
  if (snapshot.rows == 0) return Status::Ok();
  Status s = write_conn_.Copy(std::string("COPY active_calls(") + kCallColumns + ") FROM STDIN",
                              snapshot.copy);
  if (!s.ok()) return s;
  result->active_calls_inserted += snapshot.rows;
  return Status::Ok();
}

Status PostgresStore::UpsertTraffic(const std::string& sensor, int t,
                                    const stats::TrafficCounters& c) {
  static const std::string columns = TrafficColumns();
  std::vector<std::string> params;
  params.push_back(sensor);
  params.push_back(std::to_string(c.ts));
  VisitCounters(c, [&](uint64_t v) { params.push_back(std::to_string(static_cast<int64_t>(v))); });
  std::string codes;
  stats::AppendCodesJson(c.codes, &codes);
  params.push_back(std::move(codes));
  std::string sql = std::string("INSERT INTO ") + kTrafficTables[t] + "(sensor, ts, " + columns +
                    ") VALUES(";
  for (size_t i = 1; i <= params.size(); ++i) {
    sql += i == 1 ? "$" : ", $";
    sql += std::to_string(i);
  }
  // Every counter column takes the new row's value (WriteTrafficRollups
  // merged it with the stored one).
  sql += ") ON CONFLICT (sensor, ts) DO UPDATE SET " + SetFromExcluded(columns);
  Result<PgResult> r = write_conn_.Query(sql, params);
  return r.ok() ? Status::Ok() : r.status();
}

Status PostgresStore::SumRows(const std::string& sensor, int t, int64_t from, int64_t to,
                              stats::TrafficCounters* sum) {
  static const std::string columns = TrafficColumns();
  Result<PgResult> rows = write_conn_.Query(
      std::string("SELECT ts, ") + columns + " FROM " + kTrafficTables[t] +
          " WHERE sensor = $1 AND ts >= $2 AND ts < $3",
      {sensor, std::to_string(from), std::to_string(to)});
  if (!rows.ok()) return rows.status();
  for (int r = 0; r < rows->rows(); ++r) {
    if (!AddTrafficRow(*rows, r, sum)) {
      return Status::Error(std::string(kTrafficTables[t]) + " of " + where_ +
                           " has an unreadable codes column");
    }
  }
  return Status::Ok();
}

Status PostgresStore::WriteTraffic(const std::string& sensor,
                                   const std::vector<stats::TrafficCounters>& seconds,
                                   BatchResult* result) {
  if (seconds.empty()) return Status::Ok();
  int64_t newest = INT64_MIN;
  Status s = WriteTrafficRollups(
      seconds,
      [&](int t, int64_t from, int64_t to, stats::TrafficCounters* sum) {
        return SumRows(sensor, t, from, to, sum);
      },
      [&](int t, const stats::TrafficCounters& c) { return UpsertTraffic(sensor, t, c); },
      &newest, &result->traffic_seconds_written);
  if (!s.ok()) return s;
  if (const int64_t oldest = OldestSecondKept(newest, options_.stats_second_retention_s);
      oldest != INT64_MIN) {
    Result<PgResult> r =
        write_conn_.Query("DELETE FROM stats_second WHERE sensor = $1 AND ts < $2",
                          {sensor, std::to_string(oldest)});
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

}  // namespace sipman::store::internal
