#include "app/serve_command.h"

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "app/flags.h"
#include "app/process.h"
#include "store/store.h"
#include "store/users.h"
#include "web/web.h"

namespace sipman::app {

const char kServeUsage[] =
    "  sipman serve [--db PATH|URL] [--users-db FILE] [--listen ADDR:PORT]\n"
    "               [--admin-password-file FILE] [--tls-cert CERT --tls-key KEY]\n"
    "      Serve the web GUI and the JSON API (docs/API.md) over a stored database\n"
    "      (default sipman.db) on 127.0.0.1:8080 until SIGINT/SIGTERM. On first\n"
    "      start it creates web user 'admin' with the password from FILE, else\n"
    "      from $SIPMAN_ADMIN_PASSWORD, else a random one printed once.\n"
    "      --db postgresql://USER@HOST:PORT/DB serves the central PostgreSQL store:\n"
    "      the calls and statistics of every sensor (filter with ?sensor=). The\n"
    "      web users are then kept in the local SQLite file --users-db (default\n"
    "      sipman-web-users.db in the working directory); with a SQLite --db they\n"
    "      are in that file unless --users-db names another.\n"
    "      With --tls-cert and --tls-key (PEM certificate chain and unencrypted\n"
    "      PEM private key) it serves HTTPS only (TLS 1.2 or newer) and marks the\n"
    "      session cookie Secure; SIGHUP reads both files again (a renewed\n"
    "      certificate).\n";

namespace {

int Usage(const std::string& message) {
  std::fprintf(stderr, "sipman serve: %s\nUsage:\n%s", message.c_str(), kServeUsage);
  return 2;
}

}  // namespace

int RunServeCommand(int argc, char** argv) {
  web::WebServerOptions options;
  std::string password_file;
  const std::pair<std::string_view, std::string*> flags[] = {
      {"--db", &options.db_path},
      {"--users-db", &options.users_db_path},
      {"--listen", &options.listen},
      {"--admin-password-file", &password_file},
      {"--tls-cert", &options.tls_cert_file},
      {"--tls-key", &options.tls_key_file}};
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    std::string_view arg = f.Arg();
    if (arg == "-h" || arg == "--help") {
      std::fputs(kServeUsage, stdout);
      return 0;
    }
    std::string value;
    bool missing = false;
    auto flag = std::find_if(std::begin(flags), std::end(flags), [&](const auto& entry) {
      return f.Is(entry.first, &value, &missing);
    });
    if (flag == std::end(flags)) return Usage("unknown argument '" + std::string(arg) + "'");
    if (missing) return Usage(std::string(flag->first) + " needs a value");
    *flag->second = value;
  }
  const store::StoreUrl db = store::ParseStoreUrl(options.db_path);
  const bool postgres = db.postgres;
  if (postgres && options.users_db_path.empty()) {
    options.users_db_path = store::UserDb::kDefaultFile;
  }
  const std::string& path = db.postgres ? db.shown : db.sqlite_path;  // shown without a password
  struct stat st;
  if (!postgres && stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr,
                 "sipman serve: database %s does not exist (fill one with 'sipman analyze --db "
                 "%s FILE.pcap' or 'sipman run --db %s')\n",
                 path.c_str(), path.c_str(), path.c_str());
    return 1;
  }
  Status password = ReadAdminPassword(password_file, &options.admin_password);
  if (!password.ok()) {
    std::fprintf(stderr, "sipman serve: %s\n", password.message().c_str());
    return 1;
  }
  options.live_from_database = true;

  // Every thread started from here inherits the blocked signals; this
  // thread waits for them.
  const sigset_t signals = BlockStopSignals();

  store::StoreOptions store_options;
  store_options.url = options.db_path;
  Result<std::unique_ptr<store::Store>> store = store::Store::Open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "sipman serve: %s\n", store.status().message().c_str());
    return 1;
  }
  Result<std::unique_ptr<web::WebServer>> server = web::WebServer::Create(options, store->get());
  if (!server.ok()) {
    std::fprintf(stderr, "sipman serve: %s\n", server.status().message().c_str());
    return 1;
  }
  Status s = (*server)->Start();
  if (!s.ok()) {
    std::fprintf(stderr, "sipman serve: %s\n", s.message().c_str());
    return 1;
  }
  std::string shown = options.listen;
  size_t colon = shown.rfind(':');
  std::string host = colon == std::string::npos ? "" : shown.substr(0, colon);
  if (host.empty()) host = "localhost";
  std::printf("sipman: serving %s://%s:%u/ (database %s); stop with Ctrl-C\n",
              options.tls_cert_file.empty() ? "http" : "https", host.c_str(),
              static_cast<unsigned>((*server)->port()), path.c_str());
  std::fflush(stdout);
  // SIGHUP reloads a renewed TLS certificate; SIGINT and SIGTERM stop.
  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    if (options.tls_cert_file.empty()) continue;
    s = (*server)->ReloadTls();
    if (s.ok()) {
      std::printf("sipman serve: SIGHUP: TLS certificate %s reloaded\n",
                  options.tls_cert_file.c_str());
    } else {
      std::printf("sipman serve: SIGHUP: %s\n", s.message().c_str());
    }
    std::fflush(stdout);
  }
  (*server)->Stop();
  s = (*store)->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "sipman serve: %s\n", s.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sipman::app
