#include "media/rtcp_reports.h"

#include <algorithm>
#include <iterator>

#include "media/rtcp_json.h"

namespace sipman::media {

namespace {
constexpr double kRttQuantumMs = 2;

// JSON starts with '{' after optional whitespace or a UTF-8 byte-order mark;
// RTCP's first byte has version 2 (0x80-0xBF), never one of those.
bool LooksLikeJson(std::string_view s) {
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return !s.empty() && s.front() == '{';
}
}  // namespace

RtcpError RtcpReports::Walk(TimestampNs ts, std::string_view compound) {
  now_ = ts;
  RtcpCounts counts;
  return WalkRtcp(compound, this, &counts);
}

RtcpError RtcpReports::WalkHep(TimestampNs ts, std::string_view payload, ReportSsrcs* ssrcs) {
  now_ = ts;
  *ssrcs = ReportSsrcs();
  collect_ = ssrcs;
  RtcpError error;
  if (payload.empty()) {
    error = RtcpError::kTooShort;
  } else if (LooksLikeJson(payload)) {
    if (payload.starts_with("\xEF\xBB\xBF")) payload.remove_prefix(3);
    error = WalkRtcpJson(payload, this);
  } else {
    RtcpCounts counts;
    error = WalkRtcp(payload, this, &counts);
  }
  collect_ = nullptr;
  return error;
}

const RtcpAbout* RtcpReports::About(uint32_t ssrc) const {
  auto it = sources_.find(ssrc);
  return it == sources_.end() ? nullptr : &it->second.about;
}

RtcpReports::Source& RtcpReports::SourceOf(uint32_t ssrc) {
  if (sources_.size() >= max_sources_ && sources_.find(ssrc) == sources_.end()) sources_.clear();
  return sources_[ssrc];
}

void RtcpReports::OnSenderReport(uint32_t sender, const RtcpSenderInfo& info) {
  Source& s = SourceOf(sender);
  s.last_sr = static_cast<uint32_t>(info.ntp_timestamp >> 16);
  s.last_sr_ts = now_;
  s.about.sent_report = true;
  s.about.sent_packets = info.packet_count;
  s.about.sent_octets = info.octet_count;
  if (collect_ != nullptr) {
    collect_->reporter = sender;
    collect_->reporter_sent = true;
  }
}


void RtcpReports::OnReportBlock(uint32_t reporter, const RtcpReportBlock& block) {
  if (collect_ != nullptr) {
    collect_->reporter = reporter;
    if (collect_->source_count < std::size(collect_->sources)) {
      collect_->sources[collect_->source_count++] = block.source;
    }
  }
  Source& s = SourceOf(block.source);
  RtcpAbout& a = s.about;
  ++a.reports;
  a.fraction_lost_pct = block.fraction_lost * 100.0 / 256;
  a.cumulative_lost = block.cumulative_lost;
  a.jitter_units = std::max(a.jitter_units, block.jitter);
  // The block answers the SR this sensor saw from the source it is about.
  if (block.last_sr != 0 && block.last_sr == s.last_sr && s.last_sr_ts != 0) {
    const double rtt = static_cast<double>(now_ - s.last_sr_ts) / 1e6 -
                       block.delay_since_last_sr * 1000.0 / 65536;
    // Endpoints quantise DLSR to their timer (baresip: whole ms), so on a
    // LAN a pair reads a little below zero: that is a round trip of 0.
    if (rtt >= -kRttQuantumMs) a.rtt_ms = std::max(a.rtt_ms, std::max(rtt, 0.0));
  }
}

void RtcpReports::OnVoipMetrics(uint32_t /*reporter*/, const VoipMetrics& m) {
  RtcpAbout& a = SourceOf(m.source).about;
  // RFC 3611 4.7.5: MOS x 10, 127 when unavailable.
  if (m.mos_lq != 127 && m.mos_lq >= 10 && m.mos_lq <= 50) a.xr_mos_lq = m.mos_lq / 10.0;
  if (m.mos_cq != 127 && m.mos_cq >= 10 && m.mos_cq <= 50) a.xr_mos_cq = m.mos_cq / 10.0;
}

}  // namespace sipman::media
