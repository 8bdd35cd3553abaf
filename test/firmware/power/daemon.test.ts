// Power in the daemon's wiring: two real Daemons on a simulated segment and a FakeClock, a
// redirect pool of three simulated backends whose demand comes from (simulated) conntrack, and
// the demo's drivers. The MASTER of power.vhid parks what demand does not need, `status` has
// the `power` key, the control requests act, and after the master crashes the backup takes
// over the picture without parking or waking anything twice.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SimBackends, MemoryTableUpdater } from '../../../firmware/balancer/fake.js';
import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../../firmware/config/schema.js';
import { formatStatus } from '../../../firmware/commands.js';
import { Daemon } from '../../../firmware/daemon.js';
import { DemoDemand, demoPowerDrivers, demoPowerSection } from '../../../firmware/demo/power.js';
import { silentLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import type { PowerStatus } from '../../../firmware/power/status.js';

const BACKENDS = ['198.51.100.31', '198.51.100.32', '198.51.100.33'];

function config(name: string, advskew: number): TandemConfig {
  const { value, issues } = validate(configSchema, {
    node: { name, stateDir: '/var/lib/tandem' },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret', advskew }],
    balancer: {
      pools: [{
        name: 'web', port: 80, hosts: BACKENDS.map((address, i) => ({ address, name: `web-${i + 1}` })),
        check: { type: 'http', path: '/health', intervalSeconds: 2, timeoutSeconds: 1, downAfter: 2, upAfter: 2 },
        redirect: { table: 'web' },
      }],
    },
    power: demoPowerSection(BACKENDS),
  });
  assert.ok(value, JSON.stringify(issues));
  return value;
}

function rig() {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 3 });
  const backends = new SimBackends();
  const nodes = ['fw-a', 'fw-b'].map((name, i) => {
    segment.attach(name, { addresses: [`198.51.100.${11 + i}/24`] });
    const host = segment.host(name);
    const tables = new MemoryTableUpdater();
    const demand = new DemoDemand(() => tables.members('web') ?? []);
    const files = new MemoryFileStore();
    const daemon = new Daemon(config(name, i * 100), {
      clock, files, processes: new FakeProcessRunner(), packets: host, addresses: host, announcer: host, links: host, log: silentLogger,
      healthChecks: backends.checksFor(name), tables, conntrack: demand, powerDrivers: demoPowerDrivers(backends, clock),
    });
    return { daemon, demand, files };
  });
  return { clock, backends, a: nodes[0]!, b: nodes[1]! };
}

const power = (d: Daemon) => d.status().power as PowerStatus;
const states = (d: Daemon) => Object.fromEntries(power(d).hosts.map((h) => [h.name, h.state]));

describe('power in the daemon', () => {
  it('the master parks, status and control requests work, a failover takes over the picture without acting twice', async () => {
    const { clock, backends, a, b } = rig();
    for (const n of [a, b]) n.demand.level = 40;
    await a.daemon.start();
    await b.daemon.start();
    await clock.advance(120_000);
    assert.equal(power(a.daemon).role, 'master');
    assert.equal(power(b.daemon).role, 'backup');
    // 40 connections, 100 per host, one spare: web-3 (least efficient) is parked.
    assert.deepEqual(states(a.daemon), { 'web-1': 'awake', 'web-2': 'awake', 'web-3': 'parked' });
    assert.equal(backends.isRunning('198.51.100.33'), false);
    assert.equal(power(a.daemon).pools[0]!.demand, 40, 'a redirect pool measured from conntrack');
    assert.ok(a.files.files.has('/var/lib/tandem/power-ledger.json'));
    const text = formatStatus(a.daemon.status());
    assert.match(text, /^power: master \(vhid 42\)/m);
    assert.match(text, /^ {2}web-3 \(web 198\.51\.100\.33\): parked since \S+ by ssh {2}health \S+ {2}cycles today 1/m);

    // Control requests.
    const pinned = await a.daemon.handle({ cmd: 'power-pin', host: 'web-3', on: true });
    assert.deepEqual(pinned, { ok: true, result: { pinned: true, host: 'web-3' } });
    await clock.advance(30_000);
    assert.equal(states(a.daemon)['web-3'], 'awake', 'a pin wakes it');
    assert.equal(backends.isRunning('198.51.100.33'), true);
    await a.daemon.handle({ cmd: 'power-pin', host: 'web-3', on: false });
    const refused = await b.daemon.handle({ cmd: 'power-park', host: 'web-3' });
    assert.equal(refused.ok, false, 'the backup refuses');
    assert.deepEqual(await a.daemon.handle({ cmd: 'power-park', host: 'nope' }), { ok: false, error: 'no managed host nope (hosts: web-1, web-2, web-3)' });
    await clock.advance(120_000);
    // With web-3 pinned the planner parked web-2 instead; unpinned, it swaps nothing back.
    const parkedNow = Object.entries(states(a.daemon)).filter(([, s]) => s === 'parked').map(([n]) => n);
    assert.deepEqual(parkedNow, ['web-2'], JSON.stringify(power(a.daemon).decisions));
    assert.equal(power(a.daemon).hosts.find((h) => h.name === 'web-3')!.cyclesToday, 1);

    // The master crashes; the backup takes over and sees what is parked from its own checks.
    await a.daemon.crash();
    await clock.advance(30_000);
    assert.equal(power(b.daemon).role, 'master');
    assert.deepEqual(states(b.daemon), { 'web-1': 'awake', 'web-2': 'parked', 'web-3': 'awake' });
    assert.deepEqual(power(b.daemon).decisions, [], 'nothing to do twice');
    assert.equal(power(b.daemon).hosts.find((h) => h.name === 'web-2')!.cyclesToday, 0, 'b parked nothing itself');

    // Demand rises on the new master: web-2 is woken.
    b.demand.level = 170;
    await clock.advance(60_000);
    assert.equal(states(b.daemon)['web-2'], 'awake');
    assert.ok(power(b.daemon).decisions.some((d) => d.host === 'web-2' && d.action === 'wake' && d.cause === 'demand'), JSON.stringify(power(b.daemon).decisions));
    assert.ok(power(b.daemon).energy.alwaysOnKWh > 0);
    await b.daemon.stop();
  });
});
