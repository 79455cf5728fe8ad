#include "web/api_util.h"

#include <sodium.h>

#include <cstdio>
#include <ctime>
#include <vector>

#include "base/time.h"

namespace sipman::web {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<int64_t> ParseInt(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 19) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (INT64_MAX - (c - '0')) / 10) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

std::optional<TimestampNs> ParseApiTime(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s.find('-', 1) == std::string_view::npos) {
    std::optional<int64_t> ns = ParseInt(s);
    if (!ns || *ns < 0 || *ns > kMaxTimestampNs) return std::nullopt;
    return *ns;
  }
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!Digits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &month) ||
      s[7] != '-' || !Digits(s, 8, 2, &day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  size_t pos = 10;
  int64_t frac_ns = 0;
  int64_t offset_s = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    if (!Digits(s, pos + 1, 2, &hour) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &minute)) {
      return std::nullopt;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!Digits(s, pos + 1, 2, &second)) return std::nullopt;
      pos += 3;
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        int64_t scale = kNsPerSecond / 10;
        size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          frac_ns += (s[pos] - '0') * scale;
          scale /= 10;
          ++pos;
        }
        if (pos == start) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (pos < s.size()) {
      if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
        pos = s.size();
      } else if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
        int oh, om;
        if (!Digits(s, pos + 1, 2, &oh) || !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
          return std::nullopt;
        }
        offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
      } else {
        return std::nullopt;
      }
    }
  }
  int64_t days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  // Past 2262 a time no longer fits in nanoseconds: not a time to search by.
  if (secs < 0 || secs >= kMaxTimestampSeconds) return std::nullopt;
  return secs * kNsPerSecond + frac_ns;
}

std::string FormatIsoTime(TimestampNs ts) {
  time_t secs = static_cast<time_t>(ts / kNsPerSecond);
  int64_t ms = (ts % kNsPerSecond) / kNsPerMs;
  if (ts < 0) {
    secs = 0;
    ms = 0;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms));
  return buffer;
}

std::string EncodeCursor(const Cursor& cursor) {
  std::string plain = "1|" + cursor.kind + "|" + std::to_string(cursor.key) + "|" +
                      std::to_string(cursor.id);
  std::vector<char> text(
      sodium_base64_ENCODED_LEN(plain.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING));
  sodium_bin2base64(text.data(), text.size(), reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text.data();
}

std::optional<Cursor> DecodeCursor(std::string_view text) {
  if (text.empty() || text.size() > 200) return std::nullopt;
  unsigned char plain[160];
  size_t len = 0;
  if (sodium_base642bin(plain, sizeof(plain), text.data(), text.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  std::string_view s(reinterpret_cast<const char*>(plain), len);
  std::string_view parts[4];
  for (int i = 0; i < 4; ++i) {
    size_t bar = s.find('|');
    if ((bar == std::string_view::npos) != (i == 3)) return std::nullopt;
    parts[i] = s.substr(0, bar);
    if (bar != std::string_view::npos) s.remove_prefix(bar + 1);
  }
  if (parts[0] != "1" || parts[1].empty()) return std::nullopt;
  for (char c : parts[1]) {
    if (!((c >= 'a' && c <= 'z') || c == '_' || c == '-')) return std::nullopt;
  }
  std::optional<int64_t> key = ParseInt(parts[2]), id = ParseInt(parts[3]);
  if (!key || !id) return std::nullopt;
  return Cursor{std::string(parts[1]), *key, *id};
}

}  // namespace sipman::web
