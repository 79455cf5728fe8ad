// CallSearch over PostgreSQL: the same filters, sorts, keyset paging and
// registration queries as call_search.cc's SQLite plans, as plain SQL over
// the partitioned calls and registrations tables. Rows are paged by their
// BIGSERIAL id, unique across partitions (one sequence for the parent).
// PostgreSQL's planner picks the indexes: the natural key (invite_ts first)
// walks time order, calls_caller_user and friends serve the key filters.
#include <cstdint>
#include <string>
#include <utility>

#include "store/postgres_reads.h"
#include "base/utf8.h"
#include "store/record_codec.h"
#include "store/sqlite_rows.h"

namespace sipman::store::internal {
namespace {

// The row id, then every column of the record, in the order ReadCall reads
// them (the column names are SQLite's: the PostgreSQL schema copies them).
const std::string& CallSelect() {
  static const std::string sql =
      std::string("SELECT id, ") + kCallColumns + ", also_seen_by FROM calls";
  return sql;
}
const std::string& RegistrationSelect() {
  static const std::string sql =
      std::string("SELECT id, ") + kRegistrationColumns + " FROM registrations";
  return sql;
}

Status CheckLimit(size_t limit) {
  if (limit < 1 || limit > kMaxSearchLimit) {
    return Status::Error("limit must be between 1 and " + std::to_string(kMaxSearchLimit));
  }
  return Status::Ok();
}

// " WHERE a AND b ...".
class Conditions {
 public:
  void Add(const std::string& condition) {
    sql_ += sql_.empty() ? " WHERE " : " AND ";
    sql_ += condition;
  }
  const std::string& sql() const { return sql_; }

 private:
  std::string sql_;
};

// Reads the call of result row `row` (id, then kCallColumns, then
// also_seen_by).
Status ReadCall(const PgResult& res, int row, const std::string& where, store::CallRow* out) {
  out->id = res.Int(row, 0);
  return ReadPgCall(res, row, 1, "calls row " + std::to_string(out->id) + " in " + where,
                    &out->record);
}

// Reads the registration of result row `row` (id, then kRegistrationColumns).
Status ReadRegistration(const PgResult& res, int row, const std::string& where,
                        RegistrationRow* out) {
  out->id = res.Int(row, 0);
  return ReadPgRegistration(res, row, 1,
                            "registrations row " + std::to_string(out->id) + " in " + where,
                            &out->record);
}

class PostgresCallSearch final : public CallSearch {
 public:
  Status Open(const std::string& url) { return reader_.Open(url); }

  Result<CallPage> FindCalls(const CallSearchQuery& query) override;
  Result<std::optional<store::CallRow>> GetCall(int64_t id) override;
  const std::string& last_plan() const override { return plan_; }
  Result<RegistrationPage> FindRegistrations(const RegistrationSearchQuery& query) override;
  Result<std::vector<RegistrationRow>> CurrentRegistrations(TimestampNs now_ts,
                                                            size_t limit) override;

 private:
  PgReader reader_;
  const std::string plan_ = "postgresql";
};

Result<CallPage> PostgresCallSearch::FindCalls(const CallSearchQuery& q) {
  Status s = CheckLimit(q.limit);
  if (!s.ok()) return s;
  const bool by_duration = q.sort == CallSort::kDurationAsc || q.sort == CallSort::kDurationDesc;
  const bool descending = q.sort == CallSort::kInviteDesc || q.sort == CallSort::kDurationDesc;
  PgParams p;
  Conditions w;
  if (q.from_ts != 0) w.Add("invite_ts >= " + p.Int(q.from_ts));
  if (q.to_ts != 0) w.Add("invite_ts < " + p.Int(q.to_ts));
  if (!q.caller.empty()) w.Add(PgPrefixCondition("caller_user", q.caller, &p));
  if (!q.caller_contains.empty()) {
    w.Add("strpos(caller_user, " + p.Text(q.caller_contains) + ") > 0");
  }
  if (!q.callee.empty()) w.Add(PgPrefixCondition("callee_user", q.callee, &p));
  if (!q.callee_contains.empty()) {
    w.Add("strpos(callee_user, " + p.Text(q.callee_contains) + ") > 0");
  }
  if (!q.call_id.empty()) w.Add("call_id = " + p.Text(q.call_id));
  if (!q.ip.empty()) {
    std::string ip;
    if (!CanonicalIpText(q.ip, &ip)) return Status::Error("ip: not an IPv4 or IPv6 address");
    const std::string param = p.Text(ip);
    w.Add("(src_ip = " + param + " OR dst_ip = " + param + ")");
  }
  if (!q.states.empty()) {
    std::string list;
    for (const std::string& state : q.states) {
      if (!calls::ParseCallState(state)) {
        return Status::Error("state: unknown state (" + calls::CallStateNames() + ")");
      }
      list += list.empty() ? "" : ", ";
      list += p.Text(state);
    }
    w.Add("state IN (" + list + ")");
  }
  if (!q.statuses.empty()) {
    std::string list;
    for (int status : q.statuses) {
      list += list.empty() ? "" : ", ";
      list += p.Int(status);
    }
    w.Add("final_status IN (" + list + ")");
  }
  if (q.min_duration_ms) w.Add("duration_ms >= " + p.Int(*q.min_duration_ms));
  if (q.max_duration_ms) w.Add("duration_ms <= " + p.Int(*q.max_duration_ms));
  if (q.mos_below) w.Add(MosBelowSql(p.Text(MosText(*q.mos_below)) + "::double precision"));
  if (!q.media_flag.empty()) w.Add(MediaFlagSql(p.Text(q.media_flag)));
  if (!q.sensor.empty()) w.Add(CallOfSensorSql(p.Text(q.sensor)));
  const std::string key = by_duration ? "duration_ms" : "invite_ts";
  if (q.after) {
    // The bound on the key alone lets an index on it seek to the cursor;
    // the row comparison then breaks ties by id.
    const std::string cursor_key = p.Int(q.after->key);
    w.Add(key + (descending ? " <= " : " >= ") + cursor_key);
    w.Add("(" + key + ", id) " + (descending ? "<" : ">") + " (" + cursor_key + ", " +
          p.Int(q.after->id) + ")");
  }
  const std::string sql = CallSelect() + w.sql() + " ORDER BY " + key +
                          (descending ? " DESC, id DESC" : ", id") + " LIMIT " +
                          p.Int(static_cast<int64_t>(q.limit) + 1);
  Result<PgResult> res = reader_.Query("search calls", sql, p.values());
  if (!res.ok()) return res.status();
  CallPage page;
  for (int row = 0; row < res->rows(); ++row) {
    if (page.rows.size() == q.limit) {
      const store::CallRow& last = page.rows.back();
      page.next =
          SearchCursor{by_duration ? last.record.duration_ms : last.record.invite_ts, last.id};
      break;
    }
    store::CallRow call;
    s = ReadCall(*res, row, reader_.where(), &call);
    if (!s.ok()) return s;
    page.rows.push_back(std::move(call));
  }
  return page;
}

Result<std::optional<store::CallRow>> PostgresCallSearch::GetCall(int64_t id) {
  PgParams p;
  const std::string sql = CallSelect() + " WHERE id = " + p.Int(id);
  Result<PgResult> res = reader_.Query("read call", sql, p.values());
  if (!res.ok()) return res.status();
  if (res->rows() == 0) return std::optional<store::CallRow>();
  store::CallRow call;
  Status s = ReadCall(*res, 0, reader_.where(), &call);
  if (!s.ok()) return s;
  return std::optional<store::CallRow>(std::move(call));
}

Result<RegistrationPage> PostgresCallSearch::FindRegistrations(const RegistrationSearchQuery& q) {
  Status s = CheckLimit(q.limit);
  if (!s.ok()) return s;
  PgParams p;
  Conditions w;
  if (q.from_ts != 0) w.Add("first_seen >= " + p.Int(q.from_ts));
  if (q.to_ts != 0) w.Add("first_seen < " + p.Int(q.to_ts));
  if (!q.user.empty()) w.Add(PgPrefixCondition("aor", q.user, &p));
  if (!q.ip.empty()) {
    std::string ip;
    if (!CanonicalIpText(q.ip, &ip)) return Status::Error("ip: not an IPv4 or IPv6 address");
    w.Add("src_ip = " + p.Text(ip));
  }
  if (!q.result.empty()) {
    if (!calls::IsRegistrationResult(q.result)) {
      return Status::Error("state: unknown result (success, unregistered, failed, expired)");
    }
    w.Add("result = " + p.Text(q.result));
  }
  if (!q.sensor.empty()) w.Add("sensor = " + p.Text(q.sensor));
  if (q.after) {
    const std::string cursor_key = p.Int(q.after->key);
    w.Add("first_seen <= " + cursor_key);
    w.Add("(first_seen, id) < (" + cursor_key + ", " + p.Int(q.after->id) + ")");
  }
  const std::string sql = RegistrationSelect() + w.sql() +
                          " ORDER BY first_seen DESC, id DESC LIMIT " +
                          p.Int(static_cast<int64_t>(q.limit) + 1);
  Result<PgResult> res = reader_.Query("search registrations", sql, p.values());
  if (!res.ok()) return res.status();
  RegistrationPage page;
  for (int row = 0; row < res->rows(); ++row) {
    if (page.rows.size() == q.limit) {
      page.next = SearchCursor{page.rows.back().record.first_seen, page.rows.back().id};
      break;
    }
    RegistrationRow registration;
    s = ReadRegistration(*res, row, reader_.where(), &registration);
    if (!s.ok()) return s;
    page.rows.push_back(std::move(registration));
  }
  return page;
}

Result<std::vector<RegistrationRow>> PostgresCallSearch::CurrentRegistrations(
    TimestampNs now_ts, size_t limit) {
  Status s = CheckLimit(limit);
  if (!s.ok()) return s;
  PgParams p;
  const std::string now = p.Int(now_ts);
  const std::string sql =
      std::string("WITH latest AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY aor, contact, "
                  "sensor ORDER BY first_seen DESC, id DESC) AS rn FROM registrations) "
                  "SELECT id, ") +
      kRegistrationColumns +
      " FROM latest WHERE rn = 1 AND result = 'success' AND expires > 0 AND "
      "last_seen + expires * 1000000000 > COALESCE(NULLIF(" +
      now + ", 0), (SELECT MAX(last_seen) FROM registrations)) " +
      "ORDER BY first_seen DESC, id DESC LIMIT " + p.Int(static_cast<int64_t>(limit));
  Result<PgResult> res = reader_.Query("read current registrations", sql, p.values());
  if (!res.ok()) return res.status();
  std::vector<RegistrationRow> rows;
  for (int row = 0; row < res->rows(); ++row) {
    RegistrationRow registration;
    s = ReadRegistration(*res, row, reader_.where(), &registration);
    if (!s.ok()) return s;
    rows.push_back(std::move(registration));
  }
  return rows;
}

}  // namespace

Status PgReader::Open(const std::string& url) {
  url_ = url;
  where_ = "PostgreSQL database " + ParseStoreUrl(url).shown;
  Status s = conn_.Connect(url_);
  if (!s.ok()) {
    return Status::Error("cannot connect to " + where_ + ": " + s.message() +
                         " (is the server running, and the URL's user, host, port and database "
                         "right?)");
  }
  Result<int> migrated = MigratePostgres(&conn_, where_);
  if (!migrated.ok()) return migrated.status();
  return Status::Ok();
}

Result<PgResult> PgReader::Query(const std::string& what, const std::string& sql,
                                 const std::vector<std::string>& params) {
  Result<PgResult> res = conn_.Query(sql, params);
  if (!res.ok() && conn_.last_error_retryable()) {
    // The server restarted or the connection dropped: one new connection.
    if (conn_.Connect(url_).ok()) res = conn_.Query(sql, params);
  }
  if (!res.ok()) {
    return Status::Error("cannot " + what + " in " + where_ + ": " + res.status().message());
  }
  return res;
}

std::string PgParams::Int(int64_t value) {
  values_.push_back(std::to_string(value));
  std::string placeholder = "$";
  placeholder += std::to_string(values_.size());
  placeholder += "::bigint";
  return placeholder;
}

std::string PgParams::Text(std::string value) {
  values_.push_back(std::move(value));
  std::string placeholder = "$";
  placeholder += std::to_string(values_.size());
  return placeholder;
}

std::string PgPrefixCondition(const char* column, const std::string& prefix, PgParams* params) {
  // PgConnection::Query sanitises parameters the same way; the bound is
  // computed on the text the server will see.
  const std::string low = SanitizeText(prefix);
  std::string high = low;
  while (!high.empty()) {
    size_t start = high.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(high[start]) & 0xC0) == 0x80) --start;
    const unsigned char* b = reinterpret_cast<const unsigned char*>(high.data()) + start;
    const size_t n = high.size() - start;
    uint32_t cp = n == 1   ? b[0]
                  : n == 2 ? ((b[0] & 0x1Fu) << 6) | (b[1] & 0x3Fu)
                  : n == 3 ? ((b[0] & 0x0Fu) << 12) | ((b[1] & 0x3Fu) << 6) | (b[2] & 0x3Fu)
                           : ((b[0] & 0x07u) << 18) | ((b[1] & 0x3Fu) << 12) |
                                 ((b[2] & 0x3Fu) << 6) | (b[3] & 0x3Fu);
    high.resize(start);
    if (cp < 0x10FFFF) {
      ++cp;
      if (cp == 0xD800) cp = 0xE000;  // surrogates are not characters
      AppendUtf8(cp, &high);
      break;
    }
    // U+10FFFF has no successor: increment the character before it.
  }
  std::string condition = std::string("(") + column + " >= " + params->Text(low);
  if (!high.empty()) condition += std::string(" AND ") + column + " < " + params->Text(high);
  return condition + ")";
}

Result<std::unique_ptr<CallSearch>> OpenPostgresCallSearch(const std::string& url) {
  std::unique_ptr<PostgresCallSearch> search(new PostgresCallSearch());
  Status s = search->Open(url);
  if (!s.ok()) return s;
  return std::unique_ptr<CallSearch>(std::move(search));
}

}  // namespace sipman::store::internal
