// The boot-env codecs against the real tools: grubenv blocks made by Debian's grub-editenv
// (grub-common) decode, and our encoder produces the same bytes for the same steps; U-Boot
// envs made by mkenvimage (u-boot-tools), single and redundant, decode and re-encode byte for
// byte; plus the refusals (CRC, signature, broken padding) and the redundant-copy rule.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { decodeGrubEnv, emptyGrubEnv, encodeGrubEnv, grubEnvVars, updateGrubEnv } from '../../../firmware/upgrade/grubenv.js';
import { crc32, decodeUBootEnv, encodeUBootEnv, newerCopy } from '../../../firmware/upgrade/ubootenv.js';

const run = promisify(execFile);
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-env-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function encoded(env: Parameters<typeof encodeGrubEnv>[0]): Buffer {
  const out = encodeGrubEnv(env);
  assert.ok(out.ok, out.ok ? '' : out.reason);
  return out.bytes;
}

describe('grubenv', () => {
  it('an empty block is what grub-editenv create writes', async () => {
    const file = join(dir, 'empty');
    await run('grub-editenv', [file, 'create']);
    assert.deepEqual(encoded(emptyGrubEnv()), await readFile(file));
  });

  it('set, reset in place, append and unset give grub-editenv\'s bytes, escapes included', async () => {
    const file = join(dir, 'steps');
    await run('grub-editenv', [file, 'create']);
    await run('grub-editenv', [file, 'set', 'SLOT=A', 'TRIAL=', 'TRIAL_BOOTED=0', 'TRIAL_TIMEOUT=180']);
    await run('grub-editenv', [file, 'set', 'TRIAL=B', 'X=back\\slash', 'Y=two\nlines']);
    await run('grub-editenv', [file, 'unset', 'X']);
    await run('grub-editenv', [file, 'set', 'TRIAL_BOOTED=1', 'SLOT=B']);
    const theirs = await readFile(file);
    let ours = updateGrubEnv(emptyGrubEnv(), { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    ours = updateGrubEnv(ours, { TRIAL: 'B', X: 'back\\slash', Y: 'two\nlines' });
    ours = updateGrubEnv(ours, { X: undefined });
    ours = updateGrubEnv(ours, { TRIAL_BOOTED: '1', SLOT: 'B' });
    assert.deepEqual(encoded(ours), theirs);
    const decoded = decodeGrubEnv(theirs);
    assert.ok(decoded.ok);
    assert.deepEqual(grubEnvVars(decoded.value), { SLOT: 'B', TRIAL: 'B', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180', Y: 'two\nlines' });
    // Round trip: decode then encode changes nothing.
    assert.deepEqual(encoded(decoded.value), theirs);
  });

  it('grub-editenv reads what we write', async () => {
    const file = join(dir, 'ours');
    await writeFile(file, encoded(updateGrubEnv(emptyGrubEnv(), { SLOT: 'B', TRIAL: 'A', TRIAL_BOOTED: '0', Z: 'a\\b' })));
    const { stdout } = await run('grub-editenv', [file, 'list']);
    assert.equal(stdout, 'SLOT=B\nTRIAL=A\nTRIAL_BOOTED=0\nZ=a\\b\n');
  });

  it('refuses a block without the signature, with torn padding, or too full', () => {
    const good = encoded(updateGrubEnv(emptyGrubEnv(), { SLOT: 'A' }));
    const unsigned = Buffer.from(good);
    unsigned[0] = 0x20;
    assert.match((decodeGrubEnv(unsigned) as { reason: string }).reason, /signature/);
    const torn = Buffer.from(good);
    torn.write('SLOT=A', 1024 - 6); // a line running into the end, no newline before the padding
    assert.match((decodeGrubEnv(torn) as { reason: string }).reason, /padding does not follow a complete line/);
    const full = encodeGrubEnv(updateGrubEnv(emptyGrubEnv(), { BIG: 'x'.repeat(1000) }));
    assert.equal(full.ok, false);
    assert.match((full as { reason: string }).reason, /more than the 1024-byte block/);
  });
});

describe('U-Boot env', () => {
  it('crc32 is zlib\'s (check value of "123456789")', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });

  for (const layout of ['single', 'redundant'] as const) {
    it(`decodes mkenvimage's ${layout} env (0xff padding) and encodes the same bytes with 0x00 padding`, async () => {
      const input = join(dir, `vars-${layout}.txt`);
      await writeFile(input, 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\nbootcmd=run tandem_boot\n');
      const ff = join(dir, `ff-${layout}.bin`);
      const zero = join(dir, `zero-${layout}.bin`);
      const flags = layout === 'redundant' ? ['-r'] : [];
      await run('mkenvimage', [...flags, '-s', '16384', '-o', ff, input]);
      await run('mkenvimage', [...flags, '-p', '0', '-s', '16384', '-o', zero, input]);
      const decoded = decodeUBootEnv(await readFile(ff), layout);
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
      assert.deepEqual(decoded.value.vars, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180', bootcmd: 'run tandem_boot' });
      const out = encodeUBootEnv({ ...decoded.value });
      assert.ok(out.ok);
      assert.deepEqual(out.bytes, await readFile(zero));
    });
  }

  it('refuses a changed byte by its CRC, and a data area without the empty entry', () => {
    const out = encodeUBootEnv({ size: 64, layout: 'single', flag: 0, vars: { SLOT: 'A' } });
    assert.ok(out.ok);
    const bad = Buffer.from(out.bytes);
    bad[9] = bad[9]! ^ 1;
    assert.match((decodeUBootEnv(bad, 'single') as { reason: string }).reason, /CRC mismatch/);
    const noEnd = Buffer.alloc(16, 0x41);
    noEnd.writeUInt32LE(crc32(noEnd.subarray(4)), 0);
    assert.match((decodeUBootEnv(noEnd, 'single') as { reason: string }).reason, /no terminating empty entry/);
    assert.equal(encodeUBootEnv({ size: 16, layout: 'single', flag: 0, vars: { LONG: 'x'.repeat(20) } }).ok, false);
  });

  it('of two redundant copies picks the valid one, else the higher flag, 0 after 255', () => {
    const copy = (flag: number) => decodeUBootEnv((encodeUBootEnv({ size: 64, layout: 'redundant', flag, vars: { F: String(flag) } }) as { bytes: Buffer }).bytes, 'redundant');
    const broken = decodeUBootEnv(Buffer.alloc(64), 'redundant');
    assert.equal(newerCopy(copy(1), copy(2)), 1);
    assert.equal(newerCopy(copy(3), copy(2)), 0);
    assert.equal(newerCopy(copy(255), copy(0)), 1);
    assert.equal(newerCopy(copy(0), copy(255)), 0);
    assert.equal(newerCopy(broken, copy(7)), 1);
    assert.equal(newerCopy(copy(7), broken), 0);
    assert.equal(newerCopy(broken, broken), undefined);
  });
});
