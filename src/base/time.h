#ifndef SIPMAN_BASE_TIME_H_
#define SIPMAN_BASE_TIME_H_

#include <chrono>
#include <cstdint>
#include <limits>

namespace sipman {

// A capture timestamp: nanoseconds since the Unix epoch (UTC).
using TimestampNs = int64_t;

constexpr int64_t kNsPerUs = 1000;
constexpr int64_t kNsPerMs = 1000 * kNsPerUs;
constexpr int64_t kNsPerSecond = 1000 * kNsPerMs;

// The last whole second a TimestampNs can hold: 2262-04-11T23:47:16Z.
// Every parser of times rejects (user input) or clamps (capture files) what
// lies beyond, so that no arithmetic on a timestamp overflows.
constexpr int64_t kMaxTimestampSeconds = std::numeric_limits<int64_t>::max() / kNsPerSecond;
constexpr TimestampNs kMaxTimestampNs = kMaxTimestampSeconds * kNsPerSecond;

// The wall clock (system_clock) as a TimestampNs: for what happens now, as
// opposed to capture time.
inline TimestampNs WallClockNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
// Hinnant's days_from_civil and civil_from_days).
inline int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
inline void CivilFromDays(int64_t z, int* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int>(y + (*month <= 2));
}

}  // namespace sipman

#endif  // SIPMAN_BASE_TIME_H_
