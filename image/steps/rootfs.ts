// Step 1, the base rootfs: debootstrap --variant=minbase bookworm, then the kernel and the
// packages of image/packages.ts (image.md sections 1 and 4), cached under .cache/image/ keyed
// by suite, arch and package list, so a second build copies it instead of downloading it.

import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { COMMON_PACKAGES } from '../packages.js';
import type { ArchProfile } from '../profile.js';
import { cacheKey, inChroot, log, run, sh } from '../run.js';

const SUITE = 'bookworm';
/** Bump when the recipe below changes in a way the package list does not show. */
const RECIPE = 3;

export async function debianMirror(): Promise<string> {
  const sources = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => '');
  const match = /^URIs:\s*(\S+)/m.exec(sources);
  return match?.[1] ?? 'http://deb.debian.org/debian';
}

export function rootfsPackages(profile: ArchProfile): string[] {
  return [...COMMON_PACKAGES, profile.kernelPackage, ...profile.extraPackages];
}

/**
 * Makes `target` a fresh copy of the cached base rootfs, building the cache entry first when
 * it is missing. Returns whether the cache was hit.
 */
export async function baseRootfs(profile: ArchProfile, cacheRoot: string, target: string): Promise<boolean> {
  const packages = rootfsPackages(profile);
  const key = cacheKey({ SUITE, RECIPE, arch: profile.debianArch, packages });
  const cached = join(cacheRoot, `rootfs-${profile.arch}-${key}`);
  const hit = existsSync(join(cached, '.complete'));
  if (!hit) {
    await mkdir(cacheRoot, { recursive: true });
    // Per-process name: two builds of one arch (another --out) may fill the cache at once; the
    // first rename wins and the other's copy is dropped.
    const building = `${cached}.partial-${process.pid}`;
    await rm(building, { recursive: true, force: true });
    await buildBase(profile, packages, building);
    await writeFile(join(building, '.complete'), `${JSON.stringify({ SUITE, RECIPE, packages })}\n`);
    await rename(building, cached).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      await rm(building, { recursive: true, force: true });
    });
  } else {
    log(`rootfs: cache hit ${cached}`);
  }
  await rm(target, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', cached, target]);
  await rm(join(target, '.complete'));
  return hit;
}

async function buildBase(profile: ArchProfile, packages: string[], root: string): Promise<void> {
  const mirror = await debianMirror();
  log(`rootfs: debootstrap ${SUITE} ${profile.debianArch} from ${mirror}`);
  await run('debootstrap', ['--variant=minbase', `--arch=${profile.debianArch}`, SUITE, root, mirror], {
    capture: true,
  });
  // No service may start inside the chroot (openssh-server's postinst would start sshd on the
  // host's network), and we ship our own initramfs (image.md section 4: update-initramfs is slow
  // and its output unused).
  await writeFile(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  await inChroot(root, 'dpkg-divert --local --rename --add /usr/sbin/update-initramfs >/dev/null; ln -sf /bin/true /usr/sbin/update-initramfs');
  await sh(`mount -t proc proc "${root}/proc" && mount -t sysfs sys "${root}/sys" && mount --bind /dev "${root}/dev"`);
  try {
    await inChroot(
      root,
      `apt-get -qq update && apt-get -qq install -y --no-install-recommends ${packages.join(' ')} >/dev/null && apt-get clean`,
    );
  } finally {
    await sh(`umount "${root}/dev" "${root}/sys" "${root}/proc"`);
  }
  await rm(join(root, 'usr/sbin/policy-rc.d'));
}
