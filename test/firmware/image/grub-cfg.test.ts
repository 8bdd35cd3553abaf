// The embedded grub.cfg (contract 3 of issue 15): the trial rule's branches and the kernel
// command line it passes (tandem.slot, tandem.disk, tandem.env, tandem.trial, panic=10).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { GRUB_MODULES, renderGrubCfg } from '../../../image/grub-cfg.js';

const cfg = renderGrubCfg({
  console: { device: 'ttyS0', baud: 115200 },
  bootLabel: 'TBOOT',
  diskId: 0xab12,
  envOffsetBytes: 12288,
  slotPartitions: { A: 2, B: 3 },
  extraArgs: ['quiet'],
});

describe('renderGrubCfg', () => {
  it('sets up the serial console and loads only the boot variables from p1', () => {
    assert.match(cfg, /^serial --unit=0 --speed=115200$/m);
    assert.match(cfg, /^search --no-floppy --label TBOOT --set=envdev$/m);
    assert.match(cfg, /^load_env -f \$envfile SLOT TRIAL TRIAL_BOOTED TRIAL_TIMEOUT$/m);
  });

  it('marks a pending trial booted (saved) before booting it with tandem.trial', () => {
    const pending = cfg.slice(cfg.indexOf('if [ "$TRIAL_BOOTED" = "0" ]'), cfg.indexOf('else'));
    const order = ['set TRIAL_BOOTED=1', 'save_env -f $envfile TRIAL_BOOTED', 'set tslot=$TRIAL', 'set trialarg="tandem.trial=$TRIAL_TIMEOUT"'];
    let at = 0;
    for (const line of order) {
      const found = pending.indexOf(line, at);
      assert.ok(found >= at, `${line} after the previous step`);
      at = found;
    }
  });

  it('boots SLOT after a trial that already booted, and when the trial slot does not load', () => {
    assert.match(cfg, /trial of slot \$TRIAL failed, booting slot \$SLOT/);
    assert.match(cfg, /if \[ "\$tslot" != "\$SLOT" \]; then[^]*tandem_boot \$SLOT\nfi/);
  });

  it('passes the kernel the console, panic=10, disk id, env offset and slot', () => {
    const line = /linux \(\$disk,msdos\$tpart\)\/boot\/vmlinuz (.*)$/m.exec(cfg)?.[1] ?? '';
    assert.equal(line, 'console=ttyS0,115200 panic=10 tandem.disk=0000ab12 tandem.env=12288 quiet tandem.slot=$1 $2; then');
    assert.match(cfg, /set tpart=2; else set tpart=3;/);
  });

  it('needs only modules that grub-mkimage is given', () => {
    for (const module of ['loadenv', 'squash4', 'xzio', 'regexp', 'search_label', 'memdisk', 'test']) assert.ok(GRUB_MODULES.includes(module), module);
  });
});
