// scripts/bench/ui: what the web UI costs (issue 12's budget), in one run. The gzipped size of
// every asset in dist/ui/ against the 60 KB JavaScript+CSS budget; the time from navigation
// start to the dashboard's VHID table on screen, in Debian's chromium on loopback (median of N
// loads, cold cache and warm); the daemon's RSS with the API on (idle, then with one browser holding the SSE
// stream open) against a daemon with no api section, both running side by side in lab
// namespaces so the machine's load falls on both alike. Reports, does not assert: exit 0 when
// it ran, 1 on an error, 2 on bad arguments.

import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { eventually, Lab } from '../../test/netns/lab.js';
import { Workdir } from '../../test/netns/peers.js';
import { ApiNode, DESKTOP, UI_DIR, consoleContext, e2eUnavailable, launchBrowser, logIn, passwordHash } from '../../test/e2e/harness.js';
import { BenchCommandLine } from './command-line.js';

const USAGE = `usage: scripts/bench/ui [--loads N] [--seconds N] [--json FILE]

  --loads N     fresh loads of the dashboard to time (default 20; the median is reported)
  --seconds N   RSS sampling window per phase, one sample a second (default 20)
  --json FILE   also write every measurement as JSON`;

const BUDGET_BYTES = 60 * 1024;
const commandLine = new BenchCommandLine('ui bench', USAGE);

interface Asset {
  name: string;
  bytes: number;
  gzipBytes: number;
  /** JavaScript and CSS count toward the budget; HTML, images and maps do not. */
  budgeted: boolean;
}

async function assets(dir: string): Promise<Asset[]> {
  const out: Asset[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const path = join(dir, name);
    if (!(await stat(path)).isFile() || name.endsWith('.map')) continue;
    const bytes = await readFile(path);
    const gzipped = await promisify(gzip)(bytes, { level: 9 });
    out.push({ name, bytes: bytes.length, gzipBytes: gzipped.length, budgeted: /\.(m?js|css)$/.test(name) });
  }
  return out;
}

/**
 * Records, from inside the page, when a table whose header names VHIDs first has a body row
 * and a size on screen: performance.now() is milliseconds since navigation start.
 */
const DASHBOARD_PROBE = `(() => {
  const ready = () => [...document.querySelectorAll('table')].some((t) => {
    const head = (t.getAttribute('aria-label') || '') + (t.caption ? t.caption.textContent : '') + (t.tHead ? t.tHead.textContent : '');
    const r = t.getBoundingClientRect();
    return /vhid/i.test(head) && t.tBodies.length > 0 && t.tBodies[0].rows.length > 0 && r.width > 0 && r.height > 0;
  });
  const check = () => { if (window.__dashboardAt === undefined && ready()) window.__dashboardAt = performance.now(); };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  // The live stream's first status message, which the dashboard renders from.
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(url, options) {
      super(url, options);
      this.addEventListener('status', () => { if (window.__firstStatusAt === undefined) window.__firstStatusAt = performance.now(); });
    }
  };
})();`;

interface Timing {
  dashboardMs: number;
  firstPaintMs: number | undefined;
  /** When app.js had arrived, the session was known, and the live stream's first status came (ms since navigation). */
  scriptMs: number | undefined;
  sessionMs: number | undefined;
  streamMs: number | undefined;
}

async function timeDashboard(page: Page, url: string): Promise<Timing> {
  await page.addInitScript(DASHBOARD_PROBE);
  await page.goto(url);
  // A function, not a string: the console's CSP forbids eval. globalThis, as these types have no DOM.
  await page.waitForFunction(() => (globalThis as { __dashboardAt?: number }).__dashboardAt !== undefined, undefined, { timeout: 15_000 });
  return page.evaluate(`({
    dashboardMs: window.__dashboardAt,
    firstPaintMs: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
    scriptMs: performance.getEntriesByType('resource').find((e) => e.name.includes('/app') && e.name.endsWith('.js'))?.responseEnd,
    sessionMs: performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/session'))?.responseEnd,
    streamMs: window.__firstStatusAt,
  })`);
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** One RSS sample per second of both daemons at once, for `seconds`. */
async function sampleRss(on: ApiNode, off: ApiNode, seconds: number): Promise<{ on: number[]; off: number[] }> {
  const samples = { on: [] as number[], off: [] as number[] };
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    samples.on.push(await rssBytes(on.child.pid!));
    samples.off.push(await rssBytes(off.child.pid!));
  }
  return samples;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function main(): Promise<number> {
  const values = commandLine.parse({ loads: { type: 'string' }, seconds: { type: 'string' }, json: { type: 'string' } });
  if (!values) return 0;
  const loads = commandLine.integer('loads', values.loads, 20, 1, 500);
  const seconds = commandLine.integer('seconds', values.seconds, 20, 3, 600);
  const unavailable = e2eUnavailable();
  if (unavailable) {
    console.error(`ui bench: cannot run: ${unavailable}`);
    return 1;
  }

  const list = await assets(UI_DIR);
  const budgeted = list.filter((a) => a.budgeted).reduce((sum, a) => sum + a.gzipBytes, 0);
  const total = list.reduce((sum, a) => sum + a.gzipBytes, 0);
  console.log(`assets in ${UI_DIR} (gzip -9):`);
  for (const a of list) console.log(`  ${a.name.padEnd(28)} ${kib(a.bytes).padStart(8)} KiB  gzip ${kib(a.gzipBytes).padStart(7)} KiB${a.budgeted ? '' : '  (not JS/CSS)'}`);
  console.log(`  JS+CSS gzipped: ${kib(budgeted)} KiB of the ${kib(BUDGET_BYTES)} KiB budget (${((budgeted / BUDGET_BYTES) * 100).toFixed(0)}%); every asset: ${kib(total)} KiB`);

  const lab = await Lab.create({ hosts: 2 });
  const work = await Workdir.create();
  const user = { name: 'bench', password: 'bench-password-1' };
  try {
    const users = [{ name: user.name, passwordHash: await passwordHash(user.password) }];
    // Each daemon masters its own vhid, so both do the same CARP work.
    const on = await ApiNode.start(lab, 1, work, { vhosts: [{ vhid: 42 }], users, listen: '127.0.0.1:8080' });
    const off = await ApiNode.start(lab, 2, work, { vhosts: [{ vhid: 43, addresses: ['198.51.100.101/24'] }], users: [], listen: false });
    await eventually('both daemons MASTER', async () =>
      (await on.status()).carp[0]?.state === 'MASTER' && (await off.status()).carp[0]?.state === 'MASTER' ? true : undefined, 10_000);

    const idle = await sampleRss(on, off, seconds);
    const browser = await launchBrowser(lab, 1, work);
    try {
      const context = await consoleContext(browser);
      const login = await context.newPage();
      await logIn(login, on.url, user);
      await login.close();
      // Cold: a new context each time (empty HTTP cache, only the session cookie carried over),
      // as a first visit; warm: a new tab in the logged-in context, as a reload.
      const session = await context.storageState();
      const cold: Timing[] = [];
      const times: Timing[] = [];
      for (let i = 0; i < loads; i++) {
        const fresh = await browser.newContext({ viewport: DESKTOP, storageState: session });
        cold.push(await timeDashboard(await fresh.newPage(), on.url));
        await fresh.close();
        const page = await context.newPage();
        times.push(await timeDashboard(page, on.url));
        await page.close();
      }
      // One browser stays on the dashboard with its SSE stream open while RSS is sampled.
      const attached = await context.newPage();
      await timeDashboard(attached, on.url);
      const withBrowser = await sampleRss(on, off, seconds);

      console.log(`\ndashboard on loopback (navigation start → VHID table on screen), ${loads} loads each (budget 1000 ms):`);
      for (const [label, set] of [['cold (empty cache)', cold], ['warm (cached)', times]] as const) {
        const dash = set.map((t) => t.dashboardMs);
        const paints = set.flatMap((t) => (t.firstPaintMs === undefined ? [] : [t.firstPaintMs]));
        console.log(
          `  ${label.padEnd(19)} median ${median(dash).toFixed(0)} ms, min ${Math.min(...dash).toFixed(0)}, max ${Math.max(...dash).toFixed(0)}` +
            (paints.length ? `; first contentful paint median ${median(paints).toFixed(0)} ms` : ''),
        );
        // Where the time goes: the medians of each step that had a resource entry.
        const step = (pick: (t: Timing) => number | undefined) => {
          const v = set.flatMap((t) => (pick(t) === undefined ? [] : [pick(t)!]));
          return v.length ? `${median(v).toFixed(0)} ms` : 'n/a';
        };
        console.log(`  ${''.padEnd(19)} app.js in ${step((t) => t.scriptMs)}, /api/session answered ${step((t) => t.sessionMs)}, first status on /api/events ${step((t) => t.streamMs)}`);
      }
      const row = (label: string, s: { on: number[]; off: number[] }) =>
        `  ${label.padEnd(34)} ${mib(median(s.on)).padStart(6)} MiB   ${mib(median(s.off)).padStart(6)} MiB   ×${(median(s.on) / median(s.off)).toFixed(2)}`;
      console.log(`\ndaemon RSS (median of ${seconds} samples)  api on       api off     ratio`);
      console.log(row('API on, no browser', idle));
      console.log(row('API on, one browser (SSE open)', withBrowser));
      if (values.json) {
        await writeFile(values.json, JSON.stringify({ assets: list, budgetedGzipBytes: budgeted, budgetBytes: BUDGET_BYTES, loads: { cold, warm: times }, rss: { idle, withBrowser } }, null, 2));
      }
      await attached.close();
      await context.close();
    } finally {
      await browser.close();
    }
    return 0;
  } finally {
    await lab.dispose();
    await work.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`ui bench: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
