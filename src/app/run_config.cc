#include "app/run_config.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

// cpptoml reports errors by throwing. This file is the only place SIPMan
// meets it: every exception is caught here and becomes a Status.
#include <cpptoml.h>

#include "capture/capture.h"
#include "hep/hep.h"
#include "store/store.h"

namespace sipman::app {
namespace {

// The TOML keys, which are the long flags with '_' for '-'.
constexpr std::string_view kKeys[] = {
    "interfaces", "filter",      "pcap",          "pcap_speed",       "buffer_mb",
    "snaplen",    "promisc",     "immediate",     "timeout_ms",       "db",
    "sensor",     "correlation_header", "queue_mb", "queue_packets", "spill_dir",
    "store_queue_rows", "log",   "stats_interval", "stats_second_hours",
    "active_interval", "hep_listen", "hep_auth", "hep_send", "hep_capture_id",
    "web",        "listen",      "admin_password_file", "tls_cert", "tls_key", "local_net",
    "exit_after_replay", "hep_in_capture"};

// The 1-based line where `key = ...` is written, or 0. cpptoml keeps no
// positions for values, so errors about a value find its line here.
size_t LineOfKey(std::string_view text, std::string_view key) {
  size_t line = 1;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    size_t i = l.find_first_not_of(" \t");
    if (i != std::string_view::npos) {
      l.remove_prefix(i);
      if (!l.empty() && (l[0] == '"' || l[0] == '\'')) l.remove_prefix(1);
      if (l.starts_with(key)) {
        std::string_view rest = l.substr(key.size());
        if (!rest.empty() && (rest[0] == '"' || rest[0] == '\'')) rest.remove_prefix(1);
        size_t j = rest.find_first_not_of(" \t");
        if (j != std::string_view::npos && rest[j] == '=') return line;
      }
    }
    ++line;
    pos = end + 1;
  }
  return 0;
}

class FileErrors {
 public:
  FileErrors(std::string_view text, const std::string& path) : text_(text), path_(path) {}
  Status At(std::string_view key, const std::string& what) const {
    size_t line = LineOfKey(text_, key);
    std::string where = line ? path_ + ":" + std::to_string(line) : path_;
    return Status::Error(where + ": " + what);
  }

 private:
  std::string_view text_;
  const std::string& path_;
};

Status GetString(cpptoml::base& v, const FileErrors& err, std::string_view key, std::string* out) {
  auto s = v.as<std::string>();
  if (!s) return err.At(key, "'" + std::string(key) + "' must be a string in quotes, e.g. " +
                                 std::string(key) + " = \"...\"");
  *out = s->get();
  return Status::Ok();
}

Status GetInt(cpptoml::base& v, const FileErrors& err, std::string_view key, int64_t lo,
              int64_t hi, int64_t* out) {
  auto i = v.as<int64_t>();
  if (!i || i->get() < lo || i->get() > hi) {
    return err.At(key, "'" + std::string(key) + "' must be an integer from " + std::to_string(lo) +
                           " to " + std::to_string(hi));
  }
  *out = i->get();
  return Status::Ok();
}

Status GetNumber(cpptoml::base& v, const FileErrors& err, std::string_view key, double lo,
                 double* out) {
  double d;
  if (auto f = v.as<double>()) {
    d = f->get();
  } else if (auto i = v.as<int64_t>()) {
    d = static_cast<double>(i->get());
  } else {
    return err.At(key, "'" + std::string(key) + "' must be a number");
  }
  if (!(d >= lo) || !std::isfinite(d)) {
    return err.At(key, "'" + std::string(key) + "' must be at least " + std::to_string(lo));
  }
  *out = d;
  return Status::Ok();
}

Status GetBool(cpptoml::base& v, const FileErrors& err, std::string_view key, bool* out) {
  auto b = v.as<bool>();
  if (!b) return err.At(key, "'" + std::string(key) + "' must be true or false");
  *out = b->get();
  return Status::Ok();
}

// A string or an array of strings.
Status GetStringList(cpptoml::base& v, const FileErrors& err, std::string_view key,
                     std::vector<std::string>* out) {
  if (auto s = v.as<std::string>()) {
    *out = {s->get()};
    return Status::Ok();
  }
  if (v.is_array()) {
    auto list = v.as_array()->get_array_of<std::string>();
    if (list) {
      *out = *list;
      return Status::Ok();
    }
  }
  return err.At(key, "'" + std::string(key) + "' must be a list of strings, e.g. " +
                         std::string(key) + " = [\"eth0\", \"eth1\"]");
}

Status ApplyKey(const std::string& key, cpptoml::base& v, const FileErrors& err,
                RunOptions* o) {
  int64_t n = 0;
  Status s;
  if (key == "interfaces") return GetStringList(v, err, key, &o->interfaces);
  if (key == "filter") {
    o->filter_set = true;
    return GetString(v, err, key, &o->filter);
  }
  if (key == "pcap") return GetStringList(v, err, key, &o->pcap_files);
  if (key == "pcap_speed") return GetNumber(v, err, key, 0, &o->pcap_speed);
  if (key == "buffer_mb") {
    s = GetInt(v, err, key, 1, 4096, &n);
    o->buffer_mb = static_cast<int>(n);
    return s;
  }
  if (key == "snaplen") {
    s = GetInt(v, err, key, 64, 262144, &n);
    o->snaplen = static_cast<int>(n);
    return s;
  }
  if (key == "promisc") return GetBool(v, err, key, &o->promisc);
  if (key == "immediate") return GetBool(v, err, key, &o->immediate);
  if (key == "timeout_ms") {
    s = GetInt(v, err, key, 1, 10000, &n);
    o->timeout_ms = static_cast<int>(n);
    return s;
  }
  if (key == "db") return GetString(v, err, key, &o->db);
  if (key == "sensor") return GetString(v, err, key, &o->sensor);
  if (key == "correlation_header") return GetString(v, err, key, &o->correlation_header);
  if (key == "local_net") {
    const char* example = "e.g. local_net = [\"10.0.0.0/8\", \"2001:db8::/32\"]";
    if (!GetStringList(v, err, key, &o->local_net).ok()) {
      return err.At(key, std::string("'local_net' must be a string or a list of strings, ") +
                             example);
    }
    stats::LocalNets check;
    for (const std::string& item : o->local_net) {
      s = check.AddList(item);
      if (!s.ok()) return err.At(key, "'local_net': " + s.message());
    }
    return Status::Ok();
  }
  if (key == "queue_mb") {
    s = GetInt(v, err, key, 1, 65536, &n);
    o->queue_mb = static_cast<int>(n);
    return s;
  }
  if (key == "queue_packets") {
    s = GetInt(v, err, key, 0, int64_t{1} << 32, &n);
    o->queue_packets = static_cast<size_t>(n);
    return s;
  }
  if (key == "spill_dir") return GetString(v, err, key, &o->spill_dir);
  if (key == "store_queue_rows") {
    s = GetInt(v, err, key, 1, int64_t{1} << 30, &n);
    o->store_queue_rows = static_cast<size_t>(n);
    return s;
  }
  if (key == "log") return GetString(v, err, key, &o->log_file);
  if (key == "stats_interval") return GetNumber(v, err, key, 0, &o->stats_interval);
  if (key == "active_interval") return GetNumber(v, err, key, 0, &o->active_interval);
  if (key == "stats_second_hours") {
    return GetInt(v, err, key, 0, int64_t{1} << 20, &o->stats_second_hours);
  }
  if (key == "hep_listen") {
    // A bare port is natural in TOML too: hep_listen = 9060.
    if (v.as<int64_t>()) {
      s = GetInt(v, err, key, 1, 65535, &n);
      o->hep_listen = std::to_string(n);
      return s;
    }
    return GetString(v, err, key, &o->hep_listen);
  }
  if (key == "hep_auth") return GetString(v, err, key, &o->hep_auth);
  if (key == "hep_send") return GetString(v, err, key, &o->hep_send);
  if (key == "hep_capture_id") {
    s = GetInt(v, err, key, 0, 0xffffffffLL, &n);
    o->hep_capture_id = static_cast<uint32_t>(n);
    return s;
  }
  if (key == "web") return GetBool(v, err, key, &o->web);
  if (key == "exit_after_replay") return GetBool(v, err, key, &o->exit_after_replay);
  if (key == "hep_in_capture") return GetBool(v, err, key, &o->hep_in_capture);
  if (key == "listen") {
    s = GetString(v, err, key, &o->listen);
    if (s.ok() && o->listen.empty()) {
      return err.At(key, "'listen' must be ADDR:PORT, e.g. listen = \"127.0.0.1:8080\" "
                         "(web = false turns the web GUI off)");
    }
    return s;
  }
  if (key == "admin_password_file") return GetString(v, err, key, &o->admin_password_file);
  if (key == "tls_cert") return GetString(v, err, key, &o->tls_cert_file);
  if (key == "tls_key") return GetString(v, err, key, &o->tls_key_file);
  std::string known;
  for (std::string_view k : kKeys) known += (known.empty() ? "" : ", ") + std::string(k);
  return err.At(key, "unknown setting '" + key + "' (known: " + known + ")");
}

// "Unidentified trailing character ... at line 3" -> line 3, message before it.
Status FromParseException(const std::string& path, const std::string& what) {
  constexpr std::string_view kAt = " at line ";
  size_t at = what.rfind(kAt);
  if (at != std::string::npos) {
    return Status::Error(path + ":" + what.substr(at + kAt.size()) + ": " + what.substr(0, at) +
                         " (the file must be TOML: key = value, strings in quotes)");
  }
  return Status::Error(path + ": " + what);
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "sensor";
  return name;
}

// Both "--name VALUE" and "--name=VALUE".
class Flags {
 public:
  Flags(int argc, char** argv) : argc_(argc), argv_(argv) {}
  bool Done() const { return i_ >= argc_; }
  std::string_view Arg() const { return argv_[i_]; }
  void Advance() { ++i_; }
  // True when the current argument is `name` (or name=...); its value goes
  // to *value, and *missing says it had none.
  bool Is(std::string_view name, std::string* value, bool* missing) {
    std::string_view arg = Arg();
    if (arg == name) {
      if (i_ + 1 >= argc_) {
        *missing = true;
        return true;
      }
      *value = argv_[++i_];
      return true;
    }
    if (arg.size() > name.size() + 1 && arg.starts_with(name) && arg[name.size()] == '=') {
      *value = std::string(arg.substr(name.size() + 1));
      return true;
    }
    return false;
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
};

bool ParseInt(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool ParseDouble(const std::string& s, double lo, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !(v >= lo) || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace

Status ParseRunConfigText(std::string_view text, const std::string& path, RunOptions* options) {
  FileErrors err(text, path);
  std::shared_ptr<cpptoml::table> table;
  try {
    std::istringstream in{std::string(text)};
    cpptoml::parser parser(in);
    table = parser.parse();
  } catch (const cpptoml::parse_exception& e) {
    return FromParseException(path, e.what());
  } catch (const std::exception& e) {
    return Status::Error(path + ": " + e.what());
  }
  options->config_file = path;
  for (const auto& [key, value] : *table) {
    if (value->is_table() || value->is_table_array()) {
      return err.At(key, "[" + key + "]: sections are not used; write every setting as key = value "
                         "at the top level (see docs/CONFIG.md)");
    }
    Status s = ApplyKey(key, *value, err, options);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status LoadRunConfig(const std::string& path, RunOptions* options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Error("cannot read configuration file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseRunConfigText(text.str(), path, options);
}

Status ParseRunArgs(int argc, char** argv, RunOptions* options, bool* usage, bool* help) {
  *usage = true;
  *help = false;
  // The file first, so that every flag overrides it whatever the order.
  for (Flags f(argc, argv); !f.Done(); f.Advance()) {
    std::string value;
    bool missing = false;
    if (f.Is("--config", &value, &missing) || f.Is("-c", &value, &missing)) {
      if (missing || value.empty()) return Status::Error("--config needs a file name");
      *usage = false;
      Status s = LoadRunConfig(value, options);
      if (!s.ok()) return s;
      *usage = true;
    }
  }
  std::vector<std::string> interfaces, pcaps, local_net;
  for (Flags f(argc, argv); !f.Done(); f.Advance()) {
    std::string v;
    bool missing = false;
    int64_t n = 0;
    auto need = [&](std::string_view flag, std::string_view what) {
      return Status::Error(std::string(flag) + " needs " + std::string(what));
    };
    std::string_view arg = f.Arg();
    if (arg == "-h" || arg == "--help") {
      *help = true;
      return Status::Ok();
    } else if (f.Is("--config", &v, &missing) || f.Is("-c", &v, &missing)) {
      // read above
    } else if (f.Is("-i", &v, &missing) || f.Is("--interface", &v, &missing)) {
      if (missing || v.empty()) return need("-i", "an interface name (e.g. eth0, or any)");
      interfaces.push_back(v);
    } else if (f.Is("-f", &v, &missing) || f.Is("--filter", &v, &missing)) {
      if (missing) return need("-f", "a BPF filter expression (\"\" captures everything)");
      options->filter = v;
      options->filter_set = true;
    } else if (f.Is("--pcap", &v, &missing)) {
      if (missing || v.empty()) return need("--pcap", "a capture file");
      pcaps.push_back(v);
    } else if (f.Is("--pcap-speed", &v, &missing)) {
      if (missing || !ParseDouble(v, 0, &options->pcap_speed)) {
        return need("--pcap-speed", "a number: 1 real time, 10 ten times faster, 0 as fast as possible");
      }
    } else if (f.Is("--db", &v, &missing)) {
      if (missing || v.empty()) return need("--db", "a database path");
      options->db = v;
    } else if (f.Is("--sensor", &v, &missing)) {
      if (missing || v.empty()) return need("--sensor", "a name");
      options->sensor = v;
    } else if (f.Is("--correlation-header", &v, &missing)) {
      if (missing || v.empty()) return need("--correlation-header", "a header name, e.g. X-CID");
      options->correlation_header = v;
    } else if (f.Is("--local-net", &v, &missing)) {
      if (missing || v.empty()) {
        return need("--local-net", "the sensor's own networks, e.g. 10.0.0.0/8,2001:db8::/32");
      }
      local_net.push_back(v);
    } else if (f.Is("--buffer-mb", &v, &missing)) {
      if (missing || !ParseInt(v, 1, 4096, &n)) return need("--buffer-mb", "MiB from 1 to 4096");
      options->buffer_mb = static_cast<int>(n);
    } else if (f.Is("--snaplen", &v, &missing)) {
      if (missing || !ParseInt(v, 64, 262144, &n)) return need("--snaplen", "bytes from 64 to 262144");
      options->snaplen = static_cast<int>(n);
    } else if (arg == "--promisc") {
      options->promisc = true;
    } else if (arg == "--no-promisc") {
      options->promisc = false;
    } else if (arg == "--immediate") {
      options->immediate = true;
    } else if (f.Is("--timeout-ms", &v, &missing)) {
      if (missing || !ParseInt(v, 1, 10000, &n)) return need("--timeout-ms", "milliseconds from 1 to 10000");
      options->timeout_ms = static_cast<int>(n);
    } else if (f.Is("--queue-mb", &v, &missing)) {
      if (missing || !ParseInt(v, 1, 65536, &n)) return need("--queue-mb", "MiB from 1 to 65536");
      options->queue_mb = static_cast<int>(n);
    } else if (f.Is("--queue-packets", &v, &missing)) {
      if (missing || !ParseInt(v, 0, int64_t{1} << 32, &n)) {
        return need("--queue-packets", "a number of packets (0: no bound but --queue-mb)");
      }
      options->queue_packets = static_cast<size_t>(n);
    } else if (f.Is("--spill-dir", &v, &missing)) {
      if (missing || v.empty()) return need("--spill-dir", "a directory");
      options->spill_dir = v;
    } else if (f.Is("--store-queue-rows", &v, &missing)) {
      if (missing || !ParseInt(v, 1, int64_t{1} << 30, &n)) return need("--store-queue-rows", "a number of rows");
      options->store_queue_rows = static_cast<size_t>(n);
    } else if (f.Is("--stats-second-hours", &v, &missing)) {
      if (missing || !ParseInt(v, 0, int64_t{1} << 20, &options->stats_second_hours)) {
        return need("--stats-second-hours", "hours of per-second traffic rows (0: keep all)");
      }
    } else if (f.Is("--log", &v, &missing)) {
      if (missing || v.empty()) return need("--log", "a file name");
      options->log_file = v;
    } else if (f.Is("--stats-interval", &v, &missing)) {
      if (missing || !ParseDouble(v, 0, &options->stats_interval)) {
        return need("--stats-interval", "seconds (0: no status lines)");
      }
    } else if (f.Is("--active-interval", &v, &missing)) {
      if (missing || !ParseDouble(v, 0, &options->active_interval)) {
        return need("--active-interval", "seconds (0: no active_calls snapshots)");
      }
    } else if (f.Is("--hep-listen", &v, &missing)) {
      if (missing || v.empty()) return need("--hep-listen", "[ADDR:]PORT, e.g. 9060 or 127.0.0.1:9060");
      options->hep_listen = v;
    } else if (f.Is("--hep-auth", &v, &missing)) {
      if (missing || v.empty()) return need("--hep-auth", "a shared key");
      options->hep_auth = v;
    } else if (f.Is("--hep-send", &v, &missing)) {
      if (missing || v.empty()) return need("--hep-send", "[udp:|tcp:]HOST:PORT, e.g. homer:9060");
      options->hep_send = v;
    } else if (f.Is("--hep-capture-id", &v, &missing)) {
      if (missing || !ParseInt(v, 0, 0xffffffffLL, &n)) {
        return need("--hep-capture-id", "a number from 0 to 4294967295");
      }
      options->hep_capture_id = static_cast<uint32_t>(n);
    } else if (arg == "--no-web") {
      options->web = false;
    } else if (arg == "--web") {
      options->web = true;
    } else if (arg == "--exit-after-replay") {
      options->exit_after_replay = true;
    } else if (arg == "--hep-in-capture") {
      options->hep_in_capture = true;
    } else if (f.Is("--listen", &v, &missing)) {
      if (missing || v.empty()) {
        return need("--listen", "ADDR:PORT for the web GUI, e.g. 127.0.0.1:8080 or :8080");
      }
      options->listen = v;
    } else if (f.Is("--admin-password-file", &v, &missing)) {
      if (missing || v.empty()) return need("--admin-password-file", "a file holding a password");
      options->admin_password_file = v;
    } else if (f.Is("--tls-cert", &v, &missing)) {
      if (missing || v.empty()) return need("--tls-cert", "a PEM certificate file (with --tls-key)");
      options->tls_cert_file = v;
    } else if (f.Is("--tls-key", &v, &missing)) {
      if (missing || v.empty()) return need("--tls-key", "a PEM private key file (with --tls-cert)");
      options->tls_key_file = v;
    } else {
      return Status::Error("unknown option '" + std::string(arg) + "' for 'run'");
    }
  }
  if (!interfaces.empty()) options->interfaces = interfaces;
  if (!pcaps.empty()) options->pcap_files = pcaps;
  if (!local_net.empty()) options->local_net = local_net;
  options->local_nets = stats::LocalNets();
  for (const std::string& item : options->local_net) {
    Status s = options->local_nets.AddList(item);
    if (!s.ok()) return Status::Error("--local-net: " + s.message());
  }
  if (!interfaces.empty() && pcaps.empty()) options->pcap_files.clear();
  if (!pcaps.empty() && interfaces.empty()) options->interfaces.clear();

  if (options->interfaces.empty() && options->pcap_files.empty() && options->hep_listen.empty()) {
    return Status::Error(
        "run: nothing to capture from: name an interface (-i eth0, -i any) or a capture to "
        "replay (--pcap FILE)");
  }
  if (!options->hep_listen.empty()) {
    Status s = hep::ParseHostPort(options->hep_listen, hep::kDefaultPort,
                                  &options->hep_listen_host, &options->hep_listen_port);
    if (!s.ok()) return Status::Error("--hep-listen: " + s.message());
    if (options->hep_listen_host.empty()) options->hep_listen_host = "0.0.0.0";
  }
  if (!options->hep_send.empty()) {
    std::string_view target = options->hep_send;
    options->hep_send_tcp = false;
    if (target.starts_with("tcp:")) {
      options->hep_send_tcp = true;
      target.remove_prefix(4);
    } else if (target.starts_with("udp:")) {
      target.remove_prefix(4);
    }
    Status s = hep::ParseHostPort(target, hep::kDefaultPort, &options->hep_send_host,
                                  &options->hep_send_port);
    if (!s.ok()) return Status::Error("--hep-send: " + s.message());
    if (options->hep_send_host.empty() || options->hep_send_port == 0) {
      return Status::Error("--hep-send: '" + options->hep_send +
                           "' needs a host and a port, e.g. 127.0.0.1:9060");
    }
  }
  if (!options->interfaces.empty() && !options->pcap_files.empty()) {
    return Status::Error("run: give either interfaces (-i) or capture files (--pcap), not both");
  }
  if (!options->filter_set) options->filter = capture::kDefaultLiveFilter;
  if (options->sensor.empty()) options->sensor = HostName();
  if (options->spill_dir.empty()) {
    // A PostgreSQL URL is no file name: spill beside the working directory
    // (/var/lib/sipman under packaging/sipman.service).
    const bool postgres = store::ParseStoreUrl(options->db).postgres;
    options->spill_dir = postgres ? std::string("sipman-postgresql.spill") : options->db + ".spill";
  }
  *usage = false;
  return Status::Ok();
}

}  // namespace sipman::app
