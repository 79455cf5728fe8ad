#ifndef SIPMAN_BASE_TIME_H_
#define SIPMAN_BASE_TIME_H_

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

}  // namespace sipman

#endif  // SIPMAN_BASE_TIME_H_
