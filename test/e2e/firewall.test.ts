// Issue 12's firewall "Done when", in Debian's chromium against a real daemon loading real
// nftables in its lab namespace: an edit with an error shows the error next to its line, and an
// apply that nobody confirms is reverted by the daemon by itself, which the page then says.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { Lab, eventually } from '../netns/lab.js';
import { Workdir } from '../netns/peers.js';
import { ApiNode, consoleContext, e2eUnavailable, launchBrowser, logIn, passwordHash, recordMutations, showingPages, type ConsoleUser } from './harness.js';

const skip = e2eUnavailable();
const ADMIN: ConsoleUser = { name: 'admin', password: 'e2e-firewall-password' };
const FIREWALL = {
  zones: { lan: { interfaces: ['eth0'], addresses: ['198.51.100.11/24'] } },
  rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
};
/** The rule the test adds: easy to find in `nft list ruleset` by its port. */
const BLOCK_2323 = ['  - action: block', '    direction: in', '    quick: true', '    on: lan', '    proto: tcp', '    to:', '      port: 2323'];

describe('the firewall page, in chromium', { skip, timeout: 240_000 }, () => {
  let lab: Lab;
  let work: Workdir;
  let node: ApiNode;
  let browser: Browser;

  before(async () => {
    lab = await Lab.create({ hosts: 2 });
    work = await Workdir.create();
    const users = [{ name: ADMIN.name, passwordHash: await passwordHash(ADMIN.password) }];
    node = await ApiNode.start(lab, 1, work, { vhosts: [{ advskew: 0 }], users, firewall: FIREWALL });
    browser = await launchBrowser(lab, 2, work);
  });

  after(async () => {
    await browser?.close();
    await lab?.dispose();
    await work?.dispose();
  });

  const ruleset = async () => (await lab.exec(1, 'nft', ['list', 'ruleset'])).stdout;

  it('an error shows next to its line; an apply left unconfirmed reverts by itself and the page says so', async () => {
    await eventually('the firewall loaded', async () => ((await ruleset()).includes('198.51.100.11') || (await ruleset()).length > 0 ? true : undefined), 10_000);
    assert.doesNotMatch(await ruleset(), /2323/);
    const original = await node.configText();
    const context = await consoleContext(browser);
    try {
      const page = await context.newPage();
      const sent = recordMutations(page);
      await showingPages([page], async () => {
        const token = await logIn(page, node.url, ADMIN);
        await page.getByRole('link', { name: 'Firewall' }).click();
        const editor = page.locator('#fw-text');
        await editor.waitFor();
        const section = await editor.inputValue();
        assert.match(section, /action: pass/);

        // An error: a port out of range. The issue names the field's path and sits at its line.
        const withRule = `${section.trimEnd()}\n${BLOCK_2323.join('\n')}\n`;
        const broken = withRule.replace('port: 2323', 'port: 99999');
        await editor.fill(broken);
        const brokenLine = broken.split('\n').findIndex((l) => l.includes('port: 99999')) + 1;
        const issue = page.locator(`#fw-issues li.issue[data-line="${brokenLine}"]`);
        await issue.waitFor({ timeout: 10_000 });
        assert.match((await issue.textContent()) ?? '', /rules\[1\]\.to\.port/);
        assert.match((await issue.textContent()) ?? '', /99999/);
        assert.equal(await editor.getAttribute('aria-invalid'), 'true');
        assert.equal(await page.getByRole('button', { name: 'Apply' }).isDisabled(), true, 'nothing with issues can be applied');

        // Fixed: no issues, apply with the shortest confirm window, and do not confirm.
        await editor.fill(withRule);
        await page.locator('#fw-issues').getByText(/no issues/i).waitFor({ timeout: 10_000 });
        await page.locator('#fw-confirm').selectOption('30');
        await page.getByRole('button', { name: 'Apply' }).click();
        await page.locator('[data-apply="pending"]').waitFor({ timeout: 10_000 });
        await eventually('the new rule in the kernel', async () => ((await ruleset()).includes('2323') ? true : undefined), 10_000);
        assert.match(await node.configText(), /port: 2323/);

        // Nobody confirms: the daemon reverts on its own and the page, still open, says so.
        const banner = page.locator('[data-apply="reverted"]');
        await banner.waitFor({ timeout: 45_000 });
        assert.match((await banner.textContent()) ?? '', /not confirmed.*reverted.*by itself/i);
        await eventually('the rule gone from the kernel', async () => ((await ruleset()).includes('2323') ? undefined : true), 10_000);
        assert.equal(await node.configText(), original, 'the previous config file is back');

        // The UI's mutations (checks, the apply) all carried the session's CSRF token.
        const mutations = sent.filter((m) => m.path !== '/api/login');
        assert.ok(mutations.some((m) => m.path === '/api/config/apply'), JSON.stringify(mutations));
        for (const m of mutations) assert.equal(m.csrf, token, `${m.method} ${m.path} carried ${m.csrf}`);
      });
    } finally {
      await context.close();
    }
  });
});
