// Calls: the search (GET /api/v1/calls), one call with its messages and
// SDP (GET /api/v1/calls/{id}) and its messages as a pcap file
// (GET /api/v1/calls/{id}/pcap).
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sip/sip.h"
#include "store/store.h"
#include "web/api_handlers.h"
#include "web/api_util.h"
#include "web/pcap.h"

namespace sipman::web {
namespace {

std::string_view FirstLine(std::string_view raw) {
  size_t end = raw.find_first_of("\r\n");
  return raw.substr(0, std::min<size_t>(end, 200));
}

void WriteMessage(JsonWriter& w, const store::StoredMessageRow& m) {
  w.BeginObject().Field("id", m.id);
  WriteTime(w, "ts", m.ts);
  w.Field("src_ip", m.src_ip.ToString()).Field("src_port", static_cast<int>(m.src_port));
  w.Field("dst_ip", m.dst_ip.ToString()).Field("dst_port", static_cast<int>(m.dst_port));
  w.Field("transport", m.transport).Field("is_request", m.status == 0);
  w.Field("method", m.method).Field("status", m.status).Field("cseq", m.cseq);
  w.Field("first_line", FirstLine(m.raw));
  w.Field("size", static_cast<uint64_t>(m.raw.size())).Field("raw", m.raw);
  w.EndObject();
}

// The SDP of message `index` of the call, parsed again from its stored
// text; nothing when it has none.
void WriteSdp(JsonWriter& w, const store::StoredMessageRow& m, size_t index,
              const calls::CallRecord& call) {
  sip::SdpSession sdp;
  if (!sip::ParseMessageSdp(m.raw, &sdp)) return;
  w.BeginObject();
  w.Field("message_index", static_cast<int64_t>(index)).Field("message_id", m.id);
  WriteTime(w, "ts", m.ts);
  w.Field("src_ip", m.src_ip.ToString()).Field("src_port", static_cast<int>(m.src_port));
  w.Field("dst_ip", m.dst_ip.ToString()).Field("dst_port", static_cast<int>(m.dst_port));
  bool from_caller = m.src_ip == call.src_ip && m.src_port == call.src_port;
  w.Field("side", from_caller ? "caller" : "callee");
  w.Field("origin_address", sdp.origin_address);
  w.Key("media").BeginArray();
  for (size_t i = 0; i < sdp.media_count; ++i) {
    const sip::SdpMedia& media = sdp.media[i];
    w.BeginObject().Field("type", media.type).Field("address", media.connection_address);
    w.Field("port", static_cast<int>(media.port)).Field("protocol", media.protocol);
    w.Field("direction", sip::MediaDirectionName(media.direction));
    w.Field("formats", media.formats);
    w.Key("codecs").BeginArray();
    for (size_t k = 0; k < media.rtpmap_count; ++k) {
      const sip::SdpRtpMap& map = media.rtpmaps[k];
      w.BeginObject().Field("payload_type", static_cast<int>(map.payload_type));
      w.Field("name", map.encoding).Field("clock_rate", map.clock_rate).EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// "state": call states separated by commas.
bool StateParam(ApiContext& c, std::vector<std::string>* out) {
  std::optional<std::string> states = c.Param("state");
  if (!states) return true;
  std::string_view rest = *states;
  while (true) {
    size_t comma = rest.find(',');
    std::string state(rest.substr(0, comma));
    if (!calls::ParseCallState(state)) {
      c.Bad("state: unknown state '" + state.substr(0, 40) + "' (" + calls::CallStateNames() +
            "; several separated by commas)");
      return false;
    }
    out->push_back(state);
    if (comma == std::string_view::npos) return true;
    rest.remove_prefix(comma + 1);
  }
}

// "status": SIP status codes separated by commas.
bool StatusParam(ApiContext& c, std::vector<int>* out) {
  std::optional<std::string> statuses = c.Param("status");
  if (!statuses) return true;
  std::string_view rest = *statuses;
  while (true) {
    size_t comma = rest.find(',');
    std::optional<int64_t> code = ParseInt(rest.substr(0, comma));
    if (!code || *code < 0 || *code > 699 || out->size() >= 20) {
      c.Bad("status: SIP status codes 0-699 separated by commas (0: none)");
      return false;
    }
    out->push_back(static_cast<int>(*code));
    if (comma == std::string_view::npos) return true;
    rest.remove_prefix(comma + 1);
  }
}

// The call of path parameter {id} and its messages; false once answered
// with an error.
bool LoadCall(ApiContext& c, store::CallRow* call,
              std::vector<store::StoredMessageRow>* messages) {
  std::optional<int64_t> id = ParseInt(c.path_params[0]);
  if (!id || *id <= 0) {
    c.Bad("id: not a call id (the \"id\" of a call in /api/v1/calls)");
    return false;
  }
  if (!c.NeedDb()) return false;
  Result<std::optional<store::CallRow>> found = c.worker->search->GetCall(*id);
  if (!found.ok()) {
    c.DbError(found.status());
    return false;
  }
  if (!found->has_value()) {
    c.Fail(404, "no call with id " + c.path_params[0]);
    return false;
  }
  *call = std::move(**found);
  if (c.store == nullptr) {
    c.Fail(503, "messages are not available");
    return false;
  }
  Result<std::vector<store::StoredMessageRow>> mine = c.store->MessagesOfStoredCall(call->record);
  if (!mine.ok()) {
    c.DbError(mine.status());
    return false;
  }
  *messages = std::move(*mine);
  return true;
}

}  // namespace

void ListCalls(ApiContext& c) {
  store::CallSearchQuery q;
  if (!c.TimeParam("from", &q.from_ts) || !c.TimeParam("to", &q.to_ts)) return;
  q.caller = c.Param("caller").value_or("");
  q.caller_contains = c.Param("caller_contains").value_or("");
  q.callee = c.Param("callee").value_or("");
  q.callee_contains = c.Param("callee_contains").value_or("");
  q.call_id = c.Param("call_id").value_or("");
  q.sensor = c.Param("sensor").value_or("");
  if (!c.IpParam(&q.ip) || !StateParam(c, &q.states) || !StatusParam(c, &q.statuses)) return;
  std::optional<int64_t> min_d, max_d, limit;
  if (!c.IntParam("min_duration_ms", 0, int64_t{1} << 50, &min_d) ||
      !c.IntParam("max_duration_ms", 0, int64_t{1} << 50, &max_d) ||
      !c.IntParam("limit", 1, store::kMaxSearchLimit, &limit)) {
    return;
  }
  q.min_duration_ms = min_d;
  q.max_duration_ms = max_d;
  if (std::optional<std::string> mos = c.Param("mos_below")) {
    char* end = nullptr;
    const double value = std::strtod(mos->c_str(), &end);
    if (mos->empty() || end != mos->c_str() + mos->size() || !(value >= 1 && value <= 5)) {
      return c.Bad("mos_below: a MOS between 1 and 5, e.g. 3.6");
    }
    q.mos_below = value;
  }
  if (std::optional<std::string> flag = c.Param("media_flag")) {
    if (std::find(std::begin(store::kMediaFlags), std::end(store::kMediaFlags), *flag) ==
        std::end(store::kMediaFlags)) {
      return c.Bad("media_flag: one of one_way, no_media, unexpected_source, after_bye, "
                   "codec_not_in_answer");
    }
    q.media_flag = *flag;
  }
  q.limit = limit ? static_cast<size_t>(*limit) : 50;
  std::string sort = c.Param("sort").value_or("-invite_ts");
  if (sort == "invite_ts") {
    q.sort = store::CallSort::kInviteAsc;
  } else if (sort == "-invite_ts") {
    q.sort = store::CallSort::kInviteDesc;
  } else if (sort == "duration_ms") {
    q.sort = store::CallSort::kDurationAsc;
  } else if (sort == "-duration_ms") {
    q.sort = store::CallSort::kDurationDesc;
  } else {
    return c.Bad("sort: one of invite_ts, -invite_ts, duration_ms, -duration_ms");
  }
  // A cursor holds a position in one sort order only.
  std::string kind = "calls" + sort;
  if (!c.CursorParam(kind,
                     "cursor: not a cursor of this listing and sort order (pass next_cursor "
                     "back unchanged, with the same sort)",
                     &q.after) ||
      !c.NeedDb()) {
    return;
  }
  AnswerPage(c, "calls", kind, c.worker->search->FindCalls(q),
             [](JsonWriter& w, const store::CallRow& row) { WriteCall(w, row.record, row.id); });
}

void GetCall(ApiContext& c) {
  store::CallRow call;
  std::vector<store::StoredMessageRow> messages;
  if (!LoadCall(c, &call, &messages)) return;
  JsonWriter w;
  w.BeginObject().Key("call");
  WriteCall(w, call.record, call.id);
  w.Key("messages").BeginArray();
  for (const store::StoredMessageRow& m : messages) WriteMessage(w, m);
  w.EndArray();
  w.Key("sdp").BeginArray();
  for (size_t i = 0; i < messages.size(); ++i) WriteSdp(w, messages[i], i, call.record);
  w.EndArray();
  Result<std::vector<store::StreamRow>> streams = c.store->StreamsOfCall(call.record.call_id);
  if (!streams.ok()) {
    c.DbError(streams.status());
    return;
  }
  // Of its Call-ID's streams, those of this call: a Call-ID used again
  // later has its own (the margin is the messages').
  const calls::CallRecord& r = call.record;
  const TimestampNs from = r.invite_ts - store::Store::kCallMessageMargin;
  const TimestampNs to = r.end_ts > 0 ? r.end_ts + store::Store::kCallMessageMargin : 0;
  w.Key("streams").BeginArray();
  for (const store::StreamRow& s : *streams) {
    if (s.first_ts >= from && (to == 0 || s.first_ts <= to)) WriteStream(w, s);
  }
  w.EndArray();
  w.EndObject();
  c.Json(w);
}

void GetCallPcap(ApiContext& c) {
  store::CallRow call;
  std::vector<store::StoredMessageRow> messages;
  if (!LoadCall(c, &call, &messages)) return;
  c.resp->status = 200;
  c.resp->content_type = "application/vnd.tcpdump.pcap";
  c.resp->body = BuildCallPcap(messages);
  c.resp->AddHeader("Content-Disposition",
                    "attachment; filename=\"call-" + std::to_string(call.id) + ".pcap\"");
  c.resp->AddHeader("Cache-Control", "no-store");
}

}  // namespace sipman::web
