// Statistics for a chosen range: calls per period, traffic per period, the
// duration histogram and percentiles, the RFC 6076 ratios, response codes,
// calls per state, the top callers, callees, IPs and user agents, and the
// media quality of the RTP streams (stats/quality_view.ts). Each chart has
// its table beside or under it. Sources: /api/v1/stats/{summary,periods,
// traffic,top,quality} (types/stats.ts).
import { ApiError, apiTime, getStatsPeriods, getStatsQuality, getStatsSummary, getStatsTop,
  getStatsTraffic, Params } from '../api';
import { BarChart, LineChart } from '../charts';
import type { DistributionKey, DurationBucket, PeriodBy, PeriodRow, RatioKey, TopBy, TrafficRow,
  TrafficStep } from '../types';
import { clear, fmtBytes, fmtDateTime, fmtDuration, fmtMs, fmtNum, fmtPct, fromLocalInput, h, nsToMs,
  STATE_LABELS, toLocalInput } from '../util';
import { isPeriodGrouping, isQualityBy, QUALITY_TOP } from './stats/quality';
import { qualityBySelect, qualitySection } from './stats/quality_view';

const RANGES: [string, string, number][] = [
  ['hour', 'Last hour', 3600e3], ['day', 'Last day', 86400e3], ['week', 'Last week', 7 * 86400e3],
  ['all', 'All', 0], ['custom', 'Custom', 0],
];

const RATIOS: [RatioKey, string, string][] = [
  ['asr', 'ASR', 'Answer-seizure ratio: answered calls / all calls'],
  ['ner', 'NER', 'Network effectiveness ratio: answered or user-busy/no-answer / all calls'],
  ['ser', 'SER', 'Session establishment ratio (RFC 6076): 200 / (INVITEs − 3xx)'],
  ['seer', 'SEER', 'Session establishment effectiveness ratio (RFC 6076): 200, 480, 486, 600, 603 / (INVITEs − 3xx)'],
  ['isa', 'ISA', 'Ineffective session attempts (RFC 6076): 408, 500, 503, 504 / INVITEs'],
  ['scr', 'SCR', 'Session completion ratio (RFC 6076): completed (answered, then BYE) / INVITEs'],
];

// The second a traffic row starts in (0 for a row without a time).
const secondOf = (r: TrafficRow) => Math.floor(nsToMs(r.ts) / 1000);
// Packets the capture lost: in the kernel and on the interface.
const dropsOf = (r: TrafficRow) => r.kernel_drops + r.interface_drops;

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

function bucketLabel(b: DurationBucket): string {
  const unit = (ms: number) => (ms >= 3600e3 ? 'h' : ms >= 60e3 ? 'min' : 's');
  const val = (ms: number) => (ms >= 3600e3 ? ms / 3600e3 : ms >= 60e3 ? ms / 60e3 : ms / 1e3);
  const lo = b.lower_ms;
  if (b.upper_ms === null) return `≥ ${val(lo)} ${unit(lo)}`;
  const up = b.upper_ms;
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
  // A `by` or `step` edited into the URL goes to the API as it is, which
  // refuses what it does not know (400, shown in its section).
  const by = (query.get('by') ?? (span && span <= 2 * 86400e3 ? 'hour' : 'day')) as PeriodBy;
  const step = (query.get('step') ?? (span && span <= 3 * 3600e3 ? 'minute' : span && span <= 2 * 86400e3 ? 'minute' : 'hour')) as TrafficStep;
  // The media quality's grouping: codec unless the address names another.
  const qbyParam = query.get('qby') ?? '';
  const qby = isQualityBy(qbyParam) ? qbyParam : 'codec';

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
      by: bySel.value, step: stepSel.value, qby })}`;
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
  // The selectors keep each other's choice and the custom range.
  const choose = (p: Record<string, string>) => setHash({ by: bySel.value, step: stepSel.value, qby,
    from: range === 'custom' ? String(from) : '', to: range === 'custom' ? String(to) : '', ...p });
  bySel.addEventListener('change', () => choose({}));
  stepSel.addEventListener('change', () => choose({}));
  const chooseQuality = (q: string) => choose({ qby: q });

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
    sTop = slot(), sQuality = slot();

  getStatsSummary(base, ctl.signal).then((sm) => {
    const calls = sm.calls;
    const kpi = (label: string, value: string, title = '') =>
      h('div', { class: 'kpi', title }, h('div', { class: 'kpi-value' }, value), h('div', { class: 'kpi-label' }, label));
    kpis.append(kpi('calls', fmtNum(calls)), kpi('answered', fmtNum(sm.completed)),
      kpi('ASR', fmtPct(sm.asr), RATIOS[0][2]), kpi('NER', fmtPct(sm.ner), RATIOS[1][2]),
      kpi('ACD', sm.acd_ms === null ? '–' : fmtDuration(sm.acd_ms), 'average call duration'),
      kpi('post-dial delay p50', fmtMs(sm.post_dial_delay.p50_ms)),
      kpi('registrations', fmtNum(sm.registrations)));
    if (!calls) {
      notice.append(h('p', { class: 'notice' }, 'No calls in this range. ',
        range !== 'all' ? h('a', { href: '#/stats?range=all' }, 'Show all stored data') : null, '.'));
    }

    // RFC 6076 ratios.
    const rc = new BarChart('Ratios, percent', 180, (v) => `${Math.round(v)}%`);
    const rrows = RATIOS.map(([k, label, desc]) => [h('abbr', { title: desc }, label), fmtPct(sm[k])]);
    put(sRatios, pair(rc.el, h('div', {}, simpleTable(['Ratio', 'Value'], rrows),
      h('p', { class: 'muted small' }, 'Hover a name for its definition (docs/METRICS.md).')), 'RFC 6076 and call ratios', 'ratios'));
    rc.setData(RATIOS.map((r) => r[1]), [{ name: 'percent', values: RATIOS.map((r) => sm[r[0]] ?? 0) }]);

    // Durations: histogram and percentiles.
    const hist = sm.duration_histogram;
    const hc = new BarChart('Answered calls by duration', 180);
    const dists: [DistributionKey, string][] = [['duration', 'Call duration'], ['post_dial_delay', 'Post-dial delay'],
      ['srd_successful', 'SRD, successful'], ['srd_failed', 'SRD, failed'], ['sdd', 'SDD'], ['sdt', 'SDT'],
      ['rrd', 'Registration delay']];
    const drows = dists.map(([k, label]) => {
      const d = sm[k];
      const f = k === 'duration' || k === 'sdt' ? fmtDuration : fmtMs;
      const g = (x: number | null) => (x === null ? '–' : f(x));
      return [label, fmtNum(d.count), g(d.mean_ms), g(d.p50_ms), g(d.p90_ms), g(d.p95_ms), g(d.p99_ms)];
    });
    put(sDur, h('section', { class: 'card', id: 'durations' }, h('h2', {}, 'Durations'),
      h('div', { class: 'pair' }, h('div', { class: 'pair-chart' }, hc.el),
        h('div', { class: 'pair-table' }, simpleTable(['Duration', 'Calls'],
          hist.map((b) => [bucketLabel(b), fmtNum(b.calls)])))),
      h('h3', {}, 'Mean and percentiles'),
      simpleTable(['', 'Count', 'Mean', 'p50', 'p90', 'p95', 'p99'], drows)));
    hc.setData(hist.map(bucketLabel), [{ name: 'calls', values: hist.map((b) => b.calls) }]);

    // Response codes and states.
    const codes = sm.by_status;
    const cc = new BarChart('Final responses to INVITE', 180);
    const states = sm.by_state;
    const sc = new BarChart('', 180);
    const codeLabel = (key: string) => (key === '0' ? 'none' : key);
    const stateLabel = (key: string) => STATE_LABELS[key] ?? key;
    const share = (n: number) => fmtPct(calls ? (100 * n) / calls : null);
    put(sCodes, h('div', { class: 'grid2' },
      pair(cc.el, simpleTable(['Status', 'Calls', 'Share'], codes.map((c) => [
        codeLabel(c.key), fmtNum(c.calls), share(c.calls)]), 'scroll'),
      'Response codes', 'codes'),
      pair(sc.el, simpleTable(['State', 'Calls', 'Share'], states.map((c) => [
        stateLabel(c.key), fmtNum(c.calls), share(c.calls)])),
      'Calls by state', 'states')));
    cc.setData(codes.map((c) => codeLabel(c.key)), [{ name: 'calls', values: codes.map((c) => c.calls) }]);
    sc.setData(states.map((c) => stateLabel(c.key)), [{ name: 'calls', values: states.map((c) => c.calls) }]);
  }).catch((e: ApiError) => {
    if (e.name === 'AbortError') return;
    put(sRatios, errBox('Summary', e));
    clear(sDur);
    clear(sCodes);
  });

  getStatsPeriods({ ...base, by }, ctl.signal).then((d) => {
    const rows = d.periods;
    const pc = new BarChart('', 200);
    const lab = (r: PeriodRow) => {
      const t = nsToMs(r.start_ts);
      return by === 'hour' ? fmtDateTime(t).slice(5, 16) : fmtDateTime(t).slice(0, 10);
    };
    put(sPeriods, pair(pc.el, simpleTable([by === 'hour' ? 'Hour' : by === 'day' ? 'Day' : 'Week of', 'Calls', 'Answered', 'ASR', 'Minutes'],
      rows.map((r) => [lab(r), fmtNum(r.calls), fmtNum(r.answered),
        fmtPct(r.calls ? (100 * r.answered) / r.calls : null),
        fmtNum(r.duration_ms_sum / 60000, 1)]), 'scroll'), `Calls per ${by}`, 'periods'));
    pc.setData(rows.map(lab), [{ name: 'calls', values: rows.map((r) => r.calls) },
      { name: 'answered', values: rows.map((r) => r.answered), color: '#1a7f37' }]);
  }).catch((e: ApiError) => { if (e.name !== 'AbortError') put(sPeriods, errBox('Calls per period', e)); });

  getStatsTraffic({ ...base, step }, ctl.signal).then((d) => {
    // The x of a row is the start of its period.
    const rows = d.rows.filter((r) => secondOf(r)).sort((a, b) => secondOf(a) - secondOf(b));
    const xs = rows.map((r) => secondOf(r) * 1000);
    const mc = new LineChart(`Messages and packets per ${step}`, 200);
    const bc = new LineChart(`Bytes per ${step}`, 140);
    mc.emptyText = bc.emptyText = 'no traffic in this range';
    const total = (f: (r: TrafficRow) => number) => rows.reduce((a, r) => a + f(r), 0);
    const peak = (f: (r: TrafficRow) => number) => rows.reduce((a, r) => Math.max(a, f(r)), 0);
    const methods = new Map<string, number>();
    const classes = new Map<string, number>();
    for (const r of rows) {
      for (const [k, v] of Object.entries(r.methods)) methods.set(k, (methods.get(k) ?? 0) + v);
      for (const [k, v] of Object.entries(r.classes)) classes.set(k, (classes.get(k) ?? 0) + v);
    }
    const tableRows: string[][] = [
      ['Messages', fmtNum(total((r) => r.messages)), fmtNum(peak((r) => r.messages))],
      ['Packets', fmtNum(total((r) => r.packets)), fmtNum(peak((r) => r.packets))],
      ['Bytes', fmtBytes(total((r) => r.bytes)), fmtBytes(peak((r) => r.bytes))],
      ['Capture drops', fmtNum(total(dropsOf)), fmtNum(peak(dropsOf))],
      ...[...methods.entries()].filter(([, v]) => v).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, fmtNum(v), '']),
      ...[...classes.entries()].filter(([, v]) => v).sort().map(([k, v]) => [`${k} responses`, fmtNum(v), '']),
    ];
    put(sTraffic, pair(h('div', {}, mc.el, bc.el), simpleTable(['', 'Total', `Peak per ${step}`], tableRows, 'scroll'),
      `Traffic per ${step}`, 'traffic'));
    const stepMs = step === 'second' ? 1e3 : step === 'minute' ? 60e3 : 3600e3;
    const dom: [number, number] | undefined = from && to ? [from, to]
      : xs.length ? [xs[0] - stepMs, xs[xs.length - 1] + stepMs] : undefined;
    mc.setData(xs, [{ name: 'messages', values: rows.map((r) => r.messages) },
      { name: 'packets', values: rows.map((r) => r.packets), color: '#8250df' }], dom);
    bc.setData(xs, [{ name: 'bytes', values: rows.map((r) => r.bytes), color: '#0f8a9d' }], dom);
  }).catch((e: ApiError) => { if (e.name !== 'AbortError') put(sTraffic, errBox('Traffic', e)); });

  const topGrid = h('div', { class: 'grid4' });
  clear(sTop);
  sTop.append(h('section', { class: 'card', id: 'top' }, h('h2', {}, 'Top talkers'), topGrid));
  const tops: [TopBy, string][] = [['caller', 'Callers'], ['callee', 'Callees'], ['ip', 'Source IPs'],
    ['agent', 'User agents']];
  for (const [key, title] of tops) {
    const box = h('div', { class: 'top-box' }, h('h3', {}, title), h('p', { class: 'muted' }, 'Loading…'));
    topGrid.append(box);
    getStatsTop({ ...base, by: key, limit: 10 }, ctl.signal).then((d) => {
      const rows = d.top;
      const max = rows.reduce((a, r) => Math.max(a, r.calls), 1);
      box.lastChild?.remove();
      box.append(h('div', { class: 'table-wrap' }, h('table', { class: 'data compact top' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, key === 'agent' ? 'Agent' : key === 'ip' ? 'IP' : 'User'),
          h('th', { scope: 'col', class: 'num' }, 'Calls'), h('th', { scope: 'col', class: 'num' }, 'Answered'))),
        h('tbody', {}, rows.length ? rows.map((r) => h('tr', {},
          h('td', { class: 'bar-cell', title: r.key },
            h('span', { class: 'bar', style: `width:${(100 * r.calls) / max}%` }),
            h('span', { class: 'bar-text' }, key === 'caller' || key === 'callee'
              ? h('a', { href: `#/calls?${key}=${encodeURIComponent(r.key)}` }, r.key || '(empty)')
              : r.key || '(empty)')),
          h('td', { class: 'num' }, fmtNum(r.calls)), h('td', { class: 'num' }, fmtNum(r.answered))))
          : h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'none'))))));
    }).catch((e: ApiError) => {
      if (e.name === 'AbortError') return;
      clear(box);
      box.append(h('h3', {}, title), errBox('Could not load', e));
    });
  }
  // Media quality: codecs and IPs cut to the busiest QUALITY_TOP, periods
  // whole. The selector stays when the answer is an error, to choose again.
  getStatsQuality({ ...base, by: qby, limit: isPeriodGrouping(qby) ? undefined : QUALITY_TOP }, ctl.signal)
    .then((d) => put(sQuality, qualitySection(d, chooseQuality)))
    .catch((e: ApiError) => {
      if (e.name === 'AbortError') return;
      put(sQuality, h('section', { class: 'card', id: 'quality' },
        h('div', { class: 'card-head' }, h('h2', {}, 'Media quality (RTP streams)'),
          qualityBySelect(qby, chooseQuality)), errBox('Media quality', e)));
    });
  return () => ctl.abort();
}
