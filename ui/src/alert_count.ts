// The number of alerts firing now, for the badge beside "Alerts" in the
// navigation: read from GET /api/v1/alerts?state=firing when a page opens
// (at most every MIN_READ_MS) and every REFRESH_MS, and set by the pages
// that keep it from the live stream (the dashboard, the Alerts page). A
// server without alerts (404) is not asked again.
import { ApiError, getAlerts } from './api';
import { worstSeverity } from './alerts';
import type { AlertSeverity } from './types';

export interface FiringCount {
  count: number;
  severity: AlertSeverity | '';  // the worst of those listed
}

const MIN_READ_MS = 15000;
export const REFRESH_MS = 60000;
// The alerts read to know the worst severity.
const READ_LIMIT = 50;

let current: FiringCount = { count: 0, severity: '' };
let lastRead = 0;
let missing = false;
const listeners = new Set<(c: FiringCount) => void>();

export function setFiringCount(count: number, severity: AlertSeverity | ''): void {
  lastRead = Date.now();
  if (count === current.count && severity === current.severity) return;
  current = { count, severity };
  for (const fn of listeners) fn(current);
}

// Calls `fn` with the count now and at every change; returns the
// unsubscription.
export function onFiringCount(fn: (c: FiringCount) => void): () => void {
  listeners.add(fn);
  fn(current);
  return () => { listeners.delete(fn); };
}

// Reads the count, unless it was read or set less than MIN_READ_MS ago
// (`force`: whatever the age).
export async function refreshFiringCount(force = false): Promise<void> {
  if (missing || (!force && Date.now() - lastRead < MIN_READ_MS)) return;
  lastRead = Date.now();
  try {
    const d = await getAlerts({ state: 'firing', limit: READ_LIMIT });
    setFiringCount(d.firing, worstSeverity(d.alerts));
  } catch (e) {
    // A failed read (a 401 before the login, say) does not hold back the next.
    lastRead = 0;
    if (e instanceof ApiError && e.status === 404) missing = true;
  }
}
