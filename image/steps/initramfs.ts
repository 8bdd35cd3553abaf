// Step 4, the initramfs (issue 15 item 3): static busybox, the disk and squashfs modules with
// their dependencies in load order (modprobe --show-depends, image.md section 2), /init from
// image/files/initramfs-init; gzip'd into the rootfs's /boot/initrd.gz.

import { chmod, copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ArchProfile } from '../profile.js';
import { inChroot, run, sh } from '../run.js';
import { writeFile } from 'node:fs/promises';

export async function buildInitramfs(repo: string, root: string, kver: string, profile: ArchProfile, work: string): Promise<number> {
  const tree = join(work, 'initramfs');
  await rm(tree, { recursive: true, force: true });
  for (const dir of ['bin', 'dev', 'proc', 'sys', 'newroot']) await mkdir(join(tree, dir), { recursive: true });
  await copyFile(join(root, 'usr/bin/busybox'), join(tree, 'bin/busybox'));
  await chmod(join(tree, 'bin/busybox'), 0o755);
  await copyFile(join(repo, 'image/files/initramfs-init'), join(tree, 'init'));
  await chmod(join(tree, 'init'), 0o755);
  // The kernel opens /dev/console for /init before devtmpfs is mounted.
  await run('mknod', ['-m', '600', join(tree, 'dev/console'), 'c', '5', '1']);
  const plan = await inChroot(root, `modprobe -a -S ${kver} --show-depends ${profile.initramfsModules.join(' ')}`, { capture: true });
  const order: string[] = [];
  for (const line of plan.split('\n')) {
    const match = /^insmod (\S+)/.exec(line);
    if (!match || order.includes(match[1] as string)) continue;
    order.push(match[1] as string);
  }
  for (const path of order) {
    const relative = path.replace(/^\//, '');
    await mkdir(dirname(join(tree, relative)), { recursive: true });
    await copyFile(join(root, relative), join(tree, relative));
  }
  await writeFile(join(tree, 'modules.list'), order.map((path) => path.replace(/^\//, '')).join('\n') + '\n');
  const out = join(root, 'boot/initrd.gz');
  await sh(`cd "${tree}" && find . | sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n > "${out}"`);
  return (await stat(out)).size;
}
