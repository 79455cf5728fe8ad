// Test helpers for the calls module: CallScript writes realistic SIP text for
// one dialog from a few parameters, and TrackerHarness parses it with
// sip::ParseSipMessage and feeds it to a CallTracker with capture metadata,
// recording what the tracker emits.
#ifndef SIPMAN_TESTS_CALLS_CALL_SCRIPT_H_
#define SIPMAN_TESTS_CALLS_CALL_SCRIPT_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "calls/calls.h"
#include "sip/sip.h"

namespace sipman::calls::test {

constexpr TimestampNs kBase = 1700000000 * kNsPerSecond;

// Capture time `ms` milliseconds after kBase.
inline TimestampNs AtMs(int64_t ms) { return kBase + ms * kNsPerMs; }

inline std::string Sdp(const std::string& address, int audio_port, int video_port = 0) {
  std::string s = "v=0\r\no=- 1 1 IN IP4 " + address + "\r\ns=-\r\nc=IN IP4 " + address +
                  "\r\nt=0 0\r\nm=audio " + std::to_string(audio_port) +
                  " RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
  if (video_port != 0) {
    s += "m=video " + std::to_string(video_port) + " RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
  }
  return s;
}

// Who sends a message: the caller (alice at 10.0.0.1:5060) or the callee
// (bob at 10.0.0.2:5070).
enum class From { kCaller, kCallee };

// One dialog's messages. Responses and ACK/CANCEL of the INVITE reuse its
// Via branch; other requests get their own.
class CallScript {
 public:
  explicit CallScript(std::string call_id, std::string caller_tag = "alice-tag")
      : call_id_(std::move(call_id)), caller_tag_(std::move(caller_tag)) {}

  // An INVITE without To-tag (or, with `to_tag`, a re-INVITE from the caller).
  std::string Invite(uint32_t cseq = 1, const std::string& branch = "z9hG4bK-inv1",
                     const std::string& sdp = "", const std::string& extra = "",
                     const std::string& to_tag = "") const {
    return Request("INVITE", cseq, branch, From::kCaller, to_tag, sdp,
                   "User-Agent: AliceUA/1.0\r\n"
                   "Contact: <sip:alice@10.0.0.1:5060>\r\n" + extra);
  }

  // A response sent by the callee to a caller's request.
  std::string Response(int status, const std::string& reason, const std::string& to_tag,
                       uint32_t cseq = 1, const std::string& method = "INVITE",
                       const std::string& branch = "z9hG4bK-inv1", const std::string& sdp = "",
                       const std::string& extra = "") const {
    std::string s = "SIP/2.0 " + std::to_string(status) + " " + reason + "\r\n";
    s += "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=" + branch + "\r\n";
    s += "From: \"Alice\" <sip:alice@atlanta.example>;tag=" + caller_tag_ + "\r\n";
    s += "To: <sip:bob@biloxi.example>" + (to_tag.empty() ? "" : ";tag=" + to_tag) + "\r\n";
    s += "Call-ID: " + call_id_ + "\r\n";
    s += "CSeq: " + std::to_string(cseq) + " " + method + "\r\n";
    s += "Server: BobPhone/2.0\r\n";
    return s + extra + Body(sdp);
  }

  // A request inside the dialog (ACK, BYE, UPDATE, INFO, re-INVITE ...)
  // from either side; `callee_tag` is the To-tag the dialog got.
  std::string InDialog(const std::string& method, From from, const std::string& callee_tag,
                       uint32_t cseq, const std::string& branch, const std::string& sdp = "",
                       const std::string& extra = "") const {
    return Request(method, cseq, branch, from, callee_tag, sdp, extra);
  }

  // A response to a request the callee sent (its BYE or re-INVITE).
  std::string ResponseToCallee(int status, const std::string& reason,
                               const std::string& callee_tag, uint32_t cseq,
                               const std::string& method, const std::string& branch,
                               const std::string& sdp = "") const {
    std::string s = "SIP/2.0 " + std::to_string(status) + " " + reason + "\r\n";
    s += "Via: SIP/2.0/UDP 10.0.0.2:5070;branch=" + branch + "\r\n";
    s += "From: <sip:bob@biloxi.example>;tag=" + callee_tag + "\r\n";
    s += "To: \"Alice\" <sip:alice@atlanta.example>;tag=" + caller_tag_ + "\r\n";
    s += "Call-ID: " + call_id_ + "\r\n";
    s += "CSeq: " + std::to_string(cseq) + " " + method + "\r\n";
    s += "User-Agent: AliceUA/1.0\r\n";
    return s + Body(sdp);
  }

  std::string Ack(const std::string& callee_tag, uint32_t cseq = 1,
                  const std::string& branch = "z9hG4bK-ack1", const std::string& sdp = "") const {
    return InDialog("ACK", From::kCaller, callee_tag, cseq, branch, sdp);
  }
  std::string Bye(From from, const std::string& callee_tag, uint32_t cseq,
                  const std::string& branch = "z9hG4bK-bye1", const std::string& extra = "") const {
    return InDialog("BYE", from, callee_tag, cseq, branch, "", extra);
  }
  std::string Cancel(uint32_t cseq = 1, const std::string& branch = "z9hG4bK-inv1",
                     const std::string& extra = "") const {
    return Request("CANCEL", cseq, branch, From::kCaller, "", "", extra);
  }

  const std::string& call_id() const { return call_id_; }

 private:
  static std::string Body(const std::string& sdp) {
    if (sdp.empty()) return "Content-Length: 0\r\n\r\n";
    return "Content-Type: application/sdp\r\nContent-Length: " + std::to_string(sdp.size()) +
           "\r\n\r\n" + sdp;
  }

  std::string Request(const std::string& method, uint32_t cseq, const std::string& branch,
                      From from, const std::string& callee_tag, const std::string& sdp,
                      const std::string& extra) const {
    const std::string alice = "\"Alice\" <sip:alice@atlanta.example>;tag=" + caller_tag_;
    const std::string bob =
        "<sip:bob@biloxi.example>" + (callee_tag.empty() ? "" : ";tag=" + callee_tag);
    const bool by_caller = from == From::kCaller;
    std::string s = method + " " +
                    (by_caller ? "sip:bob@10.0.0.2:5070" : "sip:alice@10.0.0.1:5060") +
                    " SIP/2.0\r\n";
    s += "Via: SIP/2.0/UDP " + std::string(by_caller ? "10.0.0.1:5060" : "10.0.0.2:5070") +
         ";branch=" + branch + "\r\n";
    s += "Max-Forwards: 70\r\n";
    s += "From: " + (by_caller ? alice : bob) + "\r\n";
    s += "To: " + (by_caller ? bob : alice) + "\r\n";
    s += "Call-ID: " + call_id_ + "\r\n";
    s += "CSeq: " + std::to_string(cseq) + " " + method + "\r\n";
    return s + extra + Body(sdp);
  }

  std::string call_id_;
  std::string caller_tag_;
};

// Keeps copies of everything the tracker emits.
class RecordingSink : public RecordSink {
 public:
  void OnCall(const CallRecord& record) override { calls.push_back(record); }
  void OnRegistration(const RegistrationRecord& record) override {
    registrations.push_back(record);
  }
  std::vector<CallRecord> calls;
  std::vector<RegistrationRecord> registrations;
};

inline IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}

class TrackerHarness {
 public:
  explicit TrackerHarness(CallTrackerOptions options = {})
      : tracker_(std::make_unique<CallTracker>(options, &sink)) {}
  // Records go to `records` instead of `sink` (for runs too long to keep
  // every record); `records` must outlive the harness.
  TrackerHarness(CallTrackerOptions options, RecordSink* records)
      : tracker_(std::make_unique<CallTracker>(options, records)) {}

  // Parses `text` and feeds it as sent by `from` at capture time `ts`.
  void Feed(const std::string& text, TimestampNs ts, From from) {
    if (from == From::kCaller) {
      FeedFrom(text, ts, V4(10, 0, 0, 1), 5060, V4(10, 0, 0, 2), 5070);
    } else {
      FeedFrom(text, ts, V4(10, 0, 0, 2), 5070, V4(10, 0, 0, 1), 5060);
    }
  }

  // As the app does: runs the timers due at `ts` first, then feeds.
  void FeedAfterTimers(const std::string& text, TimestampNs ts, From from) {
    tracker_->AdvanceTime(ts);
    Feed(text, ts, from);
  }

  void FeedFrom(const std::string& text, TimestampNs ts, IpAddress src, uint16_t src_port,
                IpAddress dst, uint16_t dst_port) {
    auto message = std::make_unique<sip::SipMessage>();
    ASSERT_EQ(sip::ParseSipMessage(text, sip::ParseOptions{}, message.get()),
              sip::ParseStatus::kComplete)
        << text;
    SipEvent ev;
    ev.ts = ts;
    ev.src_ip = src;
    ev.src_port = src_port;
    ev.dst_ip = dst;
    ev.dst_port = dst_port;
    ev.transport = "udp";
    ev.message = message.get();
    ev.raw = text;
    ev.frame_bytes = static_cast<uint32_t>(text.size() + 42);
    tracker_->OnMessage(ev);
    bytes_fed += text.size();
  }

  CallTracker& tracker() { return *tracker_; }
  const CallTrackerCounters& counters() const { return tracker_->counters(); }

  // The only call emitted so far (fails the test when there is not exactly one).
  const CallRecord& OnlyCall() const {
    EXPECT_EQ(sink.calls.size(), 1u);
    static const CallRecord kEmpty;
    return sink.calls.empty() ? kEmpty : sink.calls.front();
  }

  RecordingSink sink;
  uint64_t bytes_fed = 0;

 private:
  std::unique_ptr<CallTracker> tracker_;
};

}  // namespace sipman::calls::test

#endif  // SIPMAN_TESTS_CALLS_CALL_SCRIPT_H_
