// End-to-end test of the SIPMan web UI in headless Chromium (playwright-core).
//
// With --sipman BIN: fills a fresh database with `BIN analyze` from --pcap,
// starts `BIN serve` on a free port with a random admin password
// (SIPMAN_ADMIN_PASSWORD), and stops it by PID at the end. With --url URL
// (and --user/--password) it drives a server that is already running.
//
// Steps: wrong password refused, log in, dashboard charts, search a call by
// caller, open it, the ladder has one arrow per message of the API, a
// message's raw text, the pcap download starts with a pcap magic,
// registrations, statistics. A screenshot of each page goes to --artifacts
// (default /tmp/sipman-e2e-artifacts). Exit 0: pass; 1: fail.
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
const { chromium } = require('playwright-core');

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

async function run() {
  if (!baseUrl) await startServer();
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 },
      acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) errors.push(m.text()); });
    const shot = async (name, fullPage = false) => {
      const f = path.join(artifacts, `${name}.png`);
      await page.screenshot({ path: f, fullPage });
      console.log(`     screenshot ${f}`);
    };
    const api = (p) => page.evaluate(async (u) => {
      const r = await fetch(u, { credentials: 'same-origin' });
      return { status: r.status, body: r.ok ? await r.json() : null };
    }, p);

    // Login: an unauthenticated visit lands on the login page.
    await page.goto(`${baseUrl}/#/dashboard`);
    await page.waitForSelector('form.login-box');
    check(page.url().includes('#/login'), 'unauthenticated visit goes to the login page');
    await page.fill('#username', user);
    await page.fill('#password', `${password}-wrong`);
    await page.press('#password', 'Enter');
    await page.waitForFunction(() => document.querySelector('.login-box .error')?.textContent !== '');
    const msg = await page.textContent('.login-box .error');
    check(/wrong user name or password/i.test(msg ?? ''), `wrong password refused ("${msg}")`);
    await shot('01-login');
    await page.fill('#password', password);
    await page.press('#password', 'Enter');
    await page.waitForSelector('.kpis .kpi');

    // Dashboard.
    check(page.url().includes('#/dashboard'), 'login returns to the dashboard');
    await page.waitForSelector('figure.chart svg');
    const charts = await page.locator('figure.chart').count();
    check(charts >= 5, `dashboard shows ${charts} charts`);
    const live = process.env.SIPMAN_E2E_EXPECT_LIVE === '1';
    const kpi = (label) => page.evaluate((l) => {
      for (const k of document.querySelectorAll('.kpis .kpi')) {
        if (k.querySelector('.kpi-label')?.textContent === l) {
          return Number((k.querySelector('.kpi-value')?.textContent ?? '').replace(/,/g, ''));
        }
      }
      return null;
    }, label);
    const kpiAbove = (label, min, timeout) => page.waitForFunction(([l, m]) => {
      for (const k of document.querySelectorAll('.kpis .kpi')) {
        if (k.querySelector('.kpi-label')?.textContent === l) {
          return Number((k.querySelector('.kpi-value')?.textContent ?? '').replace(/,/g, '')) > m;
        }
      }
      return false;
    }, [label, min], { timeout }).then(() => true, () => false);
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
      const starts = await page.locator('#last-calls .badge.ev-start').count();
      check(starts > 0, `live call starts appear in Last calls (${starts})`);
    }
    const before = await page.locator('figure.chart').first().locator('polyline').first()
      .getAttribute('points').catch(() => null);
    await page.waitForTimeout(3000);
    const after = await page.locator('figure.chart').first().locator('polyline').first()
      .getAttribute('points').catch(() => null);
    const status = (await page.textContent('.live-status')) ?? '';
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
        await page.waitForTimeout(2000);
      }
      check(have >= want, `${have} of ${want} calls stored while the server runs`);
    }

    // Calls: search by caller, using a caller the API knows.
    const first = await api('/api/v1/calls?limit=1&sort=invite_ts');
    check(first.status === 200 && first.body.calls.length > 0, 'the API lists calls');
    const caller = first.body.calls[0].caller_user;
    await page.click('nav a[href="#/calls"]');
    await page.waitForSelector('#calls-table tbody tr');
    // Paging over the server's cursors, and sorting, on the unfiltered list.
    const small = await api('/api/v1/calls?limit=25');
    if (small.body && small.body.next_cursor) {
      await page.goto(`${baseUrl}/#/calls?limit=25`);
      await page.waitForSelector('#calls-table tbody tr[data-id]');
      const p1 = await page.locator('#calls-table tbody tr[data-id]').first().getAttribute('data-id');
      const firstId = () => page.evaluate(() =>
        document.querySelector('#calls-table tbody tr[data-id]')?.getAttribute('data-id') ?? null);
      const settled = () => page.waitForFunction(() => !document.querySelector('#next').disabled ||
        !document.querySelector('#prev').disabled || document.querySelector('#calls-table td.error'));
      await page.click('#next');
      await settled();
      const p2 = await firstId();
      const err = await page.textContent('#calls-table td.error').catch(() => null);
      let back = null;
      if (!err) {
        await page.click('#prev');
        await page.waitForFunction(() => document.querySelector('#prev').disabled &&
          document.querySelector('#calls-table tbody tr[data-id]'));
        back = await firstId();
      }
      check(!err && p2 !== null && p2 !== p1 && back === p1,
        `Next and Previous page through the calls${err ? ` (${err})` : ''}`);
    }
    await page.click('#calls-table th button.sort >> text=Duration');
    await page.waitForFunction(() => location.hash.includes('sort=-duration_ms'));
    await page.waitForSelector('#calls-table tbody tr[data-id]');
    const longest = await api('/api/v1/calls?limit=1&sort=-duration_ms');
    const firstId = await page.locator('#calls-table tbody tr[data-id]').first().getAttribute('data-id');
    const firstCall = await api(`/api/v1/calls/${firstId}`);
    check(firstCall.body?.call.duration_ms === longest.body?.calls[0]?.duration_ms,
      'sorting by duration puts the longest call first');
    await page.click('nav a[href="#/calls"]');
    await page.waitForSelector('#calls-table tbody tr[data-id]');
    await page.fill('#f-caller', caller);
    await page.press('#f-caller', 'Enter');
    await page.waitForFunction((c) => location.hash.includes(`caller=${encodeURIComponent(c)}`), caller);
    await page.waitForSelector('#calls-table tbody tr[data-id]');
    const callers = await page.locator('#calls-table tbody tr[data-id] td:nth-child(2)').allTextContents();
    check(callers.length > 0 && callers.every((t) => t.startsWith(caller)),
      `search by caller "${caller}" shows ${callers.length} calls, all of that caller`);
    const apiHits = await api(`/api/v1/calls?caller=${encodeURIComponent(caller)}&limit=50`);
    check(apiHits.body && apiHits.body.calls.length === callers.length,
      `table rows (${callers.length}) = API results (${apiHits.body?.calls.length})`);
    await shot('03-calls');

    // Open the first result with the keyboard.
    const row = page.locator('#calls-table tbody tr[data-id]').first();
    const id = await row.getAttribute('data-id');
    await row.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('svg.ladder');
    check(page.url().endsWith(`#/calls/${id}`), `Enter opens call ${id}`);
    const detail = await api(`/api/v1/calls/${id}`);
    const arrows = await page.locator('svg.ladder g.arrow').count();
    check(detail.body && arrows === detail.body.messages.length && arrows > 0,
      `ladder has ${arrows} arrows for ${detail.body?.messages.length} messages`);
    await page.locator('svg.ladder g.arrow').first().click();
    const raw = (await page.textContent('#raw')) ?? '';
    check(/^(INVITE|[A-Z]+ sip:|SIP\/2\.0)/.test(raw), 'clicking an arrow shows the raw message');
    await page.locator('svg.ladder g.arrow').nth(Math.min(1, arrows - 1)).focus();
    await page.keyboard.press('Enter');
    const raw2 = (await page.textContent('#raw')) ?? '';
    check(arrows < 2 || raw2 !== raw, 'Enter on an arrow shows its message');
    await shot('04-call', true);

    // The pcap download.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-pcap')]);
    const file = path.join(artifacts, `call-${id}.pcap`);
    await download.saveAs(file);
    const head = fs.readFileSync(file).subarray(0, 4).toString('hex');
    check(PCAP_MAGICS.includes(head), `downloaded pcap ${file} starts with a pcap magic (${head})`);

    // Registrations.
    await page.click('nav a[href="#/registrations"]');
    await page.waitForSelector('#reg-history tbody tr');
    check(true, 'registrations page loads');
    await shot('05-registrations', true);

    // Statistics over all stored data.
    await page.goto(`${baseUrl}/#/stats?range=all`);
    await page.waitForSelector('#periods svg');
    await page.waitForSelector('#ratios svg');
    await page.waitForSelector('#traffic svg');
    await page.waitForSelector('#top tbody tr');
    const calls = await page.textContent('.kpis .kpi:first-child .kpi-value');
    check(Number((calls ?? '0').replace(/,/g, '')) > 0, `statistics count ${calls} calls`);
    await shot('06-statistics', true);
    await page.click('button[data-range="day"]');
    await page.waitForSelector('button[data-range="day"].on');
    await page.waitForSelector('.kpis .kpi, .notice');
    await page.waitForFunction(() => !document.querySelector('.stats-body .loading'));
    await shot('07-statistics-day');

    if (live) {
      // Back on the dashboard: the stored calls, and those that ended.
      await page.click('nav a[href="#/dashboard"]');
      await page.waitForSelector('figure.chart svg');
      await page.waitForTimeout(2500);
      await shot('08-dashboard-after');
    }

    check(errors.length === 0, `no script errors in the page${errors.length ? `: ${errors.join('; ')}` : ''}`);
  } finally {
    await browser.close();
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
