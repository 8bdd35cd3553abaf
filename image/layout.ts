// The disk layout of contract 2 (issue 15): MBR, every partition aligned to 1 MiB (image.md
// section 6: pfSense's sector-63 start slowed CF writes), p1 boot, p2/p3 slots A/B, p4 cfg.
// Pure planner plus the sfdisk script that writes it.

export const MiB = 1024 * 1024;
export const SECTOR = 512;

export type PartitionName = 'boot' | 'A' | 'B' | 'cfg';

export interface Partition {
  name: PartitionName;
  number: 1 | 2 | 3 | 4;
  offsetBytes: number;
  sizeBytes: number;
  /** MBR type byte: 0x83 Linux. */
  type: number;
  bootable: boolean;
}

export interface LayoutRequest {
  bootMiB: number;
  slotMiB: number;
  cfgMiB: number;
  /** The squashfs that goes into slot A; it must fit. */
  rootfsBytes: number;
}

export type LayoutResult = { ok: true; partitions: Partition[]; diskBytes: number } | { ok: false; reason: string };

/** Partitions in disk order, the first at 1 MiB (GRUB's core.img lives in the gap before it). */
export function planLayout(request: LayoutRequest): LayoutResult {
  for (const key of ['bootMiB', 'slotMiB', 'cfgMiB'] as const) {
    const value = request[key];
    if (!Number.isInteger(value) || value < 1) return { ok: false, reason: `${key}: must be a whole number of MiB >= 1, got ${value}` };
  }
  if (request.rootfsBytes > request.slotMiB * MiB) {
    return {
      ok: false,
      reason: `rootfs: ${request.rootfsBytes} bytes do not fit a ${request.slotMiB} MiB slot (raise slotMiB; an upgrade must fit the same slot)`,
    };
  }
  const sizes: [PartitionName, number][] = [
    ['boot', request.bootMiB],
    ['A', request.slotMiB],
    ['B', request.slotMiB],
    ['cfg', request.cfgMiB],
  ];
  let offset = MiB;
  const partitions = sizes.map(([name, mib], index): Partition => {
    const partition: Partition = {
      name,
      number: (index + 1) as Partition['number'],
      offsetBytes: offset,
      sizeBytes: mib * MiB,
      type: 0x83,
      bootable: name === 'boot',
    };
    offset += mib * MiB;
    return partition;
  });
  return { ok: true, partitions, diskBytes: offset };
}

/** sfdisk's input for the plan; `diskId` is the MBR disk signature the initramfs looks for. */
export function sfdiskScript(partitions: readonly Partition[], diskId: number): string {
  const lines = ['label: dos', `label-id: 0x${diskId.toString(16).padStart(8, '0')}`, 'unit: sectors', ''];
  for (const p of partitions) {
    const fields = [`start=${p.offsetBytes / SECTOR}`, `size=${p.sizeBytes / SECTOR}`, `type=${p.type.toString(16)}`];
    if (p.bootable) fields.push('bootable');
    lines.push(fields.join(', '));
  }
  return `${lines.join('\n')}\n`;
}

/** A non-zero 32-bit disk id derived from the build's version, so two builds differ. */
export function diskIdFor(seed: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(seed, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash === 0 ? 1 : hash;
}
