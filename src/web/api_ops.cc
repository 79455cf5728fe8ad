// What monitoring reads: GET /healthz (the server is up; "degraded" while
// database writes fail) and GET /metrics (Prometheus text).
#include <string>
#include <vector>

#include "stats/stats.h"
#include "store/store.h"
#include "web/api_handlers.h"

namespace sipman::web {

void Healthz(ApiContext& c) {
  // 200 either way: the server is up and a restart would not help (it
  // would lose the rows kept in memory). While the writer retries a
  // failed write, the body says "degraded" and why.
  c.resp->status = 200;
  c.resp->content_type = "text/plain; charset=utf-8";
  c.resp->body = "ok\n";
  if (c.store != nullptr) {
    const store::StoreCounters counters = c.store->counters();
    if (counters.write_failing != 0) {
      c.resp->body = "degraded: database write failing for " +
                     std::to_string(counters.write_failing_ms / 1000) +
                     " s: " + counters.last_write_error + "; " +
                     std::to_string(counters.rows_pending) + " rows kept, retrying\n";
    }
  }
}

void Metrics(ApiContext& c) {
  c.resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
  if (c.options.metrics) {
    c.options.metrics(&c.resp->body);
  } else if (c.store != nullptr) {
    store::TrafficQuery q;
    q.resolution = store::TrafficResolution::kHour;
    Result<std::vector<stats::TrafficCounters>> rows = c.store->TrafficRows(q);
    if (!rows.ok()) return c.DbError(rows.status());
    stats::TrafficCounters totals;
    for (const stats::TrafficCounters& row : *rows) totals.AddAll(row);
    stats::RenderPrometheus(totals, &c.resp->body);
  }
  c.resp->body += "# HELP sipman_web_live_clients Clients connected to the live stream.\n"
                  "# TYPE sipman_web_live_clients gauge\nsipman_web_live_clients " +
                  std::to_string(c.live->client_count()) + "\n";
}

}  // namespace sipman::web
