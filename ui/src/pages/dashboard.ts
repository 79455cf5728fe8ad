// Dashboard: live charts of the last five minutes (one point per second)
// from the Server-Sent Events stream /api/v1/live, and the last calls. When
// the stream drops, the page polls /api/v1/stats/traffic until it is back.
import { apiGet, apiTime, Cdr } from '../api';
import { LineChart, Series } from '../charts';
import { asArray, clear, fmtBytes, fmtDateTime, fmtDuration, fmtNum, fmtShort, fmtTimeMs, h, stateBadge,
  toMs } from '../util';

const WINDOW_S = 300;
const METHOD_ORDER = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'PRACK',
  'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE', 'OTHER'];
const CLASS_COLORS: Record<string, string> = {
  '1xx': '#6e7781', '2xx': '#1a7f37', '3xx': '#0f8a9d', '4xx': '#bf8700', '5xx': '#d1242f',
  '6xx': '#8250df',
};

interface Second {
  bytes: number;
  packets: number;
  messages: number;
  methods: Record<string, number>;
  classes: Record<string, number>;
  drops: number;
  callStarts: number;
  callEnds: number;
  concurrent?: number;
}

// Reads one traffic sample from the live stream ({ts, bytes, methods{},
// classes{}, drops}) or a stored row (ts, frame_bytes, m_invite, r1xx,
// kernel_drops, ...).
export function normTraffic(r: Record<string, unknown>): { sec: number; v: Second } {
  const num = (k: string) => Number(r[k] ?? 0) || 0;
  const methods: Record<string, number> = {};
  const classes: Record<string, number> = {};
  if (r.methods && typeof r.methods === 'object') {
    for (const [k, v] of Object.entries(r.methods as Record<string, unknown>)) {
      methods[k.toUpperCase()] = Number(v) || 0;
    }
  }
  if (r.classes && typeof r.classes === 'object') {
    for (const [k, v] of Object.entries(r.classes as Record<string, unknown>)) {
      classes[k] = Number(v) || 0;
    }
  }
  for (const [k, v] of Object.entries(r)) {
    const m = /^m_([a-z]+)$/.exec(k);
    if (m) methods[m[1].toUpperCase()] = Number(v) || 0;
    const c = /^r([1-6])xx$/.exec(k);
    if (c) classes[`${c[1]}xx`] = Number(v) || 0;
  }
  const drops = r.drops !== undefined ? num('drops') : num('kernel_drops') + num('interface_drops');
  const bytes = r.bytes !== undefined ? num('bytes')
    : r.frame_bytes !== undefined ? num('frame_bytes') : num('sip_bytes');
  return {
    sec: Math.floor(toMs(r.ts ?? r.start_ts) / 1000),
    v: { bytes, packets: num('packets'), messages: num('messages'), methods, classes, drops,
      callStarts: 0, callEnds: 0 },
  };
}

function emptySecond(): Second {
  return { bytes: 0, packets: 0, messages: 0, methods: {}, classes: {}, drops: 0, callStarts: 0,
    callEnds: 0 };
}

export function renderDashboard(root: HTMLElement): () => void {
  const secs = new Map<number, Second>();
  let firstSec = 0;
  let lastSec = 0;
  let clockSkew = 0;  // capture time minus wall time, seconds
  let concurrent = 0;
  let status: 'connecting' | 'live' | 'polling' = 'connecting';
  let es: EventSource | null = null;
  let pollTimer = 0;
  let retryTimer = 0;
  let refillTimer = 0;
  let stopped = false;
  const recent: { event: string; call: Cdr; at: number }[] = [];

  const statusEl = h('span', { class: 'live-status', role: 'status' });
  const kpis = h('div', { class: 'kpis' });
  const bytesChart = new LineChart('Bytes per second', 170, fmtShort);
  const methodChart = new LineChart('Requests per second by method', 170);
  const classChart = new LineChart('Responses per second by class', 170);
  const callsChart = new LineChart('Calls: started per second and concurrent', 170);
  const dropsChart = new LineChart('Capture drops per second', 120);
  const callsBody = h('tbody');

  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Dashboard'),
      h('span', { class: 'muted' }, 'last 5 minutes, one point per second'), statusEl),
    kpis,
    h('div', { class: 'grid2' }, bytesChart.el, callsChart.el, methodChart.el, classChart.el),
    h('div', { class: 'grid2 bottom' },
      h('section', { class: 'card' }, h('h2', {}, 'Last calls'),
        h('table', { class: 'data compact', id: 'last-calls' },
          h('thead', {}, h('tr', {}, ['Time', 'Event', 'Caller', 'Callee', 'State', 'Status',
            'Duration'].map((t) => h('th', { scope: 'col' }, t)))),
          callsBody)),
      dropsChart.el));

  // The second `s`, created when new. The newest second sets the clock skew
  // (capture time minus wall time: the stream's seconds come a little after
  // they end, and a replayed capture has its own times), unless it comes from stored
  // data within the wall-clock window: traffic that stopped a minute ago
  // must not be drawn as if it were now.
  const sec = (s: number, fromStream = true) => {
    let v = secs.get(s);
    if (!v) {
      v = emptySecond();
      secs.set(s, v);
      if (!firstSec || s < firstSec) firstSec = s;
    }
    if (s > lastSec) {
      lastSec = s;
      const wall = Math.floor(Date.now() / 1000);
      if (fromStream || s < wall - WINDOW_S) clockSkew = s - wall;
    }
    return v;
  };

  function addTraffic(r: Record<string, unknown>, fromStream = true): void {
    const { sec: s, v } = normTraffic(r);
    if (!s) return;
    const cur = sec(s, fromStream);
    Object.assign(cur, { bytes: v.bytes, packets: v.packets, messages: v.messages,
      methods: v.methods, classes: v.classes, drops: v.drops });
  }

  function addCall(ev: Record<string, unknown>): void {
    const call = (ev.call ?? ev) as Cdr;
    const event = String(ev.event ?? 'start');
    const at = toMs(event === 'end' ? (call.end_ts || call.invite_ts) : call.invite_ts) || Date.now();
    // Counted in the second it was reported: a call's own times may lie
    // before the window (a long call ending, a replayed capture).
    const cur = sec(lastSec || Math.floor(Date.now() / 1000) + clockSkew);
    if (event === 'end') cur.callEnds += 1; else cur.callStarts += 1;
    recent.unshift({ event, call, at });
    recent.length = Math.min(recent.length, 15);
    drawCalls();
  }

  function setConcurrent(c: Record<string, unknown>): void {
    concurrent = Number(c.calls ?? c.concurrent ?? 0) || 0;
    // Placed in the newest capture second: the event's ts is wall-clock time,
    // which differs from capture time when a capture file is replayed.
    sec(lastSec || Math.floor(Date.now() / 1000) + clockSkew).concurrent = concurrent;
  }

  function drawCalls(): void {
    clear(callsBody);
    if (!recent.length) {
      callsBody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No calls yet.')));
      return;
    }
    for (const { event, call, at } of recent) {
      // Live events carry no row id (the call may not be stored yet): those
      // rows search by Call-ID.
      const open = () => {
        location.hash = call.id !== undefined ? `#/calls/${call.id}`
          : `#/calls?call_id=${encodeURIComponent(call.call_id)}`;
      };
      // data-source: 'live' for the stream's events, 'stored' for calls read
      // from the API when the page opened.
      callsBody.append(h('tr', { class: 'clickable', tabindex: 0, onclick: open,
        'data-source': call.id !== undefined ? 'stored' : 'live',
        onkeydown: (e: Event) => { if ((e as KeyboardEvent).key === 'Enter') open(); } },
      h('td', { class: 'nowrap' }, new Date(at).toDateString() === new Date().toDateString()
        ? fmtTimeMs(at) : fmtDateTime(at)),
      h('td', {}, h('span', { class: `badge ev-${event}` }, event === 'end' ? 'ended' :
        event === 'start' ? 'started' : event)),
      h('td', {}, call.caller_user || '–'), h('td', {}, call.callee_user || '–'),
      h('td', {}, stateBadge(call.state)),
      h('td', {}, call.final_status ? String(call.final_status) : '–'),
      h('td', { class: 'num' }, call.duration_ms ? fmtDuration(call.duration_ms) : '–')));
    }
  }

  function draw(): void {
    // `sipman run` sends each second about a second after it ends, marked
    // "final": false, and again with its final counts when it closes
    // (kOpenSeconds later); `sipman serve` sends stored, closed seconds
    // only. So the seconds after the newest one received are not known yet,
    // not zero: the window ends at the newest second while they keep coming,
    // and moves on over empty seconds only when none came for a few seconds
    // (the traffic stopped).
    const end = lastSec ? Math.max(lastSec, Math.floor(Date.now() / 1000) + clockSkew - 2) :
      Math.floor(Date.now() / 1000);
    const start = end - WINDOW_S + 1;
    for (const k of secs.keys()) if (k < start - 5) secs.delete(k);
    const from = Math.max(start, firstSec || end);
    const xs: number[] = [];
    const rows: Second[] = [];
    let conc = 0;
    for (let t = from; t <= end; t++) {
      xs.push(t * 1000);
      const v = secs.get(t) ?? emptySecond();
      if (v.concurrent !== undefined) conc = v.concurrent;
      rows.push({ ...v, concurrent: conc });
    }
    const domain: [number, number] = [start * 1000, end * 1000];
    // Packets per second (tens) would lie flat on an axis of bytes (thousands):
    // the messages chart below shows the rate.
    bytesChart.setData(xs, [{ name: 'bytes/s', values: rows.map((r) => r.bytes) }], domain);
    const seenM = new Set<string>();
    rows.forEach((r) => Object.entries(r.methods).forEach(([k, v]) => { if (v) seenM.add(k); }));
    const methods = [...seenM].sort((a, b) => (METHOD_ORDER.indexOf(a) + 99 * +!METHOD_ORDER.includes(a)) -
      (METHOD_ORDER.indexOf(b) + 99 * +!METHOD_ORDER.includes(b)));
    methodChart.setData(xs, [{ name: 'all messages', values: rows.map((r) => r.messages),
      color: '#24292f' }, ...methods.map((m) => ({ name: m, values: rows.map((r) => r.methods[m] ?? 0) }))]
      .slice(0, 12) as Series[], domain);
    const classes = ['1xx', '2xx', '3xx', '4xx', '5xx', '6xx'].filter((c) =>
      rows.some((r) => r.classes[c]));
    classChart.setData(xs, classes.map((c) => ({ name: c, color: CLASS_COLORS[c],
      values: rows.map((r) => r.classes[c] ?? 0) })), domain);
    callsChart.setData(xs, [
      { name: 'calls started/s', values: rows.map((r) => r.callStarts), color: '#1f6feb' },
      { name: 'calls ended/s', values: rows.map((r) => r.callEnds), color: '#6e7781' },
      { name: 'concurrent calls', values: rows.map((r) => r.concurrent ?? 0), color: '#1a7f37' }],
    domain);
    dropsChart.setData(xs, [{ name: 'dropped packets/s', values: rows.map((r) => r.drops),
      color: '#d1242f' }], domain);

    const last = rows[rows.length - 1] ?? emptySecond();
    const sum = (f: (r: Second) => number) => rows.reduce((a, r) => a + f(r), 0);
    clear(kpis);
    const kpi = (label: string, value: string, cls = '') =>
      h('div', { class: `kpi ${cls}` }, h('div', { class: 'kpi-value' }, value),
        h('div', { class: 'kpi-label' }, label));
    const drops = sum((r) => r.drops);
    kpis.append(
      kpi('messages/s', fmtNum(last.messages)),
      kpi('bytes/s', fmtBytes(last.bytes)),
      kpi('concurrent calls', fmtNum(concurrent)),
      kpi('calls in 5 min', fmtNum(sum((r) => r.callStarts))),
      kpi('messages in 5 min', fmtNum(sum((r) => r.messages))),
      kpi('drops in 5 min', fmtNum(drops), drops > 0 ? 'bad' : ''));
    statusEl.className = `live-status ${status}`;
    statusEl.textContent = status === 'live' ? '● live' : status === 'polling'
      ? '● stream lost — polling, reconnecting' : '● connecting…';
  }

  async function poll(): Promise<void> {
    const now = Date.now() + clockSkew * 1000;
    try {
      const data = await apiGet('stats/traffic', { from: apiTime(now - WINDOW_S * 1000),
        to: apiTime(now + 1000), step: 'second' });
      for (const r of asArray<Record<string, unknown>>(data, 'rows', 'traffic', 'points')) {
        addTraffic(r, false);
      }
    } catch { /* shown by the status; 401 goes to login */ }
  }

  function startPolling(): void {
    status = 'polling';
    if (!pollTimer) {
      void poll();
      pollTimer = window.setInterval(() => void poll(), 2000);
    }
  }

  function stopPolling(): void {
    window.clearInterval(pollTimer);
    pollTimer = 0;
  }

  function connect(): void {
    if (stopped) return;
    es = new EventSource('/api/v1/live', { withCredentials: true });
    const parse = (e: Event) => {
      try { return JSON.parse((e as MessageEvent).data) as Record<string, unknown>; } catch { return null; }
    };
    es.onopen = () => {
      status = 'live';
      stopPolling();
      // Seconds closed before the stream opened but not yet in the database
      // when the page read it: read it again once the writer has them.
      window.clearTimeout(refillTimer);
      refillTimer = window.setTimeout(() => void poll(), 5000);
    };
    es.addEventListener('traffic', (e) => { const d = parse(e); if (d) addTraffic(d); });
    es.addEventListener('call', (e) => { const d = parse(e); if (d) addCall(d); });
    es.addEventListener('concurrent', (e) => { const d = parse(e); if (d) setConcurrent(d); });
    es.onerror = () => {
      startPolling();
      if (es && es.readyState === EventSource.CLOSED) {
        es = null;
        window.clearTimeout(retryTimer);
        retryTimer = window.setTimeout(connect, 5000);
      }
    };
  }

  // The calls stored in the window (they ended before this page opened),
  // counted in the seconds they started and ended; the stream adds the rest.
  async function loadStoredCalls(): Promise<void> {
    const from = Date.now() + clockSkew * 1000 - WINDOW_S * 1000;
    try {
      const d = await apiGet('calls', { from: apiTime(from), sort: 'invite_ts', limit: 500 });
      for (const c of asArray<Cdr>(d, 'calls')) {
        const start = Math.floor(toMs(c.invite_ts) / 1000);
        if (start) sec(start, false).callStarts += 1;
        const end = Math.floor(toMs(c.end_ts) / 1000);
        if (end) sec(end, false).callEnds += 1;
      }
    } catch { /* 401 goes to login; the stream still counts new calls */ }
  }

  // Fill the window and the call list from stored data, then go live.
  void poll().then(loadStoredCalls);
  void apiGet('calls', { sort: '-invite_ts', limit: 15 }).then((d) => {
    const calls = asArray<Cdr>(d, 'calls');
    for (const c of calls.reverse()) {
      if (!recent.some((r) => r.call.id === c.id)) {
        recent.unshift({ event: c.end_ts && Number(c.end_ts) > 0 ? 'end' : 'start', call: c,
          at: toMs(c.end_ts) || toMs(c.invite_ts) });
      }
    }
    recent.sort((a, b) => b.at - a.at);
    recent.length = Math.min(recent.length, 15);
    drawCalls();
  }).catch(() => {});
  connect();
  drawCalls();
  draw();
  const drawTimer = window.setInterval(draw, 1000);

  return () => {
    stopped = true;
    es?.close();
    stopPolling();
    window.clearInterval(drawTimer);
    window.clearTimeout(retryTimer);
    window.clearTimeout(refillTimer);
  };
}
