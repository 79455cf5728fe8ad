#include "app/run_settings.h"

#include <algorithm>
#include <array>

#include "stats/stats.h"

namespace sipman::app {
namespace {

using K = SettingKind;
using O = RunOptions;

Status CheckLocalNets(const RunOptions& o) {
  stats::LocalNets check;
  for (const std::string& item : o.local_net) {
    Status s = check.AddList(item);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

// The --help column where the text of each option starts.
constexpr size_t kHelpColumn = 27;

constexpr RunSetting kSettings[] = {
    {.key = "interfaces", .flag = "-i", .alias = "--interface", .metavar = "IFACE",
     .kind = K::kList, .member = &O::interfaces,
     .need = "an interface name (e.g. eth0, or any)",
     .help = "capture on IFACE (repeatable; 'any' = all)"},
    {.key = "filter", .flag = "-f", .alias = "--filter", .metavar = "FILTER",
     .kind = K::kString, .member = &O::filter,
     .need = "a BPF filter expression (\"\" captures everything)",
     .help = "BPF filter (default: udp or tcp or IPv4\n"
             "fragments or ip6 -- SIP on any port)",
     .empty_ok = true, .given = &O::filter_set},
    {.key = "pcap", .flag = "--pcap", .metavar = "FILE", .kind = K::kList,
     .member = &O::pcap_files, .need = "a capture file",
     .help = "replay FILE as if live instead (repeatable)"},
    {.key = "pcap_speed", .flag = "--pcap-speed", .metavar = "X", .kind = K::kNumber,
     .member = &O::pcap_speed, .lo = 0,
     .need = "a number: 1 real time, 10 ten times faster, 0 as fast as possible",
     .help = "replay speed: 1 real time (default), 0 as fast\n"
             "as possible. Once a replay is stored, the web\n"
             "GUI keeps serving it until SIGINT or SIGTERM"},
    {.key = "exit_after_replay", .flag = "--exit-after-replay", .kind = K::kSwitch,
     .member = &O::exit_after_replay, .help = "exit once the replay is stored instead"},
    {.key = "db", .flag = "--db", .metavar = "PATH", .kind = K::kString, .member = &O::db,
     .need = "a database path",
     .help = "database (default sipman.db), or postgresql://USER@HOST/DB"},
    {.key = "sensor", .flag = "--sensor", .metavar = "NAME", .kind = K::kString,
     .member = &O::sensor, .need = "a name",
     .help = "sensor name stored in every row (default: host name)"},
    {.key = "", .flag = "--config", .alias = "-c", .metavar = "FILE", .kind = K::kConfig,
     .need = "a file name", .help = "read settings from a TOML file first"},
    {.key = "buffer_mb", .flag = "--buffer-mb", .metavar = "N", .kind = K::kInt,
     .member = &O::buffer_mb, .lo = 1, .hi = 4096, .need = "MiB {range}",
     .help = "kernel capture ring per interface (default 32)"},
    {.key = "snaplen", .flag = "--snaplen", .metavar = "N", .kind = K::kInt,
     .member = &O::snaplen, .lo = 64, .hi = 262144, .need = "bytes {range}",
     .help = "bytes captured per packet (default 65535)"},
    {.key = "promisc", .flag = "--promisc", .alias = "--no-promisc", .kind = K::kSwitch,
     .member = &O::promisc, .help = "promiscuous mode (mirror/SPAN ports)"},
    {.key = "immediate", .flag = "--immediate", .kind = K::kSwitch, .member = &O::immediate,
     .help = "deliver each packet at once (no ring batching)"},
    {.key = "timeout_ms", .flag = "--timeout-ms", .metavar = "N", .kind = K::kInt,
     .member = &O::timeout_ms, .lo = 1, .hi = 10000, .need = "milliseconds {range}",
     .help = "ring block timeout when not immediate (default 100)"},
    {.key = "queue_mb", .flag = "--queue-mb", .metavar = "N", .kind = K::kInt,
     .member = &O::queue_mb, .lo = 1, .hi = 65536, .need = "MiB {range}",
     .help = "packet queue between capture and decoding (64)"},
    {.key = "queue_packets", .flag = "--queue-packets", .metavar = "N", .kind = K::kInt,
     .member = &O::queue_packets, .lo = 0, .hi = int64_t{1} << 32,
     .need = "a number of packets (0: no bound but --queue-mb)",
     .help = "also bound the queue in packets (default 0: no)"},
    {.key = "spill_dir", .flag = "--spill-dir", .metavar = "DIR", .kind = K::kString,
     .member = &O::spill_dir, .need = "a directory",
     .help = "where a full queue spills packets (default DB.spill)"},
    {.key = "store_queue_rows", .flag = "--store-queue-rows", .metavar = "N", .kind = K::kInt,
     .member = &O::store_queue_rows, .lo = 1, .hi = int64_t{1} << 30,
     .need = "a number of rows", .help = "rows waiting for the database writer (65536)"},
    {.key = "stats_second_hours", .flag = "--stats-second-hours", .metavar = "N",
     .kind = K::kInt, .member = &O::stats_second_hours, .lo = 0, .hi = int64_t{1} << 20,
     .need = "hours of per-second traffic rows (0: keep all)",
     .help = "per-second traffic rows kept, capture hours (168; 0 = all)"},
    {.key = "log", .flag = "--log", .metavar = "FILE", .kind = K::kString,
     .member = &O::log_file, .need = "a file name",
     .help = "log there instead of standard error (SIGHUP reopens)"},
    {.key = "stats_interval", .flag = "--stats-interval", .metavar = "S", .kind = K::kNumber,
     .member = &O::stats_interval, .lo = 0, .need = "seconds (0: no status lines)",
     .help = "status line every S seconds (default 1; 0 = off)"},
    {.key = "active_interval", .flag = "--active-interval", .metavar = "S",
     .kind = K::kNumber, .member = &O::active_interval, .lo = 0,
     .need = "seconds (0: no active_calls snapshots)",
     .help = "calls still up into table active_calls every S s (5; 0 = off)"},
    {.key = "correlation_header", .flag = "--correlation-header", .metavar = "NAME",
     .kind = K::kString, .member = &O::correlation_header,
     .need = "a header name, e.g. X-CID", .help = "as for analyze"},
    {.key = "local_net", .flag = "--local-net", .metavar = "CIDR[,CIDR...]", .kind = K::kList,
     .member = &O::local_net,
     .need = "the sensor's own networks, e.g. 10.0.0.0/8,2001:db8::/32",
     .help = "as for analyze (in/out traffic counters)",
     .toml_type_error = "'local_net' must be a string or a list of strings, "
                        "e.g. local_net = [\"10.0.0.0/8\", \"2001:db8::/32\"]",
     .check = CheckLocalNets},
    {.key = "hep_in_capture", .flag = "--hep-in-capture", .kind = K::kSwitch,
     .member = &O::hep_in_capture,
     .help = "unwrap HEP found in live-captured packets too\n"
             "(replayed files always are; off, a sensor on a\n"
             "server that sends HEP sees each message once)"},
    {.key = "hep_listen", .flag = "--hep-listen", .metavar = "[ADDR:]PORT",
     .kind = K::kPortOrString, .member = &O::hep_listen, .lo = 1, .hi = 65535,
     .need = "[ADDR:]PORT, e.g. 9060 or 127.0.0.1:9060",
     .help = "also receive HEP v1/v2/v3 on UDP and TCP\n"
             "(9060 is usual); alone, HEP is the only source"},
    {.key = "hep_auth", .flag = "--hep-auth", .metavar = "KEY", .kind = K::kString,
     .member = &O::hep_auth, .need = "a shared key",
     .help = "HEP auth key: required of received packets, sent"},
    {.key = "hep_send", .flag = "--hep-send", .metavar = "[tcp:]HOST:PORT", .kind = K::kString,
     .member = &O::hep_send, .need = "[udp:|tcp:]HOST:PORT, e.g. homer:9060",
     .help = "forward every SIP message as HEPv3"},
    {.key = "hep_capture_id", .flag = "--hep-capture-id", .metavar = "N", .kind = K::kInt,
     .member = &O::hep_capture_id, .lo = 0, .hi = 0xffffffffLL, .need = "a number {range}",
     .help = "capture agent id of sent HEP packets (default 1)"},
    {.key = "listen", .flag = "--listen", .metavar = "ADDR:PORT", .kind = K::kString,
     .member = &O::listen,
     .need = "ADDR:PORT for the web GUI, e.g. 127.0.0.1:8080 or :8080",
     .help = "web GUI and API address (default 127.0.0.1:8080)",
     .toml_empty_error = "'listen' must be ADDR:PORT, e.g. listen = \"127.0.0.1:8080\" "
                         "(web = false turns the web GUI off)"},
    {.key = "web", .flag = "--no-web", .alias = "--web", .kind = K::kSwitch, .member = &O::web,
     .help = "no web GUI", .switch_value = false},
    {.key = "media", .flag = "--no-media", .alias = "--media", .kind = K::kSwitch,
     .member = &O::media,
     .help = "no media analysis (RTP joined to calls by their\n"
             "SDP, measured: docs/METRICS.md), for a\n"
             "signalling-only sensor",
     .switch_value = false},
    {.key = "alert_rules", .flag = "--no-alerts", .alias = "--alerts", .kind = K::kSwitch,
     .member = &O::alerts_on,
     .help = "no alert rules (the built-in ones and the\n"
             "file's [[rule]] tables: docs/ALERTS.md)",
     .switch_value = false},
    {.key = "admin_password_file", .flag = "--admin-password-file", .metavar = "FILE",
     .kind = K::kString, .member = &O::admin_password_file,
     .need = "a file holding a password",
     .help = "first start: password of web user admin\n"
             "(else $SIPMAN_ADMIN_PASSWORD, else a random one\n"
             "printed once)"},
    {.key = "tls_cert", .flag = "--tls-cert", .metavar = "FILE", .kind = K::kString,
     .member = &O::tls_cert_file, .need = "a PEM certificate file (with --tls-key)",
     .help = "serve the web GUI over HTTPS with this\n"
             "PEM certificate chain and PEM private key\n"
             "(SIGHUP reads them again: a renewed certificate)",
     .usage = "--tls-cert CERT --tls-key KEY"},
    {.key = "tls_key", .flag = "--tls-key", .metavar = "FILE", .kind = K::kString,
     .member = &O::tls_key_file, .need = "a PEM private key file (with --tls-cert)"},
};

}  // namespace

std::span<const RunSetting> RunSettings() { return kSettings; }

const RunSetting* FindRunSetting(std::string_view key) {
  for (const RunSetting& s : kSettings) {
    if (!s.key.empty() && s.key == key) return &s;
  }
  return nullptr;
}

std::string FlagNeeds(const RunSetting& setting) {
  std::string need(setting.need);
  constexpr std::string_view kRange = "{range}";
  if (size_t at = need.find(kRange); at != std::string::npos) {
    need.replace(at, kRange.size(),
                 "from " + std::to_string(setting.lo) + " to " + std::to_string(setting.hi));
  }
  return std::string(setting.flag) + " needs " + need;
}

std::string RunSettingsHelp() {
  std::string text;
  for (const RunSetting& s : kSettings) {
    if (s.help.empty()) continue;
    std::string line = "        ";
    if (!s.usage.empty()) {
      line += s.usage;
    } else {
      line += s.flag;
      if (!s.metavar.empty()) line.append(" ").append(s.metavar);
    }
    line.resize(std::max(line.size() + 1, kHelpColumn), ' ');
    if (line.size() > kHelpColumn) line += ' ';
    std::string_view help = s.help;
    for (size_t end; (end = help.find('\n')) != std::string_view::npos;) {
      line.append(help.substr(0, end)).append("\n").append(kHelpColumn, ' ');
      help.remove_prefix(end + 1);
    }
    text.append(line).append(help).append("\n");
  }
  return text;
}

}  // namespace sipman::app
