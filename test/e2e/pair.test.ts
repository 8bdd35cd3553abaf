// Issue 12's "Done when", clicked in Debian's chromium: a two-node Tandem pair (the built
// bundle, real CARP in lab namespaces) each serving its console over HTTPS on its lab address,
// the browser in a third lab host. Log in, watch both dashboards, fail the MASTER over and see
// the peer's page turn MASTER live; every mutation the UI sent carried the session's CSRF token.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Lab, eventually } from '../netns/lab.js';
import { Workdir } from '../netns/peers.js';
import {
  ApiNode, DESKTOP, PHONE, README_SHOTS, consoleContext, readmeShot, e2eUnavailable, launchBrowser, logIn, passwordHash, recordMutations, showingPages,
  type ConsoleUser,
} from './harness.js';

const skip = e2eUnavailable();
const ADMIN: ConsoleUser = { name: 'admin', password: 'e2e-pair-password' };

/**
 * In the page: the visible controls with no accessible name (no label, aria-label,
 * aria-labelledby, title or text), described by tag, id and class. Run as a string: these
 * types have no DOM.
 */
const UNNAMED_CONTROLS = `[...document.querySelectorAll('button, input:not([type=hidden]), select, textarea, a[href], [role=button]')]
  .filter((el) => el.getClientRects().length > 0)
  .filter((el) => {
    const text = (el.innerText || el.value || '').trim();
    const labelled = (el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.getAttribute('title');
    return !labelled && !(el.tagName !== 'INPUT' && el.tagName !== 'SELECT' && el.tagName !== 'TEXTAREA' && text);
  })
  .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).split(' ').join('.') : ''))`;

/** The dashboard's row for a VHID and the state it shows for this node. */
const stateCell = (page: Page, vhid: number) => page.locator(`table.vhids tr[data-vhid="${vhid}"] td`).nth(1);

/** Marks the document so a reload (a new document) would be seen. */
async function markDocument(page: Page): Promise<() => Promise<boolean>> {
  const mark = `e2e-${Math.random()}`;
  await page.evaluate(`window.__e2eMark = ${JSON.stringify(mark)}`);
  return async () => (await page.evaluate('window.__e2eMark')) === mark;
}

describe('the web console of a CARP pair, in chromium', { skip, timeout: 480_000 }, () => {
  let lab: Lab;
  let work: Workdir;
  let a: ApiNode;
  let b: ApiNode;
  let browser: Browser;
  let users: { name: string; passwordHash: string }[];

  before(async () => {
    lab = await Lab.create({ hosts: 3 });
    work = await Workdir.create();
    users = [{ name: ADMIN.name, passwordHash: await passwordHash(ADMIN.password) }];
    a = await ApiNode.start(lab, 1, work, { vhosts: [{ advskew: 0 }], users });
    await a.control({ cmd: 'status' });
    b = await ApiNode.start(lab, 2, work, { vhosts: [{ advskew: 100 }], users });
    browser = await launchBrowser(lab, 3, work);
  });

  after(async () => {
    await browser?.close();
    await lab?.dispose();
    await work?.dispose();
  });

  it('log in, see both dashboards, fail the MASTER over and see the peer become MASTER without reloading', async () => {
    await eventually('fw-h1 MASTER, fw-h2 BACKUP', async () =>
      (await a.status()).carp[0]?.state === 'MASTER' && (await b.status()).carp[0]?.state === 'BACKUP' ? true : undefined, 10_000);
    const context = await consoleContext(browser);
    try {
      const pageA = await context.newPage();
      const pageB = await context.newPage();
      const sentA = recordMutations(pageA);
      const sentB = recordMutations(pageB);
      await showingPages([pageA, pageB], async () => {
        const tokenA = await logIn(pageA, a.url, ADMIN);
        const tokenB = await logIn(pageB, b.url, ADMIN);
        assert.notEqual(tokenA, tokenB, 'each console issues its own CSRF token');

        await assertText(stateCell(pageA, 42), 'MASTER');
        await assertText(stateCell(pageB, 42), 'BACKUP');
        const sameA = await markDocument(pageA);
        const sameB = await markDocument(pageB);

        // The failover lives on the CARP page behind a confirmation.
        await pageA.getByRole('link', { name: 'CARP' }).click();
        await pageA.getByRole('button', { name: /fail over/i }).click();
        const dialog = pageA.getByRole('dialog');
        await dialog.getByRole('button', { name: /fail over now/i }).click();

        // B's page turns MASTER from its live stream: no reload, no navigation.
        await assertText(stateCell(pageB, 42), 'MASTER', 10_000);
        assert.equal((await b.status()).carp[0]?.state, 'MASTER', 'the daemon agrees with its page');
        await pageA.getByRole('link', { name: 'Dashboard' }).click();
        await assertText(stateCell(pageA, 42), 'BACKUP');
        assert.ok(await sameA(), 'page A was not reloaded');
        assert.ok(await sameB(), 'page B was not reloaded');

        // Every mutation the UI sent carried its console's token (login itself is public).
        const failovers = sentA.filter((m) => m.path === '/api/failover');
        assert.equal(failovers.length, 1, JSON.stringify(sentA));
        for (const [sent, token] of [[sentA, tokenA], [sentB, tokenB]] as const) {
          for (const m of sent.filter((m) => m.path !== '/api/login')) assert.equal(m.csrf, token, `${m.method} ${m.path} carried ${m.csrf}`);
        }
      });
    } finally {
      await context.close();
    }
  });

  it('demote and maintenance from the CARP pages move mastership back and forth, both pages live', async () => {
    const context = await consoleContext(browser);
    try {
      const pageA = await context.newPage();
      const pageB = await context.newPage();
      await showingPages([pageA, pageB], async () => {
        await logIn(pageA, a.url, ADMIN);
        await logIn(pageB, b.url, ADMIN);
        // After the failover above: B is MASTER and A, with preempt off, stays BACKUP.
        await assertText(stateCell(pageB, 42), 'MASTER');
        await assertText(stateCell(pageA, 42), 'BACKUP');

        // Demoting the MASTER hands the VHID to the less demoted peer, preempt or not.
        await pageB.getByRole('link', { name: 'CARP' }).click();
        await pageB.getByLabel('Demote by').fill('1');
        await pageB.getByRole('button', { name: 'Demote', exact: true }).click();
        await assertText(stateCell(pageA, 42), 'MASTER', 10_000);
        assert.equal((await b.status()).demotion.admin, 1);
        await pageB.getByRole('button', { name: 'Reset' }).click();
        await eventually('B\'s demotion reset', async () => ((await b.status()).demotion.admin === 0 ? true : undefined));

        // Maintenance on the new MASTER: it steps back, the page says so, and it is persisted.
        await pageA.getByRole('link', { name: 'CARP' }).click();
        await pageA.getByRole('button', { name: 'Enter maintenance' }).click();
        await pageA.getByText('Maintenance is on').waitFor({ timeout: 5000 });
        await pageB.getByRole('link', { name: 'Dashboard' }).click();
        await assertText(stateCell(pageB, 42), 'MASTER', 10_000);
        const statusA = await a.status();
        assert.equal(statusA.maintenance, true);
        assert.equal(statusA.carp[0]!.advskew, 254);
        await pageA.getByRole('button', { name: 'Leave maintenance' }).click();
        await eventually('A out of maintenance', async () => ((await a.status()).maintenance ? undefined : true));

        // The event log heard both, live, and filters by type.
        await pageA.getByRole('link', { name: 'Events' }).click();
        await pageA.locator('#event-type').selectOption('maintenance');
        const types = pageA.locator('table.log tbody td.wide-only');
        await eventually('on and off in the event log', async () => ((await types.count()) >= 2 ? true : undefined), 5000);
        assert.deepEqual(new Set(await types.allTextContents()), new Set(['maintenance']));
        const lines = await pageA.locator('table.log tbody tr').allTextContents();
        assert.ok(lines.some((l) => /\bon\b/i.test(l)) && lines.some((l) => /\boff\b/i.test(l)), lines.join(' | '));
      });
    } finally {
      await context.close();
    }
  });

  it('is keyboard-operable: log in and reach the CARP page with Tab and Enter alone', async () => {
    const context = await consoleContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(a.url);
      await page.getByLabel(/user/i).waitFor();
      const focusTo = async (matches: () => Promise<boolean>, what: string) => {
        for (let i = 0; i < 25; i++) {
          if (await matches()) return;
          await page.keyboard.press('Tab');
        }
        assert.fail(`Tab never reached ${what}`);
      };
      const focused = (selector: string) => async () => (await page.locator(`${selector}:focus`).count()) > 0;
      await focusTo(focused('#login-user'), 'the user field');
      await page.keyboard.type(ADMIN.name);
      await page.keyboard.press('Tab');
      assert.ok(await focused('#login-password')(), 'Tab goes from user to password');
      await page.keyboard.type(ADMIN.password);
      await page.keyboard.press('Enter');
      await stateCell(page, 42).waitFor();
      await focusTo(focused('nav a[href="#/carp"]'), 'the CARP link');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: /CARP/ }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('saves a screenshot of every page at phone and desktop sizes (with TANDEM_UPDATE_SCREENSHOTS=1, the dashboard\'s into ui/screenshots)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-screens-'));
    const saved: string[] = [];
    await mkdir(README_SHOTS, { recursive: true });
    for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const context: BrowserContext = await consoleContext(browser, viewport);
      try {
        const page = await context.newPage();
        await logIn(page, b.url, ADMIN);
        await stateCell(page, 42).waitFor();
        // Every page the navigation offers, so a new page gets its screenshot without editing this test.
        const links = await page.locator('nav[aria-label="Pages"] a').all();
        const hrefs = (await Promise.all(links.map((l) => l.getAttribute('href')))).filter((h): h is string => h !== null);
        assert.ok(hrefs.length >= 5, `pages: ${hrefs.join(' ')}`);
        for (const href of hrefs) {
          await page.goto(new URL(href, b.url).toString());
          await page.locator('main h1').first().waitFor();
          // The live stream keeps a request open, so "network idle" never comes: give the page's
          // own data requests a moment, then take the picture (a late answer only changes a pixel).
          await page.waitForTimeout(400);
          const name = href.replace(/^#\/?/, '') || 'dashboard';
          const file = name === 'dashboard' ? readmeShot(`dashboard-${size}.png`, dir) : join(dir, `${name}-${size}.png`);
          await page.screenshot({ path: file });
          saved.push(file);
          // Labelled for screen readers: every control on the page has an accessible name.
          const unnamed = (await page.evaluate(UNNAMED_CONTROLS)) as string[];
          assert.deepEqual(unnamed, [], `${href}: controls without a name`);
          // Usable on a phone: no page is wider than the screen (no sideways scrolling).
          const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
          assert.ok(width <= viewport.width, `${href} is ${width} px wide at ${viewport.width} px`);
        }
      } finally {
        await context.close();
      }
    }
    console.log(`screenshots:\n  ${saved.join('\n  ')}`);
    assert.ok(saved.some((f) => f.endsWith('dashboard-phone.png')) && saved.some((f) => f.endsWith('dashboard-desktop.png')));
    for (const file of saved) assert.ok((await stat(file)).size > 1000, `${file} is a picture`);
  });

  it('a restart of the daemon ends its sessions: the open page returns to the login form by itself', async () => {
    const context = await consoleContext(browser);
    try {
      const page = await context.newPage();
      await logIn(page, b.url, ADMIN);
      await stateCell(page, 42).waitFor();
      const same = await markDocument(page);
      // A daemon with a browser's live stream open must still stop on SIGTERM.
      const stopped = await Promise.race([b.terminate(), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 15_000))]);
      if (stopped === 'hung') {
        b.kill9();
        assert.fail(`fw-h2 did not exit within 15 s of SIGTERM with a browser attached:\n${b.output.slice(-3000)}`);
      }
      b = await ApiNode.start(lab, 2, work, { vhosts: [{ advskew: 100 }], users });
      // The live stream reconnects, is refused (401: sessions live in memory), and the page asks again.
      await page.locator('#login-password').waitFor({ timeout: 20_000 });
      assert.ok(await same(), 'the page itself went back to the login form, no reload');
      await logIn(page, b.url, ADMIN);
      await stateCell(page, 42).waitFor();
    } finally {
      await context.close();
    }
  });
});

async function assertText(locator: ReturnType<Page['locator']>, text: string, timeoutMs = 5000): Promise<void> {
  await eventually(`${locator} to read ${text}`, async () => ((await locator.textContent())?.includes(text) ? true : undefined), timeoutMs, 50);
}
