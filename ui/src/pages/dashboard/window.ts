// The dashboard's time window: the last WINDOW_S seconds of traffic, one
// sample per second, fed by the live stream and by stored rows, and where
// the window lies. Pure arithmetic: no DOM and no clock of its own (every
// method that needs the time takes the wall clock `nowMs`), so that
// tests/ui/window_test.sh can run it in Node.
import type { LiveTrafficEvent, Ns, TrafficRow } from '../../types';

// The window's length in seconds.
export const WINDOW_S = 300;

// One second of the window.
export interface Second {
  bytes: number;
  packets: number;
  messages: number;
  methods: Record<string, number>;
  classes: Record<string, number>;
  drops: number;
  callStarts: number;
  callEnds: number;
  concurrent?: number;  // set in the second a `concurrent` event came in
}

export function emptySecond(): Second {
  return { bytes: 0, packets: 0, messages: 0, methods: {}, classes: {}, drops: 0, callStarts: 0,
    callEnds: 0 };
}

// What the charts show: one x (ms) per second from the first second held
// (or the window's start) to its end, the seconds themselves (concurrent
// carried forward from the last second that set it), the x domain and the
// sums the KPIs show.
export interface WindowView {
  xs: number[];
  rows: Second[];
  domain: [number, number];
  last: Second;  // the newest second shown (empty when none)
  totals: { messages: number; callStarts: number; drops: number };
}

const nsToSecond = (ns: Ns) => (ns > 0 ? Math.floor(ns / 1e6 / 1000) : 0);
const wallSecond = (nowMs: number) => Math.floor(nowMs / 1000);

export class TrafficWindow {
  private readonly secs = new Map<number, Second>();
  // The oldest and the newest second received (0: none yet).
  private firstSec = 0;
  private lastSec = 0;
  // Capture time minus wall time, in seconds: the stream's seconds come a
  // little after they end, and a replayed capture has its own times.
  private skew = 0;

  get first(): number { return this.firstSec; }
  get last(): number { return this.lastSec; }
  get clockSkew(): number { return this.skew; }
  get size(): number { return this.secs.size; }
  get(s: number): Second | undefined { return this.secs.get(s); }

  // The second `s`, created when new. The newest second sets the clock
  // skew, unless it comes from stored data within the wall-clock window:
  // traffic that stopped a minute ago must not be drawn as if it were now.
  second(s: number, fromStream: boolean, nowMs: number): Second {
    let v = this.secs.get(s);
    if (!v) {
      v = emptySecond();
      this.secs.set(s, v);
      if (!this.firstSec || s < this.firstSec) this.firstSec = s;
    }
    if (s > this.lastSec) {
      this.lastSec = s;
      const wall = wallSecond(nowMs);
      if (fromStream || s < wall - WINDOW_S) this.skew = s - wall;
    }
    return v;
  }

  // The second a count without a capture time goes into: the newest second
  // received, else the capture clock's now.
  currentSecond(nowMs: number): number {
    return this.lastSec || wallSecond(nowMs) + this.skew;
  }

  // The capture clock's now, in ms.
  captureNowMs(nowMs: number): number {
    return nowMs + this.skew * 1000;
  }

  // One second of traffic, from the stream or a stored /stats/traffic row.
  // The last sample for a second wins (the stream sends an open second
  // again when it closes); the call counts stay.
  addTraffic(row: TrafficRow | LiveTrafficEvent, fromStream: boolean, nowMs: number): void {
    const s = nsToSecond(row.ts);
    if (!s) return;
    const cur = this.second(s, fromStream, nowMs);
    cur.bytes = row.bytes;
    cur.packets = row.packets;
    cur.messages = row.messages;
    cur.methods = { ...row.methods };
    cur.classes = { ...row.classes };
    cur.drops = row.kernel_drops + row.interface_drops;
  }

  // A call started or ended now (a `call` event): counted in the newest
  // second received, since a call's own times may lie before the window (a
  // long call ending). Before any second, the call's own capture second
  // (`captureSecond`, 0 when unknown) sets the capture clock: a replay's
  // first event may be a call, and wall time would then hide its traffic.
  addCallEvent(event: 'start' | 'end', nowMs: number, captureSecond = 0): void {
    const s = this.lastSec || captureSecond || this.currentSecond(nowMs);
    const cur = this.second(s, true, nowMs);
    if (event === 'end') cur.callEnds += 1; else cur.callStarts += 1;
  }

  // The calls up now (a `concurrent` event), placed in the newest capture
  // second: the event's ts is wall-clock time, which differs from capture
  // time when a capture file is replayed.
  setConcurrent(calls: number, nowMs: number): void {
    this.second(this.currentSecond(nowMs), true, nowMs).concurrent = calls;
  }

  // A stored call, counted in the seconds it started and ended (0: not yet).
  addStoredCall(inviteTs: Ns, endTs: Ns, nowMs: number): void {
    const start = nsToSecond(inviteTs);
    if (start) this.second(start, false, nowMs).callStarts += 1;
    const end = nsToSecond(endTs);
    if (end) this.second(end, false, nowMs).callEnds += 1;
  }

  // The range (ms) to read from /stats/traffic to fill the window: the
  // window up to the capture clock's now, and one second beyond it.
  pollRange(nowMs: number): { from: number; to: number } {
    const now = this.captureNowMs(nowMs);
    return { from: now - WINDOW_S * 1000, to: now + 1000 };
  }

  // The INVITE time (ms) from which stored calls fall in the window.
  storedCallsFrom(nowMs: number): number {
    return this.captureNowMs(nowMs) - WINDOW_S * 1000;
  }

  // The window, in seconds: it ends at the newest second received while
  // seconds keep coming (`sipman run` sends each second about a second
  // after it ends, and again when it closes; `sipman serve` stored, closed
  // seconds only), so the seconds after it are not known yet rather than
  // zero; it moves on over empty seconds only when none came for a few
  // seconds (the traffic stopped). `from` is where the data starts, at
  // most the window's start.
  range(nowMs: number): { start: number; end: number; from: number } {
    const end = this.lastSec ? Math.max(this.lastSec, wallSecond(nowMs) + this.skew - 2)
      : wallSecond(nowMs);
    const start = end - WINDOW_S + 1;
    return { start, end, from: Math.max(start, this.firstSec || end) };
  }

  // The window to draw; forgets the seconds more than 5 s before it.
  view(nowMs: number): WindowView {
    const { start, end, from } = this.range(nowMs);
    for (const k of this.secs.keys()) if (k < start - 5) this.secs.delete(k);
    const xs: number[] = [];
    const rows: Second[] = [];
    let conc = 0;
    for (let t = from; t <= end; t++) {
      xs.push(t * 1000);
      const v = this.secs.get(t) ?? emptySecond();
      if (v.concurrent !== undefined) conc = v.concurrent;
      rows.push({ ...v, concurrent: conc });
    }
    const sum = (f: (r: Second) => number) => rows.reduce((a, r) => a + f(r), 0);
    return {
      xs, rows, domain: [start * 1000, end * 1000],
      last: rows[rows.length - 1] ?? emptySecond(),
      totals: { messages: sum((r) => r.messages), callStarts: sum((r) => r.callStarts),
        drops: sum((r) => r.drops) },
    };
  }
}
