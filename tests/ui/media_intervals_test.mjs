// Tests of the call page's RTP streams arithmetic (ui/src/media_intervals.ts:
// the per-interval chart's series on one time axis, the stream table's
// rows) and of the axis helpers it uses (ui/src/scale.ts), compiled to
// JavaScript by media_intervals_test.sh, which passes the module's path in
// MEDIA_INTERVALS_JS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const moduleUrl = pathToFileURL(process.env.MEDIA_INTERVALS_JS);
const m = await import(moduleUrl.href);
const scale = await import(new URL('./scale.js', moduleUrl).href);

const CALL_ID = 'golden-auth-1@192.0.2.206';
// INVITE at 1700000108 s, answer 3.4 s later, BYE 68.42 s later (ns, as the API sends them).
const CALL = { call_id: CALL_ID, invite_ts: 1700000108000000000,
  answer_ts: 1700000111400000000, bye_ts: 1700000176420000000 };

// A stream as GET /api/v1/calls/{id} writes it (every field), with `extra`
// over it.
function stream(extra = {}) {
  return {
    sensor: 'golden', call_id: CALL_ID, sender: 'caller', other_call_id: '', other_sender: '',
    src_ip: '192.0.2.206', src_port: 40000, dst_ip: '198.51.100.206', dst_port: 50000,
    ssrc: 168496141, ssrc_hex: '0x0A0B0C0D', codec: 'PCMU', payload_type: 0, clock_rate: 8000,
    payload_types: ['0'], first_ts: 1700000111500000000, first_time: '2023-11-14T22:15:11.500Z',
    last_ts: 1700000123480000000, last_time: '2023-11-14T22:15:23.480Z', dtmf: '', flags: [],
    packets: 745, bytes: 128140, expected: 750, lost: 5, sequence_errors: 1,
    expected_rfc3550: 750, lost_rfc3550: 5, duplicates: 0, out_of_order: 0, discontinuities: 1,
    restarts: 0, telephone_events: 0, discarded_fixed50: 5, discarded_adaptive: 0,
    rtcp_reports: 0, rtcp_cumulative_lost: 0, max_delta_ms: 120, mean_delta_ms: 20.1,
    max_jitter_ms: 2.5, mean_jitter_ms: 1.1, longest_gap_ms: 120, burst_ratio: 1,
    mos_fixed50: 4.34, mos_adaptive: 4.36, rtcp_fraction_lost_pct: 0, rtcp_jitter_ms: 0,
    rtcp_rtt_ms: -1, xr_mos_lq: -1, xr_mos_cq: -1, loss_pct: 0.6666666667,
    intervals: { start_ts: 1700000110, width_s: 10, packets: [495, 250], expected: [500, 250],
      lost: [5, 0], late: [0, 5], max_jitter_ms: [1.5, 2.5], mos: [4.3, 4.41] },
    ...extra,
  };
}

// The callee's stream: one 20 s interval with a late packet of before
// (lost -1) and no MOS, then one without packets.
const callee = stream({
  sender: 'callee', src_ip: '198.51.100.206', src_port: 50000, dst_ip: '192.0.2.206',
  dst_port: 40000, ssrc: 439041101, ssrc_hex: '0x1A2B3C4D', first_ts: 1700000111505000000,
  intervals: { start_ts: 1700000100, width_s: 20, packets: [600, 0], expected: [600, 0],
    lost: [-1, 0], late: [0, 0], max_jitter_ms: [3, 0], mos: [null, null] },
});

const spans = (sr) => sr.points.map((p) => [p.from, p.to]);

test('two streams give one series each, caller first, on seconds since the INVITE', () => {
  const c = m.intervalChart([callee, stream()], CALL);
  assert.equal(c.origin, 'invite');
  assert.equal(c.originTs, 1700000108);
  assert.deepEqual(c.series.map((sr) => [sr.side, sr.label, sr.color, sr.ssrcHex, sr.widthS]), [
    ['caller', 'Caller → callee · PCMU', '#1f6feb', '0x0A0B0C0D', 10],
    ['callee', 'Callee → caller · PCMU', '#d1242f', '0x1A2B3C4D', 20]]);
  assert.deepEqual(c.series[0].points, [
    { from: 2, to: 12, packets: 495, expected: 500, lost: 5, late: 0, lossPct: 1, latePct: 0,
      jitterMs: 1.5, mos: 4.3 },
    { from: 12, to: 22, packets: 250, expected: 250, lost: 0, late: 5, lossPct: 0, latePct: 2,
      jitterMs: 2.5, mos: 4.41 }]);
  assert.equal(c.withoutIntervals, 0);
});

test('widths 10 and 20 align by absolute time; the axis spans every interval', () => {
  const c = m.intervalChart([stream(), callee], CALL);
  assert.deepEqual(spans(c.series[0]), [[2, 12], [12, 22]]);
  assert.deepEqual(spans(c.series[1]), [[-8, 12], [12, 32]]);
  assert.deepEqual([c.from, c.to], [-8, 32]);
});

test('negative lost counts as no loss; no packets, nothing expected and null MOS are gaps', () => {
  const [first, second] = m.intervalChart([callee], CALL).series[0].points;
  assert.deepEqual([first.lost, first.lossPct, first.latePct, first.jitterMs, first.mos],
    [-1, 0, 0, 3, null]);
  assert.deepEqual([second.lossPct, second.latePct, second.jitterMs, second.mos],
    [null, null, null, null]);
});

test('the answer is marked inside the axis, the BYE after it is not', () => {
  assert.deepEqual(m.intervalChart([stream()], CALL).markers, [{ at: 3.4, label: 'answer' }]);
  const long = stream({ intervals: { start_ts: 1700000110, width_s: 40, packets: [1, 1],
    expected: [1, 1], lost: [0, 0], late: [0, 0], max_jitter_ms: [0, 0], mos: [4.4, 4.4] } });
  assert.deepEqual(m.intervalChart([long], CALL).markers,
    [{ at: 3.4, label: 'answer' }, { at: 68.42, label: 'BYE' }]);
});

test('a stream with one interval; without an INVITE time the first interval is 0', () => {
  const one = stream({ intervals: { start_ts: 1700000120, width_s: 10, packets: [50],
    expected: [50], lost: [0], late: [0], max_jitter_ms: [0.75], mos: [4.41] } });
  const c = m.intervalChart([one], { call_id: CALL_ID, invite_ts: 0, answer_ts: 0, bye_ts: 0 });
  assert.equal(c.origin, 'first interval');
  assert.equal(c.originTs, 1700000120);
  assert.deepEqual([c.from, c.to, c.markers], [0, 10, []]);
  assert.deepEqual(c.series[0].points, [{ from: 0, to: 10, packets: 50, expected: 50, lost: 0,
    late: 0, lossPct: 0, latePct: 0, jitterMs: 0.75, mos: 4.41 }]);
});

test('streams without intervals are counted, not drawn; no streams give an empty chart', () => {
  const c = m.intervalChart([stream(), stream({ intervals: null, ssrc: 1, ssrc_hex: '0x00000001' })], CALL);
  assert.equal(c.series.length, 1);
  assert.equal(c.withoutIntervals, 1);
  // The caller has two streams, so the one drawn is told by its SSRC.
  assert.equal(c.series[0].label, 'Caller → callee · PCMU · 0x0A0B0C0D');
  const none = m.intervalChart([stream({ intervals: null })], CALL);
  assert.deepEqual([none.series, none.withoutIntervals, none.from, none.to, none.markers],
    [[], 1, 0, 0, []]);
  const empty = m.intervalChart([], CALL);
  assert.deepEqual([empty.series, empty.withoutIntervals, empty.from, empty.to], [[], 0, 0, 0]);
});

test('several streams of a side: SSRC in the label, the side\'s next colour; the other leg', () => {
  const second = stream({ ssrc: 5, ssrc_hex: '0x00000005', codec: 'PCMA', first_ts: 1700000130000000000 });
  const otherLeg = stream({ call_id: 'leg-b', sender: 'caller', other_call_id: CALL_ID,
    other_sender: 'callee', ssrc: 7, ssrc_hex: '0x00000007' });
  const unknown = stream({ sender: '', ssrc: 9, ssrc_hex: '0x00000009' });
  const c = m.intervalChart([unknown, second, otherLeg, stream()], CALL);
  assert.deepEqual(c.series.map((sr) => [sr.side, sr.label, sr.color]), [
    ['caller', 'Caller → callee · PCMU · 0x0A0B0C0D', '#1f6feb'],
    ['caller', 'Caller → callee · PCMA · 0x00000005', '#0f8a9d'],
    ['callee', 'Callee → caller · PCMU (other leg)', '#d1242f'],
    ['', 'Unknown sender · PCMU', '#6e7781']]);
});

test('axis tops: at least 4 % loss (lost and late stacked) and 20 ms jitter', () => {
  const c = m.intervalChart([stream(), callee], CALL);
  assert.equal(m.highest(c.series, m.lossAndLate), 2);
  assert.deepEqual(m.axisTops(c.series), { lossPct: 4, jitterMs: 20 });
  const bad = stream({ intervals: { start_ts: 1700000110, width_s: 10, packets: [70],
    expected: [100], lost: [30], late: [4], max_jitter_ms: [45], mos: [1.9] } });
  assert.deepEqual(m.axisTops(m.intervalChart([bad], CALL).series), { lossPct: 40, jitterMs: 80 });
  assert.deepEqual(m.axisTops([]), { lossPct: 4, jitterMs: 20 });
});

test('an interval\'s loss in words', () => {
  const [a, b] = m.intervalChart([stream()], CALL).series[0].points;
  assert.equal(m.describeIntervalLoss(a), '1.0 % lost (5 of 500)');
  assert.equal(m.describeIntervalLoss(b), '0 % lost (0 of 250), 2.0 % late (5)');
  const [neg, empty] = m.intervalChart([callee], CALL).series[0].points;
  assert.equal(m.describeIntervalLoss(neg), '0 % lost (0 of 600)');
  assert.equal(m.describeIntervalLoss(empty), 'none expected');
});

test('one table row per stream, in the chart\'s order', () => {
  const rows = m.streamRows([callee, stream({ payload_types: ['0', '101'], dtmf: '1#',
    flags: ['unexpected_source', 'rtcp_only', 'new_flag'] })], CALL_ID);
  assert.deepEqual(rows[0], {
    side: 'caller', direction: 'Caller → callee', route: '192.0.2.206:40000 → 198.51.100.206:50000',
    color: '#1f6feb', ssrc: '0x0A0B0C0D', codec: 'PCMU (0, 101)', packets: 745, lost: 5,
    lossPct: '0.7 %', maxJitter: '2.5 ms', mos: 4.34, dtmf: '1#',
    flags: [
      { flag: 'unexpected_source', text: 'NAT?', title: 'Media from an unexpected address (NAT?)' },
      { flag: 'rtcp_only', text: 'RTCP only', title: 'Known from RTCP reports alone: no RTP packet seen' },
      { flag: 'new_flag', text: 'new_flag', title: 'new_flag' }],
  });
  assert.deepEqual([rows[1].side, rows[1].direction, rows[1].color, rows[1].dtmf, rows[1].flags],
    ['callee', 'Callee → caller', '#d1242f', '–', []]);
  const v6 = m.streamRows([stream({ src_ip: '2001:db8::1', codec: '', packets: 0, loss_pct: 0,
    call_id: 'leg-b', other_call_id: CALL_ID, other_sender: 'callee' })], CALL_ID)[0];
  assert.deepEqual([v6.route, v6.codec, v6.maxJitter, v6.lossPct, v6.direction],
    ['[2001:db8::1]:40000 → 198.51.100.206:50000', '–', '–', '0 %', 'Callee → caller (other leg)']);
});

test('who sent a stream, as this call sees it', () => {
  assert.equal(m.senderInCall(stream(), CALL_ID), 'caller');
  assert.equal(m.senderInCall(stream({ call_id: 'leg-b', other_call_id: CALL_ID,
    other_sender: 'callee' }), CALL_ID), 'callee');
  assert.equal(m.isOtherLeg(stream({ call_id: 'leg-b', other_call_id: CALL_ID }), CALL_ID), true);
  assert.equal(m.isOtherLeg(stream(), CALL_ID), false);
});

test('percentages', () => {
  assert.equal(m.formatPercent(0), '0 %');
  assert.equal(m.formatPercent(0.05), '< 0.1 %');
  assert.equal(m.formatPercent(12.345), '12.3 %');
  assert.equal(m.formatPercent(null), '–');
});

test('axes: round tops, second ticks and their labels', () => {
  assert.deepEqual([0, 2, 3, 30, 45, 4.41].map(scale.niceMax), [4, 2, 4, 40, 80, 8]);
  assert.equal(scale.axisTop(0.3, 5), 5);
  assert.deepEqual(scale.offsetTicks(-8, 32, 7), [0, 10, 20, 30]);
  assert.deepEqual(scale.offsetTicks(0, 600, 6), [0, 120, 240, 360, 480, 600]);
  assert.deepEqual(scale.offsetTicks(2, 3, 5), [2, 3]);
  assert.deepEqual([0, -5, 45, 59.6, 90, 720, 3723].map(scale.formatOffset),
    ['0 s', '-5 s', '45 s', '1:00', '1:30', '12:00', '1:02:03']);
});
