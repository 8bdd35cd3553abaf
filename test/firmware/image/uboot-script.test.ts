// boot.scr's source (image/uboot-script.ts): the numbers it bakes in (sectors in hex, as U-Boot's
// block reads parse them), the kernel command line of contract 3, and what it refuses. Its
// behaviour (trial, rollback, the env it saves) is checked under qemu by test/image/arm64.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderBootScript, UBOOT_ENV_VARS } from '../../../image/uboot-script.js';

const options = {
  envLba: 2048 + 1124,
  envOffsetBytes: 1124 * 512,
  slotLba: { A: 18432, B: 411648 },
  diskId: 0x73c00bb1,
  console: { device: 'ttyAMA0', baud: 115200 },
  extraArgs: ['quiet'],
  scratchAddr: 0x4f000000,
  kernelInflateAddr: 0x45000000,
};

test('reads and writes the env block at its sector, 2 sectors, as a 1 KiB CRC env', () => {
  const script = renderBootScript(options);
  assert.match(script, /\$\{devtype\} read \$\{tandem_scratch\} 0xc64 2 && env import -c \$\{tandem_scratch\} 0x400/);
  assert.match(script, /env export -c -s 0x400 \$\{tandem_scratch\} SLOT TRIAL TRIAL_BOOTED TRIAL_TIMEOUT\n/);
  assert.match(script, /\$\{devtype\} write \$\{tandem_scratch\} 0xc64 2/);
  assert.deepEqual([...UBOOT_ENV_VARS], ['SLOT', 'TRIAL', 'TRIAL_BOOTED', 'TRIAL_TIMEOUT']);
});

test('marks the trial booted BEFORE booting it, and falls back to SLOT in the same run', () => {
  const script = renderBootScript(options);
  const save = script.indexOf('setenv TRIAL_BOOTED 1');
  const boot = script.search(/^\s*booti \$/m);
  assert.ok(save > 0 && boot > save);
  assert.match(script, /for tandem_try in \$\{tandem_first\} \$\{SLOT\}; do/);
  assert.match(script, /setenv tandem_lba 0x64800; else setenv tandem_lba 0x4800; fi/);
});

test('the command line has tandem.slot, the disk id, the env offset, panic=10 and the trial', () => {
  const script = renderBootScript(options);
  const line = /setenv bootargs "([^"]*)"/.exec(script)?.[1];
  assert.equal(
    line,
    'console=ttyAMA0,115200 panic=10 tandem.slot=${tandem_try} tandem.disk=73c00bb1 tandem.env=575488 quiet ${tandem_trial}',
  );
  assert.match(script, /setenv tandem_trial tandem\.trial=\$\{TRIAL_TIMEOUT\}/);
});

test('finds the kernel through the squashfs superblock and the TNDK header', () => {
  const script = renderBootScript(options);
  assert.match(script, /test "\$\{tandem_m\}" = "73717368"/); // hsqs
  assert.match(script, /test "\$\{tandem_m\}" = "4b444e54"/); // TNDK
  assert.match(script, /setexpr tandem_hdr \$\{tandem_hdr\} \* 0x800/); // 1 MiB in sectors
});

test('refuses sector numbers it cannot bake in', () => {
  assert.throws(() => renderBootScript({ ...options, envLba: 0 }), /envLba/);
  assert.throws(() => renderBootScript({ ...options, slotLba: { A: 1.5, B: 2 } }), /slotLba\.A/);
  assert.throws(() => renderBootScript({ ...options, envOffsetBytes: 100 }), /sector-aligned/);
});

test('hands booti the gzip\'d kernel\'s size and where to inflate it', () => {
  const script = renderBootScript(options);
  assert.match(script, /setenv kernel_comp_addr_r 0x45000000\n\s*setenv kernel_comp_size \$\{tandem_ksz\}/);
  assert.ok(script.indexOf('kernel_comp_size') < script.search(/^\s*booti \$/m));
});
