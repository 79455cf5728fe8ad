// The dashboard's drawing: the page's layout, the KPIs and charts of the
// time window (window.ts), the live status, the table of the last calls and
// the Call quality panel (quality.ts).
import { BarChart, LineChart, Series } from '../../charts';
import { describeMos, flagMarkers, formatMos, mosClass } from '../../media';
import type { LiveCall } from '../../types';
import { clear, fmtBytes, fmtDateTime, fmtDuration, fmtNum, fmtShort, fmtTimeMs, h,
  stateBadge } from '../../util';
import type { FeedStatus } from './live';
import type { QualitySummary } from './quality';
import type { WindowView } from './window';

const METHOD_ORDER = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'PRACK',
  'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE', 'OTHER'];
const CLASS_COLORS: Record<string, string> = {
  '1xx': '#6e7781', '2xx': '#1a7f37', '3xx': '#0f8a9d', '4xx': '#bf8700', '5xx': '#d1242f',
  '6xx': '#8250df',
};

// A row of the last calls: a `call` event of the stream (no `id`: the call
// may not be stored yet) or a stored call (a CDR, which has every field of
// a LiveCall), at the time of its event.
export interface RecentCall {
  event: 'start' | 'end';
  call: LiveCall & { id?: number };
  at: number;  // ms
}

export class DashboardView {
  private readonly statusEl = h('span', { class: 'live-status', role: 'status' });
  private readonly kpis = h('div', { class: 'kpis' });
  private readonly bytesChart = new LineChart('Bytes per second', 170, fmtShort);
  private readonly methodChart = new LineChart('Requests per second by method', 170);
  private readonly classChart = new LineChart('Responses per second by class', 170);
  private readonly callsChart = new LineChart('Calls: started per second and concurrent', 170);
  private readonly dropsChart = new LineChart('Capture drops per second', 120);
  private readonly callsBody = h('tbody');
  private readonly mosChart = new BarChart('Calls by lowest MOS', 140);
  private readonly qualityNote = h('span', { class: 'muted' }, 'loading…');
  private readonly qualityFacts = h('p', { class: 'quality-facts' });
  private readonly worstBody = h('tbody');
  private qualityKey = '';

  constructor(root: HTMLElement) {
    root.append(
      h('div', { class: 'page-head' }, h('h1', {}, 'Dashboard'),
        h('span', { class: 'muted' }, 'last 5 minutes, one point per second'), this.statusEl),
      this.kpis,
      h('div', { class: 'grid2' }, this.bytesChart.el, this.callsChart.el, this.methodChart.el,
        this.classChart.el),
      h('div', { class: 'grid2 bottom' },
        h('section', { class: 'card' }, h('h2', {}, 'Last calls'),
          h('table', { class: 'data compact', id: 'last-calls' },
            h('thead', {}, h('tr', {}, ['Time', 'Event', 'Caller', 'Callee', 'State', 'Status',
              'Duration'].map((t) => h('th', { scope: 'col' }, t)))),
            this.callsBody)),
        this.dropsChart.el),
      h('section', { class: 'card', id: 'call-quality' },
        h('h2', {}, 'Call quality ', this.qualityNote),
        h('div', { class: 'pair' },
          h('div', { class: 'pair-chart' }, this.mosChart.el, this.qualityFacts),
          h('div', { class: 'pair-table' }, h('h3', {}, 'Worst calls'),
            h('table', { class: 'data compact', id: 'worst-calls' },
              h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'MOS'),
                h('th', { scope: 'col' }, 'Caller → callee'), h('th', { scope: 'col' }, 'Flags'))),
              this.worstBody)))));
  }

  // The Call quality panel: the MOS bins of the window's calls, the calls
  // without a MOS, one-way and no media, the worst calls. `full`: the page
  // read was full, so only the newest `limit` calls count. Redrawn only when
  // something changed (it is drawn every second as the window moves).
  drawQuality(q: QualitySummary, full: boolean, limit: number): void {
    const key = JSON.stringify([q, full]);
    if (key === this.qualityKey) return;
    this.qualityKey = key;
    this.qualityNote.textContent = full ? `latest ${limit} calls of the last 5 minutes`
      : 'calls of the last 5 minutes';
    this.mosChart.setData(q.bins.map((b) => b.label), [
      { name: 'poor < 3.6', values: q.bins.map((b) => b.poor), color: '#d1242f' },
      { name: 'fair 3.6–4.0', values: q.bins.map((b) => b.fair), color: '#bf8700' },
      { name: 'good ≥ 4.0', values: q.bins.map((b) => b.good), color: '#1a7f37' }], true);
    clear(this.qualityFacts);
    const count = (n: number, text: string) =>
      h('span', { class: n > 0 ? 'mos-poor' : '' }, `${fmtNum(n)} ${text}`);
    this.qualityFacts.append(`${fmtNum(q.calls)} calls · `,
      h('span', { title: 'no RTP, or a codec without E-model figures' },
        `${fmtNum(q.unscored)} without a MOS`), ' · ',
      count(q.oneWay, 'one-way'), ' · ', count(q.noMedia, 'no media'));

    const body = this.worstBody;
    clear(body);
    if (!q.worst.length) {
      body.append(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No call with a MOS.')));
    }
    for (const c of q.worst) {
      body.append(h('tr', {},
        h('td', { class: 'num' }, h('span', { class: `mos mos-${mosClass(c.mos_min)}`,
          title: `MOS ${describeMos(c.mos_min)}` }, formatMos(c.mos_min))),
        h('td', {}, h('a', { href: `#/calls/${encodeURIComponent(String(c.id))}` },
          `${c.caller_user || '–'} → ${c.callee_user || '–'}`)),
        h('td', {}, flagMarkers(c.media_flags).map((m) => h('span', {
          class: `badge media-marker ${m.severity}`, title: m.title, 'data-flag': m.flag }, m.text)))));
    }
  }

  drawCalls(recent: RecentCall[]): void {
    const body = this.callsBody;
    clear(body);
    if (!recent.length) {
      body.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No calls yet.')));
      return;
    }
    for (const { event, call, at } of recent) {
      // Live events carry no row id: those rows search by Call-ID.
      const open = () => {
        location.hash = call.id !== undefined ? `#/calls/${call.id}`
          : `#/calls?call_id=${encodeURIComponent(call.call_id)}`;
      };
      // data-source: 'live' for the stream's events, 'stored' for calls read
      // from the API when the page opened.
      body.append(h('tr', { class: 'clickable', tabindex: 0, onclick: open,
        'data-source': call.id !== undefined ? 'stored' : 'live',
        onkeydown: (e: Event) => { if ((e as KeyboardEvent).key === 'Enter') open(); } },
      h('td', { class: 'nowrap' }, new Date(at).toDateString() === new Date().toDateString()
        ? fmtTimeMs(at) : fmtDateTime(at)),
      h('td', {}, h('span', { class: `badge ev-${event}` }, event === 'end' ? 'ended' : 'started')),
      h('td', {}, call.caller_user || '–'), h('td', {}, call.callee_user || '–'),
      h('td', {}, stateBadge(call.state)),
      h('td', {}, call.final_status ? String(call.final_status) : '–'),
      h('td', { class: 'num' }, call.duration_ms ? fmtDuration(call.duration_ms) : '–')));
    }
  }

  // The charts and KPIs of the window, the concurrent calls last reported
  // and the feed's status.
  drawWindow(view: WindowView, concurrent: number, status: FeedStatus): void {
    const { xs, rows, domain } = view;
    // Packets per second (tens) would lie flat on an axis of bytes (thousands):
    // the messages chart below shows the rate.
    this.bytesChart.setData(xs, [{ name: 'bytes/s', values: rows.map((r) => r.bytes) }], domain);
    const seenM = new Set<string>();
    rows.forEach((r) => Object.entries(r.methods).forEach(([k, v]) => { if (v) seenM.add(k); }));
    const rank = (m: string) => METHOD_ORDER.indexOf(m) + 99 * +!METHOD_ORDER.includes(m);
    const methods = [...seenM].sort((a, b) => rank(a) - rank(b));
    this.methodChart.setData(xs, [{ name: 'all messages', values: rows.map((r) => r.messages),
      color: '#24292f' }, ...methods.map((m) => ({ name: m, values: rows.map((r) => r.methods[m] ?? 0) }))]
      .slice(0, 12) as Series[], domain);
    const classes = ['1xx', '2xx', '3xx', '4xx', '5xx', '6xx'].filter((c) =>
      rows.some((r) => r.classes[c]));
    this.classChart.setData(xs, classes.map((c) => ({ name: c, color: CLASS_COLORS[c],
      values: rows.map((r) => r.classes[c] ?? 0) })), domain);
    this.callsChart.setData(xs, [
      { name: 'calls started/s', values: rows.map((r) => r.callStarts), color: '#1f6feb' },
      { name: 'calls ended/s', values: rows.map((r) => r.callEnds), color: '#6e7781' },
      { name: 'concurrent calls', values: rows.map((r) => r.concurrent ?? 0), color: '#1a7f37' }],
    domain);
    this.dropsChart.setData(xs, [{ name: 'dropped packets/s', values: rows.map((r) => r.drops),
      color: '#d1242f' }], domain);

    const { last, totals } = view;
    clear(this.kpis);
    const kpi = (label: string, value: string, cls = '') =>
      h('div', { class: `kpi ${cls}` }, h('div', { class: 'kpi-value' }, value),
        h('div', { class: 'kpi-label' }, label));
    this.kpis.append(
      kpi('messages/s', fmtNum(last.messages)),
      kpi('bytes/s', fmtBytes(last.bytes)),
      kpi('concurrent calls', fmtNum(concurrent)),
      kpi('calls in 5 min', fmtNum(totals.callStarts)),
      kpi('messages in 5 min', fmtNum(totals.messages)),
      kpi('drops in 5 min', fmtNum(totals.drops), totals.drops > 0 ? 'bad' : ''));
    this.statusEl.className = `live-status ${status}`;
    this.statusEl.textContent = status === 'live' ? '● live' : status === 'polling'
      ? '● stream lost — polling, reconnecting' : '● connecting…';
  }
}
