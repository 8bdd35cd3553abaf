// An appliance image for the netns and e2e tests, without qemu: a bundle of random bytes made
// with GNU tar, slots and a boot partition that are files (the env made by grub-editenv), and
// `tandem run` (the built bundle) in a lab host whose private /run/tandem holds the boot.json
// init would have written. `busybox` on the daemon's PATH is a stand-in that only counts reboots.

import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendControl } from '../../firmware/control/client.js';
import { ENV_OFFSET, run, writeEnv } from '../firmware/upgrade/bundle-lab.js';
import { eventually, type Lab } from './lab.js';
import { bundleCommand, type Workdir } from './peers.js';

export interface Image {
  dir: string;
  bundle: string;
  bootJson(slot: 'A' | 'B', trial: boolean): string;
}

export async function makeImage(work: Workdir, rootfsMiB: number): Promise<Image> {
  const dir = work.file('image');
  await mkdir(join(dir, 'src'), { recursive: true });
  const rootfs = Buffer.alloc(rootfsMiB * 1024 * 1024);
  for (let i = 0; i < rootfs.length; i += 65536) randomFillSync(rootfs, i, Math.min(65536, rootfs.length - i));
  const manifest = { format: 1, product: 'tandem', version: '0.2.0+gnetns', arch: 'x86_64', bootloader: 'grub', created: '2026-12-03T06:00:00Z', rootfs: { sizeBytes: rootfs.length, sha256: createHash('sha256').update(rootfs).digest('hex') } };
  await writeFile(join(dir, 'src', 'manifest.json'), JSON.stringify(manifest));
  await writeFile(join(dir, 'src', 'rootfs.sqfs'), rootfs);
  const bundle = join(dir, 'tandem-x86_64.upgrade.tar');
  await run('tar', ['--format=ustar', '-C', join(dir, 'src'), '-cf', bundle, 'manifest.json', 'rootfs.sqfs']);
  for (const slot of ['A', 'B']) {
    const handle = await open(join(dir, `${slot}.img`), 'w');
    await handle.truncate((rootfsMiB + 16) * 1024 * 1024); // sparse
    await handle.close();
  }
  await writeEnv(dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
  const bootJson = (slot: 'A' | 'B', trial: boolean) =>
    JSON.stringify({
      arch: 'x86_64', version: slot === 'A' ? '0.1.0+gold' : '0.2.0+gnetns', slot, trial: trial ? { timeoutSeconds: 180 } : false, bootloader: 'grub',
      devices: { disk: join(dir, 'disk.img'), boot: join(dir, 'boot.img'), A: join(dir, 'A.img'), B: join(dir, 'B.img'), cfg: join(dir, 'cfg.img') },
      env: { device: join(dir, 'boot.img'), offsetBytes: ENV_OFFSET, sizeBytes: 1024 },
    });
  return { dir, bundle, bootJson };
}

export interface ImageDaemon {
  pid: number;
  socket: string;
  output(): string;
  /** How many times the daemon ran `reboot` (a stand-in on its PATH counts them). */
  reboots(): Promise<number>;
  stop(): Promise<void>;
}

/** `tandem run` in h1 with /run/tandem on a private tmpfs holding boot.json (as init leaves it). */
export async function startOnImage(lab: Lab, work: Workdir, image: Image, slot: 'A' | 'B', trial: boolean, extra: Record<string, unknown> = {}): Promise<ImageDaemon> {
  const dir = work.file('fw-h1');
  await mkdir(dir, { recursive: true });
  const config = {
    node: { name: 'fw-h1', stateDir: join(dir, 'state') },
    control: { socket: join(dir, 'control.sock') },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret', advbase: 0, advskew: 26 }],
    upgrade: { commitAfterSeconds: 2, trialTimeoutSeconds: 180 },
    ...extra,
  };
  // The daemon reboots with `busybox reboot -f`, which on this machine must never be the real
  // one: a stand-in busybox first on the daemon's PATH only logs what it was asked.
  const bin = join(dir, 'bin');
  const rebootLog = join(dir, 'reboots.log');
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'busybox'), `#!/bin/sh\necho "$*" >> '${rebootLog}'\n`);
  await chmod(join(bin, 'busybox'), 0o755);
  const configPath = join(dir, 'tandem.json');
  await writeFile(configPath, JSON.stringify(config));
  const bootPath = join(dir, 'boot.json');
  await writeFile(bootPath, image.bootJson(slot, trial));
  // `ip netns exec` already gives the command its own mount namespace (slave of the host's), so
  // this tmpfs over /run/tandem is seen by h1's daemon and its CLI only.
  const node = [process.execPath, ...bundleCommand()].map((w) => `'${w}'`).join(' ');
  const script = `mkdir -p /run/tandem && mount -t tmpfs -o size=1m tandem-run /run/tandem && cp '${bootPath}' /run/tandem/boot.json && export PATH='${bin}':$PATH && exec ${node} run --config '${configPath}'`;
  const child = lab.spawn(1, 'sh', ['-c', script]);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  await eventually('fw-h1 to answer', async () => {
    if (child.exitCode !== null) throw new Error(`fw-h1 exited: ${output}`);
    const reply = await sendControl(config.control.socket, { cmd: 'status' }, 1000).catch(() => undefined);
    return reply?.ok ? true : undefined;
  }, 10_000);
  return {
    pid: child.pid!,
    socket: config.control.socket,
    output: () => output,
    reboots: async () => (await readFile(rebootLog, 'utf8').catch(() => '')).split('\n').filter((line) => line === 'reboot -f').length,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

