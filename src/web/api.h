// Private to web/: the JSON API, the pages and /metrics behind one entry
// point; one Api per server, called from the worker threads. api.cc holds
// the route table; the handlers are declared in api_handlers.h.
#ifndef SIPMAN_WEB_API_H_
#define SIPMAN_WEB_API_H_

#include <memory>
#include <string>

#include "store/analytics.h"
#include "store/call_search.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/live.h"
#include "web/router.h"
#include "web/web.h"

namespace sipman::web {

// Per worker thread: the database connections of that thread.
struct WorkerContext {
  std::unique_ptr<store::CallSearch> search;
  std::unique_ptr<store::CallAnalytics> analytics;
  std::string open_error;  // why they could not be opened
};

struct ClientInfo {
  // The client as failed logins are counted: its IPv4 address, or its IPv6
  // /64 ("2001:db8:1:2::/64"), which one client typically holds whole.
  std::string ip;
};

class Api {
 public:
  Api(const WebServerOptions& options, store::Store* store, Auth* auth, LiveHub* live);

  // Opens a worker's connections (errors are kept in the context and
  // answered with 503 by the routes that need them).
  void InitWorker(WorkerContext* context) const;
  void Handle(const HttpRequest& request, const ClientInfo& client, WorkerContext* context,
              HttpResponse* response);
  // Whether answering `request` hashes a password (the login, a password
  // change): the server runs those on threads of their own. Needs no
  // WorkerContext to answer them.
  bool HashesPasswords(const HttpRequest& request) const;

 private:
  const WebServerOptions& options_;
  store::Store* store_;
  Auth* auth_;
  LiveHub* live_;
  Router router_;
};

}  // namespace sipman::web

#endif  // SIPMAN_WEB_API_H_
