// The call page's RTP streams (GET /api/v1/calls/{id}, `streams`), their
// arithmetic: the per-interval series of the Media panel's chart (MOS, loss
// and jitter per 10-second interval, one series per stream, on one time
// axis of seconds since the INVITE) and the rows of the per-stream table.
// Pure: no DOM, so that tests/ui/media_intervals_test.sh can run it in
// Node.
import { FLAG_LABELS, FLAG_SHORT, NO_VALUE, formatJitter } from './media';
import { axisTop } from './scale';
import type { Cdr, RtpStream, StreamFlag } from './types';

export type Side = 'caller' | 'callee' | '';

// The fields of a stream the chart and the table read.
export type StreamFigures = Pick<RtpStream, 'call_id' | 'sender' | 'other_call_id' |
  'other_sender' | 'src_ip' | 'src_port' | 'dst_ip' | 'dst_port' | 'ssrc' | 'ssrc_hex' |
  'codec' | 'payload_types' | 'first_ts' | 'dtmf' | 'flags' | 'packets' | 'lost_rfc3550' |
  'loss_pct' | 'max_jitter_ms' | 'mos_fixed50' | 'intervals'>;

// The fields of the call that place the streams in it.
export type CallTimes = Pick<Cdr, 'call_id' | 'invite_ts' | 'answer_ts' | 'bye_ts'>;

// Who sent a stream, as this call sees it: a B2BUA's other leg lists the
// stream under its own Call-ID and names this call as `other_call_id`, with
// the side here as `other_sender`.
export function senderInCall(st: Pick<StreamFigures, 'call_id' | 'sender' | 'other_call_id' |
  'other_sender'>, callId: string): Side {
  if (st.call_id !== callId && st.other_call_id === callId) return st.other_sender;
  return st.sender;
}

// Whether the stream was stored for the other leg of a B2BUA.
export const isOtherLeg = (st: Pick<StreamFigures, 'call_id' | 'other_call_id'>, callId: string) =>
  st.call_id !== callId && st.other_call_id === callId;

export const DIRECTION_LABELS: Record<Side, string> = {
  caller: 'Caller → callee',
  callee: 'Callee → caller',
  '': 'Unknown sender',
};

// Caller first, then callee, then streams no SDP placed.
const SIDE_ORDER: Record<Side, number> = { caller: 0, callee: 1, '': 2 };

// Colours by direction: blues for the caller's streams, reds for the
// callee's, greys for unknown senders, so the two directions read apart
// even when a direction has several streams.
export const SIDE_COLORS: Record<Side, string[]> = {
  caller: ['#1f6feb', '#0f8a9d', '#8250df', '#3d5a80'],
  callee: ['#d1242f', '#fb8500', '#cf4a9b', '#9a6700'],
  '': ['#6e7781', '#2da44e'],
};

// The streams in the order of the chart and the table: by direction, then
// by first packet, then SSRC (two streams can start in one nanosecond).
export function sortStreams<T extends StreamFigures>(streams: T[], callId: string): T[] {
  return [...streams].sort((a, b) =>
    SIDE_ORDER[senderInCall(a, callId)] - SIDE_ORDER[senderInCall(b, callId)] ||
    a.first_ts - b.first_ts || a.ssrc - b.ssrc);
}

// The colour of each stream of sortStreams' order, the chart's line and the
// table's swatch alike: the next of its side's palette.
export function streamColors(sorted: StreamFigures[], callId: string): string[] {
  const used: Record<Side, number> = { caller: 0, callee: 0, '': 0 };
  return sorted.map((st) => {
    const palette = SIDE_COLORS[senderInCall(st, callId)];
    return palette[used[senderInCall(st, callId)]++ % palette.length];
  });
}

// "192.0.2.1:4000", "[2001:db8::1]:4000".
export function endpoint(ip: string, port: number): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

// One interval of one stream, placed on the chart's time axis.
export interface IntervalPoint {
  from: number;             // seconds since the chart's origin
  to: number;
  packets: number;
  expected: number;
  lost: number;             // as stored: negative when late packets of the interval before came
  late: number;             // too late for a fixed 50 ms jitter buffer
  lossPct: number | null;   // 100 * max(0, lost) / expected; null without expected packets
  latePct: number | null;   // 100 * late / expected; null likewise
  jitterMs: number | null;  // the highest jitter; null without packets (no jitter measured)
  mos: number | null;       // null: a gap (no packets, or a codec without E-model figures)
}

// One stream's line in the chart.
export interface StreamSeries {
  side: Side;
  label: string;            // "Caller → callee · PCMU", "… · 0x0A0B0C0D" when the side has several
  color: string;
  ssrcHex: string;
  widthS: number;
  points: IntervalPoint[];
}

export interface IntervalMarker {
  at: number;               // seconds since the origin
  label: string;            // "answer", "BYE"
}

export interface IntervalChartModel {
  origin: 'invite' | 'first interval';
  originTs: number;         // seconds since the epoch
  from: number;             // the axis, seconds since the origin: the intervals' extent
  to: number;
  series: StreamSeries[];   // the streams with intervals, in sortStreams' order
  withoutIntervals: number; // streams stored without intervals (null)
  markers: IntervalMarker[];  // the answer and the BYE, when inside the axis
}

// Seconds rounded to the millisecond, so that a nanosecond time divided
// into seconds gives the same figures everywhere (no 1.9999999 s).
const toSeconds = (x: number) => Math.round(x * 1000) / 1000;
const nsToSeconds = (ns: number) => ns / 1e9;
const numberOr = (v: number | null | undefined, fallback: number) =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;

// The intervals of a stream as points, `origin` seconds since the epoch
// being 0. Arrays shorter than `packets` read as zeros (and `mos` as gaps)
// rather than failing the page.
export function intervalPoints(iv: RtpStream['intervals'], origin: number): IntervalPoint[] {
  if (!iv || !(iv.width_s > 0)) return [];
  return iv.packets.map((packetsIn, i) => {
    const packets = numberOr(packetsIn, 0);
    const expected = numberOr(iv.expected[i], 0);
    const lost = numberOr(iv.lost[i], 0);
    const late = numberOr(iv.late[i], 0);
    const mos = iv.mos[i];
    const start = iv.start_ts + i * iv.width_s;
    return {
      from: toSeconds(start - origin), to: toSeconds(start + iv.width_s - origin),
      packets, expected, lost, late,
      lossPct: expected > 0 ? (100 * Math.max(0, lost)) / expected : null,
      latePct: expected > 0 ? (100 * late) / expected : null,
      jitterMs: packets > 0 ? numberOr(iv.max_jitter_ms[i], 0) : null,
      mos: typeof mos === 'number' && Number.isFinite(mos) && mos >= 1 ? mos : null,
    };
  });
}

// How the Media panel labels a stream: its direction and codec, and its
// SSRC when its direction has several streams (else the lines of one
// direction could not be told apart).
export function streamLabel(st: StreamFigures, callId: string, severalInSide: boolean): string {
  const parts = [DIRECTION_LABELS[senderInCall(st, callId)], st.codec || '?'];
  if (severalInSide) parts.push(st.ssrc_hex);
  return parts.join(' · ') + (isOtherLeg(st, callId) ? ' (other leg)' : '');
}

// Counts the streams per side, for streamLabel.
function streamsPerSide(streams: StreamFigures[], callId: string): Record<Side, number> {
  const n: Record<Side, number> = { caller: 0, callee: 0, '': 0 };
  for (const st of streams) n[senderInCall(st, callId)] += 1;
  return n;
}

// The chart of a call's streams: one series per stream with intervals, on
// one axis of seconds since the INVITE (since the first interval when the
// call has no INVITE time). Intervals are placed by their absolute start,
// so streams of different widths (10 s and 20 s) line up.
export function intervalChart(streams: StreamFigures[], call: CallTimes): IntervalChartModel {
  const sorted = sortStreams(streams, call.call_id);
  const colors = streamColors(sorted, call.call_id);
  const hasIntervals = (st: StreamFigures) => !!st.intervals && st.intervals.packets.length > 0;
  const withIntervals = sorted.filter(hasIntervals);
  const perSide = streamsPerSide(sorted, call.call_id);
  const firstStart = Math.min(...withIntervals.map((st) => st.intervals!.start_ts));
  const origin = call.invite_ts > 0 ? nsToSeconds(call.invite_ts)
    : Number.isFinite(firstStart) ? firstStart : 0;
  const series: StreamSeries[] = [];
  sorted.forEach((st, i) => {
    if (!hasIntervals(st)) return;
    const side = senderInCall(st, call.call_id);
    series.push({ side, label: streamLabel(st, call.call_id, perSide[side] > 1), color: colors[i],
      ssrcHex: st.ssrc_hex, widthS: st.intervals!.width_s,
      points: intervalPoints(st.intervals, origin) });
  });
  const points = series.flatMap((sr) => sr.points);
  const from = points.length ? Math.min(...points.map((p) => p.from)) : 0;
  const to = points.length ? Math.max(...points.map((p) => p.to)) : 0;
  const markers: IntervalMarker[] = [];
  for (const [ts, label] of [[call.answer_ts, 'answer'], [call.bye_ts, 'BYE']] as [number, string][]) {
    const at = toSeconds(nsToSeconds(ts) - origin);
    if (ts > 0 && points.length && at >= from && at <= to) markers.push({ at, label });
  }
  return { origin: call.invite_ts > 0 ? 'invite' : 'first interval', originTs: origin, from, to,
    series, withoutIntervals: sorted.length - withIntervals.length, markers };
}

// The highest value of a figure over every series (0 without any), for
// the top of its axis.
export function highest(series: StreamSeries[], value: (p: IntervalPoint) => number | null): number {
  let max = 0;
  for (const sr of series) for (const p of sr.points) max = Math.max(max, value(p) ?? 0);
  return max;
}

// Loss and late packets stacked, as the loss chart draws them.
export const lossAndLate = (p: IntervalPoint) =>
  p.lossPct === null ? null : p.lossPct + (p.latePct ?? 0);

// Axis tops no lower than these, so that a sound call looks flat: 4 % loss
// (gridlines at whole percents), 20 ms jitter (where jitter starts to tell
// on a 50 ms buffer).
export const LOSS_AXIS_FLOOR = 4;
export const JITTER_AXIS_FLOOR = 20;

// The tops of the loss (%, lost and late stacked) and jitter (ms) axes.
export function axisTops(series: StreamSeries[]): { lossPct: number; jitterMs: number } {
  return { lossPct: axisTop(highest(series, lossAndLate), LOSS_AXIS_FLOOR),
    jitterMs: axisTop(highest(series, (p) => p.jitterMs), JITTER_AXIS_FLOOR) };
}

// Whether `b` continues `a` without a gap: the chart joins their lines.
export const adjoins = (a: IntervalPoint, b: IntervalPoint) => Math.abs(a.to - b.from) < 1e-6;

// A share in percent as the Media panel writes it: "0 %", "< 0.1 %",
// "2.4 %"; NO_VALUE for none.
export function formatPercent(pct: number | null): string {
  if (pct === null || !Number.isFinite(pct)) return NO_VALUE;
  if (pct === 0) return '0 %';
  if (pct > 0 && pct < 0.1) return '< 0.1 %';
  return `${pct.toFixed(1)} %`;
}

// An interval's loss as the chart's tooltip writes it: "2.0 % lost (5 of
// 250)", with ", 0.4 % late (1)" when packets came too late for the
// buffer.
export function describeIntervalLoss(p: IntervalPoint): string {
  if (p.lossPct === null) return 'none expected';
  let text = `${formatPercent(p.lossPct)} lost (${Math.max(0, p.lost)} of ${p.expected})`;
  if (p.late > 0) text += `, ${formatPercent(p.latePct)} late (${p.late})`;
  return text;
}

// Stream flags, with the call flags' short names where they share them.
const STREAM_FLAG_TEXT: Record<StreamFlag, { text: string; title: string }> = {
  unexpected_source: { text: FLAG_SHORT.unexpected_source, title: FLAG_LABELS.unexpected_source },
  codec_not_in_answer: { text: FLAG_SHORT.codec_not_in_answer,
    title: FLAG_LABELS.codec_not_in_answer },
  rtcp_only: { text: 'RTCP only', title: 'Known from RTCP reports alone: no RTP packet seen' },
};

export interface StreamFlagMarker {
  flag: string;
  text: string;   // "NAT?"
  title: string;  // "Media from an unexpected address (NAT?)"
}

const isStreamFlag = (f: string): f is StreamFlag =>
  Object.prototype.hasOwnProperty.call(STREAM_FLAG_TEXT, f);

// A stream's flags as short markers; a flag this UI does not know keeps its
// own name as both.
export function streamFlagMarkers(flags: string[]): StreamFlagMarker[] {
  return flags.map((f) => (isStreamFlag(f) ? { flag: f, ...STREAM_FLAG_TEXT[f] }
    : { flag: f, text: f, title: f }));
}

// One row of the Media panel's stream table.
export interface StreamTableRow {
  side: Side;
  direction: string;        // "Caller → callee", with " (other leg)" for a B2BUA's other leg
  route: string;            // "192.0.2.206:40000 → 198.51.100.206:50000"
  color: string;            // its line's in the chart (streamColors)
  ssrc: string;             // "0x0A0B0C0D"
  codec: string;            // "PCMU", "PCMU (0, 101)" with several payload types; NO_VALUE for none
  packets: number;
  lost: number;             // RFC 3550: expected - distinct received
  lossPct: string;          // "0.8 %"
  maxJitter: string;        // "3.2 ms"
  mos: number;              // mos_fixed50, -1 when not computable
  dtmf: string;             // NO_VALUE for none
  flags: StreamFlagMarker[];
}

export function streamRows(streams: StreamFigures[], callId: string): StreamTableRow[] {
  const sorted = sortStreams(streams, callId);
  const colors = streamColors(sorted, callId);
  return sorted.map((st, i) => {
    const side = senderInCall(st, callId);
    const types = st.payload_types.length > 1 ? ` (${st.payload_types.join(', ')})` : '';
    return {
      side,
      direction: DIRECTION_LABELS[side] + (isOtherLeg(st, callId) ? ' (other leg)' : ''),
      route: `${endpoint(st.src_ip, st.src_port)} → ${endpoint(st.dst_ip, st.dst_port)}`,
      color: colors[i],
      ssrc: st.ssrc_hex,
      codec: st.codec ? st.codec + types : NO_VALUE,
      packets: st.packets,
      lost: st.lost_rfc3550,
      lossPct: formatPercent(st.loss_pct),
      maxJitter: formatJitter(st.max_jitter_ms, st.packets),
      mos: st.mos_fixed50,
      dtmf: st.dtmf || NO_VALUE,
      flags: streamFlagMarkers(st.flags),
    };
  });
}
