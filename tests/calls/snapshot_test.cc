// CallTracker::SnapshotOpenCalls: a view of the calls still up that leaves
// the tracker as it was.
#include <gtest/gtest.h>

#include <string>

#include "calls/calls.h"
#include "call_script.h"

namespace sipman::calls {
namespace {

using test::AtMs;
using test::CallScript;
using test::From;
using test::RecordingSink;
using test::TrackerHarness;

TEST(CallTrackerSnapshot, ListsAnsweredAndRingingCallsButNotFinishedOnes) {
  TrackerHarness h;
  CallScript up("up@atlanta");
  h.Feed(up.Invite(), AtMs(0), From::kCaller);
  h.Feed(up.Response(200, "OK", "bob-tag"), AtMs(1000), From::kCallee);
  h.Feed(up.Ack("bob-tag"), AtMs(1010), From::kCaller);
  CallScript ringing("ringing@atlanta");
  h.Feed(ringing.Invite(), AtMs(2000), From::kCaller);
  h.Feed(ringing.Response(180, "Ringing", "bob-tag"), AtMs(2100), From::kCallee);
  CallScript busy("busy@atlanta");
  h.Feed(busy.Invite(), AtMs(3000), From::kCaller);
  h.Feed(busy.Response(486, "Busy Here", "bob-tag"), AtMs(3100), From::kCallee);

  RecordingSink snapshot;
  h.tracker().SnapshotOpenCalls(AtMs(5000), &snapshot);
  ASSERT_EQ(snapshot.calls.size(), 2u);
  EXPECT_EQ(snapshot.calls[0].call_id, "up@atlanta");
  EXPECT_EQ(snapshot.calls[0].state, CallState::kInProgress);
  EXPECT_EQ(snapshot.calls[0].answer_ts, AtMs(1000));
  EXPECT_EQ(snapshot.calls[0].invite_ts, AtMs(0));
  EXPECT_EQ(snapshot.calls[0].end_ts, 0);
  EXPECT_EQ(snapshot.calls[1].call_id, "ringing@atlanta");
  EXPECT_EQ(snapshot.calls[1].state, CallState::kInProgress);
  EXPECT_EQ(snapshot.calls[1].first_18x_ts, AtMs(2100));
  EXPECT_EQ(snapshot.calls[1].end_ts, 0);

  // Nothing went to the tracker's own sink, and nothing changed in it.
  EXPECT_TRUE(h.sink.calls.empty());
  EXPECT_EQ(h.counters().open_calls, 3u);
  EXPECT_EQ(h.counters().calls_emitted, 0u);

  // A second snapshot gives the same; the calls then end as usual.
  RecordingSink again;
  h.tracker().SnapshotOpenCalls(AtMs(5000), &again);
  EXPECT_EQ(again.calls.size(), 2u);
  h.tracker().Finish(AtMs(6000));
  ASSERT_EQ(h.sink.calls.size(), 3u);
  int in_progress = 0;
  for (const CallRecord& r : h.sink.calls) in_progress += r.state == CallState::kInProgress;
  EXPECT_EQ(in_progress, 2);
}

TEST(CallTrackerSnapshot, LeavesOutCallsWhoseTimerIsDue) {
  TrackerHarness h;
  CallScript ringing("late@atlanta");
  h.Feed(ringing.Invite(), AtMs(0), From::kCaller);
  RecordingSink before, after;
  h.tracker().SnapshotOpenCalls(AtMs(1000), &before);
  EXPECT_EQ(before.calls.size(), 1u);
  // Default invite_timeout is 180 s: at 200 s the call is due to expire.
  h.tracker().SnapshotOpenCalls(AtMs(200000), &after);
  EXPECT_TRUE(after.calls.empty());
  EXPECT_EQ(h.counters().open_calls, 1u);
}

TEST(CallTrackerSnapshot, EmptyTrackerGivesNothing) {
  TrackerHarness h;
  RecordingSink snapshot;
  h.tracker().SnapshotOpenCalls(AtMs(0), &snapshot);
  EXPECT_TRUE(snapshot.calls.empty());
}

}  // namespace
}  // namespace sipman::calls
