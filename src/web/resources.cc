#include "web/resources.h"

#include <cstdio>
#include <string>
#include <vector>

#include "web/api_util.h"

namespace sipman::web {

void WriteTime(JsonWriter& w, std::string_view ts_name, TimestampNs ts) {
  w.Field(ts_name, ts);
  std::string iso_name(ts_name);
  if (iso_name == "ts") {
    iso_name = "time";
  } else if (iso_name.ends_with("_ts")) {
    iso_name.replace(iso_name.size() - 3, 3, "_time");
  } else {
    iso_name += "_time";
  }
  w.Key(iso_name);
  if (ts > 0) {
    w.String(FormatIsoTime(ts));
  } else {
    w.Null();
  }
}

namespace {

void WriteMedia(JsonWriter& w, const std::vector<calls::MediaStream>& media) {
  w.BeginArray();
  for (const calls::MediaStream& m : media) {
    w.BeginObject().Field("type", m.type).Field("address", m.address);
    w.Field("port", static_cast<int>(m.port)).Field("codecs", m.codecs).EndObject();
  }
  w.EndArray();
}

}  // namespace

namespace {

// "a,b" as ["a","b"]; "" as [].
void WriteList(JsonWriter& w, std::string_view name, std::string_view list) {
  w.Key(name).BeginArray();
  while (!list.empty()) {
    const size_t comma = list.find(',');
    w.String(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  w.EndArray();
}

}  // namespace

// Every column by its name (store/streams.h), some in a richer shape.
void WriteStream(JsonWriter& w, const store::StreamRow& s) {
  w.BeginObject();
  store::VisitNamedStreamColumns(
      s,
      [&](std::string_view name, const std::string& v) {
        if (name == "payload_types" || name == "flags") {
          WriteList(w, name, v);
        } else if (name == "intervals") {
          // Written by media::AppendIntervalsJson; anything else is not passed on.
          const bool ok = v.size() >= 2 && v.front() == '{' && v.back() == '}';
          w.Key(name);
          ok ? w.Raw(v) : w.Null();
        } else {
          w.Field(name, v);
        }
      },
      [&](std::string_view name, int64_t v) {
        if (name == "first_ts" || name == "last_ts" || name == "interval_start_ts") {
          WriteTime(w, name, v);
        } else {
          w.Field(name, v);
        }
        if (name == "ssrc") {
          char hex[16];
          std::snprintf(hex, sizeof hex, "0x%08X", static_cast<uint32_t>(v));
          w.Field("ssrc_hex", std::string_view(hex));
        }
      },
      [&](std::string_view name, double v) { w.Field(name, v); });
  w.EndObject();
}

void WriteCall(JsonWriter& w, const calls::CallRecord& r, std::optional<int64_t> id) {
  w.BeginObject();
  if (id) w.Field("id", *id);
  w.Field("call_id", r.call_id).Field("sensor", r.sensor);
  w.Field("also_seen_by", r.also_seen_by);
  w.Field("caller_user", r.caller_user).Field("caller_display", r.caller_display);
  w.Field("caller_domain", r.caller_domain).Field("caller_tag", r.caller_tag);
  w.Field("pai_user", r.pai_user).Field("callee_user", r.callee_user);
  w.Field("ruri_user", r.ruri_user).Field("callee_domain", r.callee_domain);
  w.Field("callee_tag", r.callee_tag).Field("diversion_user", r.diversion_user);
  w.Field("src_ip", r.src_ip.ToString()).Field("src_port", static_cast<int>(r.src_port));
  w.Field("dst_ip", r.dst_ip.ToString()).Field("dst_port", static_cast<int>(r.dst_port));
  w.Field("transport", r.transport);
  WriteTime(w, "invite_ts", r.invite_ts);
  WriteTime(w, "first_provisional_ts", r.first_provisional_ts);
  WriteTime(w, "first_18x_ts", r.first_18x_ts);
  WriteTime(w, "answer_ts", r.answer_ts);
  WriteTime(w, "ack_ts", r.ack_ts);
  WriteTime(w, "bye_ts", r.bye_ts);
  WriteTime(w, "cancel_ts", r.cancel_ts);
  WriteTime(w, "final_ts", r.final_ts);
  WriteTime(w, "end_ts", r.end_ts);
  w.Field("duration_ms", r.duration_ms).Field("connect_ms", r.connect_ms);
  w.Field("post_dial_delay_ms", r.post_dial_delay_ms);
  w.Field("disconnect_delay_ms", r.disconnect_delay_ms);
  w.Field("final_status", r.final_status).Field("final_reason", r.final_reason);
  w.Field("state", calls::CallStateName(r.state)).Field("hangup_by", r.hangup_by);
  w.Field("reason_protocol", r.reason_protocol).Field("reason_cause", r.reason_cause);
  w.Field("reason_text", r.reason_text);
  w.Field("caller_media_types", r.caller_media_types);
  w.Key("caller_media");
  WriteMedia(w, r.caller_media);
  w.Field("callee_media_types", r.callee_media_types);
  w.Key("callee_media");
  WriteMedia(w, r.callee_media);
  w.Field("caller_user_agent", r.caller_user_agent);
  w.Field("callee_user_agent", r.callee_user_agent);
  w.Field("message_count", r.message_count).Field("retransmissions", r.retransmissions);
  w.Field("byte_count", r.byte_count).Field("auth_challenges", r.auth_challenges);
  w.Field("correlation_id", r.correlation_id).Field("linked_call_id", r.linked_call_id);
  // The media measured, as in the calls table (docs/SCHEMA.md).
  w.Field("caller_rtp_codec", r.caller_rtp_codec).Field("callee_rtp_codec", r.callee_rtp_codec);
  w.Field("caller_rtp_packets", r.caller_rtp_packets);
  w.Field("callee_rtp_packets", r.callee_rtp_packets);
  w.Field("caller_rtp_lost", r.caller_rtp_lost).Field("callee_rtp_lost", r.callee_rtp_lost);
  w.Field("caller_rtp_loss_pct", r.caller_rtp_loss_pct);
  w.Field("callee_rtp_loss_pct", r.callee_rtp_loss_pct);
  w.Field("caller_rtp_max_jitter_ms", r.caller_rtp_max_jitter_ms);
  w.Field("callee_rtp_max_jitter_ms", r.callee_rtp_max_jitter_ms);
  w.Field("caller_mos_min", r.caller_mos_min).Field("caller_mos_avg", r.caller_mos_avg);
  w.Field("callee_mos_min", r.callee_mos_min).Field("callee_mos_avg", r.callee_mos_avg);
  w.Field("mos_min", r.mos_min).Field("rtp_streams", r.rtp_streams);
  w.Field("first_rtp_ms", r.first_rtp_ms).Field("media_flags", r.media_flags);
  w.EndObject();
}

void WriteTrafficRow(JsonWriter& w, const stats::TrafficCounters& c, std::optional<bool> final) {
  w.BeginObject();
  WriteTime(w, "ts", c.ts * kNsPerSecond);
  w.Field("packets", c.packets).Field("bytes", c.frame_bytes).Field("sip_bytes", c.sip_bytes);
  w.Field("messages", c.messages).Field("requests", c.requests).Field("responses", c.responses);
  w.Key("methods").BeginObject();
  for (size_t i = 0; i < stats::kMethodCount; ++i) w.Field(stats::kMethodNames[i], c.methods[i]);
  w.EndObject();
  w.Key("classes").BeginObject();
  for (size_t i = 0; i < stats::kClassCount; ++i) {
    w.Field(std::to_string(i + 1) + "xx", c.classes[i]);
  }
  w.EndObject();
  std::string codes;
  stats::AppendCodesJson(c.codes, &codes);
  w.Key("codes").Raw(codes);
  w.Field("kernel_drops", c.kernel_drops).Field("interface_drops", c.interface_drops);
  w.Field("tls_connections", c.tls_connections).Field("tls_bytes", c.tls_bytes);
  if (final) w.Field("final", *final);
  w.EndObject();
}

void WriteAlert(JsonWriter& w, const store::AlertRow& a) {
  w.BeginObject();
  if (a.id > 0) w.Field("id", a.id);
  store::VisitNamedAlertColumns(
      a,
      [&](std::string_view name, const std::string& v) {
        if (name == "evidence") {
          w.Key("evidence").BeginArray();
          for (const std::string& item : store::ParseEvidence(v)) w.String(item);
          w.EndArray();
        } else {
          w.Field(name == "grouped_by" ? std::string_view("by") : name, v);
        }
      },
      [&](std::string_view name, int64_t v) {
        w.Field(name, v);
        w.Key(std::string(name) + "_time");
        w.String(v > 0 ? FormatIsoTime(v) : std::string());
      },
      [&](std::string_view name, double v) { w.Field(name, v); });
  w.EndObject();
}

std::string AlertJson(const store::AlertRow& alert) {
  JsonWriter w;
  WriteAlert(w, alert);
  return w.str();
}

}  // namespace sipman::web
