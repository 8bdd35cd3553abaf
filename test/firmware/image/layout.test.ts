// The disk layout planner and its sfdisk script (contract 2 of issue 15): 1 MiB alignment,
// partition order and numbers, a rootfs that does not fit refused with the reason.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { diskIdFor, MiB, planLayout, sfdiskScript } from '../../../image/layout.js';

describe('planLayout', () => {
  it('puts boot, A, B, cfg in order, each on a 1 MiB boundary, the first at 1 MiB', () => {
    const plan = planLayout({ bootMiB: 8, slotMiB: 192, cfgMiB: 32, rootfsBytes: 80 * MiB });
    assert.ok(plan.ok);
    assert.deepEqual(
      plan.partitions.map((p) => [p.name, p.number, p.offsetBytes / MiB, p.sizeBytes / MiB, p.bootable]),
      [
        ['boot', 1, 1, 8, true],
        ['A', 2, 9, 192, false],
        ['B', 3, 201, 192, false],
        ['cfg', 4, 393, 32, false],
      ],
    );
    assert.equal(plan.diskBytes, 425 * MiB);
    for (const p of plan.partitions) assert.equal(p.offsetBytes % MiB, 0, `${p.name} aligned`);
  });

  it('refuses a rootfs larger than a slot, saying so', () => {
    const plan = planLayout({ bootMiB: 8, slotMiB: 64, cfgMiB: 32, rootfsBytes: 64 * MiB + 1 });
    assert.equal(plan.ok, false);
    assert.match(plan.ok ? '' : plan.reason, /67108865 bytes do not fit a 64 MiB slot/);
    assert.ok(planLayout({ bootMiB: 8, slotMiB: 64, cfgMiB: 32, rootfsBytes: 64 * MiB }).ok, 'exactly full fits');
  });

  it('refuses sizes that are not whole MiB', () => {
    const plan = planLayout({ bootMiB: 0, slotMiB: 64, cfgMiB: 32, rootfsBytes: 1 });
    assert.deepEqual(plan, { ok: false, reason: 'bootMiB: must be a whole number of MiB >= 1, got 0' });
    assert.equal(planLayout({ bootMiB: 8, slotMiB: 1.5, cfgMiB: 32, rootfsBytes: 1 }).ok, false);
  });
});

describe('sfdiskScript', () => {
  it('writes sectors, the disk id and the bootable flag on p1', () => {
    const plan = planLayout({ bootMiB: 8, slotMiB: 16, cfgMiB: 4, rootfsBytes: 1 });
    assert.ok(plan.ok);
    assert.equal(
      sfdiskScript(plan.partitions, 0x1234abcd),
      'label: dos\nlabel-id: 0x1234abcd\nunit: sectors\n\n' +
        'start=2048, size=16384, type=83, bootable\n' +
        'start=18432, size=32768, type=83\n' +
        'start=51200, size=32768, type=83\n' +
        'start=83968, size=8192, type=83\n',
    );
  });

  it('pads a small disk id to 8 hex digits', () => {
    assert.match(sfdiskScript([], 0xab), /label-id: 0x000000ab\n/);
  });
});

describe('diskIdFor', () => {
  it('is stable for a seed, differs between seeds, never 0', () => {
    assert.equal(diskIdFor('x86_64 0.1.0'), diskIdFor('x86_64 0.1.0'));
    assert.notEqual(diskIdFor('x86_64 0.1.0'), diskIdFor('x86_64 0.1.1'));
    for (const seed of ['', 'a', 'b', 'tandem']) {
      const id = diskIdFor(seed);
      assert.ok(id > 0 && id <= 0xffffffff, `${seed}: ${id}`);
    }
  });
});
