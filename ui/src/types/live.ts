// The live stream GET /api/v1/live (Server-Sent Events, docs/API.md "Live
// stream"; written by src/web/live.cc). Each event's data is one JSON
// object; the event name says which.
import type { Alert } from './alerts';
import type { Cdr } from './calls';
import type { Ns } from './common';
import type { TrafficRow } from './stats';

// event: traffic. One second, in the shape of a /stats/traffic row.
// `final` false: the counts so far of a second still open (`sipman run`
// sends it again, final, when it closes; the last event for a `ts` wins).
// Until live.cc writes `codes` too, the events lack it: the UI does not
// read `codes` from the stream.
export type LiveTrafficEvent = TrafficRow & { final: boolean };

// The call of a `call` event: the CDR fields known when the call starts or
// ends. No `id`: the call may not be stored yet.
export type LiveCall = Pick<Cdr, 'call_id' | 'sensor' | 'caller_user' | 'callee_user' | 'src_ip' |
  'dst_ip' | 'invite_ts' | 'invite_time' | 'answer_ts' | 'end_ts' | 'duration_ms' |
  'final_status' | 'state'>;

// event: call.
export interface LiveCallEvent {
  event: 'start' | 'end';
  call: LiveCall;
}

// event: concurrent. `ts` is wall-clock time (not capture time).
export interface LiveConcurrentEvent {
  ts: Ns;
  calls: number;
}

// event: alert. An alert fired or resolved, in the shape of a row of
// GET /api/v1/alerts.
export type LiveAlertEvent = Alert;

// The event names and their data.
export interface LiveEvents {
  traffic: LiveTrafficEvent;
  call: LiveCallEvent;
  concurrent: LiveConcurrentEvent;
  alert: LiveAlertEvent;
}
