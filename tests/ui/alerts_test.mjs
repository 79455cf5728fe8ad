// Tests of the alerts' pure logic (ui/src/alerts.ts), compiled to
// JavaScript by alerts_test.sh, which passes its path in ALERTS_JS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const a = await import(pathToFileURL(process.env.ALERTS_JS).href);

// An alert as GET /api/v1/alerts sends it: fired at second `s` (in ns),
// firing, unless `extra` says otherwise. Its value and fire threshold are
// those it fired with; the rule's resolve threshold is there while it
// fires, resolved_value 0 until it resolves.
let nextId = 1;
function alert(s, extra = {}) {
  return {
    id: nextId++, rule: 'scanner', kind: 'scanner', category: 'security', by: 'src_ip',
    key: '192.0.2.7', severity: 'warning', state: 'firing', fired_at: s * 1e9,
    fired_at_time: new Date(s * 1000).toISOString(), resolved_at: 0, resolved_at_time: '',
    value: 12, threshold: 10, resolved_value: 0, resolve_threshold: 0, evidence: [],
    sensor: 'default', action: '', action_result: '', ...extra,
  };
}
// Its resolution: value and threshold stay those it fired with.
const resolved = (x, s, extra = {}) => ({ ...x, state: 'resolved', resolved_at: s * 1e9,
  resolved_at_time: new Date(s * 1000).toISOString(), ...extra });

test('severity: critical before warning before info, then the newer, then the higher id', () => {
  assert.deepEqual([a.severityRank('critical'), a.severityRank('warning'), a.severityRank('info'),
    a.severityRank('bogus'), a.severityRank('')], [3, 2, 1, 0, 0]);
  const list = [alert(10, { severity: 'info' }), alert(20, { severity: 'critical' }),
    alert(30, { severity: 'warning' }), alert(40, { severity: 'critical' }),
    alert(40, { severity: 'critical' })];
  const sorted = a.bySeverity(list);
  assert.deepEqual(sorted.map((x) => [x.severity, x.fired_at / 1e9]), [['critical', 40],
    ['critical', 40], ['critical', 20], ['warning', 30], ['info', 10]]);
  assert.ok(sorted[0].id > sorted[1].id, 'equal time: the higher id first');
  assert.equal(list[0].severity, 'info', 'the input keeps its order');
  assert.equal(a.worstSeverity(list), 'critical');
  assert.equal(a.worstSeverity([alert(1, { severity: 'info' })]), 'info');
  assert.equal(a.worstSeverity([]), '');
});

test('numbers: significant digits by size, grouping, no trailing zeros', () => {
  assert.deepEqual([40, 12.5, 33.3333, 3.61, 3.6, 0.25, 0.0042, 0, -0.0001, 4200, 1234567.8, 100.4]
    .map(a.fmtNumber), ['40', '12.5', '33.3', '3.61', '3.6', '0.25', '0.004', '0', '0', '4,200',
    '1,234,568', '100']);
  assert.equal(a.fmtNumber(NaN), '–');
  assert.equal(a.fmtNumber(Infinity), '–');
});

test('values with units: %, ms, /s, seconds as durations, plain counts and MOS', () => {
  assert.equal(a.fmtValue(12.5, '%'), '12.5 %');
  assert.equal(a.fmtValue(4200, 'ms'), '4,200 ms');
  assert.equal(a.fmtValue(3.25, '/s'), '3.25/s');
  assert.equal(a.fmtValue(45, 's'), '45 s');
  assert.equal(a.fmtValue(300, 's'), '5 min');
  assert.equal(a.fmtValue(312, 's'), '5 min 12 s');
  assert.equal(a.fmtValue(7500, 's'), '2 h 5 min');
  assert.equal(a.fmtValue(3 * 86400 + 4 * 3600, 's'), '3 d 4 h');
  assert.equal(a.fmtValue(3.61, ''), '3.61');
  assert.equal(a.fmtValue(1500, ''), '1,500');
  assert.equal(a.fmtValue(2, 'calls'), '2 calls');
  assert.equal(a.fmtValue(null, '%'), '–');
  assert.equal(a.fmtValue(undefined, ''), '–');
  assert.deepEqual([30, 60, 90, 300, 3600, 7200, 5400].map(a.fmtWindow),
    ['30 s', '1 min', '90 s', '5 min', '1 h', '2 h', '90 min']);
});

test('scale: the rule\'s unit and direction, else the metric\'s', () => {
  const rules = [{ name: 'asr-low', unit: '%', direction: 'below' },
    { name: 'custom', unit: 'ms', direction: 'above' }];
  assert.deepEqual(a.scaleOf({ rule: 'custom', kind: 'asr' }, rules), { unit: 'ms', direction: 'above' });
  assert.deepEqual(a.scaleOf({ rule: 'gone', kind: 'asr' }, rules), { unit: '%', direction: 'below' });
  assert.deepEqual(a.scaleOf({ rule: 'x', kind: 'mos' }), { unit: '', direction: 'below' });
  assert.deepEqual(a.scaleOf({ rule: 'x', kind: 'pdd_p95' }), { unit: 'ms', direction: 'above' });
  assert.deepEqual(a.scaleOf({ rule: 'x', kind: 'request_rate' }), { unit: '/s', direction: 'above' });
  assert.deepEqual(a.scaleOf({ rule: 'x', kind: 'sensor_silent' }), { unit: 's', direction: 'above' });
  assert.deepEqual(a.scaleOf({ rule: 'x', kind: 'new_metric' }), { unit: '', direction: 'above' });
  assert.equal(a.metricLabel('pdd_p95'), 'post-dial delay p95');
  assert.equal(a.metricLabel('new_metric'), 'new metric');
  assert.equal(a.keyLabel('src_ip'), 'source IP');
});

test('thresholds: fires at or beyond, resolves at or back, by direction', () => {
  const below = { unit: '%', direction: 'below' }, above = { unit: 'ms', direction: 'above' };
  // An ASR rule (fire 40, resolve 80) firing at 31.5 %, then resolved at 88 %.
  const asr = alert(100, { rule: 'asr-low', kind: 'asr', value: 31.5, threshold: 40,
    resolve_threshold: 80 });
  const asrDone = resolved(asr, 200, { resolved_value: 88 });
  assert.equal(a.thresholdText(asr, below), 'fires at ≤ 40 %, resolves at ≥ 80 %');
  assert.equal(a.valueShort(asr, below), '31.5 %');
  assert.equal(a.valueText(asr, below), '31.5 % · fires at ≤ 40 %, resolves at ≥ 80 %');
  assert.equal(a.thresholdText(asrDone, below), 'fired at ≤ 40 %, resolved at ≥ 80 %');
  assert.equal(a.valueShort(asrDone, below), '31.5 % → 88 %');
  assert.equal(a.valueText(asrDone, below), 'fired at 31.5 % (≤ 40 %) · resolved at 88 % (≥ 80 %)');
  assert.equal(a.resolvedPast(asrDone, 'below'), true);
  // A post-dial delay rule (fire 3000, resolve 2000): high is bad.
  const pdd = alert(100, { value: 4000, threshold: 3000, resolve_threshold: 2000 });
  assert.equal(a.valueText(pdd, above), '4,000 ms · fires at ≥ 3,000 ms, resolves at ≤ 2,000 ms');
  const pddDone = resolved(pdd, 200, { resolved_value: 1500 });
  assert.equal(a.valueText(pddDone, above),
    'fired at 4,000 ms (≥ 3,000 ms) · resolved at 1,500 ms (≤ 2,000 ms)');
  assert.equal(a.valueShort(pddDone, above), '4,000 ms → 1,500 ms');
  // On the threshold itself counts as back.
  assert.equal(a.resolvedPast({ resolved_value: 2000, resolve_threshold: 2000 }, 'above'), true);
  assert.equal(a.resolvedPast({ resolved_value: 80, resolve_threshold: 80 }, 'below'), true);
  // A count resolving with its window empty: 0, back at its resolve threshold 0.
  const scan = resolved(alert(100), 200);
  assert.equal(a.valueText(scan, { unit: '', direction: 'above' }),
    'fired at 12 (≥ 10) · resolved at 0 (≤ 0)');
  // An ASR window that emptied (0 %), or a key evicted (the value it fired
  // with): the value did not come back, and is not shown.
  for (const v of [0, 31.5]) {
    const gone = resolved(asr, 200, { resolved_value: v });
    assert.equal(a.resolvedPast(gone, 'below'), false);
    assert.equal(a.valueShort(gone, below), '31.5 % → –');
    assert.equal(a.thresholdText(gone, below), 'fired at ≤ 40 %, resolved: window empty or key evicted');
    assert.equal(a.valueText(gone, below),
      'fired at 31.5 % (≤ 40 %) · resolved with its window empty or its key evicted');
  }
  // An alert without a resolve threshold (from an older server): the fire threshold alone.
  const old = { state: 'firing', value: 12, threshold: 10 };
  assert.equal(a.thresholdText(old, { unit: '', direction: 'above' }), 'fires at ≥ 10');
  assert.equal(a.directionArrow('above'), '↑');
  assert.equal(a.directionArrow('below'), '↓');
});

test('alert names: rule and key, the rule alone over all traffic', () => {
  assert.equal(a.alertName({ rule: 'scanner', by: 'src_ip', key: '192.0.2.7' }), 'scanner · 192.0.2.7');
  assert.equal(a.alertName({ rule: 'asr-low', by: 'all', key: 'all' }), 'asr-low');
});

test('evidence: IP addresses in their textual forms, everything else a Call-ID', () => {
  for (const ip of ['192.0.2.7', '0.0.0.0', '255.255.255.255', '2001:db8::1', '::1', '::',
    'fe80::1%eth0', '[2001:db8::7]', '::ffff:192.0.2.1', '2001:db8:0:0:0:0:0:1',
    '2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:FFFF', '64:ff9b::192.0.2.33']) {
    assert.equal(a.isIpAddress(ip), true, ip);
    assert.equal(a.evidenceKind(ip), 'ip', ip);
  }
  for (const id of ['10-8232@127.0.0.1', 'a84b4c76e66710@pc33.atlanta.com', '3848276298220188511',
    '192.0.2.256', '1.2.3', '1.2.3.4.5', '01.2.3.4', '2001:db8::1::2', '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7', 'abc:def', 'deadbeef', '::g', '', 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    '12345:1', 'x@[2001:db8::1]']) {
    assert.equal(a.isIpAddress(id), false, id);
    assert.equal(a.evidenceKind(id), 'call_id', id);
  }
});

test('evidence links: a Call-ID searches for its call, an IP its calls around the alert', () => {
  assert.equal(a.evidenceHref('10-8232@127.0.0.1'), '#/calls?call_id=10-8232%40127.0.0.1');
  assert.equal(a.evidenceHref('a b&c'), '#/calls?call_id=a%20b%26c');
  assert.equal(a.evidenceHref('192.0.2.7'), '#/calls?ip=192.0.2.7');
  const firing = alert(1_800_000_000);
  assert.equal(a.evidenceHref('192.0.2.7', firing), `#/calls?ip=192.0.2.7&from=${1_800_000_000e3 - 3600e3}`);
  const done = resolved(firing, 1_800_000_600);
  assert.equal(a.evidenceHref('[2001:db8::7]', done),
    `#/calls?ip=2001%3Adb8%3A%3A7&from=${1_800_000_000e3 - 3600e3}&to=${1_800_000_600e3 + 3600e3}`);
});

test('key links: addresses, users and sensors the Calls page searches; others none', () => {
  const at = { fired_at: 0, resolved_at: 0 };
  assert.equal(a.keyHref({ ...at, by: 'src_ip', key: '192.0.2.7' }), '#/calls?ip=192.0.2.7');
  assert.equal(a.keyHref({ ...at, by: 'dst_ip', key: 'not-an-ip' }), null);
  assert.equal(a.keyHref({ ...at, by: 'caller', key: 'alice' }), '#/calls?caller=alice');
  assert.equal(a.keyHref({ ...at, by: 'callee', key: '+4930' }), '#/calls?callee=%2B4930');
  assert.equal(a.keyHref({ ...at, by: 'callee_prefix', key: '0900' }), '#/calls?callee=0900');
  assert.equal(a.keyHref({ ...at, by: 'sensor', key: 'edge-1' }), '#/calls?sensor=edge-1');
  assert.equal(a.keyHref({ ...at, by: 'all', key: 'all' }), null);
  assert.equal(a.keyHref({ ...at, by: 'callee_domain', key: 'example.com' }), null);
  assert.equal(a.keyHref({ ...at, by: 'ip_pair', key: '192.0.2.7 198.51.100.1' }), null);
  assert.equal(a.keyHref({ ...at, by: 'caller', key: '' }), null);
});

test('relative times', () => {
  const now = 1_800_000_000_000;
  assert.equal(a.fmtAgo(now, now), 'just now');
  assert.equal(a.fmtAgo(now + 60e3, now), 'just now', 'a time ahead of the clock');
  assert.equal(a.fmtAgo(now - 4999, now), 'just now');
  assert.equal(a.fmtAgo(now - 42e3, now), '42 s ago');
  assert.equal(a.fmtAgo(now - 12 * 60e3 - 59e3, now), '12 min ago');
  assert.equal(a.fmtAgo(now - (3 * 3600 + 5 * 60 + 30) * 1e3, now), '3 h 5 min ago');
  assert.equal(a.fmtAgo(now - 3600e3, now), '1 h ago');
  assert.equal(a.fmtAgo(now - (2 * 86400 + 4 * 3600) * 1e3, now), '2 d 4 h ago');
  const x = alert(now / 1e3 - 600);
  assert.equal(a.firedFor(x, now), 600e3);
  assert.equal(a.firedFor(resolved(x, now / 1e3 - 300), now), 300e3);
});

test('firing set: the answer, then fire and resolve events, ids or not', () => {
  const set = new a.FiringSet();
  assert.equal(set.count, 0);
  assert.equal(a.bannerSummary(set), null);
  const x = alert(100, { severity: 'warning' });
  const y = alert(110, { rule: 'asr-low', kind: 'asr', by: 'all', key: 'all', severity: 'critical',
    value: 31.5, threshold: 40, resolve_threshold: 52 });
  // Five firing, two listed (the page was cut): three unlisted.
  set.reset({ alerts: [x, y], firing: 5 });
  assert.equal(set.count, 5);
  assert.deepEqual(set.list().map((z) => z.rule), ['asr-low', 'scanner']);
  assert.equal(set.severity, 'critical');
  const sum = a.bannerSummary(set);
  assert.equal(sum.title, '5 alerts firing');
  assert.deepEqual(sum.named.map(a.alertName), ['asr-low', 'scanner · 192.0.2.7']);
  // Each named alert's tooltip, on its metric's scale.
  assert.deepEqual(sum.named.map(a.bannerItemTitle), ['asr-low: 31.5 % · fires at ≤ 40 %, resolves at ≥ 52 %',
    'scanner · 192.0.2.7: 12 · fires at ≥ 10, resolves at ≤ 0']);
  assert.equal(a.bannerSummary(set, 1).named.length, 1);

  // The same alert again (a value update): no new alert.
  assert.equal(set.apply({ ...x, value: 20 }), true);
  assert.equal(set.count, 5);
  assert.equal(set.list()[1].value, 20);
  // A new one.
  const z = alert(120, { key: '198.51.100.9', severity: 'info' });
  assert.equal(set.apply(z), true);
  assert.equal(set.count, 6);
  // Its resolution, even without an id (id 0): by rule and key.
  assert.equal(set.apply(resolved({ ...z, id: 0 }, 130)), true);
  assert.equal(set.count, 5);
  // The resolution of an alert not listed: one unlisted fewer, down to none.
  const other = alert(50, { key: '203.0.113.1' });
  for (let i = 0; i < 3; i++) assert.equal(set.apply(resolved(other, 140)), true);
  assert.equal(set.count, 2);
  assert.equal(set.apply(resolved(other, 150)), false, 'nothing left to take off');
  assert.equal(set.count, 2);
  // A stale event (an older firing of the same rule and key) changes nothing.
  assert.equal(set.apply(resolved(alert(90), 95)), false);
  assert.equal(set.apply(alert(90)), false);
  assert.equal(set.count, 2);
  // The last alerts resolve.
  set.apply(resolved(x, 200));
  set.apply(resolved(y, 200));
  assert.equal(set.count, 0);
  assert.equal(set.severity, '');
  assert.equal(a.bannerSummary(set), null);

  // One alert: singular; resolved rows in the answer are left out.
  set.reset({ alerts: [x, resolved(z, 130)], firing: 1 });
  assert.equal(set.count, 1);
  assert.equal(a.bannerSummary(set).title, '1 alert firing');
});

test('firing set: events during a read are applied again on top of its answer', () => {
  const set = new a.FiringSet();
  const x = alert(100), y = alert(110, { key: '198.51.100.9' });
  set.reset({ alerts: [x], firing: 1 });
  set.beginRead();
  // While the read runs: y fires, x resolves; the answer predates both.
  set.apply(y);
  set.apply(resolved(x, 120));
  set.beginRead();  // a second read: the events are kept for it too
  set.reset({ alerts: [x], firing: 1 });
  assert.deepEqual(set.list().map((z) => z.key), ['198.51.100.9']);
  assert.equal(set.count, 1);
  // After the answer, events no longer replay.
  set.reset({ alerts: [], firing: 0 });
  assert.equal(set.count, 0);
});

test('filter: time range on fired_at, state, rule, severity, key text', () => {
  const f = { state: '', rule: '', severity: '', key: '', fromMs: 0, toMs: 0 };
  const x = alert(1000, { key: 'Example.COM' });
  assert.equal(a.matchesFilter(x, f), true);
  assert.equal(a.matchesFilter(x, { ...f, fromMs: 1000e3 }), true);
  assert.equal(a.matchesFilter(x, { ...f, fromMs: 1000e3 + 1 }), false);
  assert.equal(a.matchesFilter(x, { ...f, toMs: 1000e3 }), false, 'half-open');
  assert.equal(a.matchesFilter(x, { ...f, toMs: 1000e3 + 1 }), true);
  assert.equal(a.matchesFilter(x, { ...f, state: 'firing' }), true);
  assert.equal(a.matchesFilter(x, { ...f, state: 'resolved' }), false);
  assert.equal(a.matchesFilter(x, { ...f, rule: 'scanner' }), true);
  assert.equal(a.matchesFilter(x, { ...f, rule: 'scan' }), false, 'the rule exactly');
  assert.equal(a.matchesFilter(x, { ...f, severity: 'critical' }), false);
  assert.equal(a.matchesFilter(x, { ...f, key: ' example ' }), true);
  assert.equal(a.matchesFilter(x, { ...f, key: 'org' }), false);
});

test('history: an event replaces its row or comes first, newest first, at most limit', () => {
  const x = alert(100), y = alert(200), z = alert(300);
  const list = [z, y, x];
  const r = a.upsertAlert(list, resolved(y, 250), 10);
  assert.deepEqual(r.map((q) => [q.id, q.state]), [[z.id, 'firing'], [y.id, 'resolved'], [x.id, 'firing']]);
  assert.equal(list[1].state, 'firing', 'the input list stays');
  const w = alert(400);
  assert.deepEqual(a.upsertAlert(list, w, 3).map((q) => q.id), [w.id, z.id, y.id]);
  // Without ids: the row of the same rule, key and fired_at.
  const noId = { ...alert(500), id: 0 };
  const withNoId = a.upsertAlert(list, noId, 10);
  assert.equal(withNoId.length, 4);
  const again = a.upsertAlert(withNoId, resolved(noId, 600), 10);
  assert.deepEqual(again.map((q) => q.state), ['resolved', 'firing', 'firing', 'firing']);
  assert.equal(again.length, 4);
});

test('history under a filter: a resolved alert leaves a list of firing ones', () => {
  const f = { state: 'firing', rule: '', severity: '', key: '', fromMs: 0, toMs: 0 };
  const x = alert(100), y = alert(200);
  const list = a.applyToHistory([x], y, f, 10);
  assert.deepEqual(list.map((q) => q.id), [y.id, x.id]);
  assert.deepEqual(a.applyToHistory(list, resolved(x, 300), f, 10).map((q) => q.id), [y.id]);
  assert.deepEqual(a.applyToHistory(list, resolved(x, 300), { ...f, state: '' }, 10)
    .map((q) => [q.id, q.state]), [[y.id, 'firing'], [x.id, 'resolved']]);
  assert.equal(a.applyToHistory(list, alert(50, { rule: 'other' }), { ...f, rule: 'scanner' }, 10).length, 2);
});

test('ranges: presets end now, custom keeps its ends, all has none', () => {
  const now = 1_800_000_000_000;
  assert.deepEqual(a.rangeOf('hour', 0, 0, now), { fromMs: now - 3600e3, toMs: 0 });
  assert.deepEqual(a.rangeOf('week', 5, 6, now), { fromMs: now - 7 * 86400e3, toMs: 0 });
  assert.deepEqual(a.rangeOf('bogus', 0, 0, now), { fromMs: now - 86400e3, toMs: 0 });
  assert.deepEqual(a.rangeOf('all', 5, 6, now), { fromMs: 0, toMs: 0 });
  assert.deepEqual(a.rangeOf('custom', 5, 6, now), { fromMs: 5, toMs: 6 });
  assert.deepEqual(a.rangeOf('custom', 0, 0, now), { fromMs: 0, toMs: 0 });
});

test('timeline domain: the range, else from the oldest alert to now, at least a minute', () => {
  const now = 1_000_000e3;
  assert.deepEqual(a.timelineDomain([], 500e3, 900e3, now), [500e3, 900e3]);
  assert.deepEqual(a.timelineDomain([], 500e3, 0, now), [500e3, now]);
  assert.deepEqual(a.timelineDomain([alert(700), alert(800)], 0, 0, now), [700e3, now]);
  assert.deepEqual(a.timelineDomain([], 0, 0, now), [now - 3600e3, now]);
  assert.deepEqual(a.timelineDomain([alert(999_990)], 0, 0, now), [now - 60e3, now]);
});

test('timeline lanes: one per rule, worst first, segments cut to the domain', () => {
  const now = 10_000e3;
  const domain = [1000e3, 9000e3];
  const list = [
    resolved(alert(500, { rule: 'asr-low', severity: 'critical' }), 800),   // wholly before
    resolved(alert(900, { rule: 'asr-low', severity: 'warning' }), 1500),   // cut at the start
    alert(8000, { rule: 'asr-low', severity: 'critical' }),                   // firing: cut at the end
    resolved(alert(2000, { rule: 'scanner', severity: 'warning' }), 2600),
    resolved(alert(3000, { rule: 'scanner', severity: 'info', key: 'x' }), 3000),  // zero length
    alert(9500, { rule: 'later', severity: 'critical' }),                     // wholly after
    resolved(alert(4000, { rule: 'b-rule', severity: 'warning' }), 4100),
    alert(0, { rule: 'no-time' }),                                            // no fired_at
  ];
  const { lanes, hidden } = a.timelineLanes(list, domain, now);
  assert.equal(hidden, 0);
  assert.deepEqual(lanes.map((l) => [l.rule, l.severity, l.alerts]),
    [['asr-low', 'critical', 2], ['b-rule', 'warning', 1], ['scanner', 'warning', 2]]);
  assert.deepEqual(lanes[0].segments.map((s) => [s.from / 1e3, s.to / 1e3, s.severity, s.open]),
    [[1000, 1500, 'warning', false], [8000, 9000, 'critical', true]]);
  assert.deepEqual(lanes[2].segments.map((s) => [s.from / 1e3, s.to / 1e3, s.severity]),
    [[3000, 3000, 'info'], [2000, 2600, 'warning']], 'the worse drawn last, on top');
  const cut = a.timelineLanes(list, domain, now, 2);
  assert.deepEqual(cut.lanes.map((l) => l.rule), ['asr-low', 'b-rule']);
  assert.equal(cut.hidden, 1);
  assert.deepEqual(a.timelineLanes([], domain, now), { lanes: [], hidden: 0 });
});

test('zones: bad beyond the fire threshold, near between the thresholds', () => {
  const above = { fire: 10, resolve: 5, direction: 'above' };
  assert.deepEqual([0, 5, 5.1, 9.9, 10, 50].map((v) => a.zoneOf(v, above)),
    ['ok', 'ok', 'near', 'near', 'bad', 'bad']);
  const below = { fire: 40, resolve: 50, direction: 'below' };
  assert.deepEqual([0, 40, 40.1, 49.9, 50, 100].map((v) => a.zoneOf(v, below)),
    ['bad', 'bad', 'near', 'near', 'ok', 'ok']);
});

test('round tops', () => {
  assert.deepEqual([0.3, 1, 1.2, 2, 2.2, 3, 7, 10, 12.5, 50, 51, 0].map(a.niceCeil),
    [0.5, 1, 2, 2, 2.5, 5, 10, 10, 20, 50, 100, 1]);
});

test('gauges: scale, thresholds, bands and the worst value', () => {
  // A ratio where low is bad: 0 to 100 at most; bad below fire, near up to resolve.
  const asr = a.ruleGauge({ metric: 'asr', unit: '%', fire: 40, resolve: 50, direction: 'below',
    worst_value: 80 });
  assert.deepEqual([asr.lo, asr.hi, asr.fire, asr.resolve, asr.value, asr.zone],
    [0, 100, 0.4, 0.5, 0.8, 'ok']);
  assert.deepEqual([asr.bad, asr.near], [[0, 0.4], [0.4, 0.5]]);
  // A small percentage gets a small scale.
  const loss = a.ruleGauge({ metric: 'loss', unit: '%', fire: 4, resolve: 2, direction: 'above',
    worst_value: 1 });
  assert.deepEqual([loss.lo, loss.hi, loss.fire, loss.resolve, loss.value, loss.zone],
    [0, 5, 0.8, 0.4, 0.2, 'ok']);
  assert.deepEqual([loss.bad, loss.near], [[0.8, 1], [0.4, 0.8]]);
  // A count beyond its threshold: the scale grows with the value.
  const scan = a.ruleGauge({ metric: 'scanner', unit: '', fire: 10, resolve: 0, direction: 'above',
    worst_value: 30 });
  assert.deepEqual([scan.lo, scan.hi, scan.value, scan.zone], [0, 50, 0.6, 'bad']);
  // MOS: 1 to 4.5.
  const mos = a.ruleGauge({ metric: 'mos', unit: '', fire: 3.1, resolve: 3.6, direction: 'below',
    worst_value: 3.4 });
  assert.deepEqual([mos.lo, mos.hi, mos.zone], [1, 4.5, 'near']);
  assert.equal(mos.fire, 0.6);
  // No value (sipman serve): no marker, no zone.
  const none = a.ruleGauge({ metric: 'request_rate', unit: '/s', fire: 50, resolve: 25,
    direction: 'above', worst_value: null });
  assert.deepEqual([none.lo, none.hi, none.value, none.zone], [0, 100, null, null]);
  // A percentage above 100 (not expected) still fits.
  const over = a.ruleGauge({ metric: 'x', unit: '%', fire: 90, resolve: 80, direction: 'above',
    worst_value: 130 });
  assert.deepEqual([over.hi, over.value], [130, 1]);
  // Equal thresholds of 0: a scale all the same.
  const zero = a.ruleGauge({ metric: 'x', unit: '', fire: 0, resolve: 0, direction: 'above',
    worst_value: 0 });
  assert.deepEqual([zero.lo, zero.hi], [0, 1]);
});
