// Access to the JSON API under /api/v1/ (docs/API.md). Every request sends
// the session cookie; a 401 anywhere sends the user to the login page and
// brings them back to where they were after logging in.

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
    const body = await res.json();
    if (body && typeof body === 'object') {
      const e = (body as Record<string, unknown>).error ?? (body as Record<string, unknown>).message;
      if (e) msg = typeof e === 'string' ? e : JSON.stringify(e);
    }
  } catch { /* not JSON */ }
  const retry = Number(res.headers.get('Retry-After') ?? 0) || 0;
  return new ApiError(res.status, msg, retry);
}

export async function apiGet<T = unknown>(path: string, params: Params = {},
                                          signal?: AbortSignal): Promise<T> {
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

export function apiPost<T = unknown>(path: string, body: unknown, handle401 = true): Promise<T> {
  return send<T>('POST', path, body, handle401);
}

export function apiDelete<T = unknown>(path: string, handle401 = true): Promise<T> {
  return send<T>('DELETE', path, undefined, handle401);
}

// GET /api/v1/me.
export interface Me {
  user: string;
  auth: 'session' | 'token';
}

// An API token as GET /api/v1/tokens lists it (never the token itself).
// Each time as the API gives every time: nanoseconds (`_ts`) and ISO 8601
// UTC (`_time`); last_used is 0 / null until the token is first used.
export interface ApiToken {
  id: number;
  name: string;
  created_ts: number;
  created_time: string;
  expires_ts: number;
  expires_time: string;
  last_used_ts: number;
  last_used_time: string | null;
}

export interface TokenList {
  tokens: ApiToken[];
}

// POST /api/v1/tokens: the only answer that carries the token in clear.
export interface CreatedToken extends ApiToken {
  token: string;
  user: string;
}

// POST /api/v1/password.
export interface PasswordChanged {
  ok: boolean;
  sessions_ended: number;
  tokens_revoked: number;
}

// A call detail record: the columns of the `calls` table (docs/SCHEMA.md).
export interface Cdr {
  id: number;
  call_id: string;
  sensor?: string;
  also_seen_by?: string;
  caller_user: string;
  caller_display?: string;
  caller_domain?: string;
  callee_user: string;
  callee_domain?: string;
  src_ip: string;
  src_port?: number;
  dst_ip: string;
  dst_port?: number;
  transport?: string;
  invite_ts: number | string;
  answer_ts?: number | string;
  end_ts?: number | string;
  duration_ms: number;
  state: string;
  final_status: number;
  final_reason?: string;
  hangup_by?: string;
  caller_media?: unknown;
  callee_media?: unknown;
  [k: string]: unknown;
}

export interface SipMessage {
  ts: number | string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  transport?: string;
  method?: string;
  status?: number;
  reason?: string;
  first_line?: string;
  cseq?: number | string;
  raw?: string;
}

export interface CallDetail {
  call: Cdr;
  messages: SipMessage[];
  sdp?: unknown[];
}
