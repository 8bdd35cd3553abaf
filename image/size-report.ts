// The build's size report (issue 15 item 6): the rootfs split by part (Node, ICU, kernel
// modules, Tandem's bundle, UI, native addons, other), the kernel and initramfs, the squashfs
// and the compressed image, as a table and as build.json's "sizes". Pure: the caller lists files.

export type RootfsPart = 'node' | 'icu' | 'modules' | 'tandem' | 'ui' | 'addons' | 'kernel' | 'initramfs' | 'other';

export const PART_LABELS: Record<RootfsPart, string> = {
  node: 'Node + libnode',
  icu: 'ICU',
  modules: 'kernel modules',
  tandem: 'Tandem bundle',
  ui: 'web UI',
  addons: 'native addons',
  kernel: 'kernel (vmlinuz)',
  initramfs: 'initramfs',
  other: 'other (Debian minbase, tools)',
};

/** Which part a rootfs file (path relative to the root, no leading slash) counts towards. */
export function partOf(path: string): RootfsPart {
  if (path.startsWith('usr/lib/tandem/')) {
    if (path.endsWith('.node') || path.startsWith('usr/lib/tandem/node_modules/')) return 'addons';
    if (path.startsWith('usr/lib/tandem/dist/ui/')) return 'ui';
    return 'tandem';
  }
  if (/^(usr\/)?lib\/modules\//.test(path)) return 'modules';
  if (/^boot\/vmlinuz/.test(path)) return 'kernel';
  if (/^boot\/initrd/.test(path)) return 'initramfs';
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (/^libicu/.test(base) || path.startsWith('usr/share/icu/')) return 'icu';
  if (path === 'usr/bin/node' || /^libnode\.so/.test(base) || path.startsWith('usr/share/nodejs/') || path.startsWith('usr/lib/nodejs/')) return 'node';
  return 'other';
}

export function sumByPart(files: Iterable<readonly [string, number]>): Record<RootfsPart, number> {
  const sums = Object.fromEntries(Object.keys(PART_LABELS).map((part) => [part, 0])) as Record<RootfsPart, number>;
  for (const [path, bytes] of files) sums[partOf(path)] += bytes;
  return sums;
}

export interface SizeReport {
  /** Raw bytes of the rootfs by part (before squashfs). */
  rootfs: Record<RootfsPart, number>;
  rootfsRawBytes: number;
  squashfsBytes: number;
  squashfsCompressor: string;
  kernelBytes: number;
  initramfsBytes: number;
  /** Where the slot keeps them: in its squashfs (GRUB reads it) or after it (U-Boot has no sqfsload). */
  kernelPlacement?: 'squashfs' | 'slot-tail';
  imageBytes: number;
  /** The shipped image compressed, and how that figure was obtained. */
  compressed: { bytes: number; method: string; seconds: number };
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1).padStart(8);
}

export function renderSizeReport(report: SizeReport): string {
  const tail = report.kernelPlacement === 'slot-tail';
  const rows: [string, number][] = [
    [`image, compressed (${report.compressed.method})`, report.compressed.bytes],
    ['image, raw (sparse)', report.imageBytes],
    [`rootfs squashfs (${report.squashfsCompressor})`, report.squashfsBytes],
    [`  kernel (${tail ? 'in the slot after the squashfs, before gzip' : 'in the squashfs, raw'})`, report.kernelBytes],
    [`  initramfs (${tail ? 'in the slot after the squashfs' : 'in the squashfs'})`, report.initramfsBytes],
    ['rootfs raw, by part:', report.rootfsRawBytes],
  ];
  for (const part of Object.keys(PART_LABELS) as RootfsPart[]) {
    if (part === 'kernel' || part === 'initramfs') continue;
    rows.push([`  ${PART_LABELS[part]}`, report.rootfs[part]]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  return ['size report (MiB)', ...rows.map(([label, bytes]) => `${label.padEnd(width)} ${mib(bytes)}`)].join('\n');
}
