// The web module's public face: WebServer serves SIPMan's JSON API
// (docs/API.md), the Server-Sent Events live stream, /metrics, /healthz and
// the embedded browser UI over HTTP/1.1 (or HTTPS), reading the store;
// LiveFeed is how the capture pipeline pushes live events to the stream's
// clients.
//
// The server never reaches into the pipeline: it reads the database and
// whatever is published to its LiveFeed.
#ifndef SIPMAN_WEB_WEB_H_
#define SIPMAN_WEB_WEB_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "calls/calls.h"
#include "stats/stats.h"
#include "store/analytics.h"

namespace sipman::store {
class Store;
}

namespace sipman::web {

// Receives live events and fans them out to the connected SSE clients.
// Publishing formats the event once and appends it to each client's bounded
// buffer; it never waits on a socket. A client whose buffer is full (it
// reads too slowly) is disconnected.
// Thread safety: Publish* may be called from any thread.
class LiveFeed {
 public:
  virtual ~LiveFeed() = default;
  // One closed second of traffic counters (event "traffic", "final": true).
  virtual void PublishTraffic(const stats::TrafficCounters& second) = 0;
  // A second whose counts are not final yet: seconds stay open a few
  // seconds for late messages (stats::TrafficStats::kOpenSeconds), and a
  // dashboard should not lag that much. Event "traffic" with "final": false;
  // the same second is sent again, final, when it closes.
  virtual void PublishOpenTraffic(const stats::TrafficCounters& second) = 0;
  // A call began (first INVITE seen) or ended (its record is final)
  // (event "call").
  virtual void PublishCallStart(const calls::CallRecord& call) = 0;
  virtual void PublishCallEnd(const calls::CallRecord& call) = 0;
  // Calls up now (event "concurrent").
  virtual void PublishConcurrent(uint64_t calls) = 0;
  // An alert fired or resolved (event "alert", the API's alert object).
  virtual void PublishAlert(const std::string& /*alert_json*/) {}
};

struct WebServerOptions {
  // "ADDR:PORT", "[IPv6]:PORT" or ":PORT" (all addresses); port 0 picks a
  // free one (see WebServer::port()).
  std::string listen = "127.0.0.1:8080";
  // HTTPS: the server's certificate (PEM, with any intermediates after it)
  // and its unencrypted private key (PEM). Both or neither; neither serves
  // plain HTTP. Create() fails when a file is missing, unreadable, not PEM or
  // the key does not match the certificate. With HTTPS the session cookie
  // is also marked Secure.
  std::string tls_cert_file;
  std::string tls_key_file;
  // The SIPMan database to read: a SQLite file, or a PostgreSQL URL
  // ("postgresql://...") whose calls come from every sensor.
  std::string db_path = "sipman.db";
  // The SQLite file of the web users and API tokens. Empty: db_path itself,
  // or for a PostgreSQL db_path "sipman-web-users.db" in the working
  // directory.
  std::string users_db_path;
  // First start only: the password of user `admin`; empty prints a random one.
  std::string admin_password;
  std::FILE* announce = stdout;  // where the generated password is printed
  size_t worker_threads = 2;
  // Requests that hash a password (POST /api/v1/login, /api/v1/password)
  // run on threads of their own: Argon2id takes its memory limit and tens
  // to hundreds of milliseconds each, and must never leave /healthz, the
  // UI's files and the API waiting for a worker. At most
  // max_queued_password_requests wait; past it they are answered 503.
  size_t password_threads = 1;
  size_t max_queued_password_requests = 32;
  int request_timeout_ms = 10000;  // a request must arrive whole within this
  int idle_timeout_ms = 60000;     // keep-alive connections idle this long are closed
  // Connections open at once, live streams included; past it a new
  // connection is answered 503 and closed.
  size_t max_connections = 512;
  // Connections open at once from one client address (an IPv6 client's /64
  // counts as one address), live streams aside; past it a new connection
  // from there is answered 503 and closed, so one client cannot hold them all.
  size_t max_connections_per_address = 64;
  // Live streams (GET /api/v1/live) open at once, in all and per user;
  // past either the request is answered 503 with Retry-After. A stream holds
  // a socket (two with HTTPS) for as long as the client stays.
  size_t max_live_clients = 64;
  size_t max_live_clients_per_user = 8;
  size_t live_client_buffer_bytes = 256 * 1024;
  // `sipman serve`: no pipeline publishes, so the live stream polls the
  // database for new stats_second rows and sends them as "traffic" events.
  bool live_from_database = false;
  // Renders the /metrics body (Prometheus text). Unset: the totals of
  // stats_hour rows in the database.
  std::function<void(std::string*)> metrics;
  // GET /api/v1/alerts/rules: the rules of the running engine with their
  // values now (JSON object with "live" and "rules"), safe to call from any
  // thread. Unset (sipman serve): no rules run in this process.
  std::function<std::string()> alert_rules;
  // Where the server reports trouble it rides out (no file descriptor left
  // for a new connection, and when it accepts again); one line each, without
  // a newline. Unset: standard error, prefixed "sipman: web: ".
  std::function<void(const std::string&)> log;
  // Argon2id cost (0: libsodium's interactive limits). Tests lower them.
  unsigned long long pwhash_opslimit = 0;
  size_t pwhash_memlimit = 0;
};

class WebServer {
 public:
  // `store` (not owned; must outlive the server) serves message and
  // traffic reads; searches open their own connections to options.db_path.
  static Result<std::unique_ptr<WebServer>> Create(const WebServerOptions& options,
                                                   store::Store* store);
  virtual ~WebServer() = default;

  // Binds and starts the threads. Fails with the reason (address in use, ...).
  virtual Status Start() = 0;
  // Closes the listening socket and every connection, joins the threads.
  // Idempotent.
  virtual void Stop() = 0;
  // The bound port (after Start).
  virtual uint16_t port() const = 0;
  // The feed the pipeline publishes to; valid as long as the server.
  virtual LiveFeed* live() = 0;
  // HTTPS: reads the certificate and key files again (a renewed
  // certificate, on SIGHUP). New connections use the new pair; open ones
  // keep theirs. On error the server goes on with the pair it had, and the
  // error names the file. Without TLS there is nothing to do: Ok.
  virtual Status ReloadTls() = 0;
};

// The traffic figures over a range (store::Store::SummarizeTraffic) as one
// JSON object: the "summary" of GET /api/v1/stats/traffic (docs/API.md).
// `sipman report --json` writes the same object as its "traffic", so the
// resource has one shape wherever it appears.
std::string TrafficSummaryJson(const stats::TrafficSummary& summary);

// JSON array: the "rows" of GET /api/v1/stats/quality (docs/API.md), which
// `sipman report --quality --json` writes too.
std::string QualityRowsJson(const std::vector<store::QualityRow>& rows);

}  // namespace sipman::web

#endif  // SIPMAN_WEB_WEB_H_
