// The install step by step on a fake disk of files (the Linux block-device adapter on plain
// files) with real bundles from GNU tar: good unsigned and openssl-signed bundles land in the
// other slot and set TRIAL as grub-editenv then lists it; every refusal (bad or missing
// signature, wrong arch, slot too small, truncated or altered bundle, a trial boot) names its
// step and leaves the boot env byte for byte as it was; a device that flips a byte is caught
// by the read-back; on a U-Boot board the env written is mkenvimage's, byte for byte.

import { strict as assert } from 'node:assert';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { bootEnvStore } from '../../../firmware/upgrade/env.js';
import { installBundle, type InstallOutcome, type InstallProgress } from '../../../firmware/upgrade/install.js';
import { LinuxBlockDevices, MemoryBlockDevices, type BlockDevices } from '../../../firmware/upgrade/ports.js';
import { decodeUBootEnv } from '../../../firmware/upgrade/ubootenv.js';
import { listEnv, makeBundle, makeLab, manifestFor, pattern, run, writeEnv, type Lab } from './bundle-lab.js';

let lab: Lab;
const ROOTFS = pattern(3 * 1024 * 1024 + 123);
before(async () => {
  lab = await makeLab();
});
after(async () => {
  await lab.cleanup();
});

async function install(path: string, options: { publicKey?: string; devices?: BlockDevices } = {}): Promise<{ outcome: InstallOutcome; progress: InstallProgress[] }> {
  const devices = options.devices ?? new LinuxBlockDevices();
  const env = bootEnvStore(lab.boot, devices)!;
  const progress: InstallProgress[] = [];
  const outcome = await installBundle(createReadStream(path, { highWaterMark: 64 * 1024 }), {
    boot: lab.boot, env, devices, publicKey: options.publicKey, trialTimeoutSeconds: 240, progress: (p) => progress.push(p),
  });
  return { outcome, progress };
}

const CLEAN_ENV = 'SLOT=A\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n';

describe('installBundle', () => {
  it('writes an unsigned bundle into slot B, verifies it and sets the trial', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    await writeFile(join(lab.dir, 'B.img'), Buffer.alloc(4 << 20));
    const bundle = await makeBundle(lab, 'good', { rootfs: ROOTFS });
    const { outcome, progress } = await install(bundle);
    assert.deepEqual(outcome, { ok: true, slot: 'B', version: '0.2.0+gnew', bytes: ROOTFS.length, sha256: (manifestFor(ROOTFS).rootfs as { sha256: string }).sha256 });
    const slotB = await readFile(join(lab.dir, 'B.img'));
    assert.deepEqual(slotB.subarray(0, ROOTFS.length), ROOTFS);
    assert.equal((await readFile(join(lab.dir, 'A.img'))).some((b) => b !== 0), false, 'slot A untouched');
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=240\n');
    // Bytes around the env block on the boot partition are untouched.
    const boot = await readFile(join(lab.dir, 'boot.img'));
    assert.ok(boot.subarray(0, 8192).every((b) => b === 0xa5) && boot.subarray(8192 + 1024).every((b) => b === 0xa5));
    const writes = progress.filter((p) => p.phase === 'write');
    assert.ok(writes.length >= 3);
    assert.equal(writes.at(-1)!.bytes, ROOTFS.length);
    assert.equal(progress.at(-1)!.phase, 'verify');
    assert.ok(writes.every((p, i) => i === 0 || p.bytes > writes[i - 1]!.bytes));
  });

  it('accepts a bundle signed by openssl with the configured key', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const bundle = await makeBundle(lab, 'signed', { rootfs: ROOTFS, signWith: lab.key.privatePath });
    const { outcome } = await install(bundle, { publicKey: lab.key.publicPem });
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
  });

  const refusals: [string, () => Promise<string>, { publicKey?: boolean; slotBytes?: number }, string, RegExp][] = [
    ['unsigned with a key configured', () => makeBundle(lab, 'r1', { rootfs: ROOTFS }), { publicKey: true }, 'signature', /not signed/],
    ['signed by another key', () => makeBundle(lab, 'r2', { rootfs: ROOTFS, signWith: lab.otherKey.privatePath }), { publicKey: true }, 'signature', /does not match upgrade.publicKey/],
    ['a signature of the wrong size', () => makeBundle(lab, 'r3', { rootfs: ROOTFS, signature: Buffer.alloc(10) }), { publicKey: true }, 'signature', /64-byte/],
    ['for arm64', () => makeBundle(lab, 'r4', { rootfs: ROOTFS, manifest: { ...manifestFor(ROOTFS), arch: 'arm64' } }), {}, 'manifest', /bundle is for arm64, this system runs x86_64/],
    ['for U-Boot', () => makeBundle(lab, 'r5', { rootfs: ROOTFS, manifest: { ...manifestFor(ROOTFS), bootloader: 'uboot' } }), {}, 'manifest', /boots with uboot/],
    ['of another product', () => makeBundle(lab, 'r6', { rootfs: ROOTFS, manifest: { ...manifestFor(ROOTFS), product: 'other' } }), {}, 'manifest', /product: must be one of tandem/],
    ['whose rootfs does not match its checksum', () => makeBundle(lab, 'r7', { rootfs: ROOTFS, manifest: { ...manifestFor(ROOTFS), rootfs: { sizeBytes: ROOTFS.length, sha256: 'b'.repeat(64) } } }), {}, 'verify', /has SHA-256 .* the manifest says bbbb/],
    ['larger than the slot', () => makeBundle(lab, 'r8', { rootfs: pattern(5 << 20) }), {}, 'size', /holds 4194304/],
    ['with members out of order', () => makeBundle(lab, 'r9', { rootfs: ROOTFS, members: ['rootfs.sqfs', 'manifest.json'] }), {}, 'bundle', /first member must be manifest.json/],
    ['cut short', async () => {
      const path = await makeBundle(lab, 'r10', { rootfs: ROOTFS });
      await truncate(path, 2 * 1024 * 1024);
      return path;
    }, {}, 'bundle', /truncated/],
    ['with bytes glued after it', async () => {
      const path = await makeBundle(lab, 'r11', { rootfs: ROOTFS });
      await writeFile(path, Buffer.concat([await readFile(path), Buffer.from('more')]));
      return path;
    }, {}, 'bundle', /trailing data/],
  ];
  for (const [what, make, options, step, reason] of refusals) {
    it(`refuses a bundle ${what} at step ${step}, env untouched`, async () => {
      await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
      const before = await readFile(join(lab.dir, 'boot.img'));
      const { outcome } = await install(await make(), options.publicKey ? { publicKey: lab.key.publicPem } : {});
      assert.equal(outcome.ok, false);
      assert.equal((outcome as { step: string }).step, step, (outcome as { reason: string }).reason);
      assert.match((outcome as { reason: string }).reason, reason);
      assert.deepEqual(await readFile(join(lab.dir, 'boot.img')), before);
      assert.equal(await listEnv(lab.dir), CLEAN_ENV);
    });
  }

  it('refuses on a trial boot: the other slot is the fallback', async () => {
    await writeEnv(lab.dir, { SLOT: 'B', TRIAL: 'A', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' });
    const { outcome } = await install(await makeBundle(lab, 'trial', { rootfs: ROOTFS }));
    assert.deepEqual(outcome, { ok: false, step: 'state', reason: 'slot A is on trial: commit it (tandem upgrade commit) or reboot before another upgrade' });
  });

  it('withdraws a pending trial of the slot it overwrites before writing, so a failed write cannot be booted', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const { outcome } = await install(await makeBundle(lab, 'bad-after-pending', { rootfs: ROOTFS, manifest: { ...manifestFor(ROOTFS), rootfs: { sizeBytes: ROOTFS.length, sha256: 'c'.repeat(64) } } }));
    assert.equal(outcome.ok, false);
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
  });

  it('catches a device that flips a byte it accepted, by reading the slot back', async () => {
    const devices = new MemoryBlockDevices();
    devices.add(lab.boot.devices.A, Buffer.alloc(4 << 20));
    devices.add(lab.boot.devices.B, Buffer.alloc(4 << 20));
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    devices.add(lab.boot.env!.device, await readFile(join(lab.dir, 'boot.img')));
    devices.corrupt = { path: lab.boot.devices.B, offset: 1_000_000 };
    const { outcome } = await install(await makeBundle(lab, 'flip', { rootfs: ROOTFS }), { devices });
    assert.equal(outcome.ok, false);
    assert.equal((outcome as { step: string }).step, 'verify');
    assert.match((outcome as { reason: string }).reason, /read back has SHA-256 .*the device did not keep the write/);
    assert.ok((devices.syncs.get(lab.boot.devices.B) ?? 0) >= 1, 'fsynced before reading back');
    assert.deepEqual(devices.devices.get(lab.boot.env!.device), await readFile(join(lab.dir, 'boot.img')));
  });
});

describe('installBundle on a U-Boot board (arm64)', () => {
  it('writes the slot and sets TRIAL in the U-Boot env (made by mkenvimage) in place, CRC and all', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-uboot-'));
    try {
      // I2's layout: a 1024-byte single env (CRC32 + key=value\0...) at a block inside the boot partition.
      await writeFile(join(dir, 'vars.txt'), 'SLOT=A\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
      await run('mkenvimage', ['-p', '0', '-s', '1024', '-o', join(dir, 'env.bin'), join(dir, 'vars.txt')]);
      const boot = Buffer.alloc(64 * 1024, 0x5a);
      (await readFile(join(dir, 'env.bin'))).copy(boot, 3072);
      await writeFile(join(dir, 'boot.img'), boot);
      await writeFile(join(dir, 'A.img'), Buffer.alloc(4 << 20));
      await writeFile(join(dir, 'B.img'), Buffer.alloc(4 << 20));
      const info = { ...lab.boot, arch: 'arm64', bootloader: 'uboot', devices: { A: join(dir, 'A.img'), B: join(dir, 'B.img') }, env: { device: join(dir, 'boot.img'), offsetBytes: 3072, sizeBytes: 1024 } } as typeof lab.boot;
      const bundle = await makeBundle(lab, 'arm64', { rootfs: ROOTFS, manifest: { ...manifestFor(ROOTFS), arch: 'arm64', bootloader: 'uboot' } });
      const devices = new LinuxBlockDevices();
      const outcome = await installBundle(createReadStream(bundle), { boot: info, env: bootEnvStore(info, devices)!, devices, publicKey: undefined, trialTimeoutSeconds: 240, progress: () => undefined });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      const after = await readFile(join(dir, 'boot.img'));
      const env = decodeUBootEnv(after.subarray(3072, 4096), 'single');
      assert.ok(env.ok, env.ok ? '' : env.reason);
      assert.deepEqual(env.value.vars, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '240' });
      assert.ok(after.subarray(0, 3072).every((b) => b === 0x5a) && after.subarray(4096).every((b) => b === 0x5a), 'only the env block changed');
      // What fw_printenv-style readers (and U-Boot) see: mkenvimage of the same variables, byte for byte.
      await writeFile(join(dir, 'vars2.txt'), 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=240\n');
      await run('mkenvimage', ['-p', '0', '-s', '1024', '-o', join(dir, 'env2.bin'), join(dir, 'vars2.txt')]);
      assert.deepEqual(after.subarray(3072, 4096), await readFile(join(dir, 'env2.bin')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('installBundle with a source that fails', () => {
  it('names step bundle when the upload breaks off (a cut connection), env untouched', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const bytes = await readFile(await makeBundle(lab, 'cut', { rootfs: ROOTFS }));
    async function* breaksOff(): AsyncGenerator<Buffer> {
      yield bytes.subarray(0, 1 << 20);
      throw new Error('aborted');
    }
    const devices = new LinuxBlockDevices();
    const outcome = await installBundle(breaksOff(), { boot: lab.boot, env: bootEnvStore(lab.boot, devices)!, devices, publicKey: undefined, trialTimeoutSeconds: 180, progress: () => undefined });
    assert.deepEqual(outcome, { ok: false, step: 'bundle', reason: 'the bundle stopped arriving: aborted' });
    assert.equal(await listEnv(lab.dir), CLEAN_ENV);
  });
});
