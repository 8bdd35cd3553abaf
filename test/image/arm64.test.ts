// Issue 15's arm64 half: the native addons load under the appliance's Node 18 on both arches, and
// the arm64 image boots under qemu-system-aarch64 -M virt (Debian's U-Boot as -bios, TCG) to a
// running Tandem; a trial of slot B that is empty, or whose kernel panics, comes back to slot A by
// itself (contract 3, image/uboot-script.ts).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { decodeUBootEnv, encodeUBootEnv } from '../../firmware/upgrade/ubootenv.js';
import { decodeSlotHeader, planSlot, squashfsBytesUsed } from '../../image/uboot-slot.js';
import { Lab } from '../netns/lab.js';
import { guestConfig, guestStatus, untilStatus, WEB_UI_LINE } from './guest.js';
import { type Build, ensureImage, partition, prepareDisk, requireImageTier, ROOT, Vm, vmWorkdir } from './harness.js';

const exec = promisify(execFile);
const UBOOT = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';
const BOOT_MS = 300_000;

/** The env block's place on the disk: build.json's env offset inside p1. */
async function envAt(build: Build): Promise<number> {
  const json = JSON.parse(await readFile(join(build.dir, 'build.json'), 'utf8')) as { env: { offsetBytes: number } };
  return partition(build, 'boot').offsetBytes + json.env.offsetBytes;
}

async function readEnv(disk: string, at: number): Promise<Record<string, string>> {
  const handle = await open(disk, 'r');
  try {
    const bytes = Buffer.alloc(1024);
    await handle.read(bytes, 0, bytes.length, at);
    const env = decodeUBootEnv(bytes, 'single');
    if (!env.ok) throw new Error(`boot env at byte ${at}: ${env.reason}`);
    return env.value.vars;
  } finally {
    await handle.close();
  }
}

async function writeEnv(disk: string, at: number, vars: Record<string, string>): Promise<void> {
  const env = encodeUBootEnv({ size: 1024, layout: 'single', flag: 0, vars });
  if (!env.ok) throw new Error(env.reason);
  const handle = await open(disk, 'r+');
  try {
    await handle.write(env.bytes, 0, env.bytes.length, at);
  } finally {
    await handle.close();
  }
}

test('the native addons load under Node 18: x86-64 (scripts/node18) and arm64 (the image\'s own rootfs under qemu-user)', { timeout: 1_200_000 }, async (t) => {
  if (!requireImageTier(t, 'arm64')) return;
  if (!existsSync('/usr/bin/aarch64-linux-gnu-g++')) return t.skip('g++-aarch64-linux-gnu is not installed (scripts/setup installs it)');
  const work = await mkdtemp(join(tmpdir(), 'tandem-addons-'));
  try {
    // x86-64: built by image/addons.sh against libnode-dev 18.20.4, loaded by Debian's Node 18.
    await exec('bash', [join(ROOT, 'image/addons.sh'), 'x86_64', join(work, 'x86_64')], { cwd: ROOT });
    const x86 = JSON.parse((await exec(join(ROOT, 'scripts/node18'), [join(ROOT, 'image/addons-check.cjs'), join(work, 'x86_64')])).stdout) as {
      node: string; modules: string; ok: boolean; checks: Record<string, unknown>;
    };
    t.diagnostic(`x86_64: ${JSON.stringify(x86)}`);
    assert.equal(x86.node, 'v18.20.4');
    assert.equal(x86.modules, '108');
    assert.deepEqual(Object.keys(x86.checks).sort(), ['epoll', 'onoff', 'tandem_raw']);
    assert.equal(x86.ok, true);

    // arm64: what the image ships, in the image's own root filesystem (slot A's squashfs).
    const build = await ensureImage('arm64');
    const root = join(work, 'arm64-root');
    await exec('unsquashfs', ['-no-progress', '-q', '-o', String(partition(build, 'A').offsetBytes), '-d', root, build.image], { maxBuffer: 64 << 20 });
    await exec('bash', [join(ROOT, 'image/arch/arm64-binfmt.sh')]);
    await cp(join(ROOT, 'image/addons-check.cjs'), join(root, 'tmp/addons-check.cjs'));
    const arm = JSON.parse((await exec('chroot', [root, '/usr/bin/env', '-i', 'PATH=/usr/bin:/bin', 'node', '/tmp/addons-check.cjs', '/usr/lib/tandem'])).stdout) as {
      node: string; modules: string; arch: string; ok: boolean; checks: Record<string, unknown>;
    };
    t.diagnostic(`arm64 (image rootfs): ${JSON.stringify(arm)}`);
    assert.equal(arm.arch, 'arm64');
    assert.equal(arm.modules, '108');
    assert.deepEqual(Object.keys(arm.checks).sort(), ['epoll', 'onoff', 'tandem_raw']);
    assert.equal(arm.ok, true);
    const file = (await exec('file', ['-b', join(root, 'usr/lib/tandem/build/Release/tandem_raw.node')])).stdout;
    assert.match(file, /ARM aarch64/);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('arm64 boots through U-Boot to a running Tandem; a trial of an empty or a panicking slot B rolls back to A', { timeout: 1_800_000 }, async (t) => {
  if (!requireImageTier(t, 'arm64')) return;
  if (!existsSync(UBOOT)) return t.skip(`${UBOOT} missing (Debian package u-boot-qemu; scripts/setup installs it)`);
  const build = await ensureImage('arm64');
  const envOffset = await envAt(build);
  const slotA = partition(build, 'A');
  const slotB = partition(build, 'B');
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 1 });
  let vm: Vm | undefined;
  try {
    const name = 'arm64a';
    const disk = await prepareDisk(build, join(work.path, 'a'), {
      kind: 'files',
      files: { 'tandem.yaml': guestConfig({ name, address: '198.51.100.31/24' }) },
    });
    assert.deepEqual(await readEnv(disk, envOffset), { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' }, 'a fresh image');
    vm = await Vm.create({ name: 'a', lab, dir: work.path, arch: 'arm64', bios: UBOOT, disk, userspace: WEB_UI_LINE });

    // 1. A plain boot: U-Boot -> boot.scr -> slot A's kernel -> initramfs -> init -> tandem.
    let started = Date.now();
    vm.start();
    await vm.waitFor(/tandem: booting slot A/, BOOT_MS);
    const uBootMs = Date.now() - started;
    const up = await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    t.diagnostic(`boot 1: U-Boot chose slot A after ${(uBootMs / 1000).toFixed(1)} s; "${up[0]}" after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal((await untilStatus(vm, 'status with the node name', (s) => s.node, 120_000)), name);
    const bootJson = JSON.parse(await vm.ok('cat /run/tandem/boot.json')) as { arch: string; slot: string; bootloader: string; trial: unknown };
    assert.deepEqual([bootJson.arch, bootJson.slot, bootJson.bootloader, bootJson.trial], ['arm64', 'A', 'uboot', false]);
    assert.match(await vm.ok('uname -m'), /aarch64/);
    await vm.stop();

    // 2. A trial of slot B, which is empty: U-Boot marks the trial booted, finds no kernel there
    //    and boots slot A in the same run.
    await writeEnv(disk, envOffset, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    started = Date.now();
    vm.start();
    await vm.waitFor(/tandem: trial boot of slot B/, BOOT_MS);
    await vm.waitFor(/tandem: slot B has no bootable kernel[\s\S]*tandem: booting slot A/, BOOT_MS);
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    t.diagnostic(`boot 2 (empty B): back on A, Tandem up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal((await guestStatus(vm)).node, name);
    assert.equal((JSON.parse(await vm.ok('cat /run/tandem/boot.json')) as { slot: string }).slot, 'A');
    await vm.stop();
    const afterEmpty = await readEnv(disk, envOffset);
    assert.equal(afterEmpty.SLOT, 'A');
    // U-Boot saved TRIAL_BOOTED=1 before trying B; userspace may since have recorded the rollback and cleared both.
    assert.ok((afterEmpty.TRIAL === 'B' && afterEmpty.TRIAL_BOOTED === '1') || !afterEmpty.TRIAL, `env after the failed trial: ${JSON.stringify(afterEmpty)}`);

    // 3. A trial of a slot B whose kernel boots but whose initramfs is zeros: the kernel panics,
    //    panic=10 resets the board, and the next U-Boot run sees TRIAL_BOOTED=1 and boots A.
    const payload = join(work.path, 'slotA.bin');
    await exec('dd', [`if=${disk}`, `of=${payload}`, 'bs=1M', `skip=${slotA.offsetBytes}`, `count=${slotA.sizeBytes}`, 'iflag=skip_bytes,count_bytes', 'status=none']);
    const handle = await open(payload, 'r+');
    let initrdAt = 0;
    let initrdBytes = 0;
    try {
      const sb = Buffer.alloc(96);
      await handle.read(sb, 0, sb.length, 0);
      const used = squashfsBytesUsed(sb);
      assert.ok(used.ok, 'slot A starts with a squashfs');
      const headerOffset = planSlot(used.value, 1, 1).headerOffset;
      const raw = Buffer.alloc(512);
      await handle.read(raw, 0, raw.length, headerOffset);
      const header = decodeSlotHeader(raw);
      assert.ok(header.ok, `slot A's kernel header: ${header.ok ? '' : header.reason}`);
      initrdAt = headerOffset + header.value.initrdOffset;
      initrdBytes = header.value.initrdBytes;
      await handle.write(Buffer.alloc(initrdBytes), 0, initrdBytes, initrdAt);
    } finally {
      await handle.close();
    }
    await exec('dd', [`if=${payload}`, `of=${disk}`, 'bs=1M', `seek=${slotB.offsetBytes}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
    await rm(payload);
    await writeEnv(disk, envOffset, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    started = Date.now();
    vm.start();
    await vm.waitFor(/tandem: trial boot of slot B[\s\S]*tandem: booting slot B/, BOOT_MS);
    await vm.waitFor(/Kernel panic/, BOOT_MS);
    await vm.awaitReboot(/tandem: the trial of slot B did not commit: booting slot A/, 120_000);
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    t.diagnostic(`boot 3 (B panics): reset by panic=10, back on A, Tandem up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal((await guestStatus(vm)).node, name);
    assert.equal((JSON.parse(await vm.ok('cat /run/tandem/boot.json')) as { slot: string }).slot, 'A');
    await vm.stop();
    assert.equal((await readEnv(disk, envOffset)).SLOT, 'A');
  } catch (error) {
    if (vm) t.diagnostic(vm.tail(60));
    throw error;
  } finally {
    await vm?.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
