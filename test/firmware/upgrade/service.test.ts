// The daemon's upgrade service on a FakeClock with files as devices: a trial boot commits only
// after upgrade.commitAfterSeconds of unbroken health (and not while something is in INIT); a
// fallen-back boot records the rollback, raises the event and clears TRIAL; an install through
// the service records the slot's version, throttles progress events and reboots through its
// port (or not, with reboot: false); not booted from an image says so.

import { strict as assert } from 'node:assert';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { TandemEvent } from '../../../firmware/events.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeRebooter, LinuxBlockDevices } from '../../../firmware/upgrade/ports.js';
import { UpgradeService } from '../../../firmware/upgrade/service.js';
import { listEnv, makeBundle, makeLab, pattern, writeEnv, type Lab } from './bundle-lab.js';

let lab: Lab;
before(async () => {
  lab = await makeLab();
});
after(async () => {
  await lab.cleanup();
});

function service(options: { booted?: 'A' | 'B'; trial?: boolean; health?: () => string[]; files?: MemoryFileStore; beforeReboot?: () => Promise<void> } = {}) {
  const clock = new FakeClock();
  const files = options.files ?? new MemoryFileStore();
  files.files.set('/run/tandem/boot.json', JSON.stringify({ ...lab.bootJson, slot: options.booted ?? 'A', version: options.booted === 'B' ? '0.2.0+gnew' : '0.1.0+gold', trial: options.trial ? { timeoutSeconds: 180 } : false }));
  const events: TandemEvent[] = [];
  const rebooter = new FakeRebooter();
  const upgrade = new UpgradeService({ commitAfterSeconds: 30, trialTimeoutSeconds: 180 }, {
    clock, files, devices: new LinuxBlockDevices(), rebooter, log: silentLogger, stateDir: '/cfg/state',
    emit: (event) => events.push(event), health: options.health ?? (() => []),
    ...(options.beforeReboot ? { beforeReboot: options.beforeReboot } : {}),
  });
  return { clock, files, events, rebooter, upgrade };
}

/** Waits (real time, bounded) for file I/O that a fake-clock timer started. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('UpgradeService', () => {
  it('commits a trial boot after 30 s of unbroken health, not before', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' });
    let waiting = ['vhid 42 on eth0 is in INIT'];
    const s = service({ booted: 'B', trial: true, health: () => waiting });
    await s.upgrade.start();
    assert.equal(s.upgrade.status().state, 'trial');
    await s.clock.advance(40_000);
    assert.equal(s.upgrade.status().state, 'trial', 'never healthy: no commit');
    assert.deepEqual(s.upgrade.status().commit, { afterSeconds: 30, healthyForSeconds: 0, waiting: ['vhid 42 on eth0 is in INIT'] });
    waiting = [];
    await s.clock.advance(20_000);
    waiting = ['the API is not listening']; // a blip resets the count
    await s.clock.advance(2_000);
    waiting = [];
    await s.clock.advance(29_000);
    assert.equal(s.upgrade.status().state, 'trial');
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=1\nTRIAL_TIMEOUT=180\n');
    await s.clock.advance(3_000);
    await until(() => s.upgrade.status().state === 'committed'); // the env write is real file I/O
    const status = s.upgrade.status();
    assert.equal(status.state, 'committed');
    assert.equal(status.committed, 'B');
    assert.equal(status.last?.result, 'committed');
    assert.equal(await listEnv(lab.dir), 'SLOT=B\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
    assert.deepEqual(s.events, [{ type: 'upgrade', phase: 'committed', slot: 'B', version: '0.2.0+gnew', detail: 'healthy' }]);
    assert.equal(s.clock.pendingCount, 0, 'no health timer left');
  });

  it('commits by hand at once; a second commit is a no-op', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' });
    const s = service({ booted: 'B', trial: true });
    await s.upgrade.start();
    const first = await s.upgrade.commit('manual');
    assert.ok(first.ok && first.result.state === 'committed');
    assert.ok((await s.upgrade.commit('manual')).ok);
    assert.equal(await listEnv(lab.dir), 'SLOT=B\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
    s.upgrade.stop();
  });

  it('records a rollback (stateDir file, event, status) and clears the failed trial', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' });
    const files = new MemoryFileStore();
    files.files.set('/cfg/state/upgrade.json', JSON.stringify({ last: { result: 'installed', version: '0.3.0+gbroken', at: 'x', slot: 'B' }, slots: { A: '0.1.0+gold', B: '0.3.0+gbroken' } }));
    const s = service({ booted: 'A', files });
    await s.upgrade.start();
    const status = s.upgrade.status();
    assert.equal(status.state, 'rolled-back');
    assert.equal(status.trial, null);
    assert.equal(status.last?.result, 'rolled-back');
    assert.equal(status.last?.version, '0.3.0+gbroken');
    assert.match(status.last?.reason ?? '', /trial boot of slot B did not commit in time; the bootloader went back to slot A/);
    assert.equal(s.events.length, 1);
    assert.equal(s.events[0]!.type, 'upgrade');
    assert.equal((s.events[0] as { phase: string }).phase, 'rolled-back');
    assert.equal(JSON.parse(files.files.get('/cfg/state/upgrade.json')!).last.result, 'rolled-back');
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
    // The next boot is plain committed and records nothing new.
    const again = service({ booted: 'A', files });
    await again.upgrade.start();
    assert.equal(again.upgrade.status().state, 'committed');
    assert.equal(again.events.length, 0);
  });

  it('installs, remembers the slot\'s version, throttles progress and reboots through its port', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const rootfs = pattern(3 << 20, 3);
    const bundle = await makeBundle(lab, 'svc', { rootfs });
    const order: string[] = [];
    const s = service({ beforeReboot: async () => void order.push(`stopped with ${s.rebooter.reboots} reboots`) });
    await s.upgrade.start();
    const outcome = await s.upgrade.install(createReadStream(bundle, { highWaterMark: 16 * 1024 }), { reboot: true });
    assert.equal(outcome.ok, true);
    assert.equal(outcome.ok && outcome.rebooting, true);
    const status = s.upgrade.status();
    assert.deepEqual(status.slots, { A: '0.1.0+gold', B: '0.2.0+gnew' });
    assert.deepEqual(status.trial, { slot: 'B', booted: false });
    assert.equal(status.installing, null);
    const phases = s.events.map((e) => (e as { phase: string }).phase);
    assert.equal(phases[0], 'started');
    assert.deepEqual(phases.slice(-2), ['installed', 'rebooting']);
    const progress = s.events.filter((e) => (e as { phase: string }).phase === 'progress');
    assert.ok(progress.length >= 3 && progress.length <= 26, `progress events: ${progress.length}`);
    assert.equal(s.rebooter.reboots, 0, 'not before the reply is out');
    await s.clock.advance(1000);
    assert.equal(s.rebooter.reboots, 1);
    assert.deepEqual(order, ['stopped with 0 reboots'], 'CARP bows out before the reboot');
  });

  it('a failed install says which step, keeps the env and does not reboot', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const bundle = await makeBundle(lab, 'toolarge', { rootfs: pattern(5 << 20) });
    const s = service();
    await s.upgrade.start();
    const outcome = await s.upgrade.install(createReadStream(bundle), { reboot: true });
    assert.equal(outcome.ok, false);
    assert.equal(s.upgrade.status().last?.result, 'failed');
    assert.equal(s.upgrade.status().last?.step, 'size');
    await s.clock.advance(5000);
    assert.equal(s.rebooter.reboots, 0);
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
  });

  it('without boot.json: not an image, and install refuses', async () => {
    const files = new MemoryFileStore();
    const upgrade = new UpgradeService({ commitAfterSeconds: 30, trialTimeoutSeconds: 180 }, {
      clock: new FakeClock(), files, devices: new LinuxBlockDevices(), rebooter: new FakeRebooter(), log: silentLogger, stateDir: join(lab.dir, 'state'),
      emit: () => undefined, health: () => [],
    });
    await upgrade.start();
    assert.equal(upgrade.onImage, false);
    assert.equal(upgrade.status().state, 'not-an-image');
    const outcome = await upgrade.install((async function* () {})(), { reboot: false });
    assert.deepEqual(outcome, { ok: false, step: 'state', reason: 'this system was not booted from a Tandem image (no /run/tandem/boot.json): nothing to upgrade' });
  });
});

