// libFuzzer target for the SDP parser and the multipart SDP finder. The first
// input line is used as a Content-Type for FindSdpBody, the rest as the body;
// the whole input is also parsed as SDP directly. Any view that points
// outside the input traps.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/sip.h"

namespace {

using sipman::sip::SdpSession;

std::string_view g_input;

void Check(std::string_view v) {
  if (v.empty()) return;
  const char* b = g_input.data();
  if (v.data() < b || v.data() + v.size() > b + g_input.size()) __builtin_trap();
}

void ParseAndCheck(std::string_view sdp) {
  Check(sdp);
  static SdpSession s;
  if (!sipman::sip::ParseSdp(sdp, &s)) return;
  Check(s.origin_username);
  Check(s.origin_session_id);
  Check(s.origin_session_version);
  Check(s.origin_address);
  Check(s.session_name);
  Check(s.connection_address);
  sipman::sip::MediaDirectionName(s.direction);
  if (s.media_count > SdpSession::kMaxMedia) __builtin_trap();
  for (size_t i = 0; i < s.media_count; ++i) {
    const auto& m = s.media[i];
    Check(m.type);
    Check(m.protocol);
    Check(m.formats);
    Check(m.connection_address);
    sipman::sip::MediaDirectionName(m.direction);
    if (m.rtpmap_count > m.kMaxRtpMaps) __builtin_trap();
    for (size_t r = 0; r < m.rtpmap_count; ++r) {
      Check(m.rtpmaps[r].encoding);
      Check(m.rtpmaps[r].encoding_params);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  g_input = input;
  ParseAndCheck(input);
  const size_t nl = input.find('\n');
  if (nl != std::string_view::npos) {
    const std::string_view content_type = input.substr(0, nl);
    const std::string_view body = input.substr(nl + 1);
    ParseAndCheck(sipman::sip::FindSdpBody(content_type, body));
  }
  ParseAndCheck(sipman::sip::FindSdpBody("multipart/mixed;boundary=b", input));
  ParseAndCheck(
      sipman::sip::FindSdpBody("multipart/alternative;boundary=\"unique-boundary-1\"", input));
  return 0;
}
