// Private to media: RTCP reports as the JSON that HEP agents send (HEP
// payload type 5: Asterisk's res_hep_rtcp, rtpengine, FreeSWITCH, heplify):
//   {"type":200,"ssrc":…,"report_count":1,
//    "sender_information":{"ntp_timestamp_sec":…,"ntp_timestamp_usec":…,
//                          "rtp_timestamp":…,"packets":…,"octets":…},
//    "report_blocks":[{"source_ssrc":…,"fraction_lost":…,"packets_lost":…,
//                      "highest_seq_no":…,"ia_jitter":…,"lsr":…,"dlsr":…}]}
// Numbers may come as strings (Asterisk's "lsr"); unknown fields are skipped.
#ifndef SIPMAN_MEDIA_RTCP_JSON_H_
#define SIPMAN_MEDIA_RTCP_JSON_H_

#include <string_view>

#include "media/media.h"

namespace sipman::media {

// Calls `visitor` as WalkRtcp would for the same report: OnSenderReport
// when sender_information is an object, then OnReportBlock per block.
// kBadJson for text that is not such a JSON object (nothing is called
// then); at most 31 report blocks, nesting at most 8 deep.
RtcpError WalkRtcpJson(std::string_view json, RtcpVisitor* visitor);

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_RTCP_JSON_H_
