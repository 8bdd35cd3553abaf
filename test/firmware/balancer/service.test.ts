// The balancer service (firmware/balancer/service.ts) on a FakeClock with scripted checks, an
// in-memory firewall table and fake relays: check rounds and hysteresis in virtual time, one
// table write per round and only on change, CARP demotion while the whole pool is down,
// draining, parking, reload, and the backstop for a check that never ends.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { FakeRelays, MemoryTableUpdater, ScriptedChecks } from '../../../firmware/balancer/fake.js';
import { balancerSchema, type BalancerConfig } from '../../../firmware/balancer/schema.js';
import { Balancer, type BalancerEvent } from '../../../firmware/balancer/service.js';
import { createLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';

const A = '198.51.100.21';
const B = '198.51.100.22';
const C = '198.51.100.23';

function balancerConfig(pools: Record<string, unknown>[]): BalancerConfig {
  const { value, issues } = validate(balancerSchema, { pools });
  assert.ok(value, JSON.stringify(issues));
  return value;
}

function webPool(extra: Record<string, unknown> = {}, hosts: Record<string, unknown>[] = [{ address: A }, { address: B }, { address: C }]) {
  return {
    name: 'web',
    port: 80,
    hosts,
    check: { type: 'http', intervalSeconds: 1, timeoutSeconds: 0.5, downAfter: 3, upAfter: 2 },
    redirect: { table: 'web' },
    ...extra,
  };
}

function harness(pools: Record<string, unknown>[] = [webPool()]) {
  const clock = new FakeClock();
  const checks = new ScriptedChecks();
  const tables = new MemoryTableUpdater();
  const relays = new FakeRelays();
  const demotes: { source: string; value: number; at: number }[] = [];
  const logs: { level: string; msg: string }[] = [];
  const events: BalancerEvent[] = [];
  const balancer = new Balancer(balancerConfig(pools), {
    clock,
    checks,
    relays,
    tables,
    demote: (source, value) => demotes.push({ source, value, at: clock.monotonic() }),
    log: createLogger('debug', (line) => logs.push(JSON.parse(line) as { level: string; msg: string })),
    random: () => 0.5,
  });
  balancer.onEvent((e) => events.push(e));
  const host = (id: string, pool = 'web') => {
    const found = balancer.status().find((p) => p.name === pool)?.hosts.find((h) => h.id === id);
    assert.ok(found, `no host ${id}`);
    return found;
  };
  const pool = (name = 'web') => {
    const found = balancer.status().find((p) => p.name === name);
    assert.ok(found, `no pool ${name}`);
    return found;
  };
  return { clock, checks, tables, relays, demotes, logs, events, balancer, host, pool };
}

describe('check rounds and hysteresis', () => {
  it('checks every host at once each interval and writes the table once, after the first round', async () => {
    const h = harness();
    h.balancer.start();
    await h.clock.advance(0);
    assert.deepEqual(h.checks.runs.map((r) => r.address), [A, B, C]);
    assert.deepEqual(h.tables.writes, [{ table: 'web', members: [A, B, C] }]);
    assert.equal(h.pool().state, 'up');
    await h.clock.advance(5000);
    assert.equal(h.checks.runs.length, 18, 'six rounds of three');
    assert.equal(h.tables.writes.length, 1, 'no change, no write');
    assert.equal(h.pool().rounds, 6);
    // The check spec the port was asked for, with the http defaults.
    assert.deepEqual(h.checks.specs[0], {
      type: 'http',
      timeoutMs: 500,
      method: 'GET',
      path: '/',
      host: undefined,
      status: 200,
      digest: undefined,
      match: undefined,
    });
    assert.deepEqual(h.checks.runs[0], { address: A, port: 80 });
  });

  it('a host that stops answering leaves the table within interval x downAfter, and returns after upAfter', async () => {
    const h = harness();
    h.balancer.start();
    await h.clock.advance(500);
    h.checks.fail(B);
    // Failing rounds at 1, 2 and 3 s: down after the third.
    await h.clock.advance(2000);
    assert.equal(h.host(B).state, 'up', 'two failures are not enough');
    assert.equal(h.tables.members('web')?.length, 3);
    await h.clock.advance(1000);
    assert.equal(h.host(B).state, 'down');
    assert.deepEqual(h.tables.members('web'), [A, C]);
    assert.equal(h.pool().state, 'degraded');
    assert.equal(h.host(B).lastOutcome, 'connect-refused');
    assert.deepEqual(h.host(B).lastError, { outcome: 'connect-refused', detail: 'ECONNREFUSED', at: '2026-11-22T10:00:03.000Z' });
    assert.equal(h.host(B).since, '2026-11-22T10:00:03.000Z');
    assert.ok(h.logs.some((l) => l.msg === 'pool web: host 198.51.100.22 up -> down (connect-refused: ECONNREFUSED)'));
    // Logged once, on the change only.
    assert.equal(h.logs.filter((l) => l.msg.includes('up -> down')).length, 1);

    h.checks.pass(B);
    await h.clock.advance(1000);
    assert.equal(h.host(B).state, 'down', 'one success is not enough');
    await h.clock.advance(1000);
    assert.equal(h.host(B).state, 'up');
    assert.deepEqual(h.tables.members('web'), [A, B, C]);
    assert.equal(h.tables.writes.length, 3, 'initial, B out, B back');
    assert.deepEqual(
      h.events.filter((e) => e.type === 'hostChanged').map((e) => e.type === 'hostChanged' && `${e.host} ${e.from}->${e.to}`),
      ['198.51.100.21 unknown->up', '198.51.100.22 unknown->up', '198.51.100.23 unknown->up', '198.51.100.22 up->down', '198.51.100.22 down->up'],
    );
  });

  it('two hosts failing in the same round change the table in one write', async () => {
    const h = harness();
    h.balancer.start();
    await h.clock.advance(500);
    h.checks.fail(A);
    h.checks.fail(C, 'connect-timeout', 'no answer within 500 ms (connect)');
    await h.clock.advance(3000);
    assert.deepEqual(h.tables.writes.map((w) => w.members), [[A, B, C], [B]]);
  });

  it('a check that never settles ends as check-timeout through the backstop', async () => {
    const h = harness([webPool({}, [{ address: A }])]);
    h.checks.set(A, 'hang');
    h.balancer.start();
    await h.clock.advance(1999);
    assert.equal(h.host(A).checks, 0);
    await h.clock.advance(1);
    assert.equal(h.host(A).lastOutcome, 'check-timeout');
    assert.equal(h.host(A).state, 'down');
  });

  it('weights repeat a member, reduced by their common divisor', async () => {
    const h = harness([webPool({}, [{ address: A, weight: 4 }, { address: B, weight: 2 }])]);
    h.balancer.start();
    await h.clock.advance(0);
    assert.deepEqual(h.tables.members('web'), [A, A, B]);
  });
});

describe('redirect table', () => {
  it('a failed write is kept dirty and tried again next round', async () => {
    const h = harness();
    h.tables.failNext = new Error('nft: Could not process rule: No such file or directory');
    h.balancer.start();
    await h.clock.advance(0);
    assert.equal(h.tables.writes.length, 0);
    assert.deepEqual(h.pool().redirect, {
      table: 'web',
      members: [],
      writes: 0,
      dirty: true,
      lastError: 'nft: Could not process rule: No such file or directory',
    });
    await h.clock.advance(1000);
    assert.deepEqual(h.pool().redirect, { table: 'web', members: [A, B, C], writes: 1, dirty: false });
  });

  it('without a table updater the pool says so and keeps checking', async () => {
    const clock = new FakeClock();
    const balancer = new Balancer(balancerConfig([webPool()]), {
      clock,
      checks: new ScriptedChecks(),
      relays: new FakeRelays(),
      demote: () => undefined,
      log: createLogger('error', () => undefined),
    });
    balancer.start();
    await clock.advance(2000);
    const pool = balancer.status()[0]!;
    assert.equal(pool.state, 'up');
    assert.equal(pool.redirect?.lastError, 'no firewall table updater');
  });
});

describe('CARP demotion (relayd demote)', () => {
  it('demotes while every host is down and lifts it when one is back', async () => {
    const h = harness();
    h.balancer.start();
    await h.clock.advance(500);
    for (const address of [A, B, C]) h.checks.fail(address);
    await h.clock.advance(3000);
    assert.equal(h.pool().state, 'down');
    assert.deepEqual(h.demotes, [{ source: 'balancer:web', value: 1, at: 3000 }]);
    assert.equal(h.pool().demote, 1);
    assert.deepEqual(h.tables.members('web'), []);
    h.checks.pass(B);
    await h.clock.advance(2000);
    assert.equal(h.pool().state, 'degraded');
    assert.deepEqual(h.demotes.at(-1), { source: 'balancer:web', value: 0, at: 5000 });
    assert.equal(h.demotes.length, 2);
  });

  it('demote: 0 never demotes; a pool whose hosts are all in maintenance is empty, not down', async () => {
    const h = harness([
      webPool({ demote: 0 }, [{ address: A }]),
      webPool({ name: 'mail', redirect: { table: 'mail' } }, [{ address: B, mode: 'maintenance' }]),
    ]);
    h.checks.fail(A);
    h.checks.fail(B);
    h.balancer.start();
    await h.clock.advance(5000);
    assert.equal(h.pool('web').state, 'down');
    assert.equal(h.pool('mail').state, 'empty');
    assert.equal(h.host(B, 'mail').state, 'maintenance');
    assert.equal(h.host(B, 'mail').health, 'down', 'still checked, so the operator sees it');
    assert.deepEqual(h.demotes, []);
  });

  it('stopping the balancer lifts its demotion', async () => {
    const h = harness([webPool({ demote: 5 }, [{ address: A }])]);
    h.checks.fail(A);
    h.balancer.start();
    await h.clock.advance(0);
    assert.deepEqual(h.demotes.map((d) => d.value), [5]);
    await h.balancer.stop();
    assert.deepEqual(h.demotes.map((d) => d.value), [5, 0]);
  });
});

describe('draining, maintenance and the power manager', () => {
  it('a host drained by a reload gets no new connections, keeps its open ones, and leaves the table at once', async () => {
    const h = harness([webPool({ redirect: undefined, relay: { listen: '198.51.100.100:80' } })]);
    h.balancer.start();
    await h.clock.advance(0);
    const relay = h.relays.relay('web')!;
    const open = [relay.connect()!, relay.connect()!, relay.connect()!];
    assert.deepEqual(open.map((c) => c.target.id), [A, B, C]);
    const next = balancerConfig([webPool({ redirect: undefined, relay: { listen: '198.51.100.100:80' } }, [{ address: A }, { address: B, mode: 'draining' }, { address: C }])]);
    await h.balancer.reload(next);
    assert.equal(h.relays.opened.length, 1, 'the relay keeps running');
    assert.equal(h.host(B).state, 'draining');
    assert.equal(h.host(B).connections, 1, 'its open connection stays');
    const picks = Array.from({ length: 6 }, () => relay.connect()!.target.id);
    assert.ok(!picks.includes(B), picks.join(' '));
    open[1]!.close();
    assert.equal(h.host(B).connections, 0);
    assert.ok(h.logs.some((l) => l.msg === 'pool web: host 198.51.100.22 up -> draining (config)'));
  });

  it('parked hosts are not checked and leave the table; a woken host serves again after one good check', async () => {
    const h = harness();
    h.balancer.start();
    await h.clock.advance(500);
    await h.balancer.setPower('web', C, 'parked');
    assert.deepEqual(h.tables.members('web'), [A, B]);
    assert.equal(h.host(C).state, 'parked');
    const before = h.checks.runs.filter((r) => r.address === C).length;
    await h.clock.advance(3000);
    assert.equal(h.checks.runs.filter((r) => r.address === C).length, before);
    assert.equal(h.pool().state, 'up', 'a parked host is not a failure');
    await h.balancer.setPower('web', C, 'awake');
    assert.equal(h.host(C).state, 'unknown');
    await h.clock.advance(1000);
    assert.equal(h.host(C).state, 'up');
    assert.deepEqual(h.tables.members('web'), [A, B, C]);
  });

  it('exposes demand for the planner: connections and requests per second, per pool and host', async () => {
    const h = harness([webPool({ redirect: undefined, relay: { listen: '198.51.100.100:80', algorithm: 'least-connections' } })]);
    h.balancer.start();
    await h.clock.advance(0);
    const relay = h.relays.relay('web')!;
    for (let i = 0; i < 20; i++) relay.connect()!.close();
    const held = [relay.connect()!, relay.connect()!];
    const demand = h.balancer.demand()[0]!;
    assert.equal(demand.pool, 'web');
    assert.equal(demand.connections, 2);
    assert.equal(demand.requestsPerSecond, 2.2, '22 in the last 10 s');
    assert.deepEqual(demand.hosts.map((x) => x.connections).sort(), [0, 1, 1]);
    held.forEach((c) => c.close());
    await h.clock.advance(11_000);
    assert.equal(h.balancer.demand()[0]!.requestsPerSecond, 0);
  });
});

describe('relay', () => {
  it('listens once the address is here, resets clients when no host is up, and honours maxConnections', async () => {
    let vipHere = false;
    const clock = new FakeClock();
    const checks = new ScriptedChecks();
    const relays = new FakeRelays(() => vipHere);
    const balancer = new Balancer(
      balancerConfig([webPool({ redirect: undefined, relay: { listen: '198.51.100.100:80', maxConnections: 2 } }, [{ address: A }])]),
      { clock, checks, relays, demote: () => undefined, log: createLogger('error', () => undefined) },
    );
    balancer.start();
    await clock.advance(0);
    const relay = relays.relay('web')!;
    assert.equal(relay.listening, false);
    vipHere = true;
    balancer.addressesChanged();
    assert.equal(relay.listening, true);
    const one = relay.connect();
    const two = relay.connect();
    assert.ok(one && two);
    assert.equal(relay.connect(), undefined, 'third is over the limit');
    one.close();
    two.close();
    checks.fail(A);
    await clock.advance(3000);
    assert.equal(relay.connect(), undefined);
    const stats = balancer.status()[0]!.relay!;
    assert.equal(stats.rejected, 1);
    assert.equal(stats.noHost, 1);
    assert.equal(stats.accepted, 2);
  });

  it('a reload that moves the listen address drains the old relay and opens a new one', async () => {
    const h = harness([webPool({ redirect: undefined, relay: { listen: '198.51.100.100:80' } })]);
    h.balancer.start();
    await h.clock.advance(0);
    await h.balancer.reload(balancerConfig([webPool({ redirect: undefined, relay: { listen: '198.51.100.100:8080' } })]));
    assert.equal(h.relays.opened.length, 2);
    assert.equal(h.relays.opened[0]!.stopped, 'drain');
    assert.equal(h.relays.opened[1]!.listening, true);
    // A new algorithm alone keeps the listener.
    await h.balancer.reload(balancerConfig([webPool({ redirect: undefined, relay: { listen: '198.51.100.100:8080', algorithm: 'source-hash' } })]));
    assert.equal(h.relays.opened.length, 2);
  });
});

describe('reload', () => {
  it('keeps the health of hosts that stay, adds new ones unknown, empties the table of a removed pool', async () => {
    const h = harness();
    h.balancer.start();
    await h.clock.advance(500);
    const D = '198.51.100.24';
    await h.balancer.reload(balancerConfig([webPool({}, [{ address: A, weight: 2 }, { address: B }, { address: D }])]));
    assert.equal(h.host(A).state, 'up');
    assert.equal(h.host(D).state, 'unknown');
    assert.deepEqual(h.tables.members('web'), [A, A, B]);
    await h.clock.advance(1000);
    assert.deepEqual(h.tables.members('web'), [A, A, B, D]);
    await h.balancer.reload(balancerConfig([]));
    assert.deepEqual(h.tables.members('web'), []);
    assert.deepEqual(h.balancer.status(), []);
    const runs = h.checks.runs.length;
    await h.clock.advance(5000);
    assert.equal(h.checks.runs.length, runs, 'no more checks');
  });

  it('a pool moved to another table empties the old one', async () => {
    const h = harness();
    h.balancer.start();
    await h.clock.advance(0);
    await h.balancer.reload(balancerConfig([webPool({ redirect: { table: 'web2' } })]));
    await h.balancer.idle();
    assert.deepEqual(h.tables.members('web'), []);
    assert.deepEqual(h.tables.members('web2'), [A, B, C]);
  });

  it('a new check interval restarts the rounds with it', async () => {
    const h = harness([webPool({}, [{ address: A }])]);
    h.balancer.start();
    await h.clock.advance(500);
    await h.balancer.reload(balancerConfig([webPool({ check: { type: 'tcp', intervalSeconds: 5, timeoutSeconds: 1 } }, [{ address: A }])]));
    const runs = h.checks.runs.length;
    await h.clock.advance(9999);
    assert.equal(h.checks.runs.length - runs, 2, 'at once, then 5 s later');
    assert.equal(h.pool().check.type, 'tcp');
  });
});
