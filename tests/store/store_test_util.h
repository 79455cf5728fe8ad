// Shared by the store tests: a temporary directory per test, records with
// every field set, and searches that read them back as production does.
#ifndef SIPMAN_TESTS_STORE_STORE_TEST_UTIL_H_
#define SIPMAN_TESTS_STORE_STORE_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "calls/calls.h"
#include "postgres_server.h"
#include "store/call_media_columns.h"
#include "store/call_search.h"
#include "store/store.h"

namespace sipman::store::testing {

// A fresh directory under the test temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "sipman_store_XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The backends a test that uses only the Store interface runs against.
enum class Backend { kSqlite, kPostgres };

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
}

// A test fixture parameterised over the backends. Url(name) names a fresh
// database of the test's backend: a file in a temporary directory, or a
// database on the shared PostgreSQL test server (the same name gives the same
// database within one test). PostgreSQL tests are skipped, with the reason,
// when no server can be started.
class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      std::string why;
      postgres_ = PostgresServer::Shared(&why);
      if (postgres_ == nullptr) GTEST_SKIP() << "PostgreSQL tests skipped: " << why;
    }
  }

  std::string Url(const std::string& name) {
    if (GetParam() == Backend::kSqlite) return dir_.File(name);
    // One database per test and name: test and name, folded to [a-z0-9_].
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string raw = std::string(info->test_suite_name()) + "_" + info->name() + "_" + name;
    std::string db = "t";
    for (char c : raw) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      db += (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    // PostgreSQL names hold 63 bytes: keep the end, which differs.
    if (db.size() > 63) db = "t" + db.substr(db.size() - 62);
    return postgres_->Url(db);
  }

  TempDir dir_;
  PostgresServer* postgres_ = nullptr;
};

#define SIPMAN_INSTANTIATE_BACKENDS(fixture)                                              \
  INSTANTIATE_TEST_SUITE_P(Backends, fixture,                                             \
                           ::testing::Values(::sipman::store::testing::Backend::kSqlite,  \
                                             ::sipman::store::testing::Backend::kPostgres), \
                           ::sipman::store::testing::BackendName)

// Undoes the media migrations (SQLite 11 and 12, PostgreSQL 7 and 8: the
// calls' media columns and rtp_streams) so that a test can take a database
// back to an older version and migrate it again.
inline std::string UndoMediaMigrationsSql(bool postgres = false) {
  // The alerts table (a later migration) goes too.
  std::string sql(postgres ? "DROP TABLE alerts; DROP TABLE rtp_streams; DROP INDEX calls_mos_min;"
                           : "DROP TABLE alerts; DROP TABLE rtp_streams; DROP TABLE rtp_quality_hourly; "
                             "DROP INDEX calls_mos_min;");
  for (const char* table : {"calls", "active_calls"}) {
    for (const internal::AddedColumn& c : internal::kCallMediaColumns) {
      sql += std::string("ALTER TABLE ") + table + " DROP COLUMN " + c.name + ";";
    }
  }
  return sql;
}

inline IpAddress Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}

inline IpAddress Ip6Doc(uint8_t last) {
  uint8_t bytes[16] = {0x20, 0x01, 0x0d, 0xb8};
  bytes[15] = last;
  return IpAddress::V6(bytes);
}

// Every field differs from its default and from the other fields.
inline calls::CallRecord FullCall(const std::string& call_id, TimestampNs invite_ts) {
  calls::CallRecord r;
  r.call_id = call_id;
  r.sensor = "edge-1";
  r.caller_user = "4930123";
  r.caller_display = "Alice \"A\" Example";
  r.caller_domain = "a.example.com";
  r.caller_tag = "ftag-1";
  r.pai_user = "4930999";
  r.callee_user = "4940555";
  r.ruri_user = "4940556";
  r.callee_domain = "b.example.com";
  r.callee_tag = "ttag-2";
  r.diversion_user = "4940000";
  r.src_ip = Ip4(10, 0, 0, 1);
  r.dst_ip = Ip6Doc(2);
  r.src_port = 5060;
  r.dst_port = 5080;
  r.transport = "tcp";
  r.invite_ts = invite_ts;
  r.first_provisional_ts = invite_ts + 1;
  r.first_18x_ts = invite_ts + 2;
  r.answer_ts = invite_ts + 3;
  r.ack_ts = invite_ts + 4;
  r.bye_ts = invite_ts + 5;
  r.cancel_ts = invite_ts + 6;
  r.final_ts = invite_ts + 7;
  r.end_ts = invite_ts + 8;
  r.duration_ms = 61000;
  r.connect_ms = 61001;
  r.post_dial_delay_ms = 1234;
  r.disconnect_delay_ms = 12;
  r.final_status = 200;
  r.final_reason = "OK";
  r.state = calls::CallState::kAnswered;
  r.hangup_by = "callee";
  r.reason_protocol = "Q.850";
  r.reason_cause = 16;
  r.reason_text = "Normal call clearing";
  r.caller_media_types = "audio,video";
  r.caller_media = {{"audio", "10.0.0.1", 4000, "PCMU/8000,telephone-event/8000"},
                    {"video", "10.0.0.1", 4002, "H264/90000"}};
  r.callee_media_types = "audio";
  r.callee_media = {{"audio", "2001:db8::2", 5000, "PCMU/8000"}, {"video", "", 0, ""}};
  r.caller_user_agent = "SIPp/3.7 \\ \x01 tab\there";
  r.callee_user_agent = "Kamailio (5.6)";
  r.message_count = 9;
  r.retransmissions = 2;
  r.byte_count = 5000000000ull;
  r.auth_challenges = 1;
  r.correlation_id = "corr-77";
  r.linked_call_id = "leg-b@host";
  return r;
}

inline calls::RegistrationRecord FullRegistration(const std::string& call_id,
                                                  TimestampNs first_seen) {
  calls::RegistrationRecord r;
  r.call_id = call_id;
  r.sensor = "edge-1";
  r.aor = "alice@example.com";
  r.contact = "sip:alice@10.0.0.5:5062;transport=tcp";
  r.src_ip = Ip4(10, 0, 0, 5);
  r.src_port = 5062;
  r.user_agent = "Linphone/5";
  r.expires = 3600;
  r.result = "success";
  r.status_code = 200;
  r.challenges = 1;
  r.request_delay_ms = 42;
  r.first_seen = first_seen;
  r.last_seen = first_seen + 99;
  return r;
}

inline void ExpectSameMedia(const std::vector<calls::MediaStream>& a,
                            const std::vector<calls::MediaStream>& b, const char* side) {
  ASSERT_EQ(a.size(), b.size()) << side;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].type, b[i].type) << side << " stream " << i;
    EXPECT_EQ(a[i].address, b[i].address) << side << " stream " << i;
    EXPECT_EQ(a[i].port, b[i].port) << side << " stream " << i;
    EXPECT_EQ(a[i].codecs, b[i].codecs) << side << " stream " << i;
  }
}

// Compares every field, naming the one that differs.
inline void ExpectSameCall(const calls::CallRecord& a, const calls::CallRecord& b) {
#define SIPMAN_EXPECT_FIELD(f) EXPECT_EQ(a.f, b.f) << "field " #f;
  SIPMAN_EXPECT_FIELD(call_id) SIPMAN_EXPECT_FIELD(sensor) SIPMAN_EXPECT_FIELD(caller_user)
  SIPMAN_EXPECT_FIELD(caller_display) SIPMAN_EXPECT_FIELD(caller_domain)
  SIPMAN_EXPECT_FIELD(caller_tag) SIPMAN_EXPECT_FIELD(pai_user) SIPMAN_EXPECT_FIELD(callee_user)
  SIPMAN_EXPECT_FIELD(ruri_user) SIPMAN_EXPECT_FIELD(callee_domain)
  SIPMAN_EXPECT_FIELD(callee_tag) SIPMAN_EXPECT_FIELD(diversion_user)
  SIPMAN_EXPECT_FIELD(src_ip.ToString()) SIPMAN_EXPECT_FIELD(dst_ip.ToString())
  SIPMAN_EXPECT_FIELD(src_ip) SIPMAN_EXPECT_FIELD(dst_ip)
  SIPMAN_EXPECT_FIELD(src_port) SIPMAN_EXPECT_FIELD(dst_port) SIPMAN_EXPECT_FIELD(transport)
  SIPMAN_EXPECT_FIELD(invite_ts) SIPMAN_EXPECT_FIELD(first_provisional_ts)
  SIPMAN_EXPECT_FIELD(first_18x_ts) SIPMAN_EXPECT_FIELD(answer_ts) SIPMAN_EXPECT_FIELD(ack_ts)
  SIPMAN_EXPECT_FIELD(bye_ts) SIPMAN_EXPECT_FIELD(cancel_ts) SIPMAN_EXPECT_FIELD(final_ts)
  SIPMAN_EXPECT_FIELD(end_ts) SIPMAN_EXPECT_FIELD(duration_ms) SIPMAN_EXPECT_FIELD(connect_ms)
  SIPMAN_EXPECT_FIELD(post_dial_delay_ms) SIPMAN_EXPECT_FIELD(disconnect_delay_ms)
  SIPMAN_EXPECT_FIELD(final_status) SIPMAN_EXPECT_FIELD(final_reason)
  SIPMAN_EXPECT_FIELD(hangup_by)
  SIPMAN_EXPECT_FIELD(reason_protocol) SIPMAN_EXPECT_FIELD(reason_cause)
  SIPMAN_EXPECT_FIELD(reason_text) SIPMAN_EXPECT_FIELD(caller_media_types)
  SIPMAN_EXPECT_FIELD(callee_media_types) SIPMAN_EXPECT_FIELD(caller_user_agent)
  SIPMAN_EXPECT_FIELD(callee_user_agent) SIPMAN_EXPECT_FIELD(message_count)
  SIPMAN_EXPECT_FIELD(retransmissions) SIPMAN_EXPECT_FIELD(byte_count)
  SIPMAN_EXPECT_FIELD(auth_challenges) SIPMAN_EXPECT_FIELD(correlation_id)
  SIPMAN_EXPECT_FIELD(linked_call_id)
#undef SIPMAN_EXPECT_FIELD
  EXPECT_EQ(calls::CallStateName(a.state), calls::CallStateName(b.state)) << "field state";
  ExpectSameMedia(a.caller_media, b.caller_media, "caller_media");
  ExpectSameMedia(a.callee_media, b.callee_media, "callee_media");
}

inline void ExpectSameRegistration(const calls::RegistrationRecord& a,
                                   const calls::RegistrationRecord& b) {
#define SIPMAN_EXPECT_FIELD(f) EXPECT_EQ(a.f, b.f) << "field " #f;
  SIPMAN_EXPECT_FIELD(call_id) SIPMAN_EXPECT_FIELD(sensor) SIPMAN_EXPECT_FIELD(aor)
  SIPMAN_EXPECT_FIELD(contact) SIPMAN_EXPECT_FIELD(src_ip.ToString())
  SIPMAN_EXPECT_FIELD(src_port) SIPMAN_EXPECT_FIELD(user_agent) SIPMAN_EXPECT_FIELD(expires)
  SIPMAN_EXPECT_FIELD(result) SIPMAN_EXPECT_FIELD(status_code) SIPMAN_EXPECT_FIELD(challenges)
  SIPMAN_EXPECT_FIELD(request_delay_ms) SIPMAN_EXPECT_FIELD(first_seen)
  SIPMAN_EXPECT_FIELD(last_seen)
#undef SIPMAN_EXPECT_FIELD
}

inline std::unique_ptr<Store> OpenOrDie(const std::string& path, size_t max_queued_rows = 10000,
                                        size_t batch_rows = 1000) {
  StoreOptions options;
  options.url = path;
  options.max_queued_rows = max_queued_rows;
  options.batch_rows = batch_rows;
  Result<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().message();
  if (!store.ok()) return nullptr;
  return std::move(store.value());
}

// Every call `q` finds through the read path production uses (CallSearch,
// as the web API does), each page's cursor followed (q.limit rows a page).
// Sorted by (invite_ts, call_id, sensor, end_ts), whatever q.sort: the
// search breaks ties by row id, which each backend numbers its own way, so
// this order, total by the natural key, lets one expectation hold for both.
// A failing search fails the test and ends the list there.
inline std::vector<calls::CallRecord> SearchCalls(CallSearch& search, CallSearchQuery q) {
  std::vector<calls::CallRecord> found;
  for (int page_no = 0;; ++page_no) {
    if (page_no == 100000) {
      ADD_FAILURE() << "SearchCalls: more than 100000 pages";
      break;
    }
    Result<CallPage> page = search.FindCalls(q);
    EXPECT_TRUE(page.ok()) << page.status().message();
    if (!page.ok()) break;
    for (CallRow& row : page->rows) found.push_back(std::move(row.record));
    if (!page->next) break;
    q.after = page->next;
  }
  std::sort(found.begin(), found.end(), [](const calls::CallRecord& a, const calls::CallRecord& b) {
    return std::tie(a.invite_ts, a.call_id, a.sensor, a.end_ts) <
           std::tie(b.invite_ts, b.call_id, b.sensor, b.end_ts);
  });
  return found;
}

// The same over a CallSearch opened on `url` for this search (what a Store
// was opened with: a SQLite file or a PostgreSQL URI).
inline std::vector<calls::CallRecord> SearchCalls(const std::string& url, CallSearchQuery q = {}) {
  Result<std::unique_ptr<CallSearch>> search = CallSearch::Open(url);
  EXPECT_TRUE(search.ok()) << search.status().message();
  if (!search.ok()) return {};
  return SearchCalls(**search, std::move(q));
}

// Every registration `q` finds through CallSearch, as SearchCalls does;
// sorted by (first_seen, call_id, sensor).
inline std::vector<calls::RegistrationRecord> SearchRegistrations(
    CallSearch& search, RegistrationSearchQuery q) {
  std::vector<calls::RegistrationRecord> found;
  for (int page_no = 0;; ++page_no) {
    if (page_no == 100000) {
      ADD_FAILURE() << "SearchRegistrations: more than 100000 pages";
      break;
    }
    Result<RegistrationPage> page = search.FindRegistrations(q);
    EXPECT_TRUE(page.ok()) << page.status().message();
    if (!page.ok()) break;
    for (RegistrationRow& row : page->rows) found.push_back(std::move(row.record));
    if (!page->next) break;
    q.after = page->next;
  }
  std::sort(found.begin(), found.end(),
            [](const calls::RegistrationRecord& a, const calls::RegistrationRecord& b) {
              return std::tie(a.first_seen, a.call_id, a.sensor) <
                     std::tie(b.first_seen, b.call_id, b.sensor);
            });
  return found;
}

inline std::vector<calls::RegistrationRecord> SearchRegistrations(
    const std::string& url, RegistrationSearchQuery q = {}) {
  Result<std::unique_ptr<CallSearch>> search = CallSearch::Open(url);
  EXPECT_TRUE(search.ok()) << search.status().message();
  if (!search.ok()) return {};
  return SearchRegistrations(**search, std::move(q));
}

// Calls per state name (calls::CallStateName), as a search's records hold them.
inline std::map<std::string, int64_t> CountStates(const std::vector<calls::CallRecord>& records) {
  std::map<std::string, int64_t> counts;
  for (const calls::CallRecord& r : records) ++counts[std::string(calls::CallStateName(r.state))];
  return counts;
}

}  // namespace sipman::store::testing

#endif  // SIPMAN_TESTS_STORE_STORE_TEST_UTIL_H_
