#include "store/sqlite_rows.h"

#include <optional>

#include "store/record_codec.h"

namespace sipman::store::internal {

Status ReadCallColumns(const Statement& st, int first, const std::string& row_name,
                       calls::CallRecord* record) {
  calls::CallRecord& r = *record;
  int i = first;
  r.sensor = st.ColumnText(i++);
  std::string_view src_ip = st.ColumnText(i++);
  std::string_view dst_ip = st.ColumnText(i++);
  if (!ParseIp(src_ip, &r.src_ip) || !ParseIp(dst_ip, &r.dst_ip)) {
    return Status::Error(row_name + " has an unreadable IP address '" + std::string(src_ip) +
                         "' / '" + std::string(dst_ip) + "'");
  }
  std::string_view state = st.ColumnText(i++);
  const std::optional<calls::CallState> parsed = calls::ParseCallState(state);
  if (!parsed) {
    return Status::Error(row_name + " has an unknown state '" + std::string(state) +
                         "' (written by a newer sipman?)");
  }
  r.state = *parsed;
  if (!ParseMediaJson(st.ColumnText(i++), &r.caller_media) ||
      !ParseMediaJson(st.ColumnText(i++), &r.callee_media)) {
    return Status::Error(row_name + " has unreadable media JSON");
  }
#define SIPMAN_READ_TEXT(field) r.field = st.ColumnText(i++);
  SIPMAN_CALL_TEXT_FIELDS(SIPMAN_READ_TEXT)
#undef SIPMAN_READ_TEXT
#define SIPMAN_READ_INT(field) r.field = static_cast<decltype(r.field)>(st.ColumnInt(i++));
  SIPMAN_CALL_INT_FIELDS(SIPMAN_READ_INT)
#undef SIPMAN_READ_INT
#define SIPMAN_READ_REAL(field) r.field = st.ColumnDouble(i++);
  SIPMAN_CALL_REAL_FIELDS(SIPMAN_READ_REAL)
#undef SIPMAN_READ_REAL
  return Status::Ok();
}

Status ReadRegistrationColumns(const Statement& st, int first, const std::string& row_name,
                               calls::RegistrationRecord* record) {
  calls::RegistrationRecord& r = *record;
  int i = first;
  r.sensor = st.ColumnText(i++);
  std::string_view src_ip = st.ColumnText(i++);
  if (!ParseIp(src_ip, &r.src_ip)) {
    return Status::Error(row_name + " has an unreadable IP address '" + std::string(src_ip) + "'");
  }
  r.call_id = st.ColumnText(i++);
  r.aor = st.ColumnText(i++);
  r.contact = st.ColumnText(i++);
  r.user_agent = st.ColumnText(i++);
  r.result = st.ColumnText(i++);
  r.src_port = static_cast<uint16_t>(st.ColumnInt(i++));
  r.expires = st.ColumnInt(i++);
  r.status_code = static_cast<int>(st.ColumnInt(i++));
  r.challenges = static_cast<uint32_t>(st.ColumnInt(i++));
  r.request_delay_ms = st.ColumnInt(i++);
  r.first_seen = st.ColumnInt(i++);
  r.last_seen = st.ColumnInt(i++);
  return Status::Ok();
}

}  // namespace sipman::store::internal
