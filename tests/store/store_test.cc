#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "store_test_util.h"

namespace sipman::store {
namespace {

using testing::ExpectSameCall;
using testing::ExpectSameRegistration;
using testing::FullCall;
using testing::FullRegistration;
using testing::CountStates;
using testing::Ip4;
using testing::OpenOrDie;
using testing::SearchCalls;
using testing::SearchRegistrations;
using testing::TempDir;

constexpr TimestampNs kDay = 86400 * kNsPerSecond;
constexpr TimestampNs kT0 = 1700000000 * kNsPerSecond;

int64_t Count(Store* store, const char* table) {
  Result<int64_t> n = store->CountRows(table);
  EXPECT_TRUE(n.ok()) << n.status().message();
  return n.ok() ? n.value() : -1;
}

// prefix + n (spelled out: g++ 12 -O3 warns falsely on "literal" + std::to_string).
std::string Id(std::string_view prefix, int n) {
  std::string id(prefix);
  id += std::to_string(n);
  return id;
}

std::vector<std::string> CallIds(const std::vector<calls::CallRecord>& records) {
  std::vector<std::string> ids;
  for (const calls::CallRecord& r : records) ids.push_back(r.call_id);
  return ids;
}

const char kInvite[] =
    "INVITE sip:4940556@b.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-524287-1---5e7c1b0c1a2b3c4d;rport\r\n"
    "Max-Forwards: 70\r\n"
    "Contact: <sip:4930123@10.0.0.1:5060;transport=udp>\r\n"
    "To: <sip:4940555@b.example.com>\r\n"
    "From: \"Alice\" <sip:4930123@a.example.com>;tag=8a7b6c5d\r\n"
    "Call-ID: 3c26700b2f5e-abcdef0123456789@10.0.0.1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    "Content-Type: application/sdp\r\n"
    "Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri\r\n"
    "User-Agent: Z 5.4.12 v2.10.13.2\r\n"
    "Allow-Events: presence, kpml, talk\r\n"
    "Content-Length: 246\r\n"
    "\r\n"
    "v=0\r\n"
    "o=Z 0 0 IN IP4 10.0.0.1\r\n"
    "s=Z\r\n"
    "c=IN IP4 10.0.0.1\r\n"
    "t=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 8 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=sendrecv\r\n";

StoredMessage Message(std::string_view call_id, TimestampNs ts, std::string_view raw) {
  StoredMessage m;
  m.call_id = call_id;
  m.ts = ts;
  m.src_ip = Ip4(10, 0, 0, 1);
  m.dst_ip = Ip4(10, 0, 0, 2);
  m.src_port = 5060;
  m.dst_port = 5080;
  m.transport = "udp";
  m.method = "INVITE";
  m.cseq = 1;
  m.raw = raw;
  return m;
}

TEST(StoreUrl, TellsTheBackendsApartAndHidesThePassword) {
  StoreUrl file = ParseStoreUrl("data/sipman.db");
  EXPECT_FALSE(file.postgres);
  EXPECT_EQ(file.sqlite_path, "data/sipman.db");
  EXPECT_EQ(ParseStoreUrl("sqlite:/var/lib/sipman/x.db").sqlite_path, "/var/lib/sipman/x.db");
  StoreUrl pg = ParseStoreUrl("postgresql://sipman:s3cret@db.example:5432/calls");
  EXPECT_TRUE(pg.postgres);
  EXPECT_EQ(pg.shown, "postgresql://sipman:***@db.example:5432/calls");
  EXPECT_TRUE(ParseStoreUrl("postgres://db.example/calls").postgres);
  EXPECT_EQ(ParseStoreUrl("postgres://u@db.example:5432/calls").shown,
            "postgres://u@db.example:5432/calls") << "no password, nothing hidden";
  EXPECT_EQ(ParseStoreUrl("postgresql://h/db?user=a@b:c").shown, "postgresql://h/db?user=a@b:c")
      << "an @ after the path is no user";
}

// Store tests over both backends (see BackendTest).
class StoreTest : public testing::BackendTest {};
SIPMAN_INSTANTIATE_BACKENDS(StoreTest);

TEST_P(StoreTest, RoundTripsEveryCallField) {
  const std::string url = Url("calls.db");
  auto store = OpenOrDie(url);
  ASSERT_NE(store, nullptr);
  calls::CallRecord full = FullCall("full@host", kT0);
  calls::CallRecord sparse;  // defaults: no IPs, -1 delays, in_progress, no media
  sparse.call_id = "sparse@host";
  sparse.invite_ts = kT0 + 1;
  store->AddCall(full);
  store->AddCall(sparse);
  ASSERT_TRUE(store->Flush().ok());

  std::vector<calls::CallRecord> found = SearchCalls(url);
  ASSERT_EQ(found.size(), 2u);
  ExpectSameCall(found[0], full);
  ExpectSameCall(found[1], sparse);
  EXPECT_EQ(store->counters().calls_written, 2u);
}

TEST_P(StoreTest, EmptySensorTakesTheStoreSensor) {
  StoreOptions options;
  options.url = Url("sensor.db");
  options.sensor = "probe-7";
  auto opened = Store::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store* store = opened.value().get();
  calls::CallRecord own = FullCall("own", kT0);
  calls::CallRecord none = FullCall("none", kT0);
  none.sensor.clear();
  store->AddCall(own);
  store->AddCall(none);
  store->AddMessage(Message("none", kT0, "OPTIONS sip:x SIP/2.0\r\n\r\n"));
  ASSERT_TRUE(store->Flush().ok());
  std::vector<calls::CallRecord> found = SearchCalls(options.url);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].call_id, "none");
  EXPECT_EQ(found[0].sensor, "probe-7");
  EXPECT_EQ(found[1].sensor, "edge-1");
  auto messages = store->MessagesOfCall("none");
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ(messages.value()[0].sensor, "probe-7");
}

TEST_P(StoreTest, RoundTripsEveryRegistrationField) {
  const std::string url = Url("reg.db");
  auto store = OpenOrDie(url);
  ASSERT_NE(store, nullptr);
  calls::RegistrationRecord full = FullRegistration("reg-1@host", kT0);
  calls::RegistrationRecord sparse;
  sparse.call_id = "reg-2@host";
  sparse.first_seen = kT0 + 5;
  store->AddRegistration(full);
  store->AddRegistration(sparse);
  ASSERT_TRUE(store->Flush().ok());
  std::vector<calls::RegistrationRecord> found = SearchRegistrations(url);
  ASSERT_EQ(found.size(), 2u);
  ExpectSameRegistration(found[0], full);
  ExpectSameRegistration(found[1], sparse);
}

TEST_P(StoreTest, MessagesAreCompressedAndRestoredExactly) {
  auto store = OpenOrDie(Url("msg.db"));
  ASSERT_NE(store, nullptr);
  std::string invite = kInvite;
  std::string tiny = "ACK sip:b SIP/2.0\r\n\r\n";
  std::string binary("\0\x01\xff\r\n\0zz", 8);
  StoredMessage response = Message("c1", kT0 + 2, binary);
  response.method = "INVITE";
  response.status = 180;
  response.src_ip = Ip4(10, 0, 0, 2);
  response.dst_ip = testing::Ip6Doc(9);
  response.transport = "tcp";
  response.cseq = 7;
  store->AddMessage(Message("c1", kT0, invite));
  store->AddMessage(Message("c1", kT0 + 1, tiny));
  store->AddMessage(response);
  store->AddMessage(Message("other", kT0, invite));
  ASSERT_TRUE(store->Flush().ok());

  auto rows = store->MessagesOfCall("c1");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 3u);
  const StoredMessageRow& a = rows.value()[0];
  EXPECT_EQ(a.raw, invite);
  EXPECT_EQ(a.compression, 2)
      << "an INVITE with SDP should compress by 20% or more, with the SIP dictionary";
  EXPECT_LT(a.stored_bytes, invite.size() * 8 / 10);
  EXPECT_EQ(a.call_id, "c1");
  EXPECT_EQ(a.ts, kT0);
  EXPECT_EQ(a.src_ip.ToString(), "10.0.0.1");
  EXPECT_EQ(a.src_port, 5060);
  EXPECT_EQ(a.dst_port, 5080);
  EXPECT_EQ(a.method, "INVITE");
  EXPECT_EQ(a.cseq, 1u);
  const StoredMessageRow& b = rows.value()[1];
  EXPECT_EQ(b.raw, tiny);
  EXPECT_EQ(b.compression, 0) << "a tiny message does not gain 20% and stays raw";
  EXPECT_EQ(b.stored_bytes, tiny.size());
  const StoredMessageRow& c = rows.value()[2];
  EXPECT_EQ(c.raw, binary);
  EXPECT_EQ(c.status, 180);
  EXPECT_EQ(c.dst_ip.ToString(), "2001:db8::9");
  EXPECT_EQ(c.transport, "tcp");
  EXPECT_EQ(c.cseq, 7u);

  StoreCounters counters = store->counters();
  EXPECT_EQ(counters.messages_written, 4u);
  EXPECT_EQ(counters.messages_compressed, 2u);
  EXPECT_EQ(counters.message_raw_bytes, 2 * invite.size() + tiny.size() + binary.size());
  EXPECT_LT(counters.message_stored_bytes, counters.message_raw_bytes);
  auto none = store->MessagesOfCall("missing");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreTest, WritingTheSameRecordsTwiceDoesNotDuplicate) {
  std::string path = Url("twice.db");
  auto write_all = [&](Store* store) {
    for (int i = 0; i < 50; ++i) {
      std::string id = "call-" + std::to_string(i);
      store->AddCall(FullCall(id, kT0 + i));
      store->AddRegistration(FullRegistration("reg-" + std::to_string(i), kT0 + i));
      store->AddMessage(Message(id, kT0 + i, kInvite));
      store->AddMessage(Message(id, kT0 + i + 1, "SIP/2.0 200 OK\r\n\r\n"));
    }
  };
  {
    auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    write_all(store.get());
    write_all(store.get());  // the same run twice into one open store
    ASSERT_TRUE(store->Close().ok());
    EXPECT_EQ(store->counters().duplicates_ignored, 200u);
  }
  auto store = OpenOrDie(path);  // and a second run into the same file
  ASSERT_NE(store, nullptr);
  write_all(store.get());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "calls"), 50);
  EXPECT_EQ(Count(store.get(), "registrations"), 50);
  EXPECT_EQ(Count(store.get(), "messages"), 100);
  StoreCounters counters = store->counters();
  EXPECT_EQ(counters.calls_written + counters.registrations_written + counters.messages_written,
            0u);
  EXPECT_EQ(counters.duplicates_ignored, 200u);
}

// A replay stopped mid-call stores the call in_progress with the messages
// seen so far; the same capture replayed again sees it complete. One row
// stays, the most complete, whatever the order (store/sightings.h).
calls::CallRecord StoppedEarly(calls::CallRecord r) {
  r.state = calls::CallState::kInProgress;
  r.message_count -= 2;
  r.bye_ts = 0;
  r.final_ts = 0;
  r.end_ts = r.ack_ts;
  r.duration_ms = 0;
  return r;
}

TEST_P(StoreTest, AMoreCompleteSightingReplacesTheStoredOne) {
  const std::string path = Url("sightings.db");
  calls::CallRecord complete = FullCall("seen-twice", kT0);
  calls::CallRecord partial = StoppedEarly(complete);
  // Same messages, but the stopped run ended before the call did.
  calls::CallRecord same_messages = complete;
  same_messages.state = calls::CallState::kInProgress;
  calls::RegistrationRecord registered = FullRegistration("reg-twice", kT0);
  calls::RegistrationRecord unanswered = registered;
  unanswered.last_seen = registered.first_seen;
  unanswered.status_code = 0;
  unanswered.result = "no_response";
  {
    auto store = OpenOrDie(path);  // the stopped run
    ASSERT_NE(store, nullptr);
    store->AddCall(partial);
    store->AddCall(FullCall("other", kT0 + 1));
    store->AddRegistration(unanswered);
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenOrDie(path);  // the re-run, complete, then older sightings again
  ASSERT_NE(store, nullptr);
  // Each in a batch of its own: PostgreSQL keeps only the best of a batch
  // before it compares with the stored row.
  for (const calls::CallRecord& r : {same_messages, complete, partial, FullCall("other", kT0 + 1)}) {
    store->AddCall(r);
    ASSERT_TRUE(store->Flush().ok());
  }
  store->AddRegistration(registered);
  ASSERT_TRUE(store->Flush().ok());
  store->AddRegistration(unanswered);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "calls"), 2);
  EXPECT_EQ(Count(store.get(), "registrations"), 1);
  CallSearchQuery q;
  q.call_id = "seen-twice";
  std::vector<calls::CallRecord> found = SearchCalls(path, q);
  ASSERT_EQ(found.size(), 1u);
  ExpectSameCall(found[0], complete);
  std::vector<calls::RegistrationRecord> regs = SearchRegistrations(path);
  ASSERT_EQ(regs.size(), 1u);
  ExpectSameRegistration(regs[0], registered);
  StoreCounters counters = store->counters();
  // same_messages and complete replaced the rows before them; partial,
  // "other" and the unanswered registration were not better.
  EXPECT_EQ(counters.calls_written, 2u);
  EXPECT_EQ(counters.registrations_written, 1u);
  EXPECT_EQ(counters.duplicates_ignored, 3u);
}

TEST_P(StoreTest, SameCallIdOnAnotherDayIsAnotherCall) {
  auto store = OpenOrDie(Url("days.db"));
  ASSERT_NE(store, nullptr);
  store->AddCall(FullCall("reused@host", kT0));
  store->AddCall(FullCall("reused@host", kT0 + kDay));
  calls::CallRecord other_sensor = FullCall("reused@host", kT0);
  other_sensor.sensor = "edge-2";
  store->AddCall(other_sensor);
  ASSERT_TRUE(store->Flush().ok());
  // The central PostgreSQL store keeps one call seen by two sensors as one
  // row (postgres_test.cc, OneCallSeenBySeveralSensorsIsOneRow); SQLite,
  // one sensor's own file, keeps a row per sensor.
  const bool merges_sensors = GetParam() == testing::Backend::kPostgres;
  EXPECT_EQ(Count(store.get(), "calls"), merges_sensors ? 2 : 3);
}

TEST_P(StoreTest, MessagesOfAStoredCallAreItsSensorsWithinTheMargin) {
  auto store = OpenOrDie(Url("call-messages.db"));
  ASSERT_NE(store, nullptr);
  const TimestampNs margin = Store::kCallMessageMargin;
  calls::CallRecord call = FullCall("reused@host", kT0);
  call.sensor = "edge-1";
  call.end_ts = kT0 + 10 * kNsPerSecond;
  auto add = [&](TimestampNs ts, std::string_view sensor) {
    StoredMessage m = Message("reused@host", ts, "OPTIONS sip:x SIP/2.0\r\n\r\n");
    m.sensor = sensor;
    store->AddMessage(m);
  };
  add(kT0 - margin - 1, "edge-1");             // an earlier call with the same Call-ID
  add(kT0 - margin, "edge-1");                 // first kept
  add(kT0 + 5 * kNsPerSecond, "edge-1");       // kept
  add(kT0 + 5 * kNsPerSecond, "edge-2");       // another sensor's copy
  add(call.end_ts + margin, "edge-1");         // last kept
  add(call.end_ts + margin + 1, "edge-1");     // a later call
  ASSERT_TRUE(store->Flush().ok());
  auto all = store->MessagesOfCall("reused@host");
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->size(), 6u);
  auto mine = store->MessagesOfStoredCall(call);
  ASSERT_TRUE(mine.ok()) << mine.status().message();
  std::vector<TimestampNs> times;
  for (const StoredMessageRow& m : *mine) times.push_back(m.ts);
  EXPECT_EQ(times, (std::vector<TimestampNs>{kT0 - margin, kT0 + 5 * kNsPerSecond,
                                             call.end_ts + margin}));
}

// Searches through CallSearch, the read path production uses, for what
// tests/store/call_search_test.cc and backend_parity_test.cc do not check:
// how text, addresses and sensor names are matched, and that hostile
// strings stay values.
class StoreQueryTest : public testing::BackendTest {
 protected:
  void SetUp() override {
    testing::BackendTest::SetUp();
    if (IsSkipped()) return;
    url_ = Url("query.db");
    store_ = OpenOrDie(url_);
    ASSERT_NE(store_, nullptr);
    // Six calls over three days; the fields that filters use differ.
    struct Row {
      const char* id;
      int day;
      const char* caller;
      const char* callee;
      calls::CallState state;
      IpAddress src;
      const char* sensor;
    } rows[] = {
        {"a@x", 0, "4930111", "100", calls::CallState::kAnswered, Ip4(10, 0, 0, 1), "s1"},
        {"b@x", 0, "4930222", "101", calls::CallState::kBusy, Ip4(10, 0, 0, 2), "s1"},
        {"c@x", 1, "4940111", "100", calls::CallState::kAnswered, Ip4(10, 0, 0, 1), "s2"},
        {"d@x", 1, "4930111", "200", calls::CallState::kCancelled, testing::Ip6Doc(1), "s2"},
        {"e@x", 2, "' OR 1=1 --", "300", calls::CallState::kNoAnswer, Ip4(10, 0, 0, 3), "s1"},
        {"f@x", 2, "4930", "1000", calls::CallState::kFailed, Ip4(10, 0, 0, 4), "s1"},
    };
    for (const Row& row : rows) {
      calls::CallRecord r = FullCall(row.id, kT0 + row.day * kDay);
      r.caller_user = row.caller;
      r.callee_user = row.callee;
      r.state = row.state;
      r.src_ip = row.src;
      r.dst_ip = Ip4(192, 168, 1, 1);
      r.sensor = row.sensor;
      store_->AddCall(r);
    }
    ASSERT_TRUE(store_->Flush().ok());
    auto search = CallSearch::Open(url_);
    ASSERT_TRUE(search.ok()) << search.status().message();
    search_ = std::move(*search);
  }

  std::vector<std::string> Search(const CallSearchQuery& q) {
    return CallIds(SearchCalls(*search_, q));
  }

  std::string url_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CallSearch> search_;
};
SIPMAN_INSTANTIATE_BACKENDS(StoreQueryTest);

using Ids = std::vector<std::string>;

TEST_P(StoreQueryTest, TextAddressAndSensorFilters) {
  CallSearchQuery q;
  q.caller = "' OR 1=1";
  EXPECT_EQ(Search(q), (Ids{"e@x"})) << "a stored quote is found by its own prefix, as text";
  q = CallSearchQuery{};
  q.callee = "%";
  EXPECT_EQ(Search(q), Ids{}) << "LIKE wildcards are plain characters";
  q = CallSearchQuery{};
  q.ip = "2001:DB8:0::1";  // another spelling of the stored 2001:db8::1
  EXPECT_EQ(Search(q), (Ids{"d@x"}));
  q = CallSearchQuery{};
  q.sensor = "s2";
  EXPECT_EQ(Search(q), (Ids{"c@x", "d@x"}));
}

TEST_P(StoreQueryTest, CountCallsByState) {
  std::map<std::string, int64_t> expected = {
      {"answered", 2}, {"busy", 1}, {"cancelled", 1}, {"no_answer", 1}, {"failed", 1}};
  EXPECT_EQ(CountStates(SearchCalls(*search_, {})), expected);
  CallSearchQuery day1;
  day1.from_ts = kT0 + kDay;
  day1.to_ts = kT0 + 2 * kDay;
  expected = {{"answered", 1}, {"cancelled", 1}};
  EXPECT_EQ(CountStates(SearchCalls(*search_, day1)), expected);
}

TEST_P(StoreQueryTest, InjectionStringsMatchNothingAndBreakNothing) {
  const char* attacks[] = {
      "' OR '1'='1",
      "x'; DROP TABLE calls; --",
      "\" OR \"\"=\"",
      "1 OR 1=1",
      "%",
      "_",
      "*/ UNION SELECT * FROM messages /*",
      "a@x' --",
      "\\",
      "\xff\xfe",
  };
  for (const char* attack : attacks) {
    SCOPED_TRACE(attack);
    CallSearchQuery q;
    q.call_id = attack;
    EXPECT_EQ(Search(q), Ids{});
    q = CallSearchQuery{};
    q.sensor = attack;
    EXPECT_EQ(Search(q), Ids{});
    q = CallSearchQuery{};
    q.callee = attack;
    EXPECT_EQ(Search(q), Ids{});
    q = CallSearchQuery{};
    q.caller = attack;
    EXPECT_LE(Search(q).size(), 1u);  // only "' OR 1=1 --" starts with an attack's prefix
    // An address or a state is parsed before any SQL is made: refused.
    q = CallSearchQuery{};
    q.ip = attack;
    auto by_ip = search_->FindCalls(q);
    ASSERT_FALSE(by_ip.ok());
    EXPECT_EQ(by_ip.status().message(), "ip: not an IPv4 or IPv6 address");
    q = CallSearchQuery{};
    q.states = {attack};
    auto by_state = search_->FindCalls(q);
    ASSERT_FALSE(by_state.ok());
    EXPECT_EQ(by_state.status().message().rfind("state: unknown state", 0), 0u)
        << by_state.status().message();
    RegistrationSearchQuery rq;
    rq.user = attack;
    rq.sensor = attack;
    EXPECT_TRUE(SearchRegistrations(*search_, rq).empty());
    rq = RegistrationSearchQuery{};
    rq.ip = attack;
    auto regs_by_ip = search_->FindRegistrations(rq);
    ASSERT_FALSE(regs_by_ip.ok());
    EXPECT_EQ(regs_by_ip.status().message(), "ip: not an IPv4 or IPv6 address");
    auto messages = store_->MessagesOfCall(attack);
    ASSERT_TRUE(messages.ok()) << messages.status().message();
    EXPECT_TRUE(messages->empty());
    EXPECT_FALSE(store_->CountRows(attack).ok());
  }
  EXPECT_EQ(Count(store_.get(), "calls"), 6) << "every table survives";
  EXPECT_EQ(Search({}).size(), 6u);
}

// Exact answers of the registration search (backend_parity_test.cc checks
// that both backends give the same ones).
TEST_P(StoreTest, RegistrationSearchFilters) {
  const std::string url = Url("regq.db");
  auto store = OpenOrDie(url);
  ASSERT_NE(store, nullptr);
  calls::RegistrationRecord a = FullRegistration("r1", kT0);
  calls::RegistrationRecord b = FullRegistration("r2", kT0 + kDay);
  b.aor = "bob@example.com";
  b.result = "failed";
  b.status_code = 403;
  b.src_ip = Ip4(10, 9, 9, 9);
  calls::RegistrationRecord c = FullRegistration("r3", kT0 + 2 * kDay);
  c.sensor = "edge-2";
  for (const auto& r : {a, b, c}) store->AddRegistration(r);
  ASSERT_TRUE(store->Flush().ok());
  auto search = CallSearch::Open(url);
  ASSERT_TRUE(search.ok()) << search.status().message();
  auto ids = [&](const RegistrationSearchQuery& q) {
    Ids out;
    for (const auto& r : SearchRegistrations(**search, q)) out.push_back(r.call_id);
    return out;
  };
  RegistrationSearchQuery q;
  EXPECT_EQ(ids(q), (Ids{"r1", "r2", "r3"}));
  q.from_ts = kT0 + 1;
  q.to_ts = kT0 + 2 * kDay;
  EXPECT_EQ(ids(q), (Ids{"r2"}));
  q = {};
  q.user = "alice@";
  EXPECT_EQ(ids(q), (Ids{"r1", "r3"}));
  q = {};
  q.ip = "10.9.9.9";
  EXPECT_EQ(ids(q), (Ids{"r2"}));
  q = {};
  q.result = "failed";
  EXPECT_EQ(ids(q), (Ids{"r2"}));
  q = {};
  q.sensor = "edge-2";
  EXPECT_EQ(ids(q), (Ids{"r3"}));
  q = {};
  q.limit = 2;
  auto page = (*search)->FindRegistrations(q);
  ASSERT_TRUE(page.ok()) << page.status().message();
  ASSERT_EQ(page->rows.size(), 2u);
  ASSERT_TRUE(page->next.has_value());
  q.after = page->next;
  EXPECT_EQ(ids(q), (Ids{"r1"})) << "the page after the newest two";
}

TEST_P(StoreTest, BurstMuchLargerThanTheQueueIsAllWritten) {
  constexpr size_t kBound = 64;
  auto store = OpenOrDie(Url("burst.db"), kBound, 16);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Count(store.get(), "calls"), 0);
  constexpr int kThreads = 2, kCallsPerThread = 5000;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        std::string id = "burst-" + std::to_string(t) + "-" + std::to_string(i);
        store->AddCall(FullCall(id, kT0 + i));
        store->AddMessage(Message(id, kT0 + i, kInvite));
      }
    });
  }
  for (std::thread& t : producers) t.join();
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count(store.get(), "calls"), kThreads * kCallsPerThread);
  EXPECT_EQ(Count(store.get(), "messages"), kThreads * kCallsPerThread);
  StoreCounters c = store->counters();
  EXPECT_GT(c.producer_waits, 0u) << "producers should have waited for the writer";
  EXPECT_LE(c.max_queue_depth, kBound);
  EXPECT_EQ(c.write_errors, 0u);
  EXPECT_EQ(c.queued_rows, 0u);
  EXPECT_GE(c.batches, 2u * kThreads * kCallsPerThread / 16);
}

TEST_P(StoreTest, FlushMakesQueuedRowsVisible) {
  // A large batch: without Flush the writer would wait for more rows.
  auto store = OpenOrDie(Url("flush.db"), 100000, 50000);
  ASSERT_NE(store, nullptr);
  for (int round = 1; round <= 3; ++round) {
    for (int i = 0; i < 10; ++i) {
      store->AddCall(FullCall(Id(Id("f", round) + "-", i), kT0 + i));
    }
    ASSERT_TRUE(store->Flush().ok());
    EXPECT_EQ(Count(store.get(), "calls"), 10 * round);
  }
  EXPECT_TRUE(store->Flush().ok()) << "flushing nothing is fine";
}

TEST_P(StoreTest, CloseWritesEverythingAndRejectsLaterRows) {
  std::string path = Url("close.db");
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 1000; ++i) store->AddCall(FullCall(Id("c", i), kT0 + i));
  ASSERT_TRUE(store->Close().ok());
  EXPECT_TRUE(store->Close().ok()) << "Close is idempotent";
  store->AddCall(FullCall("late", kT0));
  EXPECT_EQ(store->counters().rows_rejected, 1u);
  EXPECT_EQ(store->counters().calls_written, 1000u);
  auto closed = store->CountRows("calls");
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.status().message().find("closed"), std::string::npos);
  store.reset();
  auto reopened = OpenOrDie(path);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Count(reopened.get(), "calls"), 1000);
}

TEST_P(StoreTest, DestructorWritesEverything) {
  std::string path = Url("dtor.db");
  {
    auto store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 500; ++i) store->AddCall(FullCall(Id("d", i), kT0 + i));
  }
  auto store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Count(store.get(), "calls"), 500);
}

TEST_P(StoreTest, ReadsRunWhileTheWriterWrites) {
  const std::string url = Url("concurrent.db");
  auto store = OpenOrDie(url, 2000, 500);
  ASSERT_NE(store, nullptr);
  auto search = CallSearch::Open(url);  // the web API's reads, beside the writer
  ASSERT_TRUE(search.ok()) << search.status().message();
  constexpr int kCalls = 20000;
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < kCalls; ++i) {
      std::string id = "rw-" + std::to_string(i);
      store->AddCall(FullCall(id, kT0 + i));
      store->AddMessage(Message(id, kT0 + i, kInvite));
    }
    done = true;
  });
  int64_t last = 0;
  int reads = 0;
  while (!done || last < kCalls) {
    Result<int64_t> n = store->CountRows("calls");
    ASSERT_TRUE(n.ok()) << n.status().message();
    ASSERT_GE(n.value(), last) << "committed rows never disappear";
    last = n.value();
    CallSearchQuery q;
    q.caller = "4930";
    q.limit = 10;
    auto page = (*search)->FindCalls(q);
    ASSERT_TRUE(page.ok()) << page.status().message();
    auto messages = store->MessagesOfCall("rw-0");
    ASSERT_TRUE(messages.ok()) << messages.status().message();
    ++reads;
    if (done && last < kCalls) {
      ASSERT_TRUE(store->Flush().ok());
    }
  }
  producer.join();
  EXPECT_EQ(last, kCalls);
  EXPECT_GT(reads, 1);
}

// What happens when a write fails: tests/store/sqlite_write_failure_test.cc.

TEST(Store, OpenExplainsWhatItCannotOpen) {
  StoreOptions options;
  options.url = "postgresql://sipman:secret@127.0.0.1:1/sipman";  // nothing listens on port 1
  auto pg = Store::Open(options);
  ASSERT_FALSE(pg.ok());
  EXPECT_NE(pg.status().message().find("cannot connect to PostgreSQL database "
                                       "postgresql://sipman:***@127.0.0.1:1/sipman"),
            std::string::npos)
      << pg.status().message();
  EXPECT_EQ(pg.status().message().find("secret"), std::string::npos) << "no password in errors";

  options.url = "/nonexistent-dir-for-sipman/x.db";
  auto missing = Store::Open(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent-dir-for-sipman/x.db"),
            std::string::npos)
      << missing.status().message();

  options.url = ":memory:";
  EXPECT_FALSE(Store::Open(options).ok());
  options.url = "";
  EXPECT_FALSE(Store::Open(options).ok());

  TempDir dir;
  std::string garbage = dir.File("garbage.db");
  FILE* f = fopen(garbage.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("this is not a database, it is a text file of some length, long enough to matter....",
        f);
  fclose(f);
  options.url = garbage;
  auto bad = Store::Open(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("garbage.db"), std::string::npos)
      << bad.status().message();
}

// A stream with every column set to a value of its own, so that a column
// read into another's place shows.
store::StreamRow FullStream(const std::string& call_id, int64_t first_ts, int64_t ssrc) {
  store::StreamRow r;
  int64_t n = 1;
  VisitStreamColumns(
      r, [&](std::string& v) { v = "text-" + std::to_string(n++) + " \t\\'é"; },
      [&](int64_t& v) { v = 1000 * n++ - 7; }, [&](double& v) { v = 0.125 * static_cast<double>(n++); });
  r.call_id = call_id;
  r.other_call_id = "";
  r.sensor = "edge-9";
  r.src_ip = "10.0.0.1";
  r.dst_ip = "2001:db8::2";
  r.first_ts = first_ts;
  r.ssrc = ssrc;
  r.intervals = R"({"start_ts":1700000000,"width_s":10,"packets":[1],"expected":[1],"lost":[0],"late":[0],"max_jitter_ms":[0.000],"mos":[null]})";
  return r;
}

TEST_P(StoreTest, StreamsRoundTripEveryColumnOnceAndJoinBothLegs) {
  auto store = OpenOrDie(Url("streams.db"));
  ASSERT_NE(store, nullptr);
  store::StreamRow a = FullStream("leg-a@host", kT0, 0x11111111);
  store::StreamRow b = FullStream("leg-b@host", kT0 + 5, 0x22222222);
  b.other_call_id = "leg-a@host";  // media a B2BUA's re-INVITE joined
  store::StreamRow other = FullStream("other@host", kT0 + 9, 0x33333333);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass adds nothing
    store->AddStream(a);
    store->AddStream(b);
    store->AddStream(other);
    ASSERT_TRUE(store->Flush().ok());
  }
  EXPECT_EQ(store->counters().streams_written, 3u);
  EXPECT_EQ(store->counters().duplicates_ignored, 3u);
  auto n = store->CountRows("rtp_streams");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(*n, 3);

  auto found = store->StreamsOfCall("leg-a@host");
  ASSERT_TRUE(found.ok()) << found.status().message();
  ASSERT_EQ(found->size(), 2u);
  for (const auto& [got, want] : {std::pair(found->at(0), a), std::pair(found->at(1), b)}) {
    std::vector<std::string> got_text, want_text;
    std::vector<int64_t> got_int, want_int;
    std::vector<double> got_real, want_real;
    VisitStreamColumns(
        got, [&](const std::string& v) { got_text.push_back(v); },
        [&](int64_t v) { got_int.push_back(v); }, [&](double v) { got_real.push_back(v); });
    VisitStreamColumns(
        want, [&](const std::string& v) { want_text.push_back(v); },
        [&](int64_t v) { want_int.push_back(v); }, [&](double v) { want_real.push_back(v); });
    EXPECT_EQ(got_text, want_text);
    EXPECT_EQ(got_int, want_int);
    EXPECT_EQ(got_real, want_real);
  }
  auto none = store->StreamsOfCall("nobody@host");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreTest, CountRowsRefusesOtherTables) {
  auto store = OpenOrDie(Url("count.db"));
  ASSERT_NE(store, nullptr);
  auto n = store->CountRows("schema_migrations");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("calls, active_calls, registrations, messages, rtp_streams or alerts"),
            std::string::npos)
      << n.status().message();
}

// An alert is one row from its firing on: its resolution and its action's
// result join it (in one batch or later ones), a resolved alert never goes
// back to firing, and storing the same changes again adds nothing.
TEST_P(StoreTest, AlertChangesUpdateOneRowPerAlert) {
  auto store = OpenOrDie(Url("alerts.db"));
  ASSERT_NE(store, nullptr);
  alerts::Alert a;
  a.rule = "trunk-asr";
  a.metric = alerts::Metric::kAsr;
  a.by = alerts::KeyKind::kDstIp;
  a.key = "Trunk.Example";
  a.severity = "critical";
  a.fired_at = 1'700'000'000'123'456'789;
  a.value = 31.5;
  a.threshold = 40;
  a.resolve_threshold = 52;
  a.evidence = {"call-1@h", "call-\"2\"@h"};
  a.action = "block";
  AlertRow fired = AlertRowOf(a, "s1");
  alerts::Alert resolved = a;
  resolved.firing = false;
  resolved.resolved_at = a.fired_at + 60'000'000'000;
  resolved.resolved_value = 88;
  AlertRow acted = fired;
  acted.action_result = "nft: added 192.0.2.7";
  for (int pass = 0; pass < 2; ++pass) {
    store->AddAlert(fired);
    store->AddAlert(acted);  // the same batch: merged before writing
    ASSERT_TRUE(store->Flush().ok());
    store->AddAlert(AlertRowOf(resolved, "s1"));
    store->AddAlert(fired);  // late: does not take the resolution back
    ASSERT_TRUE(store->Flush().ok());
  }
  auto rows = store->Alerts(AlertQuery{});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  const AlertRow& r = rows->front();
  EXPECT_EQ(r.rule, "trunk-asr");
  EXPECT_EQ(r.kind, "asr");
  EXPECT_EQ(r.category, "quality");
  EXPECT_EQ(r.grouped_by, "dst_ip");
  EXPECT_EQ(r.state, "resolved");
  EXPECT_EQ(r.fired_at, a.fired_at);
  EXPECT_EQ(r.resolved_at, resolved.resolved_at);
  EXPECT_DOUBLE_EQ(r.value, 31.5);
  EXPECT_DOUBLE_EQ(r.threshold, 40);
  EXPECT_DOUBLE_EQ(r.resolved_value, 88);
  EXPECT_DOUBLE_EQ(r.resolve_threshold, 52);
  EXPECT_EQ(r.action_result, "nft: added 192.0.2.7");
  EXPECT_EQ(ParseEvidence(r.evidence), a.evidence);
  EXPECT_EQ(r.sensor, "s1");
  EXPECT_EQ(*store->CountRows("alerts"), 1);

  AlertQuery q;
  q.key = "trunk.ex";  // a substring, whatever the case
  EXPECT_EQ(store->Alerts(q)->size(), 1u);
  q.key = "100%";
  EXPECT_EQ(store->Alerts(q)->size(), 0u);
  q = AlertQuery{};
  q.state = "firing";
  EXPECT_EQ(store->Alerts(q)->size(), 0u);
  q.state = "resolved";
  q.from_ts = a.fired_at + 1;
  EXPECT_EQ(store->Alerts(q)->size(), 0u);
  q.from_ts = a.fired_at;
  q.to_ts = a.fired_at + 1;
  EXPECT_EQ(store->Alerts(q)->size(), 1u);
}

}  // namespace
}  // namespace sipman::store
