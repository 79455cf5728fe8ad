#include "store/postgres_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <thread>
#include <utility>

namespace sipman::store::internal {
namespace {

// The calls columns that hold a CallRecord field of the same name as is; the
// others (sensor, src_ip, dst_ip, state, caller_media, callee_media) are
// converted and come first in kCallColumns. Same lists as SQLite's.
#define SIPMAN_PG_CALL_TEXT_FIELDS(X)                                                       \
  X(call_id) X(caller_user) X(caller_display) X(caller_domain) X(caller_tag) X(pai_user)    \
  X(callee_user) X(ruri_user) X(callee_domain) X(callee_tag) X(diversion_user) X(transport) \
  X(final_reason) X(hangup_by) X(reason_protocol) X(reason_text) X(caller_media_types)      \
  X(callee_media_types) X(caller_user_agent) X(callee_user_agent) X(correlation_id)         \
  X(linked_call_id)
#define SIPMAN_PG_CALL_INT_FIELDS(X)                                                        \
  X(src_port) X(dst_port) X(invite_ts) X(first_provisional_ts) X(first_18x_ts) X(answer_ts) \
  X(ack_ts) X(bye_ts) X(cancel_ts) X(final_ts) X(end_ts) X(duration_ms) X(connect_ms)       \
  X(post_dial_delay_ms) X(disconnect_delay_ms) X(final_status) X(reason_cause)              \
  X(message_count) X(retransmissions) X(byte_count) X(auth_challenges)

#define SIPMAN_COLUMN_NAME(field) ", " #field
constexpr const char kCallColumns[] =
    "sensor, src_ip, dst_ip, state, caller_media, callee_media"
    SIPMAN_PG_CALL_TEXT_FIELDS(SIPMAN_COLUMN_NAME) SIPMAN_PG_CALL_INT_FIELDS(SIPMAN_COLUMN_NAME);
#undef SIPMAN_COLUMN_NAME

constexpr const char kRegistrationColumns[] =
    "sensor, src_ip, call_id, aor, contact, user_agent, result, src_port, expires, "
    "status_code, challenges, request_delay_ms, first_seen, last_seen";

constexpr const char kMessageColumns[] =
    "sensor, call_id, ts, src_ip, src_port, dst_ip, dst_port, transport, method, status, cseq, "
    "size, compression, raw";

constexpr const char* kTrafficTables[3] = {"stats_second", "stats_minute", "stats_hour"};
constexpr int64_t kPeriodSeconds[3] = {1, 60, 3600};
constexpr int64_t kMinRetentionSeconds = 2 * 60;  // as SQLite's: a minute sees all its seconds
constexpr int64_t kFirstBackoffMs = 100;

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

int64_t ParseInt(std::string_view text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Length of the valid UTF-8 sequence (without NUL) at the start of `s`, or 0.
size_t Utf8Length(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return c == 0 ? 0 : 1;
  auto cont = [&](size_t i, unsigned char lo, unsigned char hi) {
    return i < n && s[i] >= lo && s[i] <= hi;
  };
  if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return cont(1, lo, hi) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Appends `text` as one field of COPY's text format: sanitized, with
// backslash, tab, newline and carriage return escaped.
void AppendCopyText(std::string_view text, std::string* out) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '\\') {
      size_t j = i + 1;
      while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '\\') ++j;
      out->append(text.data() + i, j - i);
      i = j;
      continue;
    }
    switch (c) {
      case '\\': out->append("\\\\"); ++i; continue;
      case '\t': out->append("\\t"); ++i; continue;
      case '\n': out->append("\\n"); ++i; continue;
      case '\r': out->append("\\r"); ++i; continue;
      default: break;
    }
    size_t len = Utf8Length(s + i, n - i);
    if (len == 0) {
      out->append(kReplacement);
      ++i;
    } else {
      out->append(text.data() + i, len);
      i += len;
    }
  }
}

void AppendCopyInt(int64_t v, std::string* out) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  out->append(buffer, end);
}

// bytea in COPY's text format: "\\x" and two hex digits per byte.
void AppendCopyBytea(std::string_view bytes, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  out->append("\\\\x");
  size_t at = out->size();
  out->resize(at + 2 * bytes.size());
  char* p = out->data() + at;
  for (unsigned char c : bytes) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 15];
  }
}

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

// The URL with any password replaced, for error messages and logs.
std::string RedactUrl(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t at = url.find('@', scheme + 3);
  size_t slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

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

std::string NormalizeIp(const std::string& text) {
  IpAddress ip;
  if (text.empty() || !ParseIp(text, &ip)) return text;
  char buffer[46];
  return std::string(buffer, FormatIp(ip, buffer));
}

void AddCallFilters(const CallQuery& q, Where* w) {
  if (q.from_ts != 0) w->Add("invite_ts >= " + w->P(q.from_ts));
  if (q.to_ts != 0) w->Add("invite_ts < " + w->P(q.to_ts));
  if (!q.caller.empty()) w->Prefix("caller_user", q.caller);
  if (!q.callee.empty()) w->Prefix("callee_user", q.callee);
  if (!q.call_id.empty()) w->Add("call_id = " + w->P(q.call_id));
  if (!q.ip.empty()) {
    std::string p = w->P(NormalizeIp(q.ip));
    w->Add("(src_ip = " + p + " OR dst_ip = " + p + ")");
  }
  if (!q.state.empty()) w->Add("state = " + w->P(q.state));
  if (!q.sensor.empty()) w->Add("sensor = " + w->P(q.sensor));
}

int64_t LimitOf(size_t limit) {
  if (limit == 0 || limit > kMaxQueryLimit) limit = kMaxQueryLimit;
  return static_cast<int64_t>(limit);
}

MessageCompressor* ThreadCompressor(const StoreOptions& o) {
  thread_local std::unique_ptr<MessageCompressor> compressor;
  if (compressor == nullptr || compressor->level() != o.zstd_level ||
      compressor->min_gain() != o.min_compression_gain ||
      compressor->use_dictionary() != o.zstd_dictionary) {
    compressor = std::make_unique<MessageCompressor>(o.zstd_level, o.min_compression_gain,
                                                     o.zstd_dictionary);
  }
  return compressor.get();
}

// Appends a calls/active_calls row in kCallColumns order.
void AppendCallRow(const CallRow& row, std::string* out) {
  const calls::CallRecord& r = row.record;
  AppendCopyText(r.sensor, out);
  out->push_back('\t');
  AppendCopyText(row.src_ip(), out);
  out->push_back('\t');
  AppendCopyText(row.dst_ip(), out);
  out->push_back('\t');
  AppendCopyText(calls::CallStateName(r.state), out);
  out->push_back('\t');
  AppendCopyText(row.caller_media(), out);
  out->push_back('\t');
  AppendCopyText(row.callee_media(), out);
#define SIPMAN_APPEND_TEXT(field) out->push_back('\t'); AppendCopyText(r.field, out);
  SIPMAN_PG_CALL_TEXT_FIELDS(SIPMAN_APPEND_TEXT)
#undef SIPMAN_APPEND_TEXT
#define SIPMAN_APPEND_INT(field) out->push_back('\t'); AppendCopyInt(static_cast<int64_t>(r.field), out);
  SIPMAN_PG_CALL_INT_FIELDS(SIPMAN_APPEND_INT)
#undef SIPMAN_APPEND_INT
  out->push_back('\n');
}

// Adds a traffic row (columns: ts, then TrafficColumns()) to *c.
bool AddTrafficRow(const PgResult& res, int row, stats::TrafficCounters* c) {
  stats::TrafficCounters t;
  int i = 1;
  auto u = [&] { return static_cast<uint64_t>(res.Int(row, i++)); };
  t.packets = u();
  t.frame_bytes = u();
  t.sip_bytes = u();
  t.messages = u();
  t.requests = u();
  t.responses = u();
  for (uint64_t& m : t.methods) m = u();
  for (uint64_t& r : t.classes) r = u();
  t.kernel_drops = u();
  t.interface_drops = u();
  t.in_messages = u();
  t.out_messages = u();
  t.in_sip_bytes = u();
  t.out_sip_bytes = u();
  if (!stats::ParseCodesJson(res.Text(row, i), &t.codes)) return false;
  c->AddAll(t);
  return true;
}

Status ClosedError() { return Status::Error("the store is closed; open it again to query it"); }

}  // namespace

// ---- PgResult, PgConnection, sanitising ----

PgResult::~PgResult() {
  if (result_ != nullptr) PQclear(result_);
}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = other.result_;
    other.result_ = nullptr;
  }
  return *this;
}

int PgResult::rows() const { return result_ == nullptr ? 0 : PQntuples(result_); }

std::string_view PgResult::Text(int row, int column) const {
  return std::string_view(PQgetvalue(result_, row, column),
                          static_cast<size_t>(PQgetlength(result_, row, column)));
}

int64_t PgResult::Int(int row, int column) const { return ParseInt(Text(row, column)); }

int64_t PgResult::affected_rows() const {
  return result_ == nullptr ? 0 : ParseInt(PQcmdTuples(result_));
}

void AppendSanitized(std::string_view text, std::string* out) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    size_t len = Utf8Length(s + i, text.size() - i);
    if (len == 0) {
      out->append(kReplacement);
      ++i;
    } else {
      out->append(text.data() + i, len);
      i += len;
    }
  }
}

std::string SanitizeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendSanitized(text, &out);
  return out;
}

PgConnection::~PgConnection() { Disconnect(); }

void PgConnection::Disconnect() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

bool PgConnection::connected() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

Status PgConnection::Connect(const std::string& url) {
  Disconnect();
  // The URL's own settings win over the first two; the client encoding is ours.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", "client_encoding",
                        nullptr};
  const char* values[] = {"5", "sipman", url.c_str(), "UTF8", nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (conn_ == nullptr) return Status::Error("out of memory connecting to PostgreSQL");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    Disconnect();
    last_error_retryable_ = true;
    return Status::Error(message);
  }
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "already exists" notes
  last_error_retryable_ = false;
  return Status::Ok();
}

Status PgConnection::Error(std::string_view what, pg_result* result) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  last_sqlstate_ = state == nullptr ? "" : state;
  std::string message =
      result != nullptr ? PQresultErrorMessage(result) : (conn_ ? PQerrorMessage(conn_) : "");
  if (message.empty() && conn_ != nullptr) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  // Class 08: connection exceptions; 57P01-57P03: the server is shutting
  // down or starting; also any error that left the connection broken.
  last_error_retryable_ = conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK ||
                          last_sqlstate_.starts_with("08") || last_sqlstate_ == "57P01" ||
                          last_sqlstate_ == "57P02" || last_sqlstate_ == "57P03";
  if (result != nullptr) PQclear(result);
  return Status::Error(std::string(what) + ": " + message);
}

Status PgConnection::Exec(std::string_view sql) {
  if (conn_ == nullptr) {
    last_error_retryable_ = true;
    return Status::Error("not connected");
  }
  std::string text(sql);
  pg_result* r = PQexec(conn_, text.c_str());
  ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error("query failed", r);
  PQclear(r);
  return Status::Ok();
}

Result<PgResult> PgConnection::Query(const std::string& sql,
                                     const std::vector<std::string>& params) {
  if (conn_ == nullptr) {
    last_error_retryable_ = true;
    return Status::Error("not connected");
  }
  std::vector<std::string> clean;
  clean.reserve(params.size());
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) {
    clean.push_back(SanitizeText(p));
    values.push_back(clean.back().c_str());
  }
  pg_result* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                              values.data(), nullptr, nullptr, 0);
  ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error("query failed", r);
  return PgResult(r);
}

Status PgConnection::Copy(const std::string& copy_sql, std::string_view data) {
  if (conn_ == nullptr) {
    last_error_retryable_ = true;
    return Status::Error("not connected");
  }
  pg_result* r = PQexec(conn_, copy_sql.c_str());
  if (r == nullptr || PQresultStatus(r) != PGRES_COPY_IN) return Error("cannot start COPY", r);
  PQclear(r);
  constexpr size_t kChunk = 1 << 20;
  for (size_t at = 0; at < data.size(); at += kChunk) {
    size_t n = std::min(kChunk, data.size() - at);
    if (PQputCopyData(conn_, data.data() + at, static_cast<int>(n)) != 1) {
      return Error("COPY failed", nullptr);
    }
  }
  if (PQputCopyEnd(conn_, nullptr) != 1) return Error("COPY failed", nullptr);
  Status status = Status::Ok();
  while ((r = PQgetResult(conn_)) != nullptr) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && status.ok()) {
      status = Error("COPY failed", r);
    } else {
      PQclear(r);
    }
  }
  return status;
}

// ---- PostgresStore ----

PostgresStore::PostgresStore(const StoreOptions& options, std::string url)
    : options_(options),
      url_(std::move(url)),
      where_("PostgreSQL database " + RedactUrl(url_)),
      queue_(options.max_queued_rows, options.batch_rows, this) {}

PostgresStore::~PostgresStore() { Close(); }

Result<std::unique_ptr<Store>> PostgresStore::Open(const StoreOptions& options, std::string url) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(options, std::move(url)));
  Status s = store->Init();
  if (!s.ok()) return s;
  store->queue_.Start();
  return std::unique_ptr<Store>(std::move(store));
}

Status PostgresStore::Init() {
  Status s = write_conn_.Connect(url_);
  if (!s.ok()) {
    return Status::Error("cannot connect to " + where_ + ": " + s.message() +
                         " (is the server running and the URL right? "
                         "postgresql://USER@HOST:PORT/DATABASE)");
  }
  Result<int> migrated = MigratePostgres(&write_conn_, where_);
  if (!migrated.ok()) return migrated.status();
  s = ConnectWriter();
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(read_mu_);
  s = read_conn_.Connect(url_);
  if (!s.ok()) return Status::Error("cannot open a read connection to " + where_ + ": " +
                                    s.message());
  return Status::Ok();
}

Status PostgresStore::ConnectWriter() {
  if (!write_conn_.connected()) {
    Status s = write_conn_.Connect(url_);
    if (!s.ok()) return Status::Error("cannot connect to " + where_ + ": " + s.message());
  }
  // Staging tables of this session: COPY fills them, INSERT ... SELECT ...
  // ON CONFLICT DO NOTHING moves the new rows on; the commit empties them.
  std::string sql;
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_calls ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kCallColumns + " FROM calls WITH NO DATA;";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_registrations ON COMMIT DELETE ROWS "
                     "AS SELECT ") + kRegistrationColumns + " FROM registrations WITH NO DATA;";
  sql += std::string("CREATE TEMP TABLE IF NOT EXISTS stage_messages ON COMMIT DELETE ROWS AS "
                     "SELECT ") + kMessageColumns + " FROM messages WITH NO DATA;";
  Status s = write_conn_.Exec(sql);
  if (!s.ok()) return Status::Error("cannot prepare writing to " + where_ + ": " + s.message());
  for (std::set<int64_t>& known : known_partitions_) known.clear();
  return Status::Ok();
}

Status PostgresStore::Close() {
  std::lock_guard<std::mutex> close_lock(close_mu_);
  if (closed_) return Status::Ok();
  closed_ = true;
  close_deadline_ns_ = SteadyNowNs() + int64_t{options_.close_timeout_ms} * 1000000;
  closing_ = true;
  Status status = queue_.Close();
  write_conn_.Disconnect();
  std::lock_guard<std::mutex> lock(read_mu_);
  read_conn_.Disconnect();
  read_closed_ = true;
  return status;
}

bool PostgresStore::GiveUp() const {
  return closing_ && SteadyNowNs() >= close_deadline_ns_.load();
}

void PostgresStore::Backoff(int64_t ms) {
  const int64_t until = SteadyNowNs() + ms * 1000000;
  while (SteadyNowNs() < until && !GiveUp()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

CallRow PostgresStore::EncodeCall(const calls::CallRecord& record) const {
  CallRow row;
  row.record = record;
  char src_ip[46], dst_ip[46];
  row.src_ip_size = static_cast<uint32_t>(FormatIp(record.src_ip, src_ip));
  row.dst_ip_size = static_cast<uint32_t>(FormatIp(record.dst_ip, dst_ip));
  row.texts.append(src_ip, row.src_ip_size).append(dst_ip, row.dst_ip_size);
  size_t before = row.texts.size();
  AppendMediaJson(record.caller_media, &row.texts);
  row.caller_media_size = static_cast<uint32_t>(row.texts.size() - before);
  before = row.texts.size();
  AppendMediaJson(record.callee_media, &row.texts);
  row.callee_media_size = static_cast<uint32_t>(row.texts.size() - before);
  if (row.record.sensor.empty()) row.record.sensor = options_.sensor;
  return row;
}

void PostgresStore::AddCall(const calls::CallRecord& record) { queue_.Push(EncodeCall(record)); }

void PostgresStore::AddRegistration(const calls::RegistrationRecord& record) {
  calls::RegistrationRecord copy(record);
  if (copy.sensor.empty()) copy.sensor = options_.sensor;
  queue_.Push(std::move(copy));
}

void PostgresStore::AddMessage(const StoredMessage& message) {
  EncodedMessage encoded;
  encoded.message = &message;
  encoded.sensor = message.sensor.empty() ? std::string_view(options_.sensor) : message.sensor;
  char src_ip[46], dst_ip[46];
  encoded.src_ip = std::string_view(src_ip, FormatIp(message.src_ip, src_ip));
  encoded.dst_ip = std::string_view(dst_ip, FormatIp(message.dst_ip, dst_ip));
  encoded.compression = ThreadCompressor(options_)->Compress(message.raw, &encoded.stored);
  queue_.Push(encoded);
}

void PostgresStore::AddTrafficSecond(const stats::TrafficCounters& second) {
  queue_.Push(second);
}

void PostgresStore::ReplaceActiveCalls(std::string_view sensor,
                                       std::vector<calls::CallRecord> records) {
  ActiveSnapshot snapshot;
  snapshot.sensor.assign(sensor.empty() ? std::string_view(options_.sensor) : sensor);
  snapshot.rows.reserve(records.size());
  for (calls::CallRecord& r : records) {
    r.sensor = snapshot.sensor;
    snapshot.rows.push_back(EncodeCall(r));
  }
  queue_.Push(std::move(snapshot));
}

Status PostgresStore::Flush() { return queue_.Flush(); }

StoreCounters PostgresStore::counters() const {
  StoreCounters c;
  queue_.GetCounters(&c);
  return c;
}

Status PostgresStore::WriteBatch(const RowBatch& batch, BatchResult* result) {
  int64_t backoff_ms = kFirstBackoffMs;
  bool partitions_retried = false;
  for (;;) {
    if (!write_conn_.connected()) {
      Status s = ConnectWriter();
      if (!s.ok()) {
        if (GiveUp()) {
          return Status::Error(where_ + " stayed unreachable until the store closed: " +
                               s.message());
        }
        Backoff(backoff_ms);
        backoff_ms = std::min<int64_t>(backoff_ms * 2, std::max(options_.reconnect_max_backoff_ms,
                                                                1));
        continue;
      }
    }
    BatchResult partial;
    Status s = TryWriteBatch(batch, &partial);
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
    if (GiveUp()) return s;
    Backoff(backoff_ms);
    backoff_ms =
        std::min<int64_t>(backoff_ms * 2, std::max(options_.reconnect_max_backoff_ms, 1));
  }
}

Status PostgresStore::TryWriteBatch(const RowBatch& batch, BatchResult* result) {
  Status s = EnsurePartitions(batch);
  if (!s.ok()) return s;
  s = write_conn_.Exec("BEGIN");
  if (s.ok()) s = WriteCalls(batch, result);
  if (s.ok()) s = WriteRegistrations(batch, result);
  if (s.ok()) s = WriteMessages(batch, result);
  if (s.ok()) s = WriteTraffic(batch, result);
  for (const ActiveSnapshot& snapshot : batch.active_snapshots) {
    if (s.ok()) s = ReplaceSnapshot(snapshot, result);
  }
  if (s.ok()) s = write_conn_.Exec("COMMIT");
  if (!s.ok()) return Status::Error("cannot write to " + where_ + ": " + s.message());
  return s;
}

Status PostgresStore::EnsurePartitions(const RowBatch& batch) {
  std::set<int64_t> wanted[3];
  for (const CallRow& r : batch.calls) wanted[0].insert(DayOf(r.record.invite_ts));
  for (const calls::RegistrationRecord& r : batch.registrations) {
    wanted[1].insert(DayOf(r.first_seen));
  }
  for (const MessageRow& m : batch.messages) wanted[2].insert(DayOf(m.ts));
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

Status PostgresStore::WriteCalls(const RowBatch& batch, BatchResult* result) {
  if (batch.calls.empty()) return Status::Ok();
  copy_buffer_.clear();
  for (const CallRow& row : batch.calls) AppendCallRow(row, &copy_buffer_);
  Status s = write_conn_.Copy(std::string("COPY stage_calls(") + kCallColumns + ") FROM STDIN",
                              copy_buffer_);
  if (!s.ok()) return s;
  Result<PgResult> inserted = write_conn_.Query(
      std::string("INSERT INTO calls(") + kCallColumns + ") SELECT " + kCallColumns +
      " FROM stage_calls ON CONFLICT DO NOTHING");
  if (!inserted.ok()) return inserted.status();
  const uint64_t n = static_cast<uint64_t>(inserted->affected_rows());
  result->calls_inserted += n;
  result->duplicates += batch.calls.size() - n;
  return Status::Ok();
}

Status PostgresStore::WriteRegistrations(const RowBatch& batch, BatchResult* result) {
  if (batch.registrations.empty()) return Status::Ok();
  copy_buffer_.clear();
  std::string& out = copy_buffer_;
  for (const calls::RegistrationRecord& r : batch.registrations) {
    char src_ip[46];
    AppendCopyText(r.sensor, &out);
    out.push_back('\t');
    AppendCopyText(std::string_view(src_ip, FormatIp(r.src_ip, src_ip)), &out);
    for (const std::string* text : {&r.call_id, &r.aor, &r.contact, &r.user_agent, &r.result}) {
      out.push_back('\t');
      AppendCopyText(*text, &out);
    }
    for (int64_t v : {int64_t{r.src_port}, int64_t{r.expires}, int64_t{r.status_code},
                      int64_t{r.challenges}, int64_t{r.request_delay_ms}, int64_t{r.first_seen},
                      int64_t{r.last_seen}}) {
      out.push_back('\t');
      AppendCopyInt(v, &out);
    }
    out.push_back('\n');
  }
  Status s = write_conn_.Copy(
      std::string("COPY stage_registrations(") + kRegistrationColumns + ") FROM STDIN", out);
  if (!s.ok()) return s;
  Result<PgResult> inserted = write_conn_.Query(
      std::string("INSERT INTO registrations(") + kRegistrationColumns + ") SELECT " +
      kRegistrationColumns + " FROM stage_registrations ON CONFLICT DO NOTHING");
  if (!inserted.ok()) return inserted.status();
  const uint64_t n = static_cast<uint64_t>(inserted->affected_rows());
  result->registrations_inserted += n;
  result->duplicates += batch.registrations.size() - n;
  return Status::Ok();
}

Status PostgresStore::WriteMessages(const RowBatch& batch, BatchResult* result) {
  if (batch.messages.empty()) return Status::Ok();
  copy_buffer_.clear();
  std::string& out = copy_buffer_;
  for (const MessageRow& m : batch.messages) {
    RowBatch::MessageTexts t = batch.TextsOf(m);
    AppendCopyText(t.sensor, &out);
    out.push_back('\t');
    AppendCopyText(t.call_id, &out);
    out.push_back('\t');
    AppendCopyInt(m.ts, &out);
    out.push_back('\t');
    AppendCopyText(t.src_ip, &out);
    out.push_back('\t');
    AppendCopyInt(m.src_port, &out);
    out.push_back('\t');
    AppendCopyText(t.dst_ip, &out);
    out.push_back('\t');
    AppendCopyInt(m.dst_port, &out);
    out.push_back('\t');
    AppendCopyText(t.transport, &out);
    out.push_back('\t');
    AppendCopyText(t.method, &out);
    out.push_back('\t');
    AppendCopyInt(m.status, &out);
    out.push_back('\t');
    AppendCopyInt(m.cseq, &out);
    out.push_back('\t');
    AppendCopyInt(m.raw_size, &out);
    out.push_back('\t');
    AppendCopyInt(m.compression, &out);
    out.push_back('\t');
    AppendCopyBytea(t.stored, &out);
    out.push_back('\n');
  }
  Status s = write_conn_.Copy(std::string("COPY stage_messages(") + kMessageColumns +
                                  ") FROM STDIN",
                              out);
  if (!s.ok()) return s;
  Result<PgResult> inserted = write_conn_.Query(
      std::string("WITH ins AS (INSERT INTO messages(") + kMessageColumns + ") SELECT " +
      kMessageColumns +
      " FROM stage_messages ON CONFLICT DO NOTHING RETURNING size, compression, "
      "octet_length(raw) AS stored) SELECT COUNT(*), COALESCE(SUM(size), 0), "
      "COALESCE(SUM(stored), 0), COUNT(*) FILTER (WHERE compression <> 0) FROM ins");
  if (!inserted.ok()) return inserted.status();
  const uint64_t n = static_cast<uint64_t>(inserted->Int(0, 0));
  result->messages_inserted += n;
  result->duplicates += batch.messages.size() - n;
  result->message_raw_bytes += static_cast<uint64_t>(inserted->Int(0, 1));
  result->message_stored_bytes += static_cast<uint64_t>(inserted->Int(0, 2));
  result->messages_compressed += static_cast<uint64_t>(inserted->Int(0, 3));
  return Status::Ok();
}

Status PostgresStore::ReplaceSnapshot(const ActiveSnapshot& snapshot, BatchResult* result) {
  Result<PgResult> deleted =
      write_conn_.Query("DELETE FROM active_calls WHERE sensor = $1", {snapshot.sensor});
  if (!deleted.ok()) return deleted.status();
  if (snapshot.rows.empty()) return Status::Ok();
  copy_buffer_.clear();
  for (const CallRow& row : snapshot.rows) AppendCallRow(row, &copy_buffer_);
  Status s = write_conn_.Copy(std::string("COPY active_calls(") + kCallColumns + ") FROM STDIN",
                              copy_buffer_);
  if (!s.ok()) return s;
  result->active_calls_inserted += snapshot.rows.size();
  return Status::Ok();
}

Status PostgresStore::UpsertTraffic(int t, const stats::TrafficCounters& c) {
  static const std::string columns = TrafficColumns();
  std::vector<std::string> params;
  params.push_back(options_.sensor);
  params.push_back(std::to_string(c.ts));
  auto add = [&](uint64_t v) { params.push_back(std::to_string(static_cast<int64_t>(v))); };
  add(c.packets);
  add(c.frame_bytes);
  add(c.sip_bytes);
  add(c.messages);
  add(c.requests);
  add(c.responses);
  for (uint64_t m : c.methods) add(m);
  for (uint64_t r : c.classes) add(r);
  add(c.kernel_drops);
  add(c.interface_drops);
  add(c.in_messages);
  add(c.out_messages);
  add(c.in_sip_bytes);
  add(c.out_sip_bytes);
  std::string codes;
  stats::AppendCodesJson(c.codes, &codes);
  params.push_back(std::move(codes));
  std::string sql = std::string("INSERT INTO ") + kTrafficTables[t] + "(sensor, ts, " + columns +
                    ") VALUES(";
  for (size_t i = 1; i <= params.size(); ++i) {
    sql += i == 1 ? "$" : ", $";
    sql += std::to_string(i);
  }
  sql += ") ON CONFLICT (sensor, ts) DO UPDATE SET ";
  // Every counter column is replaced by the new row's value.
  std::string_view rest = columns;
  bool first = true;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    sql += (first ? "" : ", ") + std::string(name) + " = EXCLUDED." + std::string(name);
    first = false;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  Result<PgResult> r = write_conn_.Query(sql, params);
  return r.ok() ? Status::Ok() : r.status();
}

Status PostgresStore::RollUp(int t, int64_t ts) {
  static const std::string columns = TrafficColumns();
  Result<PgResult> rows = write_conn_.Query(
      std::string("SELECT ts, ") + columns + " FROM " + kTrafficTables[t - 1] +
          " WHERE sensor = $1 AND ts >= $2 AND ts < $3",
      {options_.sensor, std::to_string(ts), std::to_string(ts + kPeriodSeconds[t])});
  if (!rows.ok()) return rows.status();
  stats::TrafficCounters sum;
  sum.ts = ts;
  for (int r = 0; r < rows->rows(); ++r) {
    if (!AddTrafficRow(*rows, r, &sum)) {
      return Status::Error(std::string(kTrafficTables[t - 1]) + " of " + where_ +
                           " has an unreadable codes column");
    }
  }
  return UpsertTraffic(t, sum);
}

Status PostgresStore::WriteTraffic(const RowBatch& batch, BatchResult* result) {
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
    Result<PgResult> r =
        write_conn_.Query("DELETE FROM stats_second WHERE sensor = $1 AND ts < $2",
                          {options_.sensor, std::to_string(newest - keep)});
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

// ---- reads ----

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
  auto res = Read(std::string("SELECT ") + kCallColumns + " FROM calls" + where.sql() +
                      " ORDER BY invite_ts, call_id, sensor, end_ts LIMIT " + limit,
                  where.params());
  if (!res.ok()) return res.status();
  std::vector<calls::CallRecord> records;
  records.reserve(static_cast<size_t>(res->rows()));
  for (int row = 0; row < res->rows(); ++row) {
    calls::CallRecord r;
    int i = 0;
    r.sensor = res->Text(row, i++);
    std::string_view src_ip = res->Text(row, i++);
    std::string_view dst_ip = res->Text(row, i++);
    if (!ParseIp(src_ip, &r.src_ip) || !ParseIp(dst_ip, &r.dst_ip)) {
      return Status::Error("calls row in " + where_ + " has an unreadable IP address '" +
                           std::string(src_ip) + "' / '" + std::string(dst_ip) + "'");
    }
    std::string_view state = res->Text(row, i++);
    if (!ParseCallState(state, &r.state)) {
      return Status::Error("calls row in " + where_ + " has an unknown state '" +
                           std::string(state) + "' (written by a newer sipman?)");
    }
    if (!ParseMediaJson(res->Text(row, i++), &r.caller_media) ||
        !ParseMediaJson(res->Text(row, i++), &r.callee_media)) {
      return Status::Error("calls row in " + where_ + " has unreadable media JSON");
    }
#define SIPMAN_READ_TEXT(field) r.field = res->Text(row, i++);
    SIPMAN_PG_CALL_TEXT_FIELDS(SIPMAN_READ_TEXT)
#undef SIPMAN_READ_TEXT
#define SIPMAN_READ_INT(field) r.field = static_cast<decltype(r.field)>(res->Int(row, i++));
    SIPMAN_PG_CALL_INT_FIELDS(SIPMAN_READ_INT)
#undef SIPMAN_READ_INT
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
  if (!q.ip.empty()) where.Add("src_ip = " + where.P(NormalizeIp(q.ip)));
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
    r.sensor = res->Text(row, 0);
    if (!ParseIp(res->Text(row, 1), &r.src_ip)) {
      return Status::Error("registrations row in " + where_ + " has an unreadable IP address '" +
                           std::string(res->Text(row, 1)) + "'");
    }
    r.call_id = res->Text(row, 2);
    r.aor = res->Text(row, 3);
    r.contact = res->Text(row, 4);
    r.user_agent = res->Text(row, 5);
    r.result = res->Text(row, 6);
    r.src_port = static_cast<uint16_t>(res->Int(row, 7));
    r.expires = res->Int(row, 8);
    r.status_code = static_cast<int>(res->Int(row, 9));
    r.challenges = static_cast<uint32_t>(res->Int(row, 10));
    r.request_delay_ms = res->Int(row, 11);
    r.first_seen = res->Int(row, 12);
    r.last_seen = res->Int(row, 13);
    records.push_back(std::move(r));
  }
  return records;
}

Result<std::vector<StoredMessageRow>> PostgresStore::MessagesOfCall(std::string_view call_id) {
  auto res = Read(std::string("SELECT id, ") + kMessageColumns +
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
  const char* sql = nullptr;
  if (table == "calls") sql = "SELECT COUNT(*) FROM calls";
  if (table == "registrations") sql = "SELECT COUNT(*) FROM registrations";
  if (table == "active_calls") sql = "SELECT COUNT(*) FROM active_calls";
  if (table == "messages") sql = "SELECT COUNT(*) FROM messages";
  if (sql == nullptr) {
    return Status::Error("no table '" + std::string(table) +
                         "' to count; use calls, active_calls, registrations or messages");
  }
  auto res = Read(sql, {});
  if (!res.ok()) return res.status();
  return res->Int(0, 0);
}

Result<std::vector<stats::TrafficCounters>> PostgresStore::TrafficRows(const TrafficQuery& q) {
  int t = q.resolution == TrafficResolution::kSecond   ? 0
          : q.resolution == TrafficResolution::kMinute ? 1
                                                       : 2;
  int64_t from = q.from_ts == 0 ? INT64_MIN : CeilDiv(q.from_ts, kNsPerSecond);
  int64_t to = q.to_ts == 0 ? INT64_MAX : CeilDiv(q.to_ts, kNsPerSecond);
  std::vector<std::string> params = {std::to_string(from), std::to_string(to)};
  if (!q.sensor.empty()) params.push_back(q.sensor);
  auto res = Read(std::string("SELECT ts, ") + TrafficColumns() + " FROM " + kTrafficTables[t] +
                      " WHERE ts >= $1 AND ts < $2" + (q.sensor.empty() ? "" : " AND sensor = $3") +
                      " ORDER BY ts",
                  params);
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
  TrafficQuery seconds = q;
  seconds.resolution = TrafficResolution::kSecond;
  auto rows = TrafficRows(seconds);
  if (!rows.ok()) return rows.status();
  stats::TrafficSummarizer summarizer;
  for (const stats::TrafficCounters& r : *rows) summarizer.AddSecond(r);

  const int64_t from = q.from_ts == 0 ? INT64_MIN : q.from_ts;
  const int64_t to = q.to_ts == 0 ? INT64_MAX : q.to_ts;
  std::string filter = q.sensor.empty() ? "" : " AND sensor = $3";
  std::vector<std::string> params = {std::to_string(from), std::to_string(to)};
  if (!q.sensor.empty()) params.push_back(q.sensor);
  auto per_second = Read("SELECT invite_ts / 1000000000, COUNT(*) FROM calls "
                         "WHERE invite_ts >= $1 AND invite_ts < $2 AND invite_ts > 0" +
                             filter + " GROUP BY 1",
                         params);
  if (!per_second.ok()) return per_second.status();
  for (int r = 0; r < per_second->rows(); ++r) {
    summarizer.AddCalls(per_second->Int(r, 0), static_cast<uint64_t>(per_second->Int(r, 1)));
  }
  stats::TrafficSummary summary = summarizer.Summary();
  if (summary.span_seconds == 0) return summary;

  int64_t span_from = std::max(from, summary.first_second * kNsPerSecond);
  int64_t span_to = std::min(to, (summary.last_second + 1) * kNsPerSecond);
  if (span_to <= span_from) return summary;
  params[0] = std::to_string(span_to);
  params[1] = std::to_string(span_from);
  auto intervals = Read("SELECT answer_ts, end_ts FROM calls WHERE invite_ts < $1 AND "
                        "end_ts > $2 AND answer_ts > 0 AND end_ts > answer_ts" + filter,
                        params);
  if (!intervals.ok()) return intervals.status();
  std::vector<std::pair<int64_t, int>> events;
  double busy_ns = 0;
  for (int r = 0; r < intervals->rows(); ++r) {
    int64_t start = std::max(intervals->Int(r, 0), span_from);
    int64_t end = std::min(intervals->Int(r, 1), span_to);
    if (end <= start) continue;
    events.emplace_back(start, +1);
    events.emplace_back(end, -1);
    busy_ns += static_cast<double>(end - start);
  }
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
