// Private to store/: the column lists of SQLite's calls and registrations
// tables and the one way to read a row of each back into a record, shared
// by the store's own queries (sqlite_store.cc) and the web API's searches
// (call_search.cc).
#ifndef SIPMAN_STORE_SQLITE_ROWS_H_
#define SIPMAN_STORE_SQLITE_ROWS_H_

#include <string>

#include "base/status.h"
#include "calls/calls.h"
#include "store/sqlite_util.h"

namespace sipman::store::internal {

// calls columns that hold a CallRecord field of the same name as is. The
// others (sensor, src_ip, dst_ip, state, caller_media, callee_media) are
// converted; kCallColumns lists those first.
#define SIPMAN_CALL_TEXT_FIELDS(X)                                                          \
  X(call_id) X(caller_user) X(caller_display) X(caller_domain) X(caller_tag) X(pai_user)    \
  X(callee_user) X(ruri_user) X(callee_domain) X(callee_tag) X(diversion_user) X(transport) \
  X(final_reason) X(hangup_by) X(reason_protocol) X(reason_text) X(caller_media_types)      \
  X(callee_media_types) X(caller_user_agent) X(callee_user_agent) X(correlation_id)         \
  X(linked_call_id) X(caller_rtp_codec) X(callee_rtp_codec) X(media_flags)
#define SIPMAN_CALL_INT_FIELDS(X)                                                           \
  X(src_port) X(dst_port) X(invite_ts) X(first_provisional_ts) X(first_18x_ts) X(answer_ts) \
  X(ack_ts) X(bye_ts) X(cancel_ts) X(final_ts) X(end_ts) X(duration_ms) X(connect_ms)       \
  X(post_dial_delay_ms) X(disconnect_delay_ms) X(final_status) X(reason_cause)              \
  X(message_count) X(retransmissions) X(byte_count) X(auth_challenges) X(caller_rtp_packets)  \
  X(callee_rtp_packets) X(caller_rtp_lost) X(callee_rtp_lost) X(rtp_streams) X(first_rtp_ms)
#define SIPMAN_CALL_REAL_FIELDS(X)                                                         \
  X(caller_rtp_loss_pct) X(callee_rtp_loss_pct) X(caller_rtp_max_jitter_ms)                \
  X(callee_rtp_max_jitter_ms) X(caller_mos_min) X(caller_mos_avg) X(callee_mos_min)         \
  X(callee_mos_avg) X(mos_min)

#define SIPMAN_COLUMN_NAME(field) ", " #field
// Every column of a call record, in the order ReadCallColumns reads them.
inline constexpr const char kCallColumns[] =
    "sensor, src_ip, dst_ip, state, caller_media, callee_media"
    SIPMAN_CALL_TEXT_FIELDS(SIPMAN_COLUMN_NAME) SIPMAN_CALL_INT_FIELDS(SIPMAN_COLUMN_NAME)
        SIPMAN_CALL_REAL_FIELDS(SIPMAN_COLUMN_NAME);
#undef SIPMAN_COLUMN_NAME

#define SIPMAN_COUNT(field) +1
inline constexpr int kCallColumnCount =
    6 SIPMAN_CALL_TEXT_FIELDS(SIPMAN_COUNT) SIPMAN_CALL_INT_FIELDS(SIPMAN_COUNT)
        SIPMAN_CALL_REAL_FIELDS(SIPMAN_COUNT);
#undef SIPMAN_COUNT

// Every column of a registration record, in ReadRegistrationColumns' order.
inline constexpr const char kRegistrationColumns[] =
    "sensor, src_ip, call_id, aor, contact, user_agent, result, src_port, expires, "
    "status_code, challenges, request_delay_ms, first_seen, last_seen";
inline constexpr int kRegistrationColumnCount = 14;

// Reads kCallColumns from column `first` of the current row of `st`.
// `row_name` says which row, for errors ("calls row 12 in sipman.db").
Status ReadCallColumns(const Statement& st, int first, const std::string& row_name,
                       calls::CallRecord* record);
// Reads kRegistrationColumns from column `first` on.
Status ReadRegistrationColumns(const Statement& st, int first, const std::string& row_name,
                               calls::RegistrationRecord* record);

}  // namespace sipman::store::internal

#endif  // SIPMAN_STORE_SQLITE_ROWS_H_
