// Chart axes without the DOM: round tops for value axes, and ticks and
// labels for an axis of seconds since some instant (the call page's
// interval chart). Pure, so that the Node tests can check the numbers the
// charts draw.

// The top of a value axis with four gridlines at round values; 4 for an
// axis with nothing above 0.
export function niceMax(v: number): number {
  if (!(v > 0)) return 4;
  const raw = v / 4;
  const e = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m === 2.5 && e < 1) continue;
    if (m * e >= raw) return 4 * m * e;
  }
  return 40 * e;
}

// The top of an axis that goes no lower than `floor`, so that small values
// look small (0.2 % loss should not fill the chart).
export function axisTop(max: number, floor: number): number {
  return Math.max(niceMax(max), floor);
}

// Tick spacings of a seconds axis: round seconds, minutes and hours.
const OFFSET_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  21600, 43200, 86400];

// Ticks at multiples of a round step between `from` and `to` (seconds),
// at most about `target` of them.
export function offsetTicks(from: number, to: number, target: number): number[] {
  const span = Math.max(1, to - from);
  const step = OFFSET_STEPS.find((st) => span / st <= Math.max(1, target)) ??
    OFFSET_STEPS[OFFSET_STEPS.length - 1];
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t === 0 ? 0 : t);
  return ticks;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

// Seconds since an instant as an axis shows them: "0 s", "45 s", "-5 s"
// under a minute, then "1:30", "12:00", "1:02:03" (fractions rounded).
export function formatOffset(seconds: number): string {
  const sign = seconds < 0 ? '-' : '';
  const total = Math.round(Math.abs(seconds));
  if (total < 60) return `${sign}${total} s`;
  const hh = Math.floor(total / 3600), mm = Math.floor((total % 3600) / 60), ss = total % 60;
  return hh ? `${sign}${hh}:${pad2(mm)}:${pad2(ss)}` : `${sign}${mm}:${pad2(ss)}`;
}
