// The live stream's `alert` events (GET /api/v1/live, types/live.ts) for a
// page that wants only those (the Alerts page; the dashboard reads them
// through its LiveFeed). When the stream closes (refused: 503 past a user's
// streams) it is opened again after RETRY_MS; `opened` runs at every open,
// for the page to read again what it may have missed.
import { openLiveStream } from './api';
import type { Alert } from './types';

export type StreamStatus = 'connecting' | 'live' | 'down';

const RETRY_MS = 5000;

export class AlertStream {
  status: StreamStatus = 'connecting';
  private es: EventSource | null = null;
  private retryTimer = 0;
  private stopped = false;

  constructor(private readonly on: { alert(a: Alert): void; opened(): void; status(s: StreamStatus): void }) {}

  connect(): void {
    if (this.stopped) return;
    const es = openLiveStream();
    this.es = es;
    es.onopen = () => {
      this.setStatus('live');
      this.on.opened();
    };
    es.addEventListener('alert', (e) => {
      let d: Alert | null = null;
      try {
        d = JSON.parse((e as MessageEvent<string>).data) as Alert;
      } catch { /* not JSON */ }
      if (d && typeof d === 'object') this.on.alert(d);
    });
    es.onerror = () => {
      this.setStatus('down');
      if (this.es && this.es.readyState === EventSource.CLOSED) {
        this.es = null;
        window.clearTimeout(this.retryTimer);
        this.retryTimer = window.setTimeout(() => this.connect(), RETRY_MS);
      }
    };
  }

  private setStatus(s: StreamStatus): void {
    if (s === this.status) return;
    this.status = s;
    this.on.status(s);
  }

  stop(): void {
    this.stopped = true;
    this.es?.close();
    window.clearTimeout(this.retryTimer);
  }
}
