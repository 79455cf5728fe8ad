// Character classes and small scanning helpers shared by the sip module's
// parsers. Private to src/sip/.
#ifndef SIPMAN_SIP_SCAN_H_
#define SIPMAN_SIP_SCAN_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/ascii.h"

namespace sipman::sip::internal {

enum CharClass : uint8_t {
  kClassToken = 1 << 0,   // RFC 3261 token: alphanum and -.!%*_+`'~
  kClassLws = 1 << 1,     // SP, HT, CR, LF (folded white space)
  kClassScheme = 1 << 2,  // alphanum and +-. (URI scheme after the first char)
  kClassDigit = 1 << 3,
  // Ends a value in a parameter list: ';' ',' and LWS.
  kClassValueStop = 1 << 4,
  // Ends a host in a SIP URI (':' ';' '?') or cannot be in one (LWS, <>",@ NUL).
  kClassHostStop = 1 << 5,
  // Cannot appear in a URI's userinfo, even leniently read: LWS, <>".
  kClassUserBad = 1 << 6,
};

constexpr std::array<uint8_t, 256> MakeCharClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    uint8_t v = 0;
    if (alpha || digit) v |= kClassToken | kClassScheme;
    if (digit) v |= kClassDigit;
    for (char x : std::string_view("-.!%*_+`'~")) {
      if (c == x) v |= kClassToken;
    }
    if (c == '+' || c == '-' || c == '.') v |= kClassScheme;
    const bool lws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (lws) v |= kClassLws | kClassValueStop | kClassHostStop | kClassUserBad;
    if (c == ';' || c == ',') v |= kClassValueStop;
    for (char x : std::string_view(":;?<>\"@,")) {
      if (c == x) v |= kClassHostStop;
    }
    if (c == 0) v |= kClassHostStop;
    if (c == '<' || c == '>' || c == '"') v |= kClassUserBad;
    t[c] = v;
  }
  return t;
}
inline constexpr std::array<uint8_t, 256> kCharClasses = MakeCharClasses();

constexpr std::array<char, 256> MakeLowerTable() {
  std::array<char, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  return t;
}
inline constexpr std::array<char, 256> kLowerTable = MakeLowerTable();

inline bool HasClass(char c, uint8_t cls) {
  return (kCharClasses[static_cast<uint8_t>(c)] & cls) != 0;
}
inline bool IsLws(char c) { return HasClass(c, kClassLws); }
inline bool IsWsp(char c) { return c == ' ' || c == '\t'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsTokenChar(char c) { return HasClass(c, kClassToken); }
inline char ToLower(char c) { return kLowerTable[static_cast<uint8_t>(c)]; }

// ASCII case-insensitive equality (base/ascii.h).
using ::sipman::EqualsIgnoreCase;
using ::sipman::StartsWithIgnoreCase;

// Strips SP, HT, CR and LF at both ends (so folded values trim too).
inline std::string_view TrimLws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && IsLws(s[b])) ++b;
  while (e > b && IsLws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

inline size_t SkipLws(std::string_view s, size_t i) {
  while (i < s.size() && IsLws(s[i])) ++i;
  return i;
}

// Parses a non-empty run of decimal digits that is all of `s` and is at most
// `max`. False on anything else (sign, junk, overflow).
inline bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// Index of the first `c` in `s` at or after `from` that is outside a quoted
// string; npos when none. memchr does the scanning; quoted strings (with
// their backslash escapes) are walked only when there is one before `c`.
inline size_t FindUnquoted(std::string_view s, char c, size_t from) {
  const char* const base = s.data();
  const size_t n = s.size();
  size_t i = from;
  while (i < n) {
    const void* hit = std::memchr(base + i, c, n - i);
    const size_t limit = hit ? static_cast<size_t>(static_cast<const char*>(hit) - base) : n;
    const void* quote = std::memchr(base + i, '"', limit - i);
    if (quote == nullptr) return hit ? limit : std::string_view::npos;
    i = static_cast<size_t>(static_cast<const char*>(quote) - base) + 1;
    while (i < n && base[i] != '"') i += base[i] == '\\' ? 2 : 1;
    ++i;  // past the closing quote
  }
  return std::string_view::npos;
}

}  // namespace sipman::sip::internal

#endif  // SIPMAN_SIP_SCAN_H_
