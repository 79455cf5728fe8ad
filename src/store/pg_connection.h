// Private to store/: a libpq connection and result, and what PostgreSQL's
// text values need (valid UTF-8, no NUL). Used by the store's writer, its
// readers and the web API's searches (postgres_reads.h).
#ifndef SIPMAN_STORE_PG_CONNECTION_H_
#define SIPMAN_STORE_PG_CONNECTION_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

struct pg_conn;
struct pg_result;

namespace sipman::store::internal {

// An owned libpq result; empty when the query could not be sent.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(other.result_) { other.result_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  pg_result* get() const { return result_; }
  int rows() const;
  // LIFETIME: the view lives as long as this result.
  std::string_view Text(int row, int column) const;
  int64_t Int(int row, int column) const;
  double Double(int row, int column) const;  // 0 for NULL or unreadable text
  // Rows an INSERT, UPDATE or DELETE changed.
  int64_t affected_rows() const;

 private:
  pg_result* result_ = nullptr;
};

// One connection to the server, with the few operations the store needs.
// Not thread-safe: each user (the writer, the readers) has its own.
class PgConnection {
 public:
  PgConnection() = default;
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects (closing any previous connection) with UTF-8 as client encoding.
  Status Connect(const std::string& url);
  void Disconnect();
  bool connected() const;

  // Runs `sql` (several statements allowed when there are no parameters).
  Status Exec(std::string_view sql);
  // Runs `sql` with text parameters $1..$n and returns its result rows.
  // REQUIRES: no parameter holds a NUL byte (SanitizeText removes them).
  Result<PgResult> Query(const std::string& sql, const std::vector<std::string>& params = {});
  // COPY `copy_sql` (... FROM STDIN) with `data` in COPY's text format.
  Status Copy(const std::string& copy_sql, std::string_view data);

  // Whether the last error lost the connection or came from a server that
  // is shutting down or starting up: such work is worth retrying.
  bool last_error_retryable() const { return last_error_retryable_; }
  // SQLSTATE of the last error ("" when none or unknown).
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  Status Error(std::string_view what, pg_result* result);

  pg_conn* conn_ = nullptr;
  bool last_error_retryable_ = false;
  std::string last_sqlstate_;
};

// Makes `text` acceptable as a PostgreSQL text value: each byte that is not
// part of valid UTF-8, and each NUL byte, becomes U+FFFD. SQLite keeps such
// bytes as they are; PostgreSQL rejects them, and one captured header with a
// Latin-1 byte must not fail a whole batch.
void AppendSanitized(std::string_view text, std::string* out);
// One step of AppendSanitized: appends the character at text[i] (or U+FFFD
// for a byte that starts none, or NUL) and returns how many bytes it took.
size_t AppendSanitizedCharacter(std::string_view text, size_t i, std::string* out);
std::string SanitizeText(std::string_view text);

// U+FFFD, what SanitizeText and COPY text put for a byte that is not UTF-8.
inline constexpr char kUtf8Replacement[] = "\xEF\xBF\xBD";

// The decimal integer at the start of `text` (0 when there is none).
int64_t ParseDecimal(std::string_view text);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_PG_CONNECTION_H_
