// Private to app: a buffered writer for millions of short lines per second.
#ifndef SIPMAN_APP_OUTPUT_BUFFER_H_
#define SIPMAN_APP_OUTPUT_BUFFER_H_

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sipman::app {

class OutputBuffer {
 public:
  explicit OutputBuffer(int fd) : fd_(fd) {}
  ~OutputBuffer() { Flush(); }
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  void Append(std::string_view s) {
    // An empty view may hold a null pointer, which memcpy must not get.
    if (s.empty()) return;
    if (s.size() > kCapacity - used_) {
      Flush();
      if (s.size() > kCapacity) {
        WriteAll(s.data(), s.size());
        return;
      }
    }
    std::memcpy(buffer_ + used_, s.data(), s.size());
    used_ += s.size();
  }
  void Append(char c) {
    if (used_ == kCapacity) Flush();
    buffer_[used_++] = c;
  }
  template <typename Int>
  void AppendInt(Int v) {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    Append(std::string_view(tmp, r.ptr - tmp));
  }
  // Seconds since the epoch with six decimals, from nanoseconds.
  void AppendEpochMicros(int64_t ns) {
    int64_t us = ns / 1000;
    if (us < 0) us = 0;
    AppendInt(us / 1000000);
    char frac[7];
    int64_t f = us % 1000000;
    for (int i = 5; i >= 0; --i) {
      frac[1 + i] = static_cast<char>('0' + f % 10);
      f /= 10;
    }
    frac[0] = '.';
    Append(std::string_view(frac, 7));
  }
  void Flush() {
    if (used_ > 0) WriteAll(buffer_, used_);
    used_ = 0;
  }
  // False once a write failed (e.g. the reader of a pipe went away).
  bool ok() const { return !failed_; }
  // Becomes true once a write failed; lets a loop poll for it.
  const bool* failed_flag() const { return &failed_; }

 private:
  static constexpr size_t kCapacity = 1 << 16;

  void WriteAll(const char* p, size_t n) {
    while (n > 0 && !failed_) {
      ssize_t w = ::write(fd_, p, n);
      if (w <= 0) {
        failed_ = true;
        break;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

  int fd_;
  bool failed_ = false;
  size_t used_ = 0;
  char buffer_[kCapacity];
};

}  // namespace sipman::app

#endif  // SIPMAN_APP_OUTPUT_BUFFER_H_
