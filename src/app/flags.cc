#include "app/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace sipman::app {

bool FlagReader::Is(std::string_view name, std::string* value, bool* missing) {
  std::string_view arg = Arg();
  if (arg == name) {
    if (i_ + 1 >= argc_) {
      *missing = true;
      return true;
    }
    *value = argv_[++i_];
    return true;
  }
  if (arg.size() > name.size() && arg.starts_with(name) && arg[name.size()] == '=') {
    *value = std::string(arg.substr(name.size() + 1));
    return true;
  }
  return false;
}

bool ParseInt(const std::string& text, int64_t lo, int64_t hi, int64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool ParseNumber(const std::string& text, double lo, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !(v >= lo) || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace sipman::app
