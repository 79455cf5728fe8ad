#ifndef SIPMAN_BASE_TIME_H_
#define SIPMAN_BASE_TIME_H_

#include <cstdint>

namespace sipman {

// A capture timestamp: nanoseconds since the Unix epoch (UTC).
using TimestampNs = int64_t;

constexpr int64_t kNsPerUs = 1000;
constexpr int64_t kNsPerMs = 1000 * kNsPerUs;
constexpr int64_t kNsPerSecond = 1000 * kNsPerMs;

}  // namespace sipman

#endif  // SIPMAN_BASE_TIME_H_
