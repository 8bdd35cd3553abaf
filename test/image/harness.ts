// The image tier's shared harness (issue 15, contracts 1, 2 and 10): the image is built once per
// run into .cache/image-test/<arch> (under a lock, so test files run alone or together share it),
// and a VM gets its own sparse copy of the disk with its own /cfg partition. The VM itself is in vm.ts.

import { execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { netnsUnavailable } from '../netns/lab.js';

export { Vm, type VmOptions, type CommandResult } from './vm.js';

const exec = promisify(execFile);
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD_IMAGE = join(ROOT, 'scripts/build-image');
export const IMAGE_TEST_CACHE = join(ROOT, '.cache/image-test');

export type Arch = 'x86_64' | 'arm64';
export type PartitionName = 'boot' | 'A' | 'B' | 'cfg';

export interface Partition {
  name: PartitionName;
  number: number;
  offsetBytes: number;
  sizeBytes: number;
}

/** build.json (contract 1), plus where its files are. */
export interface Build {
  arch: Arch;
  version: string;
  partitions: Partition[];
  sizes: Record<string, unknown>;
  dir: string;
  image: string;
  bundle: string;
}

export function partition(build: Build, name: PartitionName): Partition {
  const found = build.partitions.find((p) => p.name === name);
  if (!found) throw new Error(`${build.dir}/build.json: no partition ${name}`);
  return found;
}

export async function readBuild(dir: string): Promise<Build> {
  const json = JSON.parse(await readFile(join(dir, 'build.json'), 'utf8')) as Omit<Build, 'dir' | 'image' | 'bundle'>;
  return {
    ...json,
    dir,
    image: join(dir, `tandem-${json.arch}.img`),
    bundle: join(dir, `tandem-${json.arch}.upgrade.tar`),
  };
}

const QEMU: Record<Arch, string> = { x86_64: 'qemu-system-x86_64', arm64: 'qemu-system-aarch64' };
export const qemuBinary = (arch: Arch): string => QEMU[arch];

/** Why no VM can run here (not root, no qemu), or undefined. */
export function qemuUnavailable(arch: Arch = 'x86_64'): string | undefined {
  const netns = netnsUnavailable();
  if (netns) return netns;
  if (!['/usr/bin', '/usr/local/bin'].some((d) => existsSync(join(d, QEMU[arch])))) {
    return `${QEMU[arch]} is not installed (scripts/setup installs it)`;
  }
  return undefined;
}

/** Why the image tier cannot run here (no VM, no build script yet), or undefined. */
export function imageUnavailable(arch: Arch = 'x86_64'): string | undefined {
  const qemu = qemuUnavailable(arch);
  if (qemu) return qemu;
  if (!existsSync(BUILD_IMAGE) && !existsSync(join(IMAGE_TEST_CACHE, arch, 'build.json'))) {
    return 'scripts/build-image does not exist yet';
  }
  return undefined;
}

/** Skips the test with the reason when the image tier cannot run; `if (!requireImageTier(t)) return;`. */
export function requireImageTier(t: TestContext, arch: Arch = 'x86_64', needs: 'image' | 'qemu' = 'image'): boolean {
  const reason = needs === 'image' ? imageUnavailable(arch) : qemuUnavailable(arch);
  if (reason) t.skip(reason);
  return reason === undefined;
}

/**
 * The build in .cache/image-test/<arch>, built now when build.json is missing. `scripts/test`
 * builds it before the tier; this is for a test file run alone. A lock file holding the
 * builder's PID makes a second caller wait instead of building the same image twice.
 */
export async function ensureImage(arch: Arch, options: { extraArgs?: string[]; name?: string } = {}): Promise<Build> {
  const dir = join(IMAGE_TEST_CACHE, options.name ?? arch);
  if (existsSync(join(dir, 'build.json'))) return readBuild(dir);
  await mkdir(IMAGE_TEST_CACHE, { recursive: true });
  // scripts/test may still be building this arch beside the tier, holding the lock: wait for it.
  const release = await lock(`${dir}.lock`, 45 * 60_000);
  try {
    if (!existsSync(join(dir, 'build.json'))) {
      if (process.env.TANDEM_IMAGE_PREBUILT && options.name === undefined) {
        // scripts/test built it before (or beside) the tier and it failed: one failed build per run is enough.
        throw new Error(`the image build for ${arch} failed in scripts/test; see ${dir}.build.log`);
      }
      await buildImage(arch, dir, options.extraArgs ?? [], `${dir}.build.log`);
    }
  } finally {
    await release();
  }
  return readBuild(dir);
}

/** Runs scripts/build-image into `out`, its output into `logPath`; rejects with the log's tail. */
export async function buildImage(arch: Arch, out: string, extraArgs: string[], logPath: string): Promise<void> {
  const log = createWriteStream(logPath);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(BUILD_IMAGE, ['--arch', arch, '--out', out, ...extraArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('error', reject);
    child.once('close', resolve);
  });
  await new Promise<void>((resolve) => log.end(resolve));
  if (code !== 0) {
    const tail = (await readFile(logPath, 'utf8')).split('\n').slice(-30).join('\n');
    throw new Error(`scripts/build-image --arch ${arch} --out ${out} exited ${code}:\n${tail}`);
  }
}

/** An exclusive lock file (O_EXCL) with our PID; a lock whose PID is gone is taken over. */
async function lock(path: string, timeoutMs: number): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(path).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(await readFile(path, 'utf8').catch(() => ''));
    if (holder > 0 && !alive(holder)) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${path}: still held by PID ${holder} after ${timeoutMs} ms`);
    await sleep(1000);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a VM's /cfg partition starts with: the build's own, an empty ext4 (first boot), or these files. */
export type CfgSeed = { kind: 'image' } | { kind: 'empty' } | { kind: 'files'; files: Record<string, string | Buffer> };

/** Makes the ext4 that contract 2 names (label TCFG) from `files` into `path`, `sizeBytes` long. */
export async function makeCfgFs(path: string, sizeBytes: number, files: Record<string, string | Buffer>): Promise<void> {
  const tree = await mkdtemp(join(tmpdir(), 'tandem-cfg-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      const file = join(tree, name);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content, { mode: name.includes('key') ? 0o600 : 0o644 });
    }
    await rm(path, { force: true });
    await exec('truncate', ['-s', String(sizeBytes), path]);
    await exec('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'TCFG', '-d', tree, path]);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}

/** Writes `file` into `disk` at the partition's offset, in place (the disk stays sparse). */
export async function writePartition(disk: string, part: Partition, file: string): Promise<void> {
  const size = (await stat(file)).size;
  if (size > part.sizeBytes) throw new Error(`${file}: ${size} bytes do not fit partition ${part.name} (${part.sizeBytes})`);
  await exec('dd', [`if=${file}`, `of=${disk}`, 'bs=1M', `seek=${part.offsetBytes}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
}

/** Copies a partition out of `disk` into `file` (to e2fsck or debugfs it on the host). */
export async function readPartition(disk: string, part: Partition, file: string): Promise<void> {
  await exec('dd', [`if=${disk}`, `of=${file}`, 'bs=1M', `skip=${part.offsetBytes}`, `count=${part.sizeBytes}`,
    'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none']);
}

/** `cp --sparse=always`: a VM's own disk costs only the blocks it writes. */
export async function copyDisk(from: string, to: string): Promise<void> {
  await exec('cp', ['--sparse=always', from, to]);
}

/** Prepares a VM's disk in `dir` from the build: a sparse copy with `/cfg` as `seed` says. */
export async function prepareDisk(build: Build, dir: string, seed: CfgSeed): Promise<string> {
  await mkdir(dir, { recursive: true });
  const disk = join(dir, 'disk.img');
  await copyDisk(build.image, disk);
  if (seed.kind !== 'image') {
    const cfg = partition(build, 'cfg');
    const fs = join(dir, 'cfg-seed.ext4');
    await makeCfgFs(fs, cfg.sizeBytes, seed.kind === 'files' ? seed.files : {});
    await writePartition(disk, cfg, fs);
    await rm(fs, { force: true });
  }
  return disk;
}

/** e2fsck -fn of the disk's /cfg (read-only check): clean is exit 0. Also returns debugfs' `cat` of files. */
export async function inspectCfg(build: Build, disk: string, files: string[]): Promise<{ fsckCode: number; fsckOutput: string; files: Record<string, string | undefined> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-cfg-check-'));
  try {
    const fs = join(dir, 'cfg.ext4');
    await readPartition(disk, partition(build, 'cfg'), fs);
    let fsckCode = 0;
    let fsckOutput = '';
    try {
      const r = await exec('e2fsck', ['-fn', fs]);
      fsckOutput = r.stdout + r.stderr;
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      fsckCode = typeof e.code === 'number' ? e.code : -1;
      fsckOutput = (e.stdout ?? '') + (e.stderr ?? '');
    }
    const out: Record<string, string | undefined> = {};
    for (const name of files) {
      const r = await exec('debugfs', ['-R', `cat /${name.replace(/^\//, '')}`, fs]).catch(() => undefined);
      // debugfs prints "File not found by ext2_lookup" on stderr and nothing on stdout for a missing file.
      out[name] = r && !/not found/i.test(r.stderr) ? r.stdout : undefined;
    }
    return { fsckCode, fsckOutput, files: out };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A throwaway directory for one test file's VMs; removed by dispose(). */
export async function vmWorkdir(): Promise<{ path: string; dispose: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'tandem-image-'));
  return { path, dispose: () => rm(path, { recursive: true, force: true }) };
}
