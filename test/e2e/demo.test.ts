// `npm start` (`tandem demo`, the built bundle) in Debian's chromium: the printed URL and login
// open a node's console over the simulated cluster, and the page's demo panel crashes, starts
// and partitions the simulated routers while the dashboard follows live. Loopback only.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually } from '../netns/lab.js';
import { BUNDLE } from '../netns/peers.js';
import { CHROMIUM, DESKTOP, README_SHOTS, browserUnavailable, readmeShot, logIn, recordMutations } from './harness.js';

// The demo needs no root: only chromium and the built bundle with its UI.
const skip = browserUnavailable();

const stateCell = (page: Page, vhid: number) => page.locator(`table.vhids tr[data-vhid="${vhid}"] td`).nth(1);
const card = (page: Page, node: string) => page.locator(`section.demo li[data-node="${node}"]`);

describe('npm start: the web UI on the simulated cluster', { skip, timeout: 120_000 }, () => {
  let demo: ChildProcess;
  let output = '';
  let browser: Browser;

  before(async () => {
    demo = spawn(process.execPath, [BUNDLE, 'demo'], { stdio: ['pipe', 'pipe', 'pipe'] });
    demo.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null) {
      demo.stdin!.write('quit\n');
      const exited = new Promise((resolve) => demo.once('exit', resolve));
      const timer = setTimeout(() => demo.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  });

  it('prints each console\'s URL and the login; the panel crashes fw-a and fw-b\'s dashboard takes vhid 42 live', async () => {
    const printed = await eventually('the demo to print its web UI', () => {
      const urls = /web UI: (.*)\n\s+log in as (\S+), password (\S+)/.exec(output);
      return urls ? urls : undefined;
    }, 15_000);
    const urls = Object.fromEntries([...printed[1]!.matchAll(/(fw-\w) (http:\/\/\S+)/g)].map((m) => [m[1]!, m[2]!]));
    assert.deepEqual(Object.keys(urls), ['fw-a', 'fw-b', 'fw-c']);
    const user = { name: printed[2]!, password: printed[3]! };
    await eventually('fw-a MASTER of vhid 42', () => (/fw-a +vhid 42: BACKUP -> MASTER/.test(output) ? true : undefined), 15_000);

    const context = await browser.newContext({ viewport: DESKTOP });
    try {
      const page = await context.newPage();
      const sent = recordMutations(page);
      const token = await logIn(page, urls['fw-b']!, user);
      await card(page, 'fw-a').waitFor();
      await eventually('fw-b BACKUP of vhid 42 on its page', async () => ((await stateCell(page, 42).textContent())?.includes('BACKUP') ? true : undefined), 5000);
      // The MASTER column names the peer that holds the VHID, from the demo's view.
      assert.match((await page.locator('table.vhids tr[data-vhid="42"] td.master').textContent()) ?? '', /fw-a/);

      // fw-a, MASTER of vhid 42, acts for power: its console's power page pins a backend awake
      // through its Daemon (a pinned host cannot be parked), and unpins it.
      const acting = await context.newPage();
      await logIn(acting, urls['fw-a']!, user);
      await acting.getByRole('link', { name: 'Power' }).click();
      const pin = acting.getByRole('button', { name: 'Pin web-1 awake' });
      await eventually('fw-a acting for power', async () => ((await acting.getByText('acting on hosts').count()) > 0 ? true : undefined), 10_000);
      await pin.click();
      await acting.locator('tr[data-host="web-1"]').getByText('pinned').waitFor({ timeout: 5000 });
      assert.equal(await acting.getByRole('button', { name: 'Park web-1' }).isDisabled(), true);
      const pinned = async () => {
        const status = (await (await acting.request.get(new URL('/api/status', urls['fw-a']).toString())).json()) as { power?: { hosts: { name: string; pinned?: boolean }[] } };
        return status.power?.hosts.find((h) => h.name === 'web-1')?.pinned;
      };
      assert.equal(await pinned(), true);
      await pin.click();
      await eventually('web-1 unpinned', async () => ((await pinned()) === false ? true : undefined), 5000);
      await acting.close();

      await card(page, 'fw-a').getByRole('button', { name: 'Crash fw-a' }).click();
      await eventually('fw-b MASTER of vhid 42 on its page', async () => ((await stateCell(page, 42).textContent())?.includes('MASTER') ? true : undefined), 10_000);
      assert.match(output, /fw-a +crashed/);
      await eventually('fw-a stopped on the panel', async () => ((await card(page, 'fw-a').textContent())?.includes('stopped') ? true : undefined), 5000);

      await card(page, 'fw-a').getByRole('button', { name: 'Start fw-a' }).click();
      await eventually('fw-a running again', async () => ((await card(page, 'fw-a').textContent())?.includes('running') ? true : undefined), 5000);
      await card(page, 'fw-c').getByRole('button', { name: 'Isolate fw-c' }).click();
      await eventually('the partition shown', async () => ((await page.locator('section.demo').textContent())?.includes('Partitioned') ? true : undefined), 5000);
      assert.match(output, /partitioned: fw-c \| fw-a\+fw-b\+client/);
      await page.locator('section.demo').getByRole('button', { name: 'Heal' }).click();
      await eventually('the segment whole again', async () => ((await page.locator('section.demo').textContent())?.includes('whole') ? true : undefined), 5000);

      // Crashing the node whose console this is: the console stays, its VHIDs read INIT, and
      // the panel starts it again.
      await card(page, 'fw-b').getByRole('button', { name: 'Crash fw-b' }).click();
      await eventually('fw-b INIT on its own page', async () => ((await stateCell(page, 42).textContent())?.includes('INIT') ? true : undefined), 5000);
      await card(page, 'fw-b').getByRole('button', { name: 'Start fw-b' }).click();
      await eventually('fw-b back in CARP', async () => ((await stateCell(page, 42).textContent())?.match(/BACKUP|MASTER/) ? true : undefined), 8000);

      // The balancer page drains a backend on this node's Daemon (checked through the API).
      await page.getByRole('link', { name: 'Balancer' }).click();
      await page.getByRole('button', { name: 'Drain web-2' }).click();
      await page.locator('tr[data-host="web-2"]').getByText('drained').waitFor({ timeout: 5000 });
      const drained = async () => {
        const status = (await (await page.request.get(new URL('/api/status', urls['fw-b']).toString())).json()) as { pools: { hosts: { id: string; drained?: boolean }[] }[] };
        return status.pools[0]!.hosts.find((h) => h.id === 'web-2')?.drained === true;
      };
      assert.equal(await drained(), true);
      await page.getByRole('button', { name: 'Undrain web-2' }).click();
      await eventually('web-2 back in service', async () => ((await drained()) ? undefined : true), 5000);
      await page.getByRole('link', { name: 'Dashboard' }).click();
      await stateCell(page, 42).waitFor();

      // The README's picture of `npm start`: three routers, their pools and the demo panel, once
      // the panel (polled every 2 s) has caught up with who is MASTER after the crashes above.
      await eventually('the panel naming the MASTERs', async () =>
        ((await page.locator('table.vhids td.master').allTextContents()).every((t) => t !== 'a peer') ? true : undefined), 10_000);
      await mkdir(README_SHOTS, { recursive: true });
      const shot = readmeShot('demo-desktop.png', await mkdtemp(join(tmpdir(), 'tandem-screens-')));
      await page.screenshot({ path: shot });
      console.log(`screenshot: ${shot}`);

      const verbs = sent.filter((m) => m.path.startsWith('/api/demo/')).map((m) => m.path);
      assert.deepEqual(verbs, ['/api/demo/crash', '/api/demo/start', '/api/demo/partition', '/api/demo/heal', '/api/demo/crash', '/api/demo/start']);
      assert.equal(sent.filter((m) => m.path === '/api/pools/drain').length, 2);
      for (const m of sent.filter((m) => m.path !== '/api/login')) assert.equal(m.csrf, token, `${m.method} ${m.path} carried ${m.csrf}`);
    } finally {
      await context.close();
    }
  });
});
