// The calls module's public face: CallTracker turns parsed SIP messages into
// calls (INVITE dialogs) and registrations, and hands one record per call and
// per registration attempt to a RecordSink.
//
// The tracker knows SIP meaning, not wire grammar (that is sip/) and not
// where messages come from (that is net/ and capture/). It is single-threaded:
// to scale up, shard messages by Call-ID hash over several trackers.
//
// Correlation does not depend on packet order: a call is created by any
// message of an INVITE dialog, whichever arrives first, and its times are the
// earliest capture timestamps seen, not the first arrivals. Everything open is
// expired by timers in capture time (AdvanceTime) and by a cap on open calls,
// so memory stays bounded under floods; at the cap the call cheapest to lose
// goes first (an unanswered INVITE before an answered call), so a flood
// does not push out genuine calls.
#ifndef SIPMAN_CALLS_CALLS_H_
#define SIPMAN_CALLS_CALLS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "base/time.h"
#include "sip/sip.h"

namespace sipman::calls {

// One parsed SIP message with its capture metadata.
// LIFETIME: `message` (and every view in it), `transport` and `raw` are valid
// only during CallTracker::OnMessage; the tracker copies what it keeps.
struct SipEvent {
  TimestampNs ts = 0;  // capture time; must be > 0 (0 means "absent" in records)
  IpAddress src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  std::string_view transport;  // "udp", "tcp", "ws", ...
  const sip::SipMessage* message = nullptr;
  std::string_view raw;        // the message's bytes (its size is counted)
  uint32_t frame_bytes = 0;    // the captured frame's size (informational)
};

// How a call ended. Derived when the record is emitted:
//   kAnswered   2xx to the INVITE and a BYE.
//   kBusy       final 486 or 600.
//   kCancelled  CANCEL seen (or 487, or a BYE on an early dialog) without an answer.
//   kNoAnswer   final 408 or 480; or no final response before the call
//               expired: no response at all within invite_response_timeout
//               (Timer B), or a provisional but no final response within
//               invite_timeout (Timer C); or evicted by the open-call cap
//               before a final response (the label its timer would give).
//   kFailed     any other final 3xx-6xx (3xx redirects included); a 401/407
//               challenge whose retry did not come within kAuthRetryWindow.
//   kInProgress still up when Finish() was called: answered without BYE, or
//               still waiting for a final response.
//   kTimedOut   answered, but the tracker gave up on it before its BYE: none
//               within call_max_duration or idle_timeout, or evicted by the
//               open-call cap when every open call was an answered one.
//               Only answered calls end so.
enum class CallState : uint8_t {
  kAnswered,
  kBusy,
  kCancelled,
  kNoAnswer,
  kFailed,
  kInProgress,
  kTimedOut,
};

inline constexpr CallState kCallStates[] = {
    CallState::kAnswered, CallState::kBusy,       CallState::kCancelled, CallState::kNoAnswer,
    CallState::kFailed,   CallState::kInProgress, CallState::kTimedOut};

// "answered", "busy", "cancelled", "no_answer", "failed", "in_progress", "timed_out".
std::string_view CallStateName(CallState state);
// The state so named; nullopt for any other text.
std::optional<CallState> ParseCallState(std::string_view name);
// Every state's name, separated by ", " (for error messages).
std::string CallStateNames();

// One SDP media stream: where one side wants to receive it, and its codecs.
struct MediaStream {
  std::string type;     // "audio", "video", "image", ...
  std::string address;  // connection address (media level, else session level)
  uint16_t port = 0;    // 0 for a disabled stream
  std::string codecs;   // "PCMU/8000,telephone-event/8000", in format order
};

// The call detail record. Field names are the store's SQL column names.
// Times are capture times (0 when absent); *_ms are milliseconds.
struct CallRecord {
  std::string call_id;
  std::string sensor;  // left empty here; the app fills it
  // Central PostgreSQL store only: the other sensors that saw this same
  // call, comma-separated ("edge-b,edge-c"); the row keeps the view of the
  // sensor that stored it first. Empty elsewhere.
  std::string also_seen_by;

  // Caller: the INVITE's From (and P-Asserted-Identity).
  std::string caller_user, caller_display, caller_domain, caller_tag, pai_user;
  // Callee: To user, request-URI user, To domain, and the To tag of the
  // answered branch (else of the final response, else of the last provisional).
  std::string callee_user, ruri_user, callee_domain, callee_tag;
  std::string diversion_user;  // user of the first Diversion header

  // Signalling endpoints and transport of the first INVITE (for a call whose
  // INVITE was never seen: derived from its first response, reversed).
  IpAddress src_ip, dst_ip;
  uint16_t src_port = 0, dst_port = 0;
  std::string transport;

  TimestampNs invite_ts = 0;
  TimestampNs first_provisional_ts = 0;  // any 1xx to the INVITE
  TimestampNs first_18x_ts = 0;
  TimestampNs answer_ts = 0;  // 2xx to the INVITE
  TimestampNs ack_ts = 0;     // ACK of the answered INVITE
  TimestampNs bye_ts = 0;
  TimestampNs cancel_ts = 0;
  TimestampNs final_ts = 0;   // final response to the INVITE
  // BYE time for answered calls; the final response (or CANCEL) time for
  // failed ones; the last message seen for calls expired by timers or the
  // cap; 0 for calls still in progress.
  TimestampNs end_ts = 0;

  int64_t duration_ms = 0;          // ACK (else 2xx) to BYE; 0 when not answered or no BYE
  int64_t connect_ms = 0;           // 2xx to BYE; 0 when not answered or no BYE
  int64_t post_dial_delay_ms = -1;  // INVITE to first 18x, else to the final; -1 when neither
  int64_t disconnect_delay_ms = -1; // BYE to its final response; -1 when none

  int final_status = 0;  // 0 when none
  std::string final_reason;
  CallState state = CallState::kInProgress;
  std::string hangup_by;  // "caller", "callee" or "" (from the BYE's direction)

  // Reason header (RFC 3326) of the BYE, CANCEL or final response; a Q.850
  // value is preferred over a SIP one when both are given.
  std::string reason_protocol;  // "Q.850", "SIP", ...
  int reason_cause = 0;         // 0 when absent
  std::string reason_text;

  // Media as last negotiated (the latest SDP from each side wins: INVITE or
  // re-INVITE or UPDATE offers, 18x/2xx answers, ACK answers).
  std::string caller_media_types;  // "audio,video"
  std::vector<MediaStream> caller_media;
  std::string callee_media_types;
  std::vector<MediaStream> callee_media;

  std::string caller_user_agent;  // User-Agent of the INVITE
  std::string callee_user_agent;  // Server (else User-Agent) from the callee side

  // Every message with this Call-ID, retransmissions included.
  uint32_t message_count = 0;
  uint32_t retransmissions = 0;
  uint64_t byte_count = 0;  // sum of the raw message sizes
  uint32_t auth_challenges = 0;  // 401/407 responses to the INVITE

  // B2BUA leg correlation (CallTrackerOptions::correlation_header).
  std::string correlation_id;  // the header's value in this call's INVITE
  std::string linked_call_id;  // the Call-ID of the other leg, when seen

  // The RTP each party sent, as the media module measured it (the app fills
  // these; the tracker leaves them as they are): codec, packets, RFC 3550
  // loss, highest jitter, E-model MOS after a 50 ms jitter buffer (lowest
  // and packet-weighted mean of its streams; -1 when not computable).
  std::string caller_rtp_codec, callee_rtp_codec;
  int64_t caller_rtp_packets = 0, callee_rtp_packets = 0;
  int64_t caller_rtp_lost = 0, callee_rtp_lost = 0;
  double caller_rtp_loss_pct = 0, callee_rtp_loss_pct = 0;
  double caller_rtp_max_jitter_ms = 0, callee_rtp_max_jitter_ms = 0;
  double caller_mos_min = -1, caller_mos_avg = -1;
  double callee_mos_min = -1, callee_mos_avg = -1;
  double mos_min = -1;           // the lower of the two directions' lowest
  int64_t rtp_streams = 0;       // RTP streams joined to the call
  int64_t first_rtp_ms = -1;     // answer to the first RTP packet after it; -1 when none
  // Comma-separated, in this order: one_way (answered, RTP one way only),
  // no_media (answered, no RTP at all), unexpected_source (RTP from an
  // address no SDP named), after_bye (RTP over a second after the BYE),
  // codec_not_in_answer (a payload type the SDP did not list).
  std::string media_flags;
};

// A registration attempt's result, RegistrationRecord::result.
inline constexpr std::string_view kRegistrationSuccess = "success";
inline constexpr std::string_view kRegistrationUnregistered = "unregistered";
inline constexpr std::string_view kRegistrationFailed = "failed";
inline constexpr std::string_view kRegistrationExpired = "expired";
inline constexpr std::string_view kRegistrationResults[] = {
    kRegistrationSuccess, kRegistrationUnregistered, kRegistrationFailed, kRegistrationExpired};
bool IsRegistrationResult(std::string_view text);

// One registration attempt: REGISTER(s) with one Call-ID up to the final
// non-challenge response.
//   result "success"       2xx with expires != 0
//          "unregistered"  2xx to a REGISTER with expires 0
//          "failed"        a final 3xx-6xx (status_code says which), or a
//                          401/407 challenge that no new REGISTER answered
//                          within register_timeout
//          "expired"       no final response within register_timeout
//                          (status_code 0)
struct RegistrationRecord {
  std::string call_id;
  std::string sensor;  // left empty here; the app fills it
  std::string aor;     // To URI "user@host" of the REGISTER
  std::string contact; // first Contact URI of the REGISTER ("*" for unregister-all)
  IpAddress src_ip;
  uint16_t src_port = 0;
  std::string user_agent;
  // Contact expires parameter, else Expires header of the REGISTER, else
  // of the 2xx; -1 when none says.
  int64_t expires = -1;
  std::string result;
  int status_code = 0;
  uint32_t challenges = 0;          // 401/407 responses in this attempt
  int64_t request_delay_ms = -1;    // first REGISTER to its 2xx (RFC 6076 RRD); -1 otherwise
  TimestampNs first_seen = 0;
  TimestampNs last_seen = 0;
};

// Receives the tracker's records. Called from inside CallTracker's methods;
// an implementation must not call back into the tracker.
// LIFETIME: the record is valid only during the call; copy what you keep.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void OnCall(const CallRecord& record) = 0;
  virtual void OnRegistration(const RegistrationRecord& record) = 0;
};

// How long a call whose INVITE was challenged (401/407) waits for the
// caller's retry with credentials before it is emitted as failed. The retry
// belongs to the call however late it comes (RFC 3261 sections 22.2 and
// 8.1.3.5: same Call-ID and From tag, next CSeq, credentials answering the
// challenge's nonce), and the RFC sets no limit: a phone that asks its user
// for the password retries when the user has typed it, and the server takes
// the retry as long as its nonce is valid, typically minutes (Kamailio's
// nonce_expire defaults to 300 s). Ten minutes covers both; a retry later
// than that starts a new call. A challenged call is held that long instead
// of the linger time; the open-call cap still bounds how many are held.
constexpr TimestampNs kAuthRetryWindow = 10 * 60 * kNsPerSecond;

struct CallTrackerOptions {
  // Open calls kept at most (0: no cap). A call that would go past it first
  // evicts one: the least recently active call (by last message) of the
  // first non-empty class below, cheapest to lose first, emitted with the
  // state its timer would give it and counted (calls_evicted_*):
  //  1. no_response: an INVITE without a response beyond a next hop's 100
  //     Trying: stored no_answer, as Timer B would. A flood of INVITEs
  //     (a scanner, a looping proxy) is all here; a real call leaves this
  //     class with its first 18x, usually within a second.
  //  2. challenged: ended by a 401/407 and held kAuthRetryWindow for the
  //     retry: stored failed with the 401/407, as the window's end would; a
  //     later retry starts a new call. A scanner's INVITEs that the server
  //     challenges are here.
  //  3. ended: hung up, failed or cancelled, lingering for late copies: its
  //     record is complete and stored with its true state, only early; a
  //     late copy is then an orphan (a repeated INVITE or final response
  //     starts a second record).
  //  4. ringing: a provisional from the callee, no final response yet:
  //     stored no_answer, as Timer C would. It may still be answered: its
  //     2xx would then start a second record, so it goes after ended calls.
  //  5. established: answered, no BYE: stored timed_out (the tracker gave
  //     up on it), and its BYE would be an orphan; evicted only when every
  //     open call is answered, i.e. when the cap is too low for the traffic.
  size_t max_open_calls = 200000;
  // Open registration attempts kept at most; past it the oldest is emitted
  // as expired.
  size_t max_open_registrations = 100000;
  // No response at all this long after the INVITE: no_answer. RFC 3261
  // Timer B (64*T1, section 17.1.1.2): the caller's INVITE transaction
  // gives up then. Counted from the latest attempt (an auth retry is one).
  TimestampNs invite_response_timeout = 32 * kNsPerSecond;
  // A provisional response but no final response this long after the
  // INVITE: no_answer. RFC 3261 Timer C (section 16.6 step 11: more than
  // 3 minutes), which bounds a proxied INVITE that rings unanswered.
  TimestampNs invite_timeout = 180 * kNsPerSecond;
  // Answered, no BYE this long after the answer: timed_out.
  TimestampNs call_max_duration = 4 * 3600 * kNsPerSecond;
  // Answered, no message at all for this long: timed_out. 0 disables.
  TimestampNs idle_timeout = 2 * 3600 * kNsPerSecond;
  // A finished call (BYE, final failure, CANCEL) stays this long to absorb
  // retransmissions and late ACK / 200-for-BYE before it is emitted (64*T1,
  // RFC 3261 timer H/J-like); one ended by a 401/407 challenge stays
  // kAuthRetryWindow. A completed registration is also remembered this
  // long, so its retransmissions are not counted as orphans.
  TimestampNs linger = 32 * kNsPerSecond;
  // A registration attempt without a final response this long: expired.
  TimestampNs register_timeout = 32 * kNsPerSecond;
  // B2BUA leg correlation: when not empty, the value of this header in an
  // INVITE is recorded as correlation_id, and two calls are linked when one's
  // value is the other's Call-ID or both carry the same value.
  std::string correlation_header;
};

struct CallTrackerCounters {
  uint64_t messages = 0;             // OnMessage calls
  uint64_t malformed_skipped = 0;    // no message, no Call-ID, unreadable CSeq
  uint64_t retransmissions = 0;      // repeats of a message already seen
  uint64_t calls_created = 0;
  uint64_t calls_emitted = 0;
  // Calls emitted early because of max_open_calls, and how many of them
  // from each eviction class (see max_open_calls): the five add up to
  // calls_evicted.
  uint64_t calls_evicted = 0;
  uint64_t calls_evicted_no_response = 0;  // stored no_answer
  uint64_t calls_evicted_challenged = 0;   // stored failed (401/407)
  uint64_t calls_evicted_ended = 0;        // stored with their final state
  uint64_t calls_evicted_ringing = 0;      // stored no_answer
  uint64_t calls_evicted_established = 0;  // stored timed_out
  uint64_t calls_without_invite = 0; // emitted calls whose INVITE was never seen
  // BYE, ACK, CANCEL, PRACK, UPDATE or an in-dialog INVITE for no known call.
  uint64_t orphan_requests = 0;
  // Responses to BYE, CANCEL, PRACK or UPDATE for no known call, and
  // REGISTER transactions seen only from their responses (counted when they
  // expire: a response may come before its REGISTER).
  uint64_t orphan_responses = 0;
  // Out-of-dialog OPTIONS, MESSAGE, SUBSCRIBE, NOTIFY, INFO, PUBLISH, REFER
  // ... and their responses: counted, they make no call.
  uint64_t non_call_messages = 0;
  uint64_t registrations_created = 0;
  uint64_t registrations_emitted = 0;
  uint64_t open_calls = 0;           // gauge
  uint64_t open_registrations = 0;   // gauge (completed ones lingering included)
};

class CallTracker {
 public:
  // `sink` must outlive the tracker.
  CallTracker(const CallTrackerOptions& options, RecordSink* sink);
  ~CallTracker();
  CallTracker(const CallTracker&) = delete;
  CallTracker& operator=(const CallTracker&) = delete;

  // Feeds one message. Emitted from inside this call: a registration record
  // when this is its final response, and the call this message pushes over
  // the open-call cap. Everything else waits for its timer (AdvanceTime).
  void OnMessage(const SipEvent& event);

  // Emits every call and registration whose timer has passed at capture time
  // `now`. Cheap when nothing is due: call it per packet or per batch.
  void AdvanceTime(TimestampNs now);

  // End of input: expires what is due at `now`, then emits everything still
  // open (lingering calls with their final state; calls still up as
  // in_progress; pending registrations as expired).
  void Finish(TimestampNs now);

  // Emits to `sink` (not the tracker's own sink) one record per call that is
  // open and not finished, as Finish would (state in_progress, end_ts 0),
  // oldest first; calls whose timer is due at `now` (capture time) are left
  // out, since the next AdvanceTime ends them. Changes nothing in the
  // tracker: this is a view of the calls still up, for the live store.
  void SnapshotOpenCalls(TimestampNs now, RecordSink* sink);
  // How many records SnapshotOpenCalls(now, ...) would emit: the calls up
  // now (ringing, or answered and not hung up), without building records.
  uint64_t CountOpenCalls(TimestampNs now);

  const CallTrackerCounters& counters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sipman::calls

#endif  // SIPMAN_CALLS_CALLS_H_
