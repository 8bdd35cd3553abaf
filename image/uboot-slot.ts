// The arm64 slot payload (issue 15 contract 2 on U-Boot boards): U-Boot 2023.01 as Debian builds it
// has no sqfsload, so the kernel and initramfs follow the squashfs in the same slot, raw, where
// boot.scr finds them with plain block reads: the squashfs superblock's bytes_used (offset 0x28,
// little-endian u64; squashfs-tools' squashfs_fs.h) rounded up to 1 MiB gives this header's sector.
// A slot is still one raw write; Linux mounts the squashfs and ignores what follows it.
//
// Header (one 512-byte sector, little-endian u32s, read by boot.scr with `setexpr.l`):
//   0x00 magic 'TNDK' (0x4b444e54)   0x04 format (1)
//   0x08 kernel offset from header   0x0c kernel size in bytes
//   0x10 initrd offset from header   0x14 initrd size in bytes
//   0x18 CRC32 of the kernel         0x1c CRC32 of the initrd      (zlib's; `crc32` in U-Boot)
//   0x20 CRC32 of bytes 0x00-0x1f    rest zero

import { crc32 } from '../firmware/upgrade/ubootenv.js';

export const SLOT_HEADER_MAGIC = 0x4b444e54;
export const SLOT_HEADER_FORMAT = 1;
export const SLOT_HEADER_BYTES = 512;
/** The header starts at the first MiB boundary at or after the squashfs's end. */
export const SLOT_ALIGN = 1024 * 1024;
/** Kernel and initrd start on 4 KiB boundaries (page- and block-aligned reads). */
export const BLOB_ALIGN = 4096;
const SQUASHFS_MAGIC = 0x73717368; // "hsqs"

export interface SlotHeader {
  kernelOffset: number;
  kernelBytes: number;
  initrdOffset: number;
  initrdBytes: number;
  kernelCrc32: number;
  initrdCrc32: number;
}

export type SlotHeaderDecode = { ok: true; value: SlotHeader } | { ok: false; reason: string };

export interface SlotPlan {
  /** Byte offset of the header from the start of the slot. */
  headerOffset: number;
  header: Omit<SlotHeader, 'kernelCrc32' | 'initrdCrc32'>;
  /** The whole payload: squashfs, padding, header, kernel, initrd. */
  totalBytes: number;
}

const roundUp = (value: number, to: number): number => Math.ceil(value / to) * to;

/** Where everything goes, from the squashfs's bytes_used and the two blobs' sizes. */
export function planSlot(squashfsBytes: number, kernelBytes: number, initrdBytes: number): SlotPlan {
  for (const [name, value] of [['squashfs', squashfsBytes], ['kernel', kernelBytes], ['initrd', initrdBytes]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name}: size must be a positive integer, got ${value}`);
  }
  const headerOffset = roundUp(squashfsBytes, SLOT_ALIGN);
  const kernelOffset = BLOB_ALIGN;
  const initrdOffset = kernelOffset + roundUp(kernelBytes, BLOB_ALIGN);
  if (initrdOffset + initrdBytes > 0xffffffff) throw new RangeError('kernel and initrd exceed the header\'s 32-bit offsets');
  return {
    headerOffset,
    header: { kernelOffset, kernelBytes, initrdOffset, initrdBytes },
    totalBytes: headerOffset + initrdOffset + initrdBytes,
  };
}

export function encodeSlotHeader(header: SlotHeader): Buffer {
  const out = Buffer.alloc(SLOT_HEADER_BYTES, 0);
  out.writeUInt32LE(SLOT_HEADER_MAGIC, 0x00);
  out.writeUInt32LE(SLOT_HEADER_FORMAT, 0x04);
  out.writeUInt32LE(header.kernelOffset, 0x08);
  out.writeUInt32LE(header.kernelBytes, 0x0c);
  out.writeUInt32LE(header.initrdOffset, 0x10);
  out.writeUInt32LE(header.initrdBytes, 0x14);
  out.writeUInt32LE(header.kernelCrc32 >>> 0, 0x18);
  out.writeUInt32LE(header.initrdCrc32 >>> 0, 0x1c);
  out.writeUInt32LE(crc32(out.subarray(0, 0x20)), 0x20);
  return out;
}

export function decodeSlotHeader(bytes: Uint8Array): SlotHeaderDecode {
  if (bytes.length !== SLOT_HEADER_BYTES) return { ok: false, reason: `slot header must be ${SLOT_HEADER_BYTES} bytes, got ${bytes.length}` };
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = b.readUInt32LE(0x00);
  if (magic !== SLOT_HEADER_MAGIC) return { ok: false, reason: `no slot header (magic 0x${magic.toString(16).padStart(8, '0')})` };
  const format = b.readUInt32LE(0x04);
  if (format !== SLOT_HEADER_FORMAT) return { ok: false, reason: `slot header format ${format}, this reader knows ${SLOT_HEADER_FORMAT}` };
  const stored = b.readUInt32LE(0x20);
  const computed = crc32(b.subarray(0, 0x20));
  if (stored !== computed) return { ok: false, reason: `slot header CRC mismatch (stored 0x${stored.toString(16)}, computed 0x${computed.toString(16)})` };
  if (b.subarray(0x24).some((byte) => byte !== 0)) return { ok: false, reason: 'slot header has non-zero bytes after 0x24' };
  const value: SlotHeader = {
    kernelOffset: b.readUInt32LE(0x08),
    kernelBytes: b.readUInt32LE(0x0c),
    initrdOffset: b.readUInt32LE(0x10),
    initrdBytes: b.readUInt32LE(0x14),
    kernelCrc32: b.readUInt32LE(0x18),
    initrdCrc32: b.readUInt32LE(0x1c),
  };
  if (value.kernelOffset < SLOT_HEADER_BYTES || value.kernelOffset % 512 !== 0 || value.initrdOffset % 512 !== 0) {
    return { ok: false, reason: 'slot header: kernel and initrd must start on 512-byte sectors after the header' };
  }
  if (value.kernelOffset + value.kernelBytes > value.initrdOffset) return { ok: false, reason: 'slot header: kernel overlaps the initrd' };
  return { ok: true, value };
}

/** The squashfs's bytes_used from its superblock (first 96 bytes of the slot), or why not. */
export function squashfsBytesUsed(superblock: Uint8Array): { ok: true; value: number } | { ok: false; reason: string } {
  if (superblock.length < 0x30) return { ok: false, reason: `squashfs superblock needs 48 bytes, got ${superblock.length}` };
  const b = Buffer.from(superblock.buffer, superblock.byteOffset, superblock.length);
  const magic = b.readUInt32LE(0);
  if (magic !== SQUASHFS_MAGIC) return { ok: false, reason: `no squashfs (magic 0x${magic.toString(16).padStart(8, '0')})` };
  const used = b.readBigUInt64LE(0x28);
  // boot.scr reads the low 32 bits only (setexpr.l): a slot beyond 4 GiB is out of its reach.
  if (used > 0xffffffffn) return { ok: false, reason: `squashfs of ${used} bytes exceeds what boot.scr can address` };
  return { ok: true, value: Number(used) };
}
