#include "store/streams.h"

#include "store/record_codec.h"

namespace sipman::store {

StreamRow StreamRowOf(const media::StreamFigures& s, std::string_view sensor) {
  StreamRow r;
  r.sensor.assign(sensor);
  r.call_id = s.call_id;
  r.sender = s.call_id.empty() ? "" : media::SideName(s.sender);
  r.other_call_id = s.other_call_id;
  r.other_sender = s.other_call_id.empty() ? "" : media::SideName(s.other_sender);
  char ip[46];
  r.src_ip.assign(ip, internal::FormatIp(s.src_ip, ip));
  r.dst_ip.assign(ip, internal::FormatIp(s.dst_ip, ip));
  r.codec = s.codec;
  for (int pt = 0; pt < 128; ++pt) {
    if ((s.payload_types_seen[pt >> 6] >> (pt & 63) & 1) == 0) continue;
    if (!r.payload_types.empty()) r.payload_types.push_back(',');
    r.payload_types += std::to_string(pt);
  }
  r.dtmf = s.dtmf;
  if (s.from_unexpected_source) r.flags = "unexpected_source";
  if (s.payload_not_negotiated) r.flags += r.flags.empty() ? "codec_not_in_answer" : ",codec_not_in_answer";
  if (s.rtcp_only) r.flags += r.flags.empty() ? "rtcp_only" : ",rtcp_only";
  media::AppendIntervalsJson(s, &r.intervals);
  r.src_port = s.src_port;
  r.dst_port = s.dst_port;
  r.ssrc = s.ssrc;
  r.payload_type = s.payload_type;
  r.clock_rate = s.clock_rate;
  r.first_ts = s.first_ts;
  r.last_ts = s.last_ts;
  r.interval_start_ts = s.interval_start_ts;
  r.interval_s = s.interval_ns / 1'000'000'000;
#define SIPMAN_COPY_FIGURE(type, field, help) r.field = static_cast<decltype(r.field)>(s.field);
  SIPMAN_STREAM_COUNTS(SIPMAN_COPY_FIGURE)
  SIPMAN_STREAM_MEASURES(SIPMAN_COPY_FIGURE)
#undef SIPMAN_COPY_FIGURE
  r.loss_pct = s.expected_rfc3550 > 0
                   ? 100.0 * static_cast<double>(s.lost_rfc3550) / static_cast<double>(s.expected_rfc3550)
                   : 0;
  return r;
}

std::string CreateStreamsTableSql(bool postgres) {
  const char* integer = postgres ? "BIGINT" : "INTEGER";
  const char* real = postgres ? "DOUBLE PRECISION" : "REAL";
  std::string sql = postgres ? "CREATE TABLE rtp_streams (id BIGSERIAL PRIMARY KEY"
                             : "CREATE TABLE rtp_streams (id INTEGER PRIMARY KEY";
  auto column = [&](const char* name, const char* type, const char* default_sql) {
    sql += std::string(",\n  ") + name + " " + type + " NOT NULL DEFAULT " + default_sql;
  };
#define SIPMAN_TEXT_COLUMN(field) column(#field, "TEXT", "''");
  SIPMAN_STREAM_TEXT_COLUMNS(SIPMAN_TEXT_COLUMN)
#undef SIPMAN_TEXT_COLUMN
#define SIPMAN_INT_COLUMN(field) column(#field, integer, "0");
  SIPMAN_STREAM_INT_COLUMNS(SIPMAN_INT_COLUMN)
#undef SIPMAN_INT_COLUMN
#define SIPMAN_COUNT_COLUMN(type, field, help) column(#field, integer, "0");
  SIPMAN_STREAM_COUNTS(SIPMAN_COUNT_COLUMN)
#undef SIPMAN_COUNT_COLUMN
#define SIPMAN_MEASURE_COLUMN(type, field, help) column(#field, real, "0");
  SIPMAN_STREAM_MEASURES(SIPMAN_MEASURE_COLUMN)
#undef SIPMAN_MEASURE_COLUMN
  column("loss_pct", real, "0");
  sql +=
      ");\n"
      "CREATE UNIQUE INDEX rtp_streams_natural_key ON rtp_streams"
      "(first_ts, src_ip, src_port, dst_ip, dst_port, ssrc, sensor);\n"
      "CREATE INDEX rtp_streams_call ON rtp_streams(call_id);\n"
      "CREATE INDEX rtp_streams_other_call ON rtp_streams(other_call_id) WHERE other_call_id <> '';\n";
  return sql;
}

}  // namespace sipman::store
