// The media figures of a call (the RTP columns of `calls`, docs/SCHEMA.md)
// as the call list and the call page show them: MOS classes and text, the
// readable names of `media_flags`, and one row per direction. Pure
// functions: no DOM, so that tests/ui/media_test.sh can run them in Node.
import type { Cdr, MediaFlag } from './types';

// The E-model MOS scale (G.107) and where its quality classes begin.
export const MOS_LOW = 1;
export const MOS_HIGH = 4.5;
export const MOS_GOOD = 4.0;  // from here on: good
export const MOS_FAIR = 3.6;  // from here up to MOS_GOOD: fair; below: poor

// What a page shows for a figure that was not measured.
export const NO_VALUE = '–';

export type MosClass = 'good' | 'fair' | 'poor' | 'none';

// The quality class of a MOS; 'none' for -1 (not computable) or any other
// value off the scale's low end.
export function mosClass(mos: number): MosClass {
  if (!Number.isFinite(mos) || mos < MOS_LOW) return 'none';
  if (mos >= MOS_GOOD) return 'good';
  if (mos >= MOS_FAIR) return 'fair';
  return 'poor';
}

// A MOS with two decimals, "4.12"; NO_VALUE when not computable.
export function formatMos(mos: number): string {
  return mosClass(mos) === 'none' ? NO_VALUE : mos.toFixed(2);
}

// "4.12 (good)", "not computable": for titles and screen readers.
export function describeMos(mos: number): string {
  const cls = mosClass(mos);
  return cls === 'none' ? 'not computable' : `${formatMos(mos)} (${cls})`;
}

// Where a MOS lies on the MOS_LOW..MOS_HIGH scale, 0 to 1 (clamped); 0 when
// not computable.
export function mosFraction(mos: number): number {
  if (mosClass(mos) === 'none') return 0;
  return Math.min(1, Math.max(0, (mos - MOS_LOW) / (MOS_HIGH - MOS_LOW)));
}

// The flags of `media_flags` ("one_way,after_bye"), in their order; "" has
// none.
export function parseFlags(flags: string): string[] {
  return flags.split(',').map((f) => f.trim()).filter(Boolean);
}

export const FLAG_LABELS: Record<MediaFlag, string> = {
  one_way: 'One-way audio',
  no_media: 'No media after answer',
  unexpected_source: 'Media from an unexpected address (NAT?)',
  after_bye: 'Media after BYE',
  codec_not_in_answer: 'Codec not in the answer',
};

// What each flag means, for a newcomer.
const FLAG_HINTS: Record<MediaFlag, string> = {
  one_way: 'the call was answered but RTP was seen in one direction only',
  no_media: 'the call was answered but no RTP was seen at all',
  unexpected_source: 'RTP came from an address no SDP named: NAT or a SIP ALG rewriting addresses',
  after_bye: 'RTP still flowed more than 1 s after the BYE',
  codec_not_in_answer: 'RTP carried a payload type that the SDP did not list',
};

// One-way audio and no media are call failures as the user hears them; the
// others are hints at the network or the endpoints.
const SEVERE = new Set<string>(['one_way', 'no_media']);

const isKnown = (f: string): f is MediaFlag => Object.prototype.hasOwnProperty.call(FLAG_LABELS, f);

// The readable names of `media_flags`, in its order; a flag this UI does not
// know keeps its own name.
export function flagLabels(flags: string): string[] {
  return parseFlags(flags).map((f) => (isKnown(f) ? FLAG_LABELS[f] : f));
}

export interface MediaWarning {
  flag: string;
  label: string;               // "One-way audio"
  hint: string;                // what it means, here with the silent side named
  severity: 'bad' | 'warn';
}

type MediaFigures = Pick<Cdr, 'media_flags' | 'caller_rtp_packets' | 'callee_rtp_packets'>;

// The call page's warnings: one per flag. For one-way audio the hint names
// the side whose RTP was missing.
export function mediaWarnings(c: MediaFigures): MediaWarning[] {
  return parseFlags(c.media_flags).map((f) => {
    let hint = isKnown(f) ? FLAG_HINTS[f] : '';
    if (f === 'one_way') {
      const fromCaller = c.caller_rtp_packets > 0, fromCallee = c.callee_rtp_packets > 0;
      if (fromCaller && !fromCallee) hint = 'no RTP from the callee (callee → caller)';
      if (fromCallee && !fromCaller) hint = 'no RTP from the caller (caller → callee)';
    }
    return { flag: f, label: isKnown(f) ? FLAG_LABELS[f] : f, hint,
      severity: SEVERE.has(f) ? 'bad' : 'warn' };
  });
}

// Short names of the flags, for markers in lists.
export const FLAG_SHORT: Record<MediaFlag, string> = {
  one_way: 'one-way',
  no_media: 'no media',
  unexpected_source: 'NAT?',
  after_bye: 'after BYE',
  codec_not_in_answer: 'odd codec',
};

export interface FlagMarker {
  flag: string;
  text: string;   // FLAG_SHORT's, "one-way"
  title: string;  // FLAG_LABELS', "One-way audio"
  severity: 'bad' | 'warn';
}

// Every flag of `media_flags` as a short marker, in its order; a flag this
// UI does not know keeps its own name as both.
export function flagMarkers(flags: string): FlagMarker[] {
  return parseFlags(flags).map((f) => ({ flag: f, text: isKnown(f) ? FLAG_SHORT[f] : f,
    title: isKnown(f) ? FLAG_LABELS[f] : f, severity: SEVERE.has(f) ? 'bad' : 'warn' }));
}

// The call list's short markers: "one-way" and "no media" only, with the
// full label as their title.
export function listMarkers(flags: string): { flag: MediaFlag; text: string; title: string }[] {
  return parseFlags(flags).filter(isKnown).filter((f) => SEVERE.has(f))
    .map((f) => ({ flag: f, text: FLAG_SHORT[f], title: FLAG_LABELS[f] }));
}

// Whether the call page shows media figures: some RTP stream was joined to
// the call, or a flag was raised (no_media has no stream).
export function hasMediaFigures(c: Pick<Cdr, 'rtp_streams' | 'media_flags'>): boolean {
  return c.rtp_streams > 0 || parseFlags(c.media_flags).length > 0;
}

// One direction of the call's RTP, as the call page's Media panel lists it.
export interface Direction {
  side: 'caller' | 'callee';  // who sent it
  label: string;              // "Caller → callee"
  codec: string;              // NO_VALUE without RTP
  packets: number;
  lost: string;               // "12 (0.5 %)"
  maxJitter: string;          // "3.2 ms"
  mosMin: number;
  mosAvg: number;
}

// Packets lost and their share, "12 (0.5 %)"; "0" without loss.
export function formatLoss(lost: number, pct: number): string {
  if (!lost) return '0';
  const p = pct > 0 && pct < 0.1 ? '< 0.1' : pct.toFixed(1);
  return `${lost} (${p} %)`;
}

// The highest jitter, "3.2 ms"; NO_VALUE without packets.
export function formatJitter(ms: number, packets: number): string {
  return packets > 0 && Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : NO_VALUE;
}

// Answer to first RTP: "120 ms", "1.25 s", "0 ms (early media)"; NO_VALUE
// for -1 (not answered, or no RTP).
export function formatFirstRtp(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return NO_VALUE;
  if (ms === 0) return '0 ms (early media)';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function directions(c: Cdr): Direction[] {
  return [
    { side: 'caller', label: 'Caller → callee', codec: c.caller_rtp_codec || NO_VALUE,
      packets: c.caller_rtp_packets, lost: formatLoss(c.caller_rtp_lost, c.caller_rtp_loss_pct),
      maxJitter: formatJitter(c.caller_rtp_max_jitter_ms, c.caller_rtp_packets),
      mosMin: c.caller_mos_min, mosAvg: c.caller_mos_avg },
    { side: 'callee', label: 'Callee → caller', codec: c.callee_rtp_codec || NO_VALUE,
      packets: c.callee_rtp_packets, lost: formatLoss(c.callee_rtp_lost, c.callee_rtp_loss_pct),
      maxJitter: formatJitter(c.callee_rtp_max_jitter_ms, c.callee_rtp_packets),
      mosMin: c.callee_mos_min, mosAvg: c.callee_mos_avg },
  ];
}
