// Second bundles for the upgrade test, made from the build's own (contract 5): its rootfs.sqfs is
// unpacked once, given a new version (/usr/lib/tandem/image.env, /etc/tandem-release), and
// packed again as a good bundle and as a broken one whose daemon exits at start. gzip level 1
// instead of the release's xz: GRUB's squash4 reads both, and it packs in seconds, not minutes.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IMAGE_TEST_CACHE, partition, type Build } from './harness.js';

const exec = promisify(execFile);

export interface TestBundles {
  good: { path: string; version: string };
  broken: { path: string; version: string };
}

/** The daemon of the broken bundle: it says why and exits 1 before doing anything. */
const BROKEN_DAEMON = `#!/usr/bin/env node
console.error('tandem: deliberately broken build for the upgrade test: exiting at start');
process.exit(1);
`;

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Sets VERSION= in image.env (the init and boot.json read it) and /etc/tandem-release. */
async function setVersion(tree: string, version: string): Promise<void> {
  const env = join(tree, 'usr/lib/tandem/image.env');
  if (existsSync(env)) {
    const text = await readFile(env, 'utf8');
    await writeFile(env, /^VERSION=/m.test(text) ? text.replace(/^VERSION=.*$/m, `VERSION=${version}`) : `${text}VERSION=${version}\n`);
  }
  await writeFile(join(tree, 'etc/tandem-release'), `${version}\n`);
}

async function pack(build: Build, tree: string, dir: string, name: string, manifestText: string, version: string): Promise<string> {
  const work = join(dir, `${name}.d`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const sqfs = join(work, 'rootfs.sqfs');
  await exec('mksquashfs', [tree, sqfs, '-noappend', '-no-progress', '-quiet', '-comp', 'gzip', '-Xcompression-level', '1'], { maxBuffer: 64 << 20 });
  const size = (await stat(sqfs)).size;
  const slot = partition(build, 'B').sizeBytes;
  if (size > slot) throw new Error(`${name}: squashfs of ${size} bytes does not fit the ${slot}-byte slot`);
  const manifest = JSON.parse(manifestText) as Record<string, unknown>;
  manifest.version = version;
  manifest.created = new Date().toISOString();
  manifest.rootfs = { sizeBytes: size, sha256: await sha256(sqfs) };
  await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const out = join(dir, `${name}.upgrade.tar`);
  await exec('tar', ['--format=ustar', '--owner=0', '--group=0', '--numeric-owner', '-cf', `${out}.tmp`, '-C', work, 'manifest.json', 'rootfs.sqfs']);
  await rename(`${out}.tmp`, out);
  await rm(work, { recursive: true, force: true });
  return out;
}

/**
 * The good and broken bundles for `build`, cached beside it by the original rootfs's sha256 (the
 * tier rebuilds the image each run; a test file run again reuses them).
 */
export async function testBundles(build: Build): Promise<TestBundles> {
  const extract = join(IMAGE_TEST_CACHE, `${build.arch}-repack`);
  await mkdir(extract, { recursive: true });
  await exec('tar', ['-xf', build.bundle, '-C', extract, 'manifest.json']);
  const manifestText = await readFile(join(extract, 'manifest.json'), 'utf8');
  const original = JSON.parse(manifestText) as { version: string; rootfs: { sha256: string } };
  const dir = join(extract, original.rootfs.sha256.slice(0, 16));
  const good = { path: join(dir, 'good.upgrade.tar'), version: `${original.version}-good` };
  const broken = { path: join(dir, 'broken.upgrade.tar'), version: `${original.version}-broken` };
  if (existsSync(good.path) && existsSync(broken.path)) return { good, broken };
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const tree = join(dir, 'rootfs');
  try {
    await exec('tar', ['-xf', build.bundle, '-C', dir, 'rootfs.sqfs']);
    await exec('unsquashfs', ['-q', '-n', '-d', tree, join(dir, 'rootfs.sqfs')], { maxBuffer: 64 << 20 });
    await rm(join(dir, 'rootfs.sqfs'));
    await setVersion(tree, good.version);
    await pack(build, tree, dir, 'good', manifestText, good.version);
    await setVersion(tree, broken.version);
    await writeFile(join(tree, 'usr/lib/tandem/dist/tandem.mjs'), BROKEN_DAEMON, { mode: 0o755 });
    await pack(build, tree, dir, 'broken', manifestText, broken.version);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
  return { good, broken };
}
