// Small helpers shared by every page: DOM building, number and time
// formatting.
import type { Ns } from './types';

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

// Creates an HTML element. Attributes starting with "on" become event
// listeners; false/null/undefined attributes are left out.
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v as EventListener);
    } else if (k === 'class') {
      el.setAttribute('class', String(v));
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el: Element): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

// An API time (integer nanoseconds since the epoch, 0 for none) in
// milliseconds since the epoch; 0 stays 0 (absent).
export function nsToMs(ns: Ns): number {
  return ns > 0 ? ns / 1e6 : 0;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

// Local date and time, "2026-11-24 05:21:56".
export function fmtDateTime(ms: number): string {
  if (!ms) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// Local time with milliseconds, "05:21:56.990".
export function fmtTimeMs(ms: number): string {
  if (!ms) return '–';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.` +
    pad(d.getMilliseconds(), 3);
}

export function fmtClock(ms: number, withSeconds = true): string {
  const d = new Date(ms);
  return withSeconds
    ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// A duration in ms as "1:02:03", "2:03" or "0.202 s".
export function fmtDuration(msIn: unknown): string {
  const ms = Number(msIn);
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 3 : 1)} s`;
  const total = Math.round(ms / 1000);
  const hh = Math.floor(total / 3600), mm = Math.floor((total % 3600) / 60), ss = total % 60;
  return hh > 0 ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

// A delay in ms: "3 ms", "1.25 s".
export function fmtMs(v: unknown): string {
  if (v === null || v === undefined) return '–';
  const ms = Number(v);
  if (!Number.isFinite(ms)) return '–';
  if (Math.abs(ms) < 1000) return `${Math.round(ms * 10) / 10} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtNum(v: unknown, digits = 0): string {
  if (v === null || v === undefined || v === '') return '–';
  const n = Number(v);
  if (!Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtPct(v: unknown): string {
  if (v === null || v === undefined) return '–';
  const n = Number(v);
  return Number.isFinite(n) ? `${n.toFixed(1)} %` : '–';
}

// Short number for chart axes: 1.2k, 3.4M.
export function fmtShort(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(a < 10 && a !== Math.floor(a) ? 1 : 0)}`;
}

export function fmtBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Math.round(n)} B`;
}

// "datetime-local" input value <-> ms.
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(v: string): number {
  if (!v) return 0;
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? 0 : t;
}

export const STATE_LABELS: Record<string, string> = {
  answered: 'answered', busy: 'busy', cancelled: 'cancelled', no_answer: 'no answer',
  failed: 'failed', in_progress: 'in progress', timed_out: 'timed out',
};

export function stateBadge(state: unknown): HTMLElement {
  const st = String(state ?? '');
  return h('span', { class: `badge st-${st || 'unknown'}` }, STATE_LABELS[st] ?? (st || '–'));
}
