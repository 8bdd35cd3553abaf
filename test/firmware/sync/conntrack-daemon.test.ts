// The daemon's conntrackd wiring: a real Daemon on a simulated segment with `sync.conntrack`
// starts conntrackd through the launcher port, runs the primary-backup steps on its vhid's
// transitions, shows them in status `sync.conntrack`, and ends it on stop, crash and reload.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../../firmware/config/schema.js';
import { Daemon } from '../../../firmware/daemon.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { FakeDaemonLauncher } from '../../../firmware/sync/conntrack-launcher.js';

function config(sync: Record<string, unknown> = {}): TandemConfig {
  const { value, issues } = validate(configSchema, {
    node: { name: 'fw-a', stateDir: '/var/lib/tandem' },
    control: { socket: '/run/tandem-a/control.sock' },
    carp: [
      { vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret' },
      { vhid: 43, interface: 'eth0', addresses: ['198.51.100.101/24'], password: 'labsecret' },
    ],
    hooks: { master: '/hooks/master', backup: '/hooks/backup' },
    sync: { conntrack: { interface: 'sync', address: '198.51.100.253', peer: '198.51.100.254', vhid: 42, ...sync } },
  });
  assert.ok(value, JSON.stringify(issues));
  return value;
}

function build(cfg: TandemConfig) {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 3 });
  segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
  const host = segment.host('fw-a');
  const launcher = new FakeDaemonLauncher();
  const processes = new FakeProcessRunner((run) => {
    if (run.command !== '/usr/sbin/conntrackd') return {};
    if (run.args[2] === '-s') return launcher.current?.alive ? { code: 0, stdout: 'cache internal:\ncurrent active connections: 3\n' } : { code: 1 };
    return {};
  });
  const daemon = new Daemon(cfg, {
    clock, files: new MemoryFileStore(), processes, packets: host, addresses: host, announcer: host, links: host,
    log: createLogger('error', () => undefined), conntrackd: launcher,
  });
  const flags = () => processes.runs.filter((r) => r.command === '/usr/sbin/conntrackd' && r.args[2] !== '-s').map((r) => r.args[2]);
  const order = () =>
    processes.runs
      .filter((r) => (r.command === '/usr/sbin/conntrackd' && r.args[2] !== '-s') || (r.command.startsWith('/hooks/') && r.args[0] === '42'))
      .map((r) => (r.command === '/usr/sbin/conntrackd' ? r.args[2]! : `${r.command} ${r.args.join(' ')}`));
  return { clock, daemon, launcher, flags, order };
}

describe('daemon: sync.conntrack', () => {
  it('starts conntrackd and runs BACKUP then MASTER steps for its vhid only, shown in status', async () => {
    const { clock, daemon, launcher, flags, order } = build(config());
    await daemon.start();
    await clock.advance(4000);
    await daemon.conntrack!.idle();
    assert.equal(daemon.status().carp.find((v) => v.vhid === 43)?.state, 'MASTER');
    assert.equal(launcher.children.length, 1);
    assert.deepEqual(launcher.current!.args, ['-C', '/run/tandem-a/conntrackd.conf']);
    assert.deepEqual(flags(), ['-t', '-n', '-c', '-f', '-R', '-B'], 'vhid 43 ran nothing: one BACKUP row, one MASTER row');
    await clock.advance(10);
    assert.deepEqual(
      order(),
      ['-t', '-n', '/hooks/backup 42 BACKUP eth0', '-c', '-f', '-R', '-B', '/hooks/master 42 MASTER eth0'],
      "each transition's hook script runs after its conntrackd steps, in one queue",
    );
    const status = daemon.status().sync?.conntrack;
    assert.equal(status?.running, true);
    assert.equal(status?.lastSteps?.to, 'MASTER');
    assert.equal(status?.lastSteps?.from, 'BACKUP');
    assert.equal(status?.counters?.internal, 3);
    await daemon.stop();
    assert.deepEqual(launcher.children[0]!.signals, ['SIGTERM']);
    assert.equal(daemon.status().sync, undefined);
  });

  it('kills conntrackd with a crash, and restarts it on a reload that changes the section', async () => {
    const a = build(config());
    await a.daemon.start();
    await a.clock.advance(4000);
    await a.daemon.conntrack!.idle();
    const before = a.flags().length;
    await a.daemon.applyConfig(config({ port: 3781 }));
    await a.clock.advance(100); // the start is not awaited: CARP never waits for conntrackd
    assert.equal(a.launcher.children.length, 2, 'a changed section restarts conntrackd');
    await a.daemon.conntrack!.idle();
    assert.deepEqual(a.flags().slice(before), ['-c', '-f', '-R', '-B'], 'the new conntrackd gets the MASTER row: its caches are empty');
    assert.equal(a.daemon.status().sync?.conntrack?.lastSteps?.cause, 'restart');
    assert.deepEqual(a.launcher.children[0]!.signals, ['SIGTERM']);
    await a.daemon.applyConfig(config({ port: 3781 }));
    await a.clock.advance(100);
    assert.equal(a.launcher.children.length, 2, 'an unchanged one does not');
    await a.daemon.crash();
    assert.deepEqual(a.launcher.children[1]!.signals, ['SIGKILL']);
  });
});
