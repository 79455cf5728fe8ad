// Hand-drawn SVG charts: a time-series line chart (live dashboard, traffic
// per period) and a grouped bar chart (periods, histogram, codes, tops).
// Both size themselves to their container, show a legend, and show the
// values under the pointer in a tooltip.
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

// The top of a value axis with four gridlines at round values.
function niceMax(v: number): number {
  if (v <= 0) return 4;
  const raw = v / 4;
  const e = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m === 2.5 && e < 1) continue;
    if (m * e >= raw) return 4 * m * e;
  }
  return 40 * e;
}

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

    const target = Math.max(2, Math.floor(iw / 90));
    const step = TIME_STEPS.find((st) => span / st <= target) ?? TIME_STEPS[TIME_STEPS.length - 1];
    const tzOff = new Date(x0).getTimezoneOffset() * 60000;
    const first = Math.ceil((x0 - tzOff) / step) * step + tzOff;
    for (let t = first; t <= x1; t += step) {
      const x = X(t);
      svg.append(s('line', { x1: x, x2: x, y1: M.top + ih, y2: M.top + ih + 4, class: 'tick' }));
      svg.append(s('text', { x, y: hgt - 8, 'text-anchor': 'middle', class: 'axis' },
        timeLabel(t, step)));
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
