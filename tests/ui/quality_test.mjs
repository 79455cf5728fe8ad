// Tests of the dashboard's Call quality panel (ui/src/pages/dashboard/
// quality.ts), compiled to JavaScript by quality_test.sh, which passes its
// path in QUALITY_JS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const q = await import(pathToFileURL(process.env.QUALITY_JS).href);

// A call as the panel reads it: started at second `s` (in ns), no MOS and
// no flag unless `extra` says so.
let nextId = 1;
function call(s, extra = {}) {
  return { id: nextId++, invite_ts: s * 1e9, caller_user: 'alice', callee_user: 'bob',
    mos_min: -1, media_flags: '', ...extra };
}
const counts = (bins) => bins.map((b) => [b.label, b.poor, b.fair, b.good]);

test('seven 0.5-wide bins from 1 to 4.5', () => {
  assert.deepEqual(q.emptyBins().map((b) => [b.from, b.to, b.label]), [
    [1, 1.5, '1–1.5'], [1.5, 2, '1.5–2'], [2, 2.5, '2–2.5'], [2.5, 3, '2.5–3'],
    [3, 3.5, '3–3.5'], [3.5, 4, '3.5–4'], [4, 4.5, '4–4.5']]);
});

test('a MOS goes into its bin, counted in its class; the bin 3.5–4 is poor then fair', () => {
  const bins = q.mosBins([1, 1.49, 2.5, 3.5, 3.59, 3.6, 3.99, 4.0, 4.41, 4.5, 4.6, -1, 0]);
  assert.deepEqual(counts(bins), [
    ['1–1.5', 2, 0, 0], ['1.5–2', 0, 0, 0], ['2–2.5', 0, 0, 0], ['2.5–3', 1, 0, 0],
    ['3–3.5', 0, 0, 0], ['3.5–4', 2, 2, 0], ['4–4.5', 0, 0, 4]]);
  assert.deepEqual(counts(q.mosBins([])).map((b) => b[1] + b[2] + b[3]), [0, 0, 0, 0, 0, 0, 0]);
});

test('the worst calls: scored only, lowest MOS first, the newer first at equal MOS', () => {
  const calls = [call(10, { mos_min: 4.2 }), call(11, { mos_min: -1 }), call(12, { mos_min: 2.1 }),
    call(13, { mos_min: 3.7 }), call(14, { mos_min: 2.1 }), call(15, { mos_min: 1.5 }),
    call(16, { mos_min: 4.4 }), call(17, { mos_min: 3.0 })];
  const worst = q.worstCalls(calls);
  assert.equal(q.WORST_MAX, 5);
  assert.deepEqual(worst.map((c) => [c.invite_ts / 1e9, c.mos_min]),
    [[15, 1.5], [14, 2.1], [12, 2.1], [17, 3.0], [13, 3.7]]);
  assert.deepEqual(q.worstCalls(calls, 2).map((c) => c.mos_min), [1.5, 2.1]);
  assert.deepEqual(q.worstCalls([call(1), call(2)]), []);
  assert.equal(calls[0].mos_min, 4.2, 'the input keeps its order');
});

test('flags are counted by name, whatever their neighbours', () => {
  const calls = [call(1, { media_flags: 'one_way' }), call(2, { media_flags: 'one_way,after_bye' }),
    call(3, { media_flags: 'no_media' }), call(4, { media_flags: 'unexpected_source' }), call(5)];
  assert.equal(q.countFlag(calls, 'one_way'), 2);
  assert.equal(q.countFlag(calls, 'no_media'), 1);
  assert.equal(q.countFlag(calls, 'codec_not_in_answer'), 0);
  assert.equal(q.countFlag([], 'one_way'), 0);
});

test('the summary counts the calls of the window only', () => {
  const calls = [
    call(100, { mos_min: 1.2, media_flags: 'one_way' }),  // before the window
    call(200, { mos_min: 4.3 }),
    call(201, { mos_min: 3.8, media_flags: 'unexpected_source' }),
    call(202, { mos_min: 2.4, media_flags: 'one_way' }),
    call(203, { media_flags: 'no_media' }),
    call(204),
  ];
  const s = q.qualitySummary(calls, 200 * 1e9);
  assert.equal(s.calls, 5);
  assert.equal(s.scored, 3);
  assert.equal(s.unscored, 2);
  assert.equal(s.oneWay, 1);
  assert.equal(s.noMedia, 1);
  assert.deepEqual(s.worst.map((c) => c.mos_min), [2.4, 3.8, 4.3]);
  assert.deepEqual(s.bins.map((b) => b.poor + b.fair + b.good), [0, 0, 1, 0, 0, 1, 1]);
  const later = q.qualitySummary(calls, 300 * 1e9);
  assert.deepEqual([later.calls, later.scored, later.unscored, later.worst.length], [0, 0, 0, 0]);
});
