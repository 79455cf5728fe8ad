// CallSearch::FindCalls picks its index per query (store/call_search.h):
// every plan must return exactly the calls a plain filter and sort over all
// calls gives, page after page through the cursor.
#include "store/call_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using testing::TempDir;

constexpr int kCalls = 24000;  // enough for a prefix above kKeyIndexLimit
constexpr TimestampNs kT0 = 1793491200 * kNsPerSecond;

IpAddress Ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  uint8_t bytes[4] = {a, b, c, d};
  return IpAddress::V4(bytes);
}

calls::CallRecord MakeCall(int64_t i) {
  calls::CallRecord r;
  r.sensor = "s";
  r.call_id = "c" + std::to_string(i);
  r.caller_user = "u" + std::to_string(i * 7919 % 1000);
  r.callee_user = "v" + std::to_string(i * 104729 % 1000);
  r.src_ip = Ip4(10, 0, static_cast<uint8_t>(i % 50), 1);
  // Every 7th call comes back to its source: src_ip = dst_ip.
  r.dst_ip = i % 7 == 0 ? r.src_ip : Ip4(192, 0, 2, 1);
  r.src_port = r.dst_port = 5060;
  r.transport = "udp";
  // Runs of equal invite_ts, so that ties are broken by id.
  r.invite_ts = kT0 + (i / 3) * kNsPerSecond;
  r.end_ts = r.invite_ts + 1000;
  r.duration_ms = (i * 37) % 500;
  static const calls::CallState kStates[] = {calls::CallState::kAnswered,
                                             calls::CallState::kBusy,
                                             calls::CallState::kFailed};
  r.state = kStates[i % 3 == 0 ? 0 : i % 5 == 0 ? 1 : 2];
  r.final_status = r.state == calls::CallState::kAnswered ? 200 : 486;
  return r;
}

class CallSearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    path_ = new std::string(dir_->File("search.db"));
    StoreOptions options;
    options.url = *path_;
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    for (int i = 0; i < kCalls; ++i) (*store)->AddCall(MakeCall(i));
    ASSERT_TRUE((*store)->Close().ok());
  }
  static void TearDownTestSuite() {
    delete path_;
    delete dir_;
  }
  void SetUp() override {
    auto search = CallSearch::Open(*path_);
    ASSERT_TRUE(search.ok()) << search.status().message();
    search_ = std::move(*search);
  }

  // Every page of `q` (with `limit` rows each), followed by cursor, as
  // Call-IDs in order; `plan` gets the index the first page used.
  std::vector<std::string> AllPages(CallSearchQuery q, std::string* plan) {
    std::vector<std::string> ids;
    for (int page_no = 0; page_no < 10000; ++page_no) {
      Result<CallPage> page = search_->FindCalls(q);
      EXPECT_TRUE(page.ok()) << page.status().message();
      if (!page.ok()) break;
      if (page_no == 0) *plan = search_->last_plan();
      for (const CallRow& row : page->rows) ids.push_back(row.record.call_id);
      if (!page->next) break;
      q.after = page->next;
    }
    return ids;
  }

  // The calls that `keep` accepts, in the order of `sort`, as Call-IDs.
  static std::vector<std::string> Expected(CallSort sort,
                                           const std::function<bool(const calls::CallRecord&)>& keep) {
    std::vector<std::pair<calls::CallRecord, int64_t>> rows;
    for (int i = 0; i < kCalls; ++i) {
      calls::CallRecord r = MakeCall(i);
      if (keep(r)) rows.emplace_back(r, i + 1);
    }
    auto key = [&](const std::pair<calls::CallRecord, int64_t>& p) {
      bool by_duration = sort == CallSort::kDurationAsc || sort == CallSort::kDurationDesc;
      return std::make_pair(by_duration ? p.first.duration_ms : p.first.invite_ts, p.second);
    };
    bool descending = sort == CallSort::kInviteDesc || sort == CallSort::kDurationDesc;
    std::sort(rows.begin(), rows.end(), [&](const auto& a, const auto& b) {
      return descending ? key(b) < key(a) : key(a) < key(b);
    });
    std::vector<std::string> ids;
    for (const auto& p : rows) ids.push_back(p.first.call_id);
    return ids;
  }

  static TempDir* dir_;
  static std::string* path_;
  std::unique_ptr<CallSearch> search_;
};

TempDir* CallSearchTest::dir_ = nullptr;
std::string* CallSearchTest::path_ = nullptr;

struct Case {
  const char* name;
  std::function<void(CallSearchQuery*)> set;
  std::function<bool(const calls::CallRecord&)> keep;
  const char* plan;  // expected first-page plan
};

TEST_F(CallSearchTest, EveryPlanReturnsExactlyTheMatchingCallsInOrder) {
  const TimestampNs from = kT0 + 1000 * kNsPerSecond, to = kT0 + 5000 * kNsPerSecond;
  auto in_range = [=](const calls::CallRecord& r) {
    return r.invite_ts >= from && r.invite_ts < to;
  };
  auto starts = [](const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; };
  std::vector<Case> cases = {
      {"caller prefix, small", [](CallSearchQuery* q) { q->caller = "u12"; },
       [&](const calls::CallRecord& r) { return starts(r.caller_user, "u12"); },
       "calls_caller_invite"},
      {"caller prefix, small, range",
       [&](CallSearchQuery* q) {
         q->caller = "u1";
         q->from_ts = from;
         q->to_ts = to;
       },
       [&](const calls::CallRecord& r) { return starts(r.caller_user, "u1") && in_range(r); },
       "calls_caller_invite"},
      {"caller prefix matching all: walk",
       [&](CallSearchQuery* q) {
         q->caller = "u";
         q->from_ts = from;
         q->to_ts = to;
       },
       [&](const calls::CallRecord& r) { return in_range(r); }, "calls_report"},
      {"callee prefix", [](CallSearchQuery* q) { q->callee = "v99"; },
       [&](const calls::CallRecord& r) { return starts(r.callee_user, "v99"); },
       "calls_callee_invite"},
      {"caller and callee: the smaller",
       [](CallSearchQuery* q) {
         q->caller = "u";
         q->callee = "v5";
       },
       [&](const calls::CallRecord& r) { return starts(r.callee_user, "v5"); },
       "calls_callee_invite"},
      {"absent prefix", [](CallSearchQuery* q) { q->caller = "x"; },
       [](const calls::CallRecord&) { return false; }, "calls_caller_invite"},
      {"Call-ID", [](CallSearchQuery* q) { q->call_id = "c777"; },
       [](const calls::CallRecord& r) { return r.call_id == "c777"; }, "calls_call_id"},
      {"IP, source and destination",
       [](CallSearchQuery* q) { q->ip = "10.0.7.1"; },
       [](const calls::CallRecord& r) { return r.src_ip == Ip4(10, 0, 7, 1); },
       "calls_src_ip_invite+calls_dst_ip_invite"},
      {"IP of every call, range",
       [&](CallSearchQuery* q) {
         q->ip = "192.0.2.1";
         q->from_ts = from;
         q->to_ts = to;
       },
       [&](const calls::CallRecord& r) { return r.dst_ip == Ip4(192, 0, 2, 1) && in_range(r); },
       "calls_src_ip_invite+calls_dst_ip_invite"},
      {"IP and a small prefix",
       [](CallSearchQuery* q) {
         q->ip = "10.0.7.1";
         q->caller = "u12";
       },
       [&](const calls::CallRecord& r) {
         return r.src_ip == Ip4(10, 0, 7, 1) && starts(r.caller_user, "u12");
       },
       "calls_caller_invite"},
      {"one state", [](CallSearchQuery* q) { q->states = {"busy"}; },
       [](const calls::CallRecord& r) { return r.state == calls::CallState::kBusy; },
       "calls_state"},
      {"two states, range",
       [&](CallSearchQuery* q) {
         q->states = {"busy", "answered"};
         q->from_ts = from;
         q->to_ts = to;
       },
       [&](const calls::CallRecord& r) {
         return r.state != calls::CallState::kFailed && in_range(r);
       },
       "calls_report"},
      {"durations and status",
       [](CallSearchQuery* q) {
         q->statuses = {486};
         q->min_duration_ms = 100;
         q->max_duration_ms = 200;
       },
       [](const calls::CallRecord& r) {
         return r.final_status == 486 && r.duration_ms >= 100 && r.duration_ms <= 200;
       },
       "calls_report"},
      {"no filter", [](CallSearchQuery*) {}, [](const calls::CallRecord&) { return true; },
       "calls_report"},
  };
  for (CallSort sort :
       {CallSort::kInviteDesc, CallSort::kInviteAsc, CallSort::kDurationDesc,
        CallSort::kDurationAsc}) {
    for (const Case& c : cases) {
      CallSearchQuery q;
      q.sort = sort;
      q.limit = 500;
      c.set(&q);
      std::string plan;
      std::vector<std::string> got = AllPages(q, &plan);
      std::vector<std::string> want = Expected(sort, c.keep);
      ASSERT_EQ(got.size(), want.size()) << c.name << ", sort " << static_cast<int>(sort);
      EXPECT_TRUE(got == want) << c.name << ", sort " << static_cast<int>(sort);
      bool by_duration = sort == CallSort::kDurationAsc || sort == CallSort::kDurationDesc;
      if (!by_duration) {
        EXPECT_EQ(plan, c.plan) << c.name;
      }
    }
  }
}

TEST_F(CallSearchTest, SmallPagesFollowTheCursorAcrossTies) {
  CallSearchQuery q;
  q.caller = "u1";
  q.limit = 7;  // pages end inside runs of equal invite_ts
  std::string plan;
  std::vector<std::string> got = AllPages(q, &plan);
  EXPECT_TRUE(got == Expected(CallSort::kInviteDesc, [](const calls::CallRecord& r) {
    return r.caller_user.rfind("u1", 0) == 0;
  }));
  std::set<std::string> unique(got.begin(), got.end());
  EXPECT_EQ(unique.size(), got.size());
}

}  // namespace
}  // namespace sipman::store
