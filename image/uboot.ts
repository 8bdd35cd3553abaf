// The U-Boot boot steps of the image build (issue 15 contracts 2 and 3 on arm64): the slot payload
// (squashfs + kernel + initrd, image/uboot-slot.ts) and p1, an ext2 holding /uboot.env (the 1 KiB
// env block, in place at a sector found with debugfs and checked by reading it back) and /boot.scr
// (image/uboot-script.ts, wrapped by mkimage). No mounts: mke2fs -d and debugfs -w.

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { crc32, encodeUBootEnv } from '../firmware/upgrade/ubootenv.js';
import type { Partition } from './layout.js';
import type { ArchProfile } from './profile.js';
import { run } from './run.js';
import { renderBootScript, UBOOT_ENV_BYTES } from './uboot-script.js';
import { encodeSlotHeader, planSlot, squashfsBytesUsed } from './uboot-slot.js';

export const UBOOT_BOOT_LABEL = 'TBOOT';
// qemu virt's RAM starts at 0x40000000; U-Boot loads the gzip'd kernel at kernel_addr_r
// (0x40400000) and the initrd at ramdisk_addr_r (0x44000000, 16 MiB of room), and relocates
// itself near the top of RAM (0x5e000000 with 512 MiB). The inflated kernel (31 MiB) and the
// sector scratch go between.
const KERNEL_INFLATE_ADDR = 0x45000000;
const SCRATCH_ADDR = 0x4f000000;

/** The env a fresh image starts with (contract 3): slot A committed, no trial. */
export function initialUBootEnv(): Record<string, string> {
  return { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' };
}

async function fileCrc32(path: string): Promise<{ crc: number; bytes: number }> {
  // Kernel and initrd are tens of MiB: one read each is fine for the build (not the daemon).
  const handle = await open(path, 'r');
  try {
    const data = await handle.readFile();
    return { crc: crc32(data), bytes: data.length };
  } finally {
    await handle.close();
  }
}

/**
 * Writes `out`: the squashfs, zeros up to the next MiB, the header, the kernel (gzip'd: booti
 * inflates it itself, given kernel_comp_addr_r; Debian's arm64 Image is 31 MiB raw, 12 gzip'd),
 * the initrd.
 */
export async function writeSlotPayload(sqfs: string, image: string, initrd: string, out: string): Promise<{ bytes: number; headerOffset: number; kernelBytes: number }> {
  const head = Buffer.alloc(96);
  const sq = await open(sqfs, 'r');
  try {
    await sq.read(head, 0, head.length, 0);
  } finally {
    await sq.close();
  }
  const used = squashfsBytesUsed(head);
  if (!used.ok) throw new Error(`${sqfs}: ${used.reason}`);
  const kernel = `${out}.kernel.gz`;
  await run('sh', ['-c', 'gzip -9n -c "$1" > "$2"', 'gzip', image, kernel]);
  const k = await fileCrc32(kernel);
  const i = await fileCrc32(initrd);
  const plan = planSlot(used.value, k.bytes, i.bytes);
  await rm(out, { force: true });
  await pipeline(createReadStream(sqfs), createWriteStream(out));
  const handle = await open(out, 'r+');
  try {
    await handle.truncate(plan.headerOffset);
    const header = encodeSlotHeader({ ...plan.header, kernelCrc32: k.crc, initrdCrc32: i.crc });
    await handle.write(header, 0, header.length, plan.headerOffset);
  } finally {
    await handle.close();
  }
  const place = async (file: string, at: number) =>
    pipeline(createReadStream(file), createWriteStream(out, { flags: 'r+', start: at }));
  await place(kernel, plan.headerOffset + plan.header.kernelOffset);
  await place(initrd, plan.headerOffset + plan.header.initrdOffset);
  await rm(kernel);
  const bytes = (await stat(out)).size;
  if (bytes !== plan.totalBytes) throw new Error(`slot payload is ${bytes} bytes, planned ${plan.totalBytes}`);
  return { bytes, headerOffset: plan.headerOffset, kernelBytes: k.bytes };
}

/** p1.img for U-Boot boards; returns the env block's byte offset inside p1 and boot.scr's text. */
export async function buildUBootPartition(opts: {
  work: string;
  sizeBytes: number;
  partitions: readonly Partition[];
  diskId: number;
  profile: ArchProfile;
  extraArgs: readonly string[];
}): Promise<{ image: string; envOffsetBytes: number; bootScript: string }> {
  const dir = join(opts.work, 'ubootfs');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  const env = encodeUBootEnv({ size: UBOOT_ENV_BYTES, layout: 'single', flag: 0, vars: initialUBootEnv() });
  if (!env.ok) throw new Error(`uboot.env: ${env.reason}`);
  await writeFile(join(dir, 'uboot.env'), env.bytes);
  const image = join(opts.work, 'p1.img');
  await rm(image, { force: true });
  // 1 KiB blocks: the env is then exactly one block, so it cannot be split across extents.
  await run('mke2fs', ['-q', '-t', 'ext2', '-b', '1024', '-L', UBOOT_BOOT_LABEL, '-d', dir, image, `${opts.sizeBytes / 1024}`]);
  const block = Number.parseInt((await run('debugfs', ['-R', 'bmap /uboot.env 0', image], { capture: true })).trim(), 10);
  if (!(block > 0)) throw new Error(`uboot.env: debugfs found no block (${block})`);
  const envOffsetBytes = block * 1024;
  const handle = await open(image, 'r');
  try {
    const back = Buffer.alloc(UBOOT_ENV_BYTES);
    await handle.read(back, 0, back.length, envOffsetBytes);
    if (!back.equals(env.bytes)) throw new Error(`uboot.env not found at byte ${envOffsetBytes} of ${image}`);
  } finally {
    await handle.close();
  }
  const at = (name: Partition['name']) => {
    const p = opts.partitions.find((partition) => partition.name === name);
    if (!p) throw new Error(`layout has no ${name} partition`);
    return p.offsetBytes / 512;
  };
  const bootScript = renderBootScript({
    envLba: at('boot') + envOffsetBytes / 512,
    envOffsetBytes,
    slotLba: { A: at('A'), B: at('B') },
    diskId: opts.diskId,
    console: opts.profile.console,
    extraArgs: opts.extraArgs,
    scratchAddr: SCRATCH_ADDR,
    kernelInflateAddr: KERNEL_INFLATE_ADDR,
  });
  await writeFile(join(opts.work, 'boot.cmd'), bootScript);
  await run('mkimage', ['-q', '-A', 'arm64', '-O', 'linux', '-T', 'script', '-C', 'none', '-n', 'tandem A/B', '-d', join(opts.work, 'boot.cmd'), join(opts.work, 'boot.scr')], { capture: true });
  // Written after the env has its block, so the env's sector (baked into boot.scr) stays put.
  await run('debugfs', ['-w', '-R', `write ${join(opts.work, 'boot.scr')} boot.scr`, image], { capture: true });
  const again = Number.parseInt((await run('debugfs', ['-R', 'bmap /uboot.env 0', image], { capture: true })).trim(), 10);
  if (again !== block) throw new Error(`uboot.env moved from block ${block} to ${again}`);
  return { image, envOffsetBytes, bootScript };
}
