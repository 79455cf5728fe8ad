// The dashboard's Call quality panel, its arithmetic: the calls of the
// window (GET /api/v1/calls?from=), their lowest MOS in 0.5-wide bins split
// by quality class, the worst calls, and the one-way and no-media counts.
// Pure: no DOM, no clock of its own, so that tests/ui/quality_test.sh can
// run it in Node.
import { MOS_HIGH, MOS_LOW, mosClass, parseFlags } from '../../media';
import type { Cdr, Ns } from '../../types';

// The width of a MOS bin, and how many worst calls the panel lists.
export const BIN_WIDTH = 0.5;
export const WORST_MAX = 5;

// The fields of a call the panel reads.
export type QualityCall = Pick<Cdr, 'id' | 'invite_ts' | 'caller_user' | 'callee_user' |
  'mos_min' | 'media_flags'>;

// One bin, MOS from `from` (inclusive) to `to` (exclusive; the last bin
// holds MOS_HIGH itself), its calls counted per class: only the bin
// 3.5–4 has two (poor below 3.6, fair from it).
export interface MosBin {
  from: number;
  to: number;
  label: string;  // "3.5–4"
  good: number;
  fair: number;
  poor: number;
}

export interface QualitySummary {
  calls: number;     // the calls in the window
  scored: number;    // those with a MOS
  unscored: number;  // mos_min -1: no RTP, or a codec without figures
  bins: MosBin[];
  worst: QualityCall[];
  oneWay: number;
  noMedia: number;
}

// Whether a call has a MOS (mos_min on the 1–4.5 scale; -1 is none).
export const isScored = (c: Pick<Cdr, 'mos_min'>) => mosClass(c.mos_min) !== 'none';

const edge = (v: number) => String(Number(v.toFixed(1)));

// The empty bins from MOS_LOW to MOS_HIGH.
export function emptyBins(): MosBin[] {
  const n = Math.round((MOS_HIGH - MOS_LOW) / BIN_WIDTH);
  return Array.from({ length: n }, (_, i) => {
    const from = MOS_LOW + i * BIN_WIDTH, to = from + BIN_WIDTH;
    return { from, to, label: `${edge(from)}–${edge(to)}`, good: 0, fair: 0, poor: 0 };
  });
}

// The scored MOS values counted in their bins (above MOS_HIGH: the last
// bin); values without a class are left out.
export function mosBins(values: number[]): MosBin[] {
  const bins = emptyBins();
  for (const mos of values) {
    const cls = mosClass(mos);
    if (cls === 'none') continue;
    const i = Math.min(bins.length - 1, Math.floor((mos - MOS_LOW) / BIN_WIDTH));
    bins[i][cls] += 1;
  }
  return bins;
}

// The `n` scored calls with the lowest mos_min, lowest first; at equal MOS
// the newer call first.
export function worstCalls<T extends Pick<Cdr, 'id' | 'invite_ts' | 'mos_min'>>(calls: T[],
  n = WORST_MAX): T[] {
  return calls.filter(isScored)
    .sort((a, b) => a.mos_min - b.mos_min || b.invite_ts - a.invite_ts || b.id - a.id)
    .slice(0, n);
}

// How many calls carry `flag` in their media_flags.
export function countFlag(calls: Pick<Cdr, 'media_flags'>[], flag: string): number {
  return calls.filter((c) => parseFlags(c.media_flags).includes(flag)).length;
}

// The panel's figures for the calls that started at or after `fromNs` (the
// window's start: calls fetched earlier leave it as it moves on).
export function qualitySummary(calls: QualityCall[], fromNs: Ns): QualitySummary {
  const inWindow = calls.filter((c) => c.invite_ts >= fromNs);
  const scored = inWindow.filter(isScored);
  return {
    calls: inWindow.length,
    scored: scored.length,
    unscored: inWindow.length - scored.length,
    bins: mosBins(scored.map((c) => c.mos_min)),
    worst: worstCalls(scored),
    oneWay: countFlag(inWindow, 'one_way'),
    noMedia: countFlag(inWindow, 'no_media'),
  };
}
