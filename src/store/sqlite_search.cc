// CallSearch over SQLite (call_search.h describes its plans).
#include "store/sqlite_reads.h"

#include <sqlite3.h>

#include <cstdint>
#include <string_view>
#include <utility>

#include "store/record_codec.h"
#include "store/sqlite_rows.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_util.h"

namespace sipman::store {
namespace {

using internal::Statement;

// The row id, then every column of the record (sqlite_rows.h).
const std::string& CallSelect() {
  static const std::string sql = std::string("SELECT id, ") + internal::kCallColumns + " FROM calls";
  return sql;
}
const std::string& RegistrationColumns() {
  static const std::string columns = std::string("id, ") + internal::kRegistrationColumns;
  return columns;
}

using Where = internal::SqlWhere;

// "?, ?, ?" for n values.
std::string Placeholders(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i == 0 ? "?" : ", ?";
  return s;
}

Status ReadCall(const Statement& st, const std::string& path, CallRow* row) {
  row->id = st.ColumnInt(0);
  return internal::ReadCallColumns(
      st, 1, "call " + std::to_string(row->id) + " in " + path, &row->record);
}

Status ReadRegistration(const Statement& st, const std::string& path, RegistrationRow* row) {
  row->id = st.ColumnInt(0);
  return internal::ReadRegistrationColumns(
      st, 1, "registration " + std::to_string(row->id) + " in " + path, &row->record);
}

Status CheckLimit(size_t limit) {
  if (limit < 1 || limit > kMaxSearchLimit) {
    return Status::Error("limit must be between 1 and " + std::to_string(kMaxSearchLimit));
  }
  return Status::Ok();
}

// The SQLite implementation: see call_search.h for its plans.
class SqliteCallSearch final : public CallSearch {
 public:
  SqliteCallSearch(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteCallSearch() override { sqlite3_close(db_); }

  Result<CallPage> FindCalls(const CallSearchQuery& query) override;
  Result<std::optional<CallRow>> GetCall(int64_t id) override;
  const std::string& last_plan() const override { return last_plan_; }
  Result<RegistrationPage> FindRegistrations(const RegistrationSearchQuery& query) override;
  Result<std::vector<RegistrationRow>> CurrentRegistrations(TimestampNs now_ts,
                                                            size_t limit) override;

 private:
  // How many entries of `index` match `where` (one or two text parameters,
  // then invite_ts in [from_ts, to_ts) when those are not 0), counting at
  // most `cap`: the count reads at most cap entries.
  Result<int64_t> CountUpTo(const char* index, const std::string& where,
                            const std::string& first, const std::string& second,
                            TimestampNs from_ts, TimestampNs to_ts, int64_t cap);

  struct PrefixCount {
    int64_t scanned = 0;   // entries with the prefix, at most kKeyScanLimit
    int64_t in_range = 0;  // of those, with invite_ts in [from_ts, to_ts)
  };
  // Reads the entries of `index` whose `column` starts with `prefix`, at
  // most kKeyScanLimit (to_ts 0: no upper bound).
  Result<PrefixCount> CountPrefix(const char* index, const char* column,
                                  const std::string& prefix, TimestampNs from_ts,
                                  TimestampNs to_ts);

  sqlite3* db_;
  const std::string path_;
  std::string last_plan_;
};

}  // namespace

Result<std::unique_ptr<CallSearch>> internal::OpenSqliteCallSearch(const std::string& url) {
  std::string path;
  Result<sqlite3*> db = internal::OpenSqliteReader(url, "", &path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<CallSearch>(new SqliteCallSearch(*db, path));
}

Result<int64_t> SqliteCallSearch::CountUpTo(const char* index, const std::string& where,
                                            const std::string& first, const std::string& second,
                                            TimestampNs from_ts, TimestampNs to_ts, int64_t cap) {
  std::string sql = std::string("SELECT COUNT(*) FROM (SELECT 1 FROM calls INDEXED BY ") + index +
                    " WHERE " + where;
  if (from_ts != 0) sql += " AND invite_ts >= ?";
  if (to_ts != 0) sql += " AND invite_ts < ?";
  sql += " LIMIT ?)";
  Statement st;
  Status s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  int i = 1;
  st.BindText(i++, first);
  if (!second.empty()) st.BindText(i++, second);
  if (from_ts != 0) st.BindInt(i++, from_ts);
  if (to_ts != 0) st.BindInt(i++, to_ts);
  st.BindInt(i, cap);
  if (st.Step() != SQLITE_ROW) return internal::SqliteError(db_, "cannot search calls in " + path_);
  return st.ColumnInt(0);
}

Result<SqliteCallSearch::PrefixCount> SqliteCallSearch::CountPrefix(
    const char* index, const char* column, const std::string& prefix, TimestampNs from_ts,
    TimestampNs to_ts) {
  std::string sql = std::string("SELECT COUNT(*), TOTAL(invite_ts >= ? AND invite_ts < ?) FROM "
                                "(SELECT invite_ts FROM calls INDEXED BY ") +
                    index + " WHERE " + column + " >= ? AND " + column + " < ? LIMIT ?)";
  Statement st;
  Status s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  st.BindInt(1, from_ts);
  st.BindInt(2, to_ts == 0 ? INT64_MAX : to_ts);
  // Bound text is not copied (Statement::BindText): it must outlive Step.
  const std::string prefix_end = prefix + "\xff";
  st.BindText(3, prefix);
  st.BindText(4, prefix_end);
  st.BindInt(5, kKeyScanLimit);
  if (st.Step() != SQLITE_ROW) return internal::SqliteError(db_, "cannot search calls in " + path_);
  return PrefixCount{st.ColumnInt(0), st.ColumnInt(1)};
}

Result<CallPage> SqliteCallSearch::FindCalls(const CallSearchQuery& q) {
  Status s = CheckLimit(q.limit);
  if (!s.ok()) return s;
  bool by_duration = q.sort == CallSort::kDurationAsc || q.sort == CallSort::kDurationDesc;
  bool descending = q.sort == CallSort::kInviteDesc || q.sort == CallSort::kDurationDesc;
  // Sorted by time, the cursor narrows the range itself: one bound on each
  // side, so that the index seeks to the cursor (with a second upper bound
  // SQLite would seek to only one of the two, and each page would rescan
  // the pages before it).
  TimestampNs from_ts = q.from_ts, to_ts = q.to_ts;
  if (q.after && !by_duration) {
    if (descending && q.after->key < INT64_MAX && (to_ts == 0 || q.after->key + 1 < to_ts)) {
      to_ts = q.after->key + 1;
    } else if (!descending && q.after->key > from_ts) {
      from_ts = q.after->key;
    }
  }
  // Every filter but the IP, which each plan places itself.
  Where w;
  if (from_ts != 0) {
    w.Add("invite_ts >= ?");
    w.Int(from_ts);
  }
  if (to_ts != 0) {
    w.Add("invite_ts < ?");
    w.Int(to_ts);
  }
  if (!q.caller.empty()) w.Prefix("caller_user", q.caller);
  if (!q.caller_contains.empty()) {
    w.Add("instr(caller_user, ?) > 0");
    w.Text(q.caller_contains);
  }
  if (!q.callee.empty()) w.Prefix("callee_user", q.callee);
  if (!q.callee_contains.empty()) {
    w.Add("instr(callee_user, ?) > 0");
    w.Text(q.callee_contains);
  }
  if (!q.call_id.empty()) {
    w.Add("call_id = ?");
    w.Text(q.call_id);
  }
  std::string ip;
  if (!q.ip.empty() && !internal::CanonicalIpText(q.ip, &ip)) {
    return Status::Error("ip: not an IPv4 or IPv6 address");
  }
  if (!q.states.empty()) {
    for (const std::string& state : q.states) {
      if (!calls::ParseCallState(state)) {
        return Status::Error("state: unknown state (" + calls::CallStateNames() + ")");
      }
      w.Text(state);
    }
    // "= ?", not "IN (?)": SQLite walks calls_state in time order only for
    // an equality.
    w.Add(q.states.size() == 1 ? "state = ?"
                                   : "state IN (" + Placeholders(q.states.size()) + ")");
  }
  if (!q.statuses.empty()) {
    for (int status : q.statuses) w.Int(status);
    w.Add("final_status IN (" + Placeholders(q.statuses.size()) + ")");
  }
  if (q.min_duration_ms) {
    w.Add("duration_ms >= ?");
    w.Int(*q.min_duration_ms);
  }
  if (q.max_duration_ms) {
    w.Add("duration_ms <= ?");
    w.Int(*q.max_duration_ms);
  }
  if (q.mos_below) {
    w.Add(MosBelowSql("?"));
    w.Text(MosText(*q.mos_below));
  }
  if (!q.media_flag.empty()) {
    w.Add(MediaFlagSql("?"));
    w.Text(q.media_flag);
  }
  if (!q.sensor.empty()) {
    w.Add("sensor = ?");
    w.Text(q.sensor);
  }
  const char* key = by_duration ? "duration_ms" : "invite_ts";
  if (q.after) {
    if (by_duration) {
      // Lets an index on duration_ms seek to the cursor; the row value
      // alone would not.
      w.Add(descending ? "duration_ms <= ?" : "duration_ms >= ?");
      w.Int(q.after->key);
    }
    w.Add(std::string("(") + key + ", id) " + (descending ? "<" : ">") + " (?, ?)");
    w.Int(q.after->key);
    w.Int(q.after->id);
  }
  const std::string order = std::string(" ORDER BY ") + key +
                            (descending ? " DESC, id DESC" : ", id");

  // The plan (see the header): a key index when the filters have one that
  // matches fewer than kKeyIndexLimit calls in the range, else a walk in
  // sort order.
  enum class Plan { kCallId, kCaller, kCallee, kIp, kState, kTimeWalk, kPlanner };
  Plan plan = Plan::kPlanner;
  int64_t smallest = kKeyIndexLimit;
  if (!q.call_id.empty()) {
    plan = Plan::kCallId;
  } else {
    auto consider = [&](Plan candidate, Result<int64_t> n) -> Status {
      if (!n.ok()) return n.status();
      if (*n < smallest) {
        smallest = *n;
        plan = candidate;
      }
      return Status::Ok();
    };
    // A prefix's index is read up to kKeyScanLimit entries, counting those
    // in the time range: the key plan costs that scan plus a sort of the
    // ones in range.
    auto prefix = [&](Plan candidate, const char* index, const char* column,
                      const std::string& value) -> Status {
      Result<PrefixCount> n = CountPrefix(index, column, value, from_ts, to_ts);
      if (!n.ok()) return n.status();
      if (n->scanned >= kKeyScanLimit) return Status::Ok();
      return consider(candidate, n->in_range);
    };
    if (!q.caller.empty()) {
      s = prefix(Plan::kCaller, "calls_caller_invite", "caller_user", q.caller);
      if (!s.ok()) return s;
    }
    if (!q.callee.empty()) {
      s = prefix(Plan::kCallee, "calls_callee_invite", "callee_user", q.callee);
      if (!s.ok()) return s;
    }
    if (!ip.empty() && !by_duration && plan == Plan::kPlanner) {
      // Each address index walked in time order: no count needed.
      plan = Plan::kIp;
    } else if (!ip.empty() && by_duration) {
      Result<int64_t> src = CountUpTo("calls_src_ip_invite", "src_ip = ?", ip, "", q.from_ts,
                                      q.to_ts, smallest);
      if (!src.ok()) return src.status();
      Result<int64_t> dst = CountUpTo("calls_dst_ip_invite", "dst_ip = ?", ip, "", q.from_ts,
                                      q.to_ts, smallest);
      if (!dst.ok()) return dst.status();
      s = consider(Plan::kIp, *src + *dst);
      if (!s.ok()) return s;
    }
    if (plan == Plan::kPlanner && !by_duration) {
      bool key_filter = !q.caller.empty() || !q.callee.empty() || !ip.empty();
      plan = q.states.size() == 1 && !key_filter ? Plan::kState : Plan::kTimeWalk;
    }
  }

  std::string inner;
  const std::string ip_or = "(src_ip = ? OR dst_ip = ?)";
  if (plan == Plan::kIp) {
    // Each address column through its own index, each side's first page
    // (walked in time order when sorted by time, without reading rows for the
    // range and the cursor), then the first page of both; UNION drops a call
    // whose source and destination are both ip.
    std::string rest = w.sql().empty() ? "" : " AND " + w.sql().substr(7);
    auto side = [&](const char* index, const char* column) {
      return std::string("SELECT * FROM (SELECT id, ") + key + " FROM calls INDEXED BY " +
             index + " WHERE " + column + " = ?" + rest + order + " LIMIT ?)";
    };
    inner = "SELECT id FROM (" + side("calls_src_ip_invite", "src_ip") + " UNION " +
            side("calls_dst_ip_invite", "dst_ip") + ")" + order + " LIMIT ?";
  } else {
    const char* index = plan == Plan::kCallId     ? " INDEXED BY calls_call_id"
                        : plan == Plan::kCaller   ? " INDEXED BY calls_caller_invite"
                        : plan == Plan::kCallee   ? " INDEXED BY calls_callee_invite"
                        : plan == Plan::kState    ? " INDEXED BY calls_state"
                        : plan == Plan::kTimeWalk ? " INDEXED BY calls_report"
                                                  : "";
    std::string where = w.sql();
    if (!ip.empty()) where += (where.empty() ? " WHERE " : " AND ") + ip_or;
    inner = std::string("SELECT id FROM calls") + index + where + order + " LIMIT ?";
  }
  // The plan picks the page's ids; only their rows are read.
  std::string sql = CallSelect() + " WHERE id IN (" + inner + ")" + order;
  Statement st;
  s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  int next_param = 1;
  const int64_t rows_wanted = static_cast<int64_t>(q.limit) + 1;
  if (plan == Plan::kIp) {
    for (int side = 0; side < 2; ++side) {
      st.BindText(next_param++, ip);
      next_param = w.Bind(&st, next_param);
      st.BindInt(next_param++, rows_wanted);
    }
  } else {
    next_param = w.Bind(&st, next_param);
    if (!ip.empty()) {
      st.BindText(next_param++, ip);
      st.BindText(next_param++, ip);
    }
  }
  st.BindInt(next_param, rows_wanted);
  last_plan_ = plan == Plan::kCallId     ? "calls_call_id"
               : plan == Plan::kCaller   ? "calls_caller_invite"
               : plan == Plan::kCallee   ? "calls_callee_invite"
               : plan == Plan::kIp       ? "calls_src_ip_invite+calls_dst_ip_invite"
               : plan == Plan::kState    ? "calls_state"
               : plan == Plan::kTimeWalk ? "calls_report"
                                         : "sqlite";
  CallPage page;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    if (page.rows.size() == q.limit) {
      const CallRow& last = page.rows.back();
      page.next = SearchCursor{by_duration ? last.record.duration_ms : last.record.invite_ts,
                               last.id};
      break;
    }
    CallRow row;
    s = ReadCall(st, path_, &row);
    if (!s.ok()) return s;
    page.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return internal::SqliteError(db_, "cannot search calls in " + path_);
  }
  return page;
}

Result<std::optional<CallRow>> SqliteCallSearch::GetCall(int64_t id) {
  Statement st;
  Status s = st.Prepare(db_, CallSelect() + " WHERE id = ?");
  if (!s.ok()) return s;
  st.BindInt(1, id);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return std::optional<CallRow>();
  if (rc != SQLITE_ROW) return internal::SqliteError(db_, "cannot read call in " + path_);
  CallRow row;
  s = ReadCall(st, path_, &row);
  if (!s.ok()) return s;
  return std::optional<CallRow>(std::move(row));
}

Result<RegistrationPage> SqliteCallSearch::FindRegistrations(
    const RegistrationSearchQuery& q) {
  Status s = CheckLimit(q.limit);
  if (!s.ok()) return s;
  Where w;
  if (q.from_ts != 0) {
    w.Add("first_seen >= ?");
    w.Int(q.from_ts);
  }
  if (q.to_ts != 0) {
    w.Add("first_seen < ?");
    w.Int(q.to_ts);
  }
  if (!q.user.empty()) w.Prefix("aor", q.user);
  if (!q.ip.empty()) {
    std::string ip;
    if (!internal::CanonicalIpText(q.ip, &ip)) return Status::Error("ip: not an IPv4 or IPv6 address");
    w.Add("src_ip = ?");
    w.Text(ip);
  }
  if (!q.result.empty()) {
    if (!calls::IsRegistrationResult(q.result)) {
      return Status::Error("state: unknown result (success, unregistered, failed, expired)");
    }
    w.Add("result = ?");
    w.Text(q.result);
  }
  if (!q.sensor.empty()) {
    w.Add("sensor = ?");
    w.Text(q.sensor);
  }
  if (q.after) {
    w.Add("(first_seen, id) < (?, ?)");
    w.Int(q.after->key);
    w.Int(q.after->id);
  }
  std::string sql = std::string("SELECT ") + RegistrationColumns() + " FROM registrations" +
                    w.sql() + " ORDER BY first_seen DESC, id DESC LIMIT ?";
  Statement st;
  s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  st.BindInt(w.Bind(&st), static_cast<int64_t>(q.limit) + 1);
  RegistrationPage page;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    if (page.rows.size() == q.limit) {
      page.next = SearchCursor{page.rows.back().record.first_seen, page.rows.back().id};
      break;
    }
    RegistrationRow row;
    s = ReadRegistration(st, path_, &row);
    if (!s.ok()) return s;
    page.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return internal::SqliteError(db_, "cannot search registrations in " + path_);
  }
  return page;
}

Result<std::vector<RegistrationRow>> SqliteCallSearch::CurrentRegistrations(
    TimestampNs now_ts, size_t limit) {
  Status s = CheckLimit(limit);
  if (!s.ok()) return s;
  std::string sql =
      std::string("WITH latest AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY aor, contact, "
                  "sensor ORDER BY first_seen DESC, id DESC) AS rn FROM registrations) SELECT ") +
      RegistrationColumns() +
      " FROM latest WHERE rn = 1 AND result = 'success' AND expires > 0 AND "
      "last_seen + expires * 1000000000 > COALESCE(NULLIF(?, 0), "
      "(SELECT MAX(last_seen) FROM registrations)) ORDER BY first_seen DESC, id DESC LIMIT ?";
  Statement st;
  s = st.Prepare(db_, sql);
  if (!s.ok()) return s;
  st.BindInt(1, now_ts);
  st.BindInt(2, static_cast<int64_t>(limit));
  std::vector<RegistrationRow> rows;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    RegistrationRow row;
    s = ReadRegistration(st, path_, &row);
    if (!s.ok()) return s;
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    return internal::SqliteError(db_, "cannot read current registrations in " + path_);
  }
  return rows;
}

}  // namespace sipman::store
