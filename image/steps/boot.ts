// Step 6, booting (contracts 2 and 3 of issue 15): p1 as a small ext2 holding only grubenv
// (mke2fs -d, no mount), the env block's byte offset found with debugfs and checked by reading
// it back, and GRUB i386-pc's core.img with grub.cfg in its memdisk (the embedded config of
// grub-mkimage -c runs in GRUB's rescue parser, which has no `if`, so it only runs `normal` on it).

import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GRUB_MODULES, renderGrubCfg } from '../grub-cfg.js';
import { encodeGrubenv, GRUBENV_SIZE, initialBootEnv } from '../grubenv.js';
import { MiB, type Partition } from '../layout.js';
import type { ArchProfile } from '../profile.js';
import { run } from '../run.js';

export const BOOT_LABEL = 'TBOOT';
const GRUB_DIR = '/usr/lib/grub/i386-pc';

/** Makes p1.img (ext2, 1 KiB blocks) with grubenv; returns the env block's byte offset in it. */
export async function buildBootPartition(work: string, sizeBytes: number): Promise<{ image: string; envOffsetBytes: number }> {
  const dir = join(work, 'bootfs');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  const env = encodeGrubenv(initialBootEnv());
  if (!env.ok) throw new Error(`grubenv: ${env.reason}`);
  await writeFile(join(dir, 'grubenv'), env.value);
  const image = join(work, 'p1.img');
  await rm(image, { force: true });
  await run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-L', BOOT_LABEL, '-d', dir, image, `${sizeBytes / 1024}`]);
  const bmap = await run('debugfs', ['-R', 'bmap /grubenv 0', image], { capture: true });
  const block = Number.parseInt(bmap.trim(), 10);
  // With 1 KiB blocks the 1024-byte env is one block, so GRUB and `tandem upgrade` write it in place at one offset.
  if (!(block > 0)) throw new Error(`grubenv has no data block (debugfs bmap: ${bmap.trim()})`);
  const envOffsetBytes = block * 1024;
  const handle = await open(image, 'r');
  try {
    const back = Buffer.alloc(GRUBENV_SIZE);
    await handle.read(back, 0, GRUBENV_SIZE, envOffsetBytes);
    if (!back.equals(env.value)) throw new Error(`grubenv not found at byte ${envOffsetBytes} of ${image}`);
  } finally {
    await handle.close();
  }
  return { image, envOffsetBytes };
}

/** GRUB's core.img for this image and the MBR boot code (the first 440 bytes of boot.img). */
export async function buildGrub(
  work: string,
  profile: ArchProfile,
  diskId: number,
  envOffsetBytes: number,
  partitions: readonly Partition[],
): Promise<{ coreImg: string; bootCode: Buffer; grubCfg: string }> {
  const slot = (name: 'A' | 'B') => partitions.find((p) => p.name === name)?.number ?? 0;
  const grubCfg = renderGrubCfg({
    console: profile.console,
    bootLabel: BOOT_LABEL,
    diskId,
    envOffsetBytes,
    slotPartitions: { A: slot('A'), B: slot('B') },
    extraArgs: ['quiet'],
  });
  const memdir = join(work, 'grub-memdisk');
  await rm(memdir, { recursive: true, force: true });
  await mkdir(memdir);
  await writeFile(join(memdir, 'grub.cfg'), grubCfg);
  const memdisk = join(work, 'memdisk.tar');
  await run('tar', ['--format=ustar', '-cf', memdisk, '-C', memdir, 'grub.cfg']);
  // The embedded config runs in the rescue parser: it only hands over to normal mode with ours.
  const early = join(work, 'early.cfg');
  await writeFile(early, 'normal (memdisk)/grub.cfg\n');
  const coreImg = join(work, 'core.img');
  await run('grub-mkimage', ['-O', 'i386-pc', '-d', GRUB_DIR, '-o', coreImg, '-p', '(memdisk)/', '-c', early, '-m', memdisk, ...GRUB_MODULES]);
  const first = partitions[0]?.offsetBytes ?? MiB;
  const size = (await stat(coreImg)).size;
  if (size > first - 512) throw new Error(`core.img is ${size} bytes; the gap before p1 holds ${first - 512}`);
  const bootImg = await readFile(join(GRUB_DIR, 'boot.img'));
  // boot.img loads core.img from the sector at 0x5c (GRUB_BOOT_MACHINE_KERNEL_SECTOR); its
  // default is 1, where we write core.img, and diskboot's blocklist defaults to sector 2 on.
  if (bootImg.readBigUInt64LE(0x5c) !== 1n) throw new Error('boot.img: kernel sector is not 1');
  return { coreImg, bootCode: bootImg.subarray(0, 440), grubCfg };
}
