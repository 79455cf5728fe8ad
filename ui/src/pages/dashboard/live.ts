// The dashboard's live feed: the Server-Sent Events stream GET
// /api/v1/live (types/live.ts), and while it is down, polling GET
// /api/v1/stats/traffic every 2 s; the stream is tried again every 5 s.
// Its `alert` events go to the alert banner.
import { apiTime, getStatsTraffic, openLiveStream } from '../../api';
import type { LiveAlertEvent, LiveCallEvent, LiveConcurrentEvent, LiveEvents, LiveTrafficEvent,
  TrafficRow } from '../../types';

export type FeedStatus = 'connecting' | 'live' | 'polling';

export interface FeedHandlers {
  // A second of traffic: from the stream (fromStream) or a stored row.
  traffic(row: LiveTrafficEvent | TrafficRow, fromStream: boolean): void;
  call(ev: LiveCallEvent): void;
  concurrent(ev: LiveConcurrentEvent): void;
  // An alert fired or resolved.
  alert?(ev: LiveAlertEvent): void;
  // The stream opened (again): what it may have missed is read again.
  opened?(): void;
  // The range (ms) a poll reads.
  pollRange(): { from: number; to: number };
  // After each poll (read or failed): the page's other periodic reads.
  polled?(): void;
}

const POLL_MS = 2000;
const RETRY_MS = 5000;
// Seconds closed before the stream opened but not yet in the database when
// the page read it are read again this long after it opens.
const REFILL_MS = 5000;

// The data of a stream event, or null when it is not JSON.
function parse<K extends keyof LiveEvents>(e: Event): LiveEvents[K] | null {
  try {
    return JSON.parse((e as MessageEvent<string>).data) as LiveEvents[K];
  } catch {
    return null;
  }
}

export class LiveFeed {
  status: FeedStatus = 'connecting';
  private es: EventSource | null = null;
  private pollTimer = 0;
  private retryTimer = 0;
  private refillTimer = 0;
  private stopped = false;

  constructor(private readonly on: FeedHandlers) {}

  // Reads the window's stored seconds once.
  async poll(): Promise<void> {
    const { from, to } = this.on.pollRange();
    try {
      const d = await getStatsTraffic({ from: apiTime(from), to: apiTime(to), step: 'second' });
      for (const r of d.rows) this.on.traffic(r, false);
    } catch { /* shown by the status; 401 goes to login */ }
    this.on.polled?.();
  }

  private startPolling(): void {
    this.status = 'polling';
    if (!this.pollTimer) {
      void this.poll();
      this.pollTimer = window.setInterval(() => void this.poll(), POLL_MS);
    }
  }

  private stopPolling(): void {
    window.clearInterval(this.pollTimer);
    this.pollTimer = 0;
  }

  connect(): void {
    if (this.stopped) return;
    const es = openLiveStream();
    this.es = es;
    es.onopen = () => {
      this.status = 'live';
      this.stopPolling();
      window.clearTimeout(this.refillTimer);
      this.refillTimer = window.setTimeout(() => void this.poll(), REFILL_MS);
      this.on.opened?.();
    };
    es.addEventListener('traffic', (e) => {
      const d = parse<'traffic'>(e);
      if (d) this.on.traffic(d, true);
    });
    es.addEventListener('call', (e) => {
      const d = parse<'call'>(e);
      if (d) this.on.call(d);
    });
    es.addEventListener('concurrent', (e) => {
      const d = parse<'concurrent'>(e);
      if (d) this.on.concurrent(d);
    });
    es.addEventListener('alert', (e) => {
      const d = parse<'alert'>(e);
      if (d) this.on.alert?.(d);
    });
    es.onerror = () => {
      this.startPolling();
      if (this.es && this.es.readyState === EventSource.CLOSED) {
        this.es = null;
        window.clearTimeout(this.retryTimer);
        this.retryTimer = window.setTimeout(() => this.connect(), RETRY_MS);
      }
    };
  }

  stop(): void {
    this.stopped = true;
    this.es?.close();
    this.stopPolling();
    window.clearTimeout(this.retryTimer);
    window.clearTimeout(this.refillTimer);
  }
}
