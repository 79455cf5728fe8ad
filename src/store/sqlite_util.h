// Private to store/: thin RAII helpers over the SQLite C API.
#ifndef SIPMAN_STORE_SQLITE_UTIL_H_
#define SIPMAN_STORE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/status.h"

namespace sipman::store::internal {

// A prepared statement, finalized on destruction. Text and blobs bound with
// BindText/BindBlob are not copied: they must stay valid until Step() and
// Reset() are done with them.
class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&& other) noexcept {
    std::swap(stmt_, other.stmt_);
    return *this;
  }

  // `persistent` hints SQLite that the statement is reused many times.
  Status Prepare(sqlite3* db, std::string_view sql, bool persistent = false);

  void BindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  void BindDouble(int index, double value) { sqlite3_bind_double(stmt_, index, value); }
  void BindText(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
  // Binds `values` to the parameters from `first` on, in order: integers
  // with BindInt, anything else (texts) with BindText.
  template <typename... Values>
  void BindFrom(int first, const Values&... values) {
    int index = first;
    (BindOne(index++, values), ...);
    (void)index;  // no values
  }
  void BindBlob(int index, std::string_view bytes) {
    sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  // Readies the statement for the next Step; bindings stay (rebind them all).
  void Reset() { sqlite3_reset(stmt_); }

  int64_t ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }
  double ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }
  // LIFETIME: valid until the next Step, Reset or column read of this statement.
  std::string_view ColumnText(int column) const;
  std::string_view ColumnBlob(int column) const;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  template <typename T>
  void BindOne(int index, const T& value) {
    if constexpr (std::is_integral_v<T>) {
      BindInt(index, static_cast<int64_t>(value));
    } else {
      BindText(index, std::string_view(value));
    }
  }
  sqlite3_stmt* stmt_ = nullptr;
};

// A WHERE clause under construction: conditions of fixed SQL text, and the
// values of their "?" parameters in order. Values only ever travel as
// parameters. LIFETIME: Bind() binds text without copying it, so the
// SqlWhere must outlive the statement's steps.
class SqlWhere {
 public:
  void Add(std::string_view condition) {
    sql_ += sql_.empty() ? " WHERE " : " AND ";
    sql_ += condition;
  }
  void Int(int64_t value) { params_.push_back(Param{false, value, {}}); }
  void Text(std::string value) { params_.push_back(Param{true, 0, std::move(value)}); }
  // `column` starts with `prefix`, as a range its index serves. No UTF-8
  // text holds a 0xFF byte, so prefix + "\xff" bounds every extension.
  void Prefix(std::string_view column, const std::string& prefix) {
    std::string condition = "(";
    condition.append(column).append(" >= ? AND ").append(column).append(" < ?)");
    Add(condition);
    Text(prefix);
    Text(prefix + "\xff");
  }
  // " WHERE a AND b", or "" without conditions.
  const std::string& sql() const { return sql_; }
  int size() const { return static_cast<int>(params_.size()); }
  // Binds the values from parameter `first` on; returns the next number.
  int Bind(Statement* st, int first = 1) const {
    int i = first;
    for (const Param& p : params_) {
      if (p.is_text) {
        st->BindText(i++, p.text);
      } else {
        st->BindInt(i++, p.number);
      }
    }
    return i;
  }

 private:
  struct Param {
    bool is_text = false;
    int64_t number = 0;
    std::string text;
  };
  std::string sql_;
  std::vector<Param> params_;
};

// Runs SQL without results (several statements allowed).
Status Exec(sqlite3* db, const char* sql);

// "<what>: <sqlite message> (<code name>)".
Status SqliteError(sqlite3* db, std::string_view what);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_SQLITE_UTIL_H_
