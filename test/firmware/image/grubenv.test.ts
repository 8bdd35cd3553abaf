// GRUB's environment block codec (grub-core/lib/envblk.c, contract 3 of issue 15): byte
// layout against what grub-editenv writes, round trips, and every malformed block refused.

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeGrubenv, encodeGrubenv, GRUBENV_HEADER, GRUBENV_SIZE, initialBootEnv } from '../../../image/grubenv.js';

// `grub-editenv F create; grub-editenv F set SLOT=A TRIAL=` gives exactly this text, '#'-padded to 1024.
const EDITENV_TEXT = '# GRUB Environment Block\nSLOT=A\nTRIAL=\n';

describe('grubenv', () => {
  it('encodes header, KEY=value lines and # padding to 1024 bytes', () => {
    const encoded = encodeGrubenv({ SLOT: 'A', TRIAL: '' });
    assert.ok(encoded.ok);
    assert.equal(encoded.value.length, GRUBENV_SIZE);
    assert.equal(encoded.value.subarray(0, EDITENV_TEXT.length).toString(), EDITENV_TEXT);
    assert.ok(encoded.value.subarray(EDITENV_TEXT.length).every((byte) => byte === 0x23));
  });

  it('round-trips the initial boot env in order', () => {
    const env = initialBootEnv(240);
    const encoded = encodeGrubenv(env);
    assert.ok(encoded.ok);
    const decoded = decodeGrubenv(encoded.value);
    assert.ok(decoded.ok);
    assert.deepEqual([...decoded.value], [['SLOT', 'A'], ['TRIAL', ''], ['TRIAL_BOOTED', '0'], ['TRIAL_TIMEOUT', '240']]);
  });

  it('refuses what does not fit, bad names and values needing escapes', () => {
    assert.equal(encodeGrubenv({ X: 'y'.repeat(1000) }).ok, false);
    assert.deepEqual(encodeGrubenv({ 'A B': '1' }), { ok: false, reason: 'A B: not a variable name' });
    assert.equal(encodeGrubenv({ A: 'x\ny' }).ok, false);
    assert.equal(encodeGrubenv({ A: 'x\\y' }).ok, false);
    const exact = GRUBENV_SIZE - GRUBENV_HEADER.length - 'A=\n'.length;
    assert.ok(encodeGrubenv({ A: 'v'.repeat(exact) }).ok, 'a block filled to the last byte fits');
    assert.equal(encodeGrubenv({ A: 'v'.repeat(exact + 1) }).ok, false);
  });

  it('refuses malformed blocks with a reason', () => {
    const good = encodeGrubenv({ SLOT: 'B' });
    assert.ok(good.ok);
    const cases: [string, Buffer, RegExp][] = [
      ['short', good.value.subarray(0, 1023), /1023 bytes/],
      ['long', Buffer.concat([good.value, Buffer.from('#')]), /1025 bytes/],
      ['no header', Buffer.from(good.value).fill(0x20, 0, 1), /header/],
      ['line without =', Buffer.concat([Buffer.from(`${GRUBENV_HEADER}SLOT\n`), Buffer.alloc(1024 - GRUBENV_HEADER.length - 5, '#')]), /KEY=value/],
      ['variable without newline', Buffer.concat([Buffer.from(`${GRUBENV_HEADER}SLOT=A`), Buffer.alloc(1024 - GRUBENV_HEADER.length - 6, 'x')]), /no newline/],
    ];
    for (const [name, block, reason] of cases) {
      const decoded = decodeGrubenv(block);
      assert.equal(decoded.ok, false, name);
      assert.match(decoded.ok ? '' : decoded.reason, reason, name);
    }
  });
});

// The same bytes as GRUB's own tool (grub-common; scripts/setup installs it), both ways.
const editenv = spawnSync('grub-editenv', ['--version']).status === 0;
describe('grubenv against grub-editenv', { skip: editenv ? false : 'grub-editenv not installed (grub-common)' }, () => {
  it('reads what grub-editenv writes, and grub-editenv lists ours', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-grubenv-'));
    try {
      const theirs = join(dir, 'theirs');
      execFileSync('grub-editenv', [theirs, 'create']);
      execFileSync('grub-editenv', [theirs, 'set', 'SLOT=A', 'TRIAL=', 'TRIAL_BOOTED=0', 'TRIAL_TIMEOUT=180']);
      const ours = encodeGrubenv(initialBootEnv());
      assert.ok(ours.ok);
      // Theirs has a "# WARNING: Do not edit ..." comment line more; the variables are the same.
      const decoded = decodeGrubenv(await readFile(theirs));
      assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason);
      assert.deepEqual([...decoded.value], [...initialBootEnv()]);
      assert.equal(ours.value.subarray(0, GRUBENV_HEADER.length).toString(), (await readFile(theirs)).subarray(0, GRUBENV_HEADER.length).toString());
      const trial = encodeGrubenv({ SLOT: 'B', TRIAL: 'A', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '90' });
      assert.ok(trial.ok);
      await writeFile(join(dir, 'ours'), trial.value);
      assert.equal(execFileSync('grub-editenv', [join(dir, 'ours'), 'list']).toString(), 'SLOT=B\nTRIAL=A\nTRIAL_BOOTED=1\nTRIAL_TIMEOUT=90\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
