// The UI's own checks in Debian's chromium against the dev console (console.ts: real Daemons on
// the simulated cluster, the real API server and routes, the built dist/ui/): what E2E's tests do
// not look at — the failover dialog by keyboard (focus trap, Escape, focus back), the skip link,
// a stale CSRF token recovered with one retry, a lost session back to the login form, and no
// page wider than a phone. Run: npm run build && node --import tsx --test ui/dev/browser.test.ts

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEV_PASSWORD, DEV_USER, startDevConsole, type DevConsole } from './console.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) ? 'no /usr/bin/chromium' : !existsSync('dist/ui/index.html') ? 'no built UI (npm run build)' : false;

describe('the console in chromium', { skip }, () => {
  let dev: DevConsole;
  let browser: Browser;
  let url: string;

  before(async () => {
    dev = await startDevConsole(0);
    url = dev.urls['fw-a']!;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    await dev?.close();
  });

  async function logIn(page: Page, hash = ''): Promise<void> {
    await page.goto(`${url}#/${hash}`);
    await page.getByLabel('User').fill(DEV_USER);
    await page.getByLabel('Password').fill(DEV_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
  }

  const focused = (page: Page) => page.evaluate(() => `${document.activeElement?.tagName} ${document.activeElement?.textContent?.trim()}`);

  it('a wrong password says so; the failover dialog keeps Tab inside, closes on Escape and gives focus back', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    try {
      const page = await context.newPage();
      await page.goto(url);
      await page.getByLabel('User').fill(DEV_USER);
      await page.getByLabel('Password').fill('wrong');
      await page.getByRole('button', { name: 'Sign in' }).click();
      assert.match(await page.getByRole('alert').innerText(), /wrong|password|401/i);
      await logIn(page, 'carp');
      const open = page.getByRole('button', { name: 'Fail over…' });
      // fw-a is MASTER of vhid 42 once the cluster has settled: the button is enabled then.
      await page.waitForFunction(() => [...document.querySelectorAll('button')].some((b) => b.textContent === 'Fail over…' && !b.disabled), undefined, { timeout: 15_000 });
      await open.click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      assert.equal(await focused(page), 'BUTTON Cancel', 'the safe choice has focus');
      await page.keyboard.press('Tab');
      assert.equal(await focused(page), 'BUTTON Fail over now');
      await page.keyboard.press('Tab');
      assert.equal(await focused(page), 'BUTTON Cancel', 'Tab wraps inside the dialog');
      await page.keyboard.press('Shift+Tab');
      assert.equal(await focused(page), 'BUTTON Fail over now', 'Shift+Tab wraps too');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(await focused(page), 'BUTTON Fail over…', 'focus back on the opener');
      // Nothing was sent: fw-a is still MASTER of 42.
      await page.getByRole('link', { name: 'Dashboard' }).click();
      await page.locator('table.vhids tr[data-vhid="42"] td.state').getByText('MASTER').waitFor();
    } finally {
      await context.close();
    }
  });

  it('the skip link focuses the heading and keeps the page', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    try {
      const page = await context.newPage();
      await logIn(page, 'balancer');
      await page.getByRole('heading', { level: 1, name: 'Balancer' }).waitFor();
      await page.keyboard.press('Tab');
      assert.equal(await focused(page), 'A Skip to content');
      await page.keyboard.press('Enter');
      assert.equal(await focused(page), 'H1 Balancer');
      assert.equal(await page.evaluate(() => location.hash), '#/balancer');
    } finally {
      await context.close();
    }
  });

  it('a token made stale by a login elsewhere is re-read once; a lost session goes back to the login form', async () => {
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    try {
      const page = await context.newPage();
      await logIn(page, 'carp');
      const posts: string[] = [];
      page.on('response', (r) => {
        const path = new URL(r.url()).pathname;
        if (r.request().method() === 'POST' || path === '/api/session') posts.push(`${r.request().method()} ${path} ${r.status()}`);
      });
      // Another tab of the same browser logs in: the shared cookie now names a new session.
      const other = await context.newPage();
      await other.goto(url);
      const login = await other.evaluate(
        async ([user, password]) => (await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) })).status,
        [DEV_USER, DEV_PASSWORD],
      );
      assert.equal(login, 200);
      await page.getByRole('button', { name: 'Reset' }).click();
      await page.locator('.notice').getByText('admin demotion reset').waitFor();
      assert.deepEqual(posts, ['POST /api/demote 403', 'GET /api/session 200', 'POST /api/demote 200']);

      await context.clearCookies();
      // Whichever request meets the 401 first (this click, or the demo panel's poll) brings the login form back.
      await page
        .getByRole('button', { name: 'Reset' })
        .click({ timeout: 2000 })
        .catch(() => undefined);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('no page is wider than a 360 px phone', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    try {
      const page = await context.newPage();
      await logIn(page);
      const hrefs = await page.locator('nav[aria-label="Pages"] a').evaluateAll((links) => links.map((l) => l.getAttribute('href') ?? ''));
      assert.ok(hrefs.length >= 8, hrefs.join(' '));
      for (const href of hrefs) {
        await page.goto(`${url}${href}`);
        await page.locator('main h1').waitFor();
        await page.waitForTimeout(300);
        const wider = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.equal(wider, 0, `${href} is ${wider}px wider than the phone`);
      }
    } finally {
      await context.close();
    }
  });
});
