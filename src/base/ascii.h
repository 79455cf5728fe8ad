// ASCII case-insensitive comparison, for protocol tokens (SIP methods and
// parameters, codec names): no locale, no allocation.
#ifndef SIPMAN_BASE_ASCII_H_
#define SIPMAN_BASE_ASCII_H_

#include <string_view>

namespace sipman {

inline char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

}  // namespace sipman

#endif  // SIPMAN_BASE_ASCII_H_
