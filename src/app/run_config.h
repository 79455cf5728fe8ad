// Private to app: the settings of `sipman run`, from a TOML file
// (--config) and from command-line flags, which override the file. Each
// setting is declared once, in the table of run_settings.cc (key, flags,
// range, help), and documented in docs/CONFIG.md.
#ifndef SIPMAN_APP_RUN_CONFIG_H_
#define SIPMAN_APP_RUN_CONFIG_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "alerts/alerts.h"
#include "base/status.h"
#include "stats/stats.h"

namespace sipman::app {

struct RunOptions {
  std::string config_file;  // where the file settings came from ("" when none)

  // Sources: live interfaces, or capture files replayed as if live.
  std::vector<std::string> interfaces;  // -i, TOML interfaces = ["eth0"]
  std::string filter;                   // -f; default capture::kDefaultLiveFilter
  bool filter_set = false;
  std::vector<std::string> pcap_files;  // --pcap
  double pcap_speed = 1.0;              // --pcap-speed; 0 = as fast as possible
  int buffer_mb = 32;                   // --buffer-mb
  int snaplen = 65535;                  // --snaplen
  bool promisc = false;                 // --promisc
  bool immediate = false;               // --immediate
  int timeout_ms = 100;                 // --timeout-ms

  // HEP (docs/HEP.md): a listener whose messages join the captured ones
  // (it may be the only source), and a sender that forwards every SIP
  // message as HEPv3.
  std::string hep_listen;          // --hep-listen [ADDR:]PORT; "" = none
  std::string hep_listen_host;     // from hep_listen; default 0.0.0.0
  uint16_t hep_listen_port = 0;
  std::string hep_auth;            // --hep-auth KEY: required of received packets, sent
  std::string hep_send;            // --hep-send [udp:|tcp:]HOST:PORT; "" = none
  std::string hep_send_host;       // from hep_send
  uint16_t hep_send_port = 0;
  bool hep_send_tcp = false;
  uint32_t hep_capture_id = 1;     // --hep-capture-id: capture agent id of sent packets

  // The web GUI and API (docs/UI.md, docs/API.md), served while capturing.
  bool web = true;                         // --no-web (--web)
  bool media = true;                       // --no-media (--media)
  // --exit-after-replay: a --pcap replay with the web GUI keeps serving the
  // stored data until SIGINT/SIGTERM; this exits once it is stored instead.
  bool exit_after_replay = false;
  // --hep-in-capture: unwrap HEP found in live-captured packets (replayed
  // files always are).
  bool hep_in_capture = false;
  std::string listen = "127.0.0.1:8080";   // --listen ADDR:PORT
  // --admin-password-file: first start only, the password of web user
  // `admin` (else $SIPMAN_ADMIN_PASSWORD, else a random one printed once).
  std::string admin_password_file;
  // --tls-cert FILE --tls-key FILE (TOML tls_cert, tls_key): serve HTTPS
  // with this PEM certificate chain and PEM private key; both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;

  // Store.
  std::string db = "sipman.db";  // --db
  std::string sensor;            // --sensor; default the host name
  std::string correlation_header;
  // --local-net CIDR[,CIDR...] (repeatable), TOML local_net = "..." or a
  // list: the sensor's own networks, for the in/out traffic counters. Flags
  // replace the file's list; local_nets is parsed from local_net.
  std::vector<std::string> local_net;
  stats::LocalNets local_nets;

  // Queue between capture and the worker, and its spill.
  int queue_mb = 64;          // --queue-mb
  size_t queue_packets = 0;   // --queue-packets; 0 = bounded by bytes only
  std::string spill_dir;      // --spill-dir; default DB + ".spill"
  size_t store_queue_rows = 65536;  // --store-queue-rows
  // --stats-second-hours: capture hours of per-second traffic rows kept
  // (minute and hour rows are kept); 0 keeps them all.
  int64_t stats_second_hours = 168;

  // Operations.
  std::string log_file;          // --log; default standard error
  double stats_interval = 1.0;   // --stats-interval, seconds; 0 = no status lines
  // --active-interval, seconds between snapshots of the calls still up into
  // the store's active_calls table; 0 = none.
  double active_interval = 5.0;

  // Alerts (docs/ALERTS.md): the [alerts] table and the [[rule]] tables of
  // the file, the built-in rules first unless [alerts] defaults = false.
  alerts::AlertsConfig alerts;
  bool alerts_on = true;       // --no-alerts: no rule runs
  bool alerts_ready = false;   // alerts.rules is complete (FinishAlertsConfig ran)
};

// Reads the TOML text of a configuration file into `options`. `path` names
// the file in messages, which look like "sipman.toml:3: ..." and say what to
// change. Unknown keys and wrong types are errors.
Status ParseRunConfigText(std::string_view text, const std::string& path, RunOptions* options);

// Reads the [alerts] and [[rule]] tables of a configuration file's TOML
// text (other keys are ignored) into *config, the defaults included:
// `sipman analyze --config` evaluates the same rules as `sipman run`.
Status ParseAlertsConfigText(std::string_view text, const std::string& path,
                             alerts::AlertsConfig* config);

// Reads the file at `path` and parses it as above.
Status LoadRunConfig(const std::string& path, RunOptions* options);

// Parses the arguments after "run": first --config FILE (if given) is read,
// then every flag is applied over it. -i given on the command line replaces
// the file's interfaces. Fills in the defaults that depend on other settings
// (sensor, spill_dir) and checks the combination. On error the Status says
// what is wrong; *usage is set when it is a usage error (exit 2) rather than
// a bad file (exit 1). Sets *help when -h/--help was given.
Status ParseRunArgs(int argc, char** argv, RunOptions* options, bool* usage, bool* help);

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_CONFIG_H_
