// Hand-drawn SVG charts: a time-series line chart (live dashboard, traffic
// per period), a grouped bar chart (periods, histogram, codes, tops) and a
// chart of values over spans of x (a call's RTP intervals, media quality
// per period). They size themselves to their container, show a legend,
// and show the values under the pointer in a tooltip.
import { niceMax } from './scale';
import { clear, fmtClock, fmtShort, h, s } from './util';

export const PALETTE = [
  '#1f6feb', '#d1242f', '#1a7f37', '#bf8700', '#8250df', '#0f8a9d', '#cf4a9b', '#6e7781',
  '#fb8500', '#3d5a80', '#9a6700', '#2da44e',
];

export interface Series {
  name: string;
  values: number[];
  color?: string;
}

const M = { top: 10, right: 14, bottom: 26, left: 52 };

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  21600, 43200, 86400, 172800, 604800].map((x) => x * 1000);

function timeLabel(ms: number, step: number): string {
  const d = new Date(ms);
  if (step >= 86400000) return `${d.getMonth() + 1}/${d.getDate()}`;
  if (step >= 60000) {
    const hm = fmtClock(ms, false);
    return d.getHours() === 0 && d.getMinutes() === 0 ? `${d.getMonth() + 1}/${d.getDate()}` : hm;
  }
  return fmtClock(ms, true);
}

// A labelled position on an x axis.
export interface Tick {
  at: number;
  label: string;
}

// Ticks of a time axis (ms since the epoch) at round local times, at most
// about `target` of them.
export function timeTicks(x0: number, x1: number, target: number): Tick[] {
  const span = Math.max(1, x1 - x0);
  const step = TIME_STEPS.find((st) => span / st <= target) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const tzOff = new Date(x0).getTimezoneOffset() * 60000;
  const first = Math.ceil((x0 - tzOff) / step) * step + tzOff;
  const ticks: Tick[] = [];
  for (let t = first; t <= x1; t += step) ticks.push({ at: t, label: timeLabel(t, step) });
  return ticks;
}

abstract class ChartBase {
  readonly el: HTMLElement;
  protected svgBox: HTMLElement;
  protected legend: HTMLElement;
  protected tip: HTMLElement;
  protected series: Series[] = [];
  private ro: ResizeObserver;

  constructor(title: string, protected height = 180, protected fmtValue: (v: number) => string = fmtShort) {
    this.svgBox = h('div', { class: 'chart-svg' });
    this.legend = h('div', { class: 'chart-legend' });
    this.tip = h('div', { class: 'chart-tip', role: 'status' });
    this.el = h('figure', { class: 'chart' },
      title ? h('figcaption', {}, title) : null, this.svgBox, this.legend, this.tip);
    this.ro = new ResizeObserver(() => this.render());
    this.ro.observe(this.svgBox);
  }

  protected colorOf(i: number): string {
    return this.series[i].color ?? PALETTE[i % PALETTE.length];
  }

  protected drawLegend(): void {
    clear(this.legend);
    this.series.forEach((sr, i) => {
      this.legend.append(h('span', { class: 'legend-item' },
        h('span', { class: 'swatch', style: `background:${this.colorOf(i)}` }), sr.name));
    });
  }

  protected showTip(x: number, lines: [string, string, string?][]): void {
    clear(this.tip);
    this.tip.append(h('div', { class: 'tip-head' }, lines[0][0]));
    for (const [label, value, color] of lines.slice(1)) {
      this.tip.append(h('div', {},
        color ? h('span', { class: 'swatch', style: `background:${color}` }) : null,
        `${label}: `, h('b', {}, value)));
    }
    this.tip.style.display = 'block';
    const w = this.svgBox.clientWidth;
    const tw = this.tip.offsetWidth;
    this.tip.style.left = `${Math.max(0, Math.min(x + 12, w - tw - 4))}px`;
    this.tip.style.top = '24px';
  }

  protected hideTip(): void {
    this.tip.style.display = 'none';
  }

  protected yAxis(svg: SVGElement, w: number, ih: number, max: number): void {
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const y = M.top + ih - (ih * i) / 4;
      svg.append(s('line', { x1: M.left, x2: w - M.right, y1: y, y2: y, class: 'grid' }));
      svg.append(s('text', { x: M.left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' },
        this.fmtValue(v)));
    }
  }

  abstract render(): void;
}

// Time series: xs are ms since the epoch, each series has one value per x.
export class LineChart extends ChartBase {
  private xs: number[] = [];
  private domain: [number, number] | null = null;
  private stacked = false;
  emptyText = 'no data yet';

  setData(xs: number[], series: Series[], domain?: [number, number], stacked = false): void {
    this.xs = xs;
    this.series = series;
    this.domain = domain ?? null;
    this.stacked = stacked;
    this.drawLegend();
    this.render();
  }

  render(): void {
    const w = Math.max(240, this.svgBox.clientWidth || 600);
    const hgt = this.height;
    const iw = w - M.left - M.right, ih = hgt - M.top - M.bottom;
    const svg = s('svg', { width: w, height: hgt, role: 'img', 'aria-label': 'chart' });
    const xs = this.xs;
    let x0 = this.domain ? this.domain[0] : (xs[0] ?? 0);
    let x1 = this.domain ? this.domain[1] : (xs[xs.length - 1] ?? 1);
    if (x1 - x0 < 1000) { x0 -= 30000; x1 += 30000; }
    const span = Math.max(1, x1 - x0);
    const X = (t: number) => M.left + ((t - x0) / span) * iw;

    const layers: number[][] = [];
    let acc = xs.map(() => 0);
    for (const sr of this.series) {
      const vals = xs.map((_, i) => (sr.values[i] ?? 0) + (this.stacked ? acc[i] : 0));
      layers.push(vals);
      if (this.stacked) acc = vals;
    }
    let max = 0;
    for (const l of layers) for (const v of l) if (v > max) max = v;
    max = niceMax(max);
    const Y = (v: number) => M.top + ih - (v / max) * ih;
    this.yAxis(svg, w, ih, max);

    for (const tick of timeTicks(x0, x1, Math.max(2, Math.floor(iw / 90)))) {
      const x = X(tick.at);
      svg.append(s('line', { x1: x, x2: x, y1: M.top + ih, y2: M.top + ih + 4, class: 'tick' }));
      svg.append(s('text', { x, y: hgt - 8, 'text-anchor': 'middle', class: 'axis' }, tick.label));
    }
    svg.append(s('line', { x1: M.left, x2: w - M.right, y1: M.top + ih, y2: M.top + ih,
      class: 'baseline' }));

    layers.forEach((vals, si) => {
      if (!vals.length) return;
      const pts = vals.map((v, i) => `${X(xs[i]).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
      svg.append(s('polyline', { points: pts, fill: 'none', stroke: this.colorOf(si),
        'stroke-width': 1.6, 'stroke-linejoin': 'round' }));
      if (vals.length <= 2) {
        vals.forEach((v, i) => svg.append(s('circle', { cx: X(xs[i]).toFixed(1), cy: Y(v).toFixed(1),
          r: 2.5, fill: this.colorOf(si) })));
      }
    });
    if (!xs.length) {
      svg.append(s('text', { x: M.left + iw / 2, y: M.top + ih / 2, 'text-anchor': 'middle',
        class: 'empty' }, this.emptyText));
    }

    const cursor = s('line', { y1: M.top, y2: M.top + ih, class: 'cursor', visibility: 'hidden' });
    svg.append(cursor);
    const hit = s('rect', { x: M.left, y: M.top, width: iw, height: ih, fill: 'transparent' });
    hit.addEventListener('mousemove', (ev) => {
      if (!xs.length) return;
      const r = (svg as unknown as SVGSVGElement).getBoundingClientRect();
      const t = x0 + ((((ev as MouseEvent).clientX - r.left) - M.left) / iw) * span;
      let best = 0;
      for (let i = 1; i < xs.length; i++) if (Math.abs(xs[i] - t) < Math.abs(xs[best] - t)) best = i;
      const cx = X(xs[best]);
      cursor.setAttribute('x1', String(cx));
      cursor.setAttribute('x2', String(cx));
      cursor.setAttribute('visibility', 'visible');
      const d = new Date(xs[best]);
      const head = span > 86400000 * 2 ? `${d.toLocaleDateString()} ${fmtClock(xs[best])}`
        : fmtClock(xs[best]);
      this.showTip(cx, [[head, ''], ...this.series.map((sr, i) =>
        [sr.name, this.fmtValue(sr.values[best] ?? 0), this.colorOf(i)] as [string, string, string])]);
    });
    hit.addEventListener('mouseleave', () => {
      cursor.setAttribute('visibility', 'hidden');
      this.hideTip();
    });
    svg.append(hit);
    clear(this.svgBox);
    this.svgBox.append(svg);
  }
}

// Grouped bars: one group per label, one bar per series; `stacked` puts
// the series of a label on top of each other in one bar instead.
export class BarChart extends ChartBase {
  private labels: string[] = [];
  private stacked = false;

  setData(labels: string[], series: Series[], stacked = false): void {
    this.labels = labels;
    this.series = series;
    this.stacked = stacked;
    this.drawLegend();
    this.render();
  }

  render(): void {
    const w = Math.max(240, this.svgBox.clientWidth || 600);
    const n = this.labels.length;
    const iw = w - M.left - M.right;
    const gw = n ? iw / n : iw;
    const longest = this.labels.reduce((a, l) => Math.max(a, Math.min(l.length, 14)), 0);
    const rotate = n > 0 && longest * 6.6 + 8 > gw;
    const bottom = rotate ? 70 : M.bottom;
    const hgt = this.height + (rotate ? 44 : 0);
    const ih = hgt - M.top - bottom;
    const svg = s('svg', { width: w, height: hgt, role: 'img', 'aria-label': 'bar chart' });
    let max = 0;
    if (this.stacked) {
      this.labels.forEach((_, gi) => {
        max = Math.max(max, this.series.reduce((a, sr) => a + (sr.values[gi] ?? 0), 0));
      });
    } else {
      for (const sr of this.series) for (const v of sr.values) if (v > max) max = v;
    }
    max = niceMax(max);
    this.yAxis(svg, w, ih, max);
    const nb = this.stacked ? 1 : Math.max(1, this.series.length);
    const bw = Math.max(1, Math.min(40, (gw * 0.8) / nb));
    this.labels.forEach((label, gi) => {
      const gx = M.left + gi * gw + (gw - bw * nb) / 2;
      let below = 0;  // stacked: the height of the series drawn so far
      this.series.forEach((sr, si) => {
        const v = sr.values[gi] ?? 0;
        const bh = (v / max) * ih;
        svg.append(s('rect', { x: gx + (this.stacked ? 0 : si * bw),
          y: M.top + ih - bh - below, width: Math.max(1, bw - 1), height: bh,
          fill: this.colorOf(si) }));
        if (this.stacked) below += bh;
      });
      const cx = M.left + gi * gw + gw / 2;
      const text = label.length > 14 ? `${label.slice(0, 13)}…` : label;
      const skip = rotate && gw < 14 && gi % Math.ceil(14 / gw) !== 0;
      if (!skip) {
        svg.append(rotate
          ? s('text', { x: cx, y: M.top + ih + 10, 'text-anchor': 'end', class: 'axis',
            transform: `rotate(-45 ${cx} ${M.top + ih + 10})` }, text)
          : s('text', { x: cx, y: hgt - 8, 'text-anchor': 'middle', class: 'axis' }, text));
      }
      const hit = s('rect', { x: M.left + gi * gw, y: M.top, width: gw, height: ih,
        fill: 'transparent', class: 'bar-hit' });
      hit.addEventListener('mouseenter', () => {
        this.showTip(cx, [[label, ''], ...this.series.map((sr, i) =>
          [sr.name, this.fmtValue(sr.values[gi] ?? 0), this.colorOf(i)] as [string, string, string])]);
      });
      hit.addEventListener('mouseleave', () => this.hideTip());
      svg.append(hit);
    });
    if (!n) {
      svg.append(s('text', { x: M.left + iw / 2, y: M.top + ih / 2, 'text-anchor': 'middle',
        class: 'empty' }, 'no data in this range'));
    }
    svg.append(s('line', { x1: M.left, x2: w - M.right, y1: M.top + ih, y2: M.top + ih,
      class: 'baseline' }));
    clear(this.svgBox);
    this.svgBox.append(svg);
  }
}

// A value held over a span of x, [from, to): an interval of an RTP stream,
// a period of a report. `value` null is a gap (nothing drawn). `extra` is
// stacked on a bar in a lighter shade (late packets on top of lost ones).
export interface Span {
  from: number;
  to: number;
  value: number | null;
  extra?: number | null;
  tip?: string;   // the tooltip's text for it, instead of fmtTip's
}

export interface SpanSeries {
  name: string;
  color: string;
  spans: Span[];  // in x order
  dashed?: boolean;
}

export interface SpanChartOptions {
  height: number;
  style: 'step' | 'bars';   // a line across each span, or a bar per span and series
  yMin?: number;            // 0 unless given
  yMax: number;
  yTicks?: number[];        // gridlines; five from yMin to yMax unless given
  fmtY: (v: number) => string;
  xTicks: (from: number, to: number, target: number) => Tick[];
  showXLabels?: boolean;    // false for the upper charts of a stack sharing one x axis
  bands?: { from: number; to: number; cls: string }[];   // y ranges shaded behind (MOS classes)
  markers?: { at: number; label: string }[];             // vertical lines (answer, BYE)
  fmtSpan: (from: number, to: number) => string;         // the tooltip's head
  fmtTip?: (sp: Span) => string;                         // a series' line in the tooltip
  emptyText?: string;
}

// Values over spans of x, drawn as steps or bars, with gaps where a value
// is null and where spans do not adjoin. Several SpanCharts given the same
// domain and width line up; link() moves one cursor over all of them.
export class SpanChart extends ChartBase {
  private spanSeries: SpanSeries[] = [];
  private domain: [number, number] = [0, 1];
  private linked: SpanChart[] = [];
  private cursor: SVGElement | null = null;
  private xOf: (x: number) => number = () => 0;

  constructor(title: string, private readonly opt: SpanChartOptions, legend = false) {
    super(title, opt.height, opt.fmtY);
    if (!legend) this.legend.style.display = 'none';
  }

  setData(series: SpanSeries[], domain: [number, number]): void {
    this.spanSeries = series;
    this.series = series.map((sr) => ({ name: sr.name, values: [], color: sr.color }));
    this.domain = domain;
    this.drawLegend();
    this.render();
  }

  // The charts whose cursor follows this one's (and the other way round).
  link(charts: SpanChart[]): void {
    this.linked = charts.filter((c) => c !== this);
  }

  private showCursor(x: number | null): void {
    if (!this.cursor) return;
    if (x === null) {
      this.cursor.setAttribute('visibility', 'hidden');
      return;
    }
    const cx = String(this.xOf(x));
    this.cursor.setAttribute('x1', cx);
    this.cursor.setAttribute('x2', cx);
    this.cursor.setAttribute('visibility', 'visible');
  }

  render(): void {
    const o = this.opt;
    const w = Math.max(240, this.svgBox.clientWidth || 600);
    const hgt = this.height;
    const bottom = o.showXLabels === false ? 6 : M.bottom;
    const iw = w - M.left - M.right, ih = hgt - M.top - bottom;
    const [x0, x1] = this.domain;
    const span = x1 > x0 ? x1 - x0 : 1;
    const X = (x: number) => M.left + ((x - x0) / span) * iw;
    this.xOf = X;
    const y0 = o.yMin ?? 0, y1 = o.yMax > y0 ? o.yMax : y0 + 1;
    const Y = (v: number) => M.top + ih - ((Math.min(y1, Math.max(y0, v)) - y0) / (y1 - y0)) * ih;
    const svg = s('svg', { width: w, height: hgt, role: 'img', 'aria-label': 'chart' });

    for (const b of o.bands ?? []) {
      svg.append(s('rect', { x: M.left, y: Y(b.to), width: iw, height: Y(b.from) - Y(b.to),
        class: `band band-${b.cls}` }));
    }
    const yTicks = o.yTicks ?? [0, 1, 2, 3, 4].map((i) => y0 + ((y1 - y0) * i) / 4);
    for (const v of yTicks) {
      svg.append(s('line', { x1: M.left, x2: w - M.right, y1: Y(v), y2: Y(v), class: 'grid' }));
      svg.append(s('text', { x: M.left - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'axis' },
        o.fmtY(v)));
    }
    for (const tick of o.xTicks(x0, x1, Math.max(2, Math.floor(iw / 80)))) {
      const x = X(tick.at);
      svg.append(s('line', { x1: x, x2: x, y1: M.top + ih, y2: M.top + ih + 4, class: 'tick' }));
      if (o.showXLabels !== false) {
        // Labels at the ends lean inwards, so that none is cut off.
        const anchor = x + 18 > w ? 'end' : x - 18 < 0 ? 'start' : 'middle';
        svg.append(s('text', { x, y: hgt - 8, 'text-anchor': anchor, class: 'axis' }, tick.label));
      }
    }
    svg.append(s('line', { x1: M.left, x2: w - M.right, y1: M.top + ih, y2: M.top + ih,
      class: 'baseline' }));
    for (const m of o.markers ?? []) {
      svg.append(s('line', { x1: X(m.at), x2: X(m.at), y1: M.top, y2: M.top + ih, class: 'marker' }),
        s('text', { x: X(m.at) + 3, y: M.top + 9, class: 'marker-label' }, m.label));
    }

    const barSlots = this.spanSeries.length;
    this.spanSeries.forEach((sr, si) => {
      if (o.style === 'bars') {
        for (const sp of sr.spans) {
          if (sp.value === null) continue;
          const slot = (sp.to - sp.from) / barSlots;
          const bx = X(sp.from + si * slot);
          const bw = Math.max(1, X(sp.from + (si + 1) * slot) - bx - 1);
          const vh = M.top + ih - Y(sp.value), eh = sp.extra ? Y(sp.value) - Y(sp.value + sp.extra) : 0;
          // A measured zero shows as a sliver on the baseline, so that it
          // reads apart from a gap (nothing measured).
          svg.append(s('rect', { x: bx, y: M.top + ih - Math.max(1.5, vh), width: bw,
            height: Math.max(1.5, vh), fill: sr.color }));
          if (eh > 0) {
            svg.append(s('rect', { x: bx, y: M.top + ih - vh - eh, width: bw, height: eh,
              fill: sr.color, 'fill-opacity': 0.4 }));
          }
        }
        return;
      }
      let d = '';
      sr.spans.forEach((sp, i) => {
        if (sp.value === null) return;
        const y = Y(sp.value).toFixed(1);
        const prev = sr.spans[i - 1], next = sr.spans[i + 1];
        const joinsPrev = prev && prev.value !== null && Math.abs(prev.to - sp.from) < 1e-6;
        const joinsNext = next && next.value !== null && Math.abs(sp.to - next.from) < 1e-6;
        d += joinsPrev ? ` V${y} H${X(sp.to).toFixed(1)}` : ` M${X(sp.from).toFixed(1)},${y} H${X(sp.to).toFixed(1)}`;
        // A span alone shows a dot as well: a short one is easy to miss.
        if (!joinsPrev && !joinsNext) {
          svg.append(s('circle', { cx: X((sp.from + sp.to) / 2).toFixed(1), cy: y, r: 2.5,
            fill: sr.color }));
        }
      });
      if (d) {
        svg.append(s('path', { d: d.trim(), fill: 'none', stroke: sr.color, 'stroke-width': 1.8,
          'stroke-linejoin': 'round', 'stroke-dasharray': sr.dashed ? '5 3' : null }));
      }
    });
    if (!this.spanSeries.some((sr) => sr.spans.some((sp) => sp.value !== null))) {
      svg.append(s('text', { x: M.left + iw / 2, y: M.top + ih / 2 + 4, 'text-anchor': 'middle',
        class: 'empty' }, o.emptyText ?? 'no data'));
    }

    this.cursor = s('line', { y1: M.top, y2: M.top + ih, class: 'cursor', visibility: 'hidden' });
    svg.append(this.cursor);
    const hit = s('rect', { x: M.left, y: M.top, width: iw, height: ih, fill: 'transparent' });
    hit.addEventListener('mousemove', (ev) => {
      const r = (svg as unknown as SVGSVGElement).getBoundingClientRect();
      const x = x0 + ((((ev as MouseEvent).clientX - r.left) - M.left) / iw) * span;
      const at = (sr: SpanSeries) => sr.spans.find((sp) => sp.from <= x && x < sp.to);
      const head = this.spanSeries.map(at).find((sp) => sp);
      for (const c of [this, ...this.linked]) c.showCursor(x);
      if (!head) {
        this.hideTip();
        return;
      }
      const fmt = o.fmtTip ?? ((sp: Span) => (sp.value === null ? '–' : o.fmtY(sp.value)));
      this.showTip(X(x), [[o.fmtSpan(head.from, head.to), ''], ...this.spanSeries.map((sr) => {
        const sp = at(sr);
        return [sr.name, sp ? sp.tip ?? fmt(sp) : '–', sr.color] as [string, string, string];
      })]);
    });
    hit.addEventListener('mouseleave', () => {
      for (const c of [this, ...this.linked]) c.showCursor(null);
      this.hideTip();
    });
    svg.append(hit);
    clear(this.svgBox);
    this.svgBox.append(svg);
  }
}
