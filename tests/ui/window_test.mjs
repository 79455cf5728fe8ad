// Tests of the dashboard's time window (ui/src/pages/dashboard/window.ts),
// compiled to JavaScript by window_test.sh, which passes its path in
// WINDOW_JS. Times are fixed: the wall clock is NOW_MS, in second W.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const { TrafficWindow, WINDOW_S, emptySecond } =
  await import(pathToFileURL(process.env.WINDOW_JS).href);

const W = 1_700_000_000;
const NOW_MS = W * 1000 + 500;
const ns = (second) => second * 1e9;

// A /stats/traffic row (or, with `final`, a live traffic event) of second s.
function row(s, extra = {}) {
  return {
    ts: ns(s), time: '', packets: 3, bytes: 1500, sip_bytes: 1200, messages: 3, requests: 2,
    responses: 1, methods: { INVITE: 1, ACK: 1, BYE: 0 }, classes: { '1xx': 0, '2xx': 1 },
    codes: { 200: 1 }, kernel_drops: 2, interface_drops: 5, tls_connections: 0, tls_bytes: 0,
    ...extra,
  };
}

test('the window is 300 seconds long', () => {
  assert.equal(WINDOW_S, 300);
});

test('an empty window ends at the wall clock and shows one empty second', () => {
  const w = new TrafficWindow();
  assert.deepEqual(w.range(NOW_MS), { start: W - 299, end: W, from: W });
  const v = w.view(NOW_MS);
  assert.deepEqual(v.xs, [W * 1000]);
  assert.deepEqual(v.domain, [(W - 299) * 1000, W * 1000]);
  assert.deepEqual(v.rows, [{ ...emptySecond(), concurrent: 0 }]);
  assert.deepEqual(v.totals, { messages: 0, callStarts: 0, drops: 0 });
});

test('a streamed second sets the clock skew and ends the window', () => {
  const w = new TrafficWindow();
  w.addTraffic(row(W - 1, { final: false }), true, NOW_MS);
  assert.equal(w.clockSkew, -1);
  assert.equal(w.first, W - 1);
  assert.equal(w.last, W - 1);
  // end = max(last, wall + skew - 2) = max(W-1, W-3)
  assert.deepEqual(w.range(NOW_MS), { start: W - 300, end: W - 1, from: W - 1 });
  const v = w.view(NOW_MS);
  assert.deepEqual(v.xs, [(W - 1) * 1000]);
  assert.equal(v.rows[0].bytes, 1500);
  assert.equal(v.rows[0].packets, 3);
  assert.equal(v.rows[0].drops, 7);  // kernel 2 + interface 5
  assert.deepEqual(v.rows[0].methods, { INVITE: 1, ACK: 1, BYE: 0 });
  assert.deepEqual(v.rows[0].classes, { '1xx': 0, '2xx': 1 });
  assert.equal(v.last.messages, 3);
  assert.deepEqual(v.totals, { messages: 3, callStarts: 0, drops: 7 });
});

test('when the stream stops, the window moves on over empty seconds after 2 s', () => {
  const w = new TrafficWindow();
  w.addTraffic(row(W - 1), true, NOW_MS);
  // One second later the window still ends at the newest second.
  assert.equal(w.range(NOW_MS + 1000).end, W - 1);
  assert.equal(w.range(NOW_MS + 2000).end, W - 1);
  assert.equal(w.range(NOW_MS + 3000).end, W);
  const later = NOW_MS + 10_000;  // wall second W+10, capture W+9
  assert.deepEqual(w.range(later), { start: W + 7 - 299, end: W + 7, from: W - 1 });
  const v = w.view(later);
  assert.equal(v.xs.length, 9);
  assert.equal(v.xs[8], (W + 7) * 1000);
  assert.deepEqual(v.rows.map((r) => r.messages), [3, 0, 0, 0, 0, 0, 0, 0, 0]);
});

test('the final sample of a second replaces the open one, the call counts stay', () => {
  const w = new TrafficWindow();
  w.addTraffic(row(W - 1, { final: false, messages: 2 }), true, NOW_MS);
  w.addCallEvent('start', NOW_MS);
  w.addTraffic(row(W - 1, { final: true, messages: 5, methods: { INVITE: 4 } }), true, NOW_MS);
  const s = w.get(W - 1);
  assert.equal(s.messages, 5);
  assert.deepEqual(s.methods, { INVITE: 4 });
  assert.equal(s.callStarts, 1);
  assert.equal(w.size, 1);
});

test('a live event without `codes` is read alike', () => {
  const w = new TrafficWindow();
  const ev = row(W - 1, { final: true });
  delete ev.codes;
  w.addTraffic(ev, true, NOW_MS);
  assert.equal(w.get(W - 1).bytes, 1500);
});

test('a row without a time is ignored', () => {
  const w = new TrafficWindow();
  w.addTraffic(row(0), true, NOW_MS);
  assert.equal(w.size, 0);
  assert.equal(w.last, 0);
});

test('stored seconds within the wall-clock window leave the skew alone', () => {
  const w = new TrafficWindow();
  w.addTraffic(row(W - 10), false, NOW_MS);
  assert.equal(w.clockSkew, 0);
  // Traffic that stopped 10 s ago: the window runs on to wall - 2.
  assert.deepEqual(w.range(NOW_MS), { start: W - 301, end: W - 2, from: W - 10 });
  assert.deepEqual(w.pollRange(NOW_MS), { from: NOW_MS - 300_000, to: NOW_MS + 1000 });
});

test('stored seconds older than the window (a replayed capture) set the skew', () => {
  const w = new TrafficWindow();
  const T = 1_600_000_000;
  w.addTraffic(row(T), false, NOW_MS);
  assert.equal(w.clockSkew, T - W);
  assert.equal(w.captureNowMs(NOW_MS), NOW_MS + (T - W) * 1000);
  assert.deepEqual(w.pollRange(NOW_MS), { from: T * 1000 + 500 - 300_000, to: T * 1000 + 1500 });
  assert.equal(w.storedCallsFrom(NOW_MS), T * 1000 + 500 - 300_000);
  // The replay's clock: its newest second ends the window.
  assert.deepEqual(w.range(NOW_MS), { start: T - 299, end: T, from: T });
});

test('call events count in the newest second, or the capture clock without one', () => {
  const w = new TrafficWindow();
  w.addCallEvent('start', NOW_MS);
  assert.equal(w.last, W);
  assert.equal(w.clockSkew, 0);
  assert.equal(w.get(W).callStarts, 1);
  w.addTraffic(row(W + 3), true, NOW_MS);  // a capture 3 s ahead
  assert.equal(w.clockSkew, 3);
  w.addCallEvent('end', NOW_MS);
  w.addCallEvent('start', NOW_MS);
  assert.equal(w.get(W + 3).callEnds, 1);
  assert.equal(w.get(W + 3).callStarts, 1);
  assert.equal(w.view(NOW_MS).totals.callStarts, 2);
});

test('a replay whose first event is a call follows the capture clock', () => {
  const w = new TrafficWindow();
  const replayed = W - 86400;  // a capture from yesterday
  w.addCallEvent('start', NOW_MS, replayed);
  assert.equal(w.last, replayed);
  assert.equal(w.clockSkew, -86400);
  w.addTraffic(row(replayed + 1), true, NOW_MS);
  assert.equal(w.last, replayed + 1);
  assert.equal(w.view(NOW_MS).totals.callStarts, 1);
  w.addCallEvent('end', NOW_MS, replayed - 50);  // once traffic came: the newest second
  assert.equal(w.get(replayed + 1).callEnds, 1);
});

test('stored calls count where they started and ended', () => {
  const w = new TrafficWindow();
  w.addStoredCall(ns(W - 20) + 250e6, ns(W - 5) + 999e6, NOW_MS);
  w.addStoredCall(ns(W - 20), 0, NOW_MS);  // still up: no end
  assert.equal(w.get(W - 20).callStarts, 2);
  assert.equal(w.get(W - 20).callEnds, 0);
  assert.equal(w.get(W - 5).callEnds, 1);
  assert.equal(w.first, W - 20);
  assert.equal(w.last, W - 5);
  assert.equal(w.clockSkew, 0);
});

test('the concurrent calls carry forward from the second that set them', () => {
  const w = new TrafficWindow();
  w.addTraffic(row(W - 4), true, NOW_MS);
  w.addTraffic(row(W - 3), true, NOW_MS);
  w.setConcurrent(4, NOW_MS);  // into W-3, the newest
  w.addTraffic(row(W - 2), true, NOW_MS);
  w.addTraffic(row(W - 1), true, NOW_MS);
  w.setConcurrent(1, NOW_MS);  // into W-1
  const v = w.view(NOW_MS);
  assert.deepEqual(v.xs, [W - 4, W - 3, W - 2, W - 1].map((s) => s * 1000));
  assert.deepEqual(v.rows.map((r) => r.concurrent), [0, 4, 4, 1]);
});

test('seconds more than 5 s before the window are forgotten when it is drawn', () => {
  const w = new TrafficWindow();
  w.addTraffic(row(W - 1), true, NOW_MS);  // window W-300 .. W-1
  w.addStoredCall(ns(W - 306), 0, NOW_MS);
  w.addStoredCall(ns(W - 305), 0, NOW_MS);
  w.addStoredCall(ns(W - 300), 0, NOW_MS);
  assert.equal(w.size, 4);
  const v = w.view(NOW_MS);
  assert.equal(w.get(W - 306), undefined);
  assert.equal(w.get(W - 305).callStarts, 1);
  assert.equal(w.size, 3);
  // The window starts at its start, not at the older data.
  assert.equal(v.xs.length, 300);
  assert.equal(v.xs[0], (W - 300) * 1000);
  assert.equal(v.totals.callStarts, 1);
});
