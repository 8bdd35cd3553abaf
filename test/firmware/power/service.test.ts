// The power service on a fake clock over simulated hosts: the planner's decisions carried out,
// the ledger written only on change and read back after a restart, the MASTER rule with its
// rebuild, a failed host replaced at once, manual orders and pins, energy against always-on.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import type { TandemEvent } from '../../../firmware/events.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { FakePowerDriver, FakePowerPools, SimulatedHost } from '../../../firmware/power/fake.js';
import { parseLedger } from '../../../firmware/power/ledger.js';
import { powerSchema, type PowerConfig } from '../../../firmware/power/schema.js';
import { PowerService } from '../../../firmware/power/service.js';

const LEDGER = '/state/power-ledger.json';

function powerConfig(extra: Record<string, unknown> = {}): PowerConfig {
  const host = (n: number, capacity: number, peak: number) => ({
    name: `web-${n}`,
    pool: 'web',
    address: `198.51.100.2${n}`,
    mac: `02:00:5e:10:00:2${n}`,
    capacity,
    watts: { idle: 40, peak, parked: 3 },
    wake: { method: 'wol', seconds: 5, fallback: { method: 'snmp', seconds: 5, address: '198.51.100.50', outlet: n, mib: 'apc-rpdu2' } },
    park: { method: 'ssh', seconds: 2 },
  });
  const { value, issues } = validate(powerSchema, {
    intervalSeconds: 10,
    policy: { spares: 1, minAwake: 1, minAwakeSeconds: 0, minParkedSeconds: 0, drainTimeoutSeconds: 5 },
    hosts: [host(1, 100, 90), host(2, 100, 120), host(3, 100, 150)],
    ...extra,
  });
  assert.deepEqual(issues, []);
  return value!;
}

function rig(options: { files?: MemoryFileStore; master?: { value: boolean }; config?: PowerConfig; sims?: Map<string, SimulatedHost>; clock?: FakeClock } = {}) {
  const clock = options.clock ?? new FakeClock();
  const sims =
    options.sims ?? new Map([1, 2, 3].map((n) => [`web-${n}`, new SimulatedHost(`web-${n}`, clock, 5_000, 2_000, `198.51.100.2${n}`)] as const));
  const pools = new FakePowerPools(sims);
  pools.demands.set('web', 150);
  const files = options.files ?? new MemoryFileStore();
  const events: TandemEvent[] = [];
  const drivers = {
    wol: new FakePowerDriver('wol', sims, { kind: 'soft', canPark: false }),
    ssh: new FakePowerDriver('ssh', sims, { kind: 'soft', canWake: false }),
    snmp: new FakePowerDriver('snmp', sims, { kind: 'hard' }),
  } as Record<string, FakePowerDriver>;
  const master = options.master;
  const service = new PowerService(options.config ?? powerConfig(), {
    clock,
    pools,
    driverDeps: { clock, processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/state' },
    drivers: (config) => (drivers[config.method] ? { ok: true, driver: drivers[config.method]! } : { ok: false, detail: `no ${config.method}` }),
    files,
    ledgerPath: LEDGER,
    emit: (e) => events.push(e),
    log: silentLogger,
    ...(master ? { isMaster: () => master.value } : {}),
    tuning: { peakHoldSeconds: 30, trendWindowSeconds: 30 },
  });
  return { clock, sims, pools, files, events, drivers, service };
}

const states = (service: PowerService) => Object.fromEntries(service.status().hosts.map((h) => [h.name, h.state]));

describe('power service', () => {
  it('parks the least efficient host when demand is low, and keeps spares; learns the park latency', async () => {
    const { clock, pools, service, files, sims } = rig();
    await service.start();
    pools.demands.set('web', 20);
    await clock.advance(60_000);
    const s = service.status();
    assert.equal(s.role, 'standalone');
    assert.deepEqual(states(service), { 'web-1': 'awake', 'web-2': 'awake', 'web-3': 'parked' }, JSON.stringify(s.decisions));
    assert.equal(sims.get('web-3')!.power, 'off');
    assert.equal(pools.powers.get('web-3'), 'parked');
    assert.ok(s.decisions.some((d) => d.host === 'web-3' && d.action === 'park' && d.reason.length > 10));
    const web3 = s.hosts.find((h) => h.name === 'web-3')!;
    assert.equal(web3.how, 'ssh');
    assert.equal(web3.park.learned, true);
    assert.ok(web3.park.seconds >= 2 && web3.park.seconds < 2.5, String(web3.park.seconds));
    assert.equal(web3.cyclesToday, 1);
    const onDisk = parseLedger(files.files.get(LEDGER)!).ledger;
    assert.equal(onDisk.hosts['web-3']!.state, 'parked');
    assert.ok(s.energy.savedKWh > 0, 'parked hosts save energy against always-on');
  });

  it('writes the ledger only on change', async () => {
    const { clock, pools, service, files } = rig();
    await service.start();
    pools.demands.set('web', 20);
    await clock.advance(60_000);
    const writes = files.writes;
    await clock.advance(120_000);
    assert.equal(files.writes, writes, 'rounds without decisions write nothing');
  });

  it('wakes a parked host when demand rises, and it is awake (checked healthy) before it counts', async () => {
    const { clock, pools, service, drivers } = rig();
    await service.start();
    pools.demands.set('web', 20);
    await clock.advance(60_000);
    pools.demands.set('web', 150);
    await clock.advance(30_000);
    assert.deepEqual(states(service), { 'web-1': 'awake', 'web-2': 'awake', 'web-3': 'awake' });
    assert.ok(drivers.wol!.calls.some((c) => c.action === 'wake'));
    const web3 = service.status().hosts.find((h) => h.name === 'web-3')!;
    assert.equal(web3.wake.learned, true);
    assert.ok(web3.wake.seconds >= 5 && web3.wake.seconds < 5.5, String(web3.wake.seconds));
  });

  it('survives a restart: the ledger says who is parked, and the rebuild agrees with the checks', async () => {
    const files = new MemoryFileStore();
    const clock = new FakeClock();
    const first = rig({ files, clock });
    await first.service.start();
    first.pools.demands.set('web', 20);
    await clock.advance(60_000);
    await first.service.stop();
    const second = rig({ files, clock, sims: first.sims });
    second.pools.demands.set('web', 20);
    await second.service.start();
    assert.equal(second.service.status().role, 'rebuilding');
    await clock.advance(3_500);
    assert.deepEqual(states(second.service), { 'web-1': 'awake', 'web-2': 'awake', 'web-3': 'parked' });
    assert.equal(second.pools.powers.get('web-3'), 'parked', 'the balancer stops checking parked hosts again');
    assert.equal(second.service.status().hosts.find((h) => h.name === 'web-3')!.park.learned, true, 'learned latencies survive');
    assert.deepEqual([...Object.values(second.drivers)].flatMap((d) => d.calls.filter((c) => c.action !== 'read')), [], 'nothing is parked twice');
  });

  it('acts only as MASTER; a new master rebuilds from health before acting, and does not act twice', async () => {
    const clock = new FakeClock();
    const master = { value: true };
    const a = rig({ clock, master, config: powerConfig({ vhid: 42 }) });
    await a.service.start();
    a.pools.demands.set('web', 20);
    await clock.advance(60_000);
    assert.deepEqual(states(a.service), { 'web-1': 'awake', 'web-2': 'awake', 'web-3': 'parked' });
    // The backup node: its own (empty) ledger, the same hosts.
    const backupMaster = { value: false };
    const b = rig({ clock, master: backupMaster, config: powerConfig({ vhid: 42 }), sims: a.sims });
    b.pools.demands.set('web', 20);
    await b.service.start();
    await clock.advance(30_000);
    assert.equal(b.service.status().role, 'backup');
    assert.equal(b.service.order('web-3', 'wake').ok, false, 'a backup refuses manual orders');
    // Failover: a loses, b wins.
    master.value = false;
    a.service.masterChanged();
    await clock.advance(1);
    assert.equal(a.pools.powers.get('web-3'), 'awake', 'the old master checks every host again, parked ones too');
    assert.equal(a.service.status().hosts.find((h) => h.name === 'web-3')!.state, 'parked', 'its ledger still says parked');
    backupMaster.value = true;
    b.service.masterChanged();
    assert.equal(b.service.status().role, 'rebuilding');
    await clock.advance(3_500);
    assert.equal(b.service.status().role, 'master');
    assert.deepEqual(states(b.service), { 'web-1': 'awake', 'web-2': 'awake', 'web-3': 'parked' });
    await clock.advance(60_000);
    assert.deepEqual([...Object.values(b.drivers)].flatMap((d) => d.calls.filter((c) => c.action !== 'read')), [], 'the new master neither wakes nor parks again');
    b.pools.demands.set('web', 150);
    await clock.advance(30_000);
    assert.deepEqual(states(b.service), { 'web-1': 'awake', 'web-2': 'awake', 'web-3': 'awake' });
    assert.equal(a.drivers.wol!.calls.filter((c) => c.action === 'wake').length, 0, 'the old master does nothing');
  });

  it('a failed health check of an awake host wakes a replacement at once', async () => {
    const { clock, pools, service, sims } = rig();
    await service.start();
    pools.demands.set('web', 20);
    await clock.advance(60_000);
    sims.get('web-1')!.power = 'off'; // crashed
    service.hostHealthChanged('web', 'web-1', 'down');
    await clock.advance(8_000);
    const woken = service.status().hosts.filter((h) => h.state === 'awake' && h.name !== 'web-1');
    assert.ok(woken.length >= 1, JSON.stringify(service.status().decisions));
    assert.ok(service.status().decisions.some((d) => d.cause === 'unhealthy'));
  });

  it('WoL unanswered escalates to the PDU fallback and raises the event', async () => {
    const { clock, pools, service, sims, events, drivers } = rig();
    await service.start();
    pools.demands.set('web', 20);
    await clock.advance(60_000);
    sims.get('web-3')!.ignoresWake = true;
    assert.deepEqual(service.order('web-3', 'wake'), { ok: true, detail: 'waking web-3' });
    await clock.advance(30_000);
    // Woken by the PDU (the planner may park it again afterwards: demand is low).
    assert.ok(events.some((e) => e.type === 'powerAction' && e.host === 'web-3' && e.action === 'wake' && e.method === 'snmp' && e.outcome === 'done'));
    assert.ok(drivers.snmp!.calls.some((c) => c.action === 'wake' && c.host === 'web-3'));
    assert.ok(events.some((e) => e.type === 'powerAction' && e.action === 'escalate' && e.outcome === 'done'), JSON.stringify(events));
  });

  it('pins survive in the ledger and wake the host', async () => {
    const { clock, pools, service, files, events } = rig();
    await service.start();
    pools.demands.set('web', 20);
    await clock.advance(60_000);
    assert.deepEqual(await service.pin('web-3', true), { ok: true, detail: 'web-3 pinned awake' });
    await clock.advance(10_000);
    assert.equal(states(service)['web-3'], 'awake');
    assert.equal(parseLedger(files.files.get(LEDGER)!).ledger.hosts['web-3']!.pin, true);
    assert.ok(events.some((e) => e.type === 'powerPin' && e.host === 'web-3'));
    assert.equal((await service.pin('nope', true)).ok, false);
  });

  it('refuses a manual park that would leave the pool without a healthy awake host', async () => {
    const { clock, pools, service, sims } = rig();
    await service.start();
    pools.demands.set('web', 20);
    await clock.advance(60_000);
    sims.get('web-2')!.power = 'off'; // web-2 failed: web-1 is the only healthy one
    const refused = service.order('web-1', 'park');
    assert.equal(refused.ok, false);
    assert.match((refused as { error: string }).error, /would leave pool web 0 healthy awake host\(s\)/);
  });
});
