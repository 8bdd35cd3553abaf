// image/bootenv.ts on a small disk file laid out as the image is (sfdisk's MBR, p1 at 1 MiB,
// the env block at build.json's offset inside p1): reads the env, edits it in place, refuses a
// file without an MBR, and leaves every other byte alone.

import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { editBootEnv, envOffsetInImage } from '../../../image/bootenv.js';
import { encodeGrubenv, initialBootEnv } from '../../../image/grubenv.js';
import { MiB } from '../../../image/layout.js';

const ENV_IN_P1 = 575488; // what debugfs found in a real build
let dir = '';
let image = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-bootenv-'));
  image = join(dir, 'disk.img');
  const disk = Buffer.alloc(2 * MiB, 0x5a);
  disk.writeUInt32LE(2048, 446 + 8); // partition 1 starts at LBA 2048 (1 MiB)
  disk.writeUInt16LE(0xaa55, 510);
  const env = encodeGrubenv(initialBootEnv());
  assert.ok(env.ok);
  env.value.copy(disk, MiB + ENV_IN_P1);
  await writeFile(image, disk);
  await writeFile(join(dir, 'build.json'), JSON.stringify({ env: { offsetBytes: ENV_IN_P1 } }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('bootenv', () => {
  it('finds the env at p1 start + build.json offset', async () => {
    assert.equal(await envOffsetInImage(image), MiB + ENV_IN_P1);
    assert.deepEqual([...(await editBootEnv(image, {}))], [...initialBootEnv()]);
  });

  it('sets TRIAL in place and touches no byte outside the block', async () => {
    const before = await readFile(image);
    const env = await editBootEnv(image, { TRIAL: 'B', TRIAL_TIMEOUT: '60' });
    assert.deepEqual([...env], [['SLOT', 'A'], ['TRIAL', 'B'], ['TRIAL_BOOTED', '0'], ['TRIAL_TIMEOUT', '60']]);
    const after = await readFile(image);
    assert.equal(after.length, before.length);
    const at = MiB + ENV_IN_P1;
    assert.equal(sha(after.subarray(0, at)), sha(before.subarray(0, at)));
    assert.equal(sha(after.subarray(at + 1024)), sha(before.subarray(at + 1024)));
    assert.match(after.subarray(at, at + 1024).toString('latin1'), /\nTRIAL=B\n/);
    assert.deepEqual([...(await editBootEnv(image, {}))], [...env], 'read back');
  });

  it('refuses a file without an MBR signature and an offset without an env', async () => {
    const handle = await open(image, 'r+');
    await handle.write(Buffer.from([0, 0]), 0, 2, 510);
    await handle.close();
    await assert.rejects(envOffsetInImage(image), /no MBR signature/);
    const other = join(dir, 'other.json');
    await writeFile(other, JSON.stringify({ env: { offsetBytes: 0 } }));
    const fixed = await open(image, 'r+');
    await fixed.write(Buffer.from([0x55, 0xaa]), 0, 2, 510);
    await fixed.close();
    await assert.rejects(editBootEnv(image, {}, other), /boot env at byte 1048576: no "# GRUB Environment Block" header/);
  });
});
