// Alerts (#/alerts): the alerts firing now (a card each), the history with
// its filters in the address (range, state, severity, rule, key, rows) and
// a timeline of the range's alerts per rule, and the rules, each with a
// gauge of its worst value now against its thresholds. Sources: GET
// /api/v1/alerts, GET /api/v1/alerts/rules (types/alerts.ts) and the live
// stream's `alert` events (alert_stream.ts), which update the cards, the
// history, the timeline and the navigation's badge as alerts fire and
// resolve. The arithmetic is ../alerts.ts', the drawing alerts/draw.ts'.
import { setFiringCount } from '../alert_count';
import { AlertFilter, alertIdentity, applyToHistory, FiringSet, RANGES, rangeOf, scaleOf,
  SEVERITIES, timelineDomain, timelineLanes } from '../alerts';
import { AlertStream, StreamStatus } from '../alert_stream';
import { ApiError, apiTime, getAlertRules, getAlerts, Params } from '../api';
import type { Alert, AlertRule } from '../types';
import { clear, fmtDateTime, fromLocalInput, h, toLocalInput } from '../util';
import { AlertTimeline, firingCard, HISTORY_COLUMNS, historyRows, RULE_COLUMNS,
  ruleRow } from './alerts/draw';

// Alerts firing read at most; the history's row limits (the API's `limit`).
const FIRING_LIMIT = 200;
const LIMITS = ['50', '200', '500'];
const DEFAULT_LIMIT = '200';
const DEFAULT_RANGE = 'day';
// Relative times and the timeline's "now" are redrawn every REDRAW_MS; the
// rules read again every RULES_REFRESH_MS while a capture runs (their
// values move), and the alerts firing every DOWN_REFRESH_MS while the
// stream is down or no capture runs here.
const REDRAW_MS = 30000;
const RULES_REFRESH_MS = 15000;
const DOWN_REFRESH_MS = 15000;

// A history row's identity, for keeping it expanded across redraws.
const rowKey = (a: Alert) => (a.id > 0 ? `#${a.id}` : `${alertIdentity(a)}@${a.fired_at}`);

export function renderAlerts(root: HTMLElement, query: URLSearchParams): () => void {
  const q = (k: string) => query.get(k) ?? '';
  const shownHash = location.hash;
  const range = RANGES.some((r) => r[0] === q('range')) ? q('range') : DEFAULT_RANGE;
  const fromParam = Number(q('from')) || 0, toParam = Number(q('to')) || 0;
  const { fromMs, toMs } = rangeOf(range, fromParam, toParam, Date.now());
  const limitParam = String(Number(q('limit')) || Number(DEFAULT_LIMIT));
  const limit = Number(limitParam);
  const filter: AlertFilter = { state: q('state'), rule: q('rule'), severity: q('severity'),
    key: q('key'), fromMs, toMs };
  const ctl = new AbortController();
  let left = false;

  // --- The filter form (the address holds the search) ---------------------
  const field = (id: string, label: string, el: HTMLElement, cls = '') =>
    h('div', { class: `field ${cls}` }, h('label', { for: id }, label), el);
  const fRange = h('select', { id: 'af-range', name: 'range' },
    RANGES.map(([v, l]) => h('option', { value: v }, l)));
  fRange.value = range;
  const fFrom = h('input', { id: 'af-from', type: 'datetime-local',
    value: fromMs ? toLocalInput(fromMs) : '' });
  const fTo = h('input', { id: 'af-to', type: 'datetime-local', value: toMs ? toLocalInput(toMs) : '' });
  const fromField = field('af-from', 'From', fFrom), toField = field('af-to', 'To', fTo);
  const showCustom = () => {
    fromField.hidden = toField.hidden = fRange.value !== 'custom';
  };
  fRange.addEventListener('change', showCustom);
  showCustom();
  const fState = h('select', { id: 'af-state', name: 'state' }, h('option', { value: '' }, 'any'),
    h('option', { value: 'firing' }, 'firing'), h('option', { value: 'resolved' }, 'resolved'));
  fState.value = filter.state;
  const fSeverity = h('select', { id: 'af-severity', name: 'severity' },
    h('option', { value: '' }, 'any'), SEVERITIES.map((v) => h('option', { value: v }, v)));
  fSeverity.value = filter.severity;
  const ruleNames = h('datalist', { id: 'af-rule-names' });
  const fRule = h('input', { id: 'af-rule', name: 'rule', list: 'af-rule-names', value: filter.rule,
    placeholder: 'rule name', autocomplete: 'off' });
  const fKey = h('input', { id: 'af-key', name: 'key', value: filter.key,
    placeholder: 'e.g. 192.0.2.7, example.com' });
  const fLimit = h('select', { id: 'af-limit', name: 'limit' },
    [...new Set([...LIMITS, limitParam])].map((v) => h('option', { value: v }, v)));
  fLimit.value = limitParam;

  // The address of this search with some parameters changed.
  const hashWith = (p: Record<string, string>): string => {
    const cur: Record<string, string> = { range, from: range === 'custom' && fromParam ? String(fromParam) : '',
      to: range === 'custom' && toParam ? String(toParam) : '', state: filter.state,
      severity: filter.severity, rule: filter.rule, key: filter.key,
      limit: limitParam === DEFAULT_LIMIT ? '' : limitParam, ...p };
    if (cur.range === DEFAULT_RANGE) cur.range = '';
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(cur)) if (v) u.set(k, v);
    return `#/alerts${u.toString() ? `?${u}` : ''}`;
  };

  function go(): void {
    const custom = fRange.value === 'custom';
    const f = custom ? fromLocalInput(fFrom.value) : 0, t = custom ? fromLocalInput(fTo.value) : 0;
    const hash = hashWith({ range: fRange.value, from: f ? String(f) : '', to: t ? String(t) : '',
      state: fState.value, severity: fSeverity.value, rule: fRule.value.trim(),
      key: fKey.value.trim(), limit: fLimit.value === DEFAULT_LIMIT ? '' : fLimit.value });
    if (location.hash === hash) void loadHistory(); else location.hash = hash;
  }

  const form = h('form', { class: 'filters', role: 'search', id: 'alert-filters',
    onsubmit: (e: Event) => { e.preventDefault(); go(); } },
  field('af-range', 'Range', fRange), fromField, toField,
  field('af-state', 'State', fState), field('af-severity', 'Severity', fSeverity),
  field('af-rule', 'Rule', h('div', {}, fRule, ruleNames)), field('af-key', 'Key contains', fKey),
  field('af-limit', 'Rows', fLimit),
  h('div', { class: 'field actions' },
    h('button', { type: 'submit', class: 'primary', id: 'alert-search' }, 'Search'),
    h('button', { type: 'button', onclick: () => { location.hash = '#/alerts'; } }, 'Clear')));

  // --- Layout ------------------------------------------------------------------
  const statusEl = h('span', { class: 'live-status connecting', role: 'status' }, '● connecting…');
  const firingCount = h('span', { class: 'muted', id: 'firing-count' });
  const firingBox = h('div', { class: 'alert-cards', id: 'firing-alerts' },
    h('p', { class: 'muted' }, 'Loading…'));
  const rangeText = h('span', { class: 'muted', id: 'alert-range-text' },
    fromMs || toMs ? `${fromMs ? fmtDateTime(fromMs) : 'the start'} – ${toMs ? fmtDateTime(toMs) : 'now'}`
      : 'all stored alerts');
  const historyInfo = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const historyBody = h('tbody');
  const historyTable = h('table', { class: 'data compact', id: 'alert-history' },
    h('thead', {}, h('tr', {}, HISTORY_COLUMNS.map((c, i) => h('th', { scope: 'col',
      class: i === HISTORY_COLUMNS.length - 1 ? 'num' : '' }, c)))), historyBody);
  const expanded = new Set<string>();
  const timeline = new AlertTimeline((a) => {
    expanded.add(rowKey(a));
    drawHistory();
    const btn = historyBody.querySelector<HTMLElement>(`tr[data-id="${a.id}"] button.expand`);
    btn?.scrollIntoView({ block: 'center' });
    btn?.focus();
  });
  const rulesNote = h('div', {});
  const rulesBody = h('tbody', {}, h('tr', {}, h('td', { colspan: RULE_COLUMNS.length, class: 'muted' },
    'Loading…')));

  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Alerts'), statusEl),
    h('section', { class: 'card', id: 'alerts-firing' },
      h('div', { class: 'card-head' }, h('h2', {}, 'Firing now'), firingCount), firingBox),
    h('section', { class: 'card', id: 'alerts-history' },
      h('div', { class: 'card-head' }, h('h2', {}, 'History'), rangeText), form,
      timeline.el,
      h('div', { class: 'pager' }, historyInfo),
      h('div', { class: 'table-wrap' }, historyTable)),
    h('section', { class: 'card', id: 'alerts-rules' },
      h('h2', {}, 'Rules'), rulesNote,
      h('div', { class: 'table-wrap' }, h('table', { class: 'data compact', id: 'alert-rules' },
        h('thead', {}, h('tr', {}, RULE_COLUMNS.map((c) => h('th', { scope: 'col',
          class: c === 'Keys' || c === 'Firing' ? 'num' : '' }, c)))), rulesBody))));

  // --- State -------------------------------------------------------------------
  const firing = new FiringSet();
  let firingLoaded = false;
  // The history's rows, newest first.
  let listed: Alert[] = [];
  let rules: AlertRule[] = [];
  let live = false;
  const scale = (a: Alert) => scaleOf(a, rules);
  const errorText = (what: string, e: unknown) =>
    h('p', { class: 'error' }, `${what}: ${(e as Error).message}`);

  function drawFiring(): void {
    if (!firingLoaded) return;
    setFiringCount(firing.count, firing.severity);
    const list = firing.list();
    const now = Date.now();
    firingCount.textContent = firing.count > list.length
      ? `${firing.count} firing, the ${list.length} newest shown` : `${firing.count} firing`;
    clear(firingBox);
    firingBox.dataset.count = String(firing.count);
    if (!list.length) {
      firingBox.append(h('p', { class: 'all-clear' }, h('span', { 'aria-hidden': 'true' }, '✓ '),
        'No alert is firing.'));
    }
    for (const a of list) firingBox.append(firingCard(a, scale(a), now));
  }

  function drawTimeline(): void {
    const now = Date.now();
    const domain = timelineDomain(listed, fromMs, toMs, now);
    const { lanes, hidden } = timelineLanes(listed, domain, now);
    timeline.setData(lanes, hidden, domain, now, listed.length >= limit);
  }

  function drawHistory(): void {
    const now = Date.now();
    clear(historyBody);
    if (!listed.length) {
      historyBody.append(h('tr', {}, h('td', { colspan: HISTORY_COLUMNS.length, class: 'muted empty-row' },
        'No alerts match these filters.')));
    }
    for (const a of listed) {
      const k = rowKey(a);
      historyBody.append(...historyRows(a, scale(a), now, expanded.has(k), () => {
        if (expanded.has(k)) expanded.delete(k); else expanded.add(k);
        drawHistory();
        historyBody.querySelector<HTMLElement>(`tr[data-id="${a.id}"] button.expand`)?.focus();
      }));
    }
    historyInfo.textContent = listed.length >= limit
      ? `the newest ${listed.length} alerts (the row limit); narrow the filters for older ones`
      : `${listed.length} alert${listed.length === 1 ? '' : 's'}`;
    drawTimeline();
  }

  function drawRules(): void {
    clear(rulesNote);
    if (!live) {
      rulesNote.append(h('p', { class: 'notice' }, 'No capture runs in this process (',
        h('code', {}, 'sipman serve'), '): the rules are not measured here, so keys, firing ',
        'counts and values are empty; the alerts above are the ones stored.'));
    }
    clear(rulesBody);
    if (!rules.length) {
      rulesBody.append(h('tr', {}, h('td', { colspan: RULE_COLUMNS.length, class: 'muted' }, 'No rules.')));
    }
    // Rules firing first, otherwise in the server's order.
    const sorted = rules.map((r, i) => [r, i] as const)
      .sort((a, b) => +(b[0].firing > 0) - +(a[0].firing > 0) || a[1] - b[1]).map(([r]) => r);
    for (const r of sorted) rulesBody.append(ruleRow(r, live, hashWith({ rule: r.name })));
    clear(ruleNames);
    for (const r of rules) ruleNames.append(h('option', { value: r.name }));
  }

  // --- Reads -------------------------------------------------------------------
  let firingRead = 0;
  async function loadFiring(): Promise<void> {
    const read = ++firingRead;
    firing.beginRead();
    try {
      const d = await getAlerts({ state: 'firing', limit: FIRING_LIMIT }, ctl.signal);
      if (left || read !== firingRead) return;
      firing.reset(d);
      firingLoaded = true;
      drawFiring();
    } catch (e) {
      if (left || (e as Error).name === 'AbortError' || read !== firingRead) return;
      clear(firingBox);
      firingBox.append(errorText('Could not read the alerts firing', e));
    }
  }

  const historyParams = (): Params => ({ state: filter.state, rule: filter.rule,
    severity: filter.severity, key: filter.key, from: fromMs ? apiTime(fromMs) : null,
    to: toMs ? apiTime(toMs) : null, limit });
  let historyRead = 0;
  async function loadHistory(): Promise<void> {
    const read = ++historyRead;
    historyInfo.textContent = 'Loading…';
    delete historyTable.dataset.shows;
    try {
      const d = await getAlerts(historyParams(), ctl.signal);
      if (left || read !== historyRead) return;
      listed = d.alerts;
      drawHistory();
    } catch (e) {
      if (left || (e as Error).name === 'AbortError' || read !== historyRead) return;
      historyInfo.textContent = '';
      clear(historyBody);
      historyBody.append(h('tr', {}, h('td', { colspan: HISTORY_COLUMNS.length, class: 'error' },
        `Search failed: ${(e as ApiError).message}`)));
      listed = [];
      drawTimeline();
    }
    // data-shows names the search whose rows the table holds (for scripts
    // and tests, as on the Calls page).
    historyTable.dataset.shows = shownHash;
  }

  let rulesRead = 0;
  async function loadRules(): Promise<void> {
    const read = ++rulesRead;
    try {
      const d = await getAlertRules(ctl.signal);
      if (left || read !== rulesRead) return;
      // The cards and rows show values in their rule's unit and direction:
      // redrawn when those change (the first read), not at every refresh.
      const scales = (rs: AlertRule[]) => JSON.stringify(rs.map((r) => [r.name, r.unit, r.direction]));
      const rescaled = scales(d.rules) !== scales(rules);
      rules = d.rules;
      live = d.live;
      drawRules();
      if (rescaled) {
        drawFiring();
        drawHistory();
      }
    } catch (e) {
      if (left || (e as Error).name === 'AbortError' || read !== rulesRead) return;
      clear(rulesBody);
      rulesBody.append(h('tr', {}, h('td', { colspan: RULE_COLUMNS.length }, errorText('Could not read the rules', e))));
    }
  }

  // --- Live --------------------------------------------------------------------
  let opens = 0;
  let rulesTimer = 0;
  const stream = new AlertStream({
    alert: (a) => {
      if (firing.apply(a)) drawFiring();
      listed = applyToHistory(listed, a, filter, limit);
      drawHistory();
      // A rule's firing count and worst value changed: read the rules soon
      // (once for a burst of events).
      if (live && !rulesTimer) {
        rulesTimer = window.setTimeout(() => { rulesTimer = 0; void loadRules(); }, 1000);
      }
    },
    // Opened: the alerts firing are read again (events before the open are
    // lost), and on a reopen the history too.
    opened: () => {
      void loadFiring();
      if (opens++ > 0) void loadHistory();
    },
    status: (st: StreamStatus) => {
      statusEl.className = `live-status ${st === 'down' ? 'polling' : st}`;
      statusEl.textContent = st === 'live' ? '● live' : st === 'down'
        ? '● stream lost — reconnecting' : '● connecting…';
    },
  });

  void loadFiring();
  void loadHistory();
  void loadRules();
  stream.connect();
  const redraw = window.setInterval(() => {
    drawFiring();
    drawTimeline();
  }, REDRAW_MS);
  const rulesRefresh = window.setInterval(() => { if (live) void loadRules(); }, RULES_REFRESH_MS);
  // Without the stream, or without a capture here (`sipman serve` may send
  // no alert events), the alerts firing are polled.
  const downRefresh = window.setInterval(() => {
    if (stream.status !== 'live' || !live) void loadFiring();
  }, DOWN_REFRESH_MS);

  return () => {
    left = true;
    ctl.abort();
    stream.stop();
    window.clearInterval(redraw);
    window.clearInterval(rulesRefresh);
    window.clearInterval(downRefresh);
    window.clearTimeout(rulesTimer);
  };
}
