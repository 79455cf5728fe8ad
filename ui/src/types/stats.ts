// Statistics: GET /api/v1/stats/{summary,periods,top,quality,traffic} (docs/API.md,
// "Statistics"; written by src/web/api_stats.cc, formulas in
// docs/METRICS.md).
import type { IsoTime, Ns } from './common';

// Calls and answered calls for one key (a state, a status code, a user ...).
export interface KeyCount {
  key: string;
  calls: number;
  answered: number;
}

// A distribution of delays or durations in ms: count 0 gives nulls.
export interface Distribution {
  count: number;
  mean_ms: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

export interface DurationBucket {
  lower_ms: number;
  upper_ms: number | null;  // null: open upwards
  calls: number;
}

// GET /api/v1/stats/summary: `CallSummary` of src/store/analytics.h, flat.
// The ratios are percent, null without a denominator.
export interface StatsSummaryResponse {
  calls: number;
  by_state: KeyCount[];
  by_status: KeyCount[];
  invites_200: number;
  invites_2xx: number;
  invites_3xx: number;
  invites_effective: number;
  invites_ineffective: number;
  completed: number;
  network_effective: number;
  ser: number | null;
  seer: number | null;
  isa: number | null;
  scr: number | null;
  asr: number | null;
  ner: number | null;
  srd_successful: Distribution;
  srd_failed: Distribution;
  sdd: Distribution;
  sdt: Distribution;
  acd_ms: number | null;
  post_dial_delay: Distribution;
  duration: Distribution;
  duration_histogram: DurationBucket[];
  registrations: number;
  registrations_ineffective: number;
  ira: number | null;
  rrd: Distribution;
}

// The keys of the summary that hold a Distribution.
export type DistributionKey = 'srd_successful' | 'srd_failed' | 'sdd' | 'sdt' |
  'post_dial_delay' | 'duration' | 'rrd';

// The keys of the summary that hold a ratio.
export type RatioKey = 'ser' | 'seer' | 'isa' | 'scr' | 'asr' | 'ner' | 'ira';

export type PeriodBy = 'hour' | 'day' | 'week';

export interface PeriodRow {
  start_ts: Ns;
  start_time: IsoTime;
  calls: number;
  answered: number;
  duration_ms_sum: number;
}

// GET /api/v1/stats/periods?by=hour|day|week: periods with calls, in time
// order.
export interface StatsPeriodsResponse {
  by: PeriodBy;
  periods: PeriodRow[];
}

export type TopBy = 'caller' | 'callee' | 'user' | 'ip' | 'agent';

// GET /api/v1/stats/top?by=...&limit=N.
export interface StatsTopResponse {
  by: TopBy;
  top: KeyCount[];
}

// How GET /api/v1/stats/quality groups the streams: by codec, media
// source or destination IP, or UTC period of their first packet.
export type QualityBy = 'codec' | 'src_ip' | 'dst_ip' | 'hour' | 'day' | 'week';

// One group of RTP streams (docs/METRICS.md, "Media quality report"):
// `key` is the codec or IP ("" for periods), `start_ts` the period's start
// (0 otherwise); the averages are null without data.
export interface QualityRow {
  key: string;
  start_ts: Ns;
  start_time: IsoTime | null;
  streams: number;
  packets: number;
  expected: number;
  lost: number;
  loss_pct: number | null;
  mean_jitter_ms: number | null;
  max_jitter_ms: number;
  mos_streams: number;           // the streams with a MOS
  mos_avg: number | null;        // weighted by packets
  mos_min: number | null;
  poor_streams: number;          // MOS below 3.6
}

// GET /api/v1/stats/quality?by=...&limit=N: codecs and IPs by streams
// (cut to limit), periods in time order.
export interface StatsQualityResponse {
  by: QualityBy;
  rows: QualityRow[];
}

export type TrafficStep = 'second' | 'minute' | 'hour';

// The SIP methods counted, in this order (stats::kMethodNames).
export type SipMethod = 'INVITE' | 'ACK' | 'BYE' | 'CANCEL' | 'REGISTER' | 'OPTIONS' | 'PRACK' |
  'SUBSCRIBE' | 'NOTIFY' | 'PUBLISH' | 'INFO' | 'REFER' | 'MESSAGE' | 'UPDATE' | 'OTHER';
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | '6xx';

// One period of traffic (a row of stats_second / stats_minute /
// stats_hour, sensors summed). `bytes` counts whole frames, `sip_bytes`
// the SIP text; `codes` holds only the status codes seen.
export interface TrafficRow {
  ts: Ns;  // the period's start
  time: IsoTime;
  packets: number;
  bytes: number;
  sip_bytes: number;
  messages: number;
  requests: number;
  responses: number;
  methods: Record<SipMethod, number>;
  classes: Record<StatusClass, number>;
  codes: Record<string, number>;
  kernel_drops: number;
  interface_drops: number;
  tls_connections: number;
  tls_bytes: number;
}

export interface RatePeak {
  average: number;
  peak: number;
  peak_ts: Ns;
  peak_time: IsoTime | null;
}

export interface TrafficSummary {
  first_ts: Ns;
  first_time: IsoTime | null;
  last_ts: Ns;
  last_time: IsoTime | null;
  span_seconds: number;
  totals: TrafficRow;
  bytes_per_second: RatePeak;
  messages_per_second: RatePeak;
  calls: number;
  calls_per_second: RatePeak;
  concurrent_calls: RatePeak;
}

// GET /api/v1/stats/traffic?step=second|minute|hour: the rows whose
// period starts in the range, in time order, and the summary over it.
export interface StatsTrafficResponse {
  step: TrafficStep;
  rows: TrafficRow[];
  summary: TrafficSummary;
}
