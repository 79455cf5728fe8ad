// A real PostgreSQL server on loopback for the store tests: initdb into a
// temporary directory, pg_ctl start on a free port of 127.0.0.1 (its Unix
// socket in that directory too), one database per test, stopped and removed
// when the test process exits.
//
// The binaries come from $SIPMAN_PG_BIN or the newest
// /usr/lib/postgresql/*/bin (Debian's postgresql package). initdb refuses to
// run as root, so as root the server runs as the "postgres" user (runuser),
// which owns the temporary directory.
#ifndef SIPMAN_TESTS_STORE_POSTGRES_SERVER_H_
#define SIPMAN_TESTS_STORE_POSTGRES_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace sipman::store::testing {

class PostgresServer {
 public:
  // The server of this test process, started at first use. Null when none
  // can be started; *why then says why (for GTEST_SKIP).
  static PostgresServer* Shared(std::string* why) {
    static std::string error;
    static PostgresServer* server = [] {
      auto s = std::unique_ptr<PostgresServer>(new PostgresServer());
      if (!s->Init(&error)) return static_cast<PostgresServer*>(nullptr);
      std::atexit([] { delete Shared(nullptr); });
      return s.release();
    }();
    if (server == nullptr && why != nullptr) *why = error;
    return server;
  }

  ~PostgresServer() {
    Stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // A URL of the database `name` (created at first use; letters, digits and
  // '_' only).
  std::string Url(const std::string& name) {
    if (!databases_.contains(name)) {
      if (Run(bin_ + "/createdb -h 127.0.0.1 -p " + std::to_string(port_) + " -U sipman " +
              name, false) != 0) {
        return "postgresql://sipman@127.0.0.1:" + std::to_string(port_) + "/createdb-failed";
      }
      databases_[name] = true;
    }
    return "postgresql://sipman@127.0.0.1:" + std::to_string(port_) + "/" + name;
  }

  // Stops the server (fast shutdown: clients are disconnected) and starts it
  // again on the same port, for outage tests.
  bool Stop() {
    if (!running_) return true;
    running_ = Run(bin_ + "/pg_ctl -D " + dir_ + "/data -m fast -w stop", true) != 0;
    return !running_;
  }
  bool Start() {
    if (running_) return true;
    running_ =
        Run(bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 60 -o \"-p " +
                std::to_string(port_) + " -k " + dir_ +
                " -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
                " -c max_connections=100\" start",
            true) == 0;
    return running_;
  }
  int port() const { return port_; }

 private:
  PostgresServer() = default;

  static std::string FindBin() {
    if (const char* env = std::getenv("SIPMAN_PG_BIN")) return env;
    std::string best;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      std::string bin = entry.path().string() + "/bin";
      if (std::filesystem::exists(bin + "/initdb") && bin > best) best = bin;
    }
    return best;
  }

  static int FreePort() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
  }

  // Runs `command` through the shell, as the server's user when
  // `as_server_user`; output goes to the log file.
  int Run(const std::string& command, bool as_server_user) {
    std::string full = command;
    if (as_server_user && !run_as_.empty()) full = "runuser -u " + run_as_ + " -- " + full;
    full += " >>" + dir_ + "/commands.log 2>&1";
    return std::system(full.c_str());
  }

  bool Init(std::string* why) {
    bin_ = FindBin();
    if (bin_.empty()) {
      *why = "PostgreSQL server binaries not found (install Debian's postgresql, or set "
             "SIPMAN_PG_BIN to the directory holding initdb)";
      return false;
    }
    char pattern[] = "/tmp/sipman_pg_XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
      *why = "cannot make a temporary directory for PostgreSQL";
      return false;
    }
    dir_ = pattern;
    if (geteuid() == 0) {
      passwd* pw = getpwnam("postgres");
      if (pw == nullptr) {
        *why = "running as root and no 'postgres' user to run initdb as (initdb refuses root)";
        return false;
      }
      run_as_ = "postgres";
      if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        *why = "cannot give " + dir_ + " to the postgres user";
        return false;
      }
    }
    port_ = FreePort();
    if (Run(bin_ + "/initdb -D " + dir_ + "/data -A trust -U sipman -E UTF8 --no-locale " +
                "--no-sync --no-instructions",
            true) != 0) {
      *why = "initdb failed; see " + dir_ + "/commands.log";
      return false;
    }
    if (!Start()) {
      *why = "pg_ctl start failed; see " + dir_ + "/server.log";
      return false;
    }
    return true;
  }

  std::string bin_, dir_, run_as_;
  int port_ = 0;
  bool running_ = false;
  std::map<std::string, bool> databases_;
};

}  // namespace sipman::store::testing

#endif  // SIPMAN_TESTS_STORE_POSTGRES_SERVER_H_
