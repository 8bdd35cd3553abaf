// Step 3, the trim (issue 15 item 1): docs, man pages, locales, udev's hwdb (no udev runs),
// /var (hidden by its tmpfs at boot), and
// every kernel module outside the profile's allowlist (closed over modules.dep by
// image/modules.ts), then depmod; the kernel moves to /boot/vmlinuz for GRUB.

import { readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseModulesDep, selectModules, unmatchedEntries } from '../modules.js';
import type { ArchProfile } from '../profile.js';
import { inChroot, log, sh } from '../run.js';

export async function kernelVersion(root: string): Promise<string> {
  const versions = await readdir(join(root, 'usr/lib/modules'));
  if (versions.length !== 1) throw new Error(`expected one kernel in ${root}/usr/lib/modules, found ${versions.join(', ') || 'none'}`);
  return versions[0] as string;
}

export async function trimRootfs(root: string, profile: ArchProfile): Promise<{ kver: string; modulesKept: number; modulesDropped: number }> {
  await sh(
    `cd "${root}" && rm -rf usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/lintian usr/share/locale/* ` +
      'var/cache/apt/* var/lib/apt/lists/* var/cache/debconf/*-old var/log/* usr/share/common-licenses ' +
      'usr/share/bug usr/share/menu usr/include usr/lib/udev/hwdb.bin usr/lib/udev/hwdb.d',
  );
  // /var is a tmpfs at boot (image/files/init), so whatever the squashfs holds there is never
  // seen: apt's and dpkg's databases (87 MiB) go.
  await sh(`cd "${root}" && rm -rf var/lib/apt var/lib/dpkg var/cache var/backups var/log && mkdir -p var/lib var/cache var/log`);
  // With its database gone, package management is dead weight on a read-only root (an upgrade
  // replaces the whole slot): apt and dpkg, 15 MiB raw.
  await sh(`cd "${root}" && rm -rf usr/bin/apt* usr/lib/apt usr/lib/*-linux-gnu/libapt-* etc/apt usr/bin/dpkg* usr/share/dpkg`);
  const kver = await kernelVersion(root);
  const moddir = join(root, 'usr/lib/modules', kver);
  const deps = parseModulesDep(await readFile(join(moddir, 'modules.dep'), 'utf8'));
  const unmatched = unmatchedEntries(deps, profile.moduleAllowlist);
  if (unmatched.length > 0) log(`trim: allowlist entries matching no module of ${kver} (built in or renamed): ${unmatched.join(', ')}`);
  const keep = selectModules(deps, profile.moduleAllowlist);
  let dropped = 0;
  for (const path of deps.keys()) {
    if (keep.has(path)) continue;
    await rm(join(moddir, path));
    dropped++;
  }
  await sh(`find "${moddir}/kernel" -type d -empty -delete`);
  await inChroot(root, `depmod ${kver}`);
  // GRUB's grub.cfg names /boot/vmlinuz; the config and System.map are not needed at run time.
  await rename(join(root, 'boot', `vmlinuz-${kver}`), join(root, 'boot/vmlinuz'));
  await sh(`cd "${root}" && rm -f boot/System.map-* boot/config-* vmlinuz vmlinuz.old initrd.img initrd.img.old`);
  return { kver, modulesKept: keep.size, modulesDropped: dropped };
}
