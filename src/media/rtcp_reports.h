// Private to media: what the endpoints' own RTCP says of each stream,
// kept by the SSRC it is about, until the stream's figures are written.
#ifndef SIPMAN_MEDIA_RTCP_REPORTS_H_
#define SIPMAN_MEDIA_RTCP_REPORTS_H_

#include <cstdint>
#include <unordered_map>

#include "media/media.h"

namespace sipman::media {

// The SSRCs one report named: its sender's (when an SR), and those its
// blocks are about.
struct ReportSsrcs {
  uint32_t reporter = 0;
  bool reporter_sent = false;  // an SR: the reporter sends media too
  uint32_t sources[31] = {};
  size_t source_count = 0;
};

// The reports about one SSRC, as StreamFigures holds them.
struct RtcpAbout {
  uint64_t reports = 0;             // report blocks about it
  double fraction_lost_pct = 0;     // the last block's, in %
  int64_t cumulative_lost = 0;      // the last block's
  uint32_t jitter_units = 0;        // the highest, in timestamp units
  double rtt_ms = -1;               // the highest round trip seen; -1 none
  double xr_mos_lq = -1, xr_mos_cq = -1;  // the last XR VoIP Metrics'; -1 none
  // Its own sender reports: the last one's counts (RTCP-only streams,
  // HEP's, are measured by them).
  bool sent_report = false;
  uint32_t sent_packets = 0, sent_octets = 0;
};

// Walks RTCP compounds (RtcpVisitor) and keeps, per SSRC reported on, the
// figures above. The round trip is passive: an SR seen at capture time t
// with NTP time T, then a report block with LSR = middle 32 bits of T and
// DLSR d seen at t': RTT = t' - t - d. That is the sender's RTT when the
// sensor is near the sender; no clock needs to agree with the sensor's.
// Bounded: at most `max_sources` SSRCs, then it starts again empty.
class RtcpReports : public RtcpVisitor {
 public:
  explicit RtcpReports(size_t max_sources) : max_sources_(max_sources) {}

  // Walks one compound seen at `ts`.
  RtcpError Walk(TimestampNs ts, std::string_view compound);
  // One report a HEP agent sent (payload type 5): RTCP as on the wire, or
  // its JSON rendering (rtcp_json.h). *ssrcs gets the SSRCs it named.
  RtcpError WalkHep(TimestampNs ts, std::string_view payload, ReportSsrcs* ssrcs);

  // The reports about `ssrc`, or null.
  const RtcpAbout* About(uint32_t ssrc) const;
  // Forgets them (the stream ended).
  void Forget(uint32_t ssrc) { sources_.erase(ssrc); }

  void OnSenderReport(uint32_t sender, const RtcpSenderInfo& info) override;
  void OnReportBlock(uint32_t reporter, const RtcpReportBlock& block) override;
  void OnVoipMetrics(uint32_t reporter, const VoipMetrics& metrics) override;

 private:
  struct Source {
    RtcpAbout about;
    uint32_t last_sr = 0;        // middle 32 bits of its last SR's NTP time
    TimestampNs last_sr_ts = 0;  // when that SR was seen
  };
  Source& SourceOf(uint32_t ssrc);

  size_t max_sources_;
  TimestampNs now_ = 0;
  ReportSsrcs* collect_ = nullptr;  // during WalkHep
  std::unordered_map<uint32_t, Source> sources_;
};

}  // namespace sipman::media

#endif  // SIPMAN_MEDIA_RTCP_REPORTS_H_
