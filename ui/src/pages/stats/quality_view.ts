// The Statistics page's Media quality section (GET /api/v1/stats/quality):
// a grouping selector, a chart and the rows as a table. Periods show their
// mean MOS and loss over time; codecs and IPs a bar of their mean MOS each,
// with the share of poor streams beside it. The arithmetic is quality.ts'.
import { SpanChart, timeTicks } from '../../charts';
import { describeMos, formatMos, MOS_FAIR, MOS_GOOD, MOS_HIGH, MOS_LOW, mosClass,
  mosFraction } from '../../media';
import type { QualityBy, QualityRow, StatsQualityResponse } from '../../types';
import { LOSS_AXIS_FLOOR } from '../../media_intervals';
import { axisTop } from '../../scale';
import { fmtDateTime, fmtMs, fmtNum, h, s } from '../../util';
import { isPeriodGrouping, periodsDomain, PERIOD_MS, QUALITY_GROUPINGS, qualityBars,
  QualityBar, qualityPeriods, utcDate } from './quality';

const mosCell = (mos: number | null) => {
  const v = mos ?? -1;
  return h('span', { class: `mos mos-${mosClass(v)}`, title: `MOS ${describeMos(v)}` }, formatMos(v));
};

// A period as the table and the tooltips name it: a local hour, a UTC day
// or week.
function periodLabel(fromMs: number, by: QualityBy): string {
  if (by === 'hour') return fmtDateTime(fromMs).slice(0, 16);
  return by === 'week' ? `week of ${utcDate(fromMs)}` : utcDate(fromMs);
}

const MOS_BANDS = [{ from: MOS_LOW, to: MOS_FAIR, cls: 'poor' }, { from: MOS_FAIR, to: MOS_GOOD, cls: 'fair' },
  { from: MOS_GOOD, to: MOS_HIGH, cls: 'good' }];

// Mean MOS (a step per period over the quality bands) and loss % (a bar
// per period), on one time axis.
function periodCharts(rows: QualityRow[], by: 'hour' | 'day' | 'week'): HTMLElement {
  const periods = qualityPeriods(rows, by);
  const domain = periodsDomain(periods) ?? [0, PERIOD_MS[by]];
  const common = { xTicks: timeTicks, fmtSpan: (from: number) => periodLabel(from, by),
    emptyText: 'no RTP streams in this range' };
  const mos = new SpanChart('Mean MOS', { ...common, height: 130, style: 'step', yMin: MOS_LOW,
    yMax: MOS_HIGH, yTicks: [1, 2, 3, 4, 4.5], fmtY: (v) => String(v), showXLabels: false,
    bands: MOS_BANDS, fmtTip: (sp) => (sp.value === null ? 'no MOS' : describeMos(sp.value)) });
  const lossMax = Math.max(0, ...periods.map((p) => p.lossPct ?? 0));
  const loss = new SpanChart('Loss, % of expected', { ...common, height: 110, style: 'bars',
    yMax: axisTop(lossMax, LOSS_AXIS_FLOOR), fmtY: (v) => `${+v.toFixed(1)} %` });
  const charts = [mos, loss];
  for (const c of charts) c.link(charts);
  mos.setData([{ name: 'mean MOS', color: '#1f6feb',
    spans: periods.map((p) => ({ from: p.from, to: p.to, value: p.mosAvg })) }], domain);
  loss.setData([{ name: 'loss', color: '#d1242f', spans: periods.map((p) => ({ from: p.from,
    to: p.to, value: p.lossPct, tip: p.lossPct === null ? 'none expected'
      : `${p.lossPct.toFixed(2)} % (${fmtNum(p.streams)} streams)` })) }], domain);
  return h('div', { class: 'interval-charts' }, mos.el, loss.el);
}

const BAR = { label: 150, scale: 250, value: 46, share: 90, row: 24, top: 18 };

// One bar per codec or IP: the mean MOS on the 1–4.5 scale over the
// poor/fair/good bands, a tick at the lowest MOS, and the share of poor
// streams as a red part of a grey bar.
function qualityBarChart(bars: QualityBar[]): Element {
  if (!bars.length) return h('p', { class: 'muted' }, 'No RTP streams in this range.');
  const sx = BAR.label, shareX = sx + BAR.scale + BAR.value + 8;
  const width = shareX + BAR.share + 150;
  const height = BAR.top + bars.length * BAR.row + 4;
  const X = (fraction: number) => sx + fraction * BAR.scale;
  const svg = s('svg', { class: 'quality-bars', width, height, role: 'img',
    'aria-label': `mean MOS of ${bars.length} groups` });
  for (const b of MOS_BANDS) {
    svg.append(s('rect', { x: X(mosFraction(b.from)), y: BAR.top - 2,
      width: X(mosFraction(b.to)) - X(mosFraction(b.from)), height: bars.length * BAR.row,
      class: `band-${b.cls}` }));
  }
  for (const v of [MOS_LOW, 2, 3, MOS_FAIR, MOS_GOOD, MOS_HIGH]) {
    svg.append(s('text', { x: X(mosFraction(v)), y: 11, 'text-anchor': 'middle', class: 'axis' },
      String(v)));
  }
  svg.append(s('text', { x: shareX, y: 11, class: 'axis' }, 'poor streams (MOS < 3.6)'));
  bars.forEach((b, i) => {
    const y = BAR.top + i * BAR.row;
    const title = `${b.label}: ${b.streams} streams, mean MOS ${describeMos(b.mosAvg ?? -1)}, ${b.poorText}`;
    const g = s('g', {}, s('title', {}, title));
    g.append(s('rect', { x: 0, y: y - 2, width, height: BAR.row, class: 'row-hit' }));
    g.append(s('text', { x: sx - 8, y: y + 13, 'text-anchor': 'end', class: 'label' },
      b.label.length > 20 ? `${b.label.slice(0, 19)}…` : b.label));
    if (b.mosClass !== 'none') {
      g.append(s('rect', { x: sx, y: y + 4, width: Math.max(2, X(b.mosFraction) - sx), height: 11,
        rx: 2, fill: 'currentColor', class: `mos-${b.mosClass}` }));
    }
    if (b.mosMinFraction !== null) {
      g.append(s('rect', { x: X(b.mosMinFraction) - 1.5, y: y + 1, width: 3, height: 17,
        fill: '#24292f' }));
    }
    g.append(s('text', { x: sx + BAR.scale + 6, y: y + 13, class: 'value' },
      formatMos(b.mosAvg ?? -1)));
    g.append(s('rect', { x: shareX, y: y + 4, width: BAR.share, height: 11, rx: 2, class: 'share-bg' }));
    if (b.poorShare) {
      g.append(s('rect', { x: shareX, y: y + 4, width: Math.max(2, b.poorShare * BAR.share), height: 11,
        rx: 2, class: 'share-poor' }));
    }
    g.append(s('text', { x: shareX + BAR.share + 6, y: y + 13, class: 'value' }, b.poorText));
    svg.append(g);
  });
  return h('div', { class: 'table-wrap' }, svg,
    h('p', { class: 'muted small' }, 'Bar: mean MOS (weighted by packets); dark tick: lowest MOS.'));
}

function qualityTable(rows: QualityRow[], by: QualityBy): HTMLElement {
  const head = QUALITY_GROUPINGS.find((g) => g.by === by)?.head ?? by;
  const cols = [isPeriodGrouping(by) && by !== 'hour' ? `${head} (UTC)` : head, 'Streams', 'Packets',
    'Lost', 'Loss', 'Mean jitter', 'Max jitter', 'MOS mean', 'MOS min', 'Poor'];
  // The head says "Week of (UTC)": a week's cell is its date alone.
  const keyOf = (r: QualityRow) => (!isPeriodGrouping(by) ? r.key || '(none)'
    : by === 'hour' ? periodLabel(Math.round(r.start_ts / 1e6), by) : utcDate(Math.round(r.start_ts / 1e6)));
  return h('div', { class: 'table-wrap scroll' }, h('table', { class: 'data compact', id: 'quality-table' },
    h('thead', {}, h('tr', {}, cols.map((x, i) => h('th', { scope: 'col', class: i ? 'num' : '' }, x)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {},
      h('td', { class: isPeriodGrouping(by) ? 'nowrap' : 'mono' }, keyOf(r)),
      h('td', { class: 'num' }, fmtNum(r.streams)),
      h('td', { class: 'num' }, fmtNum(r.packets)),
      h('td', { class: 'num' }, fmtNum(r.lost)),
      h('td', { class: 'num nowrap' }, r.loss_pct === null ? '–' : `${r.loss_pct.toFixed(2)} %`),
      h('td', { class: 'num nowrap' }, fmtMs(r.mean_jitter_ms)),
      h('td', { class: 'num nowrap' }, r.streams ? fmtMs(r.max_jitter_ms) : '–'),
      h('td', { class: 'num' }, mosCell(r.mos_avg)),
      h('td', { class: 'num' }, mosCell(r.mos_min)),
      h('td', { class: 'num' }, r.mos_streams ? `${fmtNum(r.poor_streams)} of ${fmtNum(r.mos_streams)}` : '–')))
      : h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, 'none')))));
}

// The grouping selector; `onBy` gets the grouping chosen.
export function qualityBySelect(by: QualityBy, onBy: (by: QualityBy) => void): HTMLElement {
  const sel = h('select', { id: 's-quality-by' },
    QUALITY_GROUPINGS.map((g) => h('option', { value: g.by }, g.label)));
  sel.value = by;
  sel.addEventListener('change', () => onBy(sel.value as QualityBy));
  return h('span', { class: 'field-inline' }, h('label', { for: 's-quality-by' }, 'Group by'), sel);
}

// The section for one answer.
export function qualitySection(d: StatsQualityResponse, onBy: (by: QualityBy) => void): HTMLElement {
  const by = d.by;
  const chart = isPeriodGrouping(by) ? periodCharts(d.rows, by) : qualityBarChart(qualityBars(d.rows));
  return h('section', { class: 'card', id: 'quality' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Media quality (RTP streams)'),
      qualityBySelect(by, onBy)),
    chart, qualityTable(d.rows, by),
    h('p', { class: 'muted small' }, 'Streams whose first packet lies in the range. MOS: E-model ',
      'with a 50 ms jitter buffer; poor below 3.6. Loss: RFC 3550, lost over expected.'));
}
