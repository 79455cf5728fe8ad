// The call page's RTP streams, in its Media panel: three small charts on
// one time axis (MOS, loss and highest jitter per interval, one line or bar
// per stream) and a table of the streams. The arithmetic is
// media_intervals.ts'; this draws it.
import { SpanChart, Span, SpanSeries } from '../charts';
import { describeMos, formatMos, MOS_FAIR, MOS_GOOD, MOS_HIGH, MOS_LOW, mosClass } from '../media';
import { axisTops, describeIntervalLoss, intervalChart, IntervalChartModel, IntervalPoint,
  streamRows, StreamSeries } from '../media_intervals';
import { formatOffset, offsetTicks } from '../scale';
import type { Cdr, RtpStream } from '../types';
import { fmtNum, fmtTimeMs, h, nsToMs, s } from '../util';

const mosSpan = (mos: number) =>
  h('span', { class: `mos mos-${mosClass(mos)}`, title: `MOS ${describeMos(mos)}` }, formatMos(mos));

// A legend entry: a short line in the series' colour and dash, its label.
function legendItem(sr: StreamSeries, dashed: boolean): HTMLElement {
  return h('span', { class: 'legend-item' },
    s('svg', { width: 22, height: 10, 'aria-hidden': 'true' },
      s('line', { x1: 1, x2: 21, y1: 5, y2: 5, stroke: sr.color, 'stroke-width': 2.2,
        'stroke-dasharray': dashed ? '5 3' : null })),
    sr.label);
}

// The series of one figure: a span per interval, its value picked by `pick`.
function spanSeries(model: IntervalChartModel, pick: (p: IntervalPoint) => Span): SpanSeries[] {
  // The callee's lines dashed: when both directions lie on one value (a
  // clean call: MOS 4.41 both ways) the caller's stays visible beneath.
  return model.series.map((sr) => ({ name: sr.label, color: sr.color, dashed: sr.side === 'callee',
    spans: sr.points.map(pick) }));
}

// "12 s – 22 s" after the INVITE: an interval in the tooltip's head.
const spanTitle = (from: number, to: number) => `${formatOffset(from)} – ${formatOffset(to)}`;

function intervalCharts(model: IntervalChartModel, inviteTs: number): HTMLElement {
  const ticks = (from: number, to: number, target: number) =>
    offsetTicks(from, to, target).map((at) => ({ at, label: formatOffset(at) }));
  const common = { xTicks: ticks, fmtSpan: spanTitle, markers: model.markers };
  const tops = axisTops(model.series);
  const mos = new SpanChart('MOS', { ...common, height: 118, style: 'step', yMin: MOS_LOW,
    yMax: MOS_HIGH, yTicks: [1, 2, 3, 4, 4.5], fmtY: (v) => String(v), showXLabels: false,
    bands: [{ from: MOS_LOW, to: MOS_FAIR, cls: 'poor' }, { from: MOS_FAIR, to: MOS_GOOD, cls: 'fair' },
      { from: MOS_GOOD, to: MOS_HIGH, cls: 'good' }],
    fmtTip: (sp) => (sp.value === null ? 'no MOS' : describeMos(sp.value)),
    emptyText: 'no MOS: no packets, or a codec without E-model figures' });
  const loss = new SpanChart('Loss, % of expected (lighter: too late for a 50 ms buffer)', {
    ...common, height: 92, style: 'bars', showXLabels: false,
    yMax: tops.lossPct,
    fmtY: (v) => `${+v.toFixed(1)} %` });
  const jitter = new SpanChart('Highest jitter, ms', { ...common, height: 112, style: 'step',
    yMax: tops.jitterMs,
    fmtY: (v) => `${+v.toFixed(1)}`,
    fmtTip: (sp) => (sp.value === null ? 'no packets' : `${sp.value.toFixed(1)} ms`) });
  const charts = [mos, loss, jitter];
  for (const c of charts) c.link(charts);
  const domain: [number, number] = [model.from, model.to];
  mos.setData(spanSeries(model, (p) => ({ from: p.from, to: p.to, value: p.mos })), domain);
  loss.setData(spanSeries(model, (p) => ({ from: p.from, to: p.to, value: p.lossPct,
    extra: p.latePct, tip: describeIntervalLoss(p) })), domain);
  jitter.setData(spanSeries(model, (p) => ({ from: p.from, to: p.to, value: p.jitterMs })), domain);

  const widths = [...new Set(model.series.map((sr) => sr.widthS))].sort((a, b) => a - b);
  const axis = model.origin === 'invite'
    ? `time since the INVITE (${fmtTimeMs(nsToMs(inviteTs))})` : 'time since the first interval';
  return h('div', { class: 'interval-charts', id: 'interval-charts' },
    h('div', { class: 'chart-legend' }, model.series.map((sr) => legendItem(sr, sr.side === 'callee'))),
    ...charts.map((c) => c.el),
    h('p', { class: 'muted small axis-note' },
      `x: ${axis}; one value per ${widths.map((w) => `${w} s`).join(' or ')} interval` +
      (model.markers.length ? `; dashed lines: ${model.markers.map((m) => m.label).join(', ')}` : '') +
      '. Hover for the figures.'));
}

function streamTable(streams: RtpStream[], callId: string): HTMLElement {
  const cols = ['Direction', 'Source → destination', 'SSRC', 'Codec', 'Packets', 'Lost', 'Loss',
    'Max jitter', 'MOS', 'DTMF', 'Flags'];
  const numeric = new Set([4, 5, 6, 7, 8]);
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data compact', id: 'stream-table' },
    h('thead', {}, h('tr', {}, cols.map((x, i) =>
      h('th', { scope: 'col', class: numeric.has(i) ? 'num' : '' }, x)))),
    h('tbody', {}, streamRows(streams, callId).map((r) =>
      h('tr', { 'data-side': r.side, 'data-ssrc': r.ssrc },
        h('th', { scope: 'row', class: 'nowrap' },
          h('span', { class: 'swatch', style: `background:${r.color}` }), r.direction),
        h('td', { class: 'mono nowrap' }, r.route),
        h('td', { class: 'mono' }, r.ssrc),
        h('td', {}, r.codec),
        h('td', { class: 'num' }, fmtNum(r.packets)),
        h('td', { class: 'num' }, fmtNum(r.lost)),
        h('td', { class: 'num nowrap' }, r.lossPct),
        h('td', { class: 'num nowrap' }, r.maxJitter),
        h('td', { class: 'num' }, mosSpan(r.mos)),
        h('td', { class: 'mono' }, r.dtmf),
        h('td', {}, r.flags.map((f) => h('span', { class: 'badge media-marker warn', title: f.title,
          'data-flag': f.flag }, f.text))))))));
}

// The streams part of the Media panel: the interval charts (when some
// stream has intervals) and the table; a sentence when the call has none.
export function streamsSection(streams: RtpStream[], call: Pick<Cdr, 'call_id' | 'invite_ts' |
  'answer_ts' | 'bye_ts'>): HTMLElement {
  const box = h('div', { class: 'call-streams', id: 'call-streams' });
  if (!streams.length) {
    box.append(h('p', { class: 'muted' }, 'No RTP stream stored for this call.'));
    return box;
  }
  const model = intervalChart(streams, call);
  box.append(h('h3', {}, 'Per interval'));
  if (model.series.length) box.append(intervalCharts(model, call.invite_ts));
  if (model.withoutIntervals) {
    box.append(h('p', { class: 'muted small' }, model.series.length
      ? `${model.withoutIntervals} of ${streams.length} streams were stored without per-interval figures and are not in the charts.`
      : 'The streams were stored without per-interval figures.'));
  }
  box.append(h('h3', {}, `Streams (${streams.length})`), streamTable(streams, call.call_id));
  return box;
}
