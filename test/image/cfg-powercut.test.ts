// Issue 15 "Done when": /cfg survives an abrupt power-off during a config save. In the booted
// image a loop saves the config (`tandem passwd`, the atomic write) and flips the persisted
// maintenance flag while qemu is killed (-9) mid-way; after the next boot the config is one
// that was written whole (an earlier one, or the one being written: never torn), the daemon
// starts, the first boot's SSH host key is kept, and after a clean power-off e2fsck -fn of the
// disk's /cfg partition finds it clean.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { parse } from 'yaml';
import { passwordHash } from '../e2e/harness.js';
import { Lab } from '../netns/lab.js';
import { ensureImage, inspectCfg, requireImageTier, type Vm, vmWorkdir } from './harness.js';
import { BOOT_MS, bootGuests, guestConfig, untilStatus, WEB_UI_LINE } from './guest.js';

const ROUNDS = 2;
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The config with the user's passwordHash blanked: two saves by `tandem passwd` differ only there. */
function shape(text: string): unknown {
  const config = parse(text) as { api: { users: { passwordHash: string }[] } };
  for (const user of config.api.users) {
    assert.match(user.passwordHash, /^scrypt\$/);
    user.passwordHash = '';
  }
  return config;
}

test('/cfg survives a power cut during config saves: old or new config, never torn; clean fsck; the daemon starts', { timeout: 900_000 }, async (t) => {
  if (!requireImageTier(t)) return;
  const build = await ensureImage('x86_64');
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 1 });
  let vms: Vm[] = [];
  try {
    const original = guestConfig({
      name: 'fw-cut', address: '198.51.100.31/24', carp: { advskew: 0 },
      users: [{ name: 'admin', passwordHash: await passwordHash('first') }],
    });
    vms = await bootGuests(build, lab, work.path, [{ name: 'c', cfg: { kind: 'files', files: { 'tandem.yaml': original } } }]);
    const vm = vms[0]!;
    const written = new Set([sha(original)]);
    let hostKey: string | undefined;
    for (let round = 1; round <= ROUNDS; round++) {
      await vm.waitFor(WEB_UI_LINE, BOOT_MS);
      await untilStatus(vm, 'the daemon to answer', (s) => s.node, 60_000);
      // First boot made the SSH host key on /cfg; a later boot (after a power cut) keeps it.
      const key = await vm.ok('sha256sum /cfg/ssh/ssh_host_ed25519_key');
      hostKey ??= key;
      assert.equal(key, hostKey, 'the SSH host key made on first boot is kept');
      const from = vm.console.length;
      // Bounded: 100 saves at most; the power goes long before.
      await vm.ok(`(i=0; while [ $i -lt 100 ]; do i=$((i+1)); tandem maintenance on >/dev/null 2>&1; echo r${round}pw$i | tandem passwd admin --config /cfg/tandem.yaml >/dev/null 2>&1 && echo "SAVED $(sha256sum /cfg/tandem.yaml)"; tandem maintenance off >/dev/null 2>&1; done) >/dev/console 2>&1 &`);
      await vm.waitFor(/SAVED [0-9a-f]{64}/, 120_000, from);
      // Anywhere in the next round of saves (one takes ~10-20 s under TCG: each `tandem` is a Node start).
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 15_000)));
      await vm.kill();
      const saved = [...vm.text(from).matchAll(/SAVED ([0-9a-f]{64})/g)].map((m) => m[1]!);
      for (const h of saved) written.add(h);
      t.diagnostic(`round ${round}: power cut after ${saved.length} completed saves`);

      vm.start();
      await vm.waitFor(WEB_UI_LINE, BOOT_MS);
      await untilStatus(vm, 'the daemon to start after the power cut', (s) => s.node, 90_000);
      const text = await vm.ok('cat /cfg/tandem.yaml');
      const hash = (await vm.ok('sha256sum /cfg/tandem.yaml')).split(/\s+/)[0]!;
      await vm.ok('tandem check --config /cfg/tandem.yaml');
      if (written.has(hash)) {
        t.diagnostic(`round ${round}: the config is one whose save completed`);
      } else {
        // The save in flight when the power went: whole, and differing from the others only in the new hash.
        assert.deepEqual(shape(text + '\n'), shape(original), 'the config is the one being written, whole');
        written.add(hash);
        t.diagnostic(`round ${round}: the config is the save that was in flight, complete`);
      }
    }

    // Clean power-off, then the partition itself, checked on the host.
    await vm.stop(60_000);
    const check = await inspectCfg(build, vm.options.disk!, ['tandem.yaml']);
    assert.equal(check.fsckCode, 0, `e2fsck -fn of /cfg: ${check.fsckOutput}`);
    assert.ok(written.has(sha(check.files['tandem.yaml'] ?? '')), 'the config on the partition is a whole one');
  } finally {
    for (const vm of vms) await vm.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
