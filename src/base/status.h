// Status and Result<T>: expected failures as values, never exceptions across
// module boundaries (LevelDB's Status, with a value slot).
#ifndef SIPMAN_BASE_STATUS_H_
#define SIPMAN_BASE_STATUS_H_

#include <optional>
#include <string>
#include <utility>

namespace sipman {

class Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  // `message` says what failed, where, and what to do about it.
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !message_.has_value(); }
  // Empty for OK.
  const std::string& message() const;

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

// Either a value or an error Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}                  // NOLINT: implicit by design
  Result(Status error) : error_(std::move(error)) {}             // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return error_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status error_;
};

}  // namespace sipman

#endif  // SIPMAN_BASE_STATUS_H_
