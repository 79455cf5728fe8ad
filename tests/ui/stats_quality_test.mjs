// Tests of the Statistics page's Media quality arithmetic
// (ui/src/pages/stats/quality.ts), compiled to JavaScript by
// stats_quality_test.sh, which passes its path in STATS_QUALITY_JS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const q = await import(pathToFileURL(process.env.STATS_QUALITY_JS).href);

// A row of GET /api/v1/stats/quality (the golden answer's PCMU row), with
// `extra` over it.
function row(extra = {}) {
  return { key: 'PCMU', start_ts: 0, start_time: null, streams: 2, packets: 1195, expected: 1200,
    lost: 5, loss_pct: 0.4166666667, mean_jitter_ms: 0, max_jitter_ms: 0, mos_streams: 2,
    mos_avg: 4.375104676, mos_min: 4.340636292, poor_streams: 0, ...extra };
}
const HOUR_NS = 3600e9;
// 2023-11-14T22:00:00Z, an hour's start as the API sends it.
const H22 = 1699999200000000000;

test('the groupings: codec, source and destination IP, hour, day, week', () => {
  assert.deepEqual(q.QUALITY_GROUPINGS.map((g) => g.by), ['codec', 'src_ip', 'dst_ip', 'hour', 'day', 'week']);
  assert.equal(q.isQualityBy('dst_ip'), true);
  assert.equal(q.isQualityBy('caller'), false);
  assert.deepEqual(['codec', 'src_ip', 'dst_ip', 'hour', 'day', 'week'].map(q.isPeriodGrouping),
    [false, false, false, true, true, true]);
});

test('periods: in time order, each spanning its length, gaps where no MOS or nothing expected', () => {
  const rows = [
    row({ key: '', start_ts: H22 + 2 * HOUR_NS, start_time: '2023-11-15T00:00:00.000Z',
      mos_streams: 0, mos_avg: null, mos_min: null, expected: 0, lost: 0, loss_pct: null }),
    row({ key: '', start_ts: H22, start_time: '2023-11-14T22:00:00.000Z', loss_pct: 2.5 }),
  ];
  const periods = q.qualityPeriods(rows, 'hour');
  assert.deepEqual(periods, [
    { from: 1699999200000, to: 1700002800000, streams: 2, mosAvg: 4.375104676, lossPct: 2.5 },
    { from: 1700006400000, to: 1700010000000, streams: 2, mosAvg: null, lossPct: null }]);
  assert.deepEqual(q.periodsDomain(periods), [1699999200000, 1700010000000]);
  assert.equal(q.periodsDomain([]), null);
  const week = q.qualityPeriods([row({ key: '', start_ts: 1699833600000000000 })], 'week');
  assert.deepEqual([week[0].from, week[0].to], [1699833600000, 1699833600000 + 7 * 86400e3]);
  assert.equal(q.utcDate(week[0].from), '2023-11-13');
});

test('bars: the mean MOS on the 1–4.5 scale, its class, the lowest MOS, the poor share', () => {
  const [pcmu, g729, none, empty] = q.qualityBars([
    row(),
    row({ key: 'G729', streams: 10, mos_streams: 8, mos_avg: 3.275, mos_min: 1.875, poor_streams: 2 }),
    row({ key: 'opus', streams: 3, mos_streams: 0, mos_avg: null, mos_min: null }),
    row({ key: '', streams: 1, mos_streams: 1, mos_avg: 2.75, mos_min: 2.75, poor_streams: 1 }),
  ]);
  assert.deepEqual(pcmu, { key: 'PCMU', label: 'PCMU', streams: 2, mosAvg: 4.375104676,
    mosClass: 'good', mosFraction: (4.375104676 - 1) / 3.5,
    mosMinFraction: (4.340636292 - 1) / 3.5, poorShare: 0, poorText: '0 of 2 poor (0 %)' });
  assert.deepEqual([g729.mosClass, g729.mosFraction, g729.mosMinFraction, g729.poorShare, g729.poorText],
    ['poor', 0.65, 0.25, 0.25, '2 of 8 poor (25 %)']);
  assert.deepEqual([none.mosClass, none.mosFraction, none.mosMinFraction, none.poorShare, none.poorText],
    ['none', 0, null, null, 'no MOS']);
  assert.deepEqual([empty.label, empty.mosFraction, empty.poorShare, empty.poorText],
    ['(none)', 0.5, 1, '1 of 1 poor (100 %)']);
  assert.deepEqual(q.qualityBars([]), []);
  const offScale = q.qualityBars([row({ mos_avg: 0, mos_min: -1 })])[0];
  assert.deepEqual([offScale.mosClass, offScale.mosFraction, offScale.mosMinFraction], ['none', 0, null]);
});

test('a poor share above 0 never reads as 0 %', () => {
  assert.equal(q.formatShare(0), '0 %');
  assert.equal(q.formatShare(0.004), '< 1 %');
  assert.equal(q.formatShare(0.005), '1 %');
  assert.equal(q.formatShare(1 / 3), '33 %');
});
