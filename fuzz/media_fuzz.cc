// libFuzzer target for the media decoders: the input as an RTP packet (its
// payload also as a telephone event) and as a compound RTCP packet. Any view
// that points outside the input traps.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "media/media.h"

namespace {

std::string_view g_input;

void Check(std::string_view v) {
  if (v.empty()) return;
  const char* b = g_input.data();
  if (v.data() < b || v.data() + v.size() > b + g_input.size()) __builtin_trap();
}

class CheckingVisitor : public sipman::media::RtcpVisitor {
 public:
  void OnCname(uint32_t, std::string_view cname) override { Check(cname); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_input = std::string_view(reinterpret_cast<const char*>(data), size);
  sipman::media::RtpPacket rtp;
  if (sipman::media::ParseRtp(g_input, &rtp) == sipman::media::RtpError::kNone) {
    Check(rtp.csrcs);
    Check(rtp.extension);
    Check(rtp.payload);
    for (size_t i = 0; i < rtp.csrc_count; ++i) (void)sipman::media::CsrcAt(rtp, i);
    sipman::media::TelephoneEvent event;
    if (sipman::media::ParseTelephoneEvent(rtp.payload, &event)) {
      (void)sipman::media::DtmfDigit(event.event);
    }
  }
  (void)sipman::media::LooksLikeRtcp(g_input);
  CheckingVisitor visitor;
  sipman::media::RtcpCounts counts;
  (void)sipman::media::WalkRtcp(g_input, &visitor, &counts);
  return 0;
}
