// Call detail (#/calls/{id}): the ladder diagram of the call's messages,
// the raw text of the selected message, the RTP measured per direction and
// per stream (call_streams.ts), the SDP media per side, every CDR field,
// and the call's pcap (GET /api/v1/calls/{id}/pcap).
import { ApiError, callPcapUrl, getCall } from '../api';
import { describeMos, directions, formatFirstRtp, formatMos, hasMediaFigures, mediaWarnings,
  MOS_FAIR, MOS_GOOD, MOS_HIGH, MOS_LOW, mosClass, mosFraction } from '../media';
import type { CallMessage, Cdr, CdrMedia, RtpStream } from '../types';
import { clear, fmtDateTime, fmtDuration, fmtMs, fmtNum, fmtTimeMs, h, nsToMs, s,
  stateBadge } from '../util';
import { streamsSection } from './call_streams';

const LEFT = 184;       // room for the time and delta column
const ROW_H = 34;
const TOP = 56;         // room for the host labels

// "INVITE", or a response's status and reason phrase, "486 Busy Here" (the
// reason read from its first line).
export function messageLabel(m: CallMessage): string {
  if (!m.status) return m.method || '?';
  const mm = /^SIP\/2\.0\s+\d{3}\s*(.*)$/.exec(m.first_line);
  return `${m.status} ${mm ? mm[1] : ''}`.trim();
}

function arrowClass(m: CallMessage): string {
  if (!m.status) return 'req';
  return `r${Math.floor(m.status / 100)}xx`;
}

function hostOf(ip: string, port: number): string {
  const a = ip.includes(':') ? `[${ip}]` : ip;
  return `${a}:${port}`;
}

// Draws the sequence diagram; calls onSelect with the message index when an
// arrow is clicked or activated with Enter/Space.
function ladder(msgs: CallMessage[], call: Cdr, onSelect: (i: number) => void): SVGElement {
  const hosts: string[] = [];
  const addHost = (x: string) => { if (!hosts.includes(x)) hosts.push(x); };
  // The caller's side first, so that the INVITE runs left to right.
  if (call.src_ip) addHost(hostOf(call.src_ip, call.src_port));
  if (call.dst_ip) addHost(hostOf(call.dst_ip, call.dst_port));
  for (const m of msgs) { addHost(hostOf(m.src_ip, m.src_port)); addHost(hostOf(m.dst_ip, m.dst_port)); }
  const used = new Set(msgs.flatMap((m) => [hostOf(m.src_ip, m.src_port), hostOf(m.dst_ip, m.dst_port)]));
  const cols = msgs.length ? hosts.filter((x) => used.has(x)) : hosts;
  const COL_W = cols.length <= 3 ? 230 : 170;  // distance between two host lines
  const X = (host: string) => LEFT + COL_W / 2 + cols.indexOf(host) * COL_W;
  const width = LEFT + cols.length * COL_W + 20;
  const height = TOP + msgs.length * ROW_H + 24;
  const svg = s('svg', { class: 'ladder', width, height, role: 'list',
    'aria-label': `call flow: ${msgs.length} messages between ${cols.length} hosts` });
  svg.append(s('defs', {}, ['req', 'r1xx', 'r2xx', 'r3xx', 'r4xx', 'r5xx', 'r6xx'].map((c) =>
    s('marker', { id: `ah-${c}`, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8,
      markerHeight: 8, orient: 'auto-start-reverse', class: `mk ${c}` },
    s('path', { d: 'M0,0 L10,5 L0,10 z' })))));
  svg.append(s('text', { x: 8, y: TOP - 14, class: 'col-head' }, 'time'),
    s('text', { x: LEFT - 10, y: TOP - 14, class: 'col-head', 'text-anchor': 'end' }, 'Δ previous'));
  cols.forEach((host) => {
    const x = X(host);
    const role = host === hostOf(call.src_ip, call.src_port) ? 'caller'
      : host === hostOf(call.dst_ip, call.dst_port) ? 'callee' : '';
    svg.append(s('rect', { x: x - COL_W / 2 + 8, y: 6, width: COL_W - 16, height: role ? 36 : 26,
      rx: 4, class: 'host-box' }));
    svg.append(s('text', { x, y: 22, 'text-anchor': 'middle', class: 'host' }, host));
    if (role) svg.append(s('text', { x, y: 36, 'text-anchor': 'middle', class: 'host-role' }, role));
    svg.append(s('line', { x1: x, x2: x, y1: role ? 42 : 32, y2: height - 8, class: 'lifeline' }));
  });
  let prev = 0;
  msgs.forEach((m, i) => {
    const y = TOP + i * ROW_H + ROW_H / 2;
    const t = nsToMs(m.ts);
    const delta = i === 0 ? '' : `+${fmtMs(t - prev)}`;
    prev = t;
    const x1 = X(hostOf(m.src_ip, m.src_port)), x2 = X(hostOf(m.dst_ip, m.dst_port));
    const cls = arrowClass(m);
    const label = messageLabel(m);
    const g = s('g', { class: `arrow ${cls}`, tabindex: 0, role: 'listitem', 'data-index': i,
      'aria-label': `${i + 1}: ${label} from ${hostOf(m.src_ip, m.src_port)} to ${hostOf(m.dst_ip, m.dst_port)}, ${fmtTimeMs(t)}` });
    g.append(s('rect', { x: 0, y: y - ROW_H / 2, width, height: ROW_H, class: 'row-hit' }));
    g.append(s('text', { x: 8, y: y + 4, class: 'time' }, fmtTimeMs(t)));
    g.append(s('text', { x: LEFT - 10, y: y + 4, class: 'delta', 'text-anchor': 'end' }, delta));
    if (x1 === x2) {
      g.append(s('path', { d: `M${x1},${y - 6} h28 v12 h-26`, class: 'line', fill: 'none',
        'marker-end': `url(#ah-${cls})` }));
      g.append(s('text', { x: x1 + 34, y: y + 4, class: 'label' }, label));
    } else {
      const dir = x2 > x1 ? 1 : -1;
      g.append(s('line', { x1, y1: y + 4, x2: x2 - dir * 2, y2: y + 4, class: 'line',
        'marker-end': `url(#ah-${cls})` }));
      const tx = (x1 + x2) / 2;
      g.append(s('text', { x: tx, y: y - 2, 'text-anchor': 'middle', class: 'label' },
        label + (m.transport && m.transport !== 'udp' ? ` (${m.transport})` : '')));
    }
    const select = () => onSelect(i);
    g.addEventListener('click', select);
    g.addEventListener('keydown', (e) => {
      const k = (e as KeyboardEvent).key;
      if (k === 'Enter' || k === ' ') { e.preventDefault(); select(); }
      if (k === 'ArrowDown' || k === 'ArrowUp') {
        e.preventDefault();
        const n = svg.querySelector<SVGGElement>(`g.arrow[data-index="${i + (k === 'ArrowDown' ? 1 : -1)}"]`);
        n?.focus();
      }
    });
    svg.append(g);
  });
  return svg;
}

function mediaTable(title: string, rows: CdrMedia[]): HTMLElement {
  return h('div', { class: 'media-side' }, h('h3', {}, title),
    rows.length ? h('table', { class: 'data compact' },
      h('thead', {}, h('tr', {}, ['Type', 'Address', 'Port', 'Codecs'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map((m) => h('tr', {}, h('td', {}, m.type),
        h('td', { class: 'mono' }, m.address),
        h('td', { class: 'num' }, m.port === 0 ? '0 (disabled)' : String(m.port)),
        h('td', {}, m.codecs ? m.codecs.split(',').join(', ') : '–')))))
      : h('p', { class: 'muted' }, 'No SDP.'));
}

// A direction's MOS on the MOS_LOW..MOS_HIGH scale: the poor, fair and good
// bands behind, a bar up to the mean in the colour of its class, and a tick
// at the minimum.
const BAR_W = 260, BAR_PAD = 8, BAR_Y = 3, BAR_H = 14;

function mosBar(min: number, avg: number): SVGElement {
  const X = (mos: number) => BAR_PAD + mosFraction(mos) * (BAR_W - 2 * BAR_PAD);
  const label = mosClass(min) === 'none' && mosClass(avg) === 'none' ? 'MOS not computable'
    : `MOS mean ${describeMos(avg)}, minimum ${describeMos(min)}, on the scale ${MOS_LOW} to ${MOS_HIGH}`;
  const svg = s('svg', { class: 'mos-bar', width: BAR_W, height: 30, role: 'img', 'aria-label': label },
    s('title', {}, label));
  const bands: [number, number, string][] = [[MOS_LOW, MOS_FAIR, 'poor'], [MOS_FAIR, MOS_GOOD, 'fair'],
    [MOS_GOOD, MOS_HIGH, 'good']];
  for (const [a, b, cls] of bands) {
    svg.append(s('rect', { x: X(a), y: BAR_Y, width: X(b) - X(a), height: BAR_H,
      class: `band band-${cls}` }));
  }
  for (const v of [MOS_LOW, MOS_FAIR, MOS_GOOD, MOS_HIGH]) {
    svg.append(s('text', { x: X(v), y: 28, 'text-anchor': 'middle', class: 'tick' }, v.toFixed(1)));
  }
  if (mosClass(avg) !== 'none') {
    svg.append(s('rect', { x: X(MOS_LOW), y: BAR_Y + 4, width: Math.max(2, X(avg) - X(MOS_LOW)),
      height: BAR_H - 8, rx: 2, fill: 'currentColor', class: `mean mos-${mosClass(avg)}` }));
  }
  if (mosClass(min) !== 'none') {
    svg.append(s('rect', { x: X(min) - 1.5, y: BAR_Y - 2, width: 3, height: BAR_H + 4,
      fill: 'currentColor', class: `min mos-${mosClass(min)}` }));
  }
  if (mosClass(min) === 'none' && mosClass(avg) === 'none') {
    svg.append(s('text', { x: BAR_W / 2, y: BAR_Y + BAR_H - 3, 'text-anchor': 'middle', class: 'none' },
      'not computable'));
  }
  return svg;
}

const mosSpan = (mos: number) =>
  h('span', { class: `mos mos-${mosClass(mos)}`, title: `MOS ${describeMos(mos)}` }, formatMos(mos));

// The Media (RTP) panel: warnings from media_flags, one row per direction,
// the number of streams and the time to the first RTP packet, then each
// stream's figures per interval and in a table.
function mediaPanel(c: Cdr, streams: RtpStream[]): HTMLElement {
  const card = h('section', { class: 'card', id: 'media-panel' }, h('h2', {}, 'Media (RTP)'));
  if (!hasMediaFigures(c) && !streams.length) {
    card.append(h('p', { class: 'muted' }, 'No RTP measured for this call.'));
    return card;
  }
  const warnings = mediaWarnings(c);
  if (warnings.length) {
    card.append(h('ul', { class: 'media-warnings', 'aria-label': 'media warnings' },
      warnings.map((w) => h('li', { class: w.severity, 'data-flag': w.flag },
        h('span', { 'aria-hidden': 'true' }, w.severity === 'bad' ? '✖ ' : '⚠ '),
        h('strong', {}, w.label), w.hint ? h('span', { class: 'muted' }, `: ${w.hint}`) : null))));
  }
  const cols = ['Direction', 'Codec', 'Packets', 'Lost', 'Max jitter', 'MOS min', 'MOS mean', 'MOS 1–4.5'];
  card.append(h('div', { class: 'table-wrap' }, h('table', { class: 'data compact', id: 'rtp-table' },
    h('thead', {}, h('tr', {}, cols.map((x, i) =>
      h('th', { scope: 'col', class: i >= 2 && i <= 6 ? 'num' : '' }, x)))),
    h('tbody', {}, directions(c).map((d) =>
      h('tr', { class: d.packets ? '' : 'silent', 'data-side': d.side },
        h('th', { scope: 'row', class: 'nowrap' }, d.label),
        h('td', {}, d.codec),
        h('td', { class: 'num' }, fmtNum(d.packets)),
        h('td', { class: 'num nowrap' }, d.lost),
        h('td', { class: 'num nowrap' }, d.maxJitter),
        h('td', { class: 'num' }, mosSpan(d.mosMin)),
        h('td', { class: 'num' }, mosSpan(d.mosAvg)),
        h('td', { class: 'bar-td' }, mosBar(d.mosMin, d.mosAvg))))))));
  card.append(h('p', { class: 'media-facts' },
    h('span', {}, 'RTP streams: ', h('b', {}, String(c.rtp_streams))),
    h('span', {}, 'First RTP after the answer: ', h('b', {}, formatFirstRtp(c.first_rtp_ms))),
    h('span', { class: 'muted mos-legend' }, 'MOS: ',
      h('span', { class: 'mos mos-good' }, 'good ≥ 4.0'), ' · ',
      h('span', { class: 'mos mos-fair' }, 'fair 3.6–4.0'), ' · ',
      h('span', { class: 'mos mos-poor' }, 'poor < 3.6'),
      '; bar: mean, tick: minimum')));
  card.append(streamsSection(streams, c));
  return card;
}

const CDR_LABELS: [keyof Cdr, string][] = [
  ['call_id', 'Call-ID'], ['state', 'State'], ['final_status', 'Final status'],
  ['caller_user', 'Caller'], ['caller_display', 'Caller name'], ['caller_domain', 'Caller domain'],
  ['pai_user', 'P-Asserted-Identity'], ['callee_user', 'Callee'], ['ruri_user', 'Request-URI user'],
  ['callee_domain', 'Callee domain'], ['diversion_user', 'Diversion'],
  ['src_ip', 'Source'], ['dst_ip', 'Destination'], ['transport', 'Transport'],
  ['invite_ts', 'INVITE'], ['first_18x_ts', 'First 18x'], ['answer_ts', 'Answered'],
  ['end_ts', 'Ended'], ['duration_ms', 'Duration'], ['post_dial_delay_ms', 'Post-dial delay'],
  ['disconnect_delay_ms', 'Disconnect delay'], ['hangup_by', 'Hung up by'],
  ['reason_text', 'Reason'], ['caller_user_agent', 'Caller agent'],
  ['callee_user_agent', 'Callee agent'], ['message_count', 'Messages'],
  ['retransmissions', 'Retransmissions'], ['byte_count', 'Bytes'],
  ['auth_challenges', 'Auth challenges'], ['sensor', 'Sensor'], ['also_seen_by', 'Also seen by'],
  ['linked_call_id', 'Other leg'],
];

function cdrValue(c: Cdr, k: keyof Cdr): string | null {
  const v = c[k];
  if (k.endsWith('_ts')) {
    const ms = nsToMs(v as number);
    return ms ? `${fmtDateTime(ms)}.${String(Math.floor(ms % 1000)).padStart(3, '0')}` : null;
  }
  if (k === 'duration_ms') return c.state === 'answered' ? fmtDuration(v) : null;
  if (k.endsWith('_delay_ms')) return Number(v) >= 0 ? fmtMs(v) : null;
  if (k === 'final_status') return v ? `${v} ${c.final_reason}` : null;
  if (k === 'src_ip') return v ? hostOf(c.src_ip, c.src_port) : null;
  if (k === 'dst_ip') return v ? hostOf(c.dst_ip, c.dst_port) : null;
  if (k === 'reason_text') {
    const parts = [c.reason_protocol, c.reason_cause ? `cause ${c.reason_cause}` : '', v].filter(Boolean);
    return parts.length ? parts.join(' ') : null;
  }
  if (v === null || v === undefined || v === '') return null;
  return String(v);
}

export function renderCall(root: HTMLElement, _q: URLSearchParams, id?: string): () => void {
  const ctl = new AbortController();
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  root.append(
    h('div', { class: 'page-head' },
      h('a', { href: sessionStorage.getItem('sipman-calls-hash') || '#/calls', class: 'back' }, '← Calls'),
      h('h1', {}, `Call ${id ?? ''}`)),
    body);

  getCall(id ?? '', ctl.signal).then((d) => {
    const call = d.call;
    const msgs = [...d.messages].sort((a, b) => nsToMs(a.ts) - nsToMs(b.ts));
    clear(body);
    const head = root.querySelector('h1')!;
    head.textContent = `${call.caller_user || '?'} → ${call.callee_user || '?'}`;
    head.append(' ', stateBadge(call.state));

    const raw = h('pre', { class: 'raw', id: 'raw', tabindex: 0 }, 'Select a message in the diagram to see its text.');
    const rawHead = h('div', { class: 'raw-head' }, 'Message');
    const svg = ladder(msgs, call, (i) => {
      svg.querySelector('g.arrow.selected')?.classList.remove('selected');
      svg.querySelector(`g.arrow[data-index="${i}"]`)?.classList.add('selected');
      const m = msgs[i];
      rawHead.textContent = `${i + 1}/${msgs.length} · ${messageLabel(m)} · ` +
        `${hostOf(m.src_ip, m.src_port)} → ${hostOf(m.dst_ip, m.dst_port)} · ${fmtTimeMs(nsToMs(m.ts))}`;
      raw.textContent = m.raw || '(raw text not stored)';
    });

    const pcapHref = callPcapUrl(call.id);
    const summary = h('div', { class: 'summary-line' },
      h('span', {}, fmtDateTime(nsToMs(call.invite_ts))),
      h('span', {}, call.final_status ? `${call.final_status} ${call.final_reason}` : 'no final response'),
      call.state === 'answered' ? h('span', {}, `duration ${fmtDuration(call.duration_ms)}`) : null,
      mosClass(call.mos_min) !== 'none' ? h('span', {}, 'MOS ', mosSpan(call.mos_min)) : null,
      h('span', {}, `${msgs.length} messages`),
      h('span', { class: 'spacer' }),
      h('a', { class: 'button primary', id: 'download-pcap', href: pcapHref,
        download: `call-${call.id}.pcap` }, '⤓ Download pcap'));

    const dl = h('dl', { class: 'cdr' });
    for (const [k, label] of CDR_LABELS) {
      const v = cdrValue(call, k);
      if (v === null) continue;
      dl.append(h('dt', {}, label), h('dd', { class: k.endsWith('_id') || k.endsWith('_ip') ? 'mono' : '' },
        k === 'state' ? stateBadge(v) : v));
    }
    const all = h('details', { class: 'all-fields' }, h('summary', {}, 'All fields (raw values)'),
      h('table', { class: 'data compact' }, h('tbody', {}, Object.entries(call).map(([k, v]) =>
        h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k),
          h('td', { class: 'mono wrap' }, typeof v === 'object' ? JSON.stringify(v) : String(v)))))));

    const sdpList = d.sdp;
    const sdpExtra = sdpList.length ? h('div', {}, h('h3', {}, `SDP in the messages (${sdpList.length})`),
      h('table', { class: 'data compact', id: 'sdp-table' },
        h('thead', {}, h('tr', {}, ['Msg', 'Side', 'Media', 'Address', 'Port', 'Direction', 'Codecs']
          .map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, sdpList.flatMap((e) => e.media.map((md, k) =>
          h('tr', {},
            h('td', {}, k === 0 ? h('a', { href: '#', onclick: (ev: Event) => {
              ev.preventDefault();
              const g = svg.querySelector<SVGGElement>(`g.arrow[data-index="${e.message_index}"]`);
              g?.dispatchEvent(new MouseEvent('click'));
              g?.focus();
            } }, `#${e.message_index + 1} ${msgs[e.message_index] ? messageLabel(msgs[e.message_index]) : '?'}`) : ''),
            h('td', {}, k === 0 ? e.side : ''),
            h('td', {}, md.type), h('td', { class: 'mono' }, md.address || '–'),
            h('td', { class: 'num' }, String(md.port)), h('td', {}, md.direction),
            h('td', {}, md.codecs.map((c) => `${c.name}/${c.clock_rate}`).join(', ') || md.formats))))))) : null;

    body.append(summary,
      h('div', { class: `call-grid${svg.querySelectorAll('text.host').length >= 4 ? ' wide' : ''}` },
        h('section', { class: 'card ladder-card' }, h('h2', {}, 'Call flow'),
          msgs.length ? h('div', { class: 'ladder-wrap' }, svg)
            : h('p', { class: 'muted' }, 'No messages stored for this call.'),
          h('p', { class: 'hint muted' }, 'Click a message, or Tab to it and press Enter, to see its text. ↑/↓ move between messages.')),
        h('aside', { class: 'card raw-card', 'aria-label': 'raw message' }, rawHead, raw)),
      mediaPanel(call, d.streams),
      h('div', { class: 'grid2' },
        h('section', { class: 'card' }, h('h2', {}, 'Call record'), dl, all),
        h('section', { class: 'card' }, h('h2', {}, 'Media (SDP)'),
          h('div', { class: 'media' },
            mediaTable(`Caller (${call.caller_user || call.src_ip})`, call.caller_media),
            mediaTable(`Callee (${call.callee_user || call.dst_ip})`, call.callee_media)),
          sdpExtra)));
  }).catch((err: ApiError) => {
    if ((err as Error).name === 'AbortError') return;
    clear(body);
    body.append(h('p', { class: 'error' }, err.status === 404 ? `There is no call ${id}.`
      : `Could not load the call: ${err.message}`));
  });
  return () => ctl.abort();
}
