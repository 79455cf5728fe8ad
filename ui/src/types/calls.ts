// Calls: GET /api/v1/calls and GET /api/v1/calls/{id} (docs/API.md,
// "Calls"; the columns are those of the `calls` table, docs/SCHEMA.md).
import type { IsoTime, Ns } from './common';

export type CallState = 'answered' | 'busy' | 'cancelled' | 'no_answer' | 'failed' |
  'in_progress' | 'timed_out';

// One media line of a side's SDP as the CDR keeps it.
export interface CdrMedia {
  type: string;
  address: string;
  port: number;
  codecs: string;  // "PCMU/8000,telephone-event/8000"
}

// A call detail record: `id` (the row id of the URLs), every column of
// `calls` under its name, and `also_seen_by`. Strings are "" when unknown,
// numbers 0 (the `*_delay_ms` -1), every `*_time` null when its `*_ts` is 0.
export interface Cdr {
  id: number;
  call_id: string;
  sensor: string;
  also_seen_by: string;
  caller_user: string;
  caller_display: string;
  caller_domain: string;
  caller_tag: string;
  pai_user: string;
  callee_user: string;
  ruri_user: string;
  callee_domain: string;
  callee_tag: string;
  diversion_user: string;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  transport: string;
  invite_ts: Ns;
  invite_time: IsoTime;
  first_provisional_ts: Ns;
  first_provisional_time: IsoTime | null;
  first_18x_ts: Ns;
  first_18x_time: IsoTime | null;
  answer_ts: Ns;
  answer_time: IsoTime | null;
  ack_ts: Ns;
  ack_time: IsoTime | null;
  bye_ts: Ns;
  bye_time: IsoTime | null;
  cancel_ts: Ns;
  cancel_time: IsoTime | null;
  final_ts: Ns;
  final_time: IsoTime | null;
  end_ts: Ns;
  end_time: IsoTime | null;
  duration_ms: number;
  connect_ms: number;
  post_dial_delay_ms: number;
  disconnect_delay_ms: number;
  final_status: number;
  final_reason: string;
  state: CallState;
  hangup_by: string;
  reason_protocol: string;
  reason_cause: number;
  reason_text: string;
  caller_media_types: string;
  caller_media: CdrMedia[];
  callee_media_types: string;
  callee_media: CdrMedia[];
  caller_user_agent: string;
  callee_user_agent: string;
  message_count: number;
  retransmissions: number;
  byte_count: number;
  auth_challenges: number;
  correlation_id: string;
  linked_call_id: string;
  // The RTP measured (docs/SCHEMA.md, calls): "caller_rtp_*" is what the
  // caller sent (caller -> callee), "callee_rtp_*" what the callee sent.
  caller_rtp_codec: string;          // its busiest stream's codec, "PCMA"; "" without RTP
  callee_rtp_codec: string;
  caller_rtp_packets: number;        // every stream of the direction
  callee_rtp_packets: number;
  caller_rtp_lost: number;           // RFC 3550 A.1: expected minus distinct received
  callee_rtp_lost: number;
  caller_rtp_loss_pct: number;       // lost over expected, in %
  callee_rtp_loss_pct: number;
  caller_rtp_max_jitter_ms: number;  // highest RFC 3550 interarrival jitter
  callee_rtp_max_jitter_ms: number;
  caller_mos_min: number;            // E-model MOS, 1 to 4.5; -1 when not computable
  caller_mos_avg: number;            // weighted by packets; -1 likewise
  callee_mos_min: number;
  callee_mos_avg: number;
  mos_min: number;                   // the lower of the two directions' minimum; -1 for neither
  rtp_streams: number;               // streams joined to the call (one per SSRC and addresses)
  first_rtp_ms: number;              // answer to first RTP, 0 for early media; -1 for none
  media_flags: string;               // comma-separated MediaFlag names, "" for none
}

// The names `media_flags` holds, in this order when several apply.
export type MediaFlag = 'one_way' | 'no_media' | 'unexpected_source' | 'after_bye' |
  'codec_not_in_answer';

// GET /api/v1/calls: one page of calls; next_cursor is null on the last.
export interface CallsResponse {
  calls: Cdr[];
  next_cursor: string | null;
}

// When a message was captured, and between which addresses: shared by a
// call's messages and the SDP found in them.
export interface MessagePlace {
  ts: Ns;
  time: IsoTime;
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
}

// A stored SIP message of a call (GET /api/v1/calls/{id}, `messages`).
// Responses carry `status` and, as `method`, their CSeq method; requests
// have status 0.
export interface CallMessage extends MessagePlace {
  id: number;
  transport: string;
  is_request: boolean;
  method: string;
  status: number;
  cseq: number;
  first_line: string;
  size: number;
  raw: string;
}

export interface SdpCodec {
  payload_type: number;
  name: string;
  clock_rate: number;
}

export interface SdpMedia {
  type: string;
  address: string;
  port: number;
  protocol: string;
  direction: string;
  formats: string;  // the m= line's payload types, "0 101"
  codecs: SdpCodec[];
}

// One message's SDP body (GET /api/v1/calls/{id}, `sdp`); message_index
// points into `messages`.
export interface CallSdp extends MessagePlace {
  message_index: number;
  message_id: number;
  side: 'caller' | 'callee';
  origin_address: string;
  media: SdpMedia[];
}

// The names a stream's `flags` hold (docs/METRICS.md, "RTP streams").
export type StreamFlag = 'unexpected_source' | 'codec_not_in_answer' | 'rtcp_only';

// A stream's figures per interval of capture time (docs/METRICS.md, "Per
// 10-second interval"): parallel arrays, interval i covering
// [start_ts + i * width_s, start_ts + (i + 1) * width_s) in seconds since
// the epoch. `lost` is signed (a packet late across an interval's end
// counts -1 in the next); `mos` null where none (no packets, or a codec
// without E-model figures).
export interface StreamIntervals {
  start_ts: number;  // seconds since the epoch, a multiple of 10 (not ns)
  width_s: number;   // 10, or 20, 40, ... for long streams
  packets: number[];
  expected: number[];
  lost: number[];
  late: number[];
  max_jitter_ms: number[];
  mos: (number | null)[];
}

// One RTP stream of a call (GET /api/v1/calls/{id}, `streams`; a row of
// `rtp_streams`, docs/SCHEMA.md): one SSRC from one address to another.
// `sender` is who sent it in `call_id`'s call; a B2BUA's other leg lists
// the stream with this call as `other_call_id` and the side there as
// `other_sender`. The figures are media's (src/media/media.h,
// SIPMAN_STREAM_COUNTS and SIPMAN_STREAM_MEASURES), MOS and the RTCP
// figures -1 when none.
export interface RtpStream {
  sensor: string;
  call_id: string;
  sender: 'caller' | 'callee' | '';
  other_call_id: string;
  other_sender: 'caller' | 'callee' | '';
  src_ip: string;
  src_port: number;
  dst_ip: string;
  dst_port: number;
  ssrc: number;
  ssrc_hex: string;              // "0x0A0B0C0D"
  codec: string;
  payload_type: number;
  clock_rate: number;
  payload_types: string[];       // every payload type seen, ["0", "101"]
  first_ts: Ns;
  first_time: IsoTime | null;
  last_ts: Ns;
  last_time: IsoTime | null;
  /** The first interval's start and the intervals' width (as in `intervals`). */
  interval_start_ts: Ns;
  interval_start_time: IsoTime | null;
  interval_s: number;
  dtmf: string;                  // the RFC 4733 digits, "12#"
  flags: string[];               // StreamFlag names
  packets: number;
  bytes: number;
  expected: number;
  lost: number;
  sequence_errors: number;
  expected_rfc3550: number;
  lost_rfc3550: number;
  duplicates: number;
  out_of_order: number;
  discontinuities: number;
  restarts: number;
  telephone_events: number;
  discarded_fixed50: number;
  discarded_adaptive: number;
  rtcp_reports: number;
  rtcp_cumulative_lost: number;
  max_delta_ms: number;
  mean_delta_ms: number;
  max_jitter_ms: number;
  mean_jitter_ms: number;
  longest_gap_ms: number;
  burst_ratio: number;
  mos_fixed50: number;
  mos_adaptive: number;
  rtcp_fraction_lost_pct: number;
  rtcp_jitter_ms: number;
  rtcp_rtt_ms: number;
  xr_mos_lq: number;
  xr_mos_cq: number;
  loss_pct: number;              // 100 * lost_rfc3550 / expected_rfc3550
  intervals: StreamIntervals | null;  // null for streams stored without them
}

// GET /api/v1/calls/{id}: the CDR, its messages in capture order, their
// SDP bodies, and its RTP streams by first packet.
export interface CallResponse {
  call: Cdr;
  messages: CallMessage[];
  sdp: CallSdp[];
  streams: RtpStream[];
}
