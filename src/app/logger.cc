#include "app/logger.h"

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <ctime>

namespace sipman::app {

Logger::~Logger() {
  if (file_ != nullptr) std::fclose(file_);
}

Status Logger::Open(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  path_ = path;
  if (path.empty()) return Status::Ok();
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) return Status::Error("cannot open log file " + path + ": " + std::strerror(errno));
  if (file_ != nullptr) std::fclose(file_);
  file_ = f;
  return Status::Ok();
}

Status Logger::Reopen() {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(mu_);
    path = path_;
  }
  if (path.empty()) return Status::Ok();
  return Open(path);
}

void Logger::Line(const char* format, ...) {
  char text[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  char stamp[40];
  size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", now.tv_nsec / 1000000);
  std::lock_guard<std::mutex> lock(mu_);
  std::FILE* out = file_ != nullptr ? file_ : stderr;
  std::fprintf(out, "%s sipman: %s\n", stamp, text);
  std::fflush(out);
}

}  // namespace sipman::app
