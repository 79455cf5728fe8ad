// media: compound RTCP (RFC 3550 section 6) and XR VoIP Metrics (RFC 3611
// section 4.7), on packets built field by field.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "media/media.h"

namespace sipman::media {
namespace {

void Be16(std::string* s, uint32_t v) {
  s->push_back(static_cast<char>(v >> 8));
  s->push_back(static_cast<char>(v));
}
void Be32(std::string* s, uint32_t v) {
  Be16(s, v >> 16);
  Be16(s, v & 0xffff);
}
// An RTCP header for a body of `body_bytes` (a multiple of 4).
void Header(std::string* s, int count, int type, size_t body_bytes) {
  s->push_back(static_cast<char>(0x80 | count));
  s->push_back(static_cast<char>(type));
  Be16(s, static_cast<uint32_t>(body_bytes / 4));
}

struct Recorder : RtcpVisitor {
  void OnSenderReport(uint32_t sender, const RtcpSenderInfo& info) override {
    senders.push_back(sender);
    sr = info;
  }
  void OnReportBlock(uint32_t reporter, const RtcpReportBlock& block) override {
    reporters.push_back(reporter);
    blocks.push_back(block);
  }
  void OnCname(uint32_t source, std::string_view cname) override {
    cnames.push_back(std::to_string(source) + "=" + std::string(cname));
  }
  void OnBye(uint32_t source) override { byes.push_back(source); }
  void OnVoipMetrics(uint32_t reporter, const VoipMetrics& m) override {
    reporters.push_back(reporter);
    metrics.push_back(m);
  }
  std::vector<uint32_t> senders, reporters, byes;
  RtcpSenderInfo sr;
  std::vector<RtcpReportBlock> blocks;
  std::vector<std::string> cnames;
  std::vector<VoipMetrics> metrics;
};

// SR from 0x1111 with one report block about 0x2222, SDES with two chunks,
// an APP packet, a BYE of 0x1111.
std::string Compound() {
  std::string s;
  Header(&s, 1, kRtcpSenderReport, 4 + 20 + 24);
  Be32(&s, 0x1111);
  Be32(&s, 0xe1234567);  // NTP seconds
  Be32(&s, 0x80000000);  // NTP fraction: half a second
  Be32(&s, 160000);      // RTP timestamp
  Be32(&s, 500);         // packets
  Be32(&s, 80000);       // octets
  Be32(&s, 0x2222);      // report block: source
  s.push_back(static_cast<char>(64));                // fraction lost 64/256
  s.append("\xff\xff\xfe", 3);                       // cumulative lost -2
  Be32(&s, 0x00010005);  // extended highest sequence: one wrap, 5
  Be32(&s, 37);          // jitter
  Be32(&s, 0x45678000);  // LSR
  Be32(&s, 0x00018000);  // DLSR 1.5 s
  // SDES: chunk 1 CNAME "a@b" (4+2+3+1 null = 10 -> 12 bytes), chunk 2 a
  // NOTE item then CNAME "xy" (4+2+1+2+2+1 = 12 bytes).
  std::string sdes;
  Be32(&sdes, 0x1111);
  sdes += std::string("\x01\x03" "a@b", 5);
  sdes += std::string(3, '\0');
  Be32(&sdes, 0x3333);
  sdes += std::string("\x07\x01" "n" "\x01\x02" "xy", 7);
  sdes += std::string(1, '\0');
  Header(&s, 2, kRtcpSourceDescription, sdes.size());
  s += sdes;
  Header(&s, 0, kRtcpApp, 8);
  Be32(&s, 0x1111);
  s += "TEST";
  Header(&s, 1, kRtcpBye, 4);
  Be32(&s, 0x1111);
  return s;
}

TEST(Rtcp, CompoundSenderReportSdesAppBye) {
  const std::string compound = Compound();
  Recorder r;
  RtcpCounts counts;
  ASSERT_EQ(WalkRtcp(compound, &r, &counts), RtcpError::kNone);
  EXPECT_EQ(counts.packets, 4u);
  EXPECT_EQ(counts.unknown, 1u);  // the APP packet
  ASSERT_EQ(r.senders, std::vector<uint32_t>{0x1111});
  EXPECT_EQ(r.sr.ntp_timestamp, 0xe123456780000000ull);
  EXPECT_EQ(r.sr.rtp_timestamp, 160000u);
  EXPECT_EQ(r.sr.packet_count, 500u);
  EXPECT_EQ(r.sr.octet_count, 80000u);
  ASSERT_EQ(r.blocks.size(), 1u);
  const RtcpReportBlock& b = r.blocks[0];
  EXPECT_EQ(r.reporters[0], 0x1111u);
  EXPECT_EQ(b.source, 0x2222u);
  EXPECT_EQ(b.fraction_lost, 64);
  EXPECT_EQ(b.cumulative_lost, -2);
  EXPECT_EQ(b.highest_sequence, 0x00010005u);
  EXPECT_EQ(b.jitter, 37u);
  EXPECT_EQ(b.last_sr, 0x45678000u);
  EXPECT_EQ(b.delay_since_last_sr, 0x00018000u);
  EXPECT_EQ(r.cnames, (std::vector<std::string>{"4369=a@b", "13107=xy"}));
  EXPECT_EQ(r.byes, std::vector<uint32_t>{0x1111});
}

TEST(Rtcp, ExtendedReportVoipMetrics) {
  std::string s;
  Header(&s, 0, kRtcpExtendedReport, 4 + 36 + 8);
  Be32(&s, 0xaaaa);  // reporter
  // Another block type first (4: receiver reference time, 2 words), skipped.
  s.push_back(4);
  s.push_back(0);
  Be16(&s, 1);
  Be32(&s, 0);
  // VoIP Metrics: BT 7, length 8 words.
  s.push_back(7);
  s.push_back(0);
  Be16(&s, 8);
  Be32(&s, 0xbbbb);
  s += std::string("\x0d\x02\x40\x08", 4);  // loss 13/256, discard 2/256, densities
  Be16(&s, 120);                             // burst duration
  Be16(&s, 3000);                            // gap duration
  Be16(&s, 85);                              // round trip delay
  Be16(&s, 40);                              // end system delay
  s += std::string("\xec\xb5\x7f\x10", 4);  // signal -20, noise -75, RERL 127, Gmin 16
  s += std::string("\x50\x7f\x29\x26", 4);  // R 80, ext R unavailable, MOS-LQ 4.1, CQ 3.8
  s.push_back(static_cast<char>(0x80));     // RX config
  s.push_back(0);
  Be16(&s, 60);   // JB nominal
  Be16(&s, 120);  // JB maximum
  Be16(&s, 200);  // JB abs max
  Recorder r;
  RtcpCounts counts;
  ASSERT_EQ(WalkRtcp(s, &r, &counts), RtcpError::kNone);
  ASSERT_EQ(r.metrics.size(), 1u);
  const VoipMetrics& m = r.metrics[0];
  EXPECT_EQ(r.reporters[0], 0xaaaau);
  EXPECT_EQ(m.source, 0xbbbbu);
  EXPECT_EQ(m.loss_rate, 13);
  EXPECT_EQ(m.discard_rate, 2);
  EXPECT_EQ(m.burst_density, 64);
  EXPECT_EQ(m.gap_density, 8);
  EXPECT_EQ(m.burst_duration_ms, 120);
  EXPECT_EQ(m.gap_duration_ms, 3000);
  EXPECT_EQ(m.round_trip_delay_ms, 85);
  EXPECT_EQ(m.end_system_delay_ms, 40);
  EXPECT_EQ(m.signal_level_dbm, -20);
  EXPECT_EQ(m.noise_level_dbm, -75);
  EXPECT_EQ(m.residual_echo_return_loss, 127);
  EXPECT_EQ(m.gmin, 16);
  EXPECT_EQ(m.r_factor, 80);
  EXPECT_EQ(m.external_r_factor, 127);
  EXPECT_EQ(m.mos_lq, 41);
  EXPECT_EQ(m.mos_cq, 38);
  EXPECT_EQ(m.rx_config, 0x80);
  EXPECT_EQ(m.jb_nominal_ms, 60);
  EXPECT_EQ(m.jb_maximum_ms, 120);
  EXPECT_EQ(m.jb_abs_max_ms, 200);
}

TEST(Rtcp, MalformedCompoundsStopAndSayWhy) {
  const std::string good = Compound();
  Recorder r;
  RtcpCounts counts;
  // Cut inside the SDES: the SR before it is still visited.
  EXPECT_EQ(WalkRtcp(good.substr(0, 60), &r, &counts), RtcpError::kBadLength);
  EXPECT_EQ(r.senders.size(), 1u);
  EXPECT_EQ(WalkRtcp(good.substr(0, 2), &r, &counts), RtcpError::kTooShort);
  std::string v1 = good;
  v1[0] = 0x41;
  EXPECT_EQ(WalkRtcp(v1, &r, &counts), RtcpError::kNotVersion2);
  // An RR claiming 3 report blocks in a body of one.
  std::string rr;
  Header(&rr, 3, kRtcpReceiverReport, 4 + 24);
  Be32(&rr, 1);
  rr += std::string(24, '\0');
  EXPECT_EQ(WalkRtcp(rr, &r, &counts), RtcpError::kTooShort);
  // An SDES item longer than its packet.
  std::string sdes;
  Header(&sdes, 1, kRtcpSourceDescription, 8);
  Be32(&sdes, 1);
  sdes += std::string("\x01\x09" "ab", 4);
  EXPECT_EQ(WalkRtcp(sdes, &r, &counts), RtcpError::kBadItem);
  // An XR VoIP Metrics block of the wrong length.
  std::string xr;
  Header(&xr, 0, kRtcpExtendedReport, 12);
  Be32(&xr, 1);
  xr.push_back(7);
  xr.push_back(0);
  Be16(&xr, 1);
  Be32(&xr, 0);
  EXPECT_EQ(WalkRtcp(xr, &r, &counts), RtcpError::kBadItem);
  EXPECT_EQ(RtcpErrorName(RtcpError::kBadItem), "bad_item");
}

}  // namespace
}  // namespace sipman::media
