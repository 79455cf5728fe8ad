// Registrations: the bindings believed current (GET
// /api/v1/registrations/current) and the searchable history of
// registration attempts (GET /api/v1/registrations), cursor-paginated.
import { ApiError, apiTime, getRegistrations, getRegistrationsCurrent, Params } from '../api';
import type { Registration } from '../types';
import { clear, fmtDateTime, fmtMs, fromLocalInput, h, nsToMs, toLocalInput } from '../util';

const RESULTS = ['success', 'unregistered', 'failed', 'expired'];

function regRow(r: Registration): HTMLElement {
  const dash = (text: string) => text || '–';
  const ip = r.src_ip ? `${r.src_ip}${r.src_port ? `:${r.src_port}` : ''}` : '–';
  const res = r.result;
  return h('tr', {},
    h('td', { class: 'nowrap' }, fmtDateTime(nsToMs(r.first_seen))),
    h('td', {}, dash(r.aor)),
    h('td', { class: 'mono ellipsis', title: dash(r.contact) }, dash(r.contact)),
    h('td', { class: 'mono' }, ip),
    h('td', {}, h('span', { class: `badge reg-${res}` }, res || '–')),
    h('td', {}, r.status_code ? String(r.status_code) : '–'),
    h('td', { class: 'num' }, r.expires >= 0 ? `${r.expires} s` : '–'),
    h('td', { class: 'num' }, r.request_delay_ms >= 0 ? fmtMs(r.request_delay_ms) : '–'),
    h('td', { class: 'ellipsis', title: dash(r.user_agent) }, dash(r.user_agent)));
}

const HEAD = ['Time', 'Address of record', 'Contact', 'From', 'Result', 'Status', 'Expires',
  'Delay', 'User agent'];

function table(id: string, body: HTMLElement): HTMLElement {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data', id },
    h('thead', {}, h('tr', {}, HEAD.map((x) => h('th', { scope: 'col' }, x)))), body));
}

export function renderRegistrations(root: HTMLElement, query: URLSearchParams): () => void {
  const ctl = new AbortController();
  const q = (k: string) => query.get(k) ?? '';
  const curBody = h('tbody');
  const histBody = h('tbody');
  const curInfo = h('span', { class: 'muted' });

  const fFrom = h('input', { id: 'r-from', type: 'datetime-local',
    value: Number(q('from')) ? toLocalInput(Number(q('from'))) : '' });
  const fTo = h('input', { id: 'r-to', type: 'datetime-local',
    value: Number(q('to')) ? toLocalInput(Number(q('to'))) : '' });
  const fUser = h('input', { id: 'r-user', value: q('user'), placeholder: 'AOR user, e.g. alice' });
  const fIp = h('input', { id: 'r-ip', value: q('ip') });
  const fState = h('select', { id: 'r-state' }, h('option', { value: '' }, 'any'),
    RESULTS.map((x) => h('option', { value: x }, x)));
  fState.value = q('state');
  const field = (id: string, label: string, el: HTMLElement) =>
    h('div', { class: 'field' }, h('label', { for: id }, label), el);
  const form = h('form', { class: 'filters card', role: 'search', onsubmit: (e: Event) => {
    e.preventDefault();
    const p = new URLSearchParams();
    const f = fromLocalInput(fFrom.value), t = fromLocalInput(fTo.value);
    if (f) p.set('from', String(f));
    if (t) p.set('to', String(t));
    if (fUser.value.trim()) p.set('user', fUser.value.trim());
    if (fIp.value.trim()) p.set('ip', fIp.value.trim());
    if (fState.value) p.set('state', fState.value);
    location.hash = `#/registrations${p.toString() ? `?${p}` : ''}`;
  } },
  field('r-from', 'From', fFrom), field('r-to', 'To', fTo), field('r-user', 'User', fUser),
  field('r-ip', 'IP address', fIp), field('r-state', 'Result', fState),
  h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search'),
    h('button', { type: 'button', onclick: () => { location.hash = '#/registrations'; } }, 'Clear')));

  const params: Params = { limit: 50 };
  if (Number(q('from'))) params.from = apiTime(Number(q('from')));
  if (Number(q('to'))) params.to = apiTime(Number(q('to')));
  for (const k of ['user', 'ip', 'state']) if (q(k)) params[k] = q(k);
  const cursors: (string | null)[] = [null];
  let page = 0;
  let next: string | null = null;
  const info = h('span', { class: 'muted', role: 'status' });
  const prev = h('button', { type: 'button', onclick: () => { page -= 1; load(); } }, '← Previous');
  const nxt = h('button', { type: 'button', onclick: () => {
    if (!next) return;
    cursors[page + 1] = next; page += 1; load();
  } }, 'Next →');

  root.append(h('div', { class: 'page-head' }, h('h1', {}, 'Registrations')),
    h('section', { class: 'card' }, h('div', { class: 'pager' }, h('h2', {}, 'Current registrations'),
      h('span', { class: 'spacer' }), curInfo), table('reg-current', curBody)),
    h('h2', { class: 'section-title' }, 'History'),
    form,
    h('section', { class: 'card' }, h('div', { class: 'pager' }, info, h('span', { class: 'spacer' }), prev, nxt),
      table('reg-history', histBody)));

  const fill = (body: HTMLElement, rows: Registration[], empty: string) => {
    clear(body);
    if (!rows.length) body.append(h('tr', {}, h('td', { colspan: HEAD.length, class: 'muted empty-row' }, empty)));
    for (const r of rows) body.append(regRow(r));
  };
  const fail = (body: HTMLElement, err: ApiError) => {
    if ((err as Error).name === 'AbortError') return;
    clear(body);
    body.append(h('tr', {}, h('td', { colspan: HEAD.length, class: 'error' }, `Could not load: ${err.message}`)));
  };

  getRegistrationsCurrent({}, ctl.signal).then((d) => {
    const rows = d.registrations;
    curInfo.textContent = `${rows.length} binding${rows.length === 1 ? '' : 's'}`;
    fill(curBody, rows, 'No current registrations.');
  }).catch((e) => fail(curBody, e));

  function load(): void {
    prev.disabled = true; nxt.disabled = true;
    info.textContent = 'Loading…';
    getRegistrations({ ...params, cursor: cursors[page] ?? undefined }, ctl.signal).then((d) => {
      const rows = d.registrations;
      next = d.next_cursor;
      fill(histBody, rows, 'No registrations match these filters.');
      info.textContent = rows.length ? `Page ${page + 1}: ${page * 50 + 1}–${page * 50 + rows.length}` : '';
      prev.disabled = page === 0;
      nxt.disabled = !next;
    }).catch((e) => { info.textContent = ''; fail(histBody, e); });
  }
  load();
  return () => ctl.abort();
}
