// The streaming ustar reader against archives GNU tar made (ustar and gnu formats, names past
// 100 bytes through the prefix field, members of every size around a block), fed in awkward
// chunk sizes; and every refusal: each truncation point, trailing garbage, a flipped byte in a
// header, a non-regular member.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { TarError, TarReader } from '../../../firmware/upgrade/tar.js';

const run = promisify(execFile);
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-tar-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function readAll(bytes: Buffer, chunk = 4096): Promise<{ name: string; data: Buffer }[]> {
  const reader = new TarReader(chunked(bytes, chunk));
  const out: { name: string; data: Buffer }[] = [];
  for (;;) {
    const next = await reader.next();
    if (next.kind === 'end') return out;
    out.push({ name: next.header.name, data: await reader.readAll(1 << 20) });
  }
}

async function makeTar(format: string, files: Record<string, Buffer>): Promise<Buffer> {
  const src = await mkdtemp(join(dir, 'src-'));
  for (const [name, data] of Object.entries(files)) {
    await mkdir(join(src, name, '..'), { recursive: true });
    await writeFile(join(src, name), data);
  }
  const out = join(dir, `${format}-${Object.keys(files).length}.tar`);
  await run('tar', [`--format=${format}`, '-C', src, '-cf', out, ...Object.keys(files)]);
  return readFile(out);
}

function pattern(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

describe('TarReader', () => {
  for (const format of ['ustar', 'gnu']) {
    it(`reads GNU tar's ${format} archives whole, in any chunking`, async () => {
      const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/file.bin`;
      const files: Record<string, Buffer> = { 'manifest.json': Buffer.from('{"a":1}'), empty: Buffer.alloc(0), 'b511': pattern(511, 1), 'b512': pattern(512, 2), 'b513': pattern(513, 3), 'big.bin': pattern(70_001, 4) };
      if (format === 'ustar') files[long] = pattern(10, 5);
      const tar = await makeTar(format, files);
      for (const chunk of [1, 7, 512, 4096, 1 << 20]) {
        const members = await readAll(tar, chunk);
        assert.deepEqual(members.map((m) => m.name), Object.keys(files), `chunk ${chunk}`);
        for (const m of members) assert.deepEqual(m.data, files[m.name], `${m.name} chunk ${chunk}`);
      }
    });
  }

  it('refuses the archive cut at any point, saying it is truncated', async () => {
    const tar = await makeTar('ustar', { 'a.bin': pattern(1000, 1), 'b.bin': pattern(3, 2) });
    // GNU tar pads to 10240; the archive proper ends after 2 data members + 2 zero blocks.
    const proper = 512 + 1024 + 512 + 512 + 1024;
    for (const cut of [0, 100, 511, 512, 700, 1536, 1600, 2048, 2560, 2600, proper - 1]) {
      await assert.rejects(readAll(tar.subarray(0, cut)), (error: Error) => {
        assert.ok(error instanceof TarError, error.message);
        assert.match(error.message, /truncated|end-of-archive/, `cut at ${cut}: ${error.message}`);
        return true;
      });
    }
    assert.equal((await readAll(tar.subarray(0, proper))).length, 2);
  });

  it('refuses bytes after the end, a corrupt header and a directory member', async () => {
    const tar = await makeTar('ustar', { 'a.bin': pattern(10, 1) });
    await assert.rejects(readAll(Buffer.concat([tar, Buffer.from('garbage')])), /trailing data after the end/);
    assert.equal((await readAll(Buffer.concat([tar, Buffer.alloc(512 * 1024)]))).length, 1, 'zero padding is fine');
    await assert.rejects(readAll(Buffer.concat([tar, Buffer.alloc(2 * 1024 * 1024)])), /more than 1048576 bytes of padding after the end/);
    const flipped = Buffer.from(tar);
    flipped[3] = flipped[3]! ^ 0x01;
    await assert.rejects(readAll(flipped), /bad tar header checksum .* at byte 0/);
    const src = await mkdtemp(join(dir, 'dir-'));
    await mkdir(join(src, 'sub'));
    const out = join(dir, 'withdir.tar');
    await run('tar', ['--format=ustar', '-C', src, '-cf', out, 'sub']);
    await assert.rejects(readAll(await readFile(out)), /not a regular file/);
    await assert.rejects(readAll(Buffer.alloc(1024, 0x41)), /not an octal number|bad tar header checksum/);
  });

  it('streams a member without holding it: readAll refuses above its limit', async () => {
    const tar = await makeTar('ustar', { 'big.bin': pattern(5000, 1) });
    const reader = new TarReader(chunked(tar, 512));
    const next = await reader.next();
    assert.equal(next.kind, 'member');
    await assert.rejects(reader.readAll(4096), /member of 5000 bytes is over the 4096-byte limit/);
  });
});
