// libFuzzer target for the SIP message parser: parses the input as a datagram
// and as a stream (framing every message in it), then exercises every
// accessor. Any view that points outside the input traps.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/sip.h"

namespace {

using sipman::sip::Header;
using sipman::sip::HeaderId;
using sipman::sip::NameAddr;
using sipman::sip::ParseOptions;
using sipman::sip::ParseStatus;
using sipman::sip::SdpSession;
using sipman::sip::SipMessage;
using sipman::sip::SipUri;

std::string_view g_input;

void Check(std::string_view v) {
  if (v.empty()) return;
  const char* b = g_input.data();
  if (v.data() < b || v.data() + v.size() > b + g_input.size()) __builtin_trap();
}

void CheckUri(const SipUri& u) {
  Check(u.scheme);
  Check(u.user);
  Check(u.password);
  Check(u.host);
  Check(u.params);
  Check(u.headers);
  Check(sipman::sip::FindParam(u.params, "transport"));
}

void CheckNameAddr(const NameAddr& a) {
  Check(a.display_name);
  Check(a.tag);
  Check(a.params);
  CheckUri(a.uri);
  Check(sipman::sip::FindParam(a.params, "expires"));
}

void ExerciseSdp(std::string_view content_type, std::string_view body) {
  const std::string_view sdp = sipman::sip::FindSdpBody(content_type, body);
  Check(sdp);
  static SdpSession session;
  if (!sipman::sip::ParseSdp(sdp, &session)) return;
  Check(session.origin_address);
  Check(session.session_name);
  Check(session.connection_address);
  if (session.media_count > SdpSession::kMaxMedia) __builtin_trap();
  for (size_t i = 0; i < session.media_count; ++i) {
    const auto& m = session.media[i];
    Check(m.type);
    Check(m.protocol);
    Check(m.formats);
    Check(m.connection_address);
    if (m.rtpmap_count > m.kMaxRtpMaps) __builtin_trap();
    for (size_t r = 0; r < m.rtpmap_count; ++r) {
      Check(m.rtpmaps[r].encoding);
      Check(m.rtpmaps[r].encoding_params);
    }
  }
}

void Exercise(const SipMessage& m, size_t available) {
  if (m.size > available || m.header_count > SipMessage::kMaxHeaders) __builtin_trap();
  Check(m.method);
  Check(m.request_uri_text);
  CheckUri(m.request_uri);
  Check(m.reason_phrase);
  Check(m.version);
  Check(m.call_id);
  Check(m.cseq_method);
  CheckNameAddr(m.from);
  CheckNameAddr(m.to);
  Check(m.via_branch);
  Check(m.via_transport);
  Check(m.user_agent);
  Check(m.content_type);
  Check(m.body);
  char buffer[256];
  for (size_t i = 0; i < m.header_count; ++i) {
    const Header& h = m.headers[i];
    Check(h.name);
    Check(h.value);
    if (m.Find(h.name) == nullptr) __builtin_trap();
    const std::string_view unfolded =
        sipman::sip::UnfoldHeaderValue(h.value, buffer, sizeof(buffer));
    if (unfolded.size() > sizeof(buffer)) __builtin_trap();
    NameAddr a;
    sipman::sip::ParseNameAddr(h.value, &a);
    CheckNameAddr(a);
  }
  for (int id = 0; id <= static_cast<int>(HeaderId::kIdentityInfo); ++id) {
    const Header* h = m.Find(static_cast<HeaderId>(id));
    if (h != nullptr && h->id != static_cast<HeaderId>(id)) __builtin_trap();
  }
  for (char c : std::string_view("abcdefijklmnorstuvxyz")) {
    m.Find(sipman::sip::ExpandCompactName(c));
    m.Find(std::string_view(&c, 1));
  }
  if (const Header* from = m.Find(HeaderId::kFrom)) {
    NameAddr a;
    sipman::sip::ParseNameAddr(from->value, &a);
    CheckNameAddr(a);
  }
  if (const Header* to = m.Find(HeaderId::kTo)) {
    NameAddr a;
    sipman::sip::ParseNameAddr(to->value, &a);
    CheckNameAddr(a);
  }
  SipUri u;
  sipman::sip::ParseUri(m.request_uri_text, &u);
  CheckUri(u);
  ExerciseSdp(m.content_type, m.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  g_input = input;
  static SipMessage message;
  if (sipman::sip::ParseSipMessage(input, ParseOptions{.datagram = true}, &message) !=
      ParseStatus::kError) {
    Exercise(message, input.size());
  }
  // Frame the input as a TCP stream: every complete message, in order.
  std::string_view rest = input;
  for (int i = 0; i < 64 && !rest.empty(); ++i) {
    const ParseStatus s =
        sipman::sip::ParseSipMessage(rest, ParseOptions{.datagram = false}, &message);
    if (s != ParseStatus::kComplete) break;
    Exercise(message, rest.size());
    if (message.size == 0) __builtin_trap();  // a complete message always consumes bytes
    rest.remove_prefix(message.size);
  }
  return 0;
}
