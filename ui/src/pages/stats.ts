// Statistics for a chosen range: calls per period, traffic per period, the
// duration histogram and percentiles, the RFC 6076 ratios, response codes,
// calls per state, and the top callers, callees, IPs and user agents. Each
// chart has its table beside it. Sources: /api/v1/stats/{summary,periods,
// traffic,top}; field names are those of src/store/analytics.h.
import { ApiError, apiGet, apiTime, Params } from '../api';
import { BarChart, LineChart } from '../charts';
import { normTraffic } from './dashboard';
import { asArray, clear, fmtBytes, fmtDateTime, fmtDuration, fmtMs, fmtNum, fmtPct, fromLocalInput, h,
  STATE_LABELS, toLocalInput, toMs } from '../util';

type Obj = Record<string, unknown>;

const RANGES: [string, string, number][] = [
  ['hour', 'Last hour', 3600e3], ['day', 'Last day', 86400e3], ['week', 'Last week', 7 * 86400e3],
  ['all', 'All', 0], ['custom', 'Custom', 0],
];

const RATIOS: [string, string, string][] = [
  ['asr', 'ASR', 'Answer-seizure ratio: answered calls / all calls'],
  ['ner', 'NER', 'Network effectiveness ratio: answered or user-busy/no-answer / all calls'],
  ['ser', 'SER', 'Session establishment ratio (RFC 6076): 200 / (INVITEs − 3xx)'],
  ['seer', 'SEER', 'Session establishment effectiveness ratio (RFC 6076): 200, 480, 486, 600, 603 / (INVITEs − 3xx)'],
  ['isa', 'ISA', 'Ineffective session attempts (RFC 6076): 408, 500, 503, 504 / INVITEs'],
  ['scr', 'SCR', 'Session completion ratio (RFC 6076): completed (answered, then BYE) / INVITEs'],
];

function pair(chart: HTMLElement, table: HTMLElement, title: string, id: string): HTMLElement {
  return h('section', { class: 'card', id },
    h('h2', {}, title), h('div', { class: 'pair' }, h('div', { class: 'pair-chart' }, chart),
      h('div', { class: 'pair-table' }, table)));
}

function simpleTable(head: string[], rows: (string | HTMLElement)[][], cls = ''): HTMLElement {
  return h('div', { class: `table-wrap ${cls}` }, h('table', { class: 'data compact' },
    h('thead', {}, h('tr', {}, head.map((x, i) => h('th', { scope: 'col', class: i ? 'num' : '' }, x)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {}, r.map((c, i) =>
      h('td', { class: i ? 'num' : '' }, c))))
      : h('tr', {}, h('td', { colspan: head.length, class: 'muted' }, 'none')))));
}

function bucketLabel(b: Obj): string {
  const unit = (ms: number) => (ms >= 3600e3 ? 'h' : ms >= 60e3 ? 'min' : 's');
  const val = (ms: number) => (ms >= 3600e3 ? ms / 3600e3 : ms >= 60e3 ? ms / 60e3 : ms / 1e3);
  const lo = Number(b.lower_ms ?? 0), up = Number(b.upper_ms ?? -1);
  if (up < 0 || b.upper_ms === null) return `≥ ${val(lo)} ${unit(lo)}`;
  if (lo === 0) return `< ${val(up)} ${unit(up)}`;
  return unit(lo) === unit(up) ? `${val(lo)}–${val(up)} ${unit(up)}` : `${val(lo)} ${unit(lo)}–${val(up)} ${unit(up)}`;
}

export function renderStats(root: HTMLElement, query: URLSearchParams): () => void {
  const ctl = new AbortController();
  const range = query.get('range') ?? 'day';
  const now = Date.now();
  let from = 0, to = 0;
  const def = RANGES.find((r) => r[0] === range);
  if (range === 'custom') {
    from = Number(query.get('from')) || now - 86400e3;
    to = Number(query.get('to')) || now;
  } else if (def && def[2]) {
    from = now - def[2];
    to = now;
  }
  const span = to && from ? to - from : 0;
  const by = query.get('by') ?? (span && span <= 2 * 86400e3 ? 'hour' : 'day');
  const step = query.get('step') ?? (span && span <= 3 * 3600e3 ? 'minute' : span && span <= 2 * 86400e3 ? 'minute' : 'hour');

  const setHash = (p: Record<string, string>) => {
    const u = new URLSearchParams({ range, ...p });
    for (const [k, v] of [...u.entries()]) if (!v) u.delete(k);
    location.hash = `#/stats?${u}`;
  };

  const cFrom = h('input', { id: 's-from', type: 'datetime-local', value: toLocalInput(from || now - 86400e3) });
  const cTo = h('input', { id: 's-to', type: 'datetime-local', value: toLocalInput(to || now) });
  const bySel = h('select', { id: 's-by' }, ['hour', 'day', 'week'].map((x) => h('option', { value: x }, `per ${x}`)));
  bySel.value = by;
  const stepSel = h('select', { id: 's-step' }, ['second', 'minute', 'hour'].map((x) => h('option', { value: x }, `per ${x}`)));
  stepSel.value = step;
  const picker = h('form', { class: 'range-picker card', onsubmit: (e: Event) => {
    e.preventDefault();
    location.hash = `#/stats?${new URLSearchParams({ range: 'custom',
      from: String(fromLocalInput(cFrom.value)), to: String(fromLocalInput(cTo.value)),
      by: bySel.value, step: stepSel.value })}`;
  } },
  h('div', { class: 'seg', role: 'group', 'aria-label': 'range' },
    RANGES.filter((r) => r[0] !== 'custom').map(([id, label]) => h('button', {
      type: 'button', class: id === range ? 'on' : '', 'aria-pressed': id === range ? 'true' : 'false',
      'data-range': id, onclick: () => { location.hash = `#/stats?range=${id}`; } }, label))),
  h('span', { class: 'field-inline' }, h('label', { for: 's-from' }, 'or from'), cFrom),
  h('span', { class: 'field-inline' }, h('label', { for: 's-to' }, 'To'), cTo),
  h('button', { type: 'submit' }, 'Apply'),
  h('span', { class: 'spacer' }),
  h('span', { class: 'field-inline' }, h('label', { for: 's-by' }, 'Calls'), bySel),
  h('span', { class: 'field-inline' }, h('label', { for: 's-step' }, 'Traffic'), stepSel));
  bySel.addEventListener('change', () => setHash({ by: bySel.value, step: stepSel.value,
    from: range === 'custom' ? String(from) : '', to: range === 'custom' ? String(to) : '' }));
  stepSel.addEventListener('change', () => setHash({ by: bySel.value, step: stepSel.value,
    from: range === 'custom' ? String(from) : '', to: range === 'custom' ? String(to) : '' }));

  const rangeText = from ? `${fmtDateTime(from)} – ${fmtDateTime(to)}` : 'all stored data';
  const kpis = h('div', { class: 'kpis' });
  const notice = h('div', {});
  const body = h('div', { class: 'stats-body' });
  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Statistics'), h('span', { class: 'muted', id: 'range-text' }, rangeText)),
    picker, notice, kpis, body);

  const base: Params = {};
  if (from) base.from = apiTime(from);
  if (to) base.to = apiTime(to);
  const errBox = (what: string, e: ApiError) => h('p', { class: 'error' }, `${what}: ${e.message}`);

  // Sections are created in their final order and filled as answers arrive.
  const slot = () => {
    const d = h('div', {}, h('p', { class: 'muted loading' }, 'Loading…'));
    body.append(d);
    return d;
  };
  const put = (slotEl: HTMLElement, el: HTMLElement) => { clear(slotEl); slotEl.append(el); };
  const sPeriods = slot(), sTraffic = slot(), sRatios = slot(), sDur = slot(), sCodes = slot(),
    sTop = slot();

  apiGet<Obj>('stats/summary', base, ctl.signal).then((raw) => {
    // CallSummary fields, flat; nested groups ("counts", "rfc6076", as
    // `sipman report --json` writes them) are read too.
    const sm: Obj = { ...raw };
    for (const k of ['counts', 'rfc6076', 'summary']) {
      if (raw[k] && typeof raw[k] === 'object' && !Array.isArray(raw[k])) Object.assign(sm, raw[k] as Obj);
    }
    const calls = Number(sm.calls ?? 0);
    const pdd = (sm.post_dial_delay ?? {}) as Obj;
    const kpi = (label: string, value: string, title = '') =>
      h('div', { class: 'kpi', title }, h('div', { class: 'kpi-value' }, value), h('div', { class: 'kpi-label' }, label));
    kpis.append(kpi('calls', fmtNum(calls)), kpi('answered', fmtNum(sm.completed ?? '')),
      kpi('ASR', fmtPct(sm.asr), RATIOS[0][2]), kpi('NER', fmtPct(sm.ner), RATIOS[1][2]),
      kpi('ACD', sm.acd_ms === null || sm.acd_ms === undefined ? '–' : fmtDuration(sm.acd_ms), 'average call duration'),
      kpi('post-dial delay p50', fmtMs(pdd.p50_ms)),
      kpi('registrations', fmtNum(sm.registrations ?? 0)));
    if (!calls) {
      notice.append(h('p', { class: 'notice' }, 'No calls in this range. ',
        range !== 'all' ? h('a', { href: '#/stats?range=all' }, 'Show all stored data') : null, '.'));
    }

    // RFC 6076 ratios.
    const rc = new BarChart('Ratios, percent', 180, (v) => `${Math.round(v)}%`);
    const rrows = RATIOS.map(([k, label, desc]) => [h('abbr', { title: desc }, label), fmtPct(sm[k])]);
    put(sRatios, pair(rc.el, h('div', {}, simpleTable(['Ratio', 'Value'], rrows),
      h('p', { class: 'muted small' }, 'Hover a name for its definition (docs/METRICS.md).')), 'RFC 6076 and call ratios', 'ratios'));
    rc.setData(RATIOS.map((r) => r[1]), [{ name: 'percent', values: RATIOS.map((r) => Number(sm[r[0]] ?? 0)) }]);

    // Durations: histogram and percentiles.
    const hist = asArray<Obj>(sm.duration_histogram);
    const hc = new BarChart('Answered calls by duration', 180);
    const dists: [string, string][] = [['duration', 'Call duration'], ['post_dial_delay', 'Post-dial delay'],
      ['srd_successful', 'SRD, successful'], ['srd_failed', 'SRD, failed'], ['sdd', 'SDD'], ['sdt', 'SDT'],
      ['rrd', 'Registration delay']];
    const drows = dists.filter(([k]) => sm[k]).map(([k, label]) => {
      const d = sm[k] as Obj;
      const f = k === 'duration' || k === 'sdt' ? fmtDuration : fmtMs;
      const g = (x: unknown) => (x === null || x === undefined ? '–' : f(x));
      return [label, fmtNum(d.count), g(d.mean_ms), g(d.p50_ms), g(d.p90_ms), g(d.p95_ms), g(d.p99_ms)];
    });
    put(sDur, h('section', { class: 'card', id: 'durations' }, h('h2', {}, 'Durations'),
      h('div', { class: 'pair' }, h('div', { class: 'pair-chart' }, hc.el),
        h('div', { class: 'pair-table' }, simpleTable(['Duration', 'Calls'],
          hist.map((b) => [bucketLabel(b), fmtNum(b.calls)])))),
      h('h3', {}, 'Mean and percentiles'),
      simpleTable(['', 'Count', 'Mean', 'p50', 'p90', 'p95', 'p99'], drows)));
    hc.setData(hist.map(bucketLabel), [{ name: 'calls', values: hist.map((b) => Number(b.calls ?? 0)) }]);

    // Response codes and states.
    const codes = asArray<Obj>(sm.by_status);
    const cc = new BarChart('Final responses to INVITE', 180);
    const states = asArray<Obj>(sm.by_state);
    const sc = new BarChart('', 180);
    put(sCodes, h('div', { class: 'grid2' },
      pair(cc.el, simpleTable(['Status', 'Calls', 'Share'], codes.map((c) => [
        String(c.key) === '0' ? 'none' : String(c.key), fmtNum(c.calls), fmtPct(calls ? (100 * Number(c.calls)) / calls : null)]), 'scroll'),
      'Response codes', 'codes'),
      pair(sc.el, simpleTable(['State', 'Calls', 'Share'], states.map((c) => [
        STATE_LABELS[String(c.key)] ?? String(c.key), fmtNum(c.calls), fmtPct(calls ? (100 * Number(c.calls)) / calls : null)])),
      'Calls by state', 'states')));
    cc.setData(codes.map((c) => (String(c.key) === '0' ? 'none' : String(c.key))), [{ name: 'calls', values: codes.map((c) => Number(c.calls)) }]);
    sc.setData(states.map((c) => STATE_LABELS[String(c.key)] ?? String(c.key)), [{ name: 'calls', values: states.map((c) => Number(c.calls)) }]);
  }).catch((e: ApiError) => {
    if (e.name === 'AbortError') return;
    put(sRatios, errBox('Summary', e));
    clear(sDur);
    clear(sCodes);
  });

  apiGet('stats/periods', { ...base, by }, ctl.signal).then((d) => {
    const rows = asArray<Obj>(d, 'periods', 'rows');
    const pc = new BarChart('', 200);
    const lab = (r: Obj) => {
      const t = toMs(r.start_ts);
      return by === 'hour' ? fmtDateTime(t).slice(5, 16) : fmtDateTime(t).slice(0, 10);
    };
    put(sPeriods, pair(pc.el, simpleTable([by === 'hour' ? 'Hour' : by === 'day' ? 'Day' : 'Week of', 'Calls', 'Answered', 'ASR', 'Minutes'],
      rows.map((r) => [lab(r), fmtNum(r.calls), fmtNum(r.answered),
        fmtPct(Number(r.calls) ? (100 * Number(r.answered)) / Number(r.calls) : null),
        fmtNum(Number(r.duration_ms_sum ?? 0) / 60000, 1)]), 'scroll'), `Calls per ${by}`, 'periods'));
    pc.setData(rows.map(lab), [{ name: 'calls', values: rows.map((r) => Number(r.calls)) },
      { name: 'answered', values: rows.map((r) => Number(r.answered)), color: '#1a7f37' }]);
  }).catch((e: ApiError) => { if (e.name !== 'AbortError') put(sPeriods, errBox('Calls per period', e)); });

  apiGet('stats/traffic', { ...base, step }, ctl.signal).then((d) => {
    const rows = asArray<Obj>(d, 'rows', 'traffic', 'points').map((r) => normTraffic(r))
      .filter((r) => r.sec).sort((a, b) => a.sec - b.sec);
    const xs = rows.map((r) => r.sec * 1000);
    const mc = new LineChart(`Messages and packets per ${step}`, 200);
    const bc = new LineChart(`Bytes per ${step}`, 140);
    mc.emptyText = bc.emptyText = 'no traffic in this range';
    const total = (f: (v: typeof rows[0]['v']) => number) => rows.reduce((a, r) => a + f(r.v), 0);
    const peak = (f: (v: typeof rows[0]['v']) => number) => rows.reduce((a, r) => Math.max(a, f(r.v)), 0);
    const methods = new Map<string, number>();
    const classes = new Map<string, number>();
    for (const r of rows) {
      for (const [k, v] of Object.entries(r.v.methods)) methods.set(k, (methods.get(k) ?? 0) + v);
      for (const [k, v] of Object.entries(r.v.classes)) classes.set(k, (classes.get(k) ?? 0) + v);
    }
    const tableRows: string[][] = [
      ['Messages', fmtNum(total((v) => v.messages)), fmtNum(peak((v) => v.messages))],
      ['Packets', fmtNum(total((v) => v.packets)), fmtNum(peak((v) => v.packets))],
      ['Bytes', fmtBytes(total((v) => v.bytes)), fmtBytes(peak((v) => v.bytes))],
      ['Capture drops', fmtNum(total((v) => v.drops)), fmtNum(peak((v) => v.drops))],
      ...[...methods.entries()].filter(([, v]) => v).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, fmtNum(v), '']),
      ...[...classes.entries()].filter(([, v]) => v).sort().map(([k, v]) => [`${k} responses`, fmtNum(v), '']),
    ];
    put(sTraffic, pair(h('div', {}, mc.el, bc.el), simpleTable(['', 'Total', `Peak per ${step}`], tableRows, 'scroll'),
      `Traffic per ${step}`, 'traffic'));
    const stepMs = step === 'second' ? 1e3 : step === 'minute' ? 60e3 : 3600e3;
    const dom: [number, number] | undefined = from && to ? [from, to]
      : xs.length ? [xs[0] - stepMs, xs[xs.length - 1] + stepMs] : undefined;
    mc.setData(xs, [{ name: 'messages', values: rows.map((r) => r.v.messages) },
      { name: 'packets', values: rows.map((r) => r.v.packets), color: '#8250df' }], dom);
    bc.setData(xs, [{ name: 'bytes', values: rows.map((r) => r.v.bytes), color: '#0f8a9d' }], dom);
  }).catch((e: ApiError) => { if (e.name !== 'AbortError') put(sTraffic, errBox('Traffic', e)); });

  const topGrid = h('div', { class: 'grid4' });
  clear(sTop);
  sTop.append(h('section', { class: 'card', id: 'top' }, h('h2', {}, 'Top talkers'), topGrid));
  const tops: [string, string][] = [['caller', 'Callers'], ['callee', 'Callees'], ['ip', 'Source IPs'],
    ['agent', 'User agents']];
  for (const [key, title] of tops) {
    const box = h('div', { class: 'top-box' }, h('h3', {}, title), h('p', { class: 'muted' }, 'Loading…'));
    topGrid.append(box);
    apiGet('stats/top', { ...base, by: key, limit: 10 }, ctl.signal).then((d) => {
      const rows = asArray<Obj>(d, 'top', 'rows');
      const max = rows.reduce((a, r) => Math.max(a, Number(r.calls)), 1);
      box.lastChild?.remove();
      box.append(h('div', { class: 'table-wrap' }, h('table', { class: 'data compact top' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, key === 'agent' ? 'Agent' : key === 'ip' ? 'IP' : 'User'),
          h('th', { scope: 'col', class: 'num' }, 'Calls'), h('th', { scope: 'col', class: 'num' }, 'Answered'))),
        h('tbody', {}, rows.length ? rows.map((r) => h('tr', {},
          h('td', { class: 'bar-cell', title: String(r.key) },
            h('span', { class: 'bar', style: `width:${(100 * Number(r.calls)) / max}%` }),
            h('span', { class: 'bar-text' }, key === 'caller' || key === 'callee'
              ? h('a', { href: `#/calls?${key}=${encodeURIComponent(String(r.key))}` }, String(r.key) || '(empty)')
              : String(r.key) || '(empty)')),
          h('td', { class: 'num' }, fmtNum(r.calls)), h('td', { class: 'num' }, fmtNum(r.answered))))
          : h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'none'))))));
    }).catch((e: ApiError) => {
      if (e.name === 'AbortError') return;
      clear(box);
      box.append(h('h3', {}, title), errBox('Could not load', e));
    });
  }
  return () => ctl.abort();
}
