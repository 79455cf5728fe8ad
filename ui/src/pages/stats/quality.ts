// The Statistics page's Media quality section, its arithmetic: the rows of
// GET /api/v1/stats/quality as chart data. Periods (hour, day, week) become
// spans of time with their mean MOS and loss; codecs and IPs become
// horizontal bars of their mean MOS with the share of poor streams. Pure:
// no DOM, so that tests/ui/stats_quality_test.sh can run it in Node.
import { mosClass, MosClass, mosFraction } from '../../media';
import type { QualityBy, QualityRow } from '../../types';

// The groupings, in the selector's order, and their column heads.
export const QUALITY_GROUPINGS: { by: QualityBy; label: string; head: string }[] = [
  { by: 'codec', label: 'Codec', head: 'Codec' },
  { by: 'src_ip', label: 'Source IP', head: 'Source IP' },
  { by: 'dst_ip', label: 'Destination IP', head: 'Destination IP' },
  { by: 'hour', label: 'Per hour', head: 'Hour' },
  { by: 'day', label: 'Per day', head: 'Day' },
  { by: 'week', label: 'Per week', head: 'Week of' },
];

// How many codecs or IPs the section asks for (the API's limit; periods
// are not cut).
export const QUALITY_TOP = 20;

type PeriodBy = Extract<QualityBy, 'hour' | 'day' | 'week'>;

// The length of a period in ms: UTC hours, days and weeks have no DST.
export const PERIOD_MS: Record<PeriodBy, number> = {
  hour: 3600e3, day: 86400e3, week: 7 * 86400e3,
};

export const isQualityBy = (v: string): v is QualityBy => QUALITY_GROUPINGS.some((g) => g.by === v);

export const isPeriodGrouping = (by: QualityBy): by is PeriodBy => by in PERIOD_MS;

// One period of the report on the time axis.
export interface QualityPeriod {
  from: number;             // ms since the epoch, the period's start
  to: number;               // its end
  streams: number;
  mosAvg: number | null;    // null: no stream with a MOS (a gap in the chart)
  lossPct: number | null;   // null: no packet expected
}

// The periods of a report in time order, each spanning its hour, day or
// week; start_ts is in ns.
export function qualityPeriods(rows: QualityRow[], by: PeriodBy): QualityPeriod[] {
  return rows.filter((r) => r.start_ts > 0)
    .map((r) => {
      const from = Math.round(r.start_ts / 1e6);
      return { from, to: from + PERIOD_MS[by], streams: r.streams, mosAvg: r.mos_avg,
        lossPct: r.loss_pct };
    })
    .sort((a, b) => a.from - b.from);
}

// A day's or week's label: its UTC date, "2023-11-13" (the API's periods
// are UTC days and weeks; a local date could name the day before).
export const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

// The time axis of the periods: their first start to their last end; null
// without periods.
export function periodsDomain(periods: QualityPeriod[]): [number, number] | null {
  if (!periods.length) return null;
  return [periods[0].from, Math.max(...periods.map((p) => p.to))];
}

// One codec or IP as a horizontal bar.
export interface QualityBar {
  key: string;
  label: string;            // the key; "(none)" for ""
  streams: number;
  mosAvg: number | null;
  mosClass: MosClass;       // of mosAvg: the bar's colour
  mosFraction: number;      // where mosAvg lies on the 1–4.5 scale, 0 to 1 (0 without)
  mosMinFraction: number | null;  // where mos_min lies; null without
  poorShare: number | null; // poor streams over streams with a MOS, 0 to 1; null without
  poorText: string;         // "2 of 8 poor (25 %)", "no MOS"
}

// A share as a whole percent, "25 %"; "< 1 %" for a share above 0 that
// rounds to 0, so a few poor streams never read as none.
export function formatShare(share: number): string {
  const pct = 100 * share;
  return pct > 0 && pct < 0.5 ? '< 1 %' : `${Math.round(pct)} %`;
}

export function qualityBars(rows: QualityRow[]): QualityBar[] {
  return rows.map((r) => {
    const mos = r.mos_avg ?? -1;
    const share = r.mos_streams > 0 ? r.poor_streams / r.mos_streams : null;
    return {
      key: r.key, label: r.key || '(none)', streams: r.streams, mosAvg: r.mos_avg,
      mosClass: mosClass(mos), mosFraction: mosFraction(mos),
      mosMinFraction: mosClass(r.mos_min ?? -1) === 'none' ? null : mosFraction(r.mos_min ?? -1),
      poorShare: share,
      poorText: share === null ? 'no MOS'
        : `${r.poor_streams} of ${r.mos_streams} poor (${formatShare(share)})`,
    };
  });
}
