// media: a stream's figures per 10-second interval. Intervals start on
// multiples of 10 s, add up to the stream's totals, show silence as empty
// intervals, and merge pairwise past 128 so that memory stays bounded.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

#include "media/rtp_stream.h"

namespace sipman::media {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

class IntervalsTest : public ::testing::Test {
 protected:
  // Packet `seq` of a 20 ms G.711 stream, arriving on time at `ts`.
  void Send(uint16_t seq, int64_t ts) {
    RtpPacket rtp;
    rtp.sequence = seq;
    rtp.timestamp = 160u * seq;
    rtp.ssrc = 0x1234;
    StreamPacket p;
    p.ts = ts;
    p.rtp = &rtp;
    p.size = 172;
    p.clock_rate = 8000;
    stream_.OnPacket(p);
  }
  const StreamFigures& Figures() {
    stream_.Fill(StaticCodec(0), &figures_);
    return figures_;
  }
  template <typename T>
  static int64_t Sum(const std::vector<StreamInterval>& v, T StreamInterval::*field) {
    return std::accumulate(v.begin(), v.end(), int64_t{0},
                           [&](int64_t a, const StreamInterval& i) { return a + i.*field; });
  }

  RtpStream stream_;
  StreamFigures figures_;
};

TEST_F(IntervalsTest, AlignToTenSecondsAndAddUpToTheStream) {
  const int64_t start = 1'700'000'003 * kSecond;
  for (uint16_t seq = 0; seq < 1000; ++seq) {
    if (seq >= 300 && seq < 310) continue;  // 6.0-6.2 s after the start: interval 0
    Send(seq, start + seq * 20'000'000LL);
  }
  const StreamFigures& f = Figures();
  EXPECT_EQ(f.interval_start_ts, 1'700'000'000 * kSecond);
  EXPECT_EQ(f.interval_ns, 10 * kSecond);
  ASSERT_EQ(f.intervals.size(), 3u);
  // Packet i arrives 3 s + 20 ms * i after ...000: interval 0 holds i < 350.
  EXPECT_EQ(f.intervals[0].packets, 340u);
  EXPECT_EQ(f.intervals[0].expected, 350u);
  EXPECT_EQ(f.intervals[0].lost, 10);
  EXPECT_EQ(f.intervals[1].packets, 500u);
  EXPECT_EQ(f.intervals[1].lost, 0);
  EXPECT_EQ(f.intervals[2].packets, 150u);
  EXPECT_EQ(f.intervals[2].expected, 150u);
  EXPECT_EQ(static_cast<uint64_t>(Sum(f.intervals, &StreamInterval::packets)), f.packets);
  EXPECT_EQ(Sum(f.intervals, &StreamInterval::lost), f.lost_rfc3550);
  EXPECT_EQ(Sum(f.intervals, &StreamInterval::expected), f.expected_rfc3550);
  // Loss lowers the first interval's MOS only; the others are G.711's best.
  EXPECT_LT(f.intervals[0].mos, 4.35f);
  EXPECT_NEAR(f.intervals[1].mos, 4.41, 0.01);
  EXPECT_NEAR(f.intervals[2].mos, 4.41, 0.01);
}

TEST_F(IntervalsTest, SilenceLeavesEmptyIntervalsWithoutMos) {
  const int64_t start = 1'700'000'000 * kSecond;
  for (uint16_t seq = 0; seq < 100; ++seq) Send(seq, start + seq * 20'000'000LL);
  // 60 s of hold, then the same stream goes on.
  for (uint16_t seq = 100; seq < 200; ++seq) Send(seq, start + 62 * kSecond + (seq - 100) * 20'000'000LL);
  const StreamFigures& f = Figures();
  ASSERT_EQ(f.intervals.size(), 7u);  // 0-10 s ... 60-70 s
  EXPECT_EQ(f.intervals[0].packets, 100u);
  for (size_t i = 1; i < 6; ++i) {
    EXPECT_EQ(f.intervals[i].packets, 0u) << i;
    EXPECT_EQ(f.intervals[i].mos, -1) << i;
  }
  EXPECT_EQ(f.intervals[6].packets, 100u);
  EXPECT_EQ(Sum(f.intervals, &StreamInterval::lost), 0);
}

TEST_F(IntervalsTest, LongStreamsMergeNeighboursAndKeepEveryPacket) {
  // Four hours, one packet a second: 1,440 intervals of 10 s do not fit in
  // 128; four merges later the width is 160 s and 90 intervals remain.
  const int64_t start = 1'700'000'000 * kSecond;
  for (int i = 0; i < 4 * 3600; ++i) Send(static_cast<uint16_t>(i), start + i * kSecond);
  const StreamFigures& f = Figures();
  EXPECT_EQ(f.interval_ns, 160 * kSecond);
  EXPECT_EQ(f.intervals.size(), 90u);
  EXPECT_EQ(Sum(f.intervals, &StreamInterval::packets), 4 * 3600);
  EXPECT_EQ(f.intervals[0].packets, 160u);
  EXPECT_EQ(f.intervals[89].packets, 160u);
  EXPECT_EQ(Sum(f.intervals, &StreamInterval::lost), 0);
}

TEST_F(IntervalsTest, MergedIntervalsStayOnMultiplesOfTheirWidth) {
  // Starting at ...010 s (not a multiple of 20): after the first merge the
  // first 10-second interval stands alone in a 20-second one, and every
  // later width starts on its own multiples, as another stream's would.
  const int64_t start = 1'700'000'010 * kSecond;
  for (int i = 0; i < 3 * 3600; ++i) Send(static_cast<uint16_t>(i), start + i * kSecond);
  const StreamFigures& f = Figures();
  EXPECT_EQ(f.interval_ns, 160 * kSecond);
  EXPECT_EQ(f.interval_start_ts % f.interval_ns, 0);
  EXPECT_EQ(f.interval_start_ts, 1'700'000'000 * kSecond - 1'700'000'000 % 160 * kSecond);
  EXPECT_EQ(Sum(f.intervals, &StreamInterval::packets), 3 * 3600);
  // The first interval holds the packets from the start to its end only.
  EXPECT_EQ(f.intervals[0].packets,
            static_cast<uint32_t>((f.interval_start_ts + f.interval_ns - start) / kSecond));
  EXPECT_LE(f.intervals.size(), IntervalSeries::kMaxIntervals);
}

TEST_F(IntervalsTest, JsonShapeIsColumnar) {
  const int64_t start = 1'700'000'000 * kSecond;
  for (uint16_t seq = 0; seq < 600; ++seq) {
    if (seq == 550) continue;
    Send(seq, start + seq * 20'000'000LL);
  }
  std::string json;
  AppendIntervalsJson(Figures(), &json);
  EXPECT_EQ(json,
            "{\"start_ts\":1700000000,\"width_s\":10,\"packets\":[500,99],\"expected\":[500,100],"
            "\"lost\":[0,1],\"late\":[0,0],\"max_jitter_ms\":[0.000,0.000],\"mos\":[4.41,4.33]}");
}

}  // namespace
}  // namespace sipman::media
