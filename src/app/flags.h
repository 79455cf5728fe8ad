// Private to app: reading a command's flags, the same way for every command
// (run, analyze, messages, report, serve).
#ifndef SIPMAN_APP_FLAGS_H_
#define SIPMAN_APP_FLAGS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace sipman::app {

// Walks the arguments after the command name. A flag with a value is
// written "--name VALUE" or "--name=VALUE".
class FlagReader {
 public:
  FlagReader(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool Done() const { return i_ >= argc_; }
  std::string_view Arg() const { return argv_[i_]; }
  void Next() { ++i_; }
  // True when the current argument is the flag `name` (or name=VALUE). Its
  // value goes to *value (taking the next argument); *missing is set when
  // `name` came last, without one.
  bool Is(std::string_view name, std::string* value, bool* missing);
  // As Is, for a flag whose value may not be empty, keeping it: value(),
  // and missing() when there was none or it was empty.
  bool Has(std::string_view name) {
    value_.clear();
    missing_ = false;
    if (!Is(name, &value_, &missing_)) return false;
    missing_ = missing_ || value_.empty();
    return true;
  }
  const std::string& value() const { return value_; }
  bool missing() const { return missing_; }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string value_;
  bool missing_ = false;
};

// A whole decimal integer from lo to hi.
bool ParseInt(const std::string& text, int64_t lo, int64_t hi, int64_t* out);

// A finite number, at least lo.
bool ParseNumber(const std::string& text, double lo, double* out);

}  // namespace sipman::app

#endif  // SIPMAN_APP_FLAGS_H_
