// Shapes shared by several endpoints (docs/API.md, "Conventions").

// A time as the API sends it: integer nanoseconds since the epoch (the
// database unit); 0 means "none". Beyond 2^53 a JavaScript number loses the
// last digits, which no page needs.
export type Ns = number;

// The same time as ISO 8601 UTC with milliseconds, "2026-11-24T04:22:11.531Z",
// sent beside every `*_ts` as `*_time` (`ts` beside `time`); null when the
// time is 0.
export type IsoTime = string;

// Every error answer (4xx, 5xx): `{"error": "..."}`. A rate-limited login
// or password check (429) adds the seconds to wait, also sent as the
// Retry-After header.
export interface ErrorResponse {
  error: string;
  retry_after_s?: number;
}

// The answer of a write that returns nothing else (logout, token revoke).
export interface OkResponse {
  ok: boolean;
}
