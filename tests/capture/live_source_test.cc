#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "capture/capture.h"

namespace sipman::capture {
namespace {

TEST(LiveSource, UnknownInterfaceNamesItAndTheFix) {
  LiveOptions options;
  options.interfaces = {"nosuch0"};
  auto source = LiveSource::Open(options);
  ASSERT_FALSE(source.ok());
  const std::string& m = source.status().message();
  if (geteuid() == 0) {
    EXPECT_EQ(m.rfind("cannot capture on nosuch0: no such interface", 0), 0u) << m;
    EXPECT_NE(m.find("'ip link'"), std::string::npos) << m;
  } else {
    // Unprivileged, libpcap may refuse before it looks the name up.
    EXPECT_EQ(m.rfind("cannot capture on nosuch0: ", 0), 0u) << m;
  }
}

TEST(LiveSource, NoInterfaceIsAnError) {
  auto source = LiveSource::Open(LiveOptions{});
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(),
            "no interface to capture on (name one with -i, e.g. -i eth0 or -i any)");
}

// The error an unprivileged user gets. As root, a child process drops to
// "nobody" (losing every capability) and reports the message through a pipe.
std::string OpenLoWithoutPrivileges() {
  LiveOptions options;
  options.interfaces = {"lo"};
  if (geteuid() != 0) {
    auto source = LiveSource::Open(options);
    return source.ok() ? "opened" : source.status().message();
  }
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::string m = "could not drop privileges";
    if (setgroups(0, nullptr) == 0 && setresgid(65534, 65534, 65534) == 0 &&
        setresuid(65534, 65534, 65534) == 0) {
      auto source = LiveSource::Open(options);
      m = source.ok() ? "opened" : source.status().message();
    }
    [[maybe_unused]] ssize_t n = write(fds[1], m.data(), m.size());
    _exit(0);
  }
  close(fds[1]);
  std::string m;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) m.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return m;
}

TEST(LiveSource, NotPermittedNamesSetcapAndRoot) {
  std::string m = OpenLoWithoutPrivileges();
  EXPECT_EQ(m.rfind("cannot capture on lo: permission denied", 0), 0u) << m;
  EXPECT_NE(m.find("run as root or grant the capabilities: setcap cap_net_raw,cap_net_admin=eip"),
            std::string::npos)
      << m;
}

TEST(LiveSource, BadFilterIsNamed) {
  if (geteuid() != 0) GTEST_SKIP() << "opening lo needs root";
  LiveOptions options;
  options.interfaces = {"lo"};
  options.filter = "udp port";
  auto source = LiveSource::Open(options);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message().rfind("bad capture filter 'udp port' on lo: ", 0), 0u)
      << source.status().message();
}

TEST(LiveSource, DefaultFilterCompilesOnEthernetAndAny) {
  if (geteuid() != 0) GTEST_SKIP() << "opening interfaces needs root";
  LiveOptions options;
  options.interfaces = {"any", "lo"};
  auto source = LiveSource::Open(options);
  ASSERT_TRUE(source.ok()) << source.status().message();
  EXPECT_EQ((*source)->Describe(), "any,lo");
}

TEST(LiveSource, CapturesUdpOnLoopbackAndStops) {
  if (geteuid() != 0) GTEST_SKIP() << "capturing needs root";
  LiveOptions options;
  options.interfaces = {"lo"};
  options.filter = "udp port 45999";
  options.timeout_ms = 20;
  auto opened = LiveSource::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  LiveSource& source = **opened;

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to = {};
  to.sin_family = AF_INET;
  to.sin_port = htons(45999);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char kText[] = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\r\n";
  for (int i = 0; i < 5; ++i) {
    ASSERT_GT(sendto(fd, kText, sizeof kText - 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  }
  close(fd);

  std::vector<Packet> seen;
  std::vector<std::string> payloads;
  PacketVisitor visit = [&](const Packet& p) {
    seen.push_back(p);
    payloads.emplace_back(reinterpret_cast<const char*>(p.data.data()), p.data.size());
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (seen.size() < 5 && std::chrono::steady_clock::now() < deadline) {
    auto r = source.Poll(50, visit);
    ASSERT_TRUE(r.ok()) << r.status().message();
  }
  ASSERT_EQ(seen.size(), 5u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].link, net::LinkType::kEthernet);
    EXPECT_NE(payloads[i].find("OPTIONS sip:x@127.0.0.1"), std::string::npos);
    EXPECT_GT(seen[i].ts, 1'600'000'000LL * kNsPerSecond);
  }
  source.Stop();
  auto stop_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  Result<PollResult> r = PollResult::kOk;
  while (std::chrono::steady_clock::now() < stop_deadline) {
    r = source.Poll(50, visit);
    ASSERT_TRUE(r.ok());
    if (*r == PollResult::kEnd) break;
  }
  EXPECT_EQ(*r, PollResult::kEnd);
  SourceStats stats = source.stats();
  EXPECT_EQ(stats.packets, 5u);
  EXPECT_EQ(stats.kernel_drops, 0u);
  EXPECT_GE(stats.kernel_received, 5u);
}

std::string TempPath(const char* name) {
  return std::string("/tmp/sipman-") + std::to_string(getpid()) + "-" + name;
}

TEST(PcapWriter, WrittenPacketsReadBackWithNanosecondTimes) {
  std::string path = TempPath("writer.pcap");
  auto writer = PcapWriter::Open(path, net::LinkType::kLinuxSll2, 65535);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  std::vector<uint8_t> a = {1, 2, 3}, b(1500, 7);
  Packet p;
  p.link = net::LinkType::kLinuxSll2;
  p.ts = 1'700'000'000'123'456'789;
  p.data = a;
  p.wire_len = 60;
  ASSERT_TRUE((*writer)->Write(p).ok());
  p.ts += 1;
  p.data = b;
  p.wire_len = 1500;
  ASSERT_TRUE((*writer)->Write(p).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  EXPECT_EQ((*writer)->bytes(), 24u + 16 + 3 + 16 + 1500);

  auto files = FileSource::Open({path});
  ASSERT_TRUE(files.ok()) << files.status().message();
  Packet got;
  ASSERT_TRUE((*files)->Next(&got));
  EXPECT_EQ(got.ts, 1'700'000'000'123'456'789);
  EXPECT_EQ(got.link, net::LinkType::kLinuxSll2);
  EXPECT_EQ(std::vector<uint8_t>(got.data.begin(), got.data.end()), a);
  EXPECT_EQ(got.wire_len, 60u);
  ASSERT_TRUE((*files)->Next(&got));
  EXPECT_EQ(got.ts, 1'700'000'000'123'456'790);
  EXPECT_EQ(got.data.size(), 1500u);
  EXPECT_FALSE((*files)->Next(&got));
  unlink(path.c_str());
}

TEST(PcapWriter, UncreatableFileSaysWhy) {
  auto writer = PcapWriter::Open("/nonexistent/dir/x.pcap", net::LinkType::kEthernet, 65535);
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().message(),
            "cannot create /nonexistent/dir/x.pcap: No such file or directory");
}

// A file of `n` packets 10 ms apart.
std::string WriteSpacedFile(const char* name, int n) {
  std::string path = TempPath(name);
  auto writer = PcapWriter::Open(path, net::LinkType::kEthernet, 65535);
  std::vector<uint8_t> bytes(60, 0);
  Packet p;
  p.link = net::LinkType::kEthernet;
  p.data = bytes;
  p.wire_len = 60;
  for (int i = 0; i < n; ++i) {
    p.ts = 1'700'000'000'000'000'000 + i * 10 * kNsPerMs;
    (*writer)->Write(p);
  }
  (*writer)->Close();
  return path;
}

TEST(ReplaySource, FullSpeedDeliversEverythingThenEnds) {
  std::string path = WriteSpacedFile("replay-fast.pcap", 2000);
  auto source = ReplaySource::Open({path}, 0);
  ASSERT_TRUE(source.ok()) << source.status().message();
  size_t n = 0;
  TimestampNs last = 0;
  PacketVisitor visit = [&](const Packet& p) {
    EXPECT_GT(p.ts, last);
    last = p.ts;
    ++n;
  };
  auto start = std::chrono::steady_clock::now();
  Result<PollResult> r = PollResult::kOk;
  while ((r = (*source)->Poll(100, visit)).ok() && *r == PollResult::kOk) {
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // not paced (20 s)
  EXPECT_EQ(n, 2000u);
  EXPECT_EQ((*source)->stats().packets, 2000u);
  unlink(path.c_str());
}

TEST(ReplaySource, PacedByCaptureTimes) {
  std::string path = WriteSpacedFile("replay-paced.pcap", 21);  // 200 ms of traffic
  auto source = ReplaySource::Open({path}, 1);
  ASSERT_TRUE(source.ok());
  size_t n = 0;
  PacketVisitor visit = [&](const Packet&) { ++n; };
  auto start = std::chrono::steady_clock::now();
  Result<PollResult> r = PollResult::kOk;
  while ((r = (*source)->Poll(30, visit)).ok() && *r == PollResult::kOk) {
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(n, 21u);
  EXPECT_GE(took, std::chrono::milliseconds(190));
  EXPECT_LT(took, std::chrono::seconds(3));
  unlink(path.c_str());
}

TEST(ReplaySource, StopEndsAReplay) {
  std::string path = WriteSpacedFile("replay-stop.pcap", 100);  // 1 s
  auto source = ReplaySource::Open({path}, 1);
  ASSERT_TRUE(source.ok());
  PacketVisitor visit = [](const Packet&) {};
  ASSERT_EQ(*(*source)->Poll(20, visit), PollResult::kOk);
  (*source)->Stop();
  EXPECT_EQ(*(*source)->Poll(20, visit), PollResult::kEnd);
  unlink(path.c_str());
}

TEST(ReplaySource, MissingFileIsAnError) {
  auto source = ReplaySource::Open({"/nonexistent.pcap"}, 1);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().message(),
            "cannot open capture file /nonexistent.pcap: No such file or directory");
}

}  // namespace
}  // namespace sipman::capture
