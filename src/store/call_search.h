// Read queries of the web API over a SQLite or PostgreSQL database: call
// search with many filters, any of four sort orders and keyset (cursor)
// pagination; one call by row id; registration search and the registrations
// currently bound.
//
// Paging is keyset on (sort key, id): a page ends with the sort key and row
// id of its last row, and the next page starts strictly after that pair, so
// rows inserted meanwhile never shift or repeat a page. The order is total
// because ids are unique.
//
// Every value is bound as an SQL parameter; the SQL text holds fixed
// conditions only.
//
// On SQLite a call search picks its index itself (INDEXED BY), since SQLite's planner
// cannot tell a prefix that matches one caller from one that matches a
// million (docs/PERFORMANCE.md, "Web API"). With a Call-ID: its index. Else,
// when a caller or callee prefix (fewer than kKeyScanLimit calls, counted on
// its index) or, sorted by duration, the IP address matches fewer than
// kKeyIndexLimit calls in the range, the smallest of those key indexes: it
// carries invite_ts, so the range and the sort are checked without reading
// rows. Else a walk in sort
// order: with an IP, of its two address indexes (ip, invite_ts); with one
// state and no key filter, of calls_state; else of calls_report, which holds
// most filtered columns, so rows are read only for matches. Then the walk's
// cost is bounded by about limit * total calls / kKeyIndexLimit entries when
// the matches are spread over time. Sorts by duration without a small key
// are left to SQLite. Either way the plan yields only the page's row ids, and
// only those rows are read.
//
// On PostgreSQL the same filters, sorts and keyset paging are plain SQL
// over the partitioned calls and registrations tables (id is their
// BIGSERIAL), and PostgreSQL's planner picks the indexes. Ids are each
// database's own: rows with equal sort keys may be ordered differently from
// SQLite's, never the rest.
//
// Thread safety: one CallSearch per thread (it owns one connection).
#ifndef SIPMAN_STORE_CALL_SEARCH_H_
#define SIPMAN_STORE_CALL_SEARCH_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "calls/calls.h"

namespace sipman::store {

enum class CallSort { kInviteAsc, kInviteDesc, kDurationAsc, kDurationDesc };

// The position after which a page continues: the last row's sort key
// (invite_ts or duration_ms, by the query's sort) and id.
struct SearchCursor {
  int64_t key = 0;
  int64_t id = 0;
};

// The flags media_flags may hold (calls.h), for the search's media_flag.
inline constexpr std::string_view kMediaFlags[] = {"one_way", "no_media", "unexpected_source",
                                                   "after_bye", "codec_not_in_answer"};

// The SQL of the media filters, the same on both backends, around the
// backend's placeholder for the value: "mos_min >= 0 AND mos_min < ?" (the
// MOS bound as text, MosText, which both read as a number), and a
// whole-word match in media_flags.
std::string MosBelowSql(const std::string& placeholder);
std::string MosText(double mos);
std::string MediaFlagSql(const std::string& placeholder);

// Filters of a call search; empty fields do not filter.
struct CallSearchQuery {
  TimestampNs from_ts = 0;  // invite_ts >= from_ts
  TimestampNs to_ts = 0;    // invite_ts < to_ts; 0: no upper bound
  std::string caller;           // prefix of caller_user
  std::string caller_contains;  // substring of caller_user
  std::string callee;           // prefix of callee_user
  std::string callee_contains;  // substring of callee_user
  std::string call_id;          // exact
  std::string ip;               // src_ip or dst_ip; must parse as an IP address
  std::vector<std::string> states;  // any of these state names
  std::vector<int> statuses;        // any of these final_status values
  std::optional<int64_t> min_duration_ms;  // duration_ms >= this
  std::optional<int64_t> max_duration_ms;  // duration_ms <= this
  // 0 <= mos_min < this: calls whose media was measured and scored lower.
  std::optional<double> mos_below;
  std::string media_flag;       // one of the flags of media_flags (kMediaFlags)
  std::string sensor;           // exact
  CallSort sort = CallSort::kInviteDesc;
  size_t limit = 50;            // rows per page, 1..kMaxSearchLimit
  std::optional<SearchCursor> after;
};

constexpr size_t kMaxSearchLimit = 500;
// From this many matching calls in the range on, a key index (caller,
// callee, IP) is not used for a search sorted by time: walking the time
// order finds a page sooner. Sorting n matches costs about 1.5 us each; a
// walk over N calls for matches that are n of them reads about
// limit * N / n entries at 0.3 us: the two meet near n = 10,000 for
// N = 10,000,000.
constexpr int64_t kKeyIndexLimit = 10000;
// A prefix with this many calls or more (at any time) is walked in time
// order: its matches are at least 0.3% of 10,000,000 calls, so a page is
// found within about 17,000 entries when they are spread over time. Below
// it, the prefix's index entries (narrow, 0.1-0.25 us each) are read to
// count the matches in the range.
constexpr int64_t kKeyScanLimit = 30000;

struct CallRow {
  int64_t id = 0;
  calls::CallRecord record;
};

struct CallPage {
  std::vector<CallRow> rows;
  std::optional<SearchCursor> next;  // set when more rows follow
};

struct RegistrationSearchQuery {
  TimestampNs from_ts = 0;  // first_seen >= from_ts
  TimestampNs to_ts = 0;    // first_seen < to_ts; 0: no upper bound
  std::string user;         // prefix of aor ("alice" matches "alice@example.com")
  std::string ip;           // src_ip; must parse as an IP address
  std::string result;       // "success", "unregistered", "failed", "expired"
  std::string sensor;
  size_t limit = 50;        // newest first (first_seen descending, then id)
  std::optional<SearchCursor> after;  // key: first_seen
};

struct RegistrationRow {
  int64_t id = 0;
  calls::RegistrationRecord record;
};

struct RegistrationPage {
  std::vector<RegistrationRow> rows;
  std::optional<SearchCursor> next;
};

// The web API's searches, over SQLite (call_search.cc) or PostgreSQL
// (postgres_search.cc): the same answers from either, row for row.
class CallSearch {
 public:
  // Opens the database at `url`: "postgresql://..." or "postgres://..." (a
  // libpq URI), else a SQLite file ("sqlite:PATH" accepted), which must
  // exist and be SIPMan's. The schema is brought up to date first.
  static Result<std::unique_ptr<CallSearch>> Open(const std::string& url);
  virtual ~CallSearch() = default;
  CallSearch(const CallSearch&) = delete;
  CallSearch& operator=(const CallSearch&) = delete;

  // Fails with a message naming the filter for an unreadable IP address or
  // state name, or an out-of-range limit.
  virtual Result<CallPage> FindCalls(const CallSearchQuery& query) = 0;
  // The call with this row id; nullopt when there is none.
  virtual Result<std::optional<CallRow>> GetCall(int64_t id) = 0;
  // The index the last FindCalls chose ("calls_caller_invite", ...,
  // "sqlite" when left to SQLite; "postgresql" on PostgreSQL, whose planner
  // chooses); for tests and benchmarks.
  virtual const std::string& last_plan() const = 0;
  virtual Result<RegistrationPage> FindRegistrations(const RegistrationSearchQuery& query) = 0;
  // Bindings in force at `now_ts` (0: the newest last_seen in the table, so
  // a stored capture shows what was bound when it ended): for each (aor,
  // contact, sensor) its newest attempt, when that succeeded and
  // last_seen + expires has not passed. Newest first, at most `limit`.
  virtual Result<std::vector<RegistrationRow>> CurrentRegistrations(TimestampNs now_ts,
                                                                    size_t limit) = 0;

 protected:
  CallSearch() = default;
};

}  // namespace sipman::store

#endif  // SIPMAN_STORE_CALL_SEARCH_H_
