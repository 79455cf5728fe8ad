// The store's RTP streams (table rtp_streams): one row per stream the media
// module measured, with its 10-second intervals. Its columns are declared
// here once, for both backends' schema, writers and readers, and for the
// web API's JSON (the stream figures themselves come from media.h's
// SIPMAN_STREAM_COUNTS and SIPMAN_STREAM_MEASURES).
#ifndef SIPMAN_STORE_STREAMS_H_
#define SIPMAN_STORE_STREAMS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "media/media.h"

namespace sipman::store {

// Text columns: sender and other_sender are "caller", "callee" or "" (in
// call_id's and other_call_id's call); payload_types "0,101"; flags
// "unexpected_source,codec_not_in_answer" or ""; intervals the JSON of
// media::AppendIntervalsJson.
#define SIPMAN_STREAM_TEXT_COLUMNS(X)                                                       \
  X(sensor) X(call_id) X(sender) X(other_call_id) X(other_sender) X(src_ip) X(dst_ip)       \
  X(codec) X(payload_types) X(dtmf) X(flags) X(intervals)
// Integer columns besides the figures' counts; first_ts, last_ts and
// interval_start_ts in ns since the epoch, interval_s in seconds.
#define SIPMAN_STREAM_INT_COLUMNS(X)                                                        \
  X(src_port) X(dst_port) X(ssrc) X(payload_type) X(clock_rate) X(first_ts) X(last_ts)      \
  X(interval_start_ts) X(interval_s)

// One stored stream. The figures keep media's names; loss_pct is RFC 3550
// lost over expected, in % (0 when nothing was expected).
struct StreamRow {
#define SIPMAN_DECLARE_TEXT(field) std::string field;
  SIPMAN_STREAM_TEXT_COLUMNS(SIPMAN_DECLARE_TEXT)
#undef SIPMAN_DECLARE_TEXT
#define SIPMAN_DECLARE_INT(field) int64_t field = 0;
  SIPMAN_STREAM_INT_COLUMNS(SIPMAN_DECLARE_INT)
#undef SIPMAN_DECLARE_INT
#define SIPMAN_DECLARE_COUNT(type, field, help) int64_t field = 0;
  SIPMAN_STREAM_COUNTS(SIPMAN_DECLARE_COUNT)
#undef SIPMAN_DECLARE_COUNT
#define SIPMAN_DECLARE_MEASURE(type, field, help) double field = 0;
  SIPMAN_STREAM_MEASURES(SIPMAN_DECLARE_MEASURE)
#undef SIPMAN_DECLARE_MEASURE
  double loss_pct = 0;
};

// Every column of rtp_streams but id, in the order of StreamRow's readers:
// text, integer, the counts, the measures, loss_pct.
#define SIPMAN_STREAM_COLUMN_NAME(field) #field ", "
#define SIPMAN_STREAM_FIGURE_NAME(type, field, help) #field ", "
inline constexpr const char kStreamColumns[] =
    SIPMAN_STREAM_TEXT_COLUMNS(SIPMAN_STREAM_COLUMN_NAME)
        SIPMAN_STREAM_INT_COLUMNS(SIPMAN_STREAM_COLUMN_NAME)
            SIPMAN_STREAM_COUNTS(SIPMAN_STREAM_FIGURE_NAME)
                SIPMAN_STREAM_MEASURES(SIPMAN_STREAM_FIGURE_NAME) "loss_pct";
#undef SIPMAN_STREAM_COLUMN_NAME
#undef SIPMAN_STREAM_FIGURE_NAME
#define SIPMAN_STREAM_COUNT_ONE(field) +1
#define SIPMAN_STREAM_COUNT_FIGURE(type, field, help) +1
inline constexpr int kStreamColumnCount =
    1 SIPMAN_STREAM_TEXT_COLUMNS(SIPMAN_STREAM_COUNT_ONE)
        SIPMAN_STREAM_INT_COLUMNS(SIPMAN_STREAM_COUNT_ONE)
            SIPMAN_STREAM_COUNTS(SIPMAN_STREAM_COUNT_FIGURE)
                SIPMAN_STREAM_MEASURES(SIPMAN_STREAM_COUNT_FIGURE);
#undef SIPMAN_STREAM_COUNT_ONE
#undef SIPMAN_STREAM_COUNT_FIGURE

// Calls text(name, std::string&), integer(name, int64_t&) and real(name,
// double&) on each column of `row` in kStreamColumns order (Row: StreamRow
// or const StreamRow), so that every writer and reader, and the API's JSON,
// keep that order and those names.
template <typename Row, typename Text, typename Integer, typename Real>
void VisitNamedStreamColumns(Row& row, Text text, Integer integer, Real real) {
#define SIPMAN_VISIT_TEXT(field) text(#field, row.field);
  SIPMAN_STREAM_TEXT_COLUMNS(SIPMAN_VISIT_TEXT)
#undef SIPMAN_VISIT_TEXT
#define SIPMAN_VISIT_INT(field) integer(#field, row.field);
  SIPMAN_STREAM_INT_COLUMNS(SIPMAN_VISIT_INT)
#undef SIPMAN_VISIT_INT
#define SIPMAN_VISIT_COUNT(type, field, help) integer(#field, row.field);
  SIPMAN_STREAM_COUNTS(SIPMAN_VISIT_COUNT)
#undef SIPMAN_VISIT_COUNT
#define SIPMAN_VISIT_MEASURE(type, field, help) real(#field, row.field);
  SIPMAN_STREAM_MEASURES(SIPMAN_VISIT_MEASURE)
#undef SIPMAN_VISIT_MEASURE
  real("loss_pct", row.loss_pct);
}

// The same without the names.
template <typename Row, typename Text, typename Integer, typename Real>
void VisitStreamColumns(Row& row, Text text, Integer integer, Real real) {
  VisitNamedStreamColumns(
      row, [&](const char*, auto& v) { text(v); }, [&](const char*, auto& v) { integer(v); },
      [&](const char*, auto& v) { real(v); });
}

// The row of a measured stream, as `sensor` saw it.
StreamRow StreamRowOf(const media::StreamFigures& stream, std::string_view sensor);

// The migration that creates rtp_streams and its indexes, in SQLite's or
// PostgreSQL's types. Natural key: (first_ts, src_ip, src_port, dst_ip,
// dst_port, ssrc, sensor): the same capture analysed twice adds nothing.
std::string CreateStreamsTableSql(bool postgres);

}  // namespace sipman::store

#endif  // SIPMAN_STORE_STREAMS_H_
