// The board watchdog on the booted x86-64 image (issue 15 items 3 and 5): qemu's i6300esb with
// `-action watchdog=reset`, `board.watchdog` in /cfg/tandem.yaml. The daemon feeds it from its
// event loop past what it waits unfed; SIGSTOP on the daemon (an event loop that never runs again)
// stops the feeding and the watchdog resets the machine, which boots again (measured: the
// reset's boot line 52-67 s after SIGSTOP in two runs; qemu's i6300esb counts its 30 s heartbeat
// in two stages). About 4 minutes with the boot.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab } from '../netns/lab.js';
import { ensureImage, requireImageTier, type Vm, vmWorkdir } from './harness.js';
import { BOOT_MS, bootGuests, guestConfig, untilStatus, WEB_UI_LINE } from './guest.js';

const DAEMON_PID = `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -qE 'tandem(\\.mjs)? run ' && echo \${p#/proc/}; done; true`;

interface WatchdogStatus {
  phase: string;
  timeoutSeconds: number;
  driverTimeoutSeconds?: number;
  intervalMs: number;
  feeds: number;
}

test('the daemon keeps the i6300esb watchdog fed; a stopped daemon lets it reset the machine', { timeout: 900_000 }, async (t) => {
  if (!requireImageTier(t)) return;
  const build = await ensureImage('x86_64');
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 1 });
  let vms: Vm[] = [];
  try {
    const config = guestConfig({ name: 'wd', address: '198.51.100.31/24', extra: { board: { profile: 'custom', watchdog: { device: '/dev/watchdog', timeoutSeconds: 30 } } } });
    vms = await bootGuests(build, lab, work.path, [
      { name: 'w', cfg: { kind: 'files', files: { 'tandem.yaml': config } }, extraArgs: ['-device', 'i6300esb', '-action', 'watchdog=reset'] },
    ]);
    const vm = vms[0]!;
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    const first = await untilStatus(vm, 'the watchdog to be fed', (s) => (s.board as { watchdog?: WatchdogStatus } | undefined)?.watchdog, 120_000);
    t.diagnostic(`watchdog: ${JSON.stringify(first)}`);
    assert.equal(first.phase, 'feeding');
    // i6300esb's heartbeat (the driver's default, 30 s) read back from sysfs.
    assert.equal(first.driverTimeoutSeconds, 30);
    assert.equal(first.intervalMs, 10_000);
    // Fed for longer than the watchdog waits unfed (qemu's i6300esb resets after two 30 s
    // stages): the machine is still up only because the feeds land.
    const fed = await untilStatus(
      vm,
      'feeds across one timeout',
      (s) => {
        const w = (s.board as { watchdog?: WatchdogStatus } | undefined)?.watchdog;
        return w && w.feeds >= 8 ? w : undefined;
      },
      180_000,
    );
    assert.equal(fed.phase, 'feeding');
    const bootsBefore = (vm.console.match(/tandem-init: booted slot/g) ?? []).length;
    assert.equal(bootsBefore, 1, 'no reset while the daemon feeds');

    // The event loop stops: no more feeds, and the watchdog resets the machine.
    const pid = Number(await vm.ok(DAEMON_PID));
    assert.ok(pid > 1, `the daemon's PID: ${pid}`);
    await vm.ok(`kill -STOP ${pid}`);
    const stopped = Date.now();
    await vm.awaitReboot(/tandem-init: booted slot/, 240_000);
    t.diagnostic(`reset ${((Date.now() - stopped) / 1000).toFixed(1)} s after SIGSTOP`);
  } finally {
    for (const vm of vms) await vm.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
