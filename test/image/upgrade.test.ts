// Issue 15 "Done when": an upgrade to a good image commits and keeps /cfg; an upgrade to a
// deliberately broken one (its daemon exits at start) rolls back by itself. Contract 6 end to
// end on the x86-64 image: `tandem upgrade FILE` writes slot B and reboots, the trial boot
// commits once healthy; the broken bundle's trial is never healthy, the init reboots after
// upgrade.trialTimeoutSeconds, GRUB boots the committed slot and status says rolled back.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Lab } from '../netns/lab.js';
import { ensureImage, requireImageTier, type Vm, vmWorkdir } from './harness.js';
import { testBundles } from './bundle.js';
import { BOOT_MS, bootGuests, guestConfig, WEB_UI_LINE } from './guest.js';

const TRIAL_SECONDS = 90;

interface UpgradeStatus {
  booted: 'A' | 'B';
  committed: 'A' | 'B';
  state: 'committed' | 'trial' | 'rolled-back' | 'not-an-image';
  version: string;
  trial: null | { slot: string; booted: boolean };
  last: null | { result: string; version: string; at: string; reason?: string };
}

async function upgradeStatus(vm: Vm): Promise<UpgradeStatus> {
  return JSON.parse(await vm.ok('tandem upgrade status --json')) as UpgradeStatus;
}

async function until(vm: Vm, what: string, pick: (s: UpgradeStatus) => boolean, timeoutMs: number): Promise<UpgradeStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: UpgradeStatus | undefined;
  for (;;) {
    last = await upgradeStatus(vm).catch(() => last);
    if (last && pick(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: last status ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/**
 * Copies the bundle whose manifest names `version` from its extra disk into /tmp (tmpfs). Every
 * disk is looked at: the kernel probes the IDE ports in no fixed order, so the image is not always sda.
 */
async function fetchBundle(vm: Vm, version: string, file: string): Promise<void> {
  const disk = (await vm.ok(`for d in /dev/sd[a-z]; do head -c 4096 $d 2>/dev/null | grep -qaF '"${version}"' && echo $d; done; true`)).trim();
  assert.match(disk, /^\/dev\/sd[a-z]$/, `the disk holding ${version}`);
  await vm.ok(`cat ${disk} > ${file}`, 120_000);
}

test('upgrade: a good bundle commits and keeps /cfg; a broken one rolls back by itself', { timeout: 1_200_000 }, async (t) => {
  if (!requireImageTier(t)) return;
  const build = await ensureImage('x86_64');
  const started = Date.now();
  const bundles = await testBundles(build);
  t.diagnostic(`good and broken bundles ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 1 });
  let vms: Vm[] = [];
  try {
    const marker = randomBytes(8).toString('hex');
    const config = guestConfig({
      name: 'fw-up', address: '198.51.100.41/24', carp: { advskew: 0 },
      extra: { upgrade: { commitAfterSeconds: 5, trialTimeoutSeconds: TRIAL_SECONDS } },
    });
    // The bundles reach the guest as two more disks (snapshot: the files stay as they are).
    const extraArgs = [
      '-drive', `file=${bundles.good.path},format=raw,if=ide,index=1,snapshot=on`,
      '-drive', `file=${bundles.broken.path},format=raw,if=ide,index=3,snapshot=on`,
    ];
    vms = await bootGuests(build, lab, work.path, [{ name: 'u', cfg: { kind: 'files', files: { 'tandem.yaml': config, 'marker.txt': marker } }, extraArgs }]);
    const vm = vms[0]!;
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    const before = await until(vm, 'the first boot committed in A', (s) => s.state === 'committed', 60_000);
    assert.equal(before.booted, 'A');
    assert.equal(before.version, build.version);
    const cfgBefore = await vm.ok('sha256sum /cfg/tandem.yaml');

    // The good bundle: written to B, reboot, trial, committed by the daemon once healthy.
    await fetchBundle(vm, bundles.good.version, '/tmp/good.tar');
    vm.type('tandem upgrade /tmp/good.tar');
    let m = await vm.awaitReboot(/tandem-init: booted slot (\w)/, 300_000);
    assert.equal(m[1], 'B', 'the upgrade reboots into the other slot');
    await vm.waitFor(/tandem-init: trial committed/, TRIAL_SECONDS * 1000 + 60_000);
    const good = await until(vm, 'B committed', (s) => s.state === 'committed' && s.committed === 'B', 60_000);
    assert.equal(good.booted, 'B');
    assert.equal(good.version, bundles.good.version);
    assert.equal(good.last?.result, 'committed');
    assert.equal(await vm.ok('cat /cfg/marker.txt'), marker, '/cfg is kept across the upgrade');
    assert.equal(await vm.ok('sha256sum /cfg/tandem.yaml'), cfgBefore);
    t.diagnostic(`good upgrade committed in B (${good.version}) ${((Date.now() - started) / 1000).toFixed(0)} s in`);

    // The broken bundle: written to A, the trial boot never gets healthy, the init reboots, GRUB boots B.
    await fetchBundle(vm, bundles.broken.version, '/tmp/broken.tar');
    vm.type('tandem upgrade /tmp/broken.tar');
    m = await vm.awaitReboot(/tandem-init: booted slot (\w)/, 300_000);
    assert.equal(m[1], 'A');
    await vm.waitFor(/deliberately broken/, 120_000);
    m = await vm.awaitReboot(/tandem-init: booted slot (\w)/, TRIAL_SECONDS * 1000 + 120_000);
    assert.equal(m[1], 'B', 'after the failed trial GRUB boots the committed slot');
    assert.match(vm.console, /trial not committed within \d+ s/);
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    const back = await until(vm, 'the rollback reported', (s) => s.last?.result === 'rolled-back', 60_000);
    assert.equal(back.booted, 'B');
    assert.equal(back.committed, 'B');
    assert.equal(back.version, bundles.good.version);
    assert.equal(back.last?.version, bundles.broken.version);
    assert.ok(back.last?.reason, `the rollback says why: ${JSON.stringify(back.last)}`);
    assert.equal(await vm.ok('cat /cfg/marker.txt'), marker);
    t.diagnostic(`broken upgrade rolled back to B: "${back.last?.reason}" ${((Date.now() - started) / 1000).toFixed(0)} s in`);
  } finally {
    for (const vm of vms) await vm.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
