// The store's own reads over PostgreSQL (the web API's are in
// postgres_search.cc and postgres_analytics.cc), and the row readers they share.
#include <string>
#include <vector>

#include "store/postgres_store.h"
#include "store/sqlite_rows.h"  // the calls and registrations column lists, shared
#include "store/traffic_tables.h"

namespace sipman::store::internal {
namespace {

// Collects WHERE conditions; every value travels as a parameter.
class Where {
 public:
  // Adds a parameter and returns its placeholder.
  std::string P(std::string value) {
    params_.push_back(std::move(value));
    std::string placeholder = "$";
    placeholder += std::to_string(params_.size());
    return placeholder;
  }
  std::string P(int64_t value) { return P(std::to_string(value)); }
  void Add(const std::string& condition) {
    sql_ += sql_.empty() ? " WHERE " : " AND ";
    sql_ += condition;
  }
  // `column` starts with `prefix`: a range in byte order ("C" collation),
  // so the column's index serves it. U+10FFFF is the largest character.
  void Prefix(const char* column, const std::string& prefix) {
    std::string p = SanitizeText(prefix);
    Add(std::string(column) + " >= " + P(p) + " AND " + column + " < " + P(p + "\xF4\x8F\xBF\xBF"));
  }
  const std::string& sql() const { return sql_; }
  std::vector<std::string>& params() { return params_; }

 private:
  std::string sql_;
  std::vector<std::string> params_;
};

void AddCallFilters(const CallQuery& q, Where* w) {
  if (q.from_ts != 0) w->Add("invite_ts >= " + w->P(q.from_ts));
  if (q.to_ts != 0) w->Add("invite_ts < " + w->P(q.to_ts));
  if (!q.caller.empty()) w->Prefix("caller_user", q.caller);
  if (!q.callee.empty()) w->Prefix("callee_user", q.callee);
  if (!q.call_id.empty()) w->Add("call_id = " + w->P(q.call_id));
  if (!q.ip.empty()) {
    std::string p = w->P(NormalizeIpText(q.ip));
    w->Add("(src_ip = " + p + " OR dst_ip = " + p + ")");
  }
  if (!q.state.empty()) w->Add("state = " + w->P(q.state));
  if (!q.sensor.empty()) w->Add(CallOfSensorSql(w->P(q.sensor)));
}

int64_t LimitOf(size_t limit) {
  if (limit == 0 || limit > kMaxQueryLimit) limit = kMaxQueryLimit;
  return static_cast<int64_t>(limit);
}

Status ClosedError() { return Status::Error("the store is closed; open it again to query it"); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// bytea's hex output ("\x0a1b...") back to bytes.
bool DecodeByteaHex(std::string_view text, std::string* out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  out->resize((text.size() - 2) / 2);
  for (size_t i = 2, o = 0; i < text.size(); i += 2, ++o) {
    int hi = HexValue(text[i]), lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[o] = static_cast<char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

// Adds a traffic row (columns: ts, then TrafficColumns()) to *c.
bool AddTrafficRow(const PgResult& res, int row, stats::TrafficCounters* c) {
  stats::TrafficCounters t;
  int i = 1;
  VisitCounters(t, [&](uint64_t& v) { v = static_cast<uint64_t>(res.Int(row, i++)); });
  if (!stats::ParseCodesJson(res.Text(row, i), &t.codes)) return false;
  c->AddAll(t);
  return true;
}

Status ReadPgCall(const PgResult& res, int row, int first, const std::string& name,
                  calls::CallRecord* out) {
  calls::CallRecord& r = *out;
  int i = first;
  r.sensor = res.Text(row, i++);
  std::string_view src_ip = res.Text(row, i++);
  std::string_view dst_ip = res.Text(row, i++);
  if (!ParseIp(src_ip, &r.src_ip) || !ParseIp(dst_ip, &r.dst_ip)) {
    return Status::Error(name + " has an unreadable IP address '" + std::string(src_ip) +
                         "' / '" + std::string(dst_ip) + "'");
  }
  std::string_view state = res.Text(row, i++);
  if (!ParseCallState(state, &r.state)) {
    return Status::Error(name + " has an unknown state '" + std::string(state) +
                         "' (written by a newer sipman?)");
  }
  if (!ParseMediaJson(res.Text(row, i++), &r.caller_media) ||
      !ParseMediaJson(res.Text(row, i++), &r.callee_media)) {
    return Status::Error(name + " has unreadable media JSON");
  }
#define SIPMAN_READ_TEXT(field) r.field = res.Text(row, i++);
  SIPMAN_CALL_TEXT_FIELDS(SIPMAN_READ_TEXT)
#undef SIPMAN_READ_TEXT
#define SIPMAN_READ_INT(field) r.field = static_cast<decltype(r.field)>(res.Int(row, i++));
  SIPMAN_CALL_INT_FIELDS(SIPMAN_READ_INT)
#undef SIPMAN_READ_INT
  r.also_seen_by = res.Text(row, i++);
  return Status::Ok();
}

Status ReadPgRegistration(const PgResult& res, int row, int first, const std::string& name,
                          calls::RegistrationRecord* out) {
  calls::RegistrationRecord& r = *out;
  int i = first;
  r.sensor = res.Text(row, i++);
  std::string_view src_ip = res.Text(row, i++);
  if (!ParseIp(src_ip, &r.src_ip)) {
    return Status::Error(name + " has an unreadable IP address '" + std::string(src_ip) + "'");
  }
  for (std::string* text : {&r.call_id, &r.aor, &r.contact, &r.user_agent, &r.result}) {
    *text = res.Text(row, i++);
  }
  r.src_port = static_cast<uint16_t>(res.Int(row, i++));
  r.expires = res.Int(row, i++);
  r.status_code = static_cast<int>(res.Int(row, i++));
  r.challenges = static_cast<uint32_t>(res.Int(row, i++));
  r.request_delay_ms = res.Int(row, i++);
  r.first_seen = res.Int(row, i++);
  r.last_seen = res.Int(row, i++);
  return Status::Ok();
}

Result<PgResult> PostgresStore::Read(const std::string& sql,
                                     const std::vector<std::string>& params) {
  std::lock_guard<std::mutex> lock(read_mu_);
  if (read_closed_) return ClosedError();
  for (int attempt = 0;; ++attempt) {
    if (!read_conn_.connected()) {
      Status s = read_conn_.Connect(url_);
      if (!s.ok()) return Status::Error("cannot connect to " + where_ + ": " + s.message());
    }
    Result<PgResult> r = read_conn_.Query(sql, params);
    if (r.ok() || attempt > 0 || !read_conn_.last_error_retryable()) {
      if (!r.ok()) return Status::Error(where_ + ": " + r.status().message());
      return r;
    }
    read_conn_.Disconnect();  // lost: reconnect once and ask again
  }
}

Result<std::map<std::string, int64_t>> PostgresStore::CountCallsByState(const CallQuery& query) {
  Where where;
  AddCallFilters(query, &where);
  auto r = Read("SELECT state, COUNT(*) FROM calls" + where.sql() + " GROUP BY state",
                where.params());
  if (!r.ok()) return r.status();
  std::map<std::string, int64_t> counts;
  for (int i = 0; i < r->rows(); ++i) counts[std::string(r->Text(i, 0))] = r->Int(i, 1);
  return counts;
}

Result<std::vector<calls::CallRecord>> PostgresStore::FindCalls(const CallQuery& query) {
  Where where;
  AddCallFilters(query, &where);
  if (query.after) {
    where.Add("(invite_ts, call_id, sensor, end_ts) > (" + where.P(query.after->invite_ts) +
              ", " + where.P(query.after->call_id) + ", " + where.P(query.after->sensor) + ", " +
              where.P(query.after->end_ts) + ")");
  }
  std::string limit = where.P(LimitOf(query.limit));
  auto res = Read(std::string("SELECT ") + kCallColumns + ", also_seen_by FROM calls" +
                      where.sql() + " ORDER BY invite_ts, call_id, sensor, end_ts LIMIT " + limit,
                  where.params());
  if (!res.ok()) return res.status();
  std::vector<calls::CallRecord> records;
  records.reserve(static_cast<size_t>(res->rows()));
  for (int row = 0; row < res->rows(); ++row) {
    calls::CallRecord r;
    Status s = ReadPgCall(*res, row, 0, "calls row in " + where_, &r);
    if (!s.ok()) return s;
    records.push_back(std::move(r));
  }
  return records;
}

Result<std::vector<calls::RegistrationRecord>> PostgresStore::FindRegistrations(
    const RegistrationQuery& q) {
  Where where;
  if (q.from_ts != 0) where.Add("first_seen >= " + where.P(q.from_ts));
  if (q.to_ts != 0) where.Add("first_seen < " + where.P(q.to_ts));
  if (!q.aor.empty()) where.Prefix("aor", q.aor);
  if (!q.call_id.empty()) where.Add("call_id = " + where.P(q.call_id));
  if (!q.ip.empty()) where.Add("src_ip = " + where.P(NormalizeIpText(q.ip)));
  if (!q.result.empty()) where.Add("result = " + where.P(q.result));
  if (!q.sensor.empty()) where.Add("sensor = " + where.P(q.sensor));
  if (q.after) {
    where.Add("(first_seen, call_id, sensor) > (" + where.P(q.after->first_seen) + ", " +
              where.P(q.after->call_id) + ", " + where.P(q.after->sensor) + ")");
  }
  std::string limit = where.P(LimitOf(q.limit));
  auto res = Read(std::string("SELECT ") + kRegistrationColumns + " FROM registrations" +
                      where.sql() + " ORDER BY first_seen, call_id, sensor LIMIT " + limit,
                  where.params());
  if (!res.ok()) return res.status();
  std::vector<calls::RegistrationRecord> records;
  for (int row = 0; row < res->rows(); ++row) {
    calls::RegistrationRecord r;
    Status s = ReadPgRegistration(*res, row, 0, "registrations row in " + where_, &r);
    if (!s.ok()) return s;
    records.push_back(std::move(r));
  }
  return records;
}

Result<std::vector<StoredMessageRow>> PostgresStore::MessagesOfCall(std::string_view call_id) {
  auto res = Read(std::string("SELECT id, ") + kPgMessageColumns +
                      " FROM messages WHERE call_id = $1 ORDER BY ts, id",
                  {std::string(call_id)});
  if (!res.ok()) return res.status();
  std::vector<StoredMessageRow> rows;
  std::string stored;
  for (int row = 0; row < res->rows(); ++row) {
    StoredMessageRow m;
    m.id = res->Int(row, 0);
    m.sensor = res->Text(row, 1);
    m.call_id = res->Text(row, 2);
    m.ts = res->Int(row, 3);
    bool ips_ok = ParseIp(res->Text(row, 4), &m.src_ip);
    m.src_port = static_cast<uint16_t>(res->Int(row, 5));
    ips_ok = ParseIp(res->Text(row, 6), &m.dst_ip) && ips_ok;
    m.dst_port = static_cast<uint16_t>(res->Int(row, 7));
    m.transport = res->Text(row, 8);
    m.method = res->Text(row, 9);
    m.status = static_cast<int>(res->Int(row, 10));
    m.cseq = static_cast<uint32_t>(res->Int(row, 11));
    int64_t size = res->Int(row, 12);
    m.compression = static_cast<int>(res->Int(row, 13));
    const std::string id = std::to_string(m.id);
    if (!DecodeByteaHex(res->Text(row, 14), &stored)) {
      return Status::Error("message " + id + " in " + where_ + " has unreadable raw bytes");
    }
    m.stored_bytes = stored.size();
    if (!ips_ok) {
      return Status::Error("message " + id + " in " + where_ + " has an unreadable IP address");
    }
    if (size < 0) return Status::Error("message " + id + " in " + where_ + " has a negative size");
    Status s = DecompressMessage(m.compression, stored, static_cast<size_t>(size), &m.raw);
    if (!s.ok()) return Status::Error("message " + id + " in " + where_ + ": " + s.message());
    rows.push_back(std::move(m));
  }
  return rows;
}

Result<int64_t> PostgresStore::CountRows(std::string_view table) {
  Result<const char*> sql = CountRowsSql(table);
  if (!sql.ok()) return sql.status();
  auto res = Read(*sql, {});
  if (!res.ok()) return res.status();
  return res->Int(0, 0);
}

Result<std::vector<stats::TrafficCounters>> PostgresStore::TrafficRows(const TrafficQuery& q) {
  const TrafficRowsRead read = TrafficRowsSql(q);
  const int t = read.table;
  std::vector<std::string> params = {std::to_string(read.from), std::to_string(read.to)};
  if (!q.sensor.empty()) params.push_back(q.sensor);
  auto res = Read(read.sql, params);
  if (!res.ok()) return res.status();
  std::vector<stats::TrafficCounters> rows;
  for (int row = 0; row < res->rows(); ++row) {
    int64_t ts = res->Int(row, 0);
    if (rows.empty() || rows.back().ts != ts) {
      rows.emplace_back();
      rows.back().ts = ts;
    }
    if (!AddTrafficRow(*res, row, &rows.back())) {
      return Status::Error(std::string(kTrafficTables[t]) + " of " + where_ +
                           " has an unreadable codes column at ts " + std::to_string(ts));
    }
  }
  return rows;
}

Result<stats::TrafficSummary> PostgresStore::SummarizeTraffic(const TrafficQuery& q) {
  return internal::SummarizeTraffic(this, q, this);
}

Status PostgresStore::ReadIntPairs(const std::string& sql, int64_t p1, int64_t p2,
                                   std::string_view sensor, const Row& row) {
  std::vector<std::string> params = {std::to_string(p1), std::to_string(p2)};
  if (!sensor.empty()) params.emplace_back(sensor);
  auto result = Read(sql, params);
  if (!result.ok()) return result.status();
  for (int r = 0; r < result->rows(); ++r) row(result->Int(r, 0), result->Int(r, 1));
  return Status::Ok();
}

}  // namespace sipman::store::internal
