// Calls: search form, sortable result table and cursor pagination over
// GET /api/v1/calls. The filters and the sort live in the URL (#/calls?...)
// so that a search can be bookmarked and the Back button returns to it;
// the cursors of the pages already seen are kept on a stack for Previous.
import { ApiError, apiTime, getCalls, Params } from '../api';
import { describeMos, FLAG_LABELS, formatMos, listMarkers, mosClass } from '../media';
import type { Cdr } from '../types';
import { clear, fmtDateTime, fmtDuration, fromLocalInput, h, nsToMs, stateBadge, STATE_LABELS,
  toLocalInput } from '../util';


export function renderCalls(root: HTMLElement, query: URLSearchParams): () => void {
  const q = (k: string) => query.get(k) ?? '';
  const shownHash = location.hash;
  sessionStorage.setItem('sipman-calls-hash', location.hash || '#/calls');
  const input = (name: string, label: string, attrs: Record<string, string> = {}) => {
    const el = h('input', { id: `f-${name}`, name, value: q(name), ...attrs });
    return [el, h('div', { class: 'field' }, h('label', { for: `f-${name}` }, label), el)] as const;
  };
  const mode = (name: string) => {
    const sel = h('select', { id: `f-${name}`, name, 'aria-label': 'match' },
      h('option', { value: 'prefix' }, 'begins'), h('option', { value: 'contains' }, 'contains'));
    sel.value = q(name) || 'prefix';
    return sel;
  };
  const fromMs = Number(q('from')) || 0;
  const toMsV = Number(q('to')) || 0;
  const [fFrom, fromField] = input('from', 'From', { type: 'datetime-local',
    value: fromMs ? toLocalInput(fromMs) : '' });
  const [fTo, toField] = input('to', 'To', { type: 'datetime-local', value: toMsV ? toLocalInput(toMsV) : '' });
  const [fCaller] = input('caller', 'Caller', { placeholder: 'user, e.g. alice' });
  const callerMode = mode('caller_mode');
  const [fCallee] = input('callee', 'Callee', { placeholder: 'user' });
  const calleeMode = mode('callee_mode');
  const [fCallId, callIdField] = input('call_id', 'Call-ID');
  const [fIp, ipField] = input('ip', 'IP address', { placeholder: 'source or destination' });
  const fState = h('select', { id: 'f-state', name: 'state' }, h('option', { value: '' }, 'any'),
    Object.entries(STATE_LABELS).map(([v, l]) => h('option', { value: v }, l)));
  fState.value = q('state');
  const [fStatus, statusField] = input('status', 'Status code', { type: 'number', min: '0',
    max: '699', placeholder: 'e.g. 486' });
  const [fMin, minField] = input('min_s', 'Min duration (s)', { type: 'number', min: '0', step: 'any' });
  const [fMax, maxField] = input('max_s', 'Max duration (s)', { type: 'number', min: '0', step: 'any' });
  const [fSensor, sensorField] = input('sensor', 'Sensor');
  // Media: calls scored below a MOS, or with one of the media flags.
  const [fMos, mosField] = input('mos_below', 'MOS below', { type: 'number', min: '1', max: '5',
    step: '0.1', placeholder: 'e.g. 3.6' });
  const fFlag = h('select', { id: 'f-media_flag', name: 'media_flag' },
    h('option', { value: '' }, 'any'),
    Object.entries(FLAG_LABELS).map(([v, l]) => h('option', { value: v }, l)));
  fFlag.value = q('media_flag');
  const fLimit = h('select', { id: 'f-limit', name: 'limit' },
    ['25', '50', '100', '200'].map((v) => h('option', { value: v }, v)));
  // A limit from an edited or bookmarked URL that the list does not offer
  // (e.g. 500) gets an option of its own, so the select never shows blank.
  const urlLimit = String(Number(q('limit')) || 50);
  if (![...fLimit.options].some((o) => o.value === urlLimit)) {
    fLimit.append(h('option', { value: urlLimit }, urlLimit));
  }
  fLimit.value = urlLimit;
  const sort = q('sort') || '-invite_ts';

  const form = h('form', { class: 'filters card', role: 'search', onsubmit: (e: Event) => {
    e.preventDefault();
    go();
  } },
  fromField, toField,
  h('div', { class: 'field' }, h('label', { for: 'f-caller' }, 'Caller'),
    h('div', { class: 'joined' }, callerMode, fCaller)),
  h('div', { class: 'field' }, h('label', { for: 'f-callee' }, 'Callee'),
    h('div', { class: 'joined' }, calleeMode, fCallee)),
  callIdField, ipField,
  h('div', { class: 'field' }, h('label', { for: 'f-state' }, 'State'), fState),
  statusField, minField, maxField, sensorField, mosField,
  h('div', { class: 'field' }, h('label', { for: 'f-media_flag' }, 'Media'), fFlag),
  h('div', { class: 'field' }, h('label', { for: 'f-limit' }, 'Rows per page'), fLimit),
  h('div', { class: 'field actions' },
    h('button', { type: 'submit', class: 'primary', id: 'search' }, 'Search'),
    h('button', { type: 'button', onclick: () => { location.hash = '#/calls'; } }, 'Clear')));

  function go(newSort = sort): void {
    const p = new URLSearchParams();
    const set = (k: string, v: string) => { if (v.trim()) p.set(k, v.trim()); };
    const f = fromLocalInput(fFrom.value), t = fromLocalInput(fTo.value);
    if (f) p.set('from', String(f));
    if (t) p.set('to', String(t));
    set('caller', fCaller.value);
    if (fCaller.value && callerMode.value !== 'prefix') p.set('caller_mode', callerMode.value);
    set('callee', fCallee.value);
    if (fCallee.value && calleeMode.value !== 'prefix') p.set('callee_mode', calleeMode.value);
    set('call_id', fCallId.value);
    set('ip', fIp.value);
    set('state', fState.value);
    set('status', fStatus.value);
    set('min_s', fMin.value);
    set('max_s', fMax.value);
    set('sensor', fSensor.value);
    set('mos_below', fMos.value);
    set('media_flag', fFlag.value);
    if (newSort !== '-invite_ts') p.set('sort', newSort);
    if (fLimit.value !== '50') p.set('limit', fLimit.value);
    const hash = `#/calls${p.toString() ? `?${p}` : ''}`;
    if (location.hash === hash) load(); else location.hash = hash;
  }

  // API parameters from the URL.
  const params: Params = { sort, limit: Number(q('limit')) || 50 };
  if (fromMs) params.from = apiTime(fromMs);
  if (toMsV) params.to = apiTime(toMsV);
  if (q('caller')) params[q('caller_mode') === 'contains' ? 'caller_contains' : 'caller'] = q('caller');
  if (q('callee')) params[q('callee_mode') === 'contains' ? 'callee_contains' : 'callee'] = q('callee');
  for (const k of ['call_id', 'ip', 'state', 'status', 'sensor', 'mos_below', 'media_flag']) {
    if (q(k)) params[k] = q(k);
  }
  if (q('min_s')) params.min_duration_ms = Math.round(Number(q('min_s')) * 1000);
  if (q('max_s')) params.max_duration_ms = Math.round(Number(q('max_s')) * 1000);

  const cursors: (string | null)[] = [null];  // cursor of each page seen; [0] is the first
  let page = 0;
  let next: string | null = null;
  let ctl: AbortController | null = null;

  const info = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const prevBtn = h('button', { type: 'button', id: 'prev', onclick: () => { page -= 1; load(); } },
    '← Previous');
  const nextBtn = h('button', { type: 'button', id: 'next', onclick: () => {
    if (!next) return;
    cursors[page + 1] = next;
    page += 1;
    load();
  } }, 'Next →');
  const tbody = h('tbody');
  const table = h('table', { class: 'data', id: 'calls-table' });

  const sortHeader = (label: string, key: string) => {
    const active = sort === key || sort === `-${key}`;
    const desc = sort === `-${key}`;
    const nextSort = active && desc ? key : `-${key}`;
    return h('th', { scope: 'col', 'aria-sort': active ? (desc ? 'descending' : 'ascending') : 'none' },
      h('button', { type: 'button', class: 'sort', onclick: () => go(nextSort),
        title: `sort by ${label.toLowerCase()}` },
      label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (desc ? ' ▼' : ' ▲') : ' ↕')));
  };
  const plain = (label: string, cls = '') => h('th', { scope: 'col', class: cls }, label);
  const mosHeader = h('th', { scope: 'col', class: 'num' }, h('abbr', {
    title: 'lowest E-model MOS of the two directions (1 to 4.5): good from 4.0, fair from 3.6, ' +
      'poor below' }, 'MOS'));

  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Calls')),
    form,
    h('div', { class: 'card' },
      h('div', { class: 'pager' }, info, h('span', { class: 'spacer' }), prevBtn, nextBtn),
      h('div', { class: 'table-wrap' },
        table)));
  table.append(
    h('thead', {}, h('tr', {}, sortHeader('Start', 'invite_ts'), plain('Caller'),
      plain('Callee'), plain('From IP'), plain('To IP'), plain('State'), plain('Status'),
      sortHeader('Duration', 'duration_ms'), mosHeader, plain('Msgs', 'num'), plain('Call-ID'),
      plain('Sensor'))),
    tbody);

  function row(c: Cdr): HTMLElement {
    const href = `#/calls/${encodeURIComponent(String(c.id))}`;
    const tr = h('tr', { class: 'clickable', tabindex: 0, 'data-id': String(c.id),
      onclick: (e: Event) => { if (!(e.target as Element).closest('a')) location.hash = href; },
      onkeydown: (e: Event) => { if ((e as KeyboardEvent).key === 'Enter') location.hash = href; } },
    h('td', { class: 'nowrap' }, h('a', { href, tabindex: -1 }, fmtDateTime(nsToMs(c.invite_ts)))),
    h('td', {}, c.caller_user || '–', c.caller_display ? h('div', { class: 'sub' }, c.caller_display) : null),
    h('td', {}, c.callee_user || '–'),
    h('td', { class: 'mono' }, c.src_ip || '–'),
    h('td', { class: 'mono' }, c.dst_ip || '–'),
    h('td', {}, stateBadge(c.state)),
    h('td', {}, c.final_status ? `${c.final_status} ${c.final_reason}` : '–'),
    h('td', { class: 'num' }, c.state === 'answered' ? fmtDuration(c.duration_ms) : '–'),
    mosCell(c),
    h('td', { class: 'num' }, String(c.message_count)),
    h('td', { class: 'mono ellipsis', title: c.call_id }, c.call_id),
    // Which capture points saw it: a central store holds many, and a call
    // seen by several is one row (also_seen_by names the others).
    h('td', { class: 'sensor', 'data-sensors': [c.sensor, c.also_seen_by].filter(Boolean).join(',') },
      c.sensor || '–', c.also_seen_by ? h('div', { class: 'sub' }, `+ ${c.also_seen_by}`) : null));
    return tr;
  }

  // The lower MOS of the two directions, coloured by its class, over a
  // marker for one-way audio or no media (src/media.ts); a marker alone
  // takes the place of the dash of a MOS not computable.
  function mosCell(c: Cdr): HTMLElement {
    const cls = mosClass(c.mos_min);
    const markers = listMarkers(c.media_flags);
    return h('td', { class: 'num nowrap mos-cell', 'data-mos': c.mos_min },
      cls !== 'none' || !markers.length
        ? h('span', { class: `mos mos-${cls}`, title: `MOS ${describeMos(c.mos_min)}` }, formatMos(c.mos_min))
        : null,
      markers.map((m) => h('div', {},
        h('span', { class: 'badge media-marker', title: m.title, 'data-flag': m.flag }, m.text))));
  }

  function load(): void {
    ctl?.abort();
    ctl = new AbortController();
    info.textContent = 'Loading…';
    // data-shows names the search (URL hash) and page whose rows the table
    // holds, so that scripts and tests can tell a finished search from the
    // previous one's rows still on screen.
    delete table.dataset.shows;
    prevBtn.disabled = true;
    nextBtn.disabled = true;
    const cur = cursors[page];
    getCalls({ ...params, cursor: cur ?? undefined }, ctl.signal).then((d) => {
      const calls = d.calls;
      next = d.next_cursor;
      clear(tbody);
      if (!calls.length) {
        tbody.append(h('tr', {}, h('td', { colspan: 12, class: 'muted empty-row' },
          'No calls match these filters.')));
      }
      for (const c of calls) tbody.append(row(c));
      const limit = Number(params.limit);
      info.textContent = calls.length
        ? `Page ${page + 1}: calls ${page * limit + 1}–${page * limit + calls.length}${next ? '' : ' (last page)'}`
        : page ? `Page ${page + 1}: no more calls` : '';
      prevBtn.disabled = page === 0;
      nextBtn.disabled = !next;
      table.dataset.shows = `${shownHash} page ${page + 1}`;
    }).catch((err: ApiError) => {
      if ((err as Error).name === 'AbortError') return;
      info.textContent = '';
      clear(tbody);
      tbody.append(h('tr', {}, h('td', { colspan: 12, class: 'error' }, `Search failed: ${err.message}`)));
      table.dataset.shows = `${shownHash} page ${page + 1}`;
    });
  }

  load();
  return () => ctl?.abort();
}
