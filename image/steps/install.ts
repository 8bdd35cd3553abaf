// Step 2, Tandem into the rootfs (contract 8 of issue 15): the bundle dist/ (with dist/ui/) at
// /usr/lib/tandem/dist/, the raw-socket addon where the bundle's loader looks for it
// (firmware/net/raw/addon.ts: ../build/Release beside dist/), /usr/bin/tandem, the init and
// the first-boot template, and the read-only root's few links into /run.

import { chmod, copyFile, cp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchProfile } from '../profile.js';

export interface InstallInputs {
  repo: string;
  root: string;
  version: string;
  profile: ArchProfile;
}

export async function installTandem({ repo, root, version, profile }: InstallInputs): Promise<void> {
  const lib = join(root, 'usr/lib/tandem');
  await rm(lib, { recursive: true, force: true });
  // Source maps stay out: they double the bundle and nothing on the router reads them.
  await cp(join(repo, 'dist'), join(lib, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  await mkdir(join(lib, 'build/Release'), { recursive: true });
  // N-API: the host's build loads on the target's Node 18 (x86-64 only; image/addons replaces it).
  await copyFile(join(repo, 'build/Release/tandem_raw.node'), join(lib, 'build/Release/tandem_raw.node'));
  await chmod(join(lib, 'dist/tandem.mjs'), 0o755);
  await rm(join(root, 'usr/bin/tandem'), { force: true });
  await symlink('../lib/tandem/dist/tandem.mjs', join(root, 'usr/bin/tandem'));
  await copyFile(join(repo, 'image/files/init'), join(lib, 'init'));
  await chmod(join(lib, 'init'), 0o755);
  await copyFile(join(repo, 'image/files/tandem.yaml.template'), join(lib, 'tandem.yaml.template'));
  await writeFile(join(lib, 'image.env'), `ARCH=${profile.arch}\nVERSION=${version}\nBOOTLOADER=${profile.bootloader}\n`);
  await mkdir(join(root, 'cfg'), { recursive: true });
  // Files that must change on a read-only root point into /run (tmpfs).
  for (const [file, target] of [
    ['etc/resolv.conf', '../run/resolv.conf'],
    ['etc/mtab', '../proc/self/mounts'],
  ] as const) {
    await rm(join(root, file), { force: true });
    await symlink(target, join(root, file));
  }
  await writeFile(join(root, 'etc/hostname'), 'tandem\n');
  await writeFile(join(root, 'etc/machine-id'), '');
  // Host keys are made per machine on first boot, in /cfg/ssh (openssh-server's postinst made some).
  for (const name of await readdir(join(root, 'etc/ssh'))) {
    if (name.startsWith('ssh_host_')) await rm(join(root, 'etc/ssh', name));
  }
}
