// Authentication and the user's own account: /api/v1/login, logout, me,
// tokens, password (docs/API.md, "Authentication").
import type { IsoTime, Ns, OkResponse } from './common';

// POST /api/v1/login (the session cookie comes with it).
export interface LoginResponse {
  user: string;
}

// POST /api/v1/logout.
export type LogoutResponse = OkResponse;

// GET /api/v1/me.
export interface MeResponse {
  user: string;
  auth: 'session' | 'token';
}

// An API token as GET /api/v1/tokens lists it (never the token itself).
// last_used is 0 / null until the token is first used (to the minute).
export interface ApiToken {
  id: number;
  name: string;
  created_ts: Ns;
  created_time: IsoTime;
  expires_ts: Ns;
  expires_time: IsoTime;
  last_used_ts: Ns;
  last_used_time: IsoTime | null;
}

// GET /api/v1/tokens: the user's tokens that have not expired, newest first.
export interface TokensResponse {
  tokens: ApiToken[];
}

// POST /api/v1/tokens: the only answer that carries the token in clear.
export interface TokenCreateResponse extends ApiToken {
  token: string;
  user: string;
}

// DELETE /api/v1/tokens/{id}.
export type TokenDeleteResponse = OkResponse;

// POST /api/v1/password.
export interface PasswordResponse {
  ok: boolean;
  sessions_ended: number;
  tokens_revoked: number;
}

// GET /healthz (text, not JSON, no authentication): "ok", or one line
// starting "degraded: ..." while database writes fail. The UI does not
// read it.
export type HealthzResponse = string;
