// The Alerts page's drawing: a card per alert firing, the timeline (a lane
// per rule, a bar per alert from when it fired to when it resolved), the
// history's rows (each expands to its details and evidence) and the rules
// with a gauge of their worst value now against their thresholds. The
// arithmetic is ../../alerts.ts'.
import { alertName, directionArrow, evidenceHref, evidenceKind, fireSign, firedFor, fmtAgo,
  fmtSpan, fmtValue, fmtWindow, keyHref, keyLabel, metricLabel, resolveSign, ruleGauge,
  Scale, thresholdText, TimelineLane, valueShort, valueText } from '../../alerts';
import { getCalls } from '../../api';
import { timeTicks } from '../../charts';
import type { Alert, AlertRule } from '../../types';
import { clear, fmtDateTime, h, nsToMs, s } from '../../util';

// Evidence items shown before "+N more".
const EVIDENCE_SHOWN = 8;

export const severityBadge = (severity: string) =>
  h('span', { class: `badge sev-${severity}` }, severity || '–');

export const stateBadge = (a: Pick<Alert, 'state'>) =>
  h('span', { class: `badge al-${a.state}` }, a.state);

// A Call-ID's link opens its call when the Calls page's search by Call-ID
// finds exactly one (the row id is what the call page needs), else the
// search; a click with a modifier key keeps the browser's own handling.
function openCallId(e: MouseEvent, callId: string, href: string): void {
  if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  getCalls({ call_id: callId, limit: 2 }).then((d) => {
    location.hash = d.calls.length === 1 ? `#/calls/${encodeURIComponent(String(d.calls[0].id))}`
      : href;
  }).catch(() => { location.hash = href; });
}

// One evidence item as a link: a Call-ID to its call, an IP address to
// its calls around the alert.
export function evidenceLink(item: string, alert: Alert): HTMLElement {
  const href = evidenceHref(item, alert);
  const kind = evidenceKind(item);
  return h('a', { class: `evidence mono ev-${kind}`, href, 'data-kind': kind,
    title: kind === 'ip' ? `calls from or to ${item} around this alert` : `call ${item}`,
    onclick: kind === 'call_id' ? (e: Event) => openCallId(e as MouseEvent, item, href) : null },
  item);
}

// The alert's evidence: the first EVIDENCE_SHOWN items, "+N more" for the
// rest; null for none.
export function evidenceList(alert: Alert, shown = EVIDENCE_SHOWN): HTMLElement | null {
  const ev = alert.evidence ?? [];
  if (!ev.length) return null;
  const list = h('span', { class: 'evidence-list' });
  const add = (items: string[]) => items.forEach((x) => list.append(evidenceLink(x, alert)));
  add(ev.slice(0, shown));
  if (ev.length > shown) {
    const more = h('button', { type: 'button', class: 'link more', onclick: () => {
      more.remove();
      add(ev.slice(shown));
    } }, `+${ev.length - shown} more`);
    list.append(more);
  }
  const what = ev.every((x) => evidenceKind(x) === 'ip') ? 'Sources' : 'Evidence';
  return h('div', { class: 'alert-evidence' }, h('span', { class: 'muted' }, `${what}: `), list);
}

// The key, linked to its calls when the Calls page can search by it.
export function keyCell(alert: Alert): HTMLElement {
  const href = keyHref(alert);
  const text = alert.by === 'all' ? 'all traffic' : alert.key || '–';
  return href ? h('a', { class: 'mono alert-key', href, title: `calls of this ${keyLabel(alert.by)}` }, text)
    : h('span', { class: alert.by === 'all' ? 'muted' : 'mono alert-key' }, text);
}

// An action taken, and what came of it.
function actionLine(alert: Alert): HTMLElement | null {
  if (!alert.action && !alert.action_result) return null;
  return h('div', { class: 'alert-action' }, h('span', { class: 'muted' }, 'Action: '),
    h('strong', {}, alert.action || '–'), alert.action_result ? ` — ${alert.action_result}` : '');
}

// A card of an alert firing now.
export function firingCard(alert: Alert, scale: Scale, nowMs: number): HTMLElement {
  const fired = nsToMs(alert.fired_at);
  return h('article', { class: `alert-card sev-${alert.severity}`, 'data-id': alert.id,
    'data-rule': alert.rule, 'data-key': alert.key },
  h('div', { class: 'alert-card-head' }, severityBadge(alert.severity),
    h('strong', { class: 'alert-rule' }, alert.rule),
    h('span', { class: 'muted' }, `${metricLabel(alert.kind)} · ${alert.category}`)),
  h('div', { class: 'alert-card-key' },
    alert.by === 'all' ? null : h('span', { class: 'muted' }, `${keyLabel(alert.by)}: `),
    keyCell(alert), alert.sensor ? h('span', { class: 'muted' }, ` · sensor ${alert.sensor}`) : null),
  h('div', { class: 'alert-card-value', title: valueText(alert, scale) },
    h('span', { class: 'alert-value' }, valueShort(alert, scale)),
    h('span', { class: 'muted' }, ` · ${thresholdText(alert, scale)}`)),
  h('div', { class: 'small' }, h('span', { class: 'muted' }, 'Firing for '),
    h('strong', {}, fmtSpan(firedFor(alert, nowMs))),
    h('span', { class: 'muted' }, `, since ${fmtDateTime(fired)}`)),
  evidenceList(alert), actionLine(alert));
}

// --- Timeline ------------------------------------------------------------

const LABEL_W = 150;
const LANE_H = 20;
const AXIS_H = 24;

// A lane per rule, a bar per alert from fired to resolved (to now while it
// fires, with an open end) in its severity's colour; a dashed line at now.
// Clicking a bar calls `onSelect` with its alert.
export class AlertTimeline {
  readonly el: HTMLElement;
  private readonly box = h('div', { class: 'chart-svg' });
  private readonly note = h('p', { class: 'muted small axis-note' });
  private lanes: TimelineLane[] = [];
  private domain: [number, number] = [0, 1];
  private nowMs = 0;

  constructor(private readonly onSelect: (a: Alert) => void) {
    this.el = h('figure', { class: 'chart alert-timeline', id: 'alert-timeline' },
      h('figcaption', {}, 'Alerts over the range, per rule'), this.box,
      h('div', { class: 'chart-legend' }, ['critical', 'warning', 'info'].map((sv) =>
        h('span', { class: 'legend-item' }, h('span', { class: `swatch sev-${sv}` }), sv)),
      h('span', { class: 'legend-item' }, 'a bar runs from firing to resolved; one that reaches the dashed line (now) still fires')),
      this.note);
    new ResizeObserver(() => this.render()).observe(this.box);
  }

  setData(lanes: TimelineLane[], hidden: number, domain: [number, number], nowMs: number,
    cut: boolean): void {
    this.lanes = lanes;
    this.domain = domain;
    this.nowMs = nowMs;
    const notes: string[] = [];
    if (hidden) notes.push(`${hidden} more rule${hidden === 1 ? '' : 's'} not shown.`);
    if (cut) notes.push('Only the alerts of the history below (its row limit) are drawn.');
    this.note.textContent = notes.join(' ');
    this.render();
  }

  private render(): void {
    const w = Math.max(320, this.box.clientWidth || 800);
    const lanes = this.lanes;
    const hgt = Math.max(1, lanes.length) * LANE_H + AXIS_H + 6;
    const [x0, x1] = this.domain;
    const iw = w - LABEL_W - 14;
    const X = (t: number) => LABEL_W + ((t - x0) / Math.max(1, x1 - x0)) * iw;
    const svg = s('svg', { width: w, height: hgt, role: 'img',
      'aria-label': `alerts per rule: ${lanes.length} rules` });
    const axisY = lanes.length * LANE_H + 4;
    for (const tick of timeTicks(x0, x1, Math.max(2, Math.floor(iw / 90)))) {
      const x = X(tick.at);
      svg.append(s('line', { x1: x, x2: x, y1: 2, y2: axisY, class: 'grid' }),
        s('text', { x, y: axisY + 16, 'text-anchor': 'middle', class: 'axis' }, tick.label));
    }
    svg.append(s('line', { x1: LABEL_W, x2: LABEL_W + iw, y1: axisY, y2: axisY, class: 'baseline' }));
    lanes.forEach((lane, i) => {
      const y = i * LANE_H + 4;
      const label = lane.rule.length > 22 ? `${lane.rule.slice(0, 21)}…` : lane.rule;
      svg.append(s('text', { x: LABEL_W - 8, y: y + LANE_H / 2 + 2, 'text-anchor': 'end',
        class: 'lane-label' }, s('title', {}, `${lane.rule}: ${lane.alerts} alert${lane.alerts === 1 ? '' : 's'}`),
      label));
      for (const sg of lane.segments) {
        const a = sg.alert;
        const bx = X(sg.from);
        const bw = Math.max(3, X(sg.to) - bx);
        const end = a.resolved_at > 0 ? `resolved ${fmtDateTime(nsToMs(a.resolved_at))}` : 'still firing';
        const seg = s('rect', { x: bx, y: y + 3, width: bw, height: LANE_H - 8, rx: 2,
          class: `seg sev-${sg.severity}${sg.open ? ' open' : ''}`, tabindex: 0, 'data-id': a.id },
        s('title', {}, `${alertName(a)} (${a.severity})\nfired ${fmtDateTime(nsToMs(a.fired_at))}, ` +
          `${end} (${fmtSpan(firedFor(a, this.nowMs))})`));
        seg.addEventListener('click', () => this.onSelect(a));
        seg.addEventListener('keydown', (e) => {
          if ((e as KeyboardEvent).key !== 'Enter') return;
          // onSelect moves the focus to the row's button, which must not
          // take this Enter as a press of its own.
          e.preventDefault();
          this.onSelect(a);
        });
        svg.append(seg);
      }
    });
    if (this.nowMs >= x0 && this.nowMs <= x1) {
      const x = X(this.nowMs);
      svg.append(s('line', { x1: x, x2: x, y1: 0, y2: axisY, class: 'now' }));
    }
    if (!lanes.length) {
      svg.append(s('text', { x: LABEL_W + iw / 2, y: axisY / 2 + 6, 'text-anchor': 'middle',
        class: 'empty' }, 'no alerts in this range'));
    }
    // A bar that had the focus keeps it over the redraw (every 30 s).
    const focused = this.box.contains(document.activeElement)
      ? (document.activeElement as Element).getAttribute('data-id') : null;
    clear(this.box);
    this.box.append(svg);
    if (focused) svg.querySelector<SVGElement>(`rect.seg[data-id="${focused}"]`)?.focus();
  }
}

// --- History -------------------------------------------------------------

export const HISTORY_COLUMNS = ['', 'Fired', 'Severity', 'Rule', 'Key', 'Value', 'State',
  'Evidence'];

// An alert's row and its details row (shown when expanded); `toggle`
// expands or folds it.
export function historyRows(alert: Alert, scale: Scale, nowMs: number, expanded: boolean,
  toggle: () => void): HTMLElement[] {
  const fired = nsToMs(alert.fired_at);
  const btn = h('button', { type: 'button', class: 'link expand', 'aria-expanded': expanded ? 'true' : 'false',
    'aria-label': `details of ${alertName(alert)}`, onclick: (e: Event) => { e.stopPropagation(); toggle(); } },
  expanded ? '▾' : '▸');
  const dur = fmtSpan(firedFor(alert, nowMs));
  const n = alert.evidence?.length ?? 0;
  const row = h('tr', { class: `clickable al-row sev-${alert.severity}`, 'data-id': alert.id,
    onclick: (e: Event) => { if (!(e.target as Element).closest('a, button')) toggle(); } },
  h('td', {}, btn),
  h('td', { class: 'nowrap', title: fmtAgo(fired, nowMs) }, fmtDateTime(fired)),
  h('td', {}, severityBadge(alert.severity)),
  h('td', {}, alert.rule, h('div', { class: 'sub' }, metricLabel(alert.kind))),
  h('td', { class: 'wrap' }, keyCell(alert)),
  h('td', { class: 'nowrap', title: valueText(alert, scale) }, valueShort(alert, scale),
    h('div', { class: 'sub' }, thresholdText(alert, scale))),
  h('td', { class: 'nowrap' }, stateBadge(alert),
    h('div', { class: 'sub' }, alert.state === 'firing' ? `for ${dur}` : `after ${dur}`)),
  h('td', { class: 'num' }, n ? String(n) : '–'));
  if (!expanded) return [row];
  const dl = h('dl', { class: 'cdr alert-details' });
  const item = (k: string, v: Node | string | null) => { if (v) dl.append(h('dt', {}, k), h('dd', {}, v)); };
  item('Metric', `${metricLabel(alert.kind)} (${alert.kind}), ${alert.category}`);
  item('Grouped by', keyLabel(alert.by));
  item('Fired', `${fmtDateTime(fired)} (${fmtAgo(fired, nowMs)})`);
  item('Resolved', alert.resolved_at > 0 ? `${fmtDateTime(nsToMs(alert.resolved_at))} (after ${dur})` : 'still firing');
  item('Value', valueText(alert, scale));
  item('Sensor', alert.sensor);
  item('Action', alert.action ? `${alert.action}${alert.action_result ? ` — ${alert.action_result}` : ''}`
    : alert.action_result);
  const ev = evidenceList(alert, 50);
  const details = h('tr', { class: 'al-details' }, h('td', {}),
    h('td', { colspan: HISTORY_COLUMNS.length - 1 }, dl, ev ?? h('p', { class: 'muted small' }, 'No evidence recorded.')));
  return [row, details];
}

// --- Rules -----------------------------------------------------------------

const GAUGE_W = 180;
const GAUGE_H = 30;

// A rule's worst value now on its scale: the bad band beyond the fire
// threshold (red), the band between the thresholds (amber), the fire
// threshold as a solid line and the resolve one dashed, the value as a dot
// in its zone's colour. Without a value the bands alone.
export function ruleGaugeSvg(rule: AlertRule, live: boolean): HTMLElement {
  const g = ruleGauge(rule);
  const pad = 6, iw = GAUGE_W - 2 * pad, ty = 8, th = 8;
  const X = (f: number) => pad + f * iw;
  const band = (r: [number, number], cls: string) => (r[1] > r[0]
    ? s('rect', { x: X(r[0]), y: ty, width: X(r[1]) - X(r[0]), height: th, class: cls }) : null);
  const svg = s('svg', { class: 'rule-gauge', width: GAUGE_W, height: GAUGE_H, role: 'img',
    'aria-label': g.value === null ? 'no value' : `worst value ${fmtValue(rule.worst_value, rule.unit)}` },
  s('rect', { x: pad, y: ty, width: iw, height: th, class: 'g-ok' }),
  band(g.near, 'g-near'), band(g.bad, 'g-bad'),
  s('line', { x1: X(g.resolve), x2: X(g.resolve), y1: ty - 3, y2: ty + th + 3, class: 'g-resolve' }),
  s('line', { x1: X(g.fire), x2: X(g.fire), y1: ty - 4, y2: ty + th + 4, class: 'g-fire' }),
  s('text', { x: pad, y: GAUGE_H - 1, class: 'g-tick' }, fmtValue(g.lo, rule.unit)),
  s('text', { x: GAUGE_W - pad, y: GAUGE_H - 1, 'text-anchor': 'end', class: 'g-tick' },
    fmtValue(g.hi, rule.unit)),
  g.value !== null ? s('circle', { cx: X(g.value), cy: ty + th / 2, r: 5, class: `g-value z-${g.zone}` }) : null);
  const title = `${live ? `worst now: ${fmtValue(rule.worst_value, rule.unit)}` +
    `${rule.worst_key ? ` (${rule.worst_key})` : ''}` : 'not measured in this process'}; fires at ` +
    `${fireSign(rule.direction)} ${fmtValue(rule.fire, rule.unit)}, resolves at ` +
    `${resolveSign(rule.direction)} ${fmtValue(rule.resolve, rule.unit)}`;
  const text = !live ? h('span', { class: 'muted small' }, 'not measured here')
    : rule.worst_value === null ? h('span', { class: 'muted small' }, 'no value yet')
      : h('span', { class: `small z-${g.zone}` }, fmtValue(rule.worst_value, rule.unit),
        rule.worst_key ? h('span', { class: 'muted' }, ` at ${rule.worst_key}`) : null);
  return h('div', { class: 'gauge-cell', title }, svg, h('div', { class: 'gauge-text' }, text));
}

export const RULE_COLUMNS = ['Rule', 'Metric', 'Window', 'Thresholds', 'Severity', 'Action',
  'Keys', 'Firing', 'Worst now'];

// A rule's row; its name filters the history by it (`ruleHref`).
export function ruleRow(rule: AlertRule, live: boolean, ruleHref: string): HTMLElement {
  const arrow = directionArrow(rule.direction);
  return h('tr', { class: rule.firing > 0 ? 'rule-firing' : '', 'data-rule': rule.name },
    h('td', {}, h('a', { href: ruleHref, title: 'show this rule\'s alerts' }, rule.name),
      rule.builtin ? h('span', { class: 'badge builtin', title: 'built in (docs/ALERTS.md)' }, 'built-in') : null,
      h('div', { class: 'sub' }, rule.category)),
    h('td', {}, metricLabel(rule.metric), h('div', { class: 'sub' }, `by ${keyLabel(rule.by)}`)),
    h('td', { class: 'nowrap' }, fmtWindow(rule.window_s),
      rule.min_samples > 1 ? h('div', { class: 'sub' }, `≥ ${rule.min_samples} samples`) : null),
    h('td', { class: 'nowrap' },
      h('span', { class: 'dir', title: rule.direction === 'below' ? 'low values are bad' : 'high values are bad' },
        `${arrow} `),
      `fire ${fireSign(rule.direction)} ${fmtValue(rule.fire, rule.unit)}`,
      h('div', { class: 'sub' }, `resolve ${resolveSign(rule.direction)} ${fmtValue(rule.resolve, rule.unit)}`)),
    h('td', {}, severityBadge(rule.severity)),
    h('td', {}, rule.action || h('span', { class: 'muted' }, 'none')),
    h('td', { class: 'num' }, live ? String(rule.keys) : '–'),
    h('td', { class: 'num' }, rule.firing > 0 ? h('strong', { class: `sev-text-${rule.severity}` }, String(rule.firing))
      : live ? '0' : '–'),
    h('td', { class: 'gauge-td' }, ruleGaugeSvg(rule, live)));
}
