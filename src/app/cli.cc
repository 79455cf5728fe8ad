#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <iterator>
#include <vector>

#include "app/analyze_command.h"
#include "app/app.h"
#include "app/flags.h"
#include "app/media_command.h"
#include "app/messages_command.h"
#include "app/report_command.h"
#include "app/run_command.h"
#include "app/run_config.h"
#include "app/run_settings.h"
#include "app/serve_command.h"
#include "store/analytics.h"

#ifndef SIPMAN_VERSION
#define SIPMAN_VERSION "0.1.0"
#endif

namespace sipman::app {
namespace {

constexpr char kUsageHead[] =
    "sipman " SIPMAN_VERSION " - SIP traffic monitor\n"
    "\n"
    "Usage:\n"
    "  sipman messages [--format tsv|json|none] FILE...\n"
    "      Decode every SIP message in pcap/pcapng FILEs (merged in time order)\n"
    "      and print one line per message, in capture order. FILE - reads\n"
    "      standard input (e.g. tcpdump -w - | sipman messages -).\n"
    "  sipman media [--json] FILE...\n"
    "      Measure every RTP stream in the FILEs: the SDP of each call names\n"
    "      the addresses its media uses (an RTP stream no SDP announced is found\n"
    "      after 4 packets in sequence). One line per stream, tab-separated:\n"
    "      start (epoch seconds, 6 decimals), source IP, source port,\n"
    "      destination IP, destination port, SSRC (0x and 8 hex digits), codec,\n"
    "      packets, lost (expected - received, may be negative), max delta (ms),\n"
    "      max jitter (ms), mean jitter (ms), MOS (E-model after a 50 ms jitter\n"
    "      buffer; empty for codecs without E-model figures), Call-ID (empty\n"
    "      when no SDP announced it). Packets, lost, delta and jitter are\n"
    "      Wireshark's (tshark -z rtp,streams); every formula: docs/METRICS.md.\n"
    "      --json prints one object per stream with every figure instead.\n"
    "  sipman analyze [--db PATH] [--sensor NAME] [--json]\n"
    "                 [--correlation-header NAME] [--local-net CIDR[,CIDR...]]\n"
    "                 [--no-media] [--config FILE] [--no-alerts] FILE...\n"
    "      Decode the FILEs, correlate SIP into calls and registrations, store\n"
    "      one call detail record per call (and every message) in the SQLite\n"
    "      database PATH (default sipman.db), and print a summary: calls per\n"
    "      state, registrations, messages, malformed messages, elapsed time and\n"
    "      rate. Running it again on the same files adds no duplicates.\n"
    "      --correlation-header X-CID links the legs of a B2BUA whose INVITEs\n"
    "      carry that header (correlation_id, linked_call_id columns).\n"
    "      --local-net 10.0.0.0/8,2001:db8::/32 names the sensor's own networks\n"
    "      (repeatable): messages crossing their border count as in or out.\n"
    "      The RTP of each call (joined by its SDP) is measured and stored\n"
    "      with the call: codec, loss, jitter, MOS per direction (--no-media:\n"
    "      not measured).\n"
    "      The alert rules (docs/ALERTS.md: the built-in security and health\n"
    "      rules, and the [[rule]] tables of --config FILE) run over the capture\n"
    "      as they would live; their alerts are stored, nothing is notified\n"
    "      and no action runs (--no-alerts: no rules).\n"
    "  sipman run [-i IFACE]... [-f FILTER] [--pcap FILE [--pcap-speed X]] [--hep-listen PORT]\n"
    "             [--db PATH] [--sensor NAME] [--config FILE] [options]\n"
    "      Capture SIP live and store every call when it ends (and every\n"
    "      message) in the SQLite database PATH, until SIGINT or SIGTERM; then\n"
    "      drain every queue, store the calls not yet ended as in_progress (a\n"
    "      call hung up but in its linger as what it was), and print a\n"
    "      summary. Meanwhile it serves the web GUI and the JSON API on\n"
    "      http://127.0.0.1:8080/ (docs/UI.md, docs/API.md). Every setting, and\n"
    "      the TOML file, is described in docs/CONFIG.md; flags override the file.\n"
    // The options of `sipman run` (RunSettingsHelp()) come here.
    ;

constexpr char kUsageTail[] =
    "      Capturing needs root or: setcap cap_net_raw,cap_net_admin=eip build/sipman\n"
    "  sipman serve [--db PATH|URL] [--users-db FILE] [--listen ADDR:PORT]\n"
    "               [--admin-password-file FILE] [--tls-cert CERT --tls-key KEY]\n"
    "      Web GUI and JSON API over a stored database, SQLite or the central\n"
    "      PostgreSQL one (see sipman serve --help).\n"
    "  sipman report [--db PATH|URL] [--from T] [--to T] [--sensor NAME]\n"
    "                [--by hour|day|week|user|caller|callee|ip|agent] [--top N] [--json]\n"
    "                [--no-traffic]\n"
    "  sipman report --quality [--by codec|src_ip|dst_ip|hour|day|week] [--db ...]\n"
    "                [--from T] [--to T] [--sensor NAME] [--top N] [--json]\n"
    "      Call analytics over the calls whose INVITE time lies in [--from, --to):\n"
    "      calls per state and final status, RFC 6076 SER, SEER, ISA, SCR, SRD,\n"
    "      SDD, SDT, RRD, IRA, plus ASR, ACD, NER, post-dial delay and the call\n"
    "      duration histogram with p50/p90/p99; then the traffic of the seconds\n"
    "      in the range: bytes, messages and calls per second (average, and peak\n"
    "      with its second), concurrent calls, messages per method and response\n"
    "      class, capture drops (--json: \"traffic\", as the web API's\n"
    "      /api/v1/stats/traffic summary; --no-traffic leaves it out: its calls\n"
    "      per second and concurrency read every call of the range, about 1 s\n"
    "      per million calls). --by prints instead one table:\n"
    "      calls per UTC period, or the top N (default 10) users (either side),\n"
    "      callers, callees, source IPs or user agents. T is epoch seconds\n"
    "      (fractions allowed) or ISO 8601 UTC (2026-11-25T10:00:00Z,\n"
    "      2026-11-25). --db is a SQLite file or a postgresql:// URL (every\n"
    "      sensor's calls; --sensor picks one). Formulas: docs/METRICS.md.\n"
    "      --quality reports the RTP streams whose first packet lies in the\n"
    "      range instead, per codec (default), media source or destination IP\n"
    "      (the top N) or UTC period: streams, packets, RFC 3550 loss %, mean\n"
    "      and highest jitter, MOS (packet-weighted mean and lowest, E-model\n"
    "      after a 50 ms buffer) and the streams below MOS 3.6.\n"
    "  sipman alerts [--db PATH|URL] [--state firing|resolved] [--rule NAME]\n"
    "                [--severity S] [--key TEXT] [--from T] [--to T] [--limit N] [--json]\n"
    "      The stored alerts, newest first: when each fired (and resolved), the\n"
    "      rule, its metric, the key (an address, a domain, a user), the value\n"
    "      against the threshold, the evidence (Call-IDs or addresses) and what\n"
    "      its action did. --json prints one object per line: rule, kind,\n"
    "      category, by, key, severity, state, fired_at (ns) and fired_at_time,\n"
    "      resolved_at, value, threshold, resolved_value, resolve_threshold,\n"
    "      evidence, sensor, action, action_result.\n"
    "  sipman --help | --version\n"
    "\n"
    "sipman messages output (--format tsv, the default): tab-separated fields\n"
    "  timestamp (epoch seconds, 6 decimals), source IP, source port,\n"
    "  destination IP, destination port, transport (udp, tcp, ws),\n"
    "  method (requests) or status code (responses), Call-ID, CSeq (\"1 INVITE\").\n"
    "--format json prints the same as JSON lines with named fields, plus From/To\n"
    "users and tags, User-Agent, size and the SDP media (type, address, port,\n"
    "codecs). --format none prints nothing per message.\n"
    "Totals (messages, packets, bytes, malformed, elapsed time, messages per\n"
    "second) always go to standard error.\n"
    "\n"
    "Decoded: Ethernet, 802.1Q/QinQ, Linux cooked (SLL, SLL2), raw IP, BSD\n"
    "loopback; IPv4/IPv6 with fragments; UDP; TCP streams (reassembled, framed by\n"
    "Content-Length); SIP over WebSocket. SIP is recognised on any port.\n"
    "\n"
    "Examples:\n"
    "  sipman messages trace.pcap\n"
    "  sipman messages --format json a.pcapng b.pcap | jq .call_id\n"
    "  sipman messages --format none big.pcap          # totals and speed only\n"
    "  sipman analyze --db calls.db trace.pcap\n"
    "  sipman report --db calls.db --from 2026-11-25 --to 2026-11-26 --by hour\n"
    "  sqlite3 calls.db 'select caller_user, callee_user, state, duration_ms from calls'\n"
    "  sudo sipman run -i eth0 --db /var/lib/sipman/sipman.db\n"
    "  sipman run --pcap trace.pcap --pcap-speed 0 --db replay.db\n"
    "\n"
    "Exit status: 0 on success (also when a file is cut short: what came before\n"
    "the cut is printed, with a warning), 1 when a file cannot be read, 2 on a\n"
    "usage error.\n";

// The whole --help text.
const std::string& Usage() {
  static const std::string text = kUsageHead + RunSettingsHelp() + kUsageTail;
  return text;
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "sipman: %s\nRun 'sipman --help' for usage.\n", message.c_str());
  return 2;
}

// An argument of messages or analyze that is none of its flags: -h, a
// capture file ("-" for standard input) or an error. Returns the exit
// status when the command ends here.
std::optional<int> FileArgument(std::string_view command, std::string_view arg,
                                std::vector<std::string>* files) {
  if (arg == "-h" || arg == "--help") {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  if (arg.starts_with("-") && arg != "-") {
    return UsageError("unknown option '" + std::string(arg) + "' for '" + std::string(command) +
                      "'");
  }
  files->emplace_back(arg);
  return std::nullopt;
}

int ParseMessages(int argc, char** argv) {
  MessagesOptions options;
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    std::string_view arg = f.Arg();
    std::string v;
    bool missing = false;
    if (f.Is("--format", &v, &missing)) {
      if (missing) return UsageError("--format needs a value: tsv, json or none");
      if (v == "tsv") {
        options.format = MessageFormat::kTsv;
      } else if (v == "json") {
        options.format = MessageFormat::kJson;
      } else if (v == "none") {
        options.format = MessageFormat::kNone;
      } else {
        return UsageError("unknown --format '" + v + "' (use tsv, json or none)");
      }
    } else if (std::optional<int> exit = FileArgument("messages", arg, &options.files)) {
      return *exit;
    }
  }
  if (options.files.empty()) return UsageError("messages: name at least one capture file");
  return RunMessages(options);
}

int ParseMedia(int argc, char** argv) {
  MediaOptions options;
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    if (f.Arg() == "--json") {
      options.json = true;
    } else if (std::optional<int> exit = FileArgument("media", f.Arg(), &options.files)) {
      return *exit;
    }
  }
  if (options.files.empty()) return UsageError("media: name at least one capture file");
  return RunMedia(options);
}

// The flags analyze and report share with run take their messages from
// run's table.
std::string Needs(std::string_view key) { return FlagNeeds(*FindRunSetting(key)); }

int ParseAnalyze(int argc, char** argv) {
  AnalyzeOptions options;
  std::string config_file;
  bool alerts_on = true;
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    std::string_view arg = f.Arg();
    if (f.Has("--db")) {
      if (f.missing()) return UsageError(Needs("db"));
      options.db = f.value();
    } else if (f.Has("--sensor")) {
      if (f.missing()) return UsageError(Needs("sensor"));
      options.sensor = f.value();
    } else if (f.Has("--correlation-header")) {
      if (f.missing()) return UsageError(Needs("correlation_header"));
      options.correlation_header = f.value();
    } else if (f.Has("--local-net")) {
      if (f.missing()) return UsageError(Needs("local_net"));
      Status s = options.local_nets.AddList(f.value());
      if (!s.ok()) return UsageError("--local-net: " + s.message());
    } else if (arg == "--json") {
      options.json = true;
    } else if (arg == "--no-media") {
      options.media = false;
    } else if (f.Has("--config")) {
      if (f.missing()) return UsageError("--config needs a FILE (TOML, docs/CONFIG.md)");
      config_file = f.value();
    } else if (arg == "--no-alerts") {
      alerts_on = false;
    } else if (std::optional<int> exit = FileArgument("analyze", arg, &options.files)) {
      return *exit;
    }
  }
  if (options.files.empty()) return UsageError("analyze: name at least one capture file");
  if (!config_file.empty()) {
    std::ifstream in(config_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "sipman analyze: cannot read configuration file %s: %s\n",
                   config_file.c_str(), std::strerror(errno));
      return 1;
    }
    std::ostringstream text;
    text << in.rdbuf();
    Status s = ParseAlertsConfigText(text.str(), config_file, &options.alerts);
    if (!s.ok()) {
      std::fprintf(stderr, "sipman analyze: %s\n", s.message().c_str());
      return 1;
    }
  } else if (Status s = alerts::FinishAlertsConfig({}, &options.alerts); !s.ok()) {
    std::fprintf(stderr, "sipman analyze: %s\n", s.message().c_str());
    return 1;
  }
  if (!alerts_on) options.alerts.rules.clear();
  return RunAnalyze(options);
}

int ParseReport(int argc, char** argv) {
  ReportOptions options;
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    std::string_view arg = f.Arg();
    if (f.Has("--db")) {
      if (f.missing()) return UsageError(Needs("db"));
      options.db = f.value();
    } else if (f.Has("--from") || f.Has("--to")) {
      const bool from = arg.starts_with("--from");
      const char* name = from ? "--from" : "--to";
      if (f.missing()) return UsageError(std::string(name) + " needs a time");
      std::optional<TimestampNs> t = ParseReportTime(f.value());
      if (!t) {
        return UsageError("cannot read " + std::string(name) + " '" + f.value() +
                          "' (use epoch seconds or ISO 8601 UTC like 2026-11-25T10:00:00Z)");
      }
      (from ? options.from_ts : options.to_ts) = *t;
    } else if (f.Has("--sensor")) {
      if (f.missing()) return UsageError(Needs("sensor"));
      options.sensor = f.value();
    } else if (f.Has("--by")) {
      if (f.missing()) return UsageError("--by needs a grouping");
      constexpr std::string_view kGroupings[] = {"hour",   "day",    "week", "user",
                                                 "caller", "callee", "ip",   "agent"};
      const bool call_grouping = std::find(std::begin(kGroupings), std::end(kGroupings),
                                           f.value()) != std::end(kGroupings);
      if (!call_grouping && !store::QualityGroupByName(f.value())) {
        return UsageError("unknown --by '" + f.value() +
                          "' (use hour, day, week, user, caller, callee, ip or agent; with "
                          "--quality " + std::string(store::kQualityGroupList) + ")");
      }
      options.by = f.value();
    } else if (f.Has("--top")) {
      if (f.missing()) return UsageError("--top needs a number");
      int64_t n = 0;
      if (!ParseInt(f.value(), 1, 100000, &n)) return UsageError("--top takes 1 to 100000");
      options.top_n = static_cast<size_t>(n);
    } else if (arg == "--json") {
      options.json = true;
    } else if (arg == "--no-traffic") {
      options.traffic = false;
    } else if (arg == "--quality") {
      options.quality = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(Usage().c_str(), stdout);
      return 0;
    } else {
      return UsageError("unknown argument '" + std::string(arg) + "' for 'report'");
    }
  }
  const bool quality_grouping = store::QualityGroupByName(options.by).has_value();
  if (options.quality && !options.by.empty() && !quality_grouping) {
    return UsageError("--quality --by takes " + std::string(store::kQualityGroupList));
  }
  if (!options.quality && !options.by.empty() && quality_grouping &&
      options.by != "hour" && options.by != "day" && options.by != "week") {
    return UsageError("--by " + options.by + " groups RTP streams: add --quality");
  }
  return RunReport(options);
}

int ParseRun(int argc, char** argv) {
  RunOptions options;
  bool usage = false, help = false;
  Status s = ParseRunArgs(argc, argv, &options, &usage, &help);
  if (help) {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  if (!s.ok()) {
    if (usage) return UsageError(s.message());
    std::fprintf(stderr, "sipman run: %s\n", s.message().c_str());
    return 1;
  }
  return RunDaemon(options);
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(Usage().c_str(), stderr);
    return 2;
  }
  std::string_view command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(Usage().c_str(), stdout);
    return 0;
  }
  if (command == "--version" || command == "-V") {
    std::puts("sipman " SIPMAN_VERSION);
    return 0;
  }
  if (command == "messages") return ParseMessages(argc - 2, argv + 2);
  if (command == "media") return ParseMedia(argc - 2, argv + 2);
  if (command == "analyze") return ParseAnalyze(argc - 2, argv + 2);
  if (command == "run") return ParseRun(argc - 2, argv + 2);
  if (command == "report") return ParseReport(argc - 2, argv + 2);
  if (command == "serve") return RunServeCommand(argc - 2, argv + 2);
  if (command == "alerts") return RunAlertsCommand(argc - 2, argv + 2);
  return UsageError("unknown command '" + std::string(command) + "'");
}

}  // namespace sipman::app
