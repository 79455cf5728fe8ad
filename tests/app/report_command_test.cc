#include "app/report_command.h"

#include <gtest/gtest.h>

namespace sipman::app {
namespace {

constexpr TimestampNs kT = 1795600800LL * kNsPerSecond;  // 2026-11-25T10:00:00Z

TEST(ReportTime, EpochSecondsWithOrWithoutFraction) {
  EXPECT_EQ(ParseReportTime("1795600800"), kT);
  EXPECT_EQ(ParseReportTime("1795600800.5"), kT + 500 * kNsPerMs);
  EXPECT_EQ(ParseReportTime("1795600800.000000001"), kT + 1);
  EXPECT_EQ(ParseReportTime("0"), 0);
}

TEST(ReportTime, Iso8601Utc) {
  EXPECT_EQ(ParseReportTime("2026-11-25T10:00:00Z"), kT);
  EXPECT_EQ(ParseReportTime("2026-11-25T10:00Z"), kT);
  EXPECT_EQ(ParseReportTime("2026-11-25"), kT - 10 * 3600 * kNsPerSecond);
  EXPECT_EQ(ParseReportTime("2026-11-25T10:00:59Z"), kT + 59 * kNsPerSecond);
}

TEST(ReportTime, RejectsWhatItCannotRead) {
  for (const char* bad : {"", ".", "1.2.3", "-5", "2026-11-25T10:00:00", "2026-11-25T10:00:00+01:00",
                          "2026-13-01", "2026-11-25T25:00Z", "yesterday", "123456789012345"}) {
    EXPECT_FALSE(ParseReportTime(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace sipman::app
