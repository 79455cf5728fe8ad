// Alerts without the DOM: severity order, values with their rule's unit
// and thresholds with its direction (an alert's value when it fired and,
// once resolved, when it resolved), evidence as IP addresses or Call-IDs
// and where they link, relative times, the set of alerts firing now as the
// live stream changes it, which alerts a filter shows, the lanes of the
// timeline and the geometry of a rule's gauge. Pure (no DOM, no clock of
// its own: every function that needs the time takes `nowMs`), so that
// tests/ui/alerts_test.sh can run it in Node. Drawn by pages/alerts.ts,
// pages/alerts/draw.ts and the dashboard's banner (pages/dashboard/banner.ts).
import type { Alert, AlertDirection, AlertKeyKind, AlertMetric, AlertRule, AlertSeverity,
  AlertsResponse } from './types';

// --- Severity -------------------------------------------------------------

// Most severe first.
export const SEVERITIES: AlertSeverity[] = ['critical', 'warning', 'info'];

// critical 3, warning 2, info 1, anything else 0.
export function severityRank(severity: string): number {
  const i = SEVERITIES.indexOf(severity as AlertSeverity);
  return i < 0 ? 0 : SEVERITIES.length - i;
}

type Sortable = Pick<Alert, 'id' | 'severity' | 'fired_at'>;

// The more severe first; at equal severity the newer, then the higher id.
export function compareAlerts(a: Sortable, b: Sortable): number {
  return severityRank(b.severity) - severityRank(a.severity) || b.fired_at - a.fired_at ||
    b.id - a.id;
}

// A sorted copy (compareAlerts).
export function bySeverity<T extends Sortable>(alerts: readonly T[]): T[] {
  return [...alerts].sort(compareAlerts);
}

// The highest severity among the alerts, '' for none.
export function worstSeverity(alerts: readonly Pick<Alert, 'severity'>[]): AlertSeverity | '' {
  let best: AlertSeverity | '' = '';
  for (const a of alerts) {
    if (severityRank(a.severity) > severityRank(best)) best = a.severity;
  }
  return best;
}

// --- Metrics, units and directions ----------------------------------------

// What each metric is called on the page.
export const METRIC_LABELS: Record<AlertMetric, string> = {
  asr: 'ASR', ner: 'NER', pdd_p95: 'post-dial delay p95', status_share: 'status share',
  mos: 'MOS', loss: 'RTP loss', one_way_share: 'one-way share',
  register_failures: 'REGISTER failures', request_rate: 'request rate',
  not_found_share: '404 share', scanner: 'scanner requests', malformed: 'malformed messages',
  concurrent_calls: 'concurrent calls', prefix_calls: 'calls to prefixes',
  off_hours_calls: 'off-hours calls', short_calls: 'short calls', kernel_drops: 'capture drops',
  sensor_silent: 'sensor silent', store_spill: 'rows spilled',
};

// Each metric's unit and bad direction (src/alerts/alerts.h), for an alert
// whose rule the rule list does not hold (a rule since removed, or the list
// not read).
const METRIC_UNITS: Record<AlertMetric, string> = {
  asr: '%', ner: '%', pdd_p95: 'ms', status_share: '%', mos: '', loss: '%', one_way_share: '%',
  register_failures: '', request_rate: '/s', not_found_share: '%', scanner: '', malformed: '',
  concurrent_calls: '', prefix_calls: '', off_hours_calls: '', short_calls: '', kernel_drops: '',
  sensor_silent: 's', store_spill: '',
};
const BAD_BELOW = new Set<string>(['asr', 'ner', 'mos']);

export const KEY_LABELS: Record<AlertKeyKind, string> = {
  all: 'all traffic', src_ip: 'source IP', dst_ip: 'destination IP', ip_pair: 'IP pair',
  sensor: 'sensor', caller: 'caller', callee: 'callee', callee_domain: 'callee domain',
  callee_prefix: 'callee prefix',
};

export const metricLabel = (metric: string) =>
  METRIC_LABELS[metric as AlertMetric] ?? metric.replace(/_/g, ' ');
export const keyLabel = (by: string) => KEY_LABELS[by as AlertKeyKind] ?? by.replace(/_/g, ' ');

// How an alert's numbers read: its rule's unit and bad direction.
export interface Scale {
  unit: string;
  direction: AlertDirection;
}

type RuleScale = Pick<AlertRule, 'name' | 'unit' | 'direction'>;

// The scale of an alert: its rule's, when the list holds the rule, else
// its metric's.
export function scaleOf(alert: Pick<Alert, 'rule' | 'kind'>, rules: readonly RuleScale[] = []):
  Scale {
  const r = rules.find((x) => x.name === alert.rule);
  if (r) return { unit: r.unit, direction: r.direction };
  return { unit: METRIC_UNITS[alert.kind] ?? '', direction: BAD_BELOW.has(alert.kind) ? 'below' : 'above' };
}

// A number as people read it: "40", "12.5", "3.61", "0.25", "4,200".
export function fmtNumber(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  let t = v.toFixed(digits);
  if (t.includes('.')) t = t.replace(/0+$/, '').replace(/\.$/, '');
  if (t === '-0') t = '0';
  const [int, frac] = t.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+$)/g, ',');
  return frac ? `${grouped}.${frac}` : grouped;
}

// Seconds as "45 s", "5 min", "5 min 12 s", "2 h 5 min", "3 d 4 h".
export function fmtSeconds(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) < 120) return `${fmtNumber(v)} s`;
  const t = Math.round(v);
  const d = Math.floor(t / 86400), hh = Math.floor((t % 86400) / 3600);
  const mm = Math.floor((t % 3600) / 60), ss = t % 60;
  if (d) return hh ? `${d} d ${hh} h` : `${d} d`;
  if (hh) return mm ? `${hh} h ${mm} min` : `${hh} h`;
  return ss ? `${mm} min ${ss} s` : `${mm} min`;
}

// A value or threshold with its unit: "12.5 %", "4,200 ms", "3.2/s",
// "5 min", "3.61"; "–" for none.
export function fmtValue(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  switch (unit) {
    case '': return fmtNumber(v);
    case 's': return fmtSeconds(v);
    case '/s': return `${fmtNumber(v)}/s`;
    default: return `${fmtNumber(v)} ${unit}`;
  }
}

// A rule fires at its threshold or beyond, and resolves at its resolve
// threshold or back (src/alerts/alerts.h).
export const fireSign = (d: AlertDirection) => (d === 'below' ? '≤' : '≥');
export const resolveSign = (d: AlertDirection) => (d === 'below' ? '≥' : '≤');
// Which way is bad: ↑ above, ↓ below.
export const directionArrow = (d: AlertDirection) => (d === 'below' ? '↓' : '↑');

// An alert's figures (src/alerts/alerts.h, struct Alert): `value` and
// `threshold` as it fired, `resolved_value` once it resolved, and the
// rule's `resolve_threshold` (in firing alerts too).
type AlertFigures = Pick<Alert, 'state' | 'value' | 'threshold' | 'resolved_value' |
  'resolve_threshold'>;

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

// "≥ 40 %": a threshold with the sign of its side.
const fireAt = (a: Pick<Alert, 'threshold'>, s: Scale) =>
  `${fireSign(s.direction)} ${fmtValue(a.threshold, s.unit)}`;
const resolveAt = (a: Pick<Alert, 'resolve_threshold'>, s: Scale) =>
  `${resolveSign(s.direction)} ${fmtValue(a.resolve_threshold, s.unit)}`;

// Whether a resolved alert's value came back past its resolve threshold.
// An alert also resolves when its key's window empties (the value of an
// empty window, 0) or its key is evicted (the value it fired with): for
// those the value may lie on the other side, and is not worth showing.
export function resolvedPast(alert: Pick<Alert, 'resolved_value' | 'resolve_threshold'>,
  direction: AlertDirection): boolean {
  const v = alert.resolved_value, t = alert.resolve_threshold;
  if (!isNumber(v) || !isNumber(t)) return false;
  return direction === 'below' ? v >= t : v <= t;
}

// The thresholds, under an alert's value: "fires at ≤ 40 %, resolves at
// ≥ 80 %" while it fires; "fired at ≤ 40 %, resolved at ≥ 80 %" once
// resolved ("resolved: window empty or key evicted" when its value did not
// come back). Without a resolve threshold (an older server) the fire
// threshold alone.
export function thresholdText(alert: AlertFigures, scale: Scale): string {
  const hasResolve = isNumber(alert.resolve_threshold);
  if (alert.state !== 'resolved') {
    return `fires at ${fireAt(alert, scale)}` +
      (hasResolve ? `, resolves at ${resolveAt(alert, scale)}` : '');
  }
  if (!resolvedPast(alert, scale.direction)) {
    return `fired at ${fireAt(alert, scale)}, resolved: window empty or key evicted`;
  }
  return `fired at ${fireAt(alert, scale)}, resolved at ${resolveAt(alert, scale)}`;
}

// An alert's value in short: "31.5 %" while it fires, "31.5 % → 88 %"
// once resolved ("31.5 % → –" when its value did not come back).
export function valueShort(alert: AlertFigures, scale: Scale): string {
  const fired = fmtValue(alert.value, scale.unit);
  if (alert.state !== 'resolved') return fired;
  return `${fired} → ${resolvedPast(alert, scale.direction)
    ? fmtValue(alert.resolved_value, scale.unit) : '–'}`;
}

// An alert's value against its thresholds in one line: "31.5 % · fires at
// ≤ 40 %, resolves at ≥ 80 %" while it fires; "fired at 31.5 % (≤ 40 %) ·
// resolved at 88 % (≥ 80 %)" once resolved.
export function valueText(alert: AlertFigures, scale: Scale): string {
  if (alert.state !== 'resolved') {
    return `${fmtValue(alert.value, scale.unit)} · ${thresholdText(alert, scale)}`;
  }
  const fired = `fired at ${fmtValue(alert.value, scale.unit)} (${fireAt(alert, scale)})`;
  return resolvedPast(alert, scale.direction)
    ? `${fired} · resolved at ${fmtValue(alert.resolved_value, scale.unit)} (${resolveAt(alert, scale)})`
    : `${fired} · resolved with its window empty or its key evicted`;
}

// A rule's window: "30 s", "1 min", "5 min", "1 h", "90 s".
export function fmtWindow(seconds: number): string {
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${fmtNumber(seconds)} s`;
}

// What an alert is about: the rule and its key ("scanner · 192.0.2.7"); a
// rule over all traffic has the rule alone.
export function alertName(alert: Pick<Alert, 'rule' | 'by' | 'key'>): string {
  return alert.by === 'all' || !alert.key ? alert.rule : `${alert.rule} · ${alert.key}`;
}

// --- Evidence and links ---------------------------------------------------

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

// Whether the text is an IPv4 address (dotted quad) or an IPv6 address
// (hex groups, at most one "::", an IPv4 tail, a "%zone"), optionally in
// brackets.
export function isIpAddress(text: string): boolean {
  let t = text.trim();
  if (IPV4.test(t)) return true;
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1);
  t = t.replace(/%[0-9A-Za-z_.-]+$/, '');
  if (!t.includes(':')) return false;
  const last = t.slice(t.lastIndexOf(':') + 1);
  if (last.includes('.')) {
    if (!IPV4.test(last)) return false;
    t = `${t.slice(0, t.lastIndexOf(':') + 1)}0:0`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return false;
  const part = (p: string) => (p === '' ? [] : p.split(':'));
  const head = part(halves[0]), tail = halves.length === 2 ? part(halves[1]) : [];
  const all = [...head, ...tail];
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? all.length < 8 : all.length === 8;
}

export type EvidenceKind = 'ip' | 'call_id';

// An evidence item is a Call-ID unless it is an IP address.
export const evidenceKind = (item: string): EvidenceKind => (isIpAddress(item) ? 'ip' : 'call_id');

// A calls search (#/calls?...), its parameters as the Calls page reads
// them from its address.
export function callsHref(params: Record<string, string | number>): string {
  const q = Object.entries(params).filter(([, v]) => v !== '' && v !== 0)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
  return `#/calls?${q.join('&')}`;
}

// The calls an evidence item names: an IP address's calls from an hour
// before the alert fired to an hour after it resolved (no end while it
// fires); a Call-ID's call (the Calls page's Call-ID search; the alerts
// page opens the call itself when the search finds one).
export function evidenceHref(item: string, alert?: Pick<Alert, 'fired_at' | 'resolved_at'>): string {
  if (evidenceKind(item) === 'call_id') return callsHref({ call_id: item });
  const p: Record<string, string | number> = { ip: item.replace(/^\[(.*)\]$/, '$1') };
  if (alert) {
    if (alert.fired_at > 0) p.from = Math.floor(alert.fired_at / 1e6 - 3600e3);
    if (alert.resolved_at > 0) p.to = Math.ceil(alert.resolved_at / 1e6 + 3600e3);
  }
  return callsHref(p);
}

// The calls of an alert's key, when the Calls page can search by it: an
// address key (by source or destination IP), a caller or callee (a prefix
// search there), a sensor. null for the others.
export function keyHref(alert: Pick<Alert, 'by' | 'key' | 'fired_at' | 'resolved_at'>): string | null {
  const k = alert.key;
  if (!k) return null;
  switch (alert.by) {
    case 'src_ip': case 'dst_ip': return isIpAddress(k) ? evidenceHref(k, alert) : null;
    case 'caller': return callsHref({ caller: k });
    case 'callee': case 'callee_prefix': return callsHref({ callee: k });
    case 'sensor': return callsHref({ sensor: k });
    default: return null;
  }
}

// --- Times ------------------------------------------------------------------

// A span of ms as "42 s", "12 min", "3 h 5 min", "2 d 4 h".
export function fmtSpan(ms: number): string {
  const sec = Math.max(0, Math.floor(ms / 1000));
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min`;
  return fmtSeconds(Math.floor(sec / 60) * 60);
}

// How long ago `ms` was: "just now" (under 5 s, or in the future), else
// "12 min ago".
export function fmtAgo(ms: number, nowMs: number): string {
  const d = nowMs - ms;
  return d < 5000 ? 'just now' : `${fmtSpan(d)} ago`;
}

// How long an alert fired: to its resolution, or to now while it fires.
export function firedFor(alert: Pick<Alert, 'fired_at' | 'resolved_at'>, nowMs: number): number {
  const end = alert.resolved_at > 0 ? alert.resolved_at / 1e6 : nowMs;
  return Math.max(0, end - alert.fired_at / 1e6);
}

// --- The alerts firing now ---------------------------------------------------

// An alert's identity across its events: a rule fires at most once per key
// at a time, whatever ids the events carry.
export const alertIdentity = (a: Pick<Alert, 'rule' | 'key'>) => `${a.rule}\u0000${a.key}`;

// The alerts firing now: read from GET /alerts?state=firing, then kept up
// to date by the stream's `alert` events. The answer's `firing` may count
// more alerts than its page listed: those are counted as `unlisted`, and a
// resolution of an alert not listed takes one of them off. Events that
// come while a read is under way (beginRead) are applied again on top of
// its answer, which may predate them.
export class FiringSet {
  private readonly byIdentity = new Map<string, Alert>();
  private unlisted = 0;
  private replay: Alert[] | null = null;

  // A read of GET /alerts?state=firing starts (the page drops the answers
  // of reads started before the last one).
  beginRead(): void {
    if (!this.replay) this.replay = [];
  }

  // The answer of GET /alerts?state=firing (its resolved rows, if any, are
  // left out), then the events since the read began.
  reset(answer: AlertsResponse): void {
    this.byIdentity.clear();
    for (const a of answer.alerts) if (a.state === 'firing') this.byIdentity.set(alertIdentity(a), a);
    this.unlisted = Math.max(0, answer.firing - this.byIdentity.size);
    const replay = this.replay ?? [];
    this.replay = null;
    for (const a of replay) this.applyOne(a);
  }

  // A stream event; whether the set changed. An event older than the alert
  // held for its rule and key is dropped.
  apply(alert: Alert): boolean {
    this.replay?.push(alert);
    return this.applyOne(alert);
  }

  private applyOne(alert: Alert): boolean {
    const id = alertIdentity(alert);
    const held = this.byIdentity.get(id);
    if (alert.state === 'firing') {
      if (held && held.fired_at > alert.fired_at) return false;
      this.byIdentity.set(id, alert);
      return true;
    }
    if (held) {
      if (held.fired_at > alert.fired_at) return false;
      this.byIdentity.delete(id);
      return true;
    }
    if (this.unlisted > 0) {
      this.unlisted -= 1;
      return true;
    }
    return false;
  }

  get count(): number {
    return this.byIdentity.size + this.unlisted;
  }

  // The alerts held, most severe first (compareAlerts).
  list(): Alert[] {
    return bySeverity([...this.byIdentity.values()]);
  }

  get severity(): AlertSeverity | '' {
    return worstSeverity([...this.byIdentity.values()]);
  }
}

// The dashboard banner's text: "3 alerts firing" and the `named` most
// severe alerts; null when none fires.
export interface BannerSummary {
  count: number;
  severity: AlertSeverity | '';
  title: string;
  named: Alert[];
}

// A banner item's tooltip: "scanner · 192.0.2.7: 12 · fires at ≥ 10,
// resolves at ≤ 0", on its metric's scale (the banner reads no rules).
export const bannerItemTitle = (a: Alert) => `${alertName(a)}: ${valueText(a, scaleOf(a))}`;

export function bannerSummary(firing: FiringSet, named = 2): BannerSummary | null {
  const count = firing.count;
  if (count <= 0) return null;
  return { count, severity: firing.severity, title: `${count} alert${count === 1 ? '' : 's'} firing`,
    named: firing.list().slice(0, named) };
}

// --- History -------------------------------------------------------------------

// The history's filter as the page sends it to GET /alerts; times in ms,
// 0 for an open bound.
export interface AlertFilter {
  state: string;
  rule: string;
  severity: string;
  key: string;
  fromMs: number;
  toMs: number;
}

// Whether an alert from the stream belongs in a history read with this
// filter: fired in [from, to), of the state, rule and severity chosen, its
// key holding the key text (case-insensitive).
export function matchesFilter(a: Alert, f: AlertFilter): boolean {
  const fired = a.fired_at / 1e6;
  if (f.fromMs && fired < f.fromMs) return false;
  if (f.toMs && fired >= f.toMs) return false;
  if (f.state && a.state !== f.state) return false;
  if (f.rule && a.rule !== f.rule) return false;
  if (f.severity && a.severity !== f.severity) return false;
  if (f.key && !a.key.toLowerCase().includes(f.key.trim().toLowerCase())) return false;
  return true;
}

// The history after a stream event: the event's row updated or added when
// the alert matches the filter (upsertAlert), else its row, if shown,
// removed (an alert that resolved under a filter of firing ones).
export function applyToHistory(list: readonly Alert[], alert: Alert, filter: AlertFilter,
  limit: number): Alert[] {
  if (matchesFilter(alert, filter)) return upsertAlert(list, alert, limit);
  return list.filter((r) => !sameRow(r, alert));
}

// Whether two rows are one alert: the same id, or without ids the same
// rule, key and fired_at.
function sameRow(r: Alert, alert: Alert): boolean {
  return alert.id > 0 && r.id > 0 ? r.id === alert.id
    : alertIdentity(r) === alertIdentity(alert) && r.fired_at === alert.fired_at;
}

// The history with a stream event in it, newest first: the event replaces
// the row of the same id (an alert that resolved; with id 0, the row of
// the same rule, key and fired_at), else it comes first; at most `limit`
// rows. The input list is left as it is.
export function upsertAlert(list: readonly Alert[], alert: Alert, limit: number): Alert[] {
  const out = list.filter((r) => !sameRow(r, alert));
  out.push(alert);
  out.sort((a, b) => b.fired_at - a.fired_at || b.id - a.id);
  return out.slice(0, Math.max(1, limit));
}

// The ranges the page offers, and their length in ms (0: no bound).
export const RANGES: [string, string, number][] = [
  ['hour', 'Last hour', 3600e3], ['day', 'Last 24 hours', 86400e3],
  ['week', 'Last 7 days', 7 * 86400e3], ['month', 'Last 30 days', 30 * 86400e3],
  ['all', 'All', 0], ['custom', 'Custom', 0],
];

// The range of the page's address: a preset up to now, a custom from/to
// (ms, 0 for an open end), or none ("all"). An unknown preset is "day".
export function rangeOf(range: string, fromParam: number, toParam: number, nowMs: number):
  { fromMs: number; toMs: number } {
  if (range === 'custom') return { fromMs: fromParam || 0, toMs: toParam || 0 };
  if (range === 'all') return { fromMs: 0, toMs: 0 };
  const def = RANGES.find((r) => r[0] === range && r[2]) ?? RANGES[1];
  return { fromMs: nowMs - def[2], toMs: 0 };
}

// --- Timeline --------------------------------------------------------------------

// One alert on the timeline, from when it fired to when it resolved (now
// while it fires), cut to the domain.
export interface TimelineSegment {
  from: number;   // ms
  to: number;
  severity: AlertSeverity;
  open: boolean;  // still firing
  alert: Alert;
}

// A lane: one rule, its alerts' segments, its worst severity.
export interface TimelineLane {
  rule: string;
  severity: AlertSeverity | '';
  segments: TimelineSegment[];
  alerts: number;
}

// The timeline's x domain (ms): the range chosen, or from the oldest alert
// (an hour back when none) to the newest time (now, or the range's end);
// at least a minute wide.
export function timelineDomain(alerts: readonly Pick<Alert, 'fired_at'>[], fromMs: number,
  toMs: number, nowMs: number): [number, number] {
  const end = toMs || nowMs;
  let start = fromMs;
  if (!start) {
    const oldest = alerts.reduce((m, a) => (a.fired_at > 0 ? Math.min(m, a.fired_at / 1e6) : m),
      Infinity);
    start = Number.isFinite(oldest) ? oldest : end - 3600e3;
  }
  if (end - start < 60e3) start = end - 60e3;
  return [start, end];
}

// The lanes of the alerts in the domain: one per rule, the rules with a
// worse severity first, then by name; past `maxLanes` the rest are counted
// in `hidden`. An alert's segment runs from fired_at to resolved_at (to
// now while firing), cut to the domain; alerts wholly outside are left out.
export function timelineLanes(alerts: readonly Alert[], domain: [number, number], nowMs: number,
  maxLanes = 12): { lanes: TimelineLane[]; hidden: number } {
  const [d0, d1] = domain;
  const lanes = new Map<string, TimelineLane>();
  for (const a of alerts) {
    if (!(a.fired_at > 0)) continue;
    const open = a.state === 'firing';
    const start = a.fired_at / 1e6;
    const end = open ? Math.max(start, nowMs) : a.resolved_at > 0 ? a.resolved_at / 1e6 : start;
    if (end < d0 || start > d1) continue;
    let lane = lanes.get(a.rule);
    if (!lane) {
      lane = { rule: a.rule, severity: '', segments: [], alerts: 0 };
      lanes.set(a.rule, lane);
    }
    lane.segments.push({ from: Math.max(d0, start), to: Math.min(d1, end), severity: a.severity,
      open, alert: a });
    lane.alerts += 1;
    if (severityRank(a.severity) > severityRank(lane.severity)) lane.severity = a.severity;
  }
  const sorted = [...lanes.values()].sort((a, b) =>
    severityRank(b.severity) - severityRank(a.severity) || (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
  // Within a lane, the less severe first, so that the worse draw on top.
  for (const l of sorted) {
    l.segments.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || a.from - b.from);
  }
  return { lanes: sorted.slice(0, maxLanes), hidden: Math.max(0, sorted.length - maxLanes) };
}

// --- A rule's gauge ------------------------------------------------------------------

export type Zone = 'ok' | 'near' | 'bad';

// Where a value stands for a rule: past its fire threshold (bad), between
// the resolve and fire thresholds (near: an alert that fired stays until
// it is back past the resolve one), or fine.
export function zoneOf(value: number, rule: Pick<AlertRule, 'fire' | 'resolve' | 'direction'>): Zone {
  if (rule.direction === 'below') {
    return value <= rule.fire ? 'bad' : value < rule.resolve ? 'near' : 'ok';
  }
  return value >= rule.fire ? 'bad' : value > rule.resolve ? 'near' : 'ok';
}

// The smallest of 1, 2, 2.5, 5 times a power of ten at or above v (v > 0).
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v * (1 - 1e-12)) return m * e;
  return 10 * e;
}

// A rule's gauge on [lo, hi]: the positions (0..1) of its thresholds and
// worst value, the bad band (beyond the fire threshold) and the near band
// (between the two thresholds), and the zone of the value. The scale: MOS
// 1 to 4.5; percentages 0 to a round top at most 100; anything else 0 to a
// round top a quarter above the largest of the thresholds and the value.
export interface Gauge {
  lo: number;
  hi: number;
  fire: number;
  resolve: number;
  value: number | null;
  bad: [number, number];
  near: [number, number];
  zone: Zone | null;   // null without a value
}

export function ruleGauge(rule: Pick<AlertRule, 'metric' | 'unit' | 'fire' | 'resolve' |
  'direction' | 'worst_value'>): Gauge {
  const v = rule.worst_value;
  const has = v !== null && Number.isFinite(v);
  const values = [rule.fire, rule.resolve, ...(has ? [v as number] : [])];
  const top = Math.max(...values);
  let lo = Math.min(0, ...values);
  let hi: number;
  if (rule.metric === 'mos') {
    lo = Math.min(1, ...values);
    hi = Math.max(4.5, top);
  } else if (rule.unit === '%') {
    hi = Math.min(100, niceCeil(top * 1.25));
    if (hi < top) hi = top;
  } else {
    hi = niceCeil(top * 1.25);
  }
  if (hi <= lo) hi = lo + 1;
  const at = (x: number) => Math.min(1, Math.max(0, (x - lo) / (hi - lo)));
  const fire = at(rule.fire), resolve = at(rule.resolve);
  const below = rule.direction === 'below';
  return {
    lo, hi, fire, resolve,
    value: has ? at(v as number) : null,
    bad: below ? [0, fire] : [fire, 1],
    near: below ? [fire, resolve] : [resolve, fire],
    zone: has ? zoneOf(v as number, rule) : null,
  };
}
