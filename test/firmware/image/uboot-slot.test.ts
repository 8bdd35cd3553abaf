// The arm64 slot payload header (image/uboot-slot.ts): byte layout boot.scr reads, round trips,
// truncations and corruptions, the plan's offsets, and the squashfs superblock's bytes_used.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from '../../../firmware/upgrade/ubootenv.js';
import {
  decodeSlotHeader,
  encodeSlotHeader,
  planSlot,
  SLOT_HEADER_BYTES,
  squashfsBytesUsed,
  type SlotHeader,
} from '../../../image/uboot-slot.js';

const header: SlotHeader = {
  kernelOffset: 4096,
  kernelBytes: 32956352,
  initrdOffset: 4096 + 32956416,
  initrdBytes: 986328,
  kernelCrc32: 0xdeadbeef,
  initrdCrc32: 0x01020304,
};

test('encodes the fields boot.scr reads with setexpr.l at their offsets, little-endian', () => {
  const bytes = encodeSlotHeader(header);
  assert.equal(bytes.length, 512);
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'TNDK');
  assert.deepEqual([...bytes.subarray(4, 8)], [1, 0, 0, 0]);
  assert.deepEqual([...bytes.subarray(8, 12)], [0x00, 0x10, 0x00, 0x00]); // 4096
  assert.equal(bytes.readUInt32LE(0x0c), 32956352);
  assert.equal(bytes.readUInt32LE(0x10), 4096 + 32956416);
  assert.equal(bytes.readUInt32LE(0x14), 986328);
  assert.deepEqual([...bytes.subarray(0x18, 0x1c)], [0xef, 0xbe, 0xad, 0xde]);
  assert.equal(bytes.readUInt32LE(0x20), crc32(bytes.subarray(0, 0x20)));
  assert.ok(bytes.subarray(0x24).every((b) => b === 0));
});

test('decode(encode(h)) is h', () => {
  assert.deepEqual(decodeSlotHeader(encodeSlotHeader(header)), { ok: true, value: header });
});

test('rejects short, long, foreign, corrupted and inconsistent headers', () => {
  const good = encodeSlotHeader(header);
  for (const length of [0, 4, 36, 511, 513]) {
    const bytes = Buffer.alloc(length);
    good.copy(bytes, 0, 0, Math.min(length, 512));
    const result = decodeSlotHeader(bytes);
    assert.equal(result.ok, false, `length ${length}`);
  }
  assert.match((decodeSlotHeader(Buffer.alloc(SLOT_HEADER_BYTES)) as { reason: string }).reason, /no slot header/);
  const flipped = Buffer.from(good);
  flipped.writeUInt32LE(flipped.readUInt32LE(0x0c) ^ 1, 0x0c); // kernel size
  assert.match((decodeSlotHeader(flipped) as { reason: string }).reason, /CRC mismatch/);
  const format2 = Buffer.from(good);
  format2.writeUInt32LE(2, 4);
  assert.match((decodeSlotHeader(format2) as { reason: string }).reason, /format 2/);
  const trailing = Buffer.from(good);
  trailing[500] = 1;
  assert.match((decodeSlotHeader(trailing) as { reason: string }).reason, /non-zero/);
  const overlap = encodeSlotHeader({ ...header, initrdOffset: 8192 });
  assert.match((decodeSlotHeader(overlap) as { reason: string }).reason, /overlaps/);
});

test('the header sits at the first MiB boundary after the squashfs; blobs on 4 KiB', () => {
  const plan = planSlot(100 * 1024 * 1024 + 1, 32956352, 986328);
  assert.equal(plan.headerOffset, 101 * 1024 * 1024);
  assert.equal(plan.header.kernelOffset, 4096);
  assert.equal(plan.header.initrdOffset, 4096 + 32956416);
  assert.equal(plan.totalBytes, 101 * 1024 * 1024 + 4096 + 32956416 + 986328);
  assert.equal(planSlot(1024 * 1024, 1, 1).headerOffset, 1024 * 1024, 'an exact MiB needs no padding');
  assert.throws(() => planSlot(0, 1, 1), /squashfs/);
  assert.throws(() => planSlot(1, 1.5, 1), /kernel/);
});

test('bytes_used comes from the squashfs superblock (offset 0x28, u64 LE)', () => {
  const sb = Buffer.alloc(96);
  sb.write('hsqs', 0, 'latin1');
  sb.writeBigUInt64LE(123456789n, 0x28);
  assert.deepEqual(squashfsBytesUsed(sb), { ok: true, value: 123456789 });
  assert.equal(squashfsBytesUsed(sb.subarray(0, 40)).ok, false);
  const big = Buffer.from(sb);
  big.writeBigUInt64LE(0x100000000n, 0x28);
  assert.match((squashfsBytesUsed(big) as { reason: string }).reason, /exceeds/);
  const ext4 = Buffer.alloc(96);
  assert.match((squashfsBytesUsed(ext4) as { reason: string }).reason, /no squashfs/);
});
