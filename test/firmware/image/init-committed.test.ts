// The init's trial rule (image/files/init, contract 3 and 7 of issue 15): its committed()
// function, run by busybox sh as on the image, against env blocks made by the grubenv encoder
// and by the upgrade's U-Boot env encoder, at an offset inside a device-like file.

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeUBootEnv } from '../../../firmware/upgrade/ubootenv.js';
import { encodeGrubenv } from '../../../image/grubenv.js';

const busybox = spawnSync('busybox', ['true']).status === 0;
const OFFSET = 4096;
let dir = '';
let fn = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-init-'));
  const init = await readFile(new URL('../../../image/files/init', import.meta.url), 'utf8');
  const match = /^committed\(\) \{\n[^]*?\n\}\n/m.exec(init);
  assert.ok(match, 'image/files/init defines committed()');
  fn = join(dir, 'committed.sh');
  await writeFile(fn, match[0]);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function device(name: string, block: Buffer): Promise<string> {
  const path = join(dir, name);
  const filler = Buffer.alloc(OFFSET, 0x5a);
  await writeFile(path, Buffer.concat([filler, block, filler]));
  return path;
}

function committed(bootloader: 'grub' | 'uboot', dev: string, slot: string): boolean {
  const script = `. ${fn}; BOOTLOADER=${bootloader} ENVDEV=${dev} ENVOFF=${OFFSET} ENVSIZE=1024 SLOT=${slot}; committed`;
  return spawnSync('busybox', ['sh', '-c', script]).status === 0;
}

const STATES: [string, Record<string, string>, string, boolean][] = [
  ['trial of B committed', { SLOT: 'B', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' }, 'B', true],
  ['trial of B still pending', { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' }, 'B', false],
  ['B committed but TRIAL left set', { SLOT: 'B', TRIAL: 'B', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' }, 'B', false],
  ['A committed, booted B', { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' }, 'B', false],
];

describe('init committed()', { skip: busybox ? false : 'busybox not installed (busybox-static)' }, () => {
  it('reads a grubenv block at its offset', async () => {
    for (const [name, vars, slot, expected] of STATES) {
      const block = encodeGrubenv(vars);
      assert.ok(block.ok);
      assert.equal(committed('grub', await device(`grub-${slot}-${expected}-${name.length}`, block.value), slot), expected, name);
    }
  });

  it("reads a U-Boot env (single layout) past its CRC32, SLOT being the first variable", async () => {
    for (const [name, vars, slot, expected] of STATES) {
      const block = encodeUBootEnv({ size: 1024, layout: 'single', flag: 0, vars });
      assert.ok(block.ok);
      assert.equal(committed('uboot', await device(`uboot-${slot}-${expected}-${name.length}`, block.bytes), slot), expected, name);
    }
  });

  it('says not committed when the device cannot be read', () => {
    assert.equal(committed('grub', join(dir, 'missing'), 'A'), false);
    assert.ok(execFileSync('busybox', ['sh', '-n', fn]).length === 0, 'the extracted function parses');
  });
});
