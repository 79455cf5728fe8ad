// End-to-end test of the SIPMan web UI in a headless browser: Debian's
// Chromium through playwright-core, or Debian's Firefox ESR through
// puppeteer-core over WebDriver BiDi (--browser chromium|firefox). Both come
// pinned from ui/node_modules. The Firefox side is puppeteer because
// playwright-core 1.65's BiDi Firefox sends emulation.setMediaFeaturesOverride
// on every new context, which Firefox ESR 153 rejects ("unknown command").
//
// With --sipman BIN: fills a fresh database with `BIN analyze` from --pcap,
// starts `BIN serve` on a free port with a random admin password
// (SIPMAN_ADMIN_PASSWORD), and stops it by PID at the end. With --url URL
// (and --user/--password) it drives a server that is already running.
//
// Steps: wrong password refused, log in (Tab from the user name to the
// password), dashboard charts, paging and sorting, search a call by caller
// (Tab into the field, Enter submits), open it, the ladder has one arrow per
// message of the API, a message's raw text, the pcap download starts with a
// pcap magic, registrations, statistics. Then, except in the live run, the
// account page: create an API token with the password (shown once, listed,
// accepted as a Bearer token by node's fetch), revoke it with the two-step
// button, a wrong password refused; change the password through the form
// (a session and a token from before the change are refused afterwards)
// and restore the original one from node, so that a server given by --url
// keeps its password. A screenshot of each page goes to --artifacts
// (default /tmp/sipman-e2e-artifacts). Exit 0: pass; 1: fail; 2: bad
// arguments.
//
// Live (SIPMAN_E2E_EXPECT_LIVE=1, against `sipman run` capturing traffic):
// the dashboard's counters and charts must grow from the live stream, the
// concurrent calls and live call starts must show; with --expect-calls N the
// test then waits (bounded) until N calls are stored before it searches, so
// that the table and the API see the same rows.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (m) a[m[1]] = argv[++i];
  }
  return a;
}
const args = parseArgs(process.argv.slice(2));
const artifacts = args.artifacts ?? process.env.SIPMAN_E2E_ARTIFACTS ?? '/tmp/sipman-e2e-artifacts';
const chromiumPath = args.chromium ?? process.env.CHROMIUM ?? '/usr/bin/chromium';
const firefoxPath = args.firefox ?? process.env.FIREFOX ?? '/usr/bin/firefox-esr';
const browserName = args.browser ?? 'chromium';
if (browserName !== 'chromium' && browserName !== 'firefox') {
  console.log(`FAIL --browser ${browserName}: use chromium or firefox`);
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });

let failures = 0;
function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures += 1;
  return cond;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitHealthy(url, child, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child && child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server at ${url} not healthy after ${ms} ms`);
}

// A request from node itself, outside the browser, like a script: no
// cookie jar and no Origin header. `cookie` is the "sipman_session=..." pair
// a login answered with (returned as `cookie`), `bearer` an API token.
async function nodeApi(method, p, { body, cookie, bearer } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (cookie) headers.Cookie = cookie;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const r = await fetch(`${baseUrl}${p}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  const session = r.headers.getSetCookie().map((c) => c.split(';')[0])
    .find((c) => c.startsWith('sipman_session=') && c !== 'sipman_session=');
  return { status: r.status, body: json, cookie: session ?? null };
}

let server = null;
let baseUrl = args.url;
let user = args.user ?? 'admin';
let password = args.password ?? process.env.SIPMAN_ADMIN_PASSWORD ?? '';
let workDir = null;

async function startServer() {
  const bin = args.sipman;
  const pcap = args.pcap;
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipman-e2e-'));
  const db = path.join(workDir, 'e2e.db');
  execFileSync(bin, ['analyze', '--db', db, pcap], { stdio: ['ignore', 'ignore', 'inherit'] });
  const port = await freePort();
  password = crypto.randomBytes(12).toString('base64url');
  baseUrl = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(artifacts, 'server.log'), 'w');
  server = spawn(bin, ['serve', '--db', db, '--listen', `127.0.0.1:${port}`], {
    env: { ...process.env, SIPMAN_ADMIN_PASSWORD: password },
    stdio: ['ignore', log, log],
  });
  console.log(`server pid ${server.pid} on ${baseUrl}, database ${db}`);
  await waitHealthy(baseUrl, server, 20000);
}

function stopServer() {
  if (!server || server.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    server.on('exit', () => { clearTimeout(t); resolve(); });
    process.kill(server.pid, 'SIGTERM');
  });
}

const PCAP_MAGICS = ['a1b2c3d4', 'd4c3b2a1', 'a1b23c4d', '4d3cb2a1'];
const VIEWPORT = { width: 1366, height: 768 };
const TIMEOUT_MS = 15000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The few browser actions the test needs, over either library. Reads of
// the page go through evaluate() (the same DOM code in both browsers); typing,
// clicks and keys go through each library's real input events.
async function openChromium() {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  return {
    page,
    version: browser.version(),
    close: () => browser.close(),
    waitFor: (sel) => page.waitForSelector(sel),
    waitFn: (fn, arg, timeout = TIMEOUT_MS) => page.waitForFunction(fn, arg, { timeout }),
    fill: (sel, value) => page.fill(sel, value),
    select: (sel, value) => page.selectOption(sel, value),
    click: (sel) => page.click(sel),
    clickText: (sel, text) => page.click(`${sel} >> text=${text}`),
    // The pcap link through Chromium's download machinery, saved to `file`.
    download: async (sel, file) => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(sel)]);
      await download.saveAs(file);
    },
  };
}

async function openFirefox() {
  const puppeteer = require('puppeteer-core');
  // puppeteer-core has no download events over BiDi: Firefox saves
  // downloads into this folder without asking (its own preferences), and
  // download() waits for the finished file there.
  const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'sipman-e2e-dl-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: firefoxPath,
    headless: true,
    defaultViewport: VIEWPORT,
    extraPrefsFirefox: {
      'browser.download.dir': downloads,
      'browser.download.folderList': 2,
      'browser.download.useDownloadDir': true,
      'browser.download.always_ask_before_handling_new_types': false,
      'browser.download.start_downloads_in_tmp_dir': false,
      'browser.download.alwaysOpenPanel': false,
    },
  }).catch((e) => {
    fs.rmSync(downloads, { recursive: true, force: true });
    throw new Error(`cannot start Firefox ${firefoxPath} over WebDriver BiDi: ${e.message}`);
  });
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const waitFor = (sel) => page.waitForSelector(sel, { visible: true });
  return {
    page,
    version: await browser.version(),
    close: async () => {
      await browser.close();
      fs.rmSync(downloads, { recursive: true, force: true });
    },
    waitFor,
    waitFn: (fn, arg, timeout = TIMEOUT_MS) => page.waitForFunction(fn, { timeout }, arg),
    fill: async (sel, value) => {
      await waitFor(sel);
      await page.$eval(sel, (el) => { el.value = ''; });
      await page.type(sel, value);
    },
    select: async (sel, value) => { await waitFor(sel); await page.select(sel, value); },
    click: async (sel) => { await waitFor(sel); await page.click(sel); },
    clickText: async (sel, text) => {
      const s = `${sel}::-p-text(${text})`;
      await waitFor(s);
      await page.click(s);
    },
    download: async (sel, file) => {
      await waitFor(sel);
      const name = await page.$eval(sel, (a) => a.getAttribute('download'));
      await page.click(sel);
      const end = Date.now() + TIMEOUT_MS;
      const done = path.join(downloads, name);
      // Firefox writes NAME.part and renames it to NAME when complete.
      while (Date.now() < end && !(fs.existsSync(done) && !fs.existsSync(`${done}.part`))) await sleep(200);
      if (!fs.existsSync(done)) {
        throw new Error(`Firefox saved no ${name} in ${downloads} within ${TIMEOUT_MS} ms ` +
          `(found: ${fs.readdirSync(downloads).join(', ') || 'nothing'})`);
      }
      fs.copyFileSync(done, file);
    },
  };
}

async function run() {
  if (!baseUrl) await startServer();
  const b = browserName === 'firefox' ? await openFirefox() : await openChromium();
  const { page } = b;
  console.log(`     browser ${browserName} ${b.version}`);
  const errors = [];
  let loggedIn = false;
  // Before the login the dashboard's live stream (an EventSource on
  // /api/v1/live) is refused with 401: Chromium logs "401 (Unauthorized)" on
  // the console, Firefox reports "can't establish a connection to the server
  // at .../api/v1/live" as a script error. Both are expected then.
  // The account checks send a wrong password on purpose: each such 403 may
  // show once (Chromium logs "Failed to load resource: ... 403 (Forbidden)").
  let forbiddenExpected = 0;
  const expected403 = (t) => {
    if (forbiddenExpected <= 0 || !/\b403\b|Forbidden/.test(t)) return false;
    forbiddenExpected -= 1;
    return true;
  };
  const expected = (t) => /401|Unauthorized/.test(t) ||
    (!loggedIn && /establish a connection to the server at \S+\/api\/v1\/live/.test(t)) ||
    expected403(t);
  try {
    page.on('pageerror', (e) => { if (!expected(String(e))) errors.push(String(e)); });
    page.on('console', (m) => { if (m.type() === 'error' && !expected(m.text())) errors.push(m.text()); });
    const shot = async (name, fullPage = false) => {
      const f = path.join(artifacts, `${name}.png`);
      // A page redrawn every second on a loaded machine can take Chromium
      // longer than the usual wait to capture: screenshots get a minute.
      await page.screenshot({ path: f, fullPage, timeout: 4 * TIMEOUT_MS });
      console.log(`     screenshot ${f}`);
    };
    const api = (p) => page.evaluate(async (u) => {
      const r = await fetch(u, { credentials: 'same-origin' });
      return { status: r.status, body: r.ok ? await r.json() : null };
    }, p);
    // A write with the page's session, as the UI sends it (JSON, same origin).
    const apiSend = (method, p, body) => page.evaluate(async ([m, u, bd]) => {
      const r = await fetch(u, {
        method: m,
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: bd === null ? undefined : JSON.stringify(bd),
      });
      let json = null;
      try { json = await r.json(); } catch { /* not JSON */ }
      return { status: r.status, body: json };
    }, [method, p, body ?? null]);
    // Waits for fn(arg) in the page; false instead of a throw on timeout.
    const became = (fn, arg) => b.waitFn(fn, arg).then(() => true, () => false);
    // DOM reads, identical in both browsers.
    const text = (sel) => page.evaluate((s) => document.querySelector(s)?.textContent ?? null, sel);
    const texts = (sel) => page.evaluate((s) => [...document.querySelectorAll(s)].map((e) => e.textContent ?? ''), sel);
    const count = (sel) => page.evaluate((s) => document.querySelectorAll(s).length, sel);
    const attr = (sel, name) => page.evaluate(([s, n]) => document.querySelector(s)?.getAttribute(n) ?? null, [sel, name]);
    const focusNth = (sel, n) => page.evaluate(([s, i]) => document.querySelectorAll(s)[i]?.focus(), [sel, n]);
    const focused = () => page.evaluate(() => document.activeElement?.id ?? '');

    // Login: an unauthenticated visit lands on the login page.
    await page.goto(`${baseUrl}/#/dashboard`);
    await b.waitFor('form.login-box');
    check(page.url().includes('#/login'), 'unauthenticated visit goes to the login page');
    await b.fill('#username', user);
    await b.fill('#password', `${password}-wrong`);
    await page.keyboard.press('Enter');
    await b.waitFn(() => document.querySelector('.login-box .error')?.textContent !== '');
    const msg = await text('.login-box .error');
    check(/wrong user name or password/i.test(msg ?? ''), `wrong password refused ("${msg}")`);
    await shot('01-login');
    // The second try by keyboard only: Tab from the user name to the
    // password, type it, Enter.
    await b.fill('#password', '');
    await b.click('#username');
    await page.keyboard.press('Tab');
    check(await focused() === 'password', 'Tab moves from the user name to the password');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await b.waitFor('.kpis .kpi');
    loggedIn = true;

    // Dashboard.
    check(page.url().includes('#/dashboard'), 'login returns to the dashboard');
    await b.waitFor('figure.chart svg');
    const charts = await count('figure.chart');
    check(charts >= 5, `dashboard shows ${charts} charts`);
    const live = process.env.SIPMAN_E2E_EXPECT_LIVE === '1';
    if (live) {
      // Last calls keeps the 15 newest events: by the time the checks below
      // are done, late in the traffic, ends may have pushed every start out.
      // Count each live start row as it is drawn.
      await page.evaluate(() => {
        const body = document.querySelector('#last-calls tbody');
        const starts = () => body.querySelectorAll('tr[data-source=live] .badge.ev-start').length;
        window.sipmanLiveStarts = starts();
        new MutationObserver(() => { window.sipmanLiveStarts = Math.max(window.sipmanLiveStarts, starts()); })
          .observe(body, { childList: true });
      });
    }
    const kpi = (label) => page.evaluate((l) => {
      for (const k of document.querySelectorAll('.kpis .kpi')) {
        if (k.querySelector('.kpi-label')?.textContent === l) {
          return Number((k.querySelector('.kpi-value')?.textContent ?? '').replace(/,/g, ''));
        }
      }
      return null;
    }, label);
    const kpiAbove = (label, min, timeout) => b.waitFn(([l, m]) => {
      for (const k of document.querySelectorAll('.kpis .kpi')) {
        if (k.querySelector('.kpi-label')?.textContent === l) {
          return Number((k.querySelector('.kpi-value')?.textContent ?? '').replace(/,/g, '')) > m;
        }
      }
      return false;
    }, [label, min], timeout).then(() => true, () => false);
    if (live) {
      // Traffic seconds reach the stream once closed (8 s of capture time
      // after they end): wait for the first, then see the counters grow.
      check(await kpiAbove('messages in 5 min', 0, 30000),
        'live traffic reaches the dashboard (messages in 5 min > 0)');
      const m1 = await kpi('messages in 5 min');
      check(await kpiAbove('messages in 5 min', m1, 10000),
        `the dashboard's messages grow while traffic flows (${m1} -> ${await kpi('messages in 5 min')})`);
      check(await kpiAbove('concurrent calls', 0, 10000),
        `concurrent calls from the live stream (${await kpi('concurrent calls')})`);
      const starts = await page.evaluate(() => window.sipmanLiveStarts);
      check(starts > 0, `live call starts appear in Last calls (at most ${starts} at once)`);
    }
    const firstLine = () => page.evaluate(() =>
      document.querySelector('figure.chart')?.querySelector('polyline')?.getAttribute('points') ?? null);
    const before = await firstLine();
    await sleep(3000);
    const after = await firstLine();
    const status = (await text('.live-status')) ?? '';
    console.log(`     live status: ${status.trim()}; charts ${before === after ? 'unchanged' : 'updated'}`);
    if (live) {
      check(before !== after && after !== null, 'dashboard charts update from the live stream');
    }
    await shot('02-dashboard');

    if (args['expect-calls']) {
      // Calls are stored when they end (plus 32 s for retransmissions).
      const want = Number(args['expect-calls']);
      const end = Date.now() + 150000;
      let have = 0;
      while (Date.now() < end) {
        const r = await api(`/api/v1/calls?limit=${Math.min(want + 10, 1000)}`);
        have = r.body?.calls.length ?? 0;
        if (have >= want) break;
        await sleep(2000);
      }
      check(have >= want, `${have} of ${want} calls stored while the server runs`);
    }

    // Calls: search by caller, using a caller the API knows.
    const first = await api('/api/v1/calls?limit=1&sort=invite_ts');
    check(first.status === 200 && first.body.calls.length > 0, 'the API lists calls');
    const caller = first.body.calls[0].caller_user;
    await b.click('nav a[href="#/calls"]');
    await b.waitFor('#calls-table tbody tr');
    // Paging over the server's cursors, and sorting, on the unfiltered list.
    const rowSel = '#calls-table tbody tr[data-id]';
    const firstId = () => attr(rowSel, 'data-id');
    // The table's data-shows names the search (URL hash) and page its rows
    // answer: waiting on it, not on any row, keeps the previous search's
    // rows, still on screen for a moment, from being read as this one's.
    const tableShows = (n = 1) => b.waitFn((want) =>
      document.querySelector('#calls-table')?.getAttribute('data-shows') === `${location.hash} page ${want}`, n);
    // A central store (--expect-sensors A,B): the list shows every sensor's
    // calls, each row names its sensor, and the sensor filter keeps one.
    for (const sensor of (args['expect-sensors'] ?? '').split(',').filter(Boolean)) {
      const want = await api(`/api/v1/calls?sensor=${encodeURIComponent(sensor)}&limit=500`);
      await page.goto(`${baseUrl}/#/calls?sensor=${encodeURIComponent(sensor)}&limit=500`);
      await b.waitFn((s) => location.hash.includes(`sensor=${s}`), encodeURIComponent(sensor));
      await tableShows();
      // data-sensors: the row's sensor, then those that also saw the call.
      const sensorsOf = () => page.evaluate((s) => [...document.querySelectorAll(s)]
        .map((e) => (e.getAttribute('data-sensors') ?? '').split(',')), `${rowSel} td.sensor`);
      const shown = await sensorsOf();
      check(want.status === 200 && shown.length === want.body.calls.length && shown.length > 0 &&
        shown.every((list) => list.includes(sensor)),
      `sensor filter ${sensor}: ${shown.length} rows, each seen by ${sensor} (API: ${want.body?.calls.length})`);
      await shot(`03-calls-sensor-${sensor}`);
    }
    if (args['expect-sensors']) {
      await page.goto(`${baseUrl}/#/calls?limit=500`);
      await tableShows();
      const seen = new Set((await page.evaluate((s) => [...document.querySelectorAll(s)]
        .map((e) => e.getAttribute('data-sensors') ?? ''), `${rowSel} td.sensor`))
        .flatMap((t) => t.split(',')));
      check(args['expect-sensors'].split(',').every((s) => seen.has(s)),
        `the unfiltered call list shows every sensor (${[...seen].join(', ')})`);
      await page.goto(`${baseUrl}/#/calls`);
      await tableShows();
    }
    // A limit the Rows-per-page list does not offer (an edited URL) is shown.
    await page.goto(`${baseUrl}/#/calls?limit=7`);
    await tableShows();
    const limitShown = await page.evaluate(() => document.querySelector('#f-limit')?.value);
    const rows7 = await count(rowSel);
    check(limitShown === '7' && rows7 > 0 && rows7 <= 7,
      `an unlisted limit from the URL shows in Rows per page ("${limitShown}", ${rows7} rows)`);
    const small = await api('/api/v1/calls?limit=25');
    if (small.body && small.body.next_cursor) {
      await page.goto(`${baseUrl}/#/calls?limit=25`);
      await tableShows(1);
      const p1 = await firstId();
      await b.click('#next');
      await tableShows(2);
      const p2 = await firstId();
      const err = await text('#calls-table td.error');
      let back = null;
      if (!err) {
        await b.click('#prev');
        await tableShows(1);
        back = await firstId();
      }
      check(!err && p2 !== null && p2 !== p1 && back === p1,
        `Next and Previous page through the calls${err ? ` (${err})` : ''}`);
    }
    await b.clickText('#calls-table th button.sort', 'Duration');
    await b.waitFn(() => location.hash.includes('sort=-duration_ms'));
    await tableShows();
    const longest = await api('/api/v1/calls?limit=1&sort=-duration_ms');
    const firstCall = await api(`/api/v1/calls/${await firstId()}`);
    check(firstCall.body?.call.duration_ms === longest.body?.calls[0]?.duration_ms,
      'sorting by duration puts the longest call first');
    await b.click('nav a[href="#/calls"]');
    await b.waitFn(() => !location.hash.includes('sort='));
    await tableShows();
    // By keyboard: Tab from the match-mode selector into the caller field,
    // type, Enter submits the search form.
    await focusNth('#f-caller_mode', 0);
    await page.keyboard.press('Tab');
    check(await focused() === 'f-caller', 'Tab reaches the caller search field');
    await page.keyboard.type(caller);
    await page.keyboard.press('Enter');
    await b.waitFn((c) => location.hash.includes(`caller=${encodeURIComponent(c)}`), caller);
    await tableShows();
    const callers = await texts(`${rowSel} td:nth-child(2)`);
    check(callers.length > 0 && callers.every((t) => t.startsWith(caller)),
      `search by caller "${caller}" shows ${callers.length} calls, all of that caller`);
    const apiHits = await api(`/api/v1/calls?caller=${encodeURIComponent(caller)}&limit=50`);
    check(apiHits.body && apiHits.body.calls.length === callers.length,
      `table rows (${callers.length}) = API results (${apiHits.body?.calls.length})`);
    await shot('03-calls');

    // Open the first result with the keyboard.
    const id = await firstId();
    await focusNth(rowSel, 0);
    await page.keyboard.press('Enter');
    await b.waitFor('svg.ladder');
    check(page.url().endsWith(`#/calls/${id}`), `Enter opens call ${id}`);
    const detail = await api(`/api/v1/calls/${id}`);
    const arrows = await count('svg.ladder g.arrow');
    check(detail.body && arrows === detail.body.messages.length && arrows > 0,
      `ladder has ${arrows} arrows for ${detail.body?.messages.length} messages`);
    await b.click('svg.ladder g.arrow');
    const raw = (await text('#raw')) ?? '';
    check(/^(INVITE|[A-Z]+ sip:|SIP\/2\.0)/.test(raw), 'clicking an arrow shows the raw message');
    await focusNth('svg.ladder g.arrow', Math.min(1, arrows - 1));
    await page.keyboard.press('Enter');
    const raw2 = (await text('#raw')) ?? '';
    check(arrows < 2 || raw2 !== raw, 'Enter on an arrow shows its message');
    await shot('04-call', true);

    // The pcap download, through the browser's own download of the link.
    const file = path.join(artifacts, `call-${id}.pcap`);
    fs.rmSync(file, { force: true });
    await b.download('#download-pcap', file);
    const head = fs.readFileSync(file).subarray(0, 4).toString('hex');
    check(PCAP_MAGICS.includes(head), `downloaded pcap ${file} starts with a pcap magic (${head})`);

    // Registrations.
    await b.click('nav a[href="#/registrations"]');
    await b.waitFor('#reg-history tbody tr');
    check(true, 'registrations page loads');
    await shot('05-registrations', true);

    // Statistics over all stored data.
    await page.goto(`${baseUrl}/#/stats?range=all`);
    await b.waitFor('#periods svg');
    await b.waitFor('#ratios svg');
    await b.waitFor('#traffic svg');
    await b.waitFor('#top tbody tr');
    const calls = await text('.kpis .kpi:first-child .kpi-value');
    check(Number((calls ?? '0').replace(/,/g, '')) > 0, `statistics count ${calls} calls`);
    await shot('06-statistics', true);
    await b.click('button[data-range="day"]');
    await b.waitFor('button[data-range="day"].on');
    await b.waitFor('.kpis .kpi, .notice');
    await b.waitFn(() => !document.querySelector('.stats-body .loading'));
    await shot('07-statistics-day');

    if (live) {
      // Back on the dashboard: the stored calls, and those that ended.
      await b.click('nav a[href="#/dashboard"]');
      await b.waitFor('figure.chart svg');
      await sleep(2500);
      await shot('08-dashboard-after');
    }

    // The account page (#/account). Not in the live run: that phase checks
    // the live stream, and its script logs in again with the password.
    async function accountChecks() {
      await b.click('a[href="#/account"]');
      await b.waitFor('#tokens-table[data-loaded]');
      check(page.url().endsWith('#/account') && (await text('main h1')) === 'Account',
        "the top bar's Account link opens the account page");

      // A token through the form: name, 30 days, the password again.
      const tokenName = `e2e-${browserName}`;
      await b.fill('#tk-name', tokenName);
      await b.select('#tk-expires', '30');
      await b.fill('#tk-password', password);
      await b.click('#tk-create');
      await b.waitFor('#new-token');
      const token = await page.evaluate(() => document.querySelector('#new-token')?.value ?? '');
      check(/^[A-Za-z0-9_-]{43}$/.test(token),
        `the new token shows: 43 characters of base64url (${token.length} characters)`);
      check(/will not be shown again/.test((await text('#new-token-box')) ?? '') &&
        await page.evaluate(() => document.querySelector('#new-token')?.readOnly === true) &&
        await focused() === 'new-token',
      'it is in a read-only field that has the focus, with a note that it is shown only once');
      const tokenId = await attr('#new-token-box', 'data-id');
      const row = `#tokens-table tbody tr[data-id="${tokenId}"]`;
      check(await became((s) => !!document.querySelector(s), row) &&
        (await text(`${row} td:first-child`)) === tokenName, `token ${tokenId} "${tokenName}" is listed`);
      const listed = (await api('/api/v1/tokens')).body?.tokens?.find((t) => String(t.id) === tokenId);
      const days = listed ? (listed.expires_ts - listed.created_ts) / 86400e9 : NaN;
      check(Math.abs(days - 30) < 0.01, `the API lists it, expiring 30 days after its creation (${days})`);
      await b.click('#copy-token');
      check(await became(() => (document.querySelector('#copy-status')?.textContent ?? '') !== ''),
        `Copy answers ("${await text('#copy-status')}")`);
      await shot('09-account', true);

      // The token authenticates a script, and the list notes its use.
      const me = await nodeApi('GET', '/api/v1/me', { bearer: token });
      check(me.status === 200 && me.body?.user === user && me.body?.auth === 'token',
        `node's fetch with Authorization: Bearer gets /api/v1/me (${me.status} ${JSON.stringify(me.body)})`);
      await page.reload();
      await b.waitFor(row);
      const used = await text(`${row} td:nth-child(4)`);
      check(used !== null && used !== 'never', `the list shows the token's last use (${used})`);

      // Revoke: the first click only asks, the second revokes.
      const revokeBtn = `${row} button.revoke`;
      await b.click(revokeBtn);
      await b.waitFn((s) => document.querySelector(s)?.textContent === 'Confirm revoke', revokeBtn);
      check((await nodeApi('GET', '/api/v1/me', { bearer: token })).status === 200 &&
        await count(row) === 1, 'the first click on Revoke only asks to confirm');
      await b.click(revokeBtn);
      check(await became((s) => !document.querySelector(s), row),
        `Confirm revoke takes the token off the list ("${await text('#tokens-msg')}")`);
      const revoked = await nodeApi('GET', '/api/v1/me', { bearer: token });
      check(revoked.status === 401, `the revoked token is refused (${revoked.status})`);

      // A wrong password creates nothing.
      const rowsBefore = await count('#tokens-table tbody tr[data-id]');
      forbiddenExpected += 1;
      await b.fill('#tk-password', `${password}-wrong`);
      await b.click('#tk-create');
      check(await became(() => /wrong password/i.test(document.querySelector('#tk-msg')?.textContent ?? '')),
        `a wrong password is refused ("${await text('#tk-msg')}")`);
      check((await api('/api/v1/tokens')).body?.tokens?.length === rowsBefore, 'and creates no token');

      // The password change. Before it: a second session (node's login)
      // and a second token, both working.
      const other = await nodeApi('POST', '/api/v1/login', { body: { username: user, password } });
      const old = await apiSend('POST', '/api/v1/tokens', { name: 'before-change', password, expires_days: 7 });
      const oldToken = old.body?.token ?? '';
      check(other.status === 200 && other.cookie &&
        (await nodeApi('GET', '/api/v1/me', { cookie: other.cookie })).status === 200 &&
        old.status === 201 && (await nodeApi('GET', '/api/v1/me', { bearer: oldToken })).status === 200,
      `before the change: a second session and a second token work (login ${other.status}, token ${old.status})`);
      const oldRow = `#tokens-table tbody tr[data-id="${old.body?.id}"]`;
      await page.reload();
      await b.waitFor(oldRow);
      const newPassword = `${password}-changed`;
      let changedTo = null;
      try {
        await b.fill('#pw-current', password);
        await b.fill('#pw-new', newPassword);
        await b.fill('#pw-confirm', newPassword);
        await b.click('#pw-submit');
        const changed = await became(() =>
          /password changed/i.test(document.querySelector('#pw-msg')?.textContent ?? ''));
        if (changed) changedTo = newPassword;
        const said = (await text('#pw-msg')) ?? '';
        const ended = Number(/\((\d+) sessions? ended/.exec(said)?.[1] ?? 0);
        check(changed && /every other session was logged out/i.test(said) && ended >= 1 &&
          /\b1 API token was revoked/.test(said), `the form changes the password ("${said}")`);
        const mine = await api('/api/v1/me');
        check(mine.status === 200, `the session that changed it stays logged in (${mine.status})`);
        const otherAfter = await nodeApi('GET', '/api/v1/me', { cookie: other.cookie });
        check(otherAfter.status === 401, `the session from before the change is logged out (${otherAfter.status})`);
        const tokenAfter = await nodeApi('GET', '/api/v1/me', { bearer: oldToken });
        check(tokenAfter.status === 401, `the token from before the change is refused (${tokenAfter.status})`);
        check(await became((s) => !document.querySelector(s), oldRow), 'and the list no longer shows it');
        await shot('10-account-password', true);
        const oldLogin = await nodeApi('POST', '/api/v1/login', { body: { username: user, password } });
        check(oldLogin.status === 401, `the old password no longer logs in (${oldLogin.status})`);
      } finally {
        // Back to the original password, from node with a session of the
        // new one: the rest of the run, and a server given by --url, keep it.
        if (changedTo) {
          const s = await nodeApi('POST', '/api/v1/login', { body: { username: user, password: changedTo } });
          const r = s.cookie ? await nodeApi('POST', '/api/v1/password',
            { cookie: s.cookie, body: { current_password: changedTo, new_password: password } }) : s;
          const again = await nodeApi('POST', '/api/v1/login', { body: { username: user, password } });
          if (!check(r.status === 200 && again.status === 200,
            `the original password is restored (login ${s.status}, change ${r.status}, login ${again.status})`)) {
            console.log("     the password may be left as the original one with '-changed' appended");
          }
        }
      }
    }
    if (!live) await accountChecks();

    check(errors.length === 0, `no script errors in the page${errors.length ? `: ${errors.join('; ')}` : ''}`);
  } finally {
    await b.close();
  }
}

try {
  await run();
} catch (e) {
  console.log(`FAIL ${e.stack ?? e}`);
  failures += 1;
} finally {
  await stopServer();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
}
console.log(`artifacts in ${artifacts}`);
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
