// Store::ReplaceActiveCalls: active_calls holds the latest snapshot per sensor.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace sipman::store {
namespace {

using testing::FullCall;
using testing::OpenOrDie;
using testing::TempDir;

constexpr TimestampNs kT0 = 1700000000LL * kNsPerSecond;

// "sensor|call_id|state|end_ts|src_ip|caller_media" for every active_calls
// row, in (sensor, invite_ts) order, read with a connection of its own.
std::vector<std::string> ActiveRows(const std::string& path) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    ADD_FAILURE() << "cannot open " << path;
    return rows;
  }
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT sensor || '|' || call_id || '|' || state || '|' || end_ts || '|' || src_ip || '|' "
      "|| (caller_media != '[]') FROM active_calls ORDER BY sensor, invite_ts";
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      rows.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

calls::CallRecord UpCall(const std::string& call_id, TimestampNs invite_ts) {
  calls::CallRecord r = FullCall(call_id, invite_ts);
  r.state = calls::CallState::kInProgress;
  r.end_ts = 0;
  return r;
}

TEST(ActiveCalls, EachSnapshotReplacesTheSensorsRowsOnly) {
  TempDir dir;
  std::string path = dir.File("active.db");
  auto store = OpenOrDie(path);
  store->ReplaceActiveCalls("other", {UpCall("x", kT0)});
  store->ReplaceActiveCalls("edge-1", {UpCall("a", kT0 + 1), UpCall("b", kT0 + 2)});
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(ActiveRows(path).size(), 3u);

  // Two snapshots in a row (likely one batch): only the second remains.
  store->ReplaceActiveCalls("edge-1", {UpCall("c", kT0 + 3)});
  store->ReplaceActiveCalls("edge-1", {UpCall("b", kT0 + 2), UpCall("d", kT0 + 4)});
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(ActiveRows(path),
            (std::vector<std::string>{"edge-1|b|in_progress|0|10.0.0.1|1",
                                      "edge-1|d|in_progress|0|10.0.0.1|1",
                                      "other|x|in_progress|0|10.0.0.1|1"}));
  auto count = store->CountRows("active_calls");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count.value(), 3);
  // Snapshots are not calls.
  EXPECT_EQ(store->CountRows("calls").value(), 0);

  // An empty snapshot empties the sensor's rows.
  store->ReplaceActiveCalls("edge-1", {});
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(ActiveRows(path), (std::vector<std::string>{"other|x|in_progress|0|10.0.0.1|1"}));
  ASSERT_TRUE(store->Close().ok());
}

TEST(ActiveCalls, EmptySensorMeansTheStoreSensor) {
  TempDir dir;
  std::string path = dir.File("sensor.db");
  StoreOptions options;
  options.url = "sqlite:" + path;
  options.sensor = "probe-7";
  auto opened = Store::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  Store* store = opened.value().get();
  store->ReplaceActiveCalls("", {UpCall("a", kT0)});
  store->ReplaceActiveCalls("", {UpCall("b", kT0)});
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(ActiveRows(path), (std::vector<std::string>{"probe-7|b|in_progress|0|10.0.0.1|1"}));
}

}  // namespace
}  // namespace sipman::store
