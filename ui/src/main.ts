// Entry point: the page frame (header with navigation), hash routing and
// the redirect to the login page on 401.
import './style.css';
import { logout as apiLogout, setUnauthorizedHandler } from './api';
import { onFiringCount, refreshFiringCount, REFRESH_MS } from './alert_count';
import { clear, h } from './util';
import { renderLogin } from './pages/login';
import { renderDashboard } from './pages/dashboard';
import { renderCalls } from './pages/calls';
import { renderCall } from './pages/call';
import { renderRegistrations } from './pages/registrations';
import { renderStats } from './pages/stats';
import { renderAccount } from './pages/account';
import { renderAlerts } from './pages/alerts';

// A page draws itself into `root` and returns what to run when it is left
// (closing streams, stopping timers).
export type Cleanup = (() => void) | void;
export type Page = (root: HTMLElement, query: URLSearchParams, arg?: string) => Cleanup;

interface Route { re: RegExp; page: Page; nav: string; title: string }

const routes: Route[] = [
  { re: /^\/login$/, page: renderLogin, nav: '', title: 'Log in' },
  { re: /^\/(dashboard)?$/, page: renderDashboard, nav: 'dashboard', title: 'Dashboard' },
  { re: /^\/calls$/, page: renderCalls, nav: 'calls', title: 'Calls' },
  { re: /^\/calls\/([^/]+)$/, page: renderCall, nav: 'calls', title: 'Call' },
  { re: /^\/registrations$/, page: renderRegistrations, nav: 'registrations', title: 'Registrations' },
  { re: /^\/stats$/, page: renderStats, nav: 'stats', title: 'Statistics' },
  { re: /^\/alerts$/, page: renderAlerts, nav: 'alerts', title: 'Alerts' },
  { re: /^\/account$/, page: renderAccount, nav: 'account', title: 'Account' },
];

const NAV: [string, string][] = [
  ['dashboard', 'Dashboard'], ['calls', 'Calls'], ['registrations', 'Registrations'],
  ['stats', 'Statistics'], ['alerts', 'Alerts'],
];

let cleanup: Cleanup;
const app = document.getElementById('app')!;
// The badge of the frame shown: how many alerts fire now (alert_count.ts).
let unsubscribeBadge: () => void = () => {};

export function navigate(hash: string): void {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function currentPath(): [string, URLSearchParams] {
  const raw = location.hash.replace(/^#/, '') || '/dashboard';
  const qi = raw.indexOf('?');
  const path = qi < 0 ? raw : raw.slice(0, qi);
  return [path, new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1))];
}

setUnauthorizedHandler(() => {
  const [path] = currentPath();
  if (path === '/login') return;
  const back = location.hash || '#/dashboard';
  location.hash = `#/login?next=${encodeURIComponent(back)}`;
});

async function logout(): Promise<void> {
  try { await apiLogout(); } catch { /* session may be gone already */ }
  location.hash = '#/login';
}

// The badge beside "Alerts": the number firing, coloured by the worst
// severity; hidden while none fires.
function alertBadge(): HTMLElement {
  const count = h('span', {});
  const badge = h('span', { class: 'nav-badge', id: 'nav-alerts-badge', hidden: true }, count,
    h('span', { class: 'sr-only' }, ' firing'));
  unsubscribeBadge();
  unsubscribeBadge = onFiringCount(({ count: n, severity }) => {
    badge.hidden = n <= 0;
    badge.className = `nav-badge sev-${severity || 'warning'}`;
    badge.title = `${n} alert${n === 1 ? '' : 's'} firing`;
    count.textContent = String(n);
  });
  void refreshFiringCount();
  return badge;
}

function frame(active: string): HTMLElement {
  const main = h('main', { id: 'main', tabindex: '-1' });
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: '#/dashboard' }, 'SIPMan'),
    h('nav', { 'aria-label': 'main' },
      NAV.map(([id, label]) => h('a', {
        href: `#/${id}`, class: id === active ? 'active' : '',
        'aria-current': id === active ? 'page' : false,
      }, label, id === 'alerts' ? alertBadge() : null))),
    // Account sits with Log out, apart from the data pages: it is about the
    // user, not the traffic.
    h('div', { class: 'user-links' },
      h('a', { href: '#/account', class: active === 'account' ? 'active' : '',
        'aria-current': active === 'account' ? 'page' : false }, 'Account'),
      h('button', { class: 'link logout', onclick: () => void logout() }, 'Log out')));
  clear(app);
  app.append(h('a', { class: 'skip', href: '#', onclick: (e: Event) => {
    e.preventDefault(); main.focus();
  } }, 'Skip to content'), header, main);
  return main;
}

function route(): void {
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const [path, query] = currentPath();
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    document.title = `${r.title} · SIPMan`;
    if (r.nav === '') {
      clear(app);
      const root = h('main', { id: 'main', class: 'login-main' });
      app.append(root);
      cleanup = r.page(root, query);
    } else {
      cleanup = r.page(frame(r.nav), query, m[1] ? decodeURIComponent(m[1]) : undefined);
    }
    return;
  }
  const main = frame('');
  main.append(h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, path), '. ',
    h('a', { href: '#/dashboard' }, 'Go to the dashboard'), '.'));
}

window.addEventListener('hashchange', route);
route();
// The badge is read again every minute, except on the login page.
window.setInterval(() => {
  if (currentPath()[0] !== '/login') void refreshFiringCount();
}, REFRESH_MS);
