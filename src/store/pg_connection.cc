// libpq: results, the connection, and text PostgreSQL accepts.
#include "store/pg_connection.h"

#include <libpq-fe.h>

#include <cstdlib>

#include <charconv>
#include <string>

#include "base/utf8.h"

namespace sipman::store::internal {

int64_t ParseDecimal(std::string_view text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

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

int64_t PgResult::Int(int row, int column) const { return ParseDecimal(Text(row, column)); }

double PgResult::Double(int row, int column) const {
  const std::string text(Text(row, column));
  return text.empty() ? 0 : std::strtod(text.c_str(), nullptr);
}

int64_t PgResult::affected_rows() const {
  return result_ == nullptr ? 0 : ParseDecimal(PQcmdTuples(result_));
}

size_t AppendSanitizedCharacter(std::string_view text, size_t i, std::string* out) {
  // NUL has no place in PostgreSQL text: it is replaced like a bad byte.
  const size_t len = text[i] == '\0' ? 0 : Utf8SequenceLength(text, i);
  if (len == 0) {
    out->append(kUtf8Replacement);
    return 1;
  }
  out->append(text.data() + i, len);
  return len;
}

void AppendSanitized(std::string_view text, std::string* out) {
  for (size_t i = 0; i < text.size();) i += AppendSanitizedCharacter(text, i, out);
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

}  // namespace sipman::store::internal
