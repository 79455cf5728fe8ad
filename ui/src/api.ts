// Access to the JSON API under /api/v1/ (docs/API.md): one function per
// endpoint, returning that endpoint's answer type (./types). Every request
// sends the session cookie; a 401 anywhere sends the user to the login page
// and brings them back to where they were after logging in.
import type {
  AlertRulesResponse, AlertsResponse, CallResponse, CallsResponse, ErrorResponse, LoginResponse, LogoutResponse, MeResponse,
  PasswordResponse, PeriodBy, QualityBy, RegistrationsCurrentResponse, RegistrationsResponse,
  StatsPeriodsResponse, StatsQualityResponse, StatsSummaryResponse, StatsTopResponse,
  StatsTrafficResponse,
  TokenCreateResponse, TokenDeleteResponse, TokensResponse, TopBy, TrafficStep,
} from './types';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly retryAfter = 0) {
    super(message);
  }
}

export type Params = Record<string, string | number | null | undefined>;

// Times go to the API as ISO 8601 UTC with milliseconds
// ("2026-11-25T10:00:00.000Z"), which the server accepts beside integer
// nanoseconds; the UI has no finer times to send.
export function apiTime(ms: number): string {
  return new Date(Math.round(ms)).toISOString();
}

export function buildUrl(path: string, params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    q.set(k, String(v));
  }
  const qs = q.toString();
  return `/api/v1/${path}${qs ? `?${qs}` : ''}`;
}

let onUnauthorized: () => void = () => {};

export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

async function errorFrom(res: Response): Promise<ApiError> {
  let msg = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as ErrorResponse;
    if (body && typeof body.error === 'string' && body.error) msg = body.error;
  } catch { /* not JSON (a proxy's error page) */ }
  const retry = Number(res.headers.get('Retry-After') ?? 0) || 0;
  return new ApiError(res.status, msg, retry);
}

async function apiGet<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const res = await fetch(buildUrl(path, params), {
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    signal,
  });
  if (res.status === 401) {
    onUnauthorized();
    throw new ApiError(401, 'not logged in');
  }
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

// POST and DELETE share the 401 handling; `handle401` false is for the
// login and logout requests, whose 401 is an answer, not a lost session.
async function send<T>(method: string, path: string, body: unknown,
                       handle401: boolean): Promise<T> {
  const res = await fetch(buildUrl(path), {
    method,
    credentials: 'same-origin',
    // JSON content type on every write: the server refuses a cookie-carrying
    // POST without it (a cross-site form cannot send it).
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401 && handle401) onUnauthorized();
  if (!res.ok) throw await errorFrom(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

function apiPost<T>(path: string, body: unknown, handle401 = true): Promise<T> {
  return send<T>('POST', path, body, handle401);
}

function apiDelete<T>(path: string, handle401 = true): Promise<T> {
  return send<T>('DELETE', path, undefined, handle401);
}

// --- Authentication and account ---------------------------------------

// POST /api/v1/login: its 401 is the answer "wrong name or password".
export const login = (username: string, password: string) =>
  apiPost<LoginResponse>('login', { username, password }, false);

// POST /api/v1/logout.
export const logout = () => apiPost<LogoutResponse>('logout', {}, false);

// GET /api/v1/me.
export const getMe = (signal?: AbortSignal) => apiGet<MeResponse>('me', {}, signal);

// GET /api/v1/tokens.
export const getTokens = (signal?: AbortSignal) => apiGet<TokensResponse>('tokens', {}, signal);

// POST /api/v1/tokens.
export const createToken = (body: { name: string; password: string; expires_days: number }) =>
  apiPost<TokenCreateResponse>('tokens', body);

// DELETE /api/v1/tokens/{id}.
export const deleteToken = (id: number) =>
  apiDelete<TokenDeleteResponse>(`tokens/${encodeURIComponent(String(id))}`);

// POST /api/v1/password.
export const changePassword = (body: { current_password: string; new_password: string }) =>
  apiPost<PasswordResponse>('password', body);

// --- Calls ------------------------------------------------------------

// GET /api/v1/calls (filters, sort, limit, cursor: docs/API.md).
export const getCalls = (params: Params, signal?: AbortSignal) =>
  apiGet<CallsResponse>('calls', params, signal);

// GET /api/v1/calls/{id}.
export const getCall = (id: string, signal?: AbortSignal) =>
  apiGet<CallResponse>(`calls/${encodeURIComponent(id)}`, {}, signal);

// GET /api/v1/calls/{id}/pcap is a download: its URL.
export const callPcapUrl = (id: string | number) =>
  `/api/v1/calls/${encodeURIComponent(String(id))}/pcap`;

// --- Registrations ----------------------------------------------------

// GET /api/v1/registrations.
export const getRegistrations = (params: Params, signal?: AbortSignal) =>
  apiGet<RegistrationsResponse>('registrations', params, signal);

// GET /api/v1/registrations/current.
export const getRegistrationsCurrent = (params: Params, signal?: AbortSignal) =>
  apiGet<RegistrationsCurrentResponse>('registrations/current', params, signal);

// --- Statistics (from, to, sensor) --------------------------------------

// GET /api/v1/stats/summary.
export const getStatsSummary = (params: Params, signal?: AbortSignal) =>
  apiGet<StatsSummaryResponse>('stats/summary', params, signal);

// GET /api/v1/stats/periods.
export const getStatsPeriods = (params: Params & { by: PeriodBy }, signal?: AbortSignal) =>
  apiGet<StatsPeriodsResponse>('stats/periods', params, signal);

// GET /api/v1/stats/top.
export const getStatsTop = (params: Params & { by: TopBy; limit?: number }, signal?: AbortSignal) =>
  apiGet<StatsTopResponse>('stats/top', params, signal);

// GET /api/v1/stats/quality.
export const getStatsQuality = (params: Params & { by: QualityBy; limit?: number },
  signal?: AbortSignal) => apiGet<StatsQualityResponse>('stats/quality', params, signal);

// GET /api/v1/stats/traffic.
export const getStatsTraffic = (params: Params & { step: TrafficStep }, signal?: AbortSignal) =>
  apiGet<StatsTrafficResponse>('stats/traffic', params, signal);

// --- Alerts -------------------------------------------------------------

// GET /api/v1/alerts (state, rule, key, severity, from, to, limit).
export const getAlerts = (params: Params, signal?: AbortSignal) =>
  apiGet<AlertsResponse>('alerts', params, signal);

// GET /api/v1/alerts/rules.
export const getAlertRules = (signal?: AbortSignal) =>
  apiGet<AlertRulesResponse>('alerts/rules', {}, signal);

// --- Live stream --------------------------------------------------------

// GET /api/v1/live: the Server-Sent Events stream (types/live.ts).
export const openLiveStream = () => new EventSource('/api/v1/live', { withCredentials: true });

