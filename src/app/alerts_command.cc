// `sipman alerts`: the stored alerts, as a table or one JSON object per line
// (the web API's shape).
#include <cstdio>
#include <string>

#include "app/analyze_command.h"
#include "app/flags.h"
#include "app/report_command.h"
#include "store/store.h"
#include "web/resources.h"

namespace sipman::app {
namespace {

int Usage(const std::string& message) {
  std::fprintf(stderr, "sipman alerts: %s (see sipman --help)\n", message.c_str());
  return 2;
}

std::string Time(int64_t ts) { return ts > 0 ? IsoTime(ts) : "-"; }

}  // namespace

int RunAlertsCommand(int argc, char** argv) {
  std::string db = "sipman.db";
  bool json = false;
  store::AlertQuery q;
  q.limit = 1000;
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    std::string_view arg = f.Arg();
    if (f.Has("--db")) {
      if (f.missing()) return Usage("--db needs a PATH or a postgresql:// URL");
      db = f.value();
    } else if (f.Has("--state")) {
      if (f.missing() || (f.value() != "firing" && f.value() != "resolved")) {
        return Usage("--state takes firing or resolved");
      }
      q.state = f.value();
    } else if (f.Has("--rule")) {
      if (f.missing()) return Usage("--rule needs a rule name");
      q.rule = f.value();
    } else if (f.Has("--severity")) {
      if (f.missing() || (f.value() != "info" && f.value() != "warning" && f.value() != "critical")) {
        return Usage("--severity takes info, warning or critical");
      }
      q.severity = f.value();
    } else if (f.Has("--key")) {
      if (f.missing()) return Usage("--key needs a text to look for in the keys");
      q.key = f.value();
    } else if (f.Has("--from") || f.Has("--to")) {
      const bool from = arg.starts_with("--from");
      std::optional<TimestampNs> t = f.missing() ? std::nullopt : ParseReportTime(f.value());
      if (!t) return Usage(std::string(from ? "--from" : "--to") + " takes epoch seconds or ISO 8601 UTC");
      (from ? q.from_ts : q.to_ts) = *t;
    } else if (f.Has("--limit")) {
      int64_t n = 0;
      if (f.missing() || !ParseInt(f.value(), 1, 10'000'000, &n)) return Usage("--limit takes 1 to 10000000");
      q.limit = n;
    } else if (arg == "--json") {
      json = true;
    } else {
      return Usage("unknown argument '" + std::string(arg) + "'");
    }
  }
  store::StoreOptions options;
  options.url = db;
  options.spill_dir.clear();  // reads only: never replays a run's spilled rows
  auto store = store::Store::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "sipman alerts: %s\n", store.status().message().c_str());
    return 1;
  }
  Result<std::vector<store::AlertRow>> rows = (*store)->Alerts(q);
  if (!rows.ok()) {
    std::fprintf(stderr, "sipman alerts: %s\n", rows.status().message().c_str());
    return 1;
  }
  for (const store::AlertRow& r : *rows) {
    if (json) {
      std::printf("%s\n", web::AlertJson(r).c_str());
      continue;
    }
    std::printf("%s  %-8s %-9s %-24s %-18s %-28s value %s (threshold %s)%s%s\n", Time(r.fired_at).c_str(),
                r.state.c_str(), r.severity.c_str(), r.rule.c_str(), r.kind.c_str(), r.key.c_str(),
                alerts::FormatNumber(r.value).c_str(), alerts::FormatNumber(r.threshold).c_str(),
                r.resolved_at > 0 ? ("  resolved " + Time(r.resolved_at)).c_str() : "",
                r.action_result.empty() ? "" : ("  [" + r.action_result + "]").c_str());
  }
  if (!json && rows->empty()) std::printf("no alerts in %s\n", db.c_str());
  (void)(*store)->Close();
  return 0;
}

}  // namespace sipman::app
