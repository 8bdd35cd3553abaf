// Step 7, the disk image (image.md section 2, no mounts): a sparse file partitioned by sfdisk,
// GRUB's boot code and core.img before p1, p1, slot A and an empty ext4 /cfg (label TCFG) written
// with dd conv=notrunc,sparse. Slot B stays zeros: the first upgrade fills it.

import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MiB, sfdiskScript, type Partition } from '../layout.js';
import { run } from '../run.js';

export const CFG_LABEL = 'TCFG';

async function place(image: string, file: string, offsetBytes: number): Promise<void> {
  await run('dd', [`if=${file}`, `of=${image}`, 'bs=1M', `seek=${offsetBytes / MiB}`, 'conv=notrunc,sparse', 'status=none']);
}

export async function assembleImage(opts: {
  image: string;
  work: string;
  diskBytes: number;
  diskId: number;
  partitions: readonly Partition[];
  /** GRUB's MBR boot code and core.img; absent for U-Boot, which the board's firmware starts. */
  bootCode?: Buffer;
  coreImg?: string;
  bootPartition: string;
  rootfs: string;
}): Promise<void> {
  const { image, partitions } = opts;
  await rm(image, { force: true });
  await run('truncate', ['-s', String(opts.diskBytes), image]);
  await run('sfdisk', ['-q', image], { input: sfdiskScript(partitions, opts.diskId) });
  if (opts.bootCode && opts.coreImg) {
    const handle = await open(image, 'r+');
    try {
      await handle.write(opts.bootCode, 0, 440, 0);
    } finally {
      await handle.close();
    }
    await run('dd', [`if=${opts.coreImg}`, `of=${image}`, 'bs=512', 'seek=1', 'conv=notrunc', 'status=none']);
  }
  const at = (name: Partition['name']) => {
    const p = partitions.find((partition) => partition.name === name);
    if (!p) throw new Error(`layout has no ${name} partition`);
    return p;
  };
  await place(image, opts.bootPartition, at('boot').offsetBytes);
  await place(image, opts.rootfs, at('A').offsetBytes);
  const cfg = join(opts.work, 'p4.img');
  await rm(cfg, { force: true });
  await run('mke2fs', ['-q', '-t', 'ext4', '-L', CFG_LABEL, cfg, `${at('cfg').sizeBytes / 1024}k`]);
  await place(image, cfg, at('cfg').offsetBytes);
}
