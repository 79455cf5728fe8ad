#include "app/run_settings.h"

#include <gtest/gtest.h>

#include <limits>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace sipman::app {
namespace {

std::string ReadDoc(const std::string& name) {
  std::ifstream in(std::string(SIPMAN_SOURCE_DIR) + "/docs/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every name a row answers to: its TOML key aside, the flag and its alias.
std::vector<std::string_view> FlagsOf(const RunSetting& s) {
  std::vector<std::string_view> flags{s.flag};
  if (!s.alias.empty()) flags.push_back(s.alias);
  return flags;
}

// `text` holds `flag` as a whole word: "--pcap" is not found in "--pcap-speed".
bool HasWord(const std::string& text, std::string_view word, std::string_view after) {
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const size_t end = at + word.size();
    if (end < text.size() && after.find(text[end]) != std::string_view::npos) return true;
  }
  return false;
}

// The type a member pointer points to (void for none).
template <typename T>
struct MemberOf {
  using type = void;
};
template <typename T>
struct MemberOf<T RunOptions::*> {
  using type = T;
};

// `text` in backticks, opened with `before` and left open.
std::string Tick(std::string_view before, std::string_view text) {
  std::string s(before);
  s.append("`").append(text);
  return s;
}

TEST(RunSettings, ConfigMdDocumentsEveryRow) {
  const std::string doc = ReadDoc("CONFIG.md");
  ASSERT_FALSE(doc.empty()) << "cannot read docs/CONFIG.md under " << SIPMAN_SOURCE_DIR;
  for (const RunSetting& s : RunSettings()) {
    if (!s.key.empty()) {
      EXPECT_NE(doc.find(Tick("| ", s.key) + "`"), std::string::npos)
          << "docs/CONFIG.md has no row for TOML key " << s.key;
    }
    for (std::string_view flag : FlagsOf(s)) {
      EXPECT_TRUE(HasWord(doc, Tick("", flag), "` ")) << "docs/CONFIG.md misses " << flag;
    }
  }
}

TEST(RunSettings, ConfigMdDocumentsNoOtherKey) {
  // The settings table: "| `-i IFACE` ... | `interfaces` (list ...) | ...".
  const std::string doc = ReadDoc("CONFIG.md");
  size_t at = doc.find("## Settings");
  ASSERT_NE(at, std::string::npos);
  std::istringstream table(doc.substr(at, doc.find("\n### ", at) - at));
  int rows = 0;
  for (std::string line; std::getline(table, line);) {
    if (!line.starts_with("| `")) continue;
    ++rows;
    size_t column = line.find(" | ", 2);
    ASSERT_NE(column, std::string::npos) << line;
    std::string key = line.substr(column + 3);
    if (key.starts_with("—")) continue;  // --config
    ASSERT_TRUE(key.starts_with("`")) << line;
    key = key.substr(1, key.find('`', 1) - 1);
    EXPECT_NE(FindRunSetting(key), nullptr) << "docs/CONFIG.md documents unknown key " << key;
  }
  EXPECT_EQ(rows, static_cast<int>(RunSettings().size()));
}

TEST(RunSettings, HelpListsEveryRow) {
  const std::string help = RunSettingsHelp();
  for (const RunSetting& s : RunSettings()) {
    EXPECT_TRUE(HasWord(help, std::string(" ").append(s.flag), " \n"))
        << "--help does not list " << s.flag;
  }
}

TEST(RunSettings, RowsAreConsistent) {
  std::set<std::string_view> keys, flags;
  for (const RunSetting& s : RunSettings()) {
    SCOPED_TRACE(s.flag);
    if (!s.key.empty()) {
      EXPECT_TRUE(keys.insert(s.key).second) << "key twice";
    }
    for (std::string_view flag : FlagsOf(s)) EXPECT_TRUE(flags.insert(flag).second) << "flag twice";
    EXPECT_EQ(s.key.empty(), s.kind == SettingKind::kConfig);
    EXPECT_EQ(s.need.empty(), s.kind == SettingKind::kSwitch);
    const size_t index = s.member.index();
    auto holds = [&](auto member) { return index == SettingMember(member).index(); };
    switch (s.kind) {
      case SettingKind::kString:
      case SettingKind::kPortOrString:
        EXPECT_TRUE(holds(static_cast<std::string RunOptions::*>(nullptr)));
        break;
      case SettingKind::kList:
        EXPECT_TRUE(holds(static_cast<std::vector<std::string> RunOptions::*>(nullptr)));
        break;
      case SettingKind::kNumber:
        EXPECT_TRUE(holds(static_cast<double RunOptions::*>(nullptr)));
        break;
      case SettingKind::kSwitch:
        EXPECT_TRUE(holds(static_cast<bool RunOptions::*>(nullptr)));
        break;
      case SettingKind::kConfig:
        EXPECT_TRUE(std::holds_alternative<std::monostate>(s.member));
        break;
      case SettingKind::kInt:
        // The range fits the member.
        std::visit(
            [&](auto member) {
              using T = typename MemberOf<decltype(member)>::type;
              if constexpr (!std::is_integral_v<T> || std::is_same_v<T, bool>) {
                ADD_FAILURE() << "not an integer member";
              } else {
                EXPECT_LE(s.lo, s.hi);
                EXPECT_GE(s.lo, static_cast<int64_t>(std::numeric_limits<T>::min()));
                EXPECT_LE(static_cast<uint64_t>(s.hi),
                          static_cast<uint64_t>(std::numeric_limits<T>::max()));
              }
            },
            s.member);
        break;
    }
  }
}

// Every row is read from the file and from its flag, by the same table.
TEST(RunSettings, EveryRowReadsFromFileAndFlag) {
  for (const RunSetting& s : RunSettings()) {
    if (s.kind == SettingKind::kConfig) continue;
    SCOPED_TRACE(s.flag);
    std::string toml = std::string(s.key) + " = ";
    std::vector<std::string> args;
    // A network for --local-net, an address for the HEP ones.
    const std::string value = s.key.starts_with("hep_") ? "127.0.0.1:9061" : "10.0.0.0/8";
    switch (s.kind) {
      case SettingKind::kString:
      case SettingKind::kPortOrString:
      case SettingKind::kList:
        toml += "\"" + value + "\"";
        args = {std::string(s.flag), value};
        break;
      case SettingKind::kInt:
      case SettingKind::kNumber:
        toml += std::to_string(s.hi > 0 ? s.hi : s.lo + 7);
        args = {std::string(s.flag) + "=" + std::to_string(s.hi > 0 ? s.hi : s.lo + 7)};
        break;
      case SettingKind::kSwitch:
        toml += s.switch_value ? "true" : "false";
        args = {std::string(s.flag)};
        break;
      case SettingKind::kConfig:
        break;
    }
    RunOptions from_file;
    Status st = ParseRunConfigText(toml + "\n", "t.toml", &from_file);
    EXPECT_TRUE(st.ok()) << toml << ": " << st.message();

    RunOptions from_flags;
    // Something to capture from, unless the row is one.
    if (s.key != "interfaces" && s.key != "pcap" && s.key != "hep_listen") {
      args.insert(args.end(), {"--hep-listen", "9060"});
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    bool usage = false, help = false;
    st = ParseRunArgs(static_cast<int>(argv.size()), argv.data(), &from_flags, &usage, &help);
    EXPECT_TRUE(st.ok()) << st.message();
    // The file and the flag set the same member to the same value.
    std::visit(
        [&](auto member) {
          if constexpr (!std::is_same_v<decltype(member), std::monostate>) {
            EXPECT_EQ(from_file.*member, from_flags.*member) << toml;
            EXPECT_NE(from_file.*member, RunOptions().*member) << toml << " changes nothing";
          }
        },
        s.member);
  }
}

TEST(RunSettings, RangesAreWrittenFromTheRow) {
  const RunSetting* id = FindRunSetting("hep_capture_id");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(FlagNeeds(*id), "--hep-capture-id needs a number from 0 to 4294967295");
  EXPECT_EQ(FlagNeeds(*FindRunSetting("buffer_mb")), "--buffer-mb needs MiB from 1 to 4096");
  RunOptions o;
  EXPECT_EQ(ParseRunConfigText("timeout_ms = 0\n", "t.toml", &o).message(),
            "t.toml:1: 'timeout_ms' must be an integer from 1 to 10000");
}

}  // namespace
}  // namespace sipman::app
