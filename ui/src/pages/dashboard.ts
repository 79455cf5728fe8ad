// Dashboard: live charts of the last five minutes (one point per second)
// from the Server-Sent Events stream /api/v1/live, the last calls, and the
// call quality of the window. When the stream drops, the page polls
// /api/v1/stats/traffic until it is back. The parts: dashboard/live.ts (the
// feed), dashboard/window.ts (the time window's arithmetic),
// dashboard/quality.ts (the Call quality panel's arithmetic),
// dashboard/draw.ts (the drawing), dashboard/banner.ts (the alerts firing,
// from GET /api/v1/alerts?state=firing and the stream's `alert` events).
import { setFiringCount } from '../alert_count';
import { bannerSummary, FiringSet } from '../alerts';
import { apiTime, getAlerts, getCalls } from '../api';
import type { Cdr, LiveCallEvent } from '../types';
import { nsToMs } from '../util';
import { AlertBanner } from './dashboard/banner';
import { DashboardView, RecentCall } from './dashboard/draw';
import { LiveFeed } from './dashboard/live';
import { qualitySummary } from './dashboard/quality';
import { TrafficWindow } from './dashboard/window';

// Rows in the table of the last calls.
const RECENT_MAX = 15;
// The Call quality panel reads one page of the window's calls (the API's
// largest), after each poll of the feed, QUALITY_DELAY_MS after a call
// ends (the calls ending meanwhile share the read, and the writer has
// stored them by then) and every QUALITY_REFRESH_MS while the stream is
// up (`sipman serve` sends no call events).
const QUALITY_LIMIT = 500;
const QUALITY_DELAY_MS = 2000;
const QUALITY_REFRESH_MS = 30000;
// The banner reads the alerts firing when the page opens, when the stream
// opens (again), and every FIRING_REFRESH_MS besides the stream's events
// (which `sipman serve` may not send); at most FIRING_LIMIT of them.
const FIRING_REFRESH_MS = 30000;
const FIRING_LIMIT = 200;

export function renderDashboard(root: HTMLElement): () => void {
  const win = new TrafficWindow();
  const view = new DashboardView(root);
  const banner = new AlertBanner();
  root.prepend(banner.el);
  const recent: RecentCall[] = [];
  let concurrent = 0;

  // The Call quality panel: the calls last read (newest first), whether the
  // page was full, and the read last started (an older answer is dropped,
  // and every answer once the page is left).
  let quality: { calls: Cdr[]; full: boolean } | null = null;
  let qualityTimer = 0;
  let qualityRead = 0;
  let left = false;
  async function loadQuality(): Promise<void> {
    if (left) return;
    const read = ++qualityRead;
    try {
      const d = await getCalls({ from: apiTime(win.storedCallsFrom(Date.now())),
        limit: QUALITY_LIMIT });
      if (left || read !== qualityRead) return;
      quality = { calls: d.calls, full: d.calls.length >= QUALITY_LIMIT };
      drawQuality();
    } catch { /* 401 goes to login; the next read tries again */ }
  }
  // Calls that left the window as it moved on are left out without a read.
  const drawQuality = () => {
    if (quality) {
      view.drawQuality(qualitySummary(quality.calls, win.storedCallsFrom(Date.now()) * 1e6),
        quality.full, QUALITY_LIMIT);
    }
  };

  // The alerts firing: the banner and the navigation's badge.
  const firing = new FiringSet();
  let firingRead = 0;
  const drawBanner = () => {
    banner.draw(bannerSummary(firing));
    setFiringCount(firing.count, firing.severity);
  };
  async function loadFiring(): Promise<void> {
    if (left) return;
    const read = ++firingRead;
    firing.beginRead();
    try {
      const d = await getAlerts({ state: 'firing', limit: FIRING_LIMIT });
      if (left || read !== firingRead) return;
      firing.reset(d);
      drawBanner();
    } catch { /* 401 goes to login; a server without alerts shows no banner */ }
  }

  const addCall = ({ event, call }: LiveCallEvent) => {
    const atNs = event === 'end' ? (call.end_ts || call.invite_ts) : call.invite_ts;
    const at = nsToMs(atNs) || Date.now();
    win.addCallEvent(event, Date.now(), Math.floor(at / 1000));
    recent.unshift({ event, call, at });
    recent.length = Math.min(recent.length, RECENT_MAX);
    view.drawCalls(recent);
    if (event === 'end' && !qualityTimer) {
      qualityTimer = window.setTimeout(() => { qualityTimer = 0; void loadQuality(); },
        QUALITY_DELAY_MS);
    }
  };

  const feed = new LiveFeed({
    traffic: (row, fromStream) => win.addTraffic(row, fromStream, Date.now()),
    call: addCall,
    concurrent: (ev) => {
      concurrent = ev.calls;
      win.setConcurrent(concurrent, Date.now());
    },
    alert: (a) => { if (firing.apply(a)) drawBanner(); },
    opened: () => void loadFiring(),
    pollRange: () => win.pollRange(Date.now()),
    polled: () => void loadQuality(),
  });

  const draw = () => {
    view.drawWindow(win.view(Date.now()), concurrent, feed.status);
    drawQuality();
  };

  // The calls stored in the window (they ended before this page opened),
  // counted in the seconds they started and ended; the stream adds the rest.
  async function loadStoredCalls(): Promise<void> {
    try {
      const d = await getCalls({ from: apiTime(win.storedCallsFrom(Date.now())), sort: 'invite_ts',
        limit: 500 });
      for (const c of d.calls) win.addStoredCall(c.invite_ts, c.end_ts, Date.now());
    } catch { /* 401 goes to login; the stream still counts new calls */ }
  }

  // The newest stored calls start the table, unless the stream already
  // brought them.
  async function loadRecentCalls(): Promise<void> {
    const d = await getCalls({ sort: '-invite_ts', limit: RECENT_MAX });
    for (const c of d.calls.reverse()) {
      if (!recent.some((r) => r.call.id === c.id)) {
        recent.unshift({ event: c.end_ts > 0 ? 'end' : 'start', call: c,
          at: nsToMs(c.end_ts) || nsToMs(c.invite_ts) });
      }
    }
    recent.sort((a, b) => b.at - a.at);
    recent.length = Math.min(recent.length, RECENT_MAX);
    view.drawCalls(recent);
  }

  // Fill the window and the call list from stored data, then go live.
  void feed.poll().then(loadStoredCalls);
  loadRecentCalls().catch(() => {});
  void loadFiring();
  const firingRefresh = window.setInterval(() => void loadFiring(), FIRING_REFRESH_MS);
  feed.connect();
  view.drawCalls(recent);
  draw();
  const drawTimer = window.setInterval(draw, 1000);
  const qualityRefresh = window.setInterval(() => {
    if (feed.status === 'live') void loadQuality();
  }, QUALITY_REFRESH_MS);

  return () => {
    feed.stop();
    window.clearInterval(drawTimer);
    window.clearInterval(qualityRefresh);
    window.clearInterval(firingRefresh);
    window.clearTimeout(qualityTimer);
    left = true;
  };
}
