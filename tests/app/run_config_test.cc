#include "app/run_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "capture/capture.h"

namespace sipman::app {
namespace {

// argv for ParseRunArgs from a list of words.
class Args {
 public:
  Args(std::initializer_list<std::string> words) : words_(words) {
    for (std::string& w : words_) argv_.push_back(w.data());
  }
  int argc() const { return static_cast<int>(argv_.size()); }
  char** argv() { return argv_.data(); }

 private:
  std::vector<std::string> words_;
  std::vector<char*> argv_;
};

std::string WriteConfig(const std::string& text) {
  char path[] = "/tmp/sipman-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

TEST(RunConfig, FileSetsEverySetting) {
  RunOptions o;
  Status s = ParseRunConfigText(
      "# a comment\n"
      "interfaces = [\"eth0\", \"eth1\"]\n"
      "filter = \"udp port 5060\"\n"
      "db = \"/var/lib/sipman/sipman.db\"\n"
      "sensor = \"edge-1\"\n"
      "buffer_mb = 128\n"
      "snaplen = 9000\n"
      "promisc = true\n"
      "immediate = true\n"
      "timeout_ms = 20\n"
      "queue_mb = 16\n"
      "queue_packets = 1000\n"
      "spill_dir = \"/var/spool/sipman\"\n"
      "store_queue_rows = 5000\n"
      "log = \"/var/log/sipman.log\"\n"
      "stats_interval = 5\n"
      "active_interval = 2.5\n"
      "stats_second_hours = 24\n"
      "pcap_speed = 2.5\n"
      "correlation_header = \"X-CID\"\n",
      "sipman.toml", &o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(o.interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(o.filter, "udp port 5060");
  EXPECT_TRUE(o.filter_set);
  EXPECT_EQ(o.db, "/var/lib/sipman/sipman.db");
  EXPECT_EQ(o.sensor, "edge-1");
  EXPECT_EQ(o.buffer_mb, 128);
  EXPECT_EQ(o.snaplen, 9000);
  EXPECT_TRUE(o.promisc);
  EXPECT_TRUE(o.immediate);
  EXPECT_EQ(o.timeout_ms, 20);
  EXPECT_EQ(o.queue_mb, 16);
  EXPECT_EQ(o.queue_packets, 1000u);
  EXPECT_EQ(o.spill_dir, "/var/spool/sipman");
  EXPECT_EQ(o.store_queue_rows, 5000u);
  EXPECT_EQ(o.log_file, "/var/log/sipman.log");
  EXPECT_DOUBLE_EQ(o.stats_interval, 5);
  EXPECT_DOUBLE_EQ(o.active_interval, 2.5);
  EXPECT_EQ(o.stats_second_hours, 24);
  EXPECT_DOUBLE_EQ(o.pcap_speed, 2.5);
  EXPECT_EQ(o.correlation_header, "X-CID");
}

TEST(RunConfig, SyntaxErrorNamesFileAndLine) {
  RunOptions o;
  Status s = ParseRunConfigText("db = \"a.db\"\nsnaplen = 100\nfilter = \"udp\n", "sipman.toml", &o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("sipman.toml:3: ", 0), 0u) << s.message();
}

TEST(RunConfig, WrongTypeNamesLineAndWhatToWrite) {
  RunOptions o;
  Status s = ParseRunConfigText("db = \"a.db\"\n\nbuffer_mb = \"big\"\n", "sipman.toml", &o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "sipman.toml:3: 'buffer_mb' must be an integer from 1 to 4096");
}

TEST(RunConfig, OutOfRangeIsAnError) {
  RunOptions o;
  Status s = ParseRunConfigText("snaplen = 10\n", "c.toml", &o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "c.toml:1: 'snaplen' must be an integer from 64 to 262144");
}

TEST(RunConfig, UnknownKeyNamesLineAndKnownKeys) {
  RunOptions o;
  Status s = ParseRunConfigText("db = \"a.db\"\nintrefaces = [\"eth0\"]\n", "sipman.toml", &o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("sipman.toml:2: unknown setting 'intrefaces' (known: interfaces,", 0), 0u)
      << s.message();
}

TEST(RunConfig, SectionsAreRefused) {
  RunOptions o;
  Status s = ParseRunConfigText("db = \"a.db\"\n[capture]\nsnaplen = 100\n", "s.toml", &o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("sections are not used"), std::string::npos) << s.message();
}

TEST(RunConfig, InterfacesMayBeOneString) {
  RunOptions o;
  ASSERT_TRUE(ParseRunConfigText("interfaces = \"any\"\n", "s.toml", &o).ok());
  EXPECT_EQ(o.interfaces, std::vector<std::string>{"any"});
}

TEST(RunConfig, MissingFileSaysWhy) {
  RunOptions o;
  Status s = LoadRunConfig("/nonexistent/sipman.toml", &o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            "cannot read configuration file /nonexistent/sipman.toml: No such file or directory");
}

TEST(RunConfig, FlagsOverrideTheFileWhateverTheOrder) {
  std::string path = WriteConfig(
      "interfaces = [\"eth0\", \"eth1\"]\ndb = \"file.db\"\nsensor = \"from-file\"\n"
      "buffer_mb = 64\npromisc = true\n");
  RunOptions o;
  bool usage = false, help = false;
  Args args{"--db", "flag.db", "-i", "lo", "--config", path, "--buffer-mb=8"};
  Status s = ParseRunArgs(args.argc(), args.argv(), &o, &usage, &help);
  unlink(path.c_str());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(o.interfaces, std::vector<std::string>{"lo"});  // -i replaces the file's list
  EXPECT_EQ(o.db, "flag.db");
  EXPECT_EQ(o.sensor, "from-file");
  EXPECT_EQ(o.buffer_mb, 8);
  EXPECT_TRUE(o.promisc);
  EXPECT_EQ(o.spill_dir, "flag.db.spill");
  EXPECT_EQ(o.filter, capture::kDefaultLiveFilter);
}

TEST(RunConfig, ActiveIntervalDefaultsToFiveAndZeroTurnsItOff) {
  RunOptions o;
  EXPECT_DOUBLE_EQ(o.active_interval, 5);
  bool usage = false, help = false;
  Args args{"-i", "lo", "--active-interval", "0"};
  ASSERT_TRUE(ParseRunArgs(args.argc(), args.argv(), &o, &usage, &help).ok());
  EXPECT_DOUBLE_EQ(o.active_interval, 0);
  RunOptions bad;
  Args negative{"-i", "lo", "--active-interval", "-1"};
  EXPECT_FALSE(ParseRunArgs(negative.argc(), negative.argv(), &bad, &usage, &help).ok());
}

TEST(RunConfig, DefaultsDependOnOtherSettings) {
  RunOptions o;
  bool usage = false, help = false;
  Args args{"-i", "eth0", "-i", "eth1"};
  ASSERT_TRUE(ParseRunArgs(args.argc(), args.argv(), &o, &usage, &help).ok());
  EXPECT_EQ(o.interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(o.db, "sipman.db");
  EXPECT_EQ(o.spill_dir, "sipman.db.spill");
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  EXPECT_EQ(o.sensor, host);
}

TEST(RunConfig, WebGuiIsOnByDefaultOnLoopback8080) {
  RunOptions o;
  bool usage = false, help = false;
  Args args{"-i", "lo"};
  ASSERT_TRUE(ParseRunArgs(args.argc(), args.argv(), &o, &usage, &help).ok());
  EXPECT_TRUE(o.web);
  EXPECT_EQ(o.listen, "127.0.0.1:8080");
  EXPECT_EQ(o.admin_password_file, "");
}

TEST(RunConfig, WebSettingsFromFileAndFlags) {
  std::string path = WriteConfig(
      "interfaces = \"lo\"\nweb = false\nlisten = \"0.0.0.0:9000\"\n"
      "admin_password_file = \"/etc/sipman/admin\"\n");
  RunOptions from_file;
  bool usage = false, help = false;
  Args file_only{"--config", path};
  Status s = ParseRunArgs(file_only.argc(), file_only.argv(), &from_file, &usage, &help);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(from_file.web);
  EXPECT_EQ(from_file.listen, "0.0.0.0:9000");
  EXPECT_EQ(from_file.admin_password_file, "/etc/sipman/admin");

  RunOptions o;
  Args args{"--config", path, "--web", "--listen=127.0.0.1:0", "--admin-password-file", "pw"};
  s = ParseRunArgs(args.argc(), args.argv(), &o, &usage, &help);
  unlink(path.c_str());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(o.web);
  EXPECT_EQ(o.listen, "127.0.0.1:0");
  EXPECT_EQ(o.admin_password_file, "pw");

  RunOptions off;
  Args no_web{"-i", "lo", "--no-web"};
  ASSERT_TRUE(ParseRunArgs(no_web.argc(), no_web.argv(), &off, &usage, &help).ok());
  EXPECT_FALSE(off.web);
}

TEST(RunConfig, WebSettingErrors) {
  RunOptions o;
  EXPECT_EQ(ParseRunConfigText("web = \"no\"\n", "f.toml", &o).message(),
            "f.toml:1: 'web' must be true or false");
  EXPECT_EQ(ParseRunConfigText("listen = 8080\n", "f.toml", &o).message(),
            "f.toml:1: 'listen' must be a string in quotes, e.g. listen = \"...\"");
  EXPECT_FALSE(ParseRunConfigText("no_web = true\n", "f.toml", &o).ok());
  bool usage = false, help = false;
  Args missing{"-i", "lo", "--listen"};
  Status s = ParseRunArgs(missing.argc(), missing.argv(), &o, &usage, &help);
  EXPECT_TRUE(usage);
  EXPECT_EQ(s.message(),
            "--listen needs ADDR:PORT for the web GUI, e.g. 127.0.0.1:8080 or :8080");
}

TEST(RunConfig, BadFileErrorIsNotAUsageError) {
  std::string path = WriteConfig("snaplen = \"x\"\n");
  RunOptions o;
  bool usage = true, help = false;
  Args args{"--config", path, "-i", "lo"};
  Status s = ParseRunArgs(args.argc(), args.argv(), &o, &usage, &help);
  unlink(path.c_str());
  ASSERT_FALSE(s.ok());
  EXPECT_FALSE(usage);
  EXPECT_EQ(s.message(), path + ":1: 'snaplen' must be an integer from 64 to 262144");
}

TEST(RunConfig, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{}, "run: nothing to capture from: name an interface (-i eth0, -i any) or a capture to "
           "replay (--pcap FILE)"},
      {{"-i"}, "-i needs an interface name (e.g. eth0, or any)"},
      {{"-i", "lo", "--pcap", "a.pcap"}, "run: give either interfaces (-i) or capture files (--pcap), not both"},
      {{"-i", "lo", "--snaplen", "abc"}, "--snaplen needs bytes from 64 to 262144"},
      {{"-i", "lo", "--bogus"}, "unknown option '--bogus' for 'run'"},
  };
  for (Case& c : cases) {
    std::vector<char*> argv;
    for (std::string& a : c.args) argv.push_back(a.data());
    RunOptions o;
    bool usage = false, help = false;
    Status s = ParseRunArgs(static_cast<int>(argv.size()), argv.data(), &o, &usage, &help);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(usage);
    EXPECT_EQ(s.message(), c.message);
  }
}

TEST(RunConfig, PcapFromFlagsReplacesFileInterfaces) {
  std::string path = WriteConfig("interfaces = [\"eth0\"]\n");
  RunOptions o;
  bool usage = false, help = false;
  Args args{"--config", path, "--pcap", "x.pcap", "--pcap-speed", "0"};
  Status s = ParseRunArgs(args.argc(), args.argv(), &o, &usage, &help);
  unlink(path.c_str());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(o.interfaces.empty());
  EXPECT_EQ(o.pcap_files, std::vector<std::string>{"x.pcap"});
  EXPECT_EQ(o.pcap_speed, 0);
}

}  // namespace
}  // namespace sipman::app
