// Private to web/: the JSON shape of each resource, written once. The API's
// responses and the live feed's events both use these, so a call or a
// second of traffic looks the same wherever a client reads it.
#ifndef SIPMAN_WEB_RESOURCES_H_
#define SIPMAN_WEB_RESOURCES_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/time.h"
#include "calls/calls.h"
#include "stats/stats.h"
#include "store/alerts_table.h"
#include "store/streams.h"
#include "web/json.h"

namespace sipman::web {

// "NAME": ns and its ISO 8601 twin ("ts" -> "time", "x_ts" -> "x_time",
// else "NAME_time"), null when `ts` is 0.
void WriteTime(JsonWriter& w, std::string_view ts_name, TimestampNs ts);

// A call. `id` is the stored row's id; the live feed has none for calls not
// yet stored, and leaves the field out (the GUI tells them apart by it).
void WriteCall(JsonWriter& w, const calls::CallRecord& call, std::optional<int64_t> id);

// An RTP stream (rtp_streams): every column by its name; first_ts and
// last_ts with their ISO twins, ssrc also as "0x" and 8 hex digits,
// payload_types and flags as arrays, intervals as their stored object.
void WriteStream(JsonWriter& w, const store::StreamRow& stream);

// One stored alert (store/alerts_table.h): every column by its name
// (grouped_by as "by", evidence as an array), times also as ISO text
// ("fired_at_time", "resolved_at_time", "" while firing).
void WriteAlert(JsonWriter& w, const store::AlertRow& alert);
std::string AlertJson(const store::AlertRow& alert);

// A second, minute or hour of traffic counters. `final` is the live feed's:
// false while the second is still counting.
void WriteTrafficRow(JsonWriter& w, const stats::TrafficCounters& counters,
                     std::optional<bool> final = std::nullopt);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_RESOURCES_H_
