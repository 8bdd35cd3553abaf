// The Upgrade page in Debian's chromium against the built daemon "on an image" (a private
// /run/tandem/boot.json, files as slots; test/netns/upgrade-lab.ts): the page shows both slots
// and the committed state, a bundle chosen in the file input is uploaded (the browser's upload
// throttled so the write takes seconds) while the progress bar follows the live stream's
// upgrade events, and the reboot into slot B happens only once the dialog is confirmed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { Lab, eventually } from '../netns/lab.js';
import { Workdir } from '../netns/peers.js';
import { makeImage, startOnImage, type Image, type ImageDaemon } from '../netns/upgrade-lab.js';
import { listEnv } from '../firmware/upgrade/bundle-lab.js';
import { sendControl } from '../../firmware/control/client.js';
import type { Status } from '../../firmware/daemon.js';
import { consoleContext, e2eUnavailable, launchBrowser, logIn, passwordHash, recordMutations, showingPages, type ConsoleUser } from './harness.js';

const skip = e2eUnavailable();
const ADMIN: ConsoleUser = { name: 'admin', password: 'e2e-upgrade-password' };
const BUNDLE_MIB = 64;
/** Upload bytes per second the browser is held to: the 64 MiB upload then takes about 8 s. */
const UPLOAD_BPS = 8 * 1024 * 1024;

describe('the upgrade page, in chromium', { skip, timeout: 240_000 }, () => {
  let lab: Lab;
  let work: Workdir;
  let image: Image;
  let node: ImageDaemon;
  let browser: Browser;

  before(async () => {
    lab = await Lab.create({ hosts: 2 });
    work = await Workdir.create();
    image = await makeImage(work, BUNDLE_MIB);
    const listen = `${lab.host(1).ipv4}:443`;
    node = await startOnImage(lab, work, image, 'A', false, { api: { listen: [listen], users: [{ name: ADMIN.name, passwordHash: await passwordHash(ADMIN.password) }] } });
    await eventually('the console to listen', async () => {
      const reply = await sendControl(node.socket, { cmd: 'status' });
      return reply.ok && (reply.result as Status).api?.listening.some((l) => l.listen === listen) ? true : undefined;
    }, 15_000);
    browser = await launchBrowser(lab, 2, work);
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
    await lab?.dispose();
    await work?.dispose();
  });

  it('shows the slots, uploads with a progress bar from the live stream, reboots only after the confirmation', async (t) => {
    const context = await consoleContext(browser);
    try {
      const page = await context.newPage();
      const sent = recordMutations(page);
      await showingPages([page], async () => {
        await logIn(page, `https://${lab.host(1).ipv4}/`, ADMIN);
        await page.getByRole('link', { name: 'Upgrade' }).click();
        await page.getByRole('heading', { name: /Slots/ }).waitFor();
        const slots = page.getByRole('table');
        await slots.getByText('0.1.0+gold').waitFor();
        assert.match(await slots.innerText(), /A\s+0\.1\.0\+gold\s+running, committed/);
        assert.match(await page.getByRole('heading', { name: /Slots/ }).innerText(), /committed/);

        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: UPLOAD_BPS });
        await page.getByLabel('Bundle').setInputFiles(image.bundle);
        await page.getByRole('button', { name: 'Upload and write' }).click();
        const bar = page.getByRole('progressbar', { name: 'upgrade progress' });
        await bar.waitFor();
        // Midway: the bar's value and its words come from the daemon's `upgrade` progress events.
        const midway = page.getByText(/writing slot B: [\d.]+ of 64\.0 MiB \((?:[1-9]|[1-9]\d)%\)/);
        await midway.waitFor({ timeout: 30_000 });
        const value = Number(await bar.getAttribute('value'));
        assert.ok(value > 0 && value < 100, `progress value ${value}`);
        t.diagnostic(`seen midway: "${await midway.innerText()}"`);

        await page.getByText(/Slot B holds 0\.2\.0\+gnetns, verified/).waitFor({ timeout: 60_000 });
        const dialog = page.getByRole('dialog', { name: 'Reboot into slot B?' });
        await dialog.waitFor();
        assert.equal(await listEnv(image.dir), 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
        // Cancel first: nothing reboots.
        await dialog.getByRole('button', { name: 'Cancel' }).click();
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(await node.reboots(), 0, 'no reboot without the confirmation');
        await page.getByRole('button', { name: /Reboot into slot B/ }).click();
        await dialog.getByRole('button', { name: 'Reboot now' }).click();
        await eventually('the daemon to run reboot', async () => ((await node.reboots()) === 1 ? true : undefined), 10_000);
        await page.getByRole('table').getByText('boots once next').waitFor();
      });
      const paths = sent.map((m) => m.path);
      assert.deepEqual(paths.filter((p) => p.startsWith('/api/upgrade')), ['/api/upgrade', '/api/upgrade/reboot']);
      assert.ok(sent.filter((m) => m.path.startsWith('/api/upgrade')).every((m) => m.csrf && m.csrf.length > 10), 'the upload and the reboot carried the CSRF token');
    } finally {
      await context.close();
    }
  });
});
