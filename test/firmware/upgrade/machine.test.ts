// The boot state machine as a table (issue 15 contract 3: what the bootloader did, read back
// from the booted slot and SLOT/TRIAL/TRIAL_BOOTED), the env changes of each userspace step,
// boot.json and manifest decoding with the bad field's path in the reason.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { acknowledgeRollback, bootPicture, commitTrial, decodeBootInfo, readBootVars, startTrial, type BootState, type Slot } from '../../../firmware/upgrade/machine.js';
import { decodeManifest } from '../../../firmware/upgrade/schema.js';

describe('boot state', () => {
  // [booted, env, state, trial]
  const table: [Slot, Record<string, string>, BootState, { slot: Slot; booted: boolean } | null, string][] = [
    ['A', { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0' }, 'committed', null, 'plain boot of the committed slot'],
    ['A', { SLOT: 'A' }, 'committed', null, 'variables absent count as no trial'],
    ['A', { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '0' }, 'committed', { slot: 'B', booted: false }, 'upgrade written, waiting for its reboot'],
    ['B', { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '1' }, 'trial', { slot: 'B', booted: true }, 'the bootloader started the trial once'],
    ['A', { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '1' }, 'rolled-back', { slot: 'B', booted: true }, 'the trial failed; the bootloader fell back'],
    ['B', { SLOT: 'B', TRIAL: '', TRIAL_BOOTED: '0' }, 'committed', null, 'after a commit'],
  ];
  for (const [booted, env, state, trial, why] of table) {
    it(why, () => {
      const vars = readBootVars(env);
      assert.ok(vars.ok);
      const picture = bootPicture(booted, vars.value);
      assert.equal(picture.state, state);
      assert.deepEqual(picture.trial, trial);
      assert.equal(picture.booted, booted);
      assert.equal(picture.committed, env.SLOT);
    });
  }

  it('refuses env values the bootloader would not have written', () => {
    assert.match((readBootVars({}) as { reason: string }).reason, /SLOT must be A or B, got null/);
    assert.match((readBootVars({ SLOT: 'A', TRIAL: 'C' }) as { reason: string }).reason, /TRIAL must be empty, A or B/);
    assert.match((readBootVars({ SLOT: 'A', TRIAL_BOOTED: 'yes' }) as { reason: string }).reason, /TRIAL_BOOTED must be 0 or 1/);
    assert.match((readBootVars({ SLOT: 'A', TRIAL_TIMEOUT: '-1' }) as { reason: string }).reason, /TRIAL_TIMEOUT/);
  });

  it('each step sets exactly the contract\'s variables', () => {
    assert.deepEqual(startTrial('B', 240), { TRIAL: 'B', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '240' });
    assert.deepEqual(commitTrial('B'), { SLOT: 'B', TRIAL: '', TRIAL_BOOTED: '0' });
    assert.deepEqual(acknowledgeRollback(), { TRIAL: '', TRIAL_BOOTED: '0' });
  });
});

const BOOT = {
  arch: 'x86_64', version: '0.1.0+gabc1234', slot: 'A', trial: false, bootloader: 'grub',
  devices: { disk: '/dev/sda', boot: '/dev/sda1', A: '/dev/sda2', B: '/dev/sda3', cfg: '/dev/sda4' },
  env: { device: '/dev/sda1', offsetBytes: 12288, sizeBytes: 1024 },
};

describe('boot.json', () => {
  it('reads the contract\'s document, trial false or with its timeout, ignoring keys added later', () => {
    const plain = decodeBootInfo(JSON.stringify({ ...BOOT, extra: 1 }));
    assert.ok(plain.ok, plain.ok ? '' : plain.reason);
    assert.deepEqual(plain.value.trial, { kind: 'none' });
    const trial = decodeBootInfo(JSON.stringify({ ...BOOT, slot: 'B', trial: { timeoutSeconds: 180 } }));
    assert.ok(trial.ok);
    assert.deepEqual(trial.value.trial, { kind: 'trial', timeoutSeconds: 180 });
  });

  it('names the bad field', () => {
    assert.match((decodeBootInfo(JSON.stringify({ ...BOOT, slot: 'C' })) as { reason: string }).reason, /slot: must be one of A, B, got "C"/);
    assert.match((decodeBootInfo(JSON.stringify({ ...BOOT, env: undefined })) as { reason: string }).reason, /env: is required with bootloader grub/);
    assert.match((decodeBootInfo('{') as { reason: string }).reason, /not JSON/);
  });
});

describe('manifest.json', () => {
  const good = { format: 1, product: 'tandem', version: '0.1.0+g1', arch: 'x86_64', bootloader: 'grub', created: '2026-12-03T00:00:00Z', rootfs: { sizeBytes: 4096, sha256: 'a'.repeat(64) } };
  it('accepts the contract\'s manifest', () => {
    assert.ok(decodeManifest(Buffer.from(JSON.stringify(good))).ok);
  });
  it('refuses with the path of each bad field', () => {
    const reason = (m: unknown) => (decodeManifest(Buffer.from(JSON.stringify(m))) as { reason: string }).reason;
    assert.match(reason({ ...good, format: 2 }), /format: must be 1-1, got 2/);
    assert.match(reason({ ...good, arch: 'mips' }), /arch: must be one of x86_64, arm64/);
    assert.match(reason({ ...good, rootfs: { sizeBytes: 0, sha256: 'xyz' } }), /rootfs.sizeBytes: .*rootfs.sha256: must be 64 lowercase hex digits/);
    assert.match(reason({ ...good, surprise: true }), /surprise: unknown key/);
  });
});
