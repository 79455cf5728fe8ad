// Private to app: every setting of `sipman run`, declared once. One row
// names the TOML key, the flag(s), the type and range, the member of
// RunOptions it sets and its --help text; the TOML loader, the flag parser,
// their range checks and messages, and the --help list of options all read
// this table (run_config.cc), and a test checks that docs/CONFIG.md names
// every row.
#ifndef SIPMAN_APP_RUN_SETTINGS_H_
#define SIPMAN_APP_RUN_SETTINGS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "app/run_config.h"
#include "base/status.h"

namespace sipman::app {

enum class SettingKind {
  kString,        // flag VALUE (not empty unless empty_ok); TOML "string"
  kList,          // repeatable flag, whose values replace the file's list;
                  // TOML a list of strings or one string
  kInt,           // an integer from lo to hi
  kNumber,        // a number, at least lo
  kSwitch,        // a flag without value; TOML true or false
  kPortOrString,  // as kString; TOML also takes a bare port from lo to hi
  kConfig,        // --config: the file read before every other flag
};

// The member of RunOptions a setting sets (monostate: none, --config).
using SettingMember =
    std::variant<std::monostate, std::string RunOptions::*, std::vector<std::string> RunOptions::*,
                 bool RunOptions::*, int RunOptions::*, size_t RunOptions::*,
                 int64_t RunOptions::*, uint32_t RunOptions::*, double RunOptions::*>;

struct RunSetting {
  std::string_view key = {};      // TOML key ("" for --config)
  std::string_view flag = {};     // the flag, as messages and --help name it
  std::string_view alias = {};    // another spelling of the flag, or ""
  std::string_view metavar = {};  // the value in --help ("N", "FILE"), or ""
  SettingKind kind = SettingKind::kString;
  SettingMember member = {};
  int64_t lo = 0, hi = 0;  // kInt, kPortOrString: the range; kNumber: lo
  // A flag without a usable value: "<flag> needs <need>", "{range}" written
  // as "from <lo> to <hi>".
  std::string_view need = {};
  // --help: the text after the flag column, lines split by '\n'; "" when
  // another row's help covers this one. `usage` replaces the flag column.
  std::string_view help = {};
  std::string_view usage = {};
  // kSwitch: the value `flag` sets; `alias` sets the other one.
  bool switch_value = true;
  bool empty_ok = false;               // kString: the flag may be ""
  bool RunOptions::* given = nullptr;  // set whenever the setting is given
  std::string_view toml_type_error = {};    // replaces "'key' must be ..." for a wrong type
  std::string_view toml_empty_error = {};   // a TOML "" is an error, with this message
  // Checks a value from the file; an error is reported as "'key': <message>".
  Status (*check)(const RunOptions&) = nullptr;
};

// The table, in --help order.
std::span<const RunSetting> RunSettings();

// The row whose TOML key is `key`, or null.
const RunSetting* FindRunSetting(std::string_view key);

// "<flag> needs <what>" for a row.
std::string FlagNeeds(const RunSetting& setting);

// The options list of `sipman run` in --help, one entry per row.
std::string RunSettingsHelp();

}  // namespace sipman::app

#endif  // SIPMAN_APP_RUN_SETTINGS_H_
