// Account: the logged-in user's API tokens (GET /api/v1/tokens, DELETE
// /api/v1/tokens/{id}, POST /api/v1/tokens) and the password change (POST
// /api/v1/password), which logs out every other session and revokes every
// token. Both writes need the current password again: a session left open
// on someone else's screen must not be enough to mint a token or lock the
// owner out.
import { ApiError, changePassword, createToken, deleteToken, getMe, getTokens } from '../api';
import type { ApiToken, TokenCreateResponse } from '../types';
import { clear, fmtDateTime, h, nsToMs } from '../util';

const EXPIRY_DAYS = [7, 30, 90, 365];
const DEFAULT_EXPIRY_DAYS = 90;
const NAME_MAX_BYTES = 100;
const PASSWORD_MIN = 8;
const PASSWORD_MAX = 256;

// The server counts bytes of UTF-8.
const utf8Length = (s: string) => new TextEncoder().encode(s).length;
const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const tokenLabel = (t: { id: number; name: string }) => (t.name ? `"${t.name}"` : `#${t.id}`);

// A form's message line. role=alert: the outcome of a submit is read out
// without moving the focus away from the form.
function messageLine(id: string): HTMLElement {
  return h('p', { id, class: 'form-msg', role: 'alert' });
}

function say(el: HTMLElement, text: string, ok = false): void {
  el.textContent = text;
  el.className = `form-msg ${text ? (ok ? 'ok' : 'error') : ''}`;
}

function field(id: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('span', { id: `${id}-hint`, class: 'field-hint' }, hint) : null);
}

function passwordInput(id: string, autocomplete: string): HTMLInputElement {
  return h('input', { id, name: id, type: 'password', autocomplete, required: true });
}

// Password managers file a saved password under the user name of the form;
// a hidden field gives them the logged-in user's (it is filled from /me).
function hiddenUser(): HTMLInputElement {
  return h('input', { type: 'text', name: 'username', autocomplete: 'username', hidden: true });
}

// Marks `input` as wrong, selects it and says why.
function invalid(input: HTMLInputElement, msg: HTMLElement, text: string): void {
  input.setAttribute('aria-invalid', 'true');
  say(msg, text);
  input.focus();
  input.select();
}

// A 429 from the server: the submit button stays disabled for Retry-After
// seconds, counting down on its own label. The alert says it once; an alert
// changed every second would be read out every second.
function lockOut(btn: HTMLButtonElement, msg: HTMLElement, seconds: number,
                 timers: Set<number>): void {
  const label = btn.textContent ?? '';
  let left = seconds > 0 ? seconds : 30;
  say(msg, `Too many failed password attempts: try again in ${left} s.`);
  btn.disabled = true;
  btn.textContent = `Wait ${left} s`;
  const t = window.setInterval(() => {
    left -= 1;
    if (left > 0) {
      btn.textContent = `Wait ${left} s`;
      return;
    }
    window.clearInterval(t);
    timers.delete(t);
    btn.textContent = label;
    btn.disabled = false;
    say(msg, '');
  }, 1000);
  timers.add(t);
}

// Copies through the Clipboard API, which exists only in a secure context
// (HTTPS or localhost); elsewhere the deprecated execCommand still works
// on the selected field.
async function copyField(input: HTMLInputElement, status: HTMLElement): Promise<void> {
  input.focus();
  input.select();
  try {
    if (!navigator.clipboard) throw new Error('no Clipboard API');
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied.';
  } catch {
    const ok = document.execCommand('copy');
    status.textContent = ok ? 'Copied.' : 'Could not copy: the token is selected, press Ctrl+C.';
  }
}

const HEAD = ['Name', 'Created', 'Expires', 'Last used'];

// The server leaves expired tokens out of the list; one that expired
// while the page was open (or a server clock ahead of this one) is still
// marked.
const isExpired = (t: ApiToken, now: number) => nsToMs(t.expires_ts) > 0 && nsToMs(t.expires_ts) <= now;

function tokenCells(t: ApiToken, expired: boolean): HTMLElement[] {
  const expires = nsToMs(t.expires_ts);
  const lastUsed = nsToMs(t.last_used_ts);
  return [
    h('td', {}, t.name ? t.name : h('span', { class: 'muted' }, '(no name)')),
    h('td', { class: 'nowrap' }, fmtDateTime(nsToMs(t.created_ts))),
    h('td', { class: 'nowrap' }, fmtDateTime(expires),
      expired ? [' ', h('span', { class: 'badge tok-expired' }, 'expired')] : null),
    h('td', { class: 'nowrap' }, lastUsed ? fmtDateTime(lastUsed) : h('span', { class: 'muted' }, 'never')),
  ];
}

export function renderAccount(root: HTMLElement): () => void {
  const ctl = new AbortController();
  const timers = new Set<number>();
  const who = h('span', { class: 'muted', id: 'account-user' });
  const userFields: HTMLInputElement[] = [];

  // --- API tokens -------------------------------------------------------
  const listHead = h('h2', { id: 'tokens-head', tabindex: '-1' }, 'API tokens');
  const listMsg = messageLine('tokens-msg');
  const tbody = h('tbody');
  const table = h('table', { class: 'data', id: 'tokens-table', 'aria-labelledby': 'tokens-head' },
    h('thead', {}, h('tr', {}, HEAD.map((x) => h('th', { scope: 'col' }, x)),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody);
  let loadSeq = 0;

  // The newest answer wins: a reload started by a revoke may overtake one
  // started by a creation.
  async function loadTokens(): Promise<void> {
    const seq = ++loadSeq;
    try {
      const d = await getTokens(ctl.signal);
      if (seq !== loadSeq) return;
      const rows = d.tokens;
      const now = Date.now();
      clear(tbody);
      if (!rows.length) {
        tbody.append(h('tr', {}, h('td', { colspan: HEAD.length + 1, class: 'muted empty-row' },
          'No API tokens.')));
      }
      for (const t of rows) {
        const expired = isExpired(t, now);
        tbody.append(h('tr', { 'data-id': t.id, class: expired ? 'expired' : '' },
          tokenCells(t, expired), revokeCell(t)));
      }
      table.setAttribute('data-loaded', String(seq));
    } catch (err) {
      if ((err as Error).name === 'AbortError' || seq !== loadSeq) return;
      clear(tbody);
      tbody.append(h('tr', {}, h('td', { colspan: HEAD.length + 1, class: 'error' },
        `Could not load the tokens: ${(err as Error).message}`)));
    }
  }

  // Revoking is two clicks on the same button ("Revoke", then "Confirm
  // revoke"), with Cancel (or Escape) in between: a token in use by a
  // script is gone at once, and no modal dialog is needed.
  function revokeCell(t: ApiToken): HTMLElement {
    const label = tokenLabel(t);
    const btn = h('button', { type: 'button', class: 'revoke', 'aria-label': `Revoke token ${label}` },
      'Revoke');
    const cancel = h('button', { type: 'button', class: 'link cancel', hidden: true }, 'Cancel');
    let armed = false;
    const disarm = () => {
      armed = false;
      btn.textContent = 'Revoke';
      btn.classList.remove('danger');
      btn.setAttribute('aria-label', `Revoke token ${label}`);
      cancel.hidden = true;
      say(listMsg, '');
    };
    btn.addEventListener('click', () => {
      if (armed) {
        void revoke(t, btn, cancel);
        return;
      }
      armed = true;
      btn.textContent = 'Confirm revoke';
      btn.classList.add('danger');
      btn.setAttribute('aria-label', `Confirm revoke of token ${label}`);
      cancel.hidden = false;
      say(listMsg, `Scripts using token ${label} lose access at once: press Confirm revoke, or Cancel.`);
    });
    btn.addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Escape' && armed) disarm();
    });
    cancel.addEventListener('click', () => {
      disarm();
      btn.focus();
    });
    return h('td', { class: 'nowrap actions' }, btn, ' ', cancel);
  }

  async function revoke(t: ApiToken, btn: HTMLButtonElement, cancel: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    cancel.disabled = true;
    try {
      await deleteToken(t.id);
      say(listMsg, `Token ${tokenLabel(t)} revoked.`, true);
    } catch (err) {
      const e = err as ApiError;
      if (e.status !== 404) {
        say(listMsg, `Could not revoke token ${tokenLabel(t)}: ${e.message}`);
        btn.disabled = false;
        cancel.disabled = false;
        return;
      }
      // Revoked elsewhere meanwhile (another tab, a password change).
      say(listMsg, `Token ${tokenLabel(t)} no longer exists.`, true);
    }
    // A revoked token still on show would only mislead.
    if (reveal.getAttribute('data-id') === String(t.id)) hideToken();
    // The row and its focused button go away: keep the focus in the list.
    listHead.focus();
    await loadTokens();
  }

  // --- New token --------------------------------------------------------
  const tkName = h('input', { id: 'tk-name', name: 'token-name', autocomplete: 'off',
    placeholder: 'e.g. grafana' });
  const tkDays = h('select', { id: 'tk-expires', name: 'expires-days' },
    EXPIRY_DAYS.map((d) => h('option', { value: d, selected: d === DEFAULT_EXPIRY_DAYS }, `${d} days`)));
  const tkPass = passwordInput('tk-password', 'current-password');
  const tkMsg = messageLine('tk-msg');
  const tkBtn = h('button', { type: 'submit', class: 'primary', id: 'tk-create' }, 'Create token');
  const reveal = h('div', { class: 'new-token', id: 'new-token-box', hidden: true });
  const tkUser = hiddenUser();
  userFields.push(tkUser);

  // Gone from the page for good: nothing can show the token again.
  function hideToken(): void {
    clear(reveal);
    reveal.hidden = true;
    reveal.removeAttribute('data-id');
  }

  function showToken(c: TokenCreateResponse): void {
    clear(reveal);
    const input = h('input', { id: 'new-token', class: 'mono', readonly: true, value: c.token,
      spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'new-token-note' });
    const status = h('span', { id: 'copy-status', role: 'status', class: 'muted small' });
    reveal.append(
      h('label', { for: 'new-token' }, `New token ${tokenLabel(c)}`),
      h('div', { class: 'copy-row' }, input,
        h('button', { type: 'button', id: 'copy-token', onclick: () => void copyField(input, status) }, 'Copy')),
      h('p', { id: 'new-token-note', class: 'field-hint' },
        'Copy it now: it will not be shown again. ',
        `It expires on ${fmtDateTime(nsToMs(c.expires_ts))}. Scripts send it as `,
        h('code', {}, 'Authorization: Bearer TOKEN'), '.'),
      h('div', { class: 'copy-row' }, status, h('span', { class: 'spacer' }),
        h('button', { type: 'button', id: 'new-token-done', onclick: () => {
          hideToken();
          tkName.focus();
        } }, 'Done')));
    reveal.setAttribute('data-id', String(c.id));
    reveal.hidden = false;
    input.focus();
    input.select();
  }

  const tkForm = h('form', { class: 'account-form', id: 'token-form', 'aria-labelledby': 'tk-head',
    onsubmit: async (e: Event) => {
      e.preventDefault();
      say(tkMsg, '');
      tkName.removeAttribute('aria-invalid');
      tkPass.removeAttribute('aria-invalid');
      const name = tkName.value.trim();
      if (utf8Length(name) > NAME_MAX_BYTES) {
        invalid(tkName, tkMsg, `The name is too long (at most ${NAME_MAX_BYTES} bytes).`);
        return;
      }
      tkBtn.disabled = true;
      try {
        const c = await createToken({ name, password: tkPass.value, expires_days: Number(tkDays.value) });
        tkPass.value = '';
        tkName.value = '';
        say(tkMsg, `Token ${tokenLabel(c)} created.`, true);
        showToken(c);
        void loadTokens();
      } catch (err) {
        const e2 = err as ApiError;
        if (e2.status === 429) {
          lockOut(tkBtn, tkMsg, e2.retryAfter, timers);
          return;
        }
        if (e2.status === 403 && !/origin/i.test(e2.message)) {
          invalid(tkPass, tkMsg, 'Wrong password: the token was not created.');
        } else {
          say(tkMsg, `Could not create the token: ${e2.message}`);
        }
      }
      tkBtn.disabled = false;
    } },
  tkUser,
  field('tk-name', 'Name (optional)', tkName, 'What the token is for, to recognise it in the list.'),
  field('tk-expires', 'Expires after', tkDays),
  field('tk-password', 'Your password', tkPass, 'Needed again to create a token.'),
  tkMsg, h('div', {}, tkBtn));

  // --- Password change --------------------------------------------------
  const pwCur = passwordInput('pw-current', 'current-password');
  const pwNew = passwordInput('pw-new', 'new-password');
  const pwConfirm = passwordInput('pw-confirm', 'new-password');
  const pwMsg = messageLine('pw-msg');
  const pwBtn = h('button', { type: 'submit', class: 'primary', id: 'pw-submit' }, 'Change password');
  const pwUser = hiddenUser();
  userFields.push(pwUser);

  const pwForm = h('form', { class: 'account-form', id: 'password-form', 'aria-labelledby': 'pw-head',
    onsubmit: async (e: Event) => {
      e.preventDefault();
      say(pwMsg, '');
      for (const i of [pwCur, pwNew, pwConfirm]) i.removeAttribute('aria-invalid');
      const fresh = pwNew.value;
      const characters = [...fresh].length;  // code points, as the server counts
      if (characters < PASSWORD_MIN || characters > PASSWORD_MAX) {
        invalid(pwNew, pwMsg, `The new password needs ${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`);
        return;
      }
      if (pwConfirm.value !== fresh) {
        invalid(pwConfirm, pwMsg, 'The two new passwords differ.');
        return;
      }
      pwBtn.disabled = true;
      try {
        const r = await changePassword({ current_password: pwCur.value, new_password: fresh });
        for (const i of [pwCur, pwNew, pwConfirm]) i.value = '';
        const ended = r.sessions_ended;
        const revoked = r.tokens_revoked;
        // The count includes this browser's own session, which the answer
        // replaced with a new one.
        say(pwMsg, `Password changed. Every other session was logged out ` +
          `(${plural(ended, 'session', 'sessions')} ended, this one renewed), and ` +
          `${plural(revoked, 'API token was', 'API tokens were')} revoked.`, true);
        // Every token is gone now.
        void loadTokens();
      } catch (err) {
        const e2 = err as ApiError;
        if (e2.status === 429) {
          lockOut(pwBtn, pwMsg, e2.retryAfter, timers);
          return;
        }
        if (e2.status === 403 && !/origin/i.test(e2.message)) {
          invalid(pwCur, pwMsg, 'The current password is wrong: the password was not changed.');
        } else {
          say(pwMsg, `Could not change the password: ${e2.message}`);
        }
      }
      pwBtn.disabled = false;
    } },
  pwUser,
  field('pw-current', 'Current password', pwCur),
  field('pw-new', 'New password', pwNew, `${PASSWORD_MIN} to ${PASSWORD_MAX} characters.`),
  field('pw-confirm', 'New password again', pwConfirm),
  h('p', { class: 'field-hint' },
    'Changing it logs out every other session of this user and revokes all API tokens.'),
  pwMsg, h('div', {}, pwBtn));

  root.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Account'), who),
    h('section', { class: 'card', 'aria-labelledby': 'tokens-head' },
      listHead,
      h('p', { class: 'muted small' }, 'Scripts and tools (Grafana, Prometheus, curl) call the API with ',
        h('code', {}, 'Authorization: Bearer TOKEN'), '. Expired tokens are removed from the list.'),
      h('div', { class: 'table-wrap' }, table), listMsg),
    h('div', { class: 'grid2' },
      h('section', { class: 'card' }, h('h2', { id: 'tk-head' }, 'New API token'), tkForm, reveal),
      h('section', { class: 'card' }, h('h2', { id: 'pw-head' }, 'Change password'), pwForm)));

  getMe(ctl.signal).then((me) => {
    who.textContent = `Logged in as ${me.user}`;
    for (const i of userFields) i.value = me.user;
  }).catch(() => { /* the 401 handler or the token list shows the problem */ });
  void loadTokens();

  return () => {
    ctl.abort();
    for (const t of timers) window.clearInterval(t);
  };
}
