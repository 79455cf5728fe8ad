// Private to store/: which of two sightings of one call, or of one
// registration attempt, a store keeps. A capture replayed again after a
// stopped run shows its calls again: the stopped run stored a call
// in_progress with the messages seen until then, the re-run stores it
// complete. Each backend keeps, per natural key, the sighting that ranks
// higher here; on a tie the stored row stays.
#ifndef SIPMAN_STORE_SIGHTINGS_H_
#define SIPMAN_STORE_SIGHTINGS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "calls/calls.h"

namespace sipman::store::internal {

// The natural keys: the columns that name one call and one registration
// attempt of one sensor.
inline constexpr const char kCallNaturalKey[] = "invite_ts, call_id, sensor";
inline constexpr const char kRegistrationNaturalKey[] = "first_seen, call_id, sensor";

// "a.c1 = b.c1 AND a.c2 = b.c2 ..." over the columns of a natural key: two
// rows named `a` and `b` are sightings of one call (or registration).
inline std::string SameNaturalKeySql(std::string_view key, std::string_view a,
                                     std::string_view b) {
  std::string sql;
  while (!key.empty()) {
    const size_t comma = key.find(',');
    std::string_view column = key.substr(0, comma);
    while (!column.empty() && column.front() == ' ') column.remove_prefix(1);
    if (!sql.empty()) sql += " AND ";
    sql.append(a).append(".").append(column).append(" = ");
    sql.append(b).append(".").append(column);
    key = comma == std::string_view::npos ? std::string_view() : key.substr(comma + 1);
  }
  return sql;
}

// A call sighting's rank, compared in order: more messages seen, then ended
// rather than still in progress, then the later end.
struct CallCompleteness {
  int64_t messages;
  int64_t ended;
  int64_t end_ts;
};
inline CallCompleteness CompletenessOf(const calls::CallRecord& r) {
  return {static_cast<int64_t>(r.message_count), r.state != calls::CallState::kInProgress,
          r.end_ts};
}
// The same rank as an SQL row value over the calls row named `row`
// ("calls", "excluded", "c"): "(c.message_count, c.state <> 'in_progress',
// c.end_ts)".
inline std::string CallCompletenessSql(std::string_view row) {
  const std::string r(row);
  return "(" + r + ".message_count, " + r + ".state <> 'in_progress', " + r + ".end_ts)";
}

// A registration sighting's rank: the later last message, then an answered
// attempt (a status code) over an unanswered one.
struct RegistrationCompleteness {
  int64_t last_seen;
  int64_t status_code;
};
inline RegistrationCompleteness CompletenessOf(const calls::RegistrationRecord& r) {
  return {r.last_seen, r.status_code};
}
inline std::string RegistrationCompletenessSql(std::string_view row) {
  const std::string r(row);
  return "(" + r + ".last_seen, " + r + ".status_code)";
}

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_SIGHTINGS_H_
