// Step 8, the upgrade bundle (contract 5 of issue 15): ustar with manifest.json, the optional
// raw Ed25519 signature over its exact bytes, then rootfs.sqfs, in that order.

import { createHash, createPrivateKey, sign } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildManifest, bundleMembers, manifestBytes, type Manifest } from '../manifest.js';
import type { ArchProfile } from '../profile.js';
import { run } from '../run.js';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function writeBundle(opts: {
  out: string;
  work: string;
  rootfs: string;
  version: string;
  profile: ArchProfile;
  created: string;
  signKey: string | undefined;
}): Promise<Manifest> {
  const dir = join(opts.work, 'bundle');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const manifest = buildManifest({
    version: opts.version,
    arch: opts.profile.arch,
    bootloader: opts.profile.bootloader,
    created: opts.created,
    rootfs: { sizeBytes: (await stat(opts.rootfs)).size, sha256: await sha256File(opts.rootfs) },
  });
  const bytes = manifestBytes(manifest);
  await writeFile(join(dir, 'manifest.json'), bytes);
  if (opts.signKey) {
    const key = createPrivateKey(await readFile(opts.signKey));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`--sign-key: ${opts.signKey} is ${key.asymmetricKeyType}, not Ed25519`);
    await writeFile(join(dir, 'manifest.json.sig'), sign(null, bytes, key));
  }
  await copyFile(opts.rootfs, join(dir, 'rootfs.sqfs'));
  await rm(opts.out, { force: true });
  await run('tar', [
    '--format=ustar', '--owner=0', '--group=0', '--numeric-owner', '--mode=0644', `--mtime=@${Math.floor(Date.parse(opts.created) / 1000)}`,
    '-cf', opts.out, '-C', dir, ...bundleMembers(opts.signKey !== undefined),
  ]);
  return manifest;
}
