// Login page: POST /api/v1/login; the server sets the session cookie.
import { ApiError, login } from '../api';
import { h } from '../util';

export function renderLogin(root: HTMLElement, query: URLSearchParams): () => void {
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username',
    required: true, value: 'admin' });
  const pass = h('input', { id: 'password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'error', role: 'alert', 'aria-live': 'assertive' });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  let timer = 0;

  const form = h('form', { class: 'login-box', onsubmit: async (e: Event) => {
    e.preventDefault();
    msg.textContent = '';
    btn.disabled = true;
    try {
      await login(user.value, pass.value);
      const next = query.get('next');
      location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/dashboard';
    } catch (err) {
      const e2 = err as ApiError;
      if (e2.status === 401) {
        msg.textContent = 'Wrong user name or password.';
        pass.select();
      } else if (e2.status === 429) {
        let left = e2.retryAfter || 30;
        msg.textContent = `Too many attempts, wait ${left} s.`;
        window.clearInterval(timer);
        timer = window.setInterval(() => {
          left -= 1;
          if (left <= 0) {
            window.clearInterval(timer);
            msg.textContent = '';
            btn.disabled = false;
          } else {
            msg.textContent = `Too many attempts, wait ${left} s.`;
          }
        }, 1000);
        return;
      } else {
        msg.textContent = `Login failed: ${e2.message ?? String(err)}`;
      }
    }
    btn.disabled = false;
  } },
  h('h1', {}, 'SIPMan'),
  h('p', { class: 'muted' }, 'SIP traffic monitor — please log in.'),
  h('label', { for: 'username' }, 'User name'), user,
  h('label', { for: 'password' }, 'Password'), pass,
  msg, btn);
  root.append(form);
  pass.focus();
  return () => window.clearInterval(timer);
}
