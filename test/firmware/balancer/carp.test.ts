// The balancer wired into the daemon (firmware/daemon.ts) on the simulated segment: a pool that
// is entirely down on the master demotes it, the backup takes over, and the demotion is lifted
// when a host returns; status shows the pools.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../../firmware/config/schema.js';
import { FakeRelays, MemoryTableUpdater, ScriptedChecks } from '../../../firmware/balancer/fake.js';
import { Daemon } from '../../../firmware/daemon.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';

const BACKEND = '198.51.100.31';

function config(name: string, advskew: number): TandemConfig {
  const { value, issues } = validate(configSchema, {
    node: { name, stateDir: '/var/lib/tandem' },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret', advskew }],
    balancer: {
      pools: [
        {
          name: 'web',
          port: 80,
          hosts: [{ address: BACKEND }],
          check: { type: 'http', intervalSeconds: 1, timeoutSeconds: 0.5 },
          redirect: { table: 'web' },
        },
      ],
    },
  });
  assert.ok(value, JSON.stringify(issues));
  return value;
}

describe('balancer and CARP in the daemon', () => {
  it('the master whose pool is all down demotes; the backup becomes MASTER; the demotion lifts on recovery', async () => {
    const clock = new FakeClock();
    const segment = new Segment(clock, { seed: 3 });
    const nodes = ['fw-a', 'fw-b'].map((name, i) => {
      segment.attach(name, { addresses: [`198.51.100.${11 + i}/24`] });
      const host = segment.host(name);
      const checks = new ScriptedChecks();
      const tables = new MemoryTableUpdater();
      const daemon = new Daemon(config(name, i * 100), {
        clock,
        files: new MemoryFileStore(),
        processes: new FakeProcessRunner(),
        packets: host,
        addresses: host,
        announcer: host,
        links: host,
        log: createLogger('error', () => undefined),
        healthChecks: checks,
        relays: new FakeRelays(),
        tables,
      });
      return { daemon, checks, tables };
    });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    await a.daemon.start();
    await b.daemon.start();
    await clock.advance(4000);
    const state = (n: typeof a) => n.daemon.status().carp[0]!.state;
    assert.equal(state(a), 'MASTER');
    assert.equal(state(b), 'BACKUP');
    assert.deepEqual(a.tables.members('web'), [BACKEND]);

    // fw-a loses its way to the backend (fw-b still reaches it).
    a.checks.fail(BACKEND, 'connect-timeout', 'no answer within 500 ms (connect)');
    await clock.advance(3000);
    const status = a.daemon.status();
    assert.equal(status.pools[0]!.state, 'down');
    assert.deepEqual(status.demotion.external, { 'balancer:web': 1 });
    assert.equal(status.demotion.total, 1);
    await clock.advance(100);
    assert.equal(state(b), 'MASTER');
    assert.equal(state(a), 'BACKUP');

    a.checks.pass(BACKEND);
    await clock.advance(2000);
    assert.equal(a.daemon.status().pools[0]!.state, 'up');
    assert.deepEqual(a.daemon.status().demotion.external, {});
    // Without preempt fw-a stays BACKUP.
    await clock.advance(3000);
    assert.equal(state(b), 'MASTER');
    await a.daemon.stop();
    await b.daemon.stop();
  });
});
