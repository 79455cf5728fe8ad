#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "capture/capture.h"

namespace sipman::capture {
namespace {

// Writes capture files byte by byte, so each test states exactly what the
// file holds.
class FileWriter {
 public:
  explicit FileWriter(bool big_endian) : big_endian_(big_endian) {}
  void U16(uint16_t v) {
    if (big_endian_) v = __builtin_bswap16(v);
    Raw(&v, 2);
  }
  void U32(uint32_t v) {
    if (big_endian_) v = __builtin_bswap32(v);
    Raw(&v, 4);
  }
  void Raw(const void* p, size_t n) {
    auto b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void Pad4() {
    while (bytes_.size() % 4) bytes_.push_back(0);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  bool big_endian_;
  std::vector<uint8_t> bytes_;
};

class TempFiles {
 public:
  ~TempFiles() {
    for (auto& p : paths_) unlink(p.c_str());
  }
  std::string Write(const std::vector<uint8_t>& bytes) {
    char name[] = "/tmp/sipman-capture-test-XXXXXX";
    int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    close(fd);
    paths_.push_back(name);
    return name;
  }

 private:
  std::vector<std::string> paths_;
};

// A classic pcap file with `frames` 4-byte records; record i carries byte i
// repeated, at time base_s + i*step_s seconds (+ i units of sub-second).
std::vector<uint8_t> Pcap(bool big_endian, bool nanosecond, int linktype, int frames,
                          uint32_t base_s, uint32_t step_s) {
  FileWriter w(big_endian);
  w.U32(nanosecond ? 0xa1b23c4d : 0xa1b2c3d4);
  w.U16(2);
  w.U16(4);
  w.U32(0);
  w.U32(0);
  w.U32(65535);
  w.U32(linktype);
  for (int i = 0; i < frames; ++i) {
    w.U32(base_s + i * step_s);
    w.U32(i + 1);  // sub-second units
    w.U32(4);
    w.U32(60);
    uint8_t data[4];
    std::memset(data, i, 4);
    w.Raw(data, 4);
  }
  return w.bytes();
}

struct Read {
  std::vector<TimestampNs> ts;
  std::vector<uint8_t> first_byte;
  std::vector<net::LinkType> links;
  std::vector<std::string> warnings;
};

Read ReadAll(const std::vector<std::string>& paths) {
  Read r;
  auto source = FileSource::Open(paths);
  EXPECT_TRUE(source.ok()) << source.status().message();
  if (!source.ok()) return r;
  Packet p;
  while ((*source)->Next(&p)) {
    r.ts.push_back(p.ts);
    r.first_byte.push_back(p.data.empty() ? 0xff : p.data[0]);
    r.links.push_back(p.link);
    EXPECT_EQ(p.wire_len, 60u);
  }
  r.warnings = (*source)->warnings();
  return r;
}

TEST(FileSource, ReadsMicrosecondPcapInBothByteOrders) {
  TempFiles tmp;
  for (bool big : {false, true}) {
    Read r = ReadAll({tmp.Write(Pcap(big, false, 1, 3, 1700000000, 1))});
    ASSERT_EQ(r.ts.size(), 3u) << (big ? "big-endian" : "little-endian");
    EXPECT_EQ(r.ts[0], 1700000000LL * kNsPerSecond + 1 * kNsPerUs);
    EXPECT_EQ(r.ts[2], 1700000002LL * kNsPerSecond + 3 * kNsPerUs);
    EXPECT_EQ(r.first_byte[1], 1);
    EXPECT_TRUE(r.warnings.empty());
  }
}

TEST(FileSource, KeepsNanosecondTimestamps) {
  TempFiles tmp;
  Read r = ReadAll({tmp.Write(Pcap(false, true, 1, 2, 1700000000, 0))});
  ASSERT_EQ(r.ts.size(), 2u);
  EXPECT_EQ(r.ts[0], 1700000000LL * kNsPerSecond + 1);
  EXPECT_EQ(r.ts[1], 1700000000LL * kNsPerSecond + 2);
}

TEST(FileSource, MergesFilesInTimeOrder) {
  TempFiles tmp;
  // a: t = 10, 12, 14; b: t = 11, 13, 15.
  std::string a = tmp.Write(Pcap(false, false, 1, 3, 10, 2));
  std::string b = tmp.Write(Pcap(true, true, 1, 3, 11, 2));
  Read r = ReadAll({a, b});
  ASSERT_EQ(r.ts.size(), 6u);
  for (size_t i = 1; i < r.ts.size(); ++i) EXPECT_LT(r.ts[i - 1], r.ts[i]) << "at " << i;
  EXPECT_EQ(r.ts[1] / kNsPerSecond, 11);
}

TEST(FileSource, TruncatedFileYieldsRecordsBeforeTheCutAndWarns) {
  TempFiles tmp;
  std::vector<uint8_t> bytes = Pcap(false, false, 1, 5, 100, 1);
  bytes.resize(bytes.size() - 6);  // cut inside the last record's header+data
  Read r = ReadAll({tmp.Write(bytes)});
  EXPECT_EQ(r.ts.size(), 4u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("cut short"), std::string::npos) << r.warnings[0];
}

TEST(FileSource, RejectsFilesThatAreNotCaptures) {
  TempFiles tmp;
  std::string text = "this is not a capture file\n";
  auto source = FileSource::Open({tmp.Write(std::vector<uint8_t>(text.begin(), text.end()))});
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.status().message().find("cannot read capture file"), std::string::npos)
      << source.status().message();
}

TEST(FileSource, RejectsMissingFilesNamingThem) {
  auto source = FileSource::Open({"/nonexistent/trace.pcap"});
  ASSERT_FALSE(source.ok());
  EXPECT_NE(source.status().message().find("/nonexistent/trace.pcap"), std::string::npos);
  EXPECT_NE(source.status().message().find("No such file"), std::string::npos);
}

TEST(FileSource, SkipsUnsupportedLinkTypesWithAWarning) {
  TempFiles tmp;
  Read r = ReadAll({tmp.Write(Pcap(false, false, 147 /* USER0 */, 2, 1, 1))});
  EXPECT_TRUE(r.ts.empty());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("147"), std::string::npos);
}

// pcapng with two interfaces of different link types (Ethernet, raw IP), the
// second at nanosecond resolution: libpcap refuses it, SIPMan's reader not.
std::vector<uint8_t> MixedPcapng(uint64_t units0 = 1000005, uint64_t units1 = 2000000007ULL) {
  FileWriter w(false);
  // Section header block.
  w.U32(0x0A0D0D0A);
  w.U32(28);
  w.U32(0x1A2B3C4D);
  w.U16(1);
  w.U16(0);
  w.U32(0xffffffff);
  w.U32(0xffffffff);
  w.U32(28);
  // IDB 0: Ethernet, default microseconds.
  w.U32(1);
  w.U32(20);
  w.U16(1);
  w.U16(0);
  w.U32(65535);
  w.U32(20);
  // IDB 1: raw IP, if_tsresol = 9.
  w.U32(1);
  w.U32(32);
  w.U16(101);
  w.U16(0);
  w.U32(65535);
  w.U16(9);
  w.U16(1);
  uint8_t res[4] = {9, 0, 0, 0};
  w.Raw(res, 4);
  w.U16(0);
  w.U16(0);
  w.U32(32);
  // EPBs: interface 0 at 1 s + 5 us, interface 1 at 2 s + 7 ns.
  auto epb = [&](uint32_t itf, uint64_t units, uint8_t fill) {
    w.U32(6);
    w.U32(32 + 4);
    w.U32(itf);
    w.U32(static_cast<uint32_t>(units >> 32));
    w.U32(static_cast<uint32_t>(units));
    w.U32(4);
    w.U32(60);
    uint8_t data[4];
    std::memset(data, fill, 4);
    w.Raw(data, 4);
    w.U32(32 + 4);
  };
  epb(0, units0, 0xaa);
  epb(1, units1, 0xbb);
  return w.bytes();
}

TEST(FileSource, ReadsPcapngWithMixedLinkTypesAndResolutions) {
  TempFiles tmp;
  Read r = ReadAll({tmp.Write(MixedPcapng())});
  ASSERT_EQ(r.ts.size(), 2u);
  EXPECT_EQ(r.ts[0], 1 * kNsPerSecond + 5 * kNsPerUs);
  EXPECT_EQ(r.ts[1], 2 * kNsPerSecond + 7);
  EXPECT_EQ(r.links[0], net::LinkType::kEthernet);
  EXPECT_EQ(r.links[1], net::LinkType::kRaw);
  EXPECT_EQ(r.first_byte[1], 0xbb);
}

TEST(FileSource, PcapngTimesPast2262AreClampedNotOverflowed) {
  // 2^64-1 microseconds and 2^63 + 5 nanoseconds are both past the last
  // second a TimestampNs holds (UBSan saw a signed overflow here).
  TempFiles tmp;
  Read r = ReadAll({tmp.Write(MixedPcapng(~0ULL, (1ULL << 63) + 5))});
  ASSERT_EQ(r.ts.size(), 2u);
  EXPECT_EQ(r.ts[0], kMaxTimestampNs);
  EXPECT_EQ(r.ts[1], kMaxTimestampNs);
}

TEST(FileSource, TruncatedPcapngStopsWithAWarning) {
  TempFiles tmp;
  std::vector<uint8_t> bytes = MixedPcapng();
  bytes.resize(bytes.size() - 10);
  Read r = ReadAll({tmp.Write(bytes)});
  EXPECT_EQ(r.ts.size(), 1u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("cut short"), std::string::npos) << r.warnings[0];
}

}  // namespace
}  // namespace sipman::capture
