// Private to app: the log of `sipman run`. One line per event, prefixed with
// the UTC time to the millisecond, written to standard error or to a file
// that Reopen() opens again (after logrotate moved it, on SIGHUP).
// Thread-safe: every method may be called from any thread.
#ifndef SIPMAN_APP_LOGGER_H_
#define SIPMAN_APP_LOGGER_H_

#include <cstdio>
#include <mutex>
#include <string>

#include "base/status.h"

namespace sipman::app {

class Logger {
 public:
  Logger() = default;
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Appends to `path` from now on; empty: standard error.
  Status Open(const std::string& path);
  // Closes and opens the file again (no-op for standard error).
  Status Reopen();
  // Writes "2025-11-25T13:00:00.123Z sipman: <text>\n" and flushes.
  void Line(const char* format, ...) __attribute__((format(printf, 2, 3)));

 private:
  std::mutex mu_;
  std::string path_;
  std::FILE* file_ = nullptr;  // nullptr: stderr
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_LOGGER_H_
