// Registrations: GET /api/v1/registrations and /registrations/current
// (docs/API.md, "Registrations").
import type { IsoTime, Ns } from './common';

export type RegistrationResult = 'success' | 'unregistered' | 'failed' | 'expired';

// One registration attempt (REG).
export interface Registration {
  id: number;
  call_id: string;
  sensor: string;
  aor: string;
  contact: string;
  src_ip: string;
  src_port: number;
  user_agent: string;
  expires: number;           // seconds; negative: not known
  result: RegistrationResult;
  status_code: number;       // 0: no final response
  challenges: number;
  request_delay_ms: number;  // negative: not known
  first_seen: Ns;
  first_seen_time: IsoTime;
  last_seen: Ns;
  last_seen_time: IsoTime;
}

// GET /api/v1/registrations: the history, newest first, one page.
export interface RegistrationsResponse {
  registrations: Registration[];
  next_cursor: string | null;
}

// GET /api/v1/registrations/current: the bindings in force (no paging).
export interface RegistrationsCurrentResponse {
  registrations: Registration[];
}
