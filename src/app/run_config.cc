#include "app/run_config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>
#include <type_traits>
#include <variant>

// cpptoml reports errors by throwing. This file is the only place SIPMan
// meets it: every exception is caught here and becomes a Status.
#include <cpptoml.h>

#include "app/flags.h"
#include "app/run_settings.h"
#include "capture/capture.h"
#include "hep/hep.h"
#include "store/store.h"

namespace sipman::app {
namespace {

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

// Sets an integer member, whatever its width (the row's range fits it).
void SetInt(const RunSetting& setting, int64_t n, RunOptions* o) {
  std::visit(
      [&](auto member) {
        if constexpr (!std::is_same_v<decltype(member), std::monostate>) {
          using T = std::remove_reference_t<decltype(o->*member)>;
          if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
            o->*member = static_cast<T>(n);
          }
        }
      },
      setting.member);
}

// The member a row sets, when it is of type T; else null.
template <typename T>
T* Field(const RunSetting& setting, RunOptions* o) {
  auto* member = std::get_if<T RunOptions::*>(&setting.member);
  return member != nullptr ? &(o->**member) : nullptr;
}

std::string KnownKeys() {
  std::string known;
  for (const RunSetting& s : RunSettings()) {
    if (!s.key.empty()) known += (known.empty() ? "" : ", ") + std::string(s.key);
  }
  return known;
}

// Sets one setting from the file.
Status ApplyKey(const std::string& key, cpptoml::base& v, const FileErrors& err,
                RunOptions* o) {
  const RunSetting* setting = FindRunSetting(key);
  if (setting == nullptr) {
    return err.At(key, "unknown setting '" + key + "' (known: " + KnownKeys() + ")");
  }
  const RunSetting& r = *setting;
  int64_t n = 0;
  Status s;
  switch (r.kind) {
    case SettingKind::kString:
      s = GetString(v, err, key, Field<std::string>(r, o));
      if (s.ok() && !r.toml_empty_error.empty() && Field<std::string>(r, o)->empty()) {
        return err.At(key, std::string(r.toml_empty_error));
      }
      break;
    case SettingKind::kPortOrString:
      // A bare port is natural in TOML too: hep_listen = 9060.
      if (v.as<int64_t>()) {
        s = GetInt(v, err, key, r.lo, r.hi, &n);
        if (s.ok()) *Field<std::string>(r, o) = std::to_string(n);
      } else {
        s = GetString(v, err, key, Field<std::string>(r, o));
      }
      break;
    case SettingKind::kList:
      s = GetStringList(v, err, key, Field<std::vector<std::string>>(r, o));
      if (!s.ok() && !r.toml_type_error.empty()) return err.At(key, std::string(r.toml_type_error));
      break;
    case SettingKind::kInt:
      s = GetInt(v, err, key, r.lo, r.hi, &n);
      if (s.ok()) SetInt(r, n, o);
      break;
    case SettingKind::kNumber:
      s = GetNumber(v, err, key, static_cast<double>(r.lo), Field<double>(r, o));
      break;
    case SettingKind::kSwitch:
      s = GetBool(v, err, key, Field<bool>(r, o));
      break;
    case SettingKind::kConfig:
      break;
  }
  if (!s.ok()) return s;
  if (r.given != nullptr) o->*r.given = true;
  if (r.check != nullptr) {
    s = r.check(*o);
    if (!s.ok()) return err.At(key, "'" + key + "': " + s.message());
  }
  return Status::Ok();
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

// When the current argument is row r's flag, sets the setting from it (a
// list flag adds to *list) and returns true; a bad value goes to *error.
bool ApplyFlag(const RunSetting& r, FlagReader& f, RunOptions* o, std::vector<std::string>* list,
               Status* error) {
  if (r.kind == SettingKind::kSwitch) {
    const bool on = f.Arg() == r.flag;
    if (!on && (r.alias.empty() || f.Arg() != r.alias)) return false;
    *Field<bool>(r, o) = on ? r.switch_value : !r.switch_value;
    return true;
  }
  std::string v;
  bool missing = false;
  if (!f.Is(r.flag, &v, &missing) && (r.alias.empty() || !f.Is(r.alias, &v, &missing))) {
    return false;
  }
  bool bad = missing || (v.empty() && !r.empty_ok);
  int64_t n = 0;
  switch (r.kind) {
    case SettingKind::kString:
    case SettingKind::kPortOrString:
      if (!bad) *Field<std::string>(r, o) = v;
      break;
    case SettingKind::kList:
      if (!bad) list->push_back(v);
      break;
    case SettingKind::kInt:
      bad = bad || !ParseInt(v, r.lo, r.hi, &n);
      if (!bad) SetInt(r, n, o);
      break;
    case SettingKind::kNumber:
      bad = bad || !ParseNumber(v, static_cast<double>(r.lo), Field<double>(r, o));
      break;
    case SettingKind::kConfig:  // read before the other flags
    case SettingKind::kSwitch:
      break;
  }
  if (bad) {
    *error = Status::Error(FlagNeeds(r));
  } else if (r.given != nullptr) {
    o->*r.given = true;
  }
  return true;
}


// The 1-based line of the `index`-th (0-based) `[[name]]` or `[name]`
// header, or 0.
size_t LineOfHeader(std::string_view text, std::string_view header, size_t index) {
  size_t line = 1, pos = 0, seen = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.starts_with(header) && seen++ == index) return line;
    ++line;
    pos = end + 1;
  }
  return 0;
}

// The line of `key` after line `from` (within its table), or `from`.
size_t LineOfKeyAfter(std::string_view text, size_t from, std::string_view key) {
  size_t pos = 0;
  for (size_t l = 1; l < from && pos <= text.size(); ++l) {
    const size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return from;
    pos = end + 1;
  }
  std::string_view rest = text.substr(std::min(pos, text.size()));
  // Up to the next table header.
  size_t next = rest.find("\n[", 1);
  const size_t line = LineOfKey(rest.substr(0, next), key);
  return line == 0 ? from : from + line - 1;
}

Status ToAlertField(const std::string& key, cpptoml::base& v, size_t line, alerts::Field* f) {
  f->key = key;
  f->line = line;
  if (auto b = v.as<bool>()) {
    f->value = b->get();
  } else if (auto i = v.as<int64_t>()) {
    f->value = i->get();
  } else if (auto d = v.as<double>()) {
    f->value = d->get();
  } else if (auto s = v.as<std::string>()) {
    f->value = s->get();
  } else if (v.is_array()) {
    auto list = v.as_array()->get_array_of<std::string>();
    if (!list) return Status::Error("'" + key + "' must be a list of strings");
    f->value = *list;
  } else {
    return Status::Error("'" + key + "' must be a value, not a table");
  }
  return Status::Ok();
}

Status ApplyAlertTables(std::string_view text, const std::string& path, cpptoml::table& table,
                        alerts::AlertsConfig* config) {
  auto at = [&](size_t line, const std::string& what) {
    return Status::Error((line ? path + ":" + std::to_string(line) : path) + ": " + what);
  };
  std::vector<alerts::Rule> rules;
  for (const auto& [key, value] : table) {
    if (key == "alerts") {
      if (!value->is_table()) return at(LineOfKey(text, key), "'alerts' must be a table: [alerts]");
      const size_t header = LineOfHeader(text, "[alerts]", 0);
      for (const auto& [k, v] : *value->as_table()) {
        alerts::Field f;
        const size_t line = LineOfKeyAfter(text, header, k);
        Status s = ToAlertField(k, *v, line, &f);
        if (s.ok()) s = alerts::ParseAlertsField(f, config);
        if (!s.ok()) return at(line, "[alerts]: " + s.message());
      }
    } else if (key == "rule") {
      if (!value->is_table_array()) {
        return at(LineOfKey(text, key), "rules are written as [[rule]] tables (docs/ALERTS.md)");
      }
      size_t index = 0;
      for (const auto& rule_table : *value->as_table_array()) {
        const size_t header = LineOfHeader(text, "[[rule]]", index++);
        std::vector<alerts::Field> fields;
        for (const auto& [k, v] : *rule_table) {
          alerts::Field& f = fields.emplace_back();
          Status s = ToAlertField(k, *v, LineOfKeyAfter(text, header, k), &f);
          if (!s.ok()) return at(f.line, "[[rule]]: " + s.message());
        }
        alerts::Rule rule;
        size_t line = 0;
        Status s = alerts::ParseRule(fields, &rule, &line);
        if (!s.ok()) return at(line ? line : header, "[[rule]]: " + s.message());
        rules.push_back(std::move(rule));
      }
    }
  }
  Status s = alerts::FinishAlertsConfig(std::move(rules), config);
  if (!s.ok()) return Status::Error(path + ": " + s.message());
  return Status::Ok();
}

Result<std::shared_ptr<cpptoml::table>> ParseToml(std::string_view text, const std::string& path) {
  try {
    std::istringstream in{std::string(text)};
    cpptoml::parser parser(in);
    return parser.parse();
  } catch (const cpptoml::parse_exception& e) {
    return FromParseException(path, e.what());
  } catch (const std::exception& e) {
    return Status::Error(path + ": " + e.what());
  }
}

}  // namespace

Status ParseAlertsConfigText(std::string_view text, const std::string& path,
                             alerts::AlertsConfig* config) {
  Result<std::shared_ptr<cpptoml::table>> table = ParseToml(text, path);
  if (!table.ok()) return table.status();
  return ApplyAlertTables(text, path, **table, config);
}


Status ParseRunConfigText(std::string_view text, const std::string& path, RunOptions* options) {
  FileErrors err(text, path);
  Result<std::shared_ptr<cpptoml::table>> parsed = ParseToml(text, path);
  if (!parsed.ok()) return parsed.status();
  std::shared_ptr<cpptoml::table> table = *parsed;
  options->config_file = path;
  Status alerts_status = ApplyAlertTables(text, path, *table, &options->alerts);
  if (!alerts_status.ok()) return alerts_status;
  options->alerts_ready = true;
  for (const auto& [key, value] : *table) {
    if (key == "alerts" || key == "rule") continue;
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
  const std::span<const RunSetting> settings = RunSettings();
  const RunSetting& config = *std::find_if(
      settings.begin(), settings.end(),
      [](const RunSetting& s) { return s.kind == SettingKind::kConfig; });
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    std::string value;
    bool missing = false;
    if (f.Is(config.flag, &value, &missing) || f.Is(config.alias, &value, &missing)) {
      if (missing || value.empty()) return Status::Error(FlagNeeds(config));
      *usage = false;
      Status s = LoadRunConfig(value, options);
      if (!s.ok()) return s;
      *usage = true;
    }
  }
  // Then every other flag; a list flag's values replace the file's list.
  std::vector<std::vector<std::string>> lists(settings.size());
  for (FlagReader f(argc, argv); !f.Done(); f.Next()) {
    std::string_view arg = f.Arg();
    if (arg == "-h" || arg == "--help") {
      *help = true;
      return Status::Ok();
    }
    Status error;
    size_t i = 0;
    while (i < settings.size() && !ApplyFlag(settings[i], f, options, &lists[i], &error)) ++i;
    if (i == settings.size()) {
      return Status::Error("unknown option '" + std::string(arg) + "' for 'run'");
    }
    if (!error.ok()) return error;
  }
  auto from_flags = [&](std::vector<std::string> RunOptions::*member) -> std::vector<std::string>& {
    size_t i = 0;
    while (settings[i].member != SettingMember(member)) ++i;
    return lists[i];
  };
  const std::vector<std::string>& interfaces = from_flags(&RunOptions::interfaces);
  const std::vector<std::string>& pcaps = from_flags(&RunOptions::pcap_files);
  for (size_t i = 0; i < settings.size(); ++i) {
    if (!lists[i].empty()) *Field<std::vector<std::string>>(settings[i], options) = lists[i];
  }
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
  if (!options->alerts_ready) {
    Status s = alerts::FinishAlertsConfig({}, &options->alerts);
    if (!s.ok()) return s;
    options->alerts_ready = true;
  }
  if (!options->alerts_on) options->alerts.rules.clear();
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
