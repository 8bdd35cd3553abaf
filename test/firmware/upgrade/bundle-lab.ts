// Test helpers for the upgrade: a real bundle made with GNU tar from a temp dir (signed with
// openssl's Ed25519 when asked), and a fake disk of plain files (slots A and B, a boot
// partition holding a grubenv made by grub-editenv at a known offset), with the boot.json
// that init would have written for it.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { BootInfo } from '../../../firmware/upgrade/machine.js';

export const run = promisify(execFile);

export const ENV_OFFSET = 8192;

export interface Lab {
  dir: string;
  boot: BootInfo;
  bootJson: Record<string, unknown>;
  /** Ed25519 key pair made by openssl: PEM paths and the public key's text. */
  key: { privatePath: string; publicPem: string };
  otherKey: { privatePath: string; publicPem: string };
  cleanup(): Promise<void>;
}

async function opensslKey(dir: string, name: string): Promise<{ privatePath: string; publicPem: string }> {
  const privatePath = join(dir, `${name}.pem`);
  await run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', privatePath]);
  const { stdout } = await run('openssl', ['pkey', '-in', privatePath, '-pubout']);
  return { privatePath, publicPem: stdout };
}

/** Slots of `slotBytes`, the env on a 64 KiB "boot partition" with SLOT=A and no trial. */
export async function makeLab(slotBytes = 4 << 20, booted: 'A' | 'B' = 'A', env: Record<string, string> = { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' }): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-upgrade-'));
  await writeFile(join(dir, 'A.img'), Buffer.alloc(slotBytes));
  await writeFile(join(dir, 'B.img'), Buffer.alloc(slotBytes));
  await writeEnv(dir, env);
  const bootJson = {
    arch: 'x86_64', version: '0.1.0+gold', slot: booted, trial: false, bootloader: 'grub',
    devices: { disk: join(dir, 'disk.img'), boot: join(dir, 'boot.img'), A: join(dir, 'A.img'), B: join(dir, 'B.img'), cfg: join(dir, 'cfg.img') },
    env: { device: join(dir, 'boot.img'), offsetBytes: ENV_OFFSET, sizeBytes: 1024 },
  };
  const boot: BootInfo = { ...bootJson, arch: 'x86_64', slot: booted, bootloader: 'grub', trial: { kind: 'none' } } as BootInfo;
  return { dir, boot, bootJson, key: await opensslKey(dir, 'key'), otherKey: await opensslKey(dir, 'other'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes a grubenv made by grub-editenv into boot.img at ENV_OFFSET, with bytes around it. */
export async function writeEnv(dir: string, vars: Record<string, string>): Promise<void> {
  const file = join(dir, 'grubenv');
  await rm(file, { force: true });
  await run('grub-editenv', [file, 'create']);
  const sets = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
  if (sets.length) await run('grub-editenv', [file, 'set', ...sets]);
  const boot = Buffer.alloc(64 * 1024, 0xa5);
  (await readFile(file)).copy(boot, ENV_OFFSET);
  await writeFile(join(dir, 'boot.img'), boot);
}

/** The env as grub-editenv lists it, read from the boot partition in place. */
export async function listEnv(dir: string): Promise<string> {
  const boot = await readFile(join(dir, 'boot.img'));
  const file = join(dir, 'grubenv.out');
  await writeFile(file, boot.subarray(ENV_OFFSET, ENV_OFFSET + 1024));
  return (await run('grub-editenv', [file, 'list'])).stdout;
}

export interface BundleOptions {
  rootfs: Buffer;
  manifest?: Record<string, unknown>;
  /** openssl private key path: adds manifest.json.sig. */
  signWith?: string;
  /** Raw signature bytes to put in instead (bad signatures). */
  signature?: Buffer;
  members?: string[];
}

export function manifestFor(rootfs: Buffer, version = '0.2.0+gnew'): Record<string, unknown> {
  return { format: 1, product: 'tandem', version, arch: 'x86_64', bootloader: 'grub', created: '2026-12-03T06:00:00Z', rootfs: { sizeBytes: rootfs.length, sha256: createHash('sha256').update(rootfs).digest('hex') } };
}

/** A bundle made the way scripts/build-image makes it: GNU tar, ustar, members in order. */
export async function makeBundle(lab: Lab, name: string, options: BundleOptions): Promise<string> {
  const src = await mkdtemp(join(lab.dir, 'bundle-'));
  await writeFile(join(src, 'manifest.json'), JSON.stringify(options.manifest ?? manifestFor(options.rootfs), null, 2) + '\n');
  await writeFile(join(src, 'rootfs.sqfs'), options.rootfs);
  const members = ['manifest.json'];
  if (options.signWith) {
    await run('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', options.signWith, '-in', join(src, 'manifest.json'), '-out', join(src, 'manifest.json.sig')]);
    members.push('manifest.json.sig');
  } else if (options.signature) {
    await writeFile(join(src, 'manifest.json.sig'), options.signature);
    members.push('manifest.json.sig');
  }
  members.push('rootfs.sqfs');
  const out = join(lab.dir, `${name}.upgrade.tar`);
  await run('tar', ['--format=ustar', '-C', src, '-cf', out, ...(options.members ?? members)]);
  return out;
}

export function pattern(size: number, seed = 7): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
