// Issue 15's arm64 half: the native addons load under the appliance's Node 18 on both arches, and
// the arm64 image boots under qemu-system-aarch64 -M virt (Debian's U-Boot as -bios, TCG) to a
// running Tandem; `tandem upgrade` of a second build boots it once through U-Boot and commits it;
// a trial of a slot whose kernel panics comes back by itself (contract 3, image/uboot-script.ts).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { decodeUBootEnv, encodeUBootEnv } from '../../firmware/upgrade/ubootenv.js';
import { decodeSlotHeader, planSlot, SLOT_ALIGN, squashfsBytesUsed } from '../../image/uboot-slot.js';
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
    // ELF e_machine (offset 18, little-endian): 183 is EM_AARCH64.
    for (const addon of ['usr/lib/tandem/build/Release/tandem_raw.node', 'usr/lib/tandem/node_modules/epoll/build/Release/epoll.node']) {
      const elf = await readFile(join(root, addon));
      assert.equal(elf.readUInt16LE(18), 183, `${addon} is an AArch64 ELF`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

/** Where slot payload's TNDK header starts: the squashfs's bytes_used rounded up to 1 MiB. */
async function headerOffsetOf(payload: string): Promise<number> {
  const handle = await open(payload, 'r');
  try {
    const sb = Buffer.alloc(96);
    await handle.read(sb, 0, sb.length, 0);
    const used = squashfsBytesUsed(sb);
    if (!used.ok) throw new Error(`${payload}: ${used.reason}`);
    return planSlot(used.value, 1, 1).headerOffset;
  } finally {
    await handle.close();
  }
}

/**
 * A second arm64 bundle from the build's own: its squashfs unpacked, given `version` (image.env,
 * which init and boot.json read), packed again (gzip -1: seconds, not minutes), and followed by the
 * original's TNDK header, kernel and initrd, whose offsets count from the header.
 */
async function rebundle(build: Build, dir: string, version: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await exec('tar', ['-xf', build.bundle, '-C', dir, 'manifest.json', 'rootfs.sqfs']);
  const original = join(dir, 'rootfs.sqfs');
  const tailAt = await headerOffsetOf(original);
  const tree = join(dir, 'tree');
  await exec('unsquashfs', ['-q', '-n', '-d', tree, original], { maxBuffer: 64 << 20 });
  const env = join(tree, 'usr/lib/tandem/image.env');
  await writeFile(env, (await readFile(env, 'utf8')).replace(/^VERSION=.*$/m, `VERSION=${version}`));
  const sqfs = join(dir, 'new.sqfs');
  await exec('mksquashfs', [tree, sqfs, '-noappend', '-no-progress', '-quiet', '-comp', 'gzip', '-Xcompression-level', '1'], { maxBuffer: 64 << 20 });
  await rm(tree, { recursive: true, force: true });
  const payload = join(dir, 'payload');
  const headerAt = Math.ceil((await stat(sqfs)).size / SLOT_ALIGN) * SLOT_ALIGN;
  await exec('sh', ['-c', 'cp "$1" "$3" && truncate -s "$4" "$3" && tail -c +"$5" "$2" >> "$3"', 'sh', sqfs, original, payload, String(headerAt), String(tailAt + 1)]);
  assert.equal(await headerOffsetOf(payload), headerAt);
  await rm(sqfs);
  await rm(original);
  const hash = createHash('sha256');
  hash.update(await readFile(payload));
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  manifest.version = version;
  manifest.created = new Date().toISOString();
  manifest.rootfs = { sizeBytes: (await stat(payload)).size, sha256: hash.digest('hex') };
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await exec('sh', ['-c', 'cd "$1" && mv payload rootfs.sqfs && tar --format=ustar --owner=0 --group=0 --numeric-owner -cf bundle.tar manifest.json rootfs.sqfs && rm rootfs.sqfs', 'sh', dir]);
  return join(dir, 'bundle.tar');
}

/** Copies slot `from` of `disk` into slot `to` with the initramfs zeroed: its kernel panics. */
async function writePanickingSlot(disk: string, from: { offsetBytes: number; sizeBytes: number }, to: { offsetBytes: number }, work: string): Promise<void> {
  const payload = join(work, 'panic.bin');
  await exec('dd', [`if=${disk}`, `of=${payload}`, 'bs=1M', `skip=${from.offsetBytes}`, `count=${from.sizeBytes}`, 'iflag=skip_bytes,count_bytes', 'status=none']);
  const headerAt = await headerOffsetOf(payload);
  const handle = await open(payload, 'r+');
  try {
    const raw = Buffer.alloc(512);
    await handle.read(raw, 0, raw.length, headerAt);
    const header = decodeSlotHeader(raw);
    assert.ok(header.ok, `the slot's kernel header: ${header.ok ? '' : header.reason}`);
    await handle.write(Buffer.alloc(header.value.initrdBytes), 0, header.value.initrdBytes, headerAt + header.value.initrdOffset);
  } finally {
    await handle.close();
  }
  await exec('dd', [`if=${payload}`, `of=${disk}`, 'bs=1M', `seek=${to.offsetBytes}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  await rm(payload);
}

interface UpgradeStatus {
  booted: 'A' | 'B';
  committed: 'A' | 'B';
  state: string;
  version: string;
  last: null | { result: string; version: string; reason?: string };
}

async function untilUpgrade(vm: Vm, what: string, pick: (s: UpgradeStatus) => boolean, timeoutMs: number): Promise<UpgradeStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: UpgradeStatus | undefined;
  for (;;) {
    last = await vm.ok('tandem upgrade status --json').then((out) => JSON.parse(out) as UpgradeStatus, () => last);
    if (last && pick(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: last status ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

test('arm64 boots through U-Boot to a running Tandem; an upgrade commits through U-Boot, a panicking trial rolls back', { timeout: 1_800_000 }, async (t) => {
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
    let started = Date.now();
    const version = `${build.version}-next`;
    const bundle = await rebundle(build, join(work.path, 'next'), version);
    t.diagnostic(`second bundle ${version} (${(await stat(bundle)).size} B) made in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const name = 'arm64a';
    const disk = await prepareDisk(build, join(work.path, 'a'), {
      kind: 'files',
      files: {
        'tandem.yaml': guestConfig({ name, address: '198.51.100.31/24', extra: { upgrade: { commitAfterSeconds: 5, trialTimeoutSeconds: 150 } } }),
        'marker.txt': `kept ${version}\n`,
      },
    });
    assert.deepEqual(await readEnv(disk, envOffset), { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' }, 'a fresh image');
    vm = await Vm.create({
      name: 'a', lab, dir: work.path, arch: 'arm64', bios: UBOOT, disk, userspace: WEB_UI_LINE,
      // The bundle reaches the guest as a second virtio disk (vdb; snapshot: the file stays as it is).
      extraArgs: ['-drive', `file=${bundle},format=raw,if=virtio,snapshot=on`],
    });

    // 1. A plain boot: U-Boot -> boot.scr -> slot A's kernel -> initramfs -> init -> tandem.
    started = Date.now();
    vm.start();
    await vm.waitFor(/tandem: booting slot A/, BOOT_MS);
    const uBootMs = Date.now() - started;
    const up = await vm.waitFor(/tandem-init: tandem is up \([\d.]+ s after boot\)/, BOOT_MS);
    t.diagnostic(`boot 1: U-Boot chose slot A ${(uBootMs / 1000).toFixed(1)} s after power on; "${up[0]}" ${((Date.now() - started) / 1000).toFixed(1)} s after`);
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    assert.equal(await untilStatus(vm, 'status with the node name', (s) => s.node, 120_000), name);
    const bootJson = JSON.parse(await vm.ok('cat /run/tandem/boot.json')) as { arch: string; slot: string; bootloader: string; trial: unknown };
    assert.deepEqual([bootJson.arch, bootJson.slot, bootJson.bootloader, bootJson.trial], ['arm64', 'A', 'uboot', false]);
    assert.match(await vm.ok('uname -m'), /aarch64/);
    const before = await untilUpgrade(vm, 'the first boot committed in A', (s) => s.state === 'committed', 60_000);
    assert.deepEqual([before.booted, before.version], ['A', build.version]);

    // 2. tandem upgrade: slot B written, the env set to TRIAL=B by the daemon, reboot; U-Boot
    //    boots B once, and the daemon commits it once healthy.
    started = Date.now();
    await vm.ok(`cat /dev/vdb > /tmp/next.tar`, 180_000);
    vm.type('tandem upgrade /tmp/next.tar');
    await vm.awaitReboot(/tandem: trial boot of slot B/, 600_000);
    await vm.waitFor(/tandem: booting slot B/, BOOT_MS);
    await vm.waitFor(/tandem-init: trial committed/, BOOT_MS + 150_000);
    const committed = await untilUpgrade(vm, 'B committed', (s) => s.state === 'committed' && s.committed === 'B', 60_000);
    assert.deepEqual([committed.booted, committed.version, committed.last?.result], ['B', version, 'committed']);
    assert.equal(await vm.ok('cat /cfg/marker.txt'), `kept ${version}`, '/cfg is kept across the upgrade');
    t.diagnostic(`boot 2: upgrade written, trial of B committed ${((Date.now() - started) / 1000).toFixed(0)} s after \`tandem upgrade\``);
    await vm.stop();
    const afterCommit = await readEnv(disk, envOffset);
    assert.deepEqual([afterCommit.SLOT, afterCommit.TRIAL ?? '', afterCommit.TRIAL_BOOTED], ['B', '', '0'], `the env after the commit: ${JSON.stringify(afterCommit)}`);

    // 3. A trial of slot A whose initramfs is zeros: the kernel panics, panic=10 resets the board,
    //    and the next U-Boot run sees TRIAL_BOOTED=1 and boots the committed B; userspace reports it.
    await writePanickingSlot(disk, slotA, slotA, work.path);
    await writeEnv(disk, envOffset, { SLOT: 'B', TRIAL: 'A', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '150' });
    started = Date.now();
    vm.start();
    await vm.waitFor(/tandem: trial boot of slot A[\s\S]*tandem: booting slot A/, BOOT_MS);
    await vm.waitFor(/Kernel panic/, BOOT_MS);
    await vm.awaitReboot(/tandem: the trial of slot A did not commit: booting slot B/, 120_000);
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    t.diagnostic(`boot 3 (A panics): reset by panic=10, back on B, Tandem up ${((Date.now() - started) / 1000).toFixed(1)} s after power on`);
    assert.equal((await guestStatus(vm)).node, name);
    assert.equal((JSON.parse(await vm.ok('cat /run/tandem/boot.json')) as { slot: string }).slot, 'B');
    const back = await untilUpgrade(vm, 'the rollback reported', (s) => s.last?.result === 'rolled-back', 60_000);
    assert.deepEqual([back.booted, back.committed, back.version], ['B', 'B', version]);
    await vm.stop();
    const after = await readEnv(disk, envOffset);
    assert.equal(after.SLOT, 'B');
    assert.ok(!after.TRIAL, `userspace cleared the failed trial: ${JSON.stringify(after)}`);
  } catch (error) {
    if (vm) t.diagnostic(vm.tail(60));
    throw error;
  } finally {
    await vm?.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
